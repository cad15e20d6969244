"""Read-only views of an inventory: hosts, groups and who belongs where."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from osa_inventory.errors import ConfigError
from osa_inventory.inventory import hostvars_of

META = "_meta"


def is_container(name: str, hostvars: Mapping[str, Any]) -> bool:
    """A real (non-metal) container: it lives on another, physical host."""
    if hostvars.get("is_metal"):
        return False
    physical = hostvars.get("physical_host")
    return bool(physical) and physical != name


def host_kind(name: str, hostvars: Mapping[str, Any]) -> str:
    return "container" if is_container(name, hostvars) else "metal"


def group_names(inventory: Mapping[str, Any]) -> list[str]:
    """Every group of the inventory (``all`` included), sorted."""
    return sorted(k for k, v in inventory.items() if k != META and isinstance(v, dict))


def group_of(inventory: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The group ``name``; a ConfigError naming close matches when there is none."""
    value = inventory.get(name)
    if name == META or not isinstance(value, dict):
        raise ConfigError(
            f"group {name} is not in the inventory{suggest(name, group_names(inventory))}; "
            "see 'osa-inventory groups list'"
        )
    return value


def host_vars(inventory: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The variables of host ``name``; a ConfigError naming close matches when unknown."""
    hostvars = hostvars_of(dict(inventory))
    if name not in hostvars:
        raise ConfigError(
            f"host {name} is not in the inventory{suggest(name, hostvars)}; "
            "see 'osa-inventory hosts list'"
        )
    return hostvars[name]


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X?)`` for a likely typo, else ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def memberships(inventory: Mapping[str, Any]) -> dict[str, list[str]]:
    """Host -> the groups whose ``hosts`` list it directly, sorted."""
    result: dict[str, set[str]] = {}
    for group in group_names(inventory):
        for host in inventory[group].get("hosts") or []:
            result.setdefault(str(host), set()).add(group)
    return {host: sorted(groups) for host, groups in result.items()}


def members(inventory: Mapping[str, Any], group: str) -> set[str]:
    """Hosts of ``group`` and, recursively, of its children (``all``: every host, as Ansible)."""
    if group == "all":
        return set(hostvars_of(dict(inventory)))
    seen: set[str] = set()
    hosts: set[str] = set()
    pending = [group]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        value = inventory.get(name)
        if not isinstance(value, dict) or name == META:
            continue
        hosts.update(str(h) for h in value.get("hosts") or [])
        pending.extend(str(c) for c in value.get("children") or [])
    return hosts


def parents_of(inventory: Mapping[str, Any], group: str) -> list[str]:
    """The groups that have ``group`` as a child, sorted."""
    return [
        name for name in group_names(inventory) if group in (inventory[name].get("children") or [])
    ]


def containers_on(inventory: Mapping[str, Any], host: str) -> list[str]:
    """The containers whose physical host is ``host``, sorted."""
    return sorted(
        name
        for name, hostvars in hostvars_of(dict(inventory)).items()
        if is_container(name, hostvars) and hostvars.get("physical_host") == host
    )


@dataclass(frozen=True)
class HostRow:
    """One host as the host list shows it."""

    name: str
    kind: str
    component: str
    physical_host: str
    management_address: str
    groups: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "component": self.component,
            "physical_host": self.physical_host,
            "management_address": self.management_address,
            "groups": self.groups,
        }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def host_rows(inventory: Mapping[str, Any]) -> list[HostRow]:
    """Every host, sorted by name."""
    groups = memberships(inventory)
    rows = []
    for name, hostvars in sorted(hostvars_of(dict(inventory)).items()):
        rows.append(
            HostRow(
                name=name,
                kind=host_kind(name, hostvars),
                component=_text(hostvars.get("component")),
                physical_host=_text(hostvars.get("physical_host") or name),
                management_address=_text(
                    hostvars.get("management_address") or hostvars.get("ansible_host")
                ),
                groups=groups.get(name, []),
            )
        )
    return rows


@dataclass(frozen=True)
class GroupRow:
    name: str
    hosts: list[str]
    children: list[str]
    members: int  # hosts including those of child groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hosts": self.hosts,
            "children": self.children,
            "members": self.members,
        }


def group_rows(inventory: Mapping[str, Any]) -> list[GroupRow]:
    """Every group, sorted by name."""
    return [
        GroupRow(
            name=name,
            hosts=[str(h) for h in inventory[name].get("hosts") or []],
            children=[str(c) for c in inventory[name].get("children") or []],
            members=len(members(inventory, name)),
        )
        for name in group_names(inventory)
    ]
