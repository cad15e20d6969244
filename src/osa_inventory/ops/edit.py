"""Edits an operator makes by hand: pure functions from an inventory to a new one.

Each returns an :class:`Edit` with the new inventory (the argument is never
modified) and what it removed or cleared. A name that is not in the inventory is
a :class:`~osa_inventory.errors.ConfigError`, so nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from osa_inventory.errors import ConfigError
from osa_inventory.inventory import copy_inventory, hostvars_of
from osa_inventory.ops.views import META, containers_on, group_of, host_vars, is_container

#: host variables that hold a container's own address, besides container_networks
ADDRESS_VARS = ("ansible_host", "ansible_ssh_host", "management_address", "container_address")
PROTECTED_GROUPS = frozenset({"all"})


@dataclass(frozen=True)
class Edit:
    inventory: dict[str, Any]
    hosts: tuple[str, ...] = ()  # hosts removed, or whose addresses were cleared
    groups: tuple[str, ...] = ()  # groups removed


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def remove_hosts(inventory: Mapping[str, Any], names: Iterable[str]) -> Edit:
    """Remove hosts; a physical host takes its containers (and its container group) along."""
    names = _unique(names)
    if not names:
        raise ConfigError("name at least one host to remove")
    for name in names:
        host_vars(inventory, name)
    doomed: list[str] = []
    for name in names:
        doomed.extend([name, *containers_on(inventory, name)])
    doomed = _unique(doomed)
    gone = set(doomed)
    result = copy_inventory(inventory)
    hostvars = hostvars_of(result)
    container_groups = {
        str(hostvars[name]["container_types"])
        for name in names
        if not is_container(name, hostvars[name]) and hostvars[name].get("container_types")
    }
    for name in doomed:
        del hostvars[name]
    for key, group in result.items():
        if key != META and isinstance(group, dict) and isinstance(group.get("hosts"), list):
            group["hosts"] = [h for h in group["hosts"] if h not in gone]
    # <host>_host_containers of a removed host, now empty, goes too (the generator
    # neither needs nor recreates it)
    empty = {
        g
        for g in container_groups
        if isinstance(result.get(g), dict)
        and not result[g].get("hosts")
        and not result[g].get("children")
    }
    _drop_groups(result, empty)
    return Edit(result, hosts=tuple(doomed), groups=tuple(sorted(empty)))


def remove_groups(
    inventory: Mapping[str, Any], names: Iterable[str], *, unlink: bool = True
) -> Edit:
    """Remove groups; hosts stay.

    With ``unlink`` the groups are also dropped from other groups' ``children``;
    without, those entries stay, as OSA's ``inventory-manage.py -d`` leaves them.
    """
    names = _unique(names)
    if not names:
        raise ConfigError("name at least one group to remove")
    for name in names:
        if name in PROTECTED_GROUPS:
            raise ConfigError(f"group {name} cannot be removed: it holds the inventory's vars")
        group_of(inventory, name)
    result = copy_inventory(inventory)
    _drop_groups(result, set(names), unlink=unlink)
    return Edit(result, groups=tuple(names))


def _drop_groups(inventory: dict[str, Any], names: set[str], *, unlink: bool = True) -> None:
    for name in names:
        inventory.pop(name, None)
    if not unlink:
        return
    for key, group in inventory.items():
        children = group.get("children") if key != META and isinstance(group, dict) else None
        if isinstance(children, list) and any(c in names for c in children):
            group["children"] = [c for c in children if c not in names]


def clear_ips(inventory: Mapping[str, Any]) -> Edit:
    """Drop the addresses of every container (not of metal hosts).

    Each container loses its ``container_networks`` and address variables, so the
    next generator run gives it new addresses from the current ``cidr_networks``
    while everything else (names, groups, vars) stays.
    """
    result = copy_inventory(inventory)
    cleared = []
    for name, hostvars in sorted(hostvars_of(result).items()):
        if not is_container(name, hostvars):
            continue
        networks = hostvars.pop("container_networks", None)
        keys = [*ADDRESS_VARS, *(networks if isinstance(networks, dict) else ())]
        removed = [hostvars.pop(key) for key in keys if key in hostvars]
        if networks is not None or removed:
            cleared.append(name)
    return Edit(result, hosts=tuple(cleared))
