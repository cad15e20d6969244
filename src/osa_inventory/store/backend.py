"""The storage plugin contract.

A backend is any class with three methods (:class:`MinimalBackend`):

* ``register(options: dict) -> None`` takes the options given for it (paths,
  URLs, credentials) and checks them;
* ``load() -> dict`` returns the stored inventory in OSA's format, or an empty
  skeleton when nothing is stored;
* ``write(inventory: dict) -> None`` stores it.

Everything else is an optional capability, declared here as a Protocol: a
backend has it when it has the methods (the front end checks with
``isinstance``), and :func:`capabilities` lists what a backend has. The Store
front end (:mod:`osa_inventory.store.store`) uses a capability when the backend
has it and supplies a fallback otherwise; docs/plugins.md says what each one
must do, and :mod:`osa_inventory.testing` checks it:

=========================  =====================================================
capability                 methods
=========================  =====================================================
:class:`LockingBackend`    ``acquire_lock``/``release_lock``/``lock_status``/
                           ``break_lock``; without it: a local lock file
:class:`TakeoverReporter`  ``stale_holder``: the dead holder a lock was taken from
:class:`LockLiveness`      ``holder_alive(holder)``: the server says whether a
                           holder is alive (never judged by clocks)
:class:`VersionedBackend`  ``head``/``list_versions``/``read_version``/
                           ``write_version`` (compare-and-swap); without it: no
                           history
:class:`Overwriter`        ``overwrite``: a version on top of a damaged head
:class:`CurrentReader`     ``read_current()``: head and content from one read
:class:`CanonicalReader`   ``read_current_bytes()``: the head's canonical bytes
:class:`CanonicalWriter`   ``write_canonical(data, ...)``: a version given those bytes
:class:`FingerprintRecorder`  ``set_fingerprint``: remember the generator's inputs
:class:`HistoryRedactor`   ``redact_history(redact)``: rewrite recorded command
                           lines in place (``history redact``)
:class:`ContentRewriter`   ``rewrite_contents(contents)``: replace every retained
                           version's content in place (``rekey``)
:class:`HostReader`        ``load_host(name)``: one host's variables, for ``--host``
:class:`RetentionReporter` ``retention()``: how many versions are kept
:class:`SchemaAdmin`       ``upgrade_schema``/``schema_status`` (``osa-inventory db``)
:class:`DoctorChecks`      ``doctor_checks()``: rows of its own for ``osa-inventory doctor``
:class:`Describable`       ``describe()``: where the store is, for messages
:class:`Closable`          ``close()``: release connections
:class:`URLBackend`        class-level ``url_schemes``/``options_from_url``
:class:`DefaultOptions`    class-level ``default_options(config_dir, name)``
=========================  =====================================================

:class:`Backend` is a convenience base class: it validates options against a
typed schema (:class:`Option`). Backends raise only :mod:`osa_inventory.errors`
exceptions.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from osa_inventory.errors import ConfigError
from osa_inventory.inventory import empty_inventory

__all__ = [
    "CAPABILITIES",
    "Backend",
    "CanonicalReader",
    "CanonicalWriter",
    "Closable",
    "ContentRewriter",
    "CurrentReader",
    "DefaultOptions",
    "Describable",
    "DoctorChecks",
    "FingerprintRecorder",
    "HistoryRedactor",
    "HostReader",
    "LockHolder",
    "LockLiveness",
    "LockingBackend",
    "MinimalBackend",
    "Option",
    "Overwriter",
    "Retention",
    "RetentionReporter",
    "SchemaAdmin",
    "TakeoverReporter",
    "URLBackend",
    "VersionInfo",
    "VersionedBackend",
    "WriteMeta",
    "capabilities",
    "empty_inventory",
    "new_lineage",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One typed backend option. ``secret`` values are masked when shown."""

    type: type = str
    default: Any = None
    help: str = ""
    secret: bool = False
    required: bool = False

    def convert(self, backend: str, name: str, value: Any) -> Any:
        if value is None:
            return None
        if self.type is bool and isinstance(value, bool):
            return value
        if self.type is not bool and isinstance(value, self.type):
            return value
        text = str(value).strip()
        try:
            if self.type is not bool:
                return self.type(text)
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        except ValueError as exc:
            raise ConfigError(
                f"backend {backend}: option {name}={value!r} is not a valid "
                f"{self.type.__name__}; fix the value"
            ) from exc


class _Record:
    """JSON round trip for the records below (unknown keys are ignored on the way in)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        known = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return cls(**{k: data[k] for k in known if k in data})


@dataclass(frozen=True)
class LockHolder(_Record):
    """Who holds (or wants) the store lock."""

    lock_id: str
    user: str
    host: str
    pid: int
    since: float
    command: str = ""
    expires: float | None = None

    @classmethod
    def for_this_process(cls, ttl: float | None = None) -> LockHolder:
        """This process as a holder, its command line with secrets masked.

        ``expires`` (with ``ttl``) is only shown; whether a holder is alive is
        never judged by comparing it with another host's clock (see
        :class:`LockLiveness`).
        """
        from osa_inventory.redact import redact_argv

        now = time.time()
        words = [os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv)]
        return cls(
            lock_id=os.urandom(6).hex(),
            user=current_user(),
            host=os.uname().nodename,
            pid=os.getpid(),
            since=now,
            command=" ".join(redact_argv(words)),
            expires=now + ttl if ttl else None,
        )

    def gone_from_this_host(self) -> bool:
        """Whether this holder ran on this host and its process no longer exists."""
        if self.host != os.uname().nodename or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's live process
            return False
        return False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The holder a lock record names; TypeError when it is not a whole, well-typed one."""
        holder = super().from_dict(data)
        numbers = (holder.pid, holder.since, 0.0 if holder.expires is None else holder.expires)
        texts = (holder.lock_id, holder.user, holder.host, holder.command)
        if not all(isinstance(t, str) for t in texts) or not all(
            isinstance(n, int | float) and not isinstance(n, bool) for n in numbers
        ):
            raise TypeError(f"not a lock holder record: {data!r:.80}")
        return holder

    @classmethod
    def unknown(cls, lock_id: str = "", expires: float | None = None) -> LockHolder:
        """A holder whose record is missing or unreadable: only its lock id may be known."""
        return cls(lock_id=lock_id, user="", host="", pid=0, since=0.0, expires=expires)

    @property
    def is_unknown(self) -> bool:
        return not (self.user or self.host or self.pid)

    def describe(self) -> str:
        from osa_inventory.timefmt import local_time

        if self.is_unknown:
            known = f" (lock id {self.lock_id})" if self.lock_id else ""
            return f"an unknown holder{known}: its lock record is missing or unreadable"
        when = local_time(self.since)
        return f"{self.user}@{self.host} pid {self.pid} since {when} (lock id {self.lock_id})"


@dataclass(frozen=True)
class VersionInfo(_Record):
    """One entry of a store's history."""

    version: int
    lineage: str
    time: float
    user: str = ""
    host: str = ""
    command: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """The input fingerprint recorded with this version ('' when none)."""
        return str(self.extra.get("fingerprint", ""))

    @property
    def warnings(self) -> list[str]:
        """The generator's warnings for the inputs of :attr:`fingerprint`."""
        return [str(w) for w in self.extra.get("warnings", ())]


@dataclass(frozen=True)
class WriteMeta:
    """What the front end records with a new version."""

    user: str
    host: str
    command: str
    message: str = ""
    time: float = field(default_factory=time.time)
    #: digest of the generator's inputs (config, conf.d, env.d) this version came from
    fingerprint: str = ""
    #: the generator's warnings for those inputs, repeated when the version is served as is
    warnings: tuple[str, ...] = ()
    #: the number an empty store gives this, its first version (``migrate`` keeps the
    #: source's numbers); None: 1. A store that has versions numbers after its head.
    first_version: int | None = None

    @classmethod
    def for_this_process(
        cls,
        message: str = "",
        command: str | None = None,
        fingerprint: str = "",
        warnings: tuple[str, ...] = (),
    ) -> WriteMeta:
        from osa_inventory.redact import redact_argv, redact_text

        recorded = " ".join(redact_argv(sys.argv)) if command is None else redact_text(command)
        return cls(
            user=current_user(),
            host=os.uname().nodename,
            command=recorded,
            message=redact_text(message),
            fingerprint=fingerprint,
            warnings=tuple(warnings),
        )

    def new_version(self, version: int, lineage: str) -> VersionInfo:
        """The history entry for this write, as version ``version`` of ``lineage``."""
        extra = fingerprint_extra(self.fingerprint, self.warnings)
        return VersionInfo(
            version=version,
            lineage=lineage,
            time=self.time,
            user=self.user,
            host=self.host,
            command=self.command,
            message=self.message,
            extra=extra,
        )


def fingerprint_extra(fingerprint: str, warnings: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``VersionInfo.extra`` entries for an input fingerprint and its warnings."""
    extra: dict[str, Any] = {}
    if fingerprint:
        extra["fingerprint"] = fingerprint
        if warnings:
            extra["warnings"] = list(warnings)
    return extra


def current_user() -> str:
    """Who runs this process, as ``getpass.getuser()`` says (without importing getpass,
    and termios with it): $LOGNAME, $USER, $LNAME, $USERNAME, else the password entry."""
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        user = os.environ.get(variable)
        if user:
            return user
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, OSError):
        return str(os.getuid())


#: Lineage of a store that has content but no history yet (an adopted OSA file).
UNASSIGNED_LINEAGE = "unversioned"


def new_lineage() -> str:
    """A lineage id, fixed for the life of a store."""
    return os.urandom(16).hex()


@dataclass(frozen=True)
class Retention:
    """How many versions a backend keeps, and the option that sets it."""

    option: str  # the backend option that sets it, e.g. "retention"
    value: int  # its value
    versions: int  # versions kept, current one included (0: all)


@runtime_checkable
class MinimalBackend(Protocol):
    """The contract every plugin meets."""

    def register(self, options: dict[str, Any]) -> None: ...

    def load(self) -> dict[str, Any]: ...

    def write(self, inventory: dict[str, Any]) -> None: ...


@runtime_checkable
class LockingBackend(Protocol):
    """A backend with its own exclusive lock (shared by every deploy host)."""

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        """Take the lock for ``holder`` without waiting; None on success, else the holder."""

    def release_lock(self, holder: LockHolder) -> None: ...

    def lock_status(self) -> LockHolder | None: ...

    def break_lock(self, lock_id: str) -> None:
        """Break the lock if ``lock_id`` holds it, else raise StoreError."""


@runtime_checkable
class LockLiveness(Protocol):
    """A lock that knows from its server whether the holder it reports is alive.

    A session holding an advisory lock or ``GET_LOCK``, an etcd lease kept
    alive, a ``flock`` held by a process: the server (or kernel) frees such a
    lock when its holder dies, so a holder it reports is alive. The front end
    never breaks a live holder and never compares its own clock with the
    holder's: it waits, up to its lock timeout.
    """

    def holder_alive(self, holder: LockHolder) -> bool | None:
        """True: ``holder`` (just returned by ``acquire_lock``) is alive; False: it is
        gone and its lock may be broken; None: the lock cannot tell (then only a
        holder on this host whose process is gone counts as gone)."""


@runtime_checkable
class TakeoverReporter(Protocol):
    """A lock that knows when it was taken from a holder that died (e.g. a freed flock)."""

    @property
    def stale_holder(self) -> LockHolder | None:
        """After a successful ``acquire_lock``: the dead holder it replaced, else None."""


@runtime_checkable
class VersionedBackend(Protocol):
    """A backend that keeps versions and history."""

    def head(self) -> VersionInfo | None:
        """The current version, or None for an empty store."""

    def list_versions(self) -> list[VersionInfo]:
        """The retained versions, oldest first."""

    def read_version(self, version: int) -> dict[str, Any]:
        """The content of a retained version; StoreError when it is not retained."""

    def write_version(
        self, inventory: dict[str, Any], meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        """Store a new version if the head is still ``expected``, else raise StaleWrite."""


@runtime_checkable
class HistoryRedactor(Protocol):
    """Rewrites what its history recorded about each version, in place
    (``osa-inventory history redact``): for stores written by versions that
    recorded secrets in command lines."""

    def redact_history(self, redact: Callable[[str], str]) -> list[int]:
        """Pass the ``command`` and ``message`` of every retained version (and of a lock
        holder left behind) through ``redact``; store what changed, leaving contents,
        numbers and times as they are. The lock is held. Returns the versions changed."""


@runtime_checkable
class ContentRewriter(Protocol):
    """Replaces the content of every retained version in place (``osa-inventory rekey``
    seals, re-seals or opens a store's whole history, docs/encryption.md)."""

    def rewrite_contents(self, contents: list[tuple[int, dict[str, Any]]]) -> None:
        """Store ``contents`` (version number, new content), one per retained version
        that can be read (the others raise :class:`~osa_inventory.errors.VersionUnreadable`),
        oldest first, as the content of those versions: numbers, times, who and why stay,
        and so does the lineage. The lock is held; a crash must leave the old contents or
        the new ones, never a mix that reads as a version."""


@runtime_checkable
class Overwriter(Protocol):
    """Writes a new version on top of a head that may be damaged (recovery)."""

    def overwrite(self, inventory: dict[str, Any], meta: WriteMeta) -> VersionInfo:
        """Store ``inventory`` as the next version whatever the head holds, reading none
        of the current version's content (the lock is held); ``rollback`` and ``import``
        use it when the current version cannot be read."""


@runtime_checkable
class CurrentReader(Protocol):
    """Head and content from one consistent read (no writer can slip in between)."""

    def read_current(self) -> tuple[VersionInfo | None, dict[str, Any]]: ...


@runtime_checkable
class CanonicalReader(Protocol):
    """The head's stored bytes, when they are exactly the canonical serialisation."""

    def read_current_bytes(self) -> tuple[VersionInfo | None, bytes | None]:
        """(head, bytes): the bytes equal ``dumps_inventory`` of the head's content
        (ASCII), so they can be served without parsing; None when the backend cannot
        vouch for that (then the caller reads)."""


@runtime_checkable
class CanonicalWriter(Protocol):
    """Stores a version given its canonical bytes, so the caller serialises only once."""

    def write_canonical(
        self, data: bytes, meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        """``write_version`` of the inventory whose ``dumps_inventory`` (ASCII) is ``data``."""


@runtime_checkable
class FingerprintRecorder(Protocol):
    """Remembers which generator inputs gave the head version (the fast ``--list``)."""

    def set_fingerprint(self, version: VersionInfo, fingerprint: str, warnings: list[str]) -> None:
        """Attach ``fingerprint`` and ``warnings`` to ``version`` if it is still the head
        (the lock is held); creates no version and leaves the content as it is."""


@runtime_checkable
class HostReader(Protocol):
    """Reads one host's variables without reading the whole inventory."""

    def load_host(self, name: str) -> dict[str, Any] | None:
        """The host's variables in the current version, or None for an unknown host."""


@runtime_checkable
class RetentionReporter(Protocol):
    """Says how many versions it keeps (``osa-inventory retention``, migrate)."""

    def retention(self) -> Retention | None: ...


@runtime_checkable
class SchemaAdmin(Protocol):
    """A backend with a database schema (``osa-inventory db upgrade|current``)."""

    def upgrade_schema(self) -> tuple[str | None, str]:
        """Create or upgrade the schema; the revisions (before, after)."""

    def schema_status(self) -> Any:
        """An object with ``current``, ``head`` and ``state`` (text)."""


@runtime_checkable
class DoctorChecks(Protocol):
    """Checks of its own that ``osa-inventory doctor`` shows after the common ones."""

    def doctor_checks(self) -> list[tuple[str, str, str]]:
        """(check, status, detail) rows; status is ok, warn, FAIL, info or skip."""


@runtime_checkable
class Describable(Protocol):
    """Says where the store is, for messages, the lock's label and the history."""

    def describe(self) -> str:
        """A short description without secrets, e.g. ``file:/etc/.../inventory.json``."""


@runtime_checkable
class Closable(Protocol):
    """Holds connections to release when the command is done."""

    def close(self) -> None: ...


@runtime_checkable
class URLBackend(Protocol):
    """A backend class that can be named by a URL (``migrate --from/--to``)."""

    url_schemes: ClassVar[tuple[str, ...]]

    @classmethod
    def options_from_url(cls, url: str) -> dict[str, str]:
        """The options that reach the store ``url`` names; ConfigError if malformed."""


@runtime_checkable
class DefaultOptions(Protocol):
    """A backend class with defaults that depend on the config dir or inventory name."""

    @classmethod
    def default_options(cls, config_dir: str | None, name: str) -> dict[str, str]:
        """Options to use when not given, e.g. the file backend's ``path``."""


#: capability name -> Protocol, as :func:`capabilities` reports them
CAPABILITIES: dict[str, type] = {
    "locking": LockingBackend,
    "lock-takeover-report": TakeoverReporter,
    "lock-liveness": LockLiveness,
    "versions": VersionedBackend,
    "overwrite": Overwriter,
    "snapshot-read": CurrentReader,
    "canonical-bytes": CanonicalReader,
    "canonical-writes": CanonicalWriter,
    "fingerprints": FingerprintRecorder,
    "history-redaction": HistoryRedactor,
    "content-rewrite": ContentRewriter,
    "host-reads": HostReader,
    "retention": RetentionReporter,
    "schema": SchemaAdmin,
    "doctor-checks": DoctorChecks,
    "describe": Describable,
    "close": Closable,
    "urls": URLBackend,
    "default-options": DefaultOptions,
}


def capabilities(backend: object) -> frozenset[str]:
    """The names of the :data:`CAPABILITIES` a backend (instance or class) has."""
    return frozenset(
        name for name, protocol in CAPABILITIES.items() if isinstance(backend, protocol)
    )


class Backend:
    """Convenience base class: option schema, validation and defaults.

    Subclasses declare ``options`` and implement ``load`` and ``write`` (and any
    capability methods). ``register`` fills ``self.options`` with converted
    values and calls :meth:`configure`.
    """

    name: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Option]] = {}
    #: pip extra that installs this backend's dependencies, e.g. "postgresql"
    extra: ClassVar[str | None] = None
    #: modules the backend imports when used; missing ones make it unavailable
    requires: ClassVar[tuple[str, ...]] = ()
    #: several processes (or deploy hosts) see the same store
    shared_between_processes: ClassVar[bool] = True
    #: reached over the network: the front end keeps a local copy for outages
    network: ClassVar[bool] = False
    #: options a read-only consumer (the Ansible plugin) uses unless given
    reader_options: ClassVar[Mapping[str, Any]] = {}
    #: ``module:function`` reading the head version without this class's dependencies,
    #: for the light ``--list`` (see :mod:`osa_inventory.store.light`); None: none
    light_head: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}

    def register(self, options: dict[str, Any]) -> None:
        self.config = self.checked_options(options)
        self.configure()

    @classmethod
    def checked_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked against the schema and converted, defaults filled in."""
        label = cls.name or cls.__name__
        unknown = sorted(set(options) - set(cls.options))
        if unknown:
            known = ", ".join(sorted(cls.options)) or "none"
            raise ConfigError(
                f"backend {label}: unknown option {', '.join(unknown)}; known options: {known}"
            )
        config: dict[str, Any] = {}
        for key, option in cls.options.items():
            value = options.get(key, option.default)
            if option.required and isinstance(value, str) and not value.strip():
                raise ConfigError(
                    f"backend {label}: option {key} is empty ({option.help}); give it a value"
                )
            if value is None and option.required:
                raise ConfigError(
                    f"backend {label}: option {key} is required ({option.help}); set it in "
                    f"[backend:{label}] of osa.ini or with --backend-option {key}=..."
                )
            config[key] = option.convert(label, key, value)
        return config

    def configure(self) -> None:
        """Hook run after the options are validated."""

    def load(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, inventory: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """A short human description of where the store is (no secrets)."""
        return self.name

    def close(self) -> None:
        """Release connections."""
