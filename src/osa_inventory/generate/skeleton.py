"""The environment skeleton (merged ``env.d``), checked for shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from osa_inventory.errors import ConfigError
from osa_inventory.generate.naming import group_name

SECTIONS = ("physical_skel", "component_skel", "container_skel")


@dataclass(frozen=True)
class ContainerType:
    """One ``container_skel`` entry, e.g. ``nova_api_container``."""

    name: str
    belongs_to: list[str]
    contains: list[str]
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def is_metal(self) -> bool:
        return bool(self.properties.get("is_metal", False))

    @property
    def is_nest(self) -> bool:
        return bool(self.properties.get("is_nest", False))


def _name_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"env.d: {where} must be a list of group names")
    return [group_name(v) for v in value]


class Skeleton:
    """``physical_skel``, ``component_skel`` and ``container_skel`` of the environment."""

    def __init__(self, environment: Mapping[str, Any]) -> None:
        if not isinstance(environment, Mapping):
            raise ConfigError("env.d: the environment must be a mapping of sections")
        self.sections: dict[str, dict[str, list[str]]] = {}
        for section in SECTIONS:
            entries = environment.get(section) or {}
            if not isinstance(entries, dict):
                raise ConfigError(f"env.d: {section} must be a mapping")
            self.sections[section] = {
                group_name(str(key)): _name_list(
                    (spec or {}).get("belongs_to") if isinstance(spec, dict) else None,
                    f"{section}.{key}.belongs_to",
                )
                for key, spec in entries.items()
            }
        self.container_types: list[ContainerType] = []
        for key, spec in (environment.get("container_skel") or {}).items():
            spec = spec if isinstance(spec, dict) else {}
            properties = spec.get("properties") or {}
            if not isinstance(properties, dict):
                raise ConfigError(f"env.d: container_skel.{key}.properties must be a mapping")
            self.container_types.append(
                ContainerType(
                    name=group_name(str(key)),
                    belongs_to=_name_list(
                        spec.get("belongs_to"), f"container_skel.{key}.belongs_to"
                    ),
                    contains=_name_list(spec.get("contains"), f"container_skel.{key}.contains"),
                    properties=dict(properties),
                )
            )

    @property
    def physical(self) -> dict[str, list[str]]:
        return self.sections["physical_skel"]

    @property
    def known(self) -> set[str]:
        """Every group name the skeleton mentions (keys and parents)."""
        names = set()
        for key, parents in self.group_keys():
            names.add(key)
            names.update(parents)
        return names

    def needs_containers(self, no_containers: bool) -> bool:
        """Whether any service would run in a container (so networks are needed)."""
        return not no_containers and any(not ct.is_metal for ct in self.container_types)

    def group_keys(self) -> list[tuple[str, list[str]]]:
        """Every skeleton key with its parents, physical first, as OSA builds them."""
        return [
            (key, parents)
            for section in SECTIONS
            for key, parents in self.sections[section].items()
        ]
