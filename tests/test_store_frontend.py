"""The Store front end over a plugin that has only register/load/write.

The plugin (:mod:`minimal_plugin`, next to this file) has no lock and no
history, so everything beyond storing JSON comes from the front end: a local
lock that several processes contend for, skipping unchanged writes, lock
status and breaking, and clear errors for what needs versions.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from minimal_plugin import TARGET, MinimalPlugin
from osa_inventory.errors import ConfigError, LockTimeout, StoreError
from osa_inventory.inventory import copy_inventory
from osa_inventory.store import open_backend
from osa_inventory.store.backend import LockHolder, WriteMeta, current_user
from osa_inventory.store.filelock import FileLock
from osa_inventory.store.store import Store, local_lock_path
from osa_inventory.testing import BackendConformance, BackendSpec, sample_inventory

SPAWN = multiprocessing.get_context("spawn")


class TestMinimalPlugin(BackendConformance):
    """A third-party plugin runs the same suite as the built-in backends."""

    @pytest.fixture
    def backend_spec(self, tmp_path: Path) -> BackendSpec:
        return BackendSpec(TARGET, {"path": str(tmp_path / "inventory.json")})


@pytest.fixture
def spec(tmp_path: Path) -> BackendSpec:
    return BackendSpec(TARGET, {"path": str(tmp_path / "inventory.json")})


def make_store(spec: BackendSpec, lock_timeout: float = 10.0, **kwargs: Any) -> Store:
    backend = spec.open()
    return Store(backend, label=spec.label(backend), lock_timeout=lock_timeout, **kwargs)


def bump(inventory: dict[str, Any]) -> dict[str, Any]:
    result = copy_inventory(inventory)
    variables = result.setdefault("all", {}).setdefault("vars", {})
    variables["bumps"] = variables.get("bumps", 0) + 1
    return result


# -- run in other processes ------------------------------------------------------------


def _hold_lock(spec: BackendSpec, label: str, ready: Any, release: Any) -> None:
    store = Store(spec.open(), label=label)
    with store.locked():
        ready.set()
        release.wait(60)


def _update_once(target: str, options: dict[str, Any], label: str, timeout: float) -> None:
    """Exit 0 when the update times out with LockTimeout, 1 when it succeeds, 2 otherwise."""
    store = Store(open_backend(target, options), label=label, lock_timeout=timeout)
    try:
        store.update(bump)
    except LockTimeout:
        sys.exit(0)
    except BaseException:
        sys.exit(2)
    sys.exit(1)


# -- the tests -------------------------------------------------------------------------


def test_open_backend_by_import_path(spec: BackendSpec) -> None:
    backend = open_backend(spec.target, spec.options)
    assert isinstance(backend, MinimalPlugin)
    store = Store(backend, label=spec.label(backend))
    assert not store.versioned
    assert isinstance(store.locker, FileLock), "the front end must supply a local lock"
    assert store.locker.path == local_lock_path(store.label)
    with pytest.raises(ConfigError, match="lacks register, load, write"):
        open_backend("minimal_plugin:TARGET", {})
    with pytest.raises(ConfigError, match="option path"):
        open_backend(spec.target, {})


def test_no_history(spec: BackendSpec) -> None:
    store = make_store(spec)
    store.update(lambda _: sample_inventory())
    with pytest.raises(StoreError, match="keeps no versions; history needs a backend with"):
        store.history()
    with pytest.raises(StoreError, match="keeps no versions"):
        store.read_version(1)
    assert store.read().version is None


def test_update_skips_the_write_when_nothing_changed(spec: BackendSpec, tmp_path: Path) -> None:
    store = make_store(spec)
    path = Path(spec.options["path"])
    assert store.update(lambda _: sample_inventory()).changed
    before = path.stat()

    def reordered(inventory: dict[str, Any]) -> dict[str, Any]:
        return dict(reversed(list(copy_inventory(inventory).items())))

    for change in (lambda inv: inv, copy_inventory, reordered):
        result = store.update(change)
        assert not result.changed
        assert result.inventory == sample_inventory()
        after = path.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inventory.json"]
    assert store.update(bump).changed
    assert path.stat().st_ino != before.st_ino


def test_commit_needs_the_lock(spec: BackendSpec) -> None:
    store = make_store(spec)
    base = store.read()
    with pytest.raises(StoreError, match="without holding the store lock"):
        store.commit(bump(base.inventory), base=base, meta=WriteMeta.for_this_process())
    with store.locked():
        assert store.commit(bump(base.inventory), base=base, meta=WriteMeta.for_this_process())
    assert store.load()["all"]["vars"]["bumps"] == 1


def test_lock_status_and_break_lock_when_free(spec: BackendSpec) -> None:
    store = make_store(spec)
    assert store.lock_status() is None
    with pytest.raises(StoreError, match="not held"):
        store.break_lock("0123456789ab")
    with store.locked() as holder:
        assert store.lock_status() == holder
    assert store.lock_status() is None


def test_local_lock_between_processes(spec: BackendSpec) -> None:
    store = make_store(spec, lock_timeout=0.4)
    store.update(lambda _: sample_inventory())
    ready, release = SPAWN.Event(), SPAWN.Event()
    child = SPAWN.Process(target=_hold_lock, args=(spec, store.label, ready, release))
    child.start()
    try:
        assert ready.wait(60), "the child did not take the lock"
        holder = store.lock_status()
        assert holder is not None
        assert (holder.user, holder.host, holder.pid) == (
            current_user(),
            socket.gethostname(),
            child.pid,
        )
        started = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            store.update(bump)
        assert 0.4 <= time.monotonic() - started < 3
        message = str(raised.value)
        for part in (
            f"{holder.user}@{holder.host}",
            f"pid {child.pid}",
            holder.lock_id,
            f"lock break {holder.lock_id}",
            "waited 0.4 s",
        ):
            assert part in message, f"{part!r} missing from: {message}"
        # a live holder's local lock cannot be broken, and says why
        with pytest.raises(StoreError, match="held by a live process"):
            store.break_lock(holder.lock_id)
        with pytest.raises(StoreError, match="not the current lock"):
            store.break_lock("ffffffffffff")
        assert store.load() == sample_inventory(), "a read waited for the lock or saw a write"
    finally:
        release.set()
        child.join(60)
    assert child.exitcode == 0
    assert store.lock_status() is None
    assert store.update(bump).inventory["all"]["vars"]["bumps"] == 1


@pytest.mark.parametrize("target", ["file", TARGET])
def test_expired_but_live_holder_times_out(target: str, tmp_path: Path) -> None:
    """A lock that looks abandoned but cannot be broken must still time out.

    The holder record claims an expired lease, but the lock is a live ``flock``
    (this process), which ``break_lock`` rightly refuses to break. The waiting
    Store must give up after its lock timeout with LockTimeout, not retry for
    ever; it runs in a process of its own so that a hang fails the test.
    """
    options = {"path": str(tmp_path / "openstack_inventory.json")}
    spec = BackendSpec(target, options)
    store = make_store(spec)
    now = time.time()
    holder = LockHolder(
        "expired00001", "someone", "elsewhere.invalid", 4242, now - 600, "", now - 1
    )
    assert store.locker.acquire_lock(holder) is None
    try:
        waiter = SPAWN.Process(target=_update_once, args=(target, options, store.label, 0.5))
        waiter.start()
        waiter.join(10)
        if waiter.is_alive():
            waiter.kill()
            waiter.join()
            pytest.fail("Store.update never gave up on a lock it could not break")
        assert waiter.exitcode == 0, f"expected LockTimeout, exit code {waiter.exitcode}"
    finally:
        store.locker.release_lock(holder)


def test_plugin_store_is_plain_json(spec: BackendSpec) -> None:
    make_store(spec).update(lambda _: sample_inventory())
    assert json.loads(Path(spec.options["path"]).read_text()) == sample_inventory()
