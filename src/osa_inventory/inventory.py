"""Small helpers for OSA's inventory format (shared by generator, store and CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osa_inventory.errors import StoreCorrupt


def empty_inventory() -> dict[str, Any]:
    """What an empty store holds: OSA's skeleton."""
    return {"_meta": {"hostvars": {}}}


#: values :func:`copy_json` keeps as they are without a call (most of an inventory)
_SCALARS = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (faster than ``copy.deepcopy`` or a JSON round trip)."""
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in _SCALARS else copy_json(v) for v in value]
    return value


def copy_inventory(inventory: Mapping[str, Any]) -> dict[str, Any]:
    """An independent copy, to edit without touching the original (a stored snapshot)."""
    return {key: copy_json(value) for key, value in inventory.items()}


def hostvars_of(inventory: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``_meta.hostvars``, or an empty mapping."""
    return (inventory.get("_meta") or {}).get("hostvars") or {}


#: what to do about a damaged store: said by every such error, and both commands work on it
REPAIR = (
    "roll back to an earlier version ('osa-inventory rollback VERSION') "
    "or import a saved copy ('osa-inventory import FILE')"
)
#: host variables the generator reads back, with the JSON type each must have (or null)
_HOSTVAR_TYPES: dict[str, tuple[type, str]] = {
    "physical_host": (str, "a string"),
    "physical_host_group": (str, "a string"),
    "component": (str, "a string"),
    "container_name": (str, "a string"),
    "container_types": (str, "a string"),
    "container_tech": (str, "a string"),
    "container_networks": (dict, "an object"),
    "properties": (dict, "an object"),
}


def check_shape(inventory: Mapping[str, Any], source: str) -> None:
    """Refuse a stored inventory that is JSON but not OSA's shape (one-line error)."""
    problem = shape_problem(inventory)
    if problem:
        raise StoreCorrupt(f"{source}: not an inventory in OSA's format ({problem}); {REPAIR}")


def shape_problem(inventory: Mapping[str, Any]) -> str | None:
    """What makes ``inventory`` unfit for the generator and the tools, naming the key; else None.

    Checks the structure the code relies on (groups, member lists, host variables
    it reads back), not the values a deployer may set freely.
    """
    meta = inventory.get("_meta", {})
    if not isinstance(meta, dict):
        return "_meta is not an object"
    hostvars = meta.get("hostvars", {})
    if not isinstance(hostvars, dict):
        return "_meta.hostvars is not an object"
    for name, variables in hostvars.items():
        problem = _hostvars_problem(variables)
        if problem:
            return f"_meta.hostvars.{name}{problem}"
    for name, group in inventory.items():
        if name == "_meta":
            continue
        if not isinstance(group, dict):
            return f"group {name} is not an object"
        for key in ("hosts", "children"):
            members = group.get(key, [])
            if not isinstance(members, list):
                return f"{name}.{key} is not a list"
            if not set(map(type, members)) <= {str}:  # C speed: groups hold thousands
                return f"{name}.{key} holds a member that is not a name (string)"
        if not isinstance(group.get("vars", {}), dict):
            return f"{name}.vars is not an object"
    return None


#: (key, the exact types allowed): JSON gives exact types, so a set lookup checks each value
_CHECKED_KEYS = tuple((key, {kind, type(None)}) for key, (kind, _) in _HOSTVAR_TYPES.items())


def _hostvars_problem(variables: Any) -> str | None:
    """What is wrong with one host's variables ('' prefix of a message), else None.

    Hot on big inventories (once per host per read): a few set lookups per host.
    """
    if type(variables) is not dict:
        return " is not an object"
    get = variables.get
    for key, allowed in _CHECKED_KEYS:
        if type(get(key)) not in allowed:
            return f".{key} is not {_HOSTVAR_TYPES[key][1]}"
    networks = get("container_networks")
    if networks and not set(map(type, networks.values())) <= {dict}:
        bad = next(name for name, value in networks.items() if type(value) is not dict)
        return f".container_networks.{bad} is not an object"
    return None
