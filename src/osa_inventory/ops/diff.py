"""Structured differences between two inventories, for ``plan``, ``diff`` and dry runs.

An :class:`InventoryDiff` says which hosts, groups and ``all`` vars were added,
removed or changed; a changed host lists its variable changes by dotted path
(``container_networks.management_address.address``). Mappings are compared key
by key; lists and scalars as whole values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from osa_inventory.inventory import hostvars_of

META = "_meta"
ADD, REMOVE, CHANGE = "add", "remove", "change"


@dataclass(frozen=True)
class VarChange:
    """One variable added, removed or changed, at a dotted ``path``."""

    path: str
    action: str
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "action": self.action}
        if self.action != ADD:
            data["old"] = self.old
        if self.action != REMOVE:
            data["new"] = self.new
        return data


@dataclass(frozen=True)
class HostChange:
    """A host added or removed (with its vars) or changed (with its var changes)."""

    name: str
    action: str
    vars: dict[str, Any] = field(default_factory=dict)
    changes: tuple[VarChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "action": self.action}
        if self.action == CHANGE:
            data["changes"] = [c.to_dict() for c in self.changes]
        else:
            data["vars"] = self.vars
        return data


@dataclass(frozen=True)
class GroupChange:
    """A group added, removed or changed: member hosts and child groups in and out."""

    name: str
    action: str
    hosts_added: tuple[str, ...] = ()
    hosts_removed: tuple[str, ...] = ()
    children_added: tuple[str, ...] = ()
    children_removed: tuple[str, ...] = ()
    reordered: bool = False  # same members, another order
    other: tuple[VarChange, ...] = ()  # anything else in the group, e.g. group vars

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "action": self.action}
        for key in ("hosts_added", "hosts_removed", "children_added", "children_removed"):
            if getattr(self, key):
                data[key] = list(getattr(self, key))
        if self.reordered:
            data["reordered"] = True
        if self.other:
            data["other"] = [c.to_dict() for c in self.other]
        return data


@dataclass(frozen=True)
class InventoryDiff:
    hosts: tuple[HostChange, ...] = ()
    groups: tuple[GroupChange, ...] = ()
    vars: tuple[VarChange, ...] = ()  # all.vars
    other: tuple[VarChange, ...] = ()  # top-level keys that are not groups

    @property
    def empty(self) -> bool:
        return not (self.hosts or self.groups or self.vars or self.other)

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts of added, changed and removed hosts and groups, and changed vars."""

        def count(items: tuple[Any, ...]) -> dict[str, int]:
            tally = Counter(item.action for item in items)
            return {"add": tally[ADD], "change": tally[CHANGE], "remove": tally[REMOVE]}

        return {
            "hosts": count(self.hosts),
            "groups": count(self.groups),
            "vars": count(self.vars + self.other),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": not self.empty,
            "summary": self.summary(),
            "hosts": [h.to_dict() for h in self.hosts],
            "groups": [g.to_dict() for g in self.groups],
            "vars": [v.to_dict() for v in self.vars],
            "other": [v.to_dict() for v in self.other],
        }


def var_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = ""
) -> list[VarChange]:
    """Changes from ``old`` to ``new``, recursing into mappings present on both sides."""
    changes: list[VarChange] = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}{key}"
        if key not in new:
            changes.append(VarChange(path, REMOVE, old=old[key]))
        elif key not in old:
            changes.append(VarChange(path, ADD, new=new[key]))
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            changes.extend(var_changes(old[key], new[key], f"{path}."))
        elif old[key] != new[key] or type(old[key]) is not type(new[key]):
            changes.append(VarChange(path, CHANGE, old=old[key], new=new[key]))
    return changes


def _groups(inventory: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in inventory.items() if k != META and isinstance(v, dict)}


def _group_change(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> GroupChange | None:
    def counted(group: Mapping[str, Any], key: str) -> Counter[str]:
        return Counter(str(item) for item in group.get(key) or [])

    def listed(counter: Counter[str]) -> tuple[str, ...]:
        return tuple(sorted(counter.elements()))

    old_hosts, new_hosts = counted(old, "hosts"), counted(new, "hosts")
    old_children, new_children = counted(old, "children"), counted(new, "children")
    ignored = {"hosts", "children", "vars"} if name == "all" else {"hosts", "children"}
    other = var_changes(
        {k: v for k, v in old.items() if k not in ignored},
        {k: v for k, v in new.items() if k not in ignored},
    )
    change = GroupChange(
        name,
        CHANGE,
        hosts_added=listed(new_hosts - old_hosts),
        hosts_removed=listed(old_hosts - new_hosts),
        children_added=listed(new_children - old_children),
        children_removed=listed(old_children - new_children),
        other=tuple(other),
    )
    moved = change.hosts_added or change.hosts_removed
    if moved or change.children_added or change.children_removed or change.other:
        return change
    if old.get("hosts") != new.get("hosts") or old.get("children") != new.get("children"):
        return GroupChange(name, CHANGE, reordered=True)
    return None


def diff_inventories(old: Mapping[str, Any], new: Mapping[str, Any]) -> InventoryDiff:
    """What changes from ``old`` to ``new``."""
    old_hosts, new_hosts = hostvars_of(dict(old)), hostvars_of(dict(new))
    hosts: list[HostChange] = []
    for name in sorted(set(old_hosts) | set(new_hosts)):
        if name not in new_hosts:
            hosts.append(HostChange(name, REMOVE, vars=old_hosts[name]))
        elif name not in old_hosts:
            hosts.append(HostChange(name, ADD, vars=new_hosts[name]))
        else:
            changes = var_changes(old_hosts[name], new_hosts[name])
            if changes:
                hosts.append(HostChange(name, CHANGE, changes=tuple(changes)))

    old_groups, new_groups = _groups(old), _groups(new)
    groups: list[GroupChange] = []
    for name in sorted(set(old_groups) | set(new_groups)):
        if name not in new_groups:
            groups.append(_whole_group(name, REMOVE, old_groups[name]))
        elif name not in old_groups:
            groups.append(_whole_group(name, ADD, new_groups[name]))
        else:
            change = _group_change(name, old_groups[name], new_groups[name])
            if change is not None:
                groups.append(change)

    all_vars = var_changes(
        (old_groups.get("all") or {}).get("vars") or {},
        (new_groups.get("all") or {}).get("vars") or {},
    )
    others = var_changes(
        {k: v for k, v in old.items() if k != META and not isinstance(v, dict)},
        {k: v for k, v in new.items() if k != META and not isinstance(v, dict)},
    )
    meta = var_changes(
        {k: v for k, v in (old.get(META) or {}).items() if k != "hostvars"},
        {k: v for k, v in (new.get(META) or {}).items() if k != "hostvars"},
        prefix=f"{META}.",
    )
    return InventoryDiff(tuple(hosts), tuple(groups), tuple(all_vars), tuple(others + meta))


def _whole_group(name: str, action: str, group: Mapping[str, Any]) -> GroupChange:
    hosts = tuple(str(h) for h in group.get("hosts") or [])
    children = tuple(str(c) for c in group.get("children") or [])
    if action == ADD:
        return GroupChange(name, action, hosts_added=hosts, children_added=children)
    return GroupChange(name, action, hosts_removed=hosts, children_removed=children)
