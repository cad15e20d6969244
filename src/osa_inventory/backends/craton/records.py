"""The records the craton backend keeps besides hosts and groups.

* the **head**, region variable ``osa_inventory``: the current version's number,
  lineage, content digest and metadata, and while a write is under way a
  ``writing`` marker naming the version being written::

    {"format": 1, "cloud": "...", "version": 7, "lineage": "...", "digest": "...",
     "time": ..., "user": ..., "host": ..., "command": ..., "message": ...,
     "fingerprint": "...", "warnings": [...], "hosts": 42,
     "writing": {"version": 8, "write_id": "...", "digest": "...", "user": ...,
                 "host": ..., "pid": ..., "since": ...}}

* **version records**, variables ``v:<n>`` of the ``osa-inventory-history`` cell:
  the same metadata and ``undo``, the change that turns version n back into
  version n-1 (the hosts and entries it changed, with their earlier values);
* the **pending change**, variable ``redo`` of that cell: the change the
  current (or an interrupted) write makes, so that any later writer can finish it.
"""

from __future__ import annotations

from typing import Any

from osa_inventory.errors import StoreCorrupt
from osa_inventory.store.backend import VersionInfo, WriteMeta, fingerprint_extra

FORMAT = 1
VERSION_PREFIX = "v:"
REDO_VAR = "redo"
META_FIELDS = ("time", "user", "host", "command", "message", "fingerprint", "warnings")


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
        and isinstance(head.get("digest"), str)
    )
    if not valid:
        raise StoreCorrupt(
            f"craton {where}: region variable osa_inventory is not a version record; it was "
            "changed outside osa-inventory: restore it from 'osa-inventory history' records"
        )
    return head


def info_of(record: dict[str, Any]) -> VersionInfo:
    return VersionInfo(
        version=int(record["version"]),
        lineage=str(record["lineage"]),
        time=float(record.get("time") or 0.0),
        user=str(record.get("user") or ""),
        host=str(record.get("host") or ""),
        command=str(record.get("command") or ""),
        message=str(record.get("message") or ""),
        extra={
            "digest": record.get("digest"),
            **fingerprint_extra(record.get("fingerprint") or "", record.get("warnings") or []),
        },
    )


def identity(info: VersionInfo | None) -> tuple[Any, ...] | None:
    """What must match for a write to go ahead: number, lineage and content digest."""
    if info is None:
        return None
    return (info.version, info.lineage, info.extra.get("digest"))


def describe_version(info: VersionInfo | None) -> str:
    return "an empty store" if info is None else f"version {info.version}"


def new_record(
    number: int, lineage: str, digest: str, meta: WriteMeta, scrub: Any
) -> dict[str, Any]:
    """The metadata of a new version (head and version record share it)."""
    return {
        "version": number,
        "lineage": lineage,
        "digest": digest,
        "time": meta.time,
        "user": meta.user,
        "host": meta.host,
        "command": scrub(meta.command),
        "message": scrub(meta.message),
        "fingerprint": meta.fingerprint,
        "warnings": list(meta.warnings),
    }


def head_of(record: dict[str, Any], cloud: str, hosts: int) -> dict[str, Any]:
    """The head for a committed version record (no ``writing`` marker)."""
    head: dict[str, Any] = {key: record[key] for key in ("version", "lineage", "digest")}
    head.update({key: record.get(key) for key in META_FIELDS})
    head.update({"format": FORMAT, "cloud": cloud, "hosts": hosts})
    return head
