"""An inventory as a content-addressed tree of small values (pure: no I/O).

An inventory splits into *entries*, one per host's vars (``h/<host>``), per
group (``g/<group>``), for ``all.vars`` (``v/all``) and for the rest of
``_meta`` (``m``, rarely present). Each entry's canonical JSON is stored as an
object keyed by its SHA-256; a value above :data:`PART_BYTES` is cut into parts,
so no value comes near etcd's request limit whatever the inventory's size.

The manifest (entry -> object ref) is spread over chunks by a hash of the
entry name, about :data:`ENTRIES_PER_CHUNK` entries each; chunks are
content-addressed too. The *root* (shape, bucket count, chunk refs) is small
and is what a version record holds. Changing one host changes its object, one
chunk and the root; everything else is shared with the previous version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from osa_inventory.errors import StoreCorrupt
from osa_inventory.inventory import REPAIR

#: a value larger than this is stored in parts
PART_BYTES = 256 * 1024
ENTRIES_PER_CHUNK = 64
MAX_BUCKETS = 4096

HOST = "h/"
GROUP = "g/"
ALL_VARS = "v/all"
META_REST = "m"

#: one object's digest, or the digests of its parts in order
Ref = str | list[str]


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(data: bytes) -> tuple[Ref, dict[str, bytes]]:
    """The ref of ``data`` and the objects that hold it (digest -> bytes)."""
    if len(data) <= PART_BYTES:
        sha = digest(data)
        return sha, {sha: data}
    parts = {}
    refs = []
    for start in range(0, len(data), PART_BYTES):
        piece = data[start : start + PART_BYTES]
        sha = digest(piece)
        parts[sha] = piece
        refs.append(sha)
    return refs, parts


def ref_digests(ref: Ref) -> list[str]:
    return [ref] if isinstance(ref, str) else list(ref)


def assemble(ref: Ref, lookup: dict[str, bytes], what: str) -> bytes:
    """The bytes behind ``ref``; StoreCorrupt when a piece is missing."""
    try:
        return b"".join(lookup[sha] for sha in ref_digests(ref))
    except KeyError as exc:
        raise StoreCorrupt(
            f"etcd store: {what} refers to object {exc.args[0][:12]}, which is missing; {REPAIR}"
        ) from None


# -- inventory <-> entries -----------------------------------------------------------


def host_entry(name: str) -> str:
    return HOST + name


def split(inventory: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(shape, entry name -> canonical JSON) for ``inventory``."""
    entries: dict[str, bytes] = {}
    shape: dict[str, Any] = {"meta": "absent"}
    for key, value in inventory.items():
        if key != "_meta":
            if key == "all" and isinstance(value, dict) and "vars" in value:
                rest = {k: v for k, v in value.items() if k != "vars"}
                entries[ALL_VARS] = canonical(value["vars"])
                entries[GROUP + key] = canonical(rest)
            else:
                entries[GROUP + key] = canonical(value)
            continue
        hostvars = value.get("hostvars") if isinstance(value, dict) else None
        if isinstance(hostvars, dict):
            shape["meta"] = "hostvars"
            for host, variables in hostvars.items():
                entries[HOST + host] = canonical(variables)
            rest = {k: v for k, v in value.items() if k != "hostvars"}
            if rest:
                entries[META_REST] = canonical(rest)
        else:
            shape["meta"] = "raw"
            entries[META_REST] = canonical(value)
    return shape, entries


def join(shape: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The inventory from its shape and parsed entry values (the inverse of :func:`split`)."""
    inventory: dict[str, Any] = {}
    meta = shape.get("meta")
    if meta == "hostvars":
        hostvars = {}
        for entry, value in values.items():
            if entry.startswith(HOST):
                hostvars[entry[len(HOST) :]] = value
        inventory["_meta"] = {"hostvars": hostvars, **values.get(META_REST, {})}
    elif meta == "raw":
        inventory["_meta"] = values.get(META_REST)
    for entry in sorted(v for v in values if v.startswith(GROUP)):
        inventory[entry[len(GROUP) :]] = values[entry]
    if ALL_VARS in values:
        inventory["all"] = {**inventory.get("all", {}), "vars": values[ALL_VARS]}
    return inventory


# -- the manifest, in chunks ---------------------------------------------------------


def bucket_count(entries: int) -> int:
    """A power of two giving about ENTRIES_PER_CHUNK entries a chunk."""
    buckets = 1
    while buckets * ENTRIES_PER_CHUNK < entries and buckets < MAX_BUCKETS:
        buckets *= 2
    return buckets


def bucket_of(entry: str, buckets: int) -> int:
    return int.from_bytes(hashlib.sha256(entry.encode()).digest()[:4], "big") % buckets


@dataclass(frozen=True)
class Root:
    """What a version record points at: the shape and the manifest's chunks."""

    shape: dict[str, Any]
    buckets: int
    chunks: list[Ref | None]

    @property
    def digest(self) -> str:
        return digest(canonical(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        return {"shape": self.shape, "buckets": self.buckets, "chunks": self.chunks}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Root:
        return cls(shape=data["shape"], buckets=int(data["buckets"]), chunks=list(data["chunks"]))

    def chunk_digests(self) -> set[str]:
        return {sha for ref in self.chunks if ref is not None for sha in ref_digests(ref)}


@dataclass
class Tree:
    """A whole inventory as objects, chunks and root, ready to be stored."""

    root: Root
    manifest: dict[str, Ref]
    objects: dict[str, bytes]
    chunks: dict[str, bytes]


def build(inventory: dict[str, Any]) -> Tree:
    shape, entries = split(inventory)
    manifest: dict[str, Ref] = {}
    objects: dict[str, bytes] = {}
    for entry, data in entries.items():
        ref, parts = blob(data)
        manifest[entry] = ref
        objects.update(parts)
    buckets = bucket_count(len(manifest))
    grouped: list[dict[str, Ref]] = [{} for _ in range(buckets)]
    for entry, ref in manifest.items():
        grouped[bucket_of(entry, buckets)][entry] = ref
    chunk_refs: list[Ref | None] = []
    chunks: dict[str, bytes] = {}
    for part in grouped:
        if not part:
            chunk_refs.append(None)
            continue
        ref, pieces = blob(canonical(part))
        chunk_refs.append(ref)
        chunks.update(pieces)
    return Tree(Root(shape, buckets, chunk_refs), manifest, objects, chunks)


def parse_chunk(data: bytes, what: str) -> dict[str, Ref]:
    try:
        chunk = json.loads(data)
    except ValueError as exc:
        raise StoreCorrupt(f"etcd store: {what} is not JSON ({exc}); {REPAIR}") from exc
    if not isinstance(chunk, dict):
        raise StoreCorrupt(f"etcd store: {what} is not a JSON object; {REPAIR}")
    return chunk


def parse_value(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise StoreCorrupt(f"etcd store: {what} is not JSON ({exc}); {REPAIR}") from exc
