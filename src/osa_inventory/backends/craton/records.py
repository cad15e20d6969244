"""The records the craton backend keeps besides hosts and groups.

Each is a :class:`~osa_inventory.store.backend.VersionInfo` in its JSON form
(``version``, ``lineage``, ``time``, ``user``, ``host``, ``command``,
``message`` and ``extra`` with the content ``digest`` and the input
``fingerprint``), plus fields of its own:

* the **head**, region variable ``osa_inventory``: the current version, with
  ``format``, ``cloud`` (the cloud's name, to find the region in one request)
  and ``hosts`` (their count); while a write is under way also ``writing``,
  naming the version being written: ``{"version", "write_id", "digest",
  "user", "host", "pid", "since"}`` (and ``"rekey": true`` while the kept
  versions' contents are replaced, :mod:`.rekey`). ``version`` 0 means no
  version yet;
* **version records**, variables ``v:<n>`` of the ``osa-inventory-history``
  cell, with ``write_id`` and ``undo``: the change that turns version n back
  into version n-1 (the hosts and entries it changed, with their earlier values);
* the **pending change**, variable ``redo`` of that cell: ``{"write_id",
  "version", "redo"}``, the change the current (or an interrupted) write makes,
  so that any later run can finish it. A rekey's also holds ``rekey``, the
  digests ``from`` and ``to``, the reverse change ``undo`` and the new version
  ``records``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from osa_inventory.errors import StoreCorrupt
from osa_inventory.store.backend import VersionInfo, WriteMeta

FORMAT = 1
VERSION_PREFIX = "v:"
REDO_VAR = "redo"


def version_key(number: int) -> str:
    return f"{VERSION_PREFIX}{number}"


def version_number(key: str) -> int | None:
    if not key.startswith(VERSION_PREFIX):
        return None
    digits = key[len(VERSION_PREFIX) :]
    return int(digits) if digits.isdigit() else None


def check_head(head: Any, where: str) -> dict[str, Any] | None:
    if head is None:
        return None
    valid = (
        isinstance(head, dict)
        and isinstance(head.get("version"), int)
        and isinstance(head.get("lineage"), str)
        and isinstance(head.get("extra"), dict)
        and isinstance(head["extra"].get("digest"), str)
    )
    if not valid:
        raise StoreCorrupt(
            f"craton {where}: region variable osa_inventory is not a version record; it was "
            "changed outside osa-inventory"
        )
    return head


def digest_in(record: dict[str, Any]) -> Any:
    """The content digest a head or version record names."""
    return (record.get("extra") or {}).get("digest")


def info_of(record: dict[str, Any] | None) -> VersionInfo | None:
    """The version a record describes; None for a head without a version yet."""
    if record is None or not record.get("version"):
        return None
    return VersionInfo.from_dict(record)


def new_record(number: int, lineage: str, digest: str, meta: WriteMeta) -> dict[str, Any]:
    """The JSON of a new version (head and version record share it), secrets masked."""
    from osa_inventory.redact import redact_text

    info = meta.new_version(number, lineage)
    record = replace(
        info, command=redact_text(info.command), message=redact_text(info.message)
    ).to_dict()
    record["extra"]["digest"] = digest
    return record


def redacted(record: Any, redact: Callable[[str], str]) -> Any:
    """A head or version record with its command and message through ``redact``: the
    same object when nothing changed (or it is not a record)."""
    if not isinstance(record, dict):
        return record
    new = {
        field: redact(record[field])
        for field in ("command", "message")
        if isinstance(record.get(field), str)
    }
    if all(new[field] == record[field] for field in new):
        return record
    return {**record, **new}


def head_of(record: dict[str, Any], cloud: str, hosts: int) -> dict[str, Any]:
    """The head for a version record (no ``writing`` mark)."""
    head = VersionInfo.from_dict(record).to_dict()
    head.update({"format": FORMAT, "cloud": cloud, "hosts": hosts})
    return head
