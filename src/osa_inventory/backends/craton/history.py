"""Earlier versions: listed from the version records, rebuilt by undoing later changes.

Version record ``v:<n>`` holds the reverse of the change that made version n,
so version k is the current inventory with the reverse changes of versions
head, head-1, …, k+1 laid over it in turn, then checked against k's digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osa_inventory.backends.craton.mapping import digest_of, join, overlay, split
from osa_inventory.backends.craton.records import digest_in, version_key, version_number
from osa_inventory.errors import StoreCorrupt, StoreError, VersionUnreadable
from osa_inventory.store.backend import VersionInfo


class NotRetained(StoreError):
    """The history no longer holds what the version needs."""


def retained(current: VersionInfo, history: Mapping[str, Any]) -> list[VersionInfo]:
    """The versions of ``current``'s lineage the history holds, oldest first, ending at it."""
    found: dict[int, VersionInfo] = {}
    for key, record in history.items():
        number = version_number(key)
        if (
            number is not None
            and number < current.version
            and isinstance(record, dict)
            and record.get("lineage") == current.lineage
        ):
            found[number] = VersionInfo.from_dict(record)
    found[current.version] = current  # the head carries the latest fingerprint
    return [found[number] for number in sorted(found)]


def rebuild(
    version: int,
    current: VersionInfo,
    inventory: dict[str, Any],
    history: Mapping[str, Any],
    where: str,
) -> dict[str, Any]:
    """Version ``version`` from the ``current`` inventory and the version records."""
    layout = split(inventory)
    for number in range(current.version, version, -1):
        record = history.get(version_key(number))
        if not isinstance(record, dict) or record.get("lineage") != current.lineage:
            raise NotRetained(f"{where}: version {version} is not retained")
        if record.get("undo") is None:
            raise VersionUnreadable(
                f"{where}: version {version} cannot be rebuilt: version {number} adopted "
                "changes made outside osa-inventory"
            )
        layout = overlay(layout, record["undo"])
    wanted = history.get(version_key(version))
    if not isinstance(wanted, dict):
        raise NotRetained(f"{where}: version {version} is not retained")
    result = join(layout.hosts, layout.entries)
    if digest_of(result) != digest_in(wanted):
        raise StoreCorrupt(
            f"{where}: version {version} rebuilt from the history does not match its digest; "
            "the history was changed outside osa-inventory"
        )
    return result
