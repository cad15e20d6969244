"""Show an :class:`~osa_inventory.ops.diff.InventoryDiff` the way ``terraform plan`` does.

``+`` added (green), ``-`` removed (red), ``~`` changed (yellow), one entry per
host, group or ``all`` var, with variable changes indented below their host.
"""

from __future__ import annotations

import json
from typing import Any

from osa_inventory.cli.output import Output
from osa_inventory.ops.diff import ADD, CHANGE, REMOVE, GroupChange, InventoryDiff, VarChange
from osa_inventory.words import plural

SIGN = {ADD: "+", REMOVE: "-", CHANGE: "~"}
STYLE = {ADD: "green", REMOVE: "red", CHANGE: "yellow"}
MAX_VALUE = 160


def show_value(value: Any, verbose: bool) -> str:
    text = json.dumps(value, sort_keys=True)
    if verbose or len(text) <= MAX_VALUE:
        return text
    return f"{text[:MAX_VALUE]}... ({len(text)} characters; -v shows all)"


def _var_line(change: VarChange, verbose: bool) -> str:
    if change.action == ADD:
        return f"+ {change.path} = {show_value(change.new, verbose)}"
    if change.action == REMOVE:
        return f"- {change.path} (was {show_value(change.old, verbose)})"
    old, new = show_value(change.old, verbose), show_value(change.new, verbose)
    return f"~ {change.path}: {old} -> {new}"


def _host_brief(variables: dict[str, Any]) -> str:
    parts = []
    physical = variables.get("physical_host")
    if variables.get("is_metal") or not physical:
        parts.append("metal")
    else:
        parts.append(f"container on {physical}")
    for key in ("component", "management_address"):
        if variables.get(key):
            parts.append(str(variables[key]))
    return ", ".join(parts)


def _follows_hosts(change: GroupChange, added: set[str], removed: set[str]) -> bool:
    """Whether a group change only adds hosts that are new and drops hosts that are gone."""
    return (
        change.action == CHANGE
        and not (change.children_added or change.children_removed or change.other)
        and not change.reordered
        and set(change.hosts_added) <= added
        and set(change.hosts_removed) <= removed
    )


def render_diff(
    out: Output, diff: InventoryDiff, *, verbose: bool = False, collapse: bool = False
) -> None:
    """Print ``diff``; ``collapse`` folds groups that only follow host additions/removals."""
    for host in diff.hosts:
        style = STYLE[host.action]
        if host.action == CHANGE:
            out.line(f"~ host {host.name}", style)
            for change in host.changes:
                out.line(f"    {_var_line(change, verbose)}", STYLE[change.action])
            continue
        out.line(f"{SIGN[host.action]} host {host.name} ({_host_brief(host.vars)})", style)
        if verbose:
            for key in sorted(host.vars):
                out.line(f"    {key} = {show_value(host.vars[key], verbose)}", style)
    added = {h.name for h in diff.hosts if h.action == ADD}
    removed = {h.name for h in diff.hosts if h.action == REMOVE}
    folded = 0
    for group in diff.groups:
        if collapse and not verbose and _follows_hosts(group, added, removed):
            folded += 1
            continue
        _render_group(out, group, verbose)
    if folded:
        out.line(
            f"~ {plural(folded, 'more group')}: only the hosts above added or removed", "yellow"
        )
    if diff.vars:
        out.line("~ all vars", "yellow")
        for change in diff.vars:
            out.line(f"    {_var_line(change, verbose)}", STYLE[change.action])
    for change in diff.other:
        out.line(_var_line(change, verbose), STYLE[change.action])


def _render_group(out: Output, group: GroupChange, verbose: bool) -> None:
    style = STYLE[group.action]
    if group.action == CHANGE:
        out.line(f"~ group {group.name}", style)
    else:
        hosts = len(group.hosts_added or group.hosts_removed)
        children = len(group.children_added or group.children_removed)
        out.line(f"{SIGN[group.action]} group {group.name} ({_count(hosts, children)})", style)
        if group.action == REMOVE and not verbose:
            return
    for kind, items, action in (
        ("host", group.hosts_added, ADD),
        ("host", group.hosts_removed, REMOVE),
        ("child", group.children_added, ADD),
        ("child", group.children_removed, REMOVE),
    ):
        for item in items:
            out.line(f"    {SIGN[action]} {kind} {item}", STYLE[action])
    if group.reordered:
        out.line("    ~ same members in another order", "yellow")
    for change in group.other:
        out.line(f"    {_var_line(change, verbose)}", STYLE[change.action])


def _count(hosts: int, children: int) -> str:
    text = f"{hosts} host{'s' if hosts != 1 else ''}"
    if children:
        text += f", {children} child group{'s' if children != 1 else ''}"
    return text


def summary(diff: InventoryDiff, future: bool = True) -> str:
    """``hosts: 1 to add, 2 to remove; groups: 3 to change`` (only what is not zero)."""
    words = {
        ADD: "to add" if future else "added",
        CHANGE: "to change" if future else "changed",
        REMOVE: "to remove" if future else "removed",
    }
    counts = diff.summary()
    parts = []
    for label in ("hosts", "groups", "vars"):
        tally = counts[label]
        numbers = [f"{tally[a]} {words[a]}" for a in (ADD, CHANGE, REMOVE) if tally[a]]
        if numbers:
            parts.append(f"{label}: {', '.join(numbers)}")
    return "; ".join(parts) or "no changes"
