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


#: fields of a record besides version, lineage and root: the JSON type each must have
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "time": ((int, float), "a number"),
    "user": ((str,), "a string"),
    "host": ((str,), "a string"),
    "command": ((str,), "a string"),
    "message": ((str,), "a string"),
    "fingerprint": ((str,), "a string"),
    "digest": ((str,), "a string"),
    "write_id": ((str,), "a string"),
}


def parse_record(kv: KeyValue) -> dict[str, Any]:
    """The version record in ``kv``; StoreCorrupt naming the field when it is not one."""
    where = kv.key.decode(errors="replace")
    record = parse_value(kv.value, where)
    problem = _record_problem(record)
    if problem:
        raise StoreCorrupt(f"etcd store: {where} is not a version record ({problem}); {REPAIR}")
    return record


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    version = record.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return "version is missing or not a number of 1 or more"
    if not isinstance(record.get("lineage"), str):
        return "lineage is missing or not a string"
    if not isinstance(record.get("root"), dict):
        return "root is missing or not an object"
    for key, (kinds, what) in _FIELDS.items():
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            return f"{key} is not {what}"
    warnings = record.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        return "warnings is not a list of strings"
    return None


def root_of(record: dict[str, Any]) -> Root:
    try:
        root = Root.from_dict(record["root"])
        buckets = record["root"].get("buckets")
        if isinstance(buckets, bool) or root.buckets < 1 or len(root.chunks) != root.buckets:
            raise ValueError("buckets and chunks do not match")
        if not isinstance(root.shape, dict):
            raise ValueError("shape is not an object")
        for ref in root.chunks:
            if ref is not None and not _is_ref(ref):
                raise ValueError("a chunk reference is not a digest")
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreCorrupt(
            f"etcd store: version {record.get('version')} has a malformed root ({exc}); {REPAIR}"
        ) from exc
    return root


def _is_ref(ref: Any) -> bool:
    """A digest, or a list of them (a value stored in parts)."""
    if isinstance(ref, list):
        return bool(ref) and all(isinstance(sha, str) and len(sha) == 64 for sha in ref)
    return isinstance(ref, str) and len(ref) == 64


def info_of(record: dict[str, Any]) -> VersionInfo:
    return VersionInfo(
        version=int(record["version"]),
        lineage=str(record["lineage"]),
        time=float(record.get("time") or 0.0),
        user=record.get("user") or "",
        host=record.get("host") or "",
        command=record.get("command") or "",
        message=record.get("message") or "",
        extra={
            "digest": record.get("digest"),
            **fingerprint_extra(record.get("fingerprint") or "", record.get("warnings", [])),
        },
    )


def identity(info: VersionInfo | None) -> tuple[Any, ...] | None:
    """What must match for a compare-and-swap: number, lineage and content digest."""
    if info is None:
        return None
    return (info.version, info.lineage, info.extra.get("digest"))


def describe_version(info: VersionInfo | None) -> str:
    return "an empty store" if info is None else f"version {info.version}"
