"""The run use case: bring the stored inventory up to date with the inputs, and return it.

This is what ``osa-inventory --list`` does on every playbook run, as a library
function that the command, the tests and any script call alike::

    store = open_store(resolve_settings(config_dir))
    try:
        result = refresh(store, Inputs(config_dir, environment_dir), message="add compute5")
    finally:
        store.close()

0. **Light path** (``osa-inventory --list`` only, before a store is opened:
   :mod:`osa_inventory.store.light`): for a backend with a light head reader,
   one head query and the verified local copy of that version answer, without
   loading the backend's libraries.
1. **Fast path.** When the inputs' fingerprint equals the one recorded with the
   stored head, the stored version is the answer: served as its canonical bytes
   when the backend vouches for them, without reading YAML or generating.
2. **Read** the stored inventory once (the canonical bytes already read are
   parsed, not read again).
3. **Generate** from the inputs and the stored inventory (the generator keeps
   names and addresses of what exists).
4. **Unchanged:** remember the fingerprint (best effort, never waits), so that
   the next run takes the fast path.
5. **Changed: write under the lock.** For a backend with versions the
   compare-and-swap on the version read in step 2 is the only staleness check;
   if another writer got there first, the store is read again under the lock
   and the inventory generated again from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from osa_inventory.debuglog import debug
from osa_inventory.errors import ConfigError, StaleWrite
from osa_inventory.inventory import empty_inventory, hostvars_of
from osa_inventory.store.backend import HostReader, VersionInfo, WriteMeta

if TYPE_CHECKING:
    from osa_inventory.generate import GenerationResult
    from osa_inventory.progress import ProgressCallback
    from osa_inventory.sources import UserConfig
    from osa_inventory.store.store import CommitResult, Snapshot, Store

__all__ = [
    "Inputs",
    "LoadedInputs",
    "Refreshed",
    "generate_inventory",
    "host_vars",
    "preview",
    "refresh",
]

Warn = Callable[[str], None]
GENERATING, WRITING = "generating the inventory", "writing the store"


@dataclass(frozen=True)
class Inputs:
    """Where the generator's inputs are: OSA's config dir and the dir holding the base env.d."""

    config_dir: str | os.PathLike[str]
    environment_dir: str | os.PathLike[str] | None

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over every input file ('' when the user config is unreadable)."""
        from osa_inventory.fingerprint import input_fingerprint

        return input_fingerprint(self.config_dir, self.environment_dir)

    def load(self, *, private: bool = False) -> LoadedInputs:
        """Read and merge the YAML: user config and conf.d, base and config env.d.

        A set of files unchanged since an earlier run is not parsed again: its
        parse comes from the cache (:mod:`osa_inventory.parsecache`). ``private``
        (the store is encrypted): the user config and conf.d, which name the
        deployment's hosts and addresses, are not cached; env.d, the skeleton, is.
        """
        from osa_inventory.floatcount import watch
        from osa_inventory.parsecache import ParsedCache
        from osa_inventory.sources import load_environment, load_user_config

        cache = ParsedCache()
        if private:
            cache.forget("file")  # parsed before the store was encrypted
        with watch() as floats:
            user_config = load_user_config(self.config_dir, None if private else cache)
            environment = load_environment(self.environment_dir, self.config_dir, cache)
        return LoadedInputs(user_config, environment, float_free=floats.none_built)


@dataclass(frozen=True)
class LoadedInputs:
    """The inputs as the generator sees them."""

    user_config: UserConfig
    environment: dict[str, Any]
    #: parsed here and no float among them (see :mod:`osa_inventory.floatcount`)
    float_free: bool = False

    def generate(
        self, previous: Mapping[str, Any] | None = None, *, previous_checked: bool = False
    ) -> GenerationResult:
        """The inventory from these inputs and ``previous``; ``previous_checked``: it is a
        store's snapshot, whose shape the store checked when reading it."""
        from osa_inventory.generate import generate

        return generate(
            self.user_config, self.environment, previous, previous_checked=previous_checked
        )


@dataclass(frozen=True)
class Refreshed:
    """The current inventory after :func:`refresh`, and how it was obtained."""

    version: VersionInfo | None  # None: the store keeps no versions
    #: a new version was written
    changed: bool
    #: the generator ran (False: the inputs were unchanged since ``version``)
    generated: bool
    warnings: tuple[str, ...] = ()
    #: the canonical serialisation, when it is at hand (served or written as bytes)
    data: bytes | None = None
    parsed: dict[str, Any] | None = field(default=None, repr=False)
    #: :attr:`parsed` holds no float (see :mod:`osa_inventory.floatcount`)
    float_free: bool = False

    @cached_property
    def inventory(self) -> dict[str, Any]:
        """The inventory (parsed from :attr:`data` when only the bytes were served)."""
        if self.parsed is not None:
            return self.parsed
        from osa_inventory.fileio import parse_bytes

        assert self.data is not None
        return parse_bytes(self.data, "refreshed inventory")

    def serialised(self) -> bytes:
        """The inventory in OSA's layout: what ``--list`` prints and the file backend stores."""
        if self.data is not None:
            return self.data
        from osa_inventory.jsonio import dumps_inventory_bytes

        return dumps_inventory_bytes(self.inventory, float_free=self.float_free)

    def text(self) -> str:
        """:meth:`serialised` as text."""
        return self.serialised().decode("ascii")


def refresh(
    store: Store,
    inputs: Inputs,
    *,
    message: str = "",
    command: str | None = None,
    regenerate: bool = False,
    warn: Warn | None = None,
    allow_foreign_store: bool = False,
    progress: ProgressCallback | None = None,
) -> Refreshed:
    """Generate from ``inputs`` if they changed since the stored version, write what changed.

    ``message`` and ``command`` go into the history (``command`` defaults to
    this process's command line). ``regenerate`` skips the fast path. The
    generator's warnings go to ``warn`` (default: the store's) as they come,
    and are returned too. A store holding another deployment (none of its
    physical hosts is in the config) is not written unless
    ``allow_foreign_store``. ``progress`` hears of generating and writing (never
    called on the fast path). Raises the errors of :mod:`osa_inventory.errors`.
    """
    warn = warn or store.warn
    fingerprint = "" if regenerate else inputs.fingerprint
    version, data = store.read_canonical()
    served = version is not None and bool(fingerprint) and version.fingerprint == fingerprint
    if served and version is not None and data is not None:
        debug("inputs unchanged since version %s: served its bytes", version.version)
        return _served(version, warn, data=data)
    snapshot = store.parse_canonical(version, data) if data is not None else store.read()
    stored = snapshot.version.fingerprint if snapshot.version else ""
    if fingerprint and stored == fingerprint and snapshot.version is not None:
        debug("inputs unchanged since version %s: served as stored", snapshot.version.version)
        return _served(snapshot.version, warn, parsed=snapshot.inventory)
    from osa_inventory.progress import NO_PROGRESS, reporting

    with reporting(progress or NO_PROGRESS) as shown, _collector_paused():
        return _generate_and_write(
            store,
            inputs,
            _Read(snapshot, data),
            fingerprint,
            message,
            command,
            warn,
            shown,
            allow_foreign_store,
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while generating (it is restored after).

    Parsing and generating allocate millions of objects that reference counting
    frees as they go; none form cycles worth collecting, yet the collector would
    walk the growing heap again and again, a third of the run at 10,000 computes.
    """
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class _Read:
    """The stored inventory as read, and its canonical bytes when the backend vouched for them."""

    snapshot: Snapshot
    data: bytes | None


def _generate_and_write(
    store: Store,
    inputs: Inputs,
    read: _Read,
    fingerprint: str,
    message: str,
    command: str | None,
    warn: Warn,
    progress: ProgressCallback,
    allow_foreign_store: bool,
) -> Refreshed:
    snapshot = read.snapshot
    progress(GENERATING, 0)
    loaded = inputs.load(private=store.sealing.on)
    if not allow_foreign_store:
        check_same_deployment(snapshot.inventory, loaded.user_config, store.label)
    result = loaded.generate(snapshot.inventory, previous_checked=True)
    hosts = len(hostvars_of(result.inventory))
    progress(GENERATING, hosts, hosts, "hosts")
    for line in result.warnings:
        warn(line)
    if result.inventory == snapshot.inventory:
        if fingerprint:
            store.remember_fingerprint(snapshot, fingerprint, result.warnings)
        return Refreshed(  # the stored bytes, when at hand, are the answer as they are
            snapshot.version,
            False,
            True,
            tuple(result.warnings),
            data=read.data,
            parsed=snapshot.inventory,
        )
    meta = WriteMeta.for_this_process(
        message=message, command=command, fingerprint=fingerprint, warnings=tuple(result.warnings)
    )
    progress(WRITING, 0, hosts, "hosts")
    float_free = loaded.float_free and (
        snapshot.float_free or snapshot.inventory == empty_inventory()
    )
    outcome = _write(store, loaded, snapshot, result.inventory, meta, float_free)
    progress(WRITING, hosts, hosts, "hosts")
    debug("stored: changed=%s version=%s", outcome.changed, outcome.version)
    return Refreshed(
        outcome.version,
        outcome.changed,
        True,
        tuple(result.warnings),
        data=outcome.data,
        parsed=outcome.inventory,
        float_free=float_free and outcome.inventory is result.inventory,
    )


def check_same_deployment(stored: Mapping[str, Any], user_config: UserConfig, label: str) -> None:
    """Refuse to write into a store that holds another deployment.

    A deployment is known by its physical hosts: when the store has some and the
    config names none of them, the config is not this store's (say, deployment B's
    osa.ini pointing at A's database), and writing would merge A's hosts into B's.
    """
    physical = {
        str(variables["physical_host"])
        for variables in hostvars_of(dict(stored)).values()
        if isinstance(variables, Mapping) and variables.get("physical_host")
    }
    if not physical:
        return
    configured = {
        str(host)
        for key, group in user_config.data.items()
        if isinstance(key, str) and key.endswith("hosts") and isinstance(group, Mapping)
        for host in group
    }
    if not configured or physical & configured:
        return
    shown = ", ".join(sorted(physical)[:3]) + (", ..." if len(physical) > 3 else "")
    raise ConfigError(
        f"store {label} holds another deployment: none of its {len(physical)} physical hosts "
        f"({shown}) is in the user config; check the store this run uses with "
        "'osa-inventory config show', or if this config really replaces every one of them, "
        "rerun with --allow-foreign-store"
    )


def _served(
    version: VersionInfo,
    warn: Warn,
    *,
    data: bytes | None = None,
    parsed: dict[str, Any] | None = None,
) -> Refreshed:
    """The stored version, served because the inputs are unchanged since it was generated."""
    for line in version.warnings:
        warn(line)
    return Refreshed(version, False, False, tuple(version.warnings), data=data, parsed=parsed)


def _write(
    store: Store,
    loaded: LoadedInputs,
    snapshot: Snapshot,
    inventory: dict[str, Any],
    meta: WriteMeta,
    float_free: bool = False,
) -> CommitResult:
    """Write under the lock; regenerate from the store if another writer got there first.

    ``float_free``: ``inventory`` was generated from ``snapshot`` and inputs that
    hold no float (its serialisation skips the check against ``json``'s).
    """
    with store.locked():
        if store.versioned:
            try:
                return store.write_if_current(
                    inventory, base=snapshot, meta=meta, float_free=float_free
                )
            except StaleWrite:
                debug("store changed while generating; regenerating from the new version")
        current = store.read()
        if current.inventory != snapshot.inventory:
            inventory = loaded.generate(current.inventory, previous_checked=True).inventory
        return store.commit(inventory, base=current, meta=meta)


def host_vars(
    store: Store,
    inputs: Inputs,
    name: str,
    *,
    message: str = "",
    command: str | None = None,
    regenerate: bool = False,
    warn: Warn | None = None,
    allow_foreign_store: bool = False,
) -> dict[str, Any]:
    """One host's variables (``{}`` for an unknown host), as ``--host NAME`` prints them.

    When the inputs are unchanged since the stored head and the backend reads
    one host alone (:class:`~osa_inventory.store.backend.HostReader`: SQL,
    etcd), only that host is read; otherwise this is :func:`refresh`.
    """
    warn = warn or store.warn
    fingerprint = "" if regenerate else inputs.fingerprint
    if fingerprint and store.capability(HostReader) is not None:
        head = store.head()
        if head is not None and head.fingerprint == fingerprint:
            debug("inputs unchanged since version %s: read host %s alone", head.version, name)
            for line in head.warnings:
                warn(line)
            return store.host(name) or {}
    result = refresh(
        store,
        inputs,
        message=message,
        command=command,
        regenerate=regenerate,
        warn=warn,
        allow_foreign_store=allow_foreign_store,
    )
    return hostvars_of(result.inventory).get(name, {})


def preview(store: Store, inputs: Inputs, *, warn: Warn | None = None) -> GenerationResult:
    """What the inputs generate from the stored inventory; writes nothing (``--check``)."""
    snapshot = store.read()
    loaded = inputs.load(private=store.sealing.on)
    result = loaded.generate(snapshot.inventory, previous_checked=True)
    for line in result.warnings:
        (warn or store.warn)(line)
    return result


def generate_inventory(
    config_dir: str | os.PathLike[str],
    environment_dir: str | os.PathLike[str] | None,
    previous: Mapping[str, Any] | None = None,
) -> GenerationResult:
    """Generate an inventory from a config dir and an environment dir; no store is touched.

    ``previous`` is an inventory generated before (its names and addresses are
    kept). The result has ``inventory``, ``warnings`` and ``unknown_groups``.
    """
    return Inputs(config_dir, environment_dir).load().generate(previous)
