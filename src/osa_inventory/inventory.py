"""Small helpers for OSA's inventory format (shared by generator, store and CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osa_inventory.errors import StoreCorrupt


def empty_inventory() -> dict[str, Any]:
    """What an empty store holds: OSA's skeleton."""
    return {"_meta": {"hostvars": {}}}


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (faster than ``copy.deepcopy`` or a JSON round trip)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def copy_inventory(inventory: Mapping[str, Any]) -> dict[str, Any]:
    """An independent copy, to edit without touching the original (a stored snapshot)."""
    return {key: copy_json(value) for key, value in inventory.items()}


def hostvars_of(inventory: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``_meta.hostvars``, or an empty mapping."""
    return (inventory.get("_meta") or {}).get("hostvars") or {}


def check_shape(inventory: Mapping[str, Any], source: str) -> None:
    """Refuse a stored inventory that is JSON but not OSA's shape (one-line error)."""
    problem = None
    meta = inventory.get("_meta", {})
    hostvars = meta.get("hostvars", {}) if isinstance(meta, dict) else None
    if not isinstance(meta, dict):
        problem = "_meta is not an object"
    elif not isinstance(hostvars, dict):
        problem = "_meta.hostvars is not an object"
    else:
        bad = next((name for name, value in hostvars.items() if not isinstance(value, dict)), None)
        if bad is not None:
            problem = f"the variables of host {bad} are not an object"
    if problem is None:
        bad_group = next(
            (
                name
                for name, value in inventory.items()
                if name != "_meta"
                and isinstance(value, dict)
                and any(not isinstance(value.get(key, []), list) for key in ("hosts", "children"))
            ),
            None,
        )
        if bad_group is not None:
            problem = f"group {bad_group} has hosts or children that are not a list"
    if problem:
        raise StoreCorrupt(
            f"{source}: not an inventory in OSA's format ({problem}); restore it from the "
            "backup tar or the history"
        )
