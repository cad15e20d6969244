"""Garbage collection: drop versions beyond the retention, then keys nobody refers to.

Runs after a successful write, as of one etcd revision R:

1. version records older than the newest ``retention`` ones are deleted;
2. chunks and objects that those dropped versions referred to and no retained
   version refers to are deleted; a *full* sweep instead considers every chunk
   and object key, which also finds those left by writers that died midway;
3. only keys last written before the head was committed are deleted.
   A key written later may belong to a write in progress: that writer read this
   head, so every key it wrote is younger than the head's commit. Older
   unreferenced keys belong to versions out of retention, or to writers that
   died or lost their compare-and-swap.

Each delete compares the key's mod revision with the one seen at R, so a key a
writer has just stored again (same content, same digest) stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from osa_inventory.backends.etcd.kv import KeyValue, compare_revision, delete_op
from osa_inventory.backends.etcd.records import parse_record, root_of
from osa_inventory.errors import StoreCorrupt

if TYPE_CHECKING:
    from osa_inventory.backends.etcd.backend import EtcdBackend

DELETE_BATCH = 64


@dataclass(frozen=True)
class Collected:
    """How many keys a collection deleted."""

    versions: int = 0
    chunks: int = 0
    objects: int = 0


def collect_garbage(backend: EtcdBackend, *, full: bool, revision: int | None = None) -> Collected:
    """Collect as of ``revision``, that of a head's commit (default: the current head)."""
    client, layout = backend.client, backend.layout
    if revision is None:
        snapshot = client.range(layout.head)
        if not snapshot.kvs:
            return Collected()
        revision, guard = snapshot.revision, snapshot.kvs[0].mod_revision
    else:
        guard = revision
    names = [
        kv for kv in client.scan(layout.versions, revision=revision, keys_only=True)
        if layout.version_number(kv.key) is not None
    ]  # fmt: skip
    names.sort(key=lambda kv: layout.version_number(kv.key) or 0)
    dropped = names[: -backend.keep_versions]
    if not dropped and not full:
        return Collected()
    records = {kv.key: kv for kv in client.scan(layout.versions, revision=revision)}
    kept = [records[kv.key] for kv in names[-backend.keep_versions :]]
    used_chunks, used_objects = _referenced_by(backend, kept, revision)
    if full:
        stale_chunks = _scan_unused(backend, layout.chunks, used_chunks, revision)
        stale_objects = _scan_unused(backend, layout.objects, used_objects, revision)
    else:
        gone = [records[kv.key] for kv in dropped]
        gone_chunks, gone_objects = _referenced_by(backend, gone, revision, skip_damaged=True)
        stale_chunks = _current(backend, layout.chunk, gone_chunks - used_chunks, revision)
        stale_objects = _current(backend, layout.object, gone_objects - used_objects, revision)
    return Collected(
        versions=_delete(backend, dropped),
        chunks=_delete(backend, [kv for kv in stale_chunks if kv.mod_revision < guard]),
        objects=_delete(backend, [kv for kv in stale_objects if kv.mod_revision < guard]),
    )


def _referenced_by(
    backend: EtcdBackend, records: list[KeyValue], revision: int, skip_damaged: bool = False
) -> tuple[set[str], set[str]]:
    """(chunk digests, object digests) the version records refer to.

    ``skip_damaged``: a record (of a version being dropped) that cannot be read
    refers to nothing; its keys are left to a full sweep. A damaged record that
    is kept stops the collection: what it still needs is unknown.
    """
    chunks: set[str] = set()
    objects: set[str] = set()
    for kv in records:
        try:
            root = root_of(parse_record(kv))
            used_chunks, used_objects = backend.referenced(root, revision)
        except StoreCorrupt:
            if not skip_damaged:
                raise
            continue
        chunks |= used_chunks
        objects |= used_objects
    return chunks, objects


def _scan_unused(
    backend: EtcdBackend, prefix: bytes, used: set[str], revision: int
) -> list[KeyValue]:
    return [
        kv
        for kv in backend.client.scan(prefix, revision=revision, keys_only=True)
        if backend.layout.sha_of(kv.key) not in used
    ]


def _current(
    backend: EtcdBackend, key_of: Callable[[str], bytes], digests: set[str], revision: int
) -> list[KeyValue]:
    keys = [key_of(sha) for sha in sorted(digests)]
    return backend.client.get_many(keys, revision=revision, keys_only=True)


def _delete(backend: EtcdBackend, doomed: Iterable[KeyValue]) -> int:
    """Delete keys still as seen; returns how many went."""
    doomed = list(doomed)
    deleted = 0
    for start in range(0, len(doomed), DELETE_BATCH):
        batch = doomed[start : start + DELETE_BATCH]
        result = backend.client.txn(
            [compare_revision(kv.key, "MOD", kv.mod_revision) for kv in batch],
            [delete_op(kv.key) for kv in batch],
            [],
        )
        if result.succeeded:
            deleted += len(batch)
            for kv in batch:
                backend.forget(backend.layout.sha_of(kv.key))
    return deleted
