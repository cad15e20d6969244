"""etcd's v3 JSON API in Python terms: key-values, results and transaction parts.

The gateway speaks base64 for keys and values and strings for 64-bit numbers;
these helpers hide both.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes
    mod_revision: int
    create_revision: int
    lease: int


@dataclass(frozen=True)
class RangeResult:
    revision: int
    kvs: list[KeyValue]
    more: bool


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    responses: list[dict[str, Any]]

    def ranges(self) -> list[list[KeyValue]]:
        """The key-values of each range response, in order."""
        return [
            [parse_kv(item) for item in r["response_range"].get("kvs", [])]
            for r in self.responses
            if "response_range" in r
        ]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with ``prefix``."""
    data = bytearray(prefix)
    while data:
        if data[-1] < 0xFF:
            data[-1] += 1
            return bytes(data)
        data.pop()
    return b"\0"


def parse_kv(item: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=unb64(item["key"]),
        value=unb64(item.get("value", "")),
        mod_revision=int(item.get("mod_revision", 0)),
        create_revision=int(item.get("create_revision", 0)),
        lease=int(item.get("lease", 0)),
    )


# -- transaction parts --------------------------------------------------------------


def put_op(key: bytes, value: bytes, lease: int = 0) -> dict[str, Any]:
    request: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        request["lease"] = str(lease)
    return {"request_put": request}


def delete_op(key: bytes) -> dict[str, Any]:
    return {"request_delete_range": {"key": b64(key)}}


def range_op(key: bytes, *, revision: int | None = None, keys_only: bool = False) -> dict[str, Any]:
    request: dict[str, Any] = {"key": b64(key)}
    if revision:
        request["revision"] = str(revision)
    if keys_only:
        request["keys_only"] = True
    return {"request_range": request}


def compare_revision(key: bytes, target: str, revision: int) -> dict[str, Any]:
    """Compare a key's ``MOD`` or ``CREATE`` revision with ``revision`` (0: key absent)."""
    field = {"MOD": "mod_revision", "CREATE": "create_revision"}[target]
    return {"key": b64(key), "target": target, "result": "EQUAL", field: str(revision)}
