"""Inventories as rows, and the row changes between two of them.

An inventory is cut into four kinds of row (:class:`State`):

``H`` host
    ``_meta.hostvars[name]`` as JSON text;
``G`` group
    a top-level key other than ``_meta``: its value without the ``hosts`` and
    ``children`` lists (when they are lists of names), plus which lists it has;
``M`` member
    one name in one group's ``hosts`` (part ``h``) or ``children`` (part ``c``)
    list, at a gapped sort key ``ord`` so that an insertion leaves the other
    members' rows alone;
``X`` extra
    anything that does not fit the above (``_meta`` keys besides ``hostvars``,
    a missing ``_meta``), kept so that every inventory comes back exactly.

:func:`diff` lists the rows that differ between the stored state and a new
inventory (each :class:`Change` carries the old and the new value: the new one
is written, the old one goes to the undo log); :func:`undo` applies the undo
log backwards to rebuild an older version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

GAP = 1 << 20  # distance between neighbouring members' sort keys
LISTS = (("h", "hosts"), ("c", "children"))
FIELD = dict(LISTS)
META = "_meta"

Key = tuple[str, str]  # (group, part)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class State:
    """One inventory as rows (members with their sort keys)."""

    hosts: dict[str, str] = field(default_factory=dict)
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (body, lists)
    members: dict[Key, dict[int, str]] = field(default_factory=dict)  # -> {ord: member}
    extras: dict[str, str] = field(default_factory=dict)

    def copy(self) -> State:
        return State(
            dict(self.hosts),
            dict(self.groups),
            {key: dict(items) for key, items in self.members.items()},
            dict(self.extras),
        )

    def ordered(self, key: Key) -> list[str]:
        items = self.members.get(key) or {}
        return [items[o] for o in sorted(items)]

    def row_count(self) -> int:
        return (
            len(self.hosts)
            + len(self.groups)
            + sum(len(m) for m in self.members.values())
            + len(self.extras)
        )


@dataclass(frozen=True)
class Change:
    """One row that differs; ``None`` means no row (inserted or deleted)."""

    kind: str
    name: str
    part: str
    ord: int
    old: str | None
    new: str | None
    old_lists: str | None = None
    new_lists: str | None = None


@dataclass
class Layout:
    """A new inventory as rows, before members get sort keys."""

    hosts: dict[str, str]
    groups: dict[str, tuple[str, str]]
    lists: dict[Key, list[str]]
    extras: dict[str, str]


def _is_name_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def split(inventory: dict[str, Any]) -> Layout:
    """Cut ``inventory`` into rows."""
    hosts: dict[str, str] = {}
    extras: dict[str, str] = {}
    if META not in inventory:
        extras[META] = dumps({"absent": True})
    else:
        meta = inventory[META]
        if isinstance(meta, dict) and isinstance(meta.get("hostvars"), dict):
            hosts = {name: dumps(value) for name, value in meta["hostvars"].items()}
            rest = {key: value for key, value in meta.items() if key != "hostvars"}
            if rest:
                extras[META] = dumps({"rest": rest})
        else:
            extras[META] = dumps({"raw": meta})
    groups: dict[str, tuple[str, str]] = {}
    lists: dict[Key, list[str]] = {}
    for name, value in inventory.items():
        if name == META:
            continue
        parts = ""
        if isinstance(value, dict):
            body = dict(value)
            for part, field_name in LISTS:
                if _is_name_list(body.get(field_name)):
                    parts += part
                    lists[(name, part)] = body.pop(field_name)
            value = body
        groups[name] = (dumps(value), parts)
    return Layout(hosts, groups, lists, extras)


class DamagedRow(ValueError):
    """A row that does not hold what osa-inventory wrote (changed outside it)."""


def load_row(text: Any, what: str) -> Any:
    """The JSON value of one row; DamagedRow naming ``what`` when it is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise DamagedRow(f"{what}: not JSON") from exc


def join(state: State) -> dict[str, Any]:
    """The inventory that ``state`` holds; DamagedRow when a row is not what was written."""
    inventory: dict[str, Any] = {}
    for name, (body, parts) in state.groups.items():
        value = load_row(body, f"group {name}")
        if parts and not isinstance(value, dict):
            raise DamagedRow(f"group {name}: not a JSON object")
        for part in parts:
            value[FIELD[part]] = state.ordered((name, part))
        inventory[name] = value
    hostvars = {
        name: load_row(text, f"the vars of host {name}") for name, text in state.hosts.items()
    }
    spec = load_row(state.extras[META], "the _meta row") if META in state.extras else {}
    if not isinstance(spec, dict):
        raise DamagedRow("the _meta row: not a JSON object")
    if "raw" in spec:
        inventory[META] = spec["raw"]
    elif not spec.get("absent"):
        inventory[META] = {**spec.get("rest", {}), "hostvars": hostvars}
    return inventory


def checksum(state: State) -> str:
    """SHA-256 of the content (not of the sort keys), to check rebuilt versions."""
    digest = hashlib.sha256()

    def feed(*parts: str) -> None:
        digest.update("\x00".join(parts).encode("utf-8", "surrogatepass") + b"\x01")

    for name in sorted(state.hosts):
        feed("H", name, state.hosts[name])
    for name in sorted(state.groups):
        body, parts = state.groups[name]
        feed("G", name, parts, body)
        for part in parts:
            feed("M", *state.ordered((name, part)))
    for key in sorted(state.extras):
        feed("X", key, state.extras[key])
    return digest.hexdigest()


def _sort_keys(old: list[tuple[int, str]], new: list[str]) -> list[int]:
    """Sort keys for ``new``, reusing those of the members kept from ``old``."""
    matcher = SequenceMatcher(None, [m for _, m in old], new, autojunk=False)
    keys = [-1] * len(new)  # -1: not assigned yet
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("equal", "replace"):  # a replaced member keeps its row, with a new name
            for k in range(min(i2 - i1, j2 - j1)):
                keys[j1 + k] = old[i1 + k][0]
    index = 0
    while index < len(keys):
        if keys[index] >= 0:
            index += 1
            continue
        end = index
        while end < len(keys) and keys[end] < 0:
            end += 1
        low = keys[index - 1] if index else 0
        count = end - index
        step = GAP if end == len(keys) else (keys[end] - low) // (count + 1)
        if step < 1:  # no room left between two neighbours: renumber the list
            return [GAP * (i + 1) for i in range(len(new))]
        for k in range(count):
            keys[index + k] = low + step * (k + 1)
        index = end
    return keys


def _diff_values(
    kind: str, old: dict[str, Any], new: dict[str, Any], changes: list[Change]
) -> None:
    for name in old.keys() | new.keys():
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if kind == "G":
            changes.append(
                Change(
                    kind,
                    name,
                    "",
                    0,
                    before[0] if before else None,
                    after[0] if after else None,
                    before[1] if before else None,
                    after[1] if after else None,
                )
            )
        else:
            changes.append(Change(kind, name, "", 0, before, after))


def diff(state: State, layout: Layout) -> tuple[list[Change], State]:
    """The row changes from ``state`` to ``layout``, and the state after them."""
    changes: list[Change] = []
    _diff_values("H", state.hosts, layout.hosts, changes)
    _diff_values("G", state.groups, layout.groups, changes)
    _diff_values("X", state.extras, layout.extras, changes)
    members: dict[Key, dict[int, str]] = {}
    for key in state.members.keys() | layout.lists.keys():
        old_items = state.members.get(key) or {}
        new_list = layout.lists.get(key)
        if new_list is None:
            new_items: dict[int, str] = {}
        else:
            old = sorted(old_items.items())
            if [m for _, m in old] == new_list:
                members[key] = old_items
                continue
            new_items = dict(zip(_sort_keys(old, new_list), new_list, strict=True))
            members[key] = new_items
        group, part = key
        for ord_ in old_items.keys() | new_items.keys():
            before, after = old_items.get(ord_), new_items.get(ord_)
            if before != after:
                changes.append(Change("M", group, part, ord_, before, after))
    new_state = State(dict(layout.hosts), dict(layout.groups), members, dict(layout.extras))
    return changes, new_state


def undo(state: State, rows: Iterable[tuple[str, str, str, int, str | None, str | None]]) -> None:
    """Apply undo-log rows ``(kind, name, part, ord, old, old_lists)`` to ``state`` in place.

    Feed the rows of the newest version first; within a version the order does
    not matter (a version changes each row at most once).
    """
    for kind, name, part, ord_, old, old_lists in rows:
        if kind == "M":
            items = state.members.setdefault((name, part), {})
            if old is None:
                items.pop(ord_, None)
            else:
                items[ord_] = old
            continue
        tables: dict[str, dict[str, Any]] = {
            "H": state.hosts,
            "G": state.groups,
            "X": state.extras,
        }
        table = tables[kind]
        if old is None:
            table.pop(name, None)
        else:
            table[name] = (old, old_lists or "") if kind == "G" else old
