"""A local copy of a network backend's inventory, served when the backend cannot be reached.

Every successful read of a network backend (one whose class sets ``network =
True``: PostgreSQL, MySQL, etcd) refreshes a copy in the cache directory
(``$XDG_CACHE_HOME/osa-inventory``, else ``~/.cache/osa-inventory``; directory
0700, files 0600, both the user's own: anything else is refused, since whoever can
write there could plant a copy to be served). The backend is always asked first:
the copy is served only when reading raises
:class:`~osa_inventory.errors.StoreUnavailable`, with a warning, and only while
it is at most ``cache_ttl`` seconds old (its age counts from the last read that
confirmed it). A run that served the copy refuses every
write, so a stale copy is never written back.

A backend that is not reached over the network but has a light head reader
(SQLite: its class names a ``light_head``) keeps the same copy for the light
``--list`` (:mod:`.light`) and for :meth:`CachingStore.read_canonical`; its copy
is never served when the database cannot be read (``outage_copy=False``).

A cache file holds two lines: a JSON header (format, store label, version) and
the inventory. A read that finds the same version as the header only touches
the file: its modification time is when the copy was last confirmed. The copy
of an encrypted store is kept sealed with the store's write key (the sealed
line, never the plain inventory), and opened like the store itself.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from osa_inventory.errors import StoreError, StoreUnavailable
from osa_inventory.store.backend import LockHolder, VersionInfo
from osa_inventory.store.localcopy import (
    APP_DIR,
    FORMAT,
    CachedCopy,
    LocalCache,
    age_text,
    cache_dir,
    cache_key,
)
from osa_inventory.store.store import CommitResult, Snapshot, Store

__all__ = [
    "APP_DIR",
    "FORMAT",
    "CachedCopy",
    "CachingStore",
    "LocalCache",
    "cache_dir",
    "cache_key",
    "caching_store",
]


class CachingStore(Store):
    """A Store that keeps a local copy of what it reads and serves it when the backend is down.

    Once a run has served the copy, it refuses to write: taking the lock,
    committing and recording a fingerprint all fail (or are skipped) with a
    message that says why.
    """

    def __init__(
        self,
        backend: Any,
        *,
        cache: LocalCache,
        ttl: float,
        outage_copy: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(backend, **kwargs)
        self.cache = cache
        self.ttl = ttl
        #: serve the copy when the backend cannot be reached (False: keep it for speed only)
        self.outage_copy = outage_copy
        #: why the backend could not be read, once this run served the cached copy
        self.offline: str | None = None
        self._served: CachedCopy | None = None
        #: the backend did not answer the head request just made (read_canonical)
        self._unreachable: StoreUnavailable | None = None

    # -- reading --

    def read_canonical(self) -> tuple[VersionInfo | None, bytes | None]:
        """The head version and the local copy's bytes when the copy is that version.

        One small request (the head) instead of reading the whole store: the
        cache then also speeds up reads of a slow backend. Anything else
        (backend down, copy older or damaged) returns no bytes, so the caller
        reads through :meth:`read`, which refreshes the copy or serves it
        during an outage.
        """
        try:
            version = self.head()
        except StoreError:
            if self.outage_copy:
                raise
            return None, None  # read() says what is wrong, as it does without a copy
        if version is None:
            return None, None
        body = self.cache.canonical_bytes(version.to_dict(), self.sealing)
        if body is not None:
            with contextlib.suppress(OSError):
                os.utime(self.cache.path)  # confirmed current just now
        return version, body

    def head(self) -> VersionInfo | None:
        """The backend's head, or None when it cannot be reached (a read then serves the copy).

        An unreachable backend is asked once: the read that follows serves the copy
        at once, so an outage costs one ``timeout``, not one per request.
        """
        if self._unreachable is not None:
            return None
        try:
            return super().head()
        except StoreUnavailable as exc:
            self._unreachable = exc
            return None

    def _read(self) -> Snapshot:
        unreachable, self._unreachable = self._unreachable, None
        if unreachable is not None and self._holder is None:
            # asked a moment ago, for this same read: one timeout, not two
            return self._serve_cached(unreachable)
        try:
            snapshot = super()._read()
        except StoreUnavailable as exc:
            if self._holder is not None:  # a writer must see the backend itself
                raise
            return self._serve_cached(exc)
        self._keep(snapshot)
        return snapshot

    def host(self, name: str) -> dict[str, Any] | None:
        try:
            return super().host(name)
        except StoreUnavailable as exc:
            inventory = self._serve_cached(exc).inventory
            return ((inventory.get("_meta") or {}).get("hostvars") or {}).get(name)

    def _keep(self, snapshot: Snapshot) -> None:
        try:
            self.cache.save(snapshot, self.label, self.sealing)
        except OSError as exc:  # a cache we cannot write must not fail the read
            self.warn(f"cannot write the local cache {self.cache.path}: {exc.strerror or exc}")

    def _serve_cached(self, error: StoreUnavailable) -> Snapshot:
        copy = self.cache.load(self.sealing) if self.outage_copy else None
        if copy is None:
            raise error
        age = time.time() - copy.confirmed
        if age > self.ttl:
            raise StoreUnavailable(
                f"{error}; the local copy {self.cache.path} is {age_text(age)} old, more than "
                f"cache_ttl ({self.ttl:g} s), so it is not served"
            ) from error
        version = copy.snapshot.version
        which = f"version {version.version}" if version is not None else "unversioned copy"
        if self.offline is None:  # once per run
            self.warn(
                f"{self.label} cannot be reached ({error}); serving the local copy ({which}, "
                f"confirmed {age_text(age)} ago) from {self.cache.path}"
            )
        self.offline = str(error)
        self._served = copy
        return copy.snapshot

    # -- writing: refused once the cached copy was served --

    def _refuse(self, action: str) -> StoreUnavailable:
        confirmed = self._served.confirmed if self._served else time.time()
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(confirmed))
        return StoreUnavailable(
            f"cannot {action}: {self.label} cannot be reached ({self.offline}); this run read "
            f"the local copy cached at {when}, which is never written back. Retry when the "
            "backend is reachable"
        )

    def _acquire(self) -> LockHolder:
        if self.offline is not None:
            raise self._refuse("write the inventory")
        return super()._acquire()

    def _before_write(self, base: Snapshot) -> None:
        if self._served is not None and base is self._served.snapshot:
            raise self._refuse("write the inventory")

    def _written(self, result: CommitResult) -> CommitResult:
        self._keep(Snapshot(result.inventory, result.version))
        return result

    def remember_fingerprint(
        self, snapshot: Snapshot, fingerprint: str, warnings: list[str] | None = None
    ) -> bool:
        if self.offline is not None:
            return False  # best effort by contract; the backend is not there to record it
        return super().remember_fingerprint(snapshot, fingerprint, warnings)


def caching_store(
    backend: Any,
    *,
    backend_name: str,
    options: Mapping[str, Any],
    inventory_name: str,
    ttl: float,
    warn: Callable[[str], None] | None = None,
    outage_copy: bool = True,
    **kwargs: Any,
) -> CachingStore:
    """A :class:`CachingStore` with its cache file named after the store's settings."""
    from osa_inventory.store.registry import option_schema

    key = cache_key(backend_name, options, inventory_name, option_schema(backend))
    return CachingStore(
        backend,
        cache=LocalCache(Path(cache_dir(), f"{key}.json")),
        ttl=ttl,
        warn=warn,
        outage_copy=outage_copy,
        **kwargs,
    )
