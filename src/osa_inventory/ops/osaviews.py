"""The tables OSA's ``inventory-manage.py`` prints, as data: ``-l``, ``-g`` and ``-G``.

Scripts parse these tables, so each follows what OSA's code does, not its help
text: ``-g`` lists every host with the groups that name it, ``-G`` every group
(but the uninteresting ones) with its hosts. Cells hold the raw values (``None``
stays ``None``); :mod:`osa_inventory.cli.asciitable` draws them as OSA does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osa_inventory.errors import ConfigError
from osa_inventory.inventory import hostvars_of

META = "_meta"
HOST_COLUMNS = (
    "container_name",
    "is_metal",
    "component",
    "physical_host",
    "tunnel_address",
    "ansible_host",
    "container_types",
)
NO_COMPONENT = "-undefined-"


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        """One mapping of header to cell per row."""
        return [dict(zip(self.headers, row, strict=True)) for row in self.rows]


def _groups_with_hosts(inventory: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
    """(group, hosts) for every group that has a ``hosts`` list, by group name.

    OSA walks the groups in the stored file's order, which it always writes sorted.
    """
    return [
        (name, value["hosts"])
        for name, value in sorted(inventory.items())
        if name != META and isinstance(value, dict) and isinstance(value.get("hosts"), list)
    ]


def _sort_key(value: Any) -> tuple[int, Any]:
    """Python's own order within one kind of value; kinds OSA cannot compare get a fixed
    order (None, numbers, text, anything else) instead of OSA's traceback."""
    if value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, str(value))


def host_table(inventory: Mapping[str, Any], sort_by: str = "component") -> Table:
    """``-l``: one row per host, sorted by column ``sort_by`` (then by the whole row)."""
    if sort_by not in HOST_COLUMNS:
        raise ConfigError(
            f"-s {sort_by}: not a column of the host list; sort by one of {', '.join(HOST_COLUMNS)}"
        )
    rows = []
    for name, hostvars in hostvars_of(dict(inventory)).items():
        row = [hostvars.get(column) for column in HOST_COLUMNS]
        if row[0] is None:
            row[0] = name
        if row[2] is None:
            row[2] = NO_COMPONENT
        rows.append(row)
    index = HOST_COLUMNS.index(sort_by)
    rows.sort(key=lambda row: [_sort_key(row[index]), *map(_sort_key, row)])
    return Table(HOST_COLUMNS, rows)


def groups_per_host(inventory: Mapping[str, Any]) -> Table:
    """``-g``: every host, by name, with the groups whose ``hosts`` name it (sorted)."""
    groups: dict[str, set[str]] = {}
    for group, hosts in _groups_with_hosts(inventory):
        for host in hosts:
            groups.setdefault(str(host), set()).add(group)
    rows: list[list[Any]] = [
        [name, sorted(groups.get(name, ()))] for name in sorted(hostvars_of(dict(inventory)))
    ]
    return Table(("container_name", "groups"), rows)


def hosts_per_group(inventory: Mapping[str, Any]) -> Table:
    """``-G``: every group, by name, with its hosts in stored order.

    As OSA, a group with no hosts is left out, and so is one whose only host has
    no ``_`` in its name (``compute_hosts: [compute1]``, ``galera: [one container]``).
    """
    rows: list[list[Any]] = [
        [group, list(hosts)]
        for group, hosts in _groups_with_hosts(inventory)
        if hosts and not (len(hosts) == 1 and "_" not in str(hosts[0]))
    ]
    return Table(("groups", "container_name"), rows)
