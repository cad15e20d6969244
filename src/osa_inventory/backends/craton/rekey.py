"""New contents for the kept versions (``osa-inventory rekey``), as Craton records them.

A rekey replaces the content of every readable version at once: the current
inventory's hosts and entries, and each version record's ``undo`` and digest.
It runs like a write (backend.py): the whole change is recorded first as the
pending change (variable ``redo`` of the history cell, with ``rekey``, its
``undo`` and the new ``records``), then the head is marked, the hosts and
entries changed, the records replaced in one request and the head given the
new digest. A reader meanwhile serves the old current version, and a run that
finds the rekeyer gone completes it from the pending change, no key needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from osa_inventory.backends.craton.history import retained
from osa_inventory.backends.craton.mapping import Layout, delta, digest_of, join, overlay, split
from osa_inventory.backends.craton.records import REDO_VAR, digest_in, version_key
from osa_inventory.errors import StaleWrite, StoreError
from osa_inventory.store.backend import VersionInfo


def new_records(
    contents: list[tuple[int, dict[str, Any]]],
    current: VersionInfo,
    history: Mapping[str, Any],
    where: str,
) -> dict[str, dict[str, Any]]:
    """The version records for ``contents`` (oldest first, ending at ``current``).

    ``contents`` must name every kept version from the oldest that can be read:
    the oldest kept one, or one that adopted changes made outside osa-inventory
    (its ``undo`` stays None; the versions before it cannot be read, and stay).
    """
    numbers = [number for number, _ in contents]
    kept = [info.version for info in retained(current, history)]
    if not numbers or numbers != [n for n in kept if n >= numbers[0]]:
        raise StaleWrite(f"{where}: the versions changed since they were read; rerun the command")
    first = history[version_key(numbers[0])]
    if numbers[0] != kept[0] and first.get("undo") is not None:
        raise StoreError(
            f"{where}: version {numbers[0] - 1} can be read but was given no new content"
        )
    records: dict[str, dict[str, Any]] = {}
    previous: Layout | None = None
    for number, content in contents:
        layout = split(content)
        record = history[version_key(number)]
        if previous is not None:
            undo: dict[str, Any] | None = delta(previous, layout)[0]
        else:
            # the oldest kept version: the version before it is not kept
            undo = None if record.get("undo") is None else {"hosts": {}, "entries": {}}
        extra = {**record["extra"], "digest": digest_of(content)}
        records[version_key(number)] = {**record, "extra": extra, "undo": undo}
        previous = layout
    return records


def rekeyed_current(
    current: VersionInfo, inventory: dict[str, Any], history: Mapping[str, Any]
) -> tuple[VersionInfo, dict[str, Any]] | None:
    """The current version as the version records describe it, or None if they do not.

    Between the rekey's two last steps the records hold the new contents while
    the head still names the old one: the pending change then turns the old
    current inventory into the new one.
    """
    old = current.extra.get("digest")
    record = history.get(version_key(current.version))
    if not isinstance(record, dict) or digest_in(record) == old:
        return current, inventory
    pending = history.get(REDO_VAR)
    if not (
        isinstance(pending, dict)
        and pending.get("rekey")
        and pending.get("version") == current.version
        and pending.get("from") == old
        and pending.get("to") == digest_in(record)
    ):
        return None
    layout = overlay(split(inventory), pending["redo"])
    new = join(layout.hosts, layout.entries)
    if digest_of(new) != digest_in(record):
        return None
    return replace(current, extra={**current.extra, "digest": digest_in(record)}), new
