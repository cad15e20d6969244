"""The backend conformance suite: what every storage backend must do.

A backend (in this tree or in a third-party package) runs the whole suite by
subclassing :class:`BackendConformance` in a test module and providing one
fixture, ``backend_spec``, that returns a :class:`BackendSpec` pointing at a
fresh, empty store for the test::

    import pytest
    from osa_inventory.testing import BackendConformance, BackendSpec

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def backend_spec(self, tmp_path):
            return BackendSpec("mybackend", {"path": str(tmp_path / "store")})

``target`` is an entry-point name or a ``package.module:Class`` import path,
exactly as ``osa.ini`` would name the backend; the suite builds every instance
with :func:`osa_inventory.store.open_backend` and drives it through the
:class:`~osa_inventory.store.store.Store` front end, as the command does. Tests
of optional capabilities (versions, own lock, per-host reads) are skipped when
the backend lacks them. Backends whose class sets
``shared_between_processes = True`` (the default) are exercised by several
processes at once, each opening its own instance from the spec, so the spec's
options must be picklable and must reach the same store from any process.

The suite reads OSA's reference inventories from the shared data directory
(``OSA_SHARED_DIR``, else ``shared/osa`` in the working directory or one of its
parents) when it exists, and always uses a built-in sample.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from osa_inventory.errors import LockTimeout, StaleWrite, StoreError
from osa_inventory.inventory import copy_inventory, empty_inventory
from osa_inventory.jsonio import dumps_inventory
from osa_inventory.settings import is_secret
from osa_inventory.store import open_backend, store_label
from osa_inventory.store.backend import (
    CanonicalReader,
    CanonicalWriter,
    CurrentReader,
    Describable,
    FingerprintRecorder,
    HostReader,
    LockHolder,
    Overwriter,
    RetentionReporter,
    VersionedBackend,
    VersionInfo,
    WriteMeta,
    current_user,
)
from osa_inventory.store.registry import load_backend_class
from osa_inventory.store.store import Store

__all__ = [
    "BackendConformance",
    "BackendSpec",
    "find_shared_dir",
    "large_inventory",
    "reference_inventories",
    "sample_inventory",
    "unicode_inventory",
]

SHARED_DIR_ENV = "OSA_SHARED_DIR"
COUNTER = "conformance_counter"


@dataclass(frozen=True)
class BackendSpec:
    """How to reach one store: a backend name or import path, and its options."""

    target: str
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> Any:
        """A new, registered backend instance for this store."""
        return open_backend(self.target, dict(self.options))

    def label(self, backend: Any) -> str:
        """The Store label, by the one rule (:func:`osa_inventory.store.store_label`).

        Every Store of one spec gets the same label, so that plugins without a
        lock of their own share the front end's local lock.
        """
        return store_label(backend, self.target, self.options)


# -- inventories -----------------------------------------------------------------------


def find_shared_dir() -> Path | None:
    """OSA's shared data (``examples/*/reference/run3.json``), or None when absent."""
    override = os.environ.get(SHARED_DIR_ENV)
    if override:
        path = Path(override)
        return path if path.is_dir() else None
    cwd = Path.cwd().resolve()
    for base in (cwd, *cwd.parents):
        candidate = base / "shared" / "osa"
        if (candidate / "examples").is_dir():
            return candidate
    return None


def reference_inventories() -> dict[str, Path]:
    """Example name -> path of OSA's reference ``run3.json`` (empty without shared data)."""
    shared = find_shared_dir()
    if shared is None:
        return {}
    return {
        path.parents[1].name: path
        for path in sorted((shared / "examples").glob("*/reference/run3.json"))
    }


def _container_networks(index: int, metal: bool) -> dict[str, Any]:
    third, fourth = divmod(index, 250)
    networks: dict[str, Any] = {}
    for key, bridge, prefix, mtu in (
        ("management_address", "br-mgmt", 10, 1500),
        ("tunnel_address", "br-vxlan", 11, 9000),
        ("storage_address", "br-storage", 12, 9000),
    ):
        network = {
            "address": f"{prefix}.{third // 256}.{third % 256}.{fourth + 1}",
            "bridge": bridge,
            "interface": bridge.removeprefix("br-"),
            "mtu": mtu,
            "netmask": "255.255.252.0",
            "type": "veth",
        }
        if not metal:
            network["interface"] = f"eth{len(networks) + 1}"
        networks[key] = network
    return networks


def sample_inventory() -> dict[str, Any]:
    """A small OSA-shaped inventory: infra containers, a compute host, every JSON type."""
    hostvars: dict[str, Any] = {}
    for index, name in enumerate(("infra1", "infra2", "compute1")):
        networks = _container_networks(index, metal=True)
        address = networks["management_address"]["address"]
        hostvars[name] = {
            "ansible_host": address,
            "component": "nova_compute" if name.startswith("compute") else None,
            "container_name": name,
            "container_networks": networks,
            "container_types": f"{name}_host_containers",
            "is_metal": True,
            "management_address": address,
            "physical_host": name,
            "physical_host_addr": address,
            "physical_host_group": "compute_hosts" if name == "compute1" else "shared-infra_hosts",
            "properties": {"is_metal": True},
        }
    for index, host in enumerate(("infra1", "infra2"), start=10):
        name = f"{host}_galera_container-{index:08x}"
        networks = _container_networks(index, metal=False)
        address = networks["management_address"]["address"]
        hostvars[name] = {
            "ansible_host": address,
            "component": "galera",
            "container_name": name,
            "container_networks": networks,
            "container_tech": "lxc",
            "container_types": "galera_container",
            "management_address": address,
            "physical_host": host,
            "physical_host_addr": hostvars[host]["ansible_host"],
            "physical_host_group": "shared-infra_hosts",
            "properties": {"service_name": "galera", "ratio": 0.1, "big": 2**53 + 1},
        }
    galera = sorted(name for name in hostvars if "galera" in name)
    return {
        "_meta": {"hostvars": hostvars},
        "all": {"vars": {"internal_lb_vip_address": "10.0.0.1", "nested": [[], {}, [1, [2]]]}},
        "all_containers": {"children": ["galera_container"], "hosts": []},
        "compute_hosts": {"hosts": ["compute1"]},
        "galera": {"children": [], "hosts": galera},
        "galera_all": {"children": ["galera"]},
        "galera_container": {"hosts": galera},
        "hosts": {"children": ["compute_hosts", "shared-infra_hosts"]},
        "nova_compute": {"children": [], "hosts": ["compute1"]},
        "shared-infra_hosts": {"hosts": ["infra1", "infra2"]},
    }


def unicode_inventory() -> dict[str, Any]:
    """The sample with non-ASCII names and values (accents, CJK, RTL, astral, escapes)."""
    inventory = sample_inventory()
    inventory["all"]["vars"].update(
        {
            "site": "Zürich \u2013 Genève",
            "région_clé": "東京 / Москва / القاهرة",
            "emoji": "deploy 🚀 \U0001f9ea",
            "controls": 'tab\tnewline\n"quote" back\\slash \u2028 \u202e',
        }
    )
    inventory["_meta"]["hostvars"]["compute1"]["description"] = "nœud de calcul №1 ☁"
    inventory["grüppe_ß"] = {"children": [], "hosts": ["compute1"]}
    return inventory


def large_inventory(computes: int = 10_000) -> dict[str, Any]:
    """A deployment with ``computes`` compute hosts and their realistic hostvars."""
    hostvars: dict[str, Any] = {}
    names = []
    for index in range(computes):
        name = f"compute{index:05d}"
        networks = _container_networks(index, metal=True)
        address = networks["management_address"]["address"]
        names.append(name)
        hostvars[name] = {
            "ansible_host": address,
            "component": "nova_compute",
            "container_name": name,
            "container_networks": networks,
            "container_tech": "lxc",
            "container_types": f"{name}_host_containers",
            "is_metal": True,
            "management_address": address,
            "physical_host": name,
            "physical_host_addr": address,
            "physical_host_group": "compute_hosts",
            "properties": {"is_metal": True},
            "nova_cpu_allocation_ratio": 4.0,
            "availability_zone": f"az{index % 3 + 1}",
        }
    groups: dict[str, Any] = {
        "compute_hosts": {"hosts": list(names)},
        "compute_all": {"children": ["nova_compute", "neutron_openvswitch_agent"]},
        "compute_containers": {"hosts": []},
        "nova_compute": {"children": [], "hosts": list(names)},
        "nova_compute_container": {"hosts": list(names)},
        "neutron_openvswitch_agent": {"children": [], "hosts": list(names)},
        "hosts": {"children": ["compute_hosts"]},
        "all": {"vars": {"internal_lb_vip_address": "10.0.0.1", "computes": computes}},
    }
    for zone in (1, 2, 3):
        groups[f"az{zone}_hosts"] = {"hosts": names[zone - 1 :: 3]}
    return {"_meta": {"hostvars": hostvars}, **groups}


def with_counter(inventory: dict[str, Any], value: int) -> dict[str, Any]:
    """A copy of ``inventory`` whose ``all.vars`` counter is ``value``."""
    result = copy_inventory(inventory)
    result.setdefault("all", {}).setdefault("vars", {})[COUNTER] = value
    return result


def replacing(inventory: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A change that replaces whatever is stored by (a copy of) ``inventory``."""
    return lambda _current: copy_inventory(inventory)


def counter_of(inventory: dict[str, Any]) -> Any:
    return ((inventory.get("all") or {}).get("vars") or {}).get(COUNTER)


def increment(inventory: dict[str, Any]) -> dict[str, Any]:
    """The change every concurrent writer applies: counter + 1."""
    return with_counter(inventory, (counter_of(inventory) or 0) + 1)


def _skeleton_like(inventory: Any) -> bool:
    return inventory in ({}, empty_inventory())


def _json_shaped(inventory: Any) -> bool:
    try:
        return json.loads(json.dumps(inventory, allow_nan=False)) == inventory
    except (TypeError, ValueError):
        return False


# -- work done in other processes (module level, so that 'spawn' can import it) ----------


def _increment_worker(
    spec: BackendSpec, label: str, count: int, barrier: Any, results: Any, timeout: float
) -> None:
    """Open the store from ``spec`` and apply ``count`` increments through the front end."""
    try:
        backend = spec.open()
        store = Store(backend, label=label, lock_timeout=timeout)
        barrier.wait(timeout)
        versions = []
        for _ in range(count):
            result = store.update(increment, message="conformance increment")
            if not result.changed:
                raise AssertionError("an increment reported no change")
            if result.version is not None:
                versions.append(result.version.version)
        store.close()
        results.put(("ok", versions))
    except BaseException as exc:  # reported to the test, which fails with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _abandon_lock(spec: BackendSpec, label: str, holder: dict[str, Any] | None) -> None:
    """Take the store lock (as ``holder``, or as this process) and die holding it."""
    backend = spec.open()
    store = Store(backend, label=label)
    taken = LockHolder.from_dict(holder) if holder else LockHolder.for_this_process()
    current = store.locker.acquire_lock(taken)
    sys.stdout.flush()
    os._exit(0 if current is None else 3)


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- the suite -------------------------------------------------------------------------

_REFERENCES = reference_inventories()
_ROUND_TRIP_CASES = ["sample", *_REFERENCES] if _REFERENCES else ["sample", "osa-examples"]


class BackendConformance:
    """Subclass as ``Test<Name>`` and provide a ``backend_spec`` fixture.

    Class attributes tune the suite for slow backends.
    """

    #: lock timeout of the Stores the tests use when they expect no contention
    lock_timeout: float = 30.0
    #: lock timeout of the Store that must give up while another holds the lock
    contention_timeout: float = 0.5
    #: compute hosts in the large inventory
    large_computes: int = 10_000
    #: concurrent writers and increments per writer
    writers: int = 8
    increments: int = 25
    #: how worker processes start ('spawn' proves each opens its own connection)
    start_method: str = "spawn"

    # -- helpers ----------------------------------------------------------------------

    def open(self, spec: BackendSpec) -> Any:
        return spec.open()

    def store(
        self,
        spec: BackendSpec,
        *,
        lock_timeout: float | None = None,
        warn: Callable[[str], None] | None = None,
        backend: Any = None,
    ) -> Store:
        backend = backend if backend is not None else self.open(spec)
        return Store(
            backend,
            label=spec.label(backend),
            lock_timeout=self.lock_timeout if lock_timeout is None else lock_timeout,
            warn=warn,
        )

    def empty_store(self, spec: BackendSpec, **kwargs: Any) -> Store:
        """A Store on the spec's store, which must be empty."""
        store = self.store(spec, **kwargs)
        snapshot = store.read()
        assert snapshot.inventory == empty_inventory() and snapshot.version is None, (
            f"backend_spec must point at a fresh, empty store; {spec.target} with "
            f"{spec.options} holds data"
        )
        return store

    @staticmethod
    def require_versions(backend: Any) -> None:
        if not isinstance(backend, VersionedBackend):
            pytest.skip(f"{type(backend).__name__} keeps no versions")

    @staticmethod
    def shared_between_processes(spec: BackendSpec) -> bool:
        return bool(getattr(load_backend_class(spec.target), "shared_between_processes", True))

    def _round_trip_case(self, case: str) -> dict[str, Any]:
        if case == "sample":
            return sample_inventory()
        if case not in _REFERENCES:
            pytest.skip(
                f"OSA shared data not found (set {SHARED_DIR_ENV} to the folder holding "
                "examples/*/reference/run3.json)"
            )
        return json.loads(_REFERENCES[case].read_text(encoding="utf-8"))

    # -- reading and writing ------------------------------------------------------------

    def test_empty_store_loads_skeleton(self, backend_spec: BackendSpec) -> None:
        backend = self.open(backend_spec)
        loaded = backend.load()
        assert isinstance(loaded, dict) and _skeleton_like(loaded), loaded
        snapshot = self.store(backend_spec).read()
        assert snapshot.inventory == empty_inventory()
        assert snapshot.version is None
        if isinstance(backend, VersionedBackend):
            assert backend.head() is None
            assert backend.list_versions() == []

    @pytest.mark.parametrize("case", _ROUND_TRIP_CASES)
    def test_round_trip(self, backend_spec: BackendSpec, case: str) -> None:
        inventory = self._round_trip_case(case)
        backend = self.open(backend_spec)
        backend.write(copy_inventory(inventory))
        assert backend.load() == inventory
        assert self.open(backend_spec).load() == inventory, "a new instance reads otherwise"
        # the same through the front end, on top of a changed copy
        changed = with_counter(inventory, 1)
        store = self.store(backend_spec)
        assert store.update(lambda _: copy_inventory(changed)).changed
        assert store.load() == changed
        assert self.open(backend_spec).load() == changed

    def test_write_then_load_equal(self, backend_spec: BackendSpec) -> None:
        first, second = sample_inventory(), with_counter(sample_inventory(), 2)
        del second["galera_all"]
        second["_meta"]["hostvars"].pop("infra2")
        backend = self.open(backend_spec)
        backend.write(first)
        assert backend.load() == first
        backend.write(second)
        assert backend.load() == second, "a write must replace the whole inventory"
        assert self.open(backend_spec).load() == second

    def test_load_returns_independent_copies(self, backend_spec: BackendSpec) -> None:
        inventory = sample_inventory()
        backend = self.open(backend_spec)
        written = copy_inventory(inventory)
        backend.write(written)
        written["all"]["vars"]["mutated_after_write"] = True
        loaded = backend.load()
        assert loaded == inventory, "the store kept a reference to the written dict"
        loaded["_meta"]["hostvars"].clear()
        assert backend.load() == inventory, "load() returned the store's own objects"

    def test_noop_update_creates_no_version(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        assert store.update(lambda _: sample_inventory()).changed
        counting = None
        if not isinstance(store.backend, VersionedBackend):
            counting = _CountingBackend(self.open(backend_spec))
            store = self.store(backend_spec, backend=counting)
        before = store.read()
        for change in (lambda inv: inv, copy_inventory, lambda _: sample_inventory()):
            result = store.update(change, message="no change")
            assert not result.changed
            assert result.version == before.version
        if counting is None:
            assert before.version is not None and store.head() == before.version
            assert [v.version for v in store.history()] == [before.version.version]
        else:
            assert counting.writes == 0
        assert store.load() == sample_inventory()

    def test_large_inventory_round_trip(self, backend_spec: BackendSpec) -> None:
        inventory = large_inventory(self.large_computes)
        store = self.empty_store(backend_spec)
        assert store.update(lambda _: inventory, message="large").changed
        loaded = self.open(backend_spec).load()
        assert len(loaded["_meta"]["hostvars"]) == self.large_computes
        assert loaded == inventory
        # one host changes: the next version holds exactly that change
        changed = copy_inventory(inventory)
        changed["_meta"]["hostvars"]["compute00042"]["nova_cpu_allocation_ratio"] = 8.0
        assert store.update(lambda _: changed).changed
        assert self.store(backend_spec).load() == changed

    def test_unicode(self, backend_spec: BackendSpec) -> None:
        inventory = unicode_inventory()
        message = "ajout du nœud №1 \u2013 東京 🚀"
        command = "osa-inventory --message «déploiement»"
        store = self.empty_store(backend_spec)
        result = store.update(lambda _: inventory, message=message, command=command)
        assert result.changed
        assert self.open(backend_spec).load() == inventory
        if isinstance(store.backend, VersionedBackend):
            head = self.open(backend_spec).list_versions()[-1]
            assert head.message == message
            assert head.command == command
            assert self.open(backend_spec).read_version(head.version) == inventory

    def test_host_reader(self, backend_spec: BackendSpec) -> None:
        backend = self.open(backend_spec)
        reader = backend if isinstance(backend, HostReader) else None
        if reader is None:
            pytest.skip(f"{type(backend).__name__} has no per-host reads")
        inventory = sample_inventory()
        assert reader.load_host("infra1") is None
        backend.write(inventory)
        for name, hostvars in inventory["_meta"]["hostvars"].items():
            assert reader.load_host(name) == hostvars
        assert reader.load_host("no-such-host") is None

    # -- optional capabilities (store/backend.py) ---------------------------------------

    def test_read_current_is_head_and_content(self, backend_spec: BackendSpec) -> None:
        backend = self.open(backend_spec)
        if not isinstance(backend, CurrentReader):
            pytest.skip(f"{type(backend).__name__} has no read_current")
        version, inventory = backend.read_current()
        assert version is None and _skeleton_like(inventory)
        self.store(backend_spec).update(lambda _: sample_inventory())
        version, inventory = self.open(backend_spec).read_current()
        assert inventory == sample_inventory()
        if isinstance(backend, VersionedBackend):
            assert version == backend.head()

    def test_read_current_bytes_are_canonical(self, backend_spec: BackendSpec) -> None:
        backend = self.open(backend_spec)
        if not isinstance(backend, CanonicalReader):
            pytest.skip(f"{type(backend).__name__} has no read_current_bytes")
        assert backend.read_current_bytes() == (None, None)
        store = self.store(backend_spec)
        for inventory in (sample_inventory(), unicode_inventory()):
            store.update(replacing(inventory))
            version, data = self.open(backend_spec).read_current_bytes()
            if isinstance(backend, VersionedBackend):
                assert version == backend.head()
            if data is not None:
                assert data == dumps_inventory(inventory).encode("ascii"), (
                    "read_current_bytes() must be exactly dumps_inventory() of the content"
                )

    def test_write_canonical_stores_those_bytes(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        backend = store.backend
        if not isinstance(backend, CanonicalWriter):
            pytest.skip(f"{type(backend).__name__} has no write_canonical")
        self.require_versions(backend)
        meta = WriteMeta.for_this_process(message="canonical", command="conformance")
        data = dumps_inventory(unicode_inventory()).encode("ascii")
        written = backend.write_canonical(data, meta, None)
        assert self.open(backend_spec).load() == unicode_inventory()
        assert store.read().version == written
        if isinstance(backend, CanonicalReader):
            assert self.open(backend_spec).read_current_bytes() == (written, data)
        with pytest.raises(StaleWrite):  # a compare-and-swap like write_version
            backend.write_canonical(dumps_inventory(sample_inventory()).encode(), meta, None)
        assert self.open(backend_spec).load() == unicode_inventory()

    def test_overwrite_writes_on_top_of_any_head(self, backend_spec: BackendSpec) -> None:
        """``overwrite`` (recovery): a new version after the head, with no compare-and-swap."""
        store = self.empty_store(backend_spec)
        backend = store.backend
        if not isinstance(backend, Overwriter):
            pytest.skip(f"{type(backend).__name__} has no overwrite")
        self.require_versions(backend)
        first = store.update(replacing(sample_inventory()), message="first").version
        assert first is not None
        meta = WriteMeta.for_this_process(message="recovered", command="conformance")
        with store.locked():
            result = store.overwrite(unicode_inventory(), meta)
        assert result.version is not None and result.version.version > first.version
        reader = self.open(backend_spec)
        assert reader.load() == unicode_inventory()
        head = reader.head()
        assert head is not None and (head.version, head.message) == (
            result.version.version,
            "recovered",
        )
        assert reader.read_version(first.version) == sample_inventory()

    def test_fingerprint_is_read_back(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        if not isinstance(store.backend, FingerprintRecorder):
            pytest.skip(f"{type(store.backend).__name__} records no input fingerprint")
        self.require_versions(store.backend)
        store.update(lambda _: sample_inventory(), message="generated")
        before = store.read()
        assert before.version is not None and before.version.fingerprint == ""
        assert store.remember_fingerprint(before, "f" * 64, ["a warning", "ünïcode ⚠"])
        after = self.store(backend_spec).read()
        assert after.version is not None
        assert after.version.fingerprint == "f" * 64
        assert after.version.warnings == ["a warning", "ünïcode ⚠"]
        assert after.inventory == before.inventory
        assert after.version.version == before.version.version, "a fingerprint is no version"
        assert after.version.message == "generated"
        assert [v.version for v in store.history()] == [before.version.version]
        # once the store moved on, a fingerprint for the old version is not recorded
        store.update(lambda inv: with_counter(inv, 1))
        assert not store.remember_fingerprint(after, "e" * 64)
        head = self.store(backend_spec).head()
        assert head is not None and head.fingerprint != "e" * 64

    def test_retention_is_what_is_kept(self, backend_spec: BackendSpec) -> None:
        backend = self.open(backend_spec)
        if not isinstance(backend, RetentionReporter):
            pytest.skip(f"{type(backend).__name__} does not report its retention")
        retention = backend.retention()
        if retention is None:
            return
        assert retention.value >= 0 and retention.versions >= 0
        declared = getattr(type(backend), "options", None)
        if isinstance(declared, dict):
            assert retention.option in declared, f"{retention.option} is not an option"
        if not isinstance(backend, VersionedBackend) or not 0 < retention.versions <= 20:
            return
        store = self.empty_store(backend_spec)
        for step in range(retention.versions + 2):
            store.update(replacing(with_counter(sample_inventory(), step)))
        kept = self.open(backend_spec).list_versions()
        assert len(kept) == retention.versions, (
            f"retention() says {retention.versions} versions are kept; {len(kept)} are"
        )

    def test_describe_names_the_store_without_secrets(self, backend_spec: BackendSpec) -> None:
        backend = self.open(backend_spec)
        if not isinstance(backend, Describable):
            pytest.skip(f"{type(backend).__name__} has no describe()")
        text = backend.describe()
        assert isinstance(text, str) and text and "\n" not in text
        for key, value in backend_spec.options.items():
            if is_secret(key) and value:
                assert str(value) not in text, f"describe() shows option {key}"
        assert text == self.open(backend_spec).describe(), "describe() must be stable"

    # -- versions ---------------------------------------------------------------------

    def test_versions_increase_by_one(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        self.require_versions(store.backend)
        written: dict[int, dict[str, Any]] = {}
        previous: VersionInfo | None = None
        for step in range(1, 6):
            inventory = with_counter(sample_inventory(), step)
            result = store.update(replacing(inventory), message=f"step {step}")
            assert result.changed and result.version is not None
            version = result.version
            assert isinstance(version.version, int)
            if previous is not None:
                assert version.version == previous.version + 1
                assert version.lineage == previous.lineage, "the lineage changed"
            head = self.open(backend_spec).head()
            assert head is not None
            assert (head.version, head.lineage) == (version.version, version.lineage)
            # a no-op in between creates nothing
            assert not store.update(lambda inv: inv).changed
            assert self.open(backend_spec).head().version == version.version
            written[version.version] = inventory
            previous = version
        assert previous is not None
        versions = self.open(backend_spec).list_versions()
        numbers = [v.version for v in versions]
        assert numbers == sorted(set(numbers)), f"list_versions is not in order: {numbers}"
        assert numbers[-1] == previous.version
        assert {v.lineage for v in versions} == {previous.lineage}
        retained = [n for n in numbers if n in written]
        assert retained and retained[-1] == previous.version
        reader = self.open(backend_spec)
        for number in retained:
            assert reader.read_version(number) == written[number], f"version {number}"
        with pytest.raises(StoreError):
            reader.read_version(previous.version + 1000)

    def test_version_metadata(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        self.require_versions(store.backend)
        before = time.time()
        store.update(lambda _: sample_inventory(), message="first", command="conformance one")
        store.update(
            lambda inv: with_counter(inv, 7), message="second write", command="conformance two"
        )
        after = time.time()
        versions = self.open(backend_spec).list_versions()
        assert [(v.message, v.command) for v in versions[-2:]] == [
            ("first", "conformance one"),
            ("second write", "conformance two"),
        ]
        for info in versions[-2:]:
            assert info.user == current_user()
            assert info.host == socket.gethostname()
            assert before - 1 <= info.time <= after + 1, (before, info.time, after)

    def test_first_version_number_of_an_empty_store(self, backend_spec: BackendSpec) -> None:
        """``WriteMeta.first_version`` numbers an empty store's first version (migrate
        keeps the source's numbers); the next ones follow it, and a store that has
        versions ignores it."""
        backend: Any = self.empty_store(backend_spec).backend
        self.require_versions(backend)
        meta = WriteMeta.for_this_process(message="copy", command="conformance")
        first = backend.write_version(sample_inventory(), replace(meta, first_version=7), None)
        assert first.version == 7
        second = backend.write_version(
            with_counter(sample_inventory(), 1), replace(meta, first_version=99), first
        )
        assert second.version == 8
        reader = self.open(backend_spec)
        assert [v.version for v in reader.list_versions()][-2:] == [7, 8]
        assert reader.read_version(7) == sample_inventory()
        assert counter_of(reader.read_version(8)) == 1

    def test_write_version_is_compare_and_swap(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        self.require_versions(store.backend)
        store.update(lambda _: sample_inventory())
        stale = store.head()
        store.update(lambda inv: with_counter(inv, 1))
        current = store.head()
        assert current is not None
        backend = self.open(backend_spec)
        meta = WriteMeta.for_this_process(message="stale", command="conformance")
        for expected in (stale, None):
            with pytest.raises(StaleWrite):
                backend.write_version(with_counter(sample_inventory(), 99), meta, expected)
        assert backend.head() == current
        assert counter_of(backend.load()) == 1
        written = backend.write_version(with_counter(sample_inventory(), 2), meta, current)
        assert written.version == current.version + 1

    def test_stale_base_is_refused(self, backend_spec: BackendSpec) -> None:
        first = self.empty_store(backend_spec)
        self.require_versions(first.backend)
        first.update(lambda _: sample_inventory())
        base = first.read()
        self.store(backend_spec).update(lambda inv: with_counter(inv, 1))
        meta = WriteMeta.for_this_process(message="late", command="conformance")
        with first.locked():
            with pytest.raises(StaleWrite):
                first.commit(with_counter(base.inventory, 5), base=base, meta=meta)
            assert counter_of(first.load()) == 1
            forced = first.commit(with_counter(base.inventory, 5), base=base, meta=meta, force=True)
        assert forced.changed
        assert counter_of(self.open(backend_spec).load()) == 5

    # -- the lock ---------------------------------------------------------------------

    def test_lock_contention(self, backend_spec: BackendSpec) -> None:
        holder_store = self.empty_store(backend_spec)
        waiter = self.store(backend_spec, lock_timeout=self.contention_timeout)
        assert waiter.lock_status() is None
        with holder_store.locked() as holder:
            status = waiter.lock_status()
            assert status is not None and status.lock_id == holder.lock_id
            assert status.pid == os.getpid()
            started = time.monotonic()
            with pytest.raises(LockTimeout) as raised:
                waiter.update(increment)
            waited = time.monotonic() - started
            assert self.contention_timeout <= waited < self.contention_timeout + 3, waited
            message = str(raised.value)
            for part in (holder.user, holder.host, f"pid {holder.pid}", holder.lock_id):
                assert part in message, f"{part!r} missing from: {message}"
            # reads never wait for a writer
            started = time.monotonic()
            assert waiter.read().inventory == empty_inventory()
            assert time.monotonic() - started < self.contention_timeout
        assert waiter.lock_status() is None
        assert counter_of(waiter.update(increment).inventory) == 1
        assert counter_of(self.open(backend_spec).load()) == 1

    def test_break_lock_needs_the_current_lock_id(self, backend_spec: BackendSpec) -> None:
        store = self.store(backend_spec)
        with pytest.raises(StoreError):
            store.break_lock("no-such-lock")
        with store.locked() as holder:
            other = self.store(backend_spec)
            with pytest.raises(StoreError):
                other.break_lock(holder.lock_id + "x")
            status = other.lock_status()
            assert status is not None and status.lock_id == holder.lock_id

    def _abandoned_holder(self, spec: BackendSpec, holder: LockHolder | None, label: str) -> int:
        """Leave ``holder`` (default: a process of its own) holding the lock, then dead.

        Returns the pid the holder record names.
        """
        if self.shared_between_processes(spec):
            context: Any = multiprocessing.get_context(self.start_method)
            args = (spec, label, holder.to_dict() if holder else None)
            process = context.Process(target=_abandon_lock, args=args)
            process.start()
            process.join(60)
            assert process.exitcode == 0, f"the lock holder process failed ({process.exitcode})"
            return holder.pid if holder else process.pid
        else:
            if holder is None:
                holder = LockHolder(
                    "dead0000", "someone", socket.gethostname(), _dead_pid(), time.time() - 60
                )
            other = self.store(spec)
            assert other.locker.acquire_lock(holder) is None
            return holder.pid

    def test_abandoned_lock_is_taken_over(self, backend_spec: BackendSpec) -> None:
        """A holder on this host whose process died blocks nobody, and is named."""
        warnings: list[str] = []
        store = self.empty_store(backend_spec, lock_timeout=5, warn=warnings.append)
        pid = self._abandoned_holder(backend_spec, None, store.label)
        status = store.lock_status()
        started = time.monotonic()
        result = store.update(increment)
        assert time.monotonic() - started < 5
        assert counter_of(result.inventory) == 1
        assert any(f"pid {pid}" in w for w in warnings), (
            f"taking over the lock abandoned by pid {pid} must warn naming it: {warnings}"
        )
        if status is not None:
            assert any(status.lock_id in w for w in warnings), warnings
        assert store.lock_status() is None

    def test_live_lock_is_never_broken_by_clocks(self, backend_spec: BackendSpec) -> None:
        """A live holder whose clock runs far behind, or whose run outlasts any lease
        (its ``since`` and ``expires`` long past), is waited for and never broken."""
        holder_store = self.empty_store(backend_spec)
        now = time.time()
        skewed = LockHolder(
            lock_id="skewed00000a",
            user="someone",
            host="clock-behind.invalid",
            pid=os.getpid(),
            since=now - 86400,
            command="osa-inventory --list",
            expires=now - 3600,
        )
        assert holder_store.locker.acquire_lock(skewed) is None
        waiter = self.store(backend_spec, lock_timeout=self.contention_timeout)
        try:
            with pytest.raises(LockTimeout, match=skewed.lock_id):
                waiter.update(increment)
            status = waiter.lock_status()
            assert status is not None and status.lock_id == skewed.lock_id, (
                "the waiting writer broke a live lock"
            )
        finally:
            holder_store.locker.release_lock(skewed)
        assert counter_of(waiter.update(increment).inventory) == 1

    def test_dead_holder_of_another_host_is_left_to_lock_break(
        self, backend_spec: BackendSpec
    ) -> None:
        """A holder from another host that died: a lock its server frees (flock, database
        session) is taken; one that cannot tell (a row, a lease still running) makes the
        writer time out naming ``lock break ID``, which then frees it."""
        store = self.empty_store(backend_spec, lock_timeout=2)
        now = time.time()
        holder = LockHolder(
            lock_id="elsewhere00a",
            user="someone",
            host="elsewhere.invalid",
            pid=4242,
            since=now - 3600,
            command="osa-inventory (gone)",
            expires=now - 60,
        )
        self._abandoned_holder(backend_spec, holder, store.label)
        try:
            result = store.update(increment)
        except LockTimeout as exc:
            assert f"'osa-inventory lock break {holder.lock_id}'" in str(exc), exc
            store.break_lock(holder.lock_id)
            result = store.update(increment)
        assert counter_of(result.inventory) == 1
        assert store.lock_status() is None

    def test_lock_is_held_for_the_block_only(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        with store.locked() as holder:
            status = store.lock_status()
            assert status is not None and status.lock_id == holder.lock_id
            with store.locked() as again:  # re-entrant within one Store
                assert again is holder
            assert store.lock_status() is not None
        assert store.lock_status() is None

    # -- concurrent writers -----------------------------------------------------------

    def test_concurrent_writers(self, backend_spec: BackendSpec) -> None:
        store = self.empty_store(backend_spec)
        store.update(lambda _: with_counter(sample_inventory(), 0))
        start = store.read().version
        label = store.label
        total = self.writers * self.increments
        timeout = max(60.0, self.lock_timeout)
        barrier: Any
        results: Any
        if self.shared_between_processes(backend_spec):
            context: Any = multiprocessing.get_context(self.start_method)
            barrier, results = context.Barrier(self.writers), context.Queue()
            workers: list[Any] = [
                context.Process(
                    target=_increment_worker,
                    args=(backend_spec, label, self.increments, barrier, results, timeout),
                )
                for _ in range(self.writers)
            ]
        else:
            barrier, results = threading.Barrier(self.writers), queue.Queue()
            workers = [
                threading.Thread(
                    target=_increment_worker,
                    args=(backend_spec, label, self.increments, barrier, results, timeout),
                )
                for _ in range(self.writers)
            ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=timeout * 2) for _ in workers]
        for worker in workers:
            worker.join(timeout)
        errors = [detail for status, detail in outcomes if status != "ok"]
        assert not errors, errors
        final = self.store(backend_spec)
        inventory = final.load()
        assert _json_shaped(inventory)
        assert counter_of(inventory) == total, "an update was lost"
        assert inventory == with_counter(sample_inventory(), total)
        if start is None:
            return
        written = sorted(n for _, versions in outcomes for n in versions)
        assert written == list(range(start.version + 1, start.version + total + 1))
        versions = final.history()
        numbers = [v.version for v in versions]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
        assert numbers[-1] == start.version + total
        assert {v.lineage for v in versions} == {start.lineage}


class _CountingBackend:
    """A plain three-method backend around another one, counting its writes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes = 0

    def register(self, options: dict[str, Any]) -> None:
        self.inner.register(options)

    def load(self) -> dict[str, Any]:
        return self.inner.load()

    def write(self, inventory: dict[str, Any]) -> None:
        self.writes += 1
        self.inner.write(inventory)
