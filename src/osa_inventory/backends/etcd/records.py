"""Version records: the JSON held by ``head`` and ``versions/<n>``.

::

    {"format": 1, "version": 7, "lineage": "...", "write_id": "...",
     "time": ..., "user": ..., "host": ..., "command": ..., "message": ...,
     "fingerprint": "<inputs' digest>", "warnings": [...],
     "digest": "<sha256 of root>", "root": {"shape": ..., "buckets": 256,
                                           "chunks": ["<sha256>", null, ...]}}
"""

from __future__ import annotations

from typing import Any

from osa_inventory.backends.etcd.kv import KeyValue
from osa_inventory.backends.etcd.tree import REPAIR, Root, parse_value
from osa_inventory.errors import StoreCorrupt
from osa_inventory.store.backend import VersionInfo, fingerprint_extra

FORMAT = 1


def parse_record(kv: KeyValue) -> dict[str, Any]:
    where = kv.key.decode(errors="replace")
    record = parse_value(kv.value, where)
    if not isinstance(record, dict) or "version" not in record or "root" not in record:
        raise StoreCorrupt(f"etcd store: {where} is not a version record; {REPAIR}")
    return record


def root_of(record: dict[str, Any]) -> Root:
    try:
        return Root.from_dict(record["root"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreCorrupt(
            f"etcd store: version {record.get('version')} has a malformed root ({exc}); {REPAIR}"
        ) from exc


def info_of(record: dict[str, Any]) -> VersionInfo:
    return VersionInfo(
        version=int(record["version"]),
        lineage=str(record["lineage"]),
        time=float(record.get("time", 0.0)),
        user=record.get("user", ""),
        host=record.get("host", ""),
        command=record.get("command", ""),
        message=record.get("message", ""),
        extra={
            "digest": record.get("digest"),
            **fingerprint_extra(record.get("fingerprint", ""), record.get("warnings", [])),
        },
    )


def identity(info: VersionInfo | None) -> tuple[Any, ...] | None:
    """What must match for a compare-and-swap: number, lineage and content digest."""
    if info is None:
        return None
    return (info.version, info.lineage, info.extra.get("digest"))


def describe_version(info: VersionInfo | None) -> str:
    return "an empty store" if info is None else f"version {info.version}"
