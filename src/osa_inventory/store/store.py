"""The Store front end: what every backend needs and none should repeat.

* reads never take the lock and see a whole version (backends write atomically);
* a write takes the lock (waiting up to ``lock_timeout``), re-reads, computes,
  skips the write when nothing changed, refuses a stale base (another version or
  another lineage) and records who wrote, when and why;
* a plugin with only ``register``/``load``/``write`` gets a local file lock and
  no history.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from osa_inventory.debuglog import debug, warning
from osa_inventory.defaults import DEFAULT_LOCK_TIMEOUT
from osa_inventory.errors import ConfigError, HistoryCorrupt, LockTimeout, StaleWrite, StoreError
from osa_inventory.inventory import check_shape, empty_inventory
from osa_inventory.sealing import Sealing
from osa_inventory.store.backend import (
    UNASSIGNED_LINEAGE,
    CanonicalReader,
    CanonicalWriter,
    Closable,
    CurrentReader,
    FingerprintRecorder,
    HistoryRedactor,
    HostReader,
    LockHolder,
    LockingBackend,
    LockLiveness,
    MinimalBackend,
    Overwriter,
    Retention,
    RetentionReporter,
    TakeoverReporter,
    VersionedBackend,
    VersionInfo,
    WriteMeta,
)
from osa_inventory.store.filelock import FileLock

Capability = TypeVar("Capability")


@dataclass(frozen=True)
class Snapshot:
    """An inventory as read, with the version it came from (None: no history)."""

    inventory: dict[str, Any]
    version: VersionInfo | None
    #: parsed here from its JSON, and no float in it (see :mod:`osa_inventory.floatcount`)
    float_free: bool = False


@dataclass(frozen=True)
class CommitResult:
    changed: bool
    version: VersionInfo | None
    inventory: dict[str, Any]
    #: the canonical bytes written, when the backend took them (CanonicalWriter)
    data: bytes | None = None


def local_lock_dir() -> Path:
    """This user's own directory (mode 0700) for the locks of plugins without their own:
    ``$XDG_RUNTIME_DIR/osa-inventory-locks``, else ``/tmp/osa-inventory-locks-UID``."""
    import tempfile

    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "osa-inventory-locks"
    return Path(tempfile.gettempdir()) / f"osa-inventory-locks-{os.geteuid()}"


def local_lock_path(label: str) -> Path:
    """Where the front end keeps the lock of a plugin without its own."""
    import hashlib

    digest = hashlib.sha256(label.encode()).hexdigest()[:16]
    return local_lock_dir() / f"{digest}.lock"


def recorded(meta: WriteMeta) -> WriteMeta:
    """``meta`` as the history may keep it: secrets in its command and message masked
    (also those copied from another store, e.g. by ``migrate``)."""
    from dataclasses import replace

    from osa_inventory.redact import redact_text

    command, message = redact_text(meta.command), redact_text(meta.message)
    if (command, message) == (meta.command, meta.message):
        return meta
    return replace(meta, command=command, message=message)


class Store:
    """Front end over one backend instance."""

    def __init__(
        self,
        backend: MinimalBackend,
        *,
        label: str = "",
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        warn: Callable[[str], None] | None = None,
        allow_jinja_lookups: bool = False,
        sealing: Sealing | None = None,
    ) -> None:
        self.backend = backend
        self.label = label or getattr(backend, "name", "") or type(backend).__name__
        self.lock_timeout = lock_timeout
        self.warn = warn or (lambda message: warning("%s", message))
        #: store values that make Ansible run lookups (see osa_inventory.lookups)
        self.allow_jinja_lookups = allow_jinja_lookups
        self._versions = backend if isinstance(backend, VersionedBackend) else None
        self.versioned = self._versions is not None
        if isinstance(backend, LockingBackend):
            self.locker: LockingBackend = backend
        else:
            self.locker = FileLock(local_lock_path(self.label), private_dir=True)
        self._holder: LockHolder | None = None
        #: the inventory append_version wrote last (a migration writes a series)
        self._appended: dict[str, Any] | None = None
        #: why the history could not be read, when the inventory was served without it;
        #: said once, as a warning on close, or as the error of a write that needs it
        self._history_problem: HistoryCorrupt | None = None
        #: how inventories are sealed on the way in and opened on the way out
        #: (docs/encryption.md); without keys it still refuses to read a sealed store
        self.sealing = sealing or Sealing(None, "")
        #: (sealed, empty) of the stored head when last read; None: not read yet
        self._stored: tuple[bool, bool] | None = None
        #: rekey is converting the store: writes may change its sealing
        self._converting = False

    def capability(self, protocol: type[Capability]) -> Capability | None:
        """The backend as ``protocol`` (a capability of store/backend.py), or None.

        A sealing store reads whole inventories only: it has no :class:`HostReader`."""
        if protocol is HostReader and self.sealing.on:
            return None
        return self.backend if isinstance(self.backend, protocol) else None

    # -- sealing (docs/encryption.md) --

    def _opened(self, inventory: dict[str, Any], head: bool = False) -> dict[str, Any]:
        """``inventory`` as the backend stored it, opened; ``head``: remember how it was stored."""
        plain, sealed = self.sealing.reveal(inventory, f"store {self.label}")
        if head:
            self._stored = (sealed, plain == empty_inventory())
        return plain

    @property
    def stored_sealed(self) -> bool | None:
        """Whether the head read last was sealed (None: nothing read, or an empty store)."""
        return None if self._stored is None else self._stored[0]

    def _check_sealing(self) -> None:
        """Refuse to write a plain inventory over a sealed one, or a sealed one over a
        plain one: ``osa-inventory rekey`` converts a store, history included."""
        if not self._converting:
            self._refuse_other_sealing()
        self._stored = (self.sealing.on, False)  # what the write leaves

    def _refuse_other_sealing(self) -> None:
        if self._stored is None:
            self._stored = self._peek()
        if self._stored is None:
            return
        sealed, empty = self._stored
        if sealed and not self.sealing.on:
            from osa_inventory.sealing import HOW_TO_CONFIGURE

            raise ConfigError(
                f"store {self.label} is encrypted and no encryption key is configured, so "
                f"nothing is written; {HOW_TO_CONFIGURE}"
            )
        if not sealed and not empty and self.sealing.on:
            raise ConfigError(
                f"store {self.label} holds an unencrypted inventory and an encryption key is "
                "configured, so nothing is written; run 'osa-inventory rekey' to encrypt it "
                "and its history first, or drop the key setting to keep it plain"
            )

    def _peek(self) -> tuple[bool, bool] | None:
        """How the head is stored, for a write that did not read it (a damaged head: None)."""
        try:
            if isinstance(self.backend, CurrentReader):
                _, inventory = self.backend.read_current()
            else:
                inventory = self.backend.load()
        except StoreError:
            return None
        from osa_inventory.sealing import token_of

        try:
            return token_of(inventory, self.label) is not None, inventory == empty_inventory()
        except StoreError:
            return None

    @contextlib.contextmanager
    def converting(self, sealing: Sealing) -> Iterator[None]:
        """Write with ``sealing`` whatever the store holds (``rekey``); the lock is held."""
        saved, self.sealing, self._converting = self.sealing, sealing, True
        try:
            yield
        finally:
            self.sealing, self._converting = saved, False

    # -- reading --

    def read(self) -> Snapshot:
        """The current inventory and its version; never waits for a writer."""
        snapshot = self._read()
        check_shape(snapshot.inventory, f"store {self.label}")
        return snapshot

    def _read(self) -> Snapshot:
        try:
            return self._read_versioned()
        except HistoryCorrupt as exc:  # the inventory itself is intact: serve it, warn
            return self._without_history(exc)

    def _without_history(self, problem: HistoryCorrupt) -> Snapshot:
        """The current inventory read alone (``load``), when only the history is damaged."""
        self._history_problem = problem
        inventory = self._opened(self.backend.load(), head=True)
        return Snapshot(inventory if inventory else empty_inventory(), None)

    def _read_versioned(self) -> Snapshot:
        if isinstance(self.backend, CurrentReader):  # head and content from one read
            version, inventory = self.backend.read_current()
            return Snapshot(self._opened(inventory, head=True), version)
        if self._versions is not None:
            head = self._versions.head()
            if head is None:
                self._stored = None
                return Snapshot(empty_inventory(), None)
            content = self._opened(self._versions.read_version(head.version), head=True)
            return Snapshot(content, head)
        inventory = self._opened(self.backend.load(), head=True)
        return Snapshot(inventory if inventory else empty_inventory(), None)

    def read_canonical(self) -> tuple[VersionInfo | None, bytes | None]:
        """The head version and, when the backend can vouch for them, its canonical bytes.

        The bytes are exactly :func:`osa_inventory.jsonio.dumps_inventory` of the
        stored inventory, so they can be served without parsing; ``None`` means
        the caller must :meth:`read` instead.
        """
        if not isinstance(self.backend, CanonicalReader):
            return None, None
        try:
            version, data = self.backend.read_current_bytes()
        except HistoryCorrupt:  # no version to vouch for the bytes: read() says why
            return None, None
        if data is None:
            return version, None
        plain, sealed = self.sealing.reveal_bytes(data, f"store {self.label}")
        self._stored = (sealed, False)
        return version, plain

    def parse_canonical(self, version: VersionInfo | None, data: bytes) -> Snapshot:
        """The snapshot whose canonical bytes :meth:`read_canonical` returned (no second read)."""
        from osa_inventory.fileio import parse_bytes
        from osa_inventory.floatcount import watch

        with watch() as floats:
            inventory = parse_bytes(data, f"store {self.label}")
        check_shape(inventory, f"store {self.label}")
        return Snapshot(inventory, version, float_free=floats.none_built)

    def head(self) -> VersionInfo | None:
        """The current version (None: an empty store, or one that keeps no versions)."""
        with self._history_error():
            return self._versions.head() if self._versions is not None else None

    def load(self) -> dict[str, Any]:
        return self.read().inventory

    def host(self, name: str) -> dict[str, Any] | None:
        reader = self.capability(HostReader)
        if reader is not None:
            found = reader.load_host(name)
            if found is not None:
                return found
            # an unknown host, or a sealed store (no key configured): the whole read says
        return ((self.load().get("_meta") or {}).get("hostvars") or {}).get(name)

    def history(self) -> list[VersionInfo]:
        if self._versions is None:
            raise StoreError(
                f"backend {self.label} keeps no versions; history needs a backend with versions"
            )
        with self._history_error():
            return self._versions.list_versions()

    def read_version(self, version: int) -> dict[str, Any]:
        if self._versions is None:
            raise StoreError(f"backend {self.label} keeps no versions")
        with self._history_error():
            return self._opened(self._versions.read_version(version))

    @contextlib.contextmanager
    def _history_error(self) -> Iterator[None]:
        """A damaged history raised to the caller is its error: no warning about it on close."""
        try:
            yield
        except HistoryCorrupt:
            self._history_problem = None
            raise

    def retention(self) -> Retention | None:
        """How many versions the backend keeps (None: it does not say)."""
        if isinstance(self.backend, RetentionReporter):
            return self.backend.retention()
        return None

    # -- locking --

    @contextlib.contextmanager
    def locked(self) -> Iterator[LockHolder]:
        """Hold the store lock for the duration of the block."""
        if self._history_problem is not None:  # a writer needs the history: refuse, once
            problem, self._history_problem = self._history_problem, None
            raise problem
        if self._holder is not None:  # re-entrant within one Store
            yield self._holder
            return
        holder = self._acquire()
        self._holder = holder
        try:
            yield holder
        finally:
            self._holder = None
            self.locker.release_lock(holder)

    def _acquire(self) -> LockHolder:
        holder = LockHolder.for_this_process()
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.02
        while True:
            current = self.locker.acquire_lock(holder)
            if current is None:
                stale = (
                    self.locker.stale_holder if isinstance(self.locker, TakeoverReporter) else None
                )
                if stale is not None:
                    self.warn(f"took over the lock left by {stale.describe()}, which died")
                return holder
            if self.is_abandoned(current) and self._break_abandoned(current):
                continue
            if time.monotonic() >= deadline:
                raise self._lock_timeout(current)
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _lock_timeout(self, current: LockHolder) -> LockTimeout:
        waited = (
            f"store {self.label} is locked by {current.describe()}; waited {self.lock_timeout:g} s"
        )
        if not current.lock_id:  # nothing to name it by: a lock that ends with its process
            return LockTimeout(f"{waited}. Retry later: the lock is released when its holder ends")
        gone = (
            "no osa-inventory command is still running"
            if current.is_unknown
            else "that process is gone"
        )
        return LockTimeout(
            f"{waited}. Retry later, or if {gone}, run 'osa-inventory lock break {current.lock_id}'"
        )

    def _break_abandoned(self, holder: LockHolder) -> bool:
        """Break a lock whose holder is gone; False when the locker refuses (e.g. a live flock)."""
        try:
            self.locker.break_lock(holder.lock_id)
        except StoreError:
            return False  # wait for it like any other holder, up to the timeout
        self.warn(f"breaking abandoned lock held by {holder.describe()}")
        return True

    def is_abandoned(self, holder: LockHolder) -> bool:
        """Whether ``holder`` is gone: as its lock's server says, else (a lock that cannot
        tell) a holder on this host whose process is gone. Never by comparing clocks."""
        if isinstance(self.locker, LockLiveness):
            alive = self.locker.holder_alive(holder)
            if alive is not None:
                return not alive
        return holder.gone_from_this_host()

    def lock_status(self) -> LockHolder | None:
        return self.locker.lock_status()

    # -- secrets recorded by older versions --

    def recorded_secrets(self) -> list[str]:
        """What in the history (or the lock's holder record) holds a secret, e.g.
        ``version 3``: command lines recorded before they were masked."""
        from osa_inventory.redact import redact_text

        found = []
        if self._versions is not None:
            for info in self._versions.list_versions():
                if any(redact_text(text) != text for text in (info.command, info.message)):
                    found.append(f"version {info.version}")
        holder = self.locker.lock_status()
        if holder is not None and redact_text(holder.command) != holder.command:
            found.append(f"lock holder {holder.lock_id}")
        return found

    def redact_history(self) -> list[int]:
        """Mask the secrets the history recorded, in place (under the lock); the versions
        changed. See :class:`~osa_inventory.store.backend.HistoryRedactor`."""
        from osa_inventory.redact import redact_text

        if self._versions is None:
            return []
        redactor = self.capability(HistoryRedactor)
        if redactor is None:
            raise StoreError(
                f"backend {self.label} cannot rewrite its history (it lacks redact_history); "
                "ask its maintainer to add it (docs/plugins.md)"
            )
        with self.locked():
            return redactor.redact_history(redact_text)

    def break_lock(self, lock_id: str) -> None:
        self.locker.break_lock(lock_id)

    # -- writing --

    def commit(
        self,
        inventory: dict[str, Any],
        *,
        base: Snapshot,
        meta: WriteMeta,
        force: bool = False,
    ) -> CommitResult:
        """Write ``inventory`` computed from ``base``; the lock must be held."""
        if self._holder is None:
            raise StoreError("internal error: commit without holding the store lock")
        self._before_write(base)
        if inventory == base.inventory:
            return CommitResult(False, base.version, base.inventory)
        data = self._serialised(inventory)
        self._check_lookups(inventory, base.inventory, data)
        self._check_sealing()
        if self._versions is None:
            self.backend.write(self.sealing.cover(inventory))
            return self._written(CommitResult(True, None, inventory))
        current = self._versions.head()
        self._check_base(base.version, current, force)
        return self._write_version(inventory, meta, current, data)

    def write_if_current(
        self,
        inventory: dict[str, Any],
        *,
        base: Snapshot,
        meta: WriteMeta,
        float_free: bool = False,
    ) -> CommitResult:
        """Write ``inventory`` as the version after ``base``; the lock must be held.

        The backend's compare-and-swap is the only check: StaleWrite when the
        store moved since ``base`` was read (the caller then reads it again).
        A backend without versions cannot tell, so it gets :meth:`commit`.
        ``float_free``: the caller knows ``inventory`` holds no float and only
        JSON's types (see :func:`osa_inventory.jsonio.dumps_inventory_bytes`).
        """
        if self._holder is None:
            raise StoreError("internal error: write without holding the store lock")
        if self._versions is None:
            return self.commit(inventory, base=base, meta=meta)
        self._before_write(base)
        if inventory == base.inventory:
            return CommitResult(False, base.version, base.inventory)
        data = self._serialised(inventory, float_free)
        self._check_lookups(inventory, base.inventory, data)
        self._check_sealing()
        return self._write_version(inventory, meta, base.version, data)

    def _serialised(self, inventory: dict[str, Any], float_free: bool = False) -> bytes | None:
        """The canonical bytes, serialised once here, when the backend stores them."""
        if self._versions is None or not isinstance(self.backend, CanonicalWriter):
            return None
        from osa_inventory.jsonio import dumps_inventory_bytes

        return dumps_inventory_bytes(inventory, float_free=float_free)

    def _write_version(
        self,
        inventory: dict[str, Any],
        meta: WriteMeta,
        expected: VersionInfo | None,
        data: bytes | None = None,
    ) -> CommitResult:
        """Write a new version; ``data``: the inventory already serialised, if it was."""
        assert self._versions is not None
        meta = recorded(meta)
        if isinstance(self.backend, CanonicalWriter):  # serialised once
            if data is None:
                data = self._serialised(inventory)
                assert data is not None
            stored = self.sealing.cover_bytes(data)
            version = self.backend.write_canonical(stored, meta, expected)
            return self._written(CommitResult(True, version, inventory, data))
        version = self._versions.write_version(self.sealing.cover(inventory), meta, expected)
        return self._written(CommitResult(True, version, inventory))

    def _before_write(self, base: Snapshot) -> None:
        """Hook: refuse to write from ``base`` (the caching store refuses its local copy)."""

    def _check_lookups(
        self, inventory: dict[str, Any], base: dict[str, Any] | None, data: bytes | None = None
    ) -> None:
        """Refuse new values that Ansible would execute, unless allowed (see lookups.py).

        ``data``: ``inventory`` serialised; without ``{{`` or ``{%`` in it (JSON escapes
        neither brace nor percent sign) no value can hold Jinja, and nothing is scanned.
        """
        if self.allow_jinja_lookups:
            return
        from osa_inventory.lookups import describe, executable_values, marked

        if data is not None and not marked(data):
            return
        found = executable_values(inventory, base)
        if found:
            raise ConfigError(
                f"store {self.label}: refusing to store a value that Ansible would execute: "
                f"{describe(found)}; remove it from the config, or if everyone who can write "
                "the store is trusted set allow_jinja_lookups = true in [inventory] of osa.ini "
                "(docs/security.md)"
            )

    def _written(self, result: CommitResult) -> CommitResult:
        """Hook: a new version was written (the caching store keeps a copy)."""
        return result

    def append_version(self, inventory: dict[str, Any], meta: WriteMeta) -> VersionInfo | None:
        """Write ``inventory`` on top of the current head as it is (migrate); lock held.

        Unlike :meth:`commit`, an unchanged inventory is written too, as a new
        version. Returns None for a backend that keeps no versions.
        """
        if self._holder is None:
            raise StoreError("internal error: write without holding the store lock")
        self._check_lookups(inventory, self._appended)  # a series: scan what changed
        self._check_sealing()
        self._appended = inventory
        stored = self.sealing.cover(inventory)
        if self._versions is None:
            self.backend.write(stored)
            return None
        return self._versions.write_version(stored, recorded(meta), self._versions.head())

    def overwrite(self, inventory: dict[str, Any], meta: WriteMeta) -> CommitResult:
        """Write ``inventory`` as a new version without reading the current one; lock held.

        For recovery (``rollback``, ``import``) when the current version is damaged
        and cannot be read: no comparison, no stale-write check.
        """
        if self._holder is None:
            raise StoreError("internal error: write without holding the store lock")
        self._check_lookups(inventory, None)  # the current version is unreadable: scan it all
        self._check_sealing()
        meta = recorded(meta)
        stored = self.sealing.cover(inventory)
        if isinstance(self.backend, Overwriter):
            version: VersionInfo | None = self.backend.overwrite(stored, meta)
        elif self._versions is not None:
            version = self._versions.write_version(stored, meta, self._versions.head())
        else:
            self.backend.write(stored)
            version = None
        return self._written(CommitResult(True, version, inventory))

    def _check_base(
        self, base: VersionInfo | None, current: VersionInfo | None, force: bool
    ) -> None:
        if base is None or current is None:
            if base is not None and current is None and not force:
                raise StaleWrite(
                    f"store {self.label} was emptied since it was read (version {base.version}); "
                    "rerun the command, or use --force to write anyway"
                )
            return
        assigned = UNASSIGNED_LINEAGE not in (base.lineage, current.lineage)
        if assigned and base.lineage != current.lineage and not force:
            raise StaleWrite(
                f"store {self.label} belongs to another lineage ({current.lineage[:12]}, "
                f"expected {base.lineage[:12]}): it was replaced by another deployment's store; "
                "check the backend settings, or use --force to overwrite it"
            )
        moved = base.version != current.version or (
            base.extra.get("digest") != current.extra.get("digest")
        )
        if moved and not force:
            raise StaleWrite(
                f"store {self.label} moved from version {base.version} to {current.version} "
                "since it was read; rerun the command to work from the new version"
            )

    def remember_fingerprint(
        self, snapshot: Snapshot, fingerprint: str, warnings: list[str] | None = None
    ) -> bool:
        """Record that ``snapshot``'s version is what the inputs ``fingerprint`` give.

        Used after a run that generated exactly the stored inventory, so that the
        next run can skip generation. Never waits: if a writer holds the lock,
        nothing is recorded. Returns whether it was recorded.
        """
        recorder = self.backend
        if not isinstance(recorder, FingerprintRecorder) or self._versions is None:
            return False
        if snapshot.version is None or not fingerprint:
            return False
        holder = LockHolder.for_this_process()
        try:  # best effort: a read-only role (or a busy store) just skips it
            if self.locker.acquire_lock(holder) is not None:
                return False
        except StoreError:
            return False
        try:
            current = self._versions.head()
            if current is None or current.version != snapshot.version.version:
                return False
            if current.extra.get("digest") != snapshot.version.extra.get("digest"):
                return False
            recorder.set_fingerprint(current, fingerprint, list(warnings or ()))
            return True
        except StoreError as exc:
            debug("could not record the input fingerprint: %s", exc)
            return False
        finally:
            with contextlib.suppress(StoreError):
                self.locker.release_lock(holder)

    def update(
        self,
        change: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        message: str = "",
        command: str | None = None,
        force: bool = False,
        fingerprint: str = "",
        warnings: list[str] | None = None,
    ) -> CommitResult:
        """Lock, read, apply ``change`` to the stored inventory, write if it changed.

        ``change`` must return a new inventory and leave its argument untouched
        (the generator does; use :func:`osa_inventory.inventory.copy_inventory` to edit a
        copy).
        """
        with self.locked():
            base = self.read()
            new = change(base.inventory)
            meta = WriteMeta.for_this_process(
                message=message,
                command=command,
                fingerprint=fingerprint,
                warnings=tuple(warnings or ()),
            )
            return self.commit(new, base=base, meta=meta, force=force)

    def close(self) -> None:
        if self._history_problem is not None:  # served without it: say so, once
            problem, self._history_problem = self._history_problem, None
            self.warn(f"{problem}; until then the inventory is served as stored, never written")
        if isinstance(self.backend, Closable):
            self.backend.close()
