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

A cache file holds two lines: a JSON header (format, store label, version) and
the inventory. A read that finds the same version as the header only touches
the file: its modification time is when the copy was last confirmed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osa_inventory.defaults import cache_dir as default_cache_dir
from osa_inventory.errors import StoreUnavailable
from osa_inventory.fileio import NEW_FILE_MODE, check_private
from osa_inventory.jsonio import dumps_inventory_bytes
from osa_inventory.store.backend import LockHolder, VersionInfo
from osa_inventory.store.store import CommitResult, Snapshot, Store

FORMAT = 2  # 2: the body is the canonical serialisation, with its SHA-256 in the header


def cache_dir() -> Path:
    """Where the local copies live: ``$XDG_CACHE_HOME/osa-inventory`` or ``~/.cache/...``."""
    return Path(default_cache_dir())


def cache_key(
    backend: str, options: Mapping[str, Any], name: str, schema: Mapping[str, Any] | None
) -> str:
    """A digest naming one store; secret options and URL passwords stay out of it."""
    from osa_inventory.redact import mask_url_password, option_is_secret

    shown = {
        key: mask_url_password(value) if isinstance(value, str) else value
        for key, value in options.items()
        if not option_is_secret(key, schema)
    }
    text = json.dumps([backend, name, shown], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


@dataclass(frozen=True)
class CachedCopy:
    """A copy read back from the cache, and when it was last confirmed current."""

    snapshot: Snapshot
    confirmed: float
    label: str


class LocalCache:
    """One store's cache file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def check(self) -> None:
        """Refuse a cache directory or file that is not this user's own, mode 0700/0600:
        whoever else could write there could plant a copy to be served."""
        for path, what in ((self.path.parent, "local cache directory"), (self.path, "cache file")):
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                return
            check_private(info, path, what)

    def _header(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as handle:
                return json.loads(handle.readline())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _shown(version: dict[str, Any] | None) -> dict[str, Any] | None:
        """A version record as the header keeps it: secrets in its command line masked."""
        if version is None:
            return None
        from osa_inventory.redact import redact_text

        return {
            **version,
            **{k: redact_text(str(version[k])) for k in ("command", "message") if k in version},
        }

    def load(self) -> CachedCopy | None:
        """The cached copy, or None when there is none or it does not parse."""
        self.check()
        try:
            with open(self.path, "rb") as handle:
                header = json.loads(handle.readline())
                inventory = json.loads(handle.read())
                confirmed = os.fstat(handle.fileno()).st_mtime
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            return None
        if not isinstance(inventory, dict):
            return None
        raw = header.get("version")
        version = VersionInfo.from_dict(raw) if isinstance(raw, dict) else None
        return CachedCopy(Snapshot(inventory, version), confirmed, str(header.get("label", "")))

    def save(self, snapshot: Snapshot, label: str) -> None:
        """Record ``snapshot`` as confirmed now (only touch the file if it is the same version)."""
        self.check()
        version = self._shown(snapshot.version.to_dict() if snapshot.version else None)
        if version is not None and self.is_current(version):
            os.utime(self.path)
            return
        body = dumps_inventory_bytes(snapshot.inventory)
        header = {
            "format": FORMAT,
            "label": label,
            "version": version,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        self._write(json.dumps(header).encode() + b"\n" + body)

    def is_current(self, version: dict[str, Any]) -> bool:
        header = self._header()
        shown = self._shown(version)
        return bool(header and header.get("format") == FORMAT and header.get("version") == shown)

    def canonical_bytes(self, version: dict[str, Any]) -> bytes | None:
        """The cached body if it is ``version`` and intact (its digest checks out)."""
        self.check()
        try:
            with open(self.path, "rb") as handle:
                header = json.loads(handle.readline())
                body = handle.read()
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            return None
        if header.get("version") != self._shown(version):
            return None
        if hashlib.sha256(body).hexdigest() != header.get("sha256"):
            return None
        return body

    def _write(self, data: bytes) -> None:
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.check()  # made by someone else meanwhile
        from osa_inventory.tempfiles import SUFFIX, remove_stale_temp_files, temp_prefix

        remove_stale_temp_files(self.path)  # left by a reader killed mid-write
        fd, temp = tempfile.mkstemp(prefix=temp_prefix(self.path), suffix=SUFFIX, dir=directory)
        try:
            os.fchmod(fd, NEW_FILE_MODE)  # whatever the umask
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class CachingStore(Store):
    """A Store that keeps a local copy of what it reads and serves it when the backend is down.

    Once a run has served the copy, it refuses to write: taking the lock,
    committing and recording a fingerprint all fail (or are skipped) with a
    message that says why.
    """

    def __init__(self, backend: Any, *, cache: LocalCache, ttl: float, **kwargs: Any) -> None:
        super().__init__(backend, **kwargs)
        self.cache = cache
        self.ttl = ttl
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
        version = self.head()
        if version is None:
            return None, None
        body = self.cache.canonical_bytes(version.to_dict())
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
            self.cache.save(snapshot, self.label)
        except OSError as exc:  # a cache we cannot write must not fail the read
            self.warn(f"cannot write the local cache {self.cache.path}: {exc.strerror or exc}")

    def _serve_cached(self, error: StoreUnavailable) -> Snapshot:
        copy = self.cache.load()
        if copy is None:
            raise error
        age = time.time() - copy.confirmed
        if age > self.ttl:
            raise StoreUnavailable(
                f"{error}; the local copy {self.cache.path} is {_age(age)} old, more than "
                f"cache_ttl ({self.ttl:g} s), so it is not served"
            ) from error
        version = copy.snapshot.version
        which = f"version {version.version}" if version is not None else "unversioned copy"
        if self.offline is None:  # once per run
            self.warn(
                f"{self.label} cannot be reached ({error}); serving the local copy ({which}, "
                f"confirmed {_age(age)} ago) from {self.cache.path}"
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
    **kwargs: Any,
) -> CachingStore:
    """A :class:`CachingStore` with its cache file named after the store's settings."""
    from osa_inventory.store.registry import option_schema

    key = cache_key(backend_name, options, inventory_name, option_schema(backend))
    return CachingStore(
        backend, cache=LocalCache(cache_dir() / f"{key}.json"), ttl=ttl, warn=warn, **kwargs
    )
