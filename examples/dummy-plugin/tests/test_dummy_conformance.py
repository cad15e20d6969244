"""Run osa-inventory's backend conformance suite against the dummy backend.

This is all a plugin needs to be checked the way the built-in backends are:
subclass ``BackendConformance`` and say, in the ``backend_spec`` fixture, how to
reach a fresh, empty store. Install the plugin first (``pip install -e .`` in
this folder, next to osa-inventory with its ``test`` extra), then run
``pytest`` here.

The spec names the backend ``"dummy"``, as a user would in osa.ini, so the
suite also proves that the entry point is installed. Worker processes open the
store again from the spec, so the options must be plain, picklable values.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from osa_inventory_dummy import DummyBackend

from osa_inventory.errors import ConfigError, StoreCorrupt, StoreError, StoreUnavailable
from osa_inventory.store.registry import list_backends, load_backend_class
from osa_inventory.testing import BackendConformance, BackendSpec


class TestDummyConformance(BackendConformance):
    """Every test of the suite, against a store in the test's own temporary folder."""

    @pytest.fixture
    def backend_spec(self, tmp_path: Path) -> BackendSpec:
        return BackendSpec("dummy", {"path": str(tmp_path / "store" / "inventory.json")})


# Tests of the plugin's own behaviour, beyond the shared suite.


def test_entry_point_is_installed() -> None:
    """``dummy`` is found by name: the package is installed with its entry point."""
    info = {item.name: item for item in list_backends()}
    assert "dummy" in info, "install the plugin first: pip install -e examples/dummy-plugin"
    assert info["dummy"].usable, info["dummy"].reason
    assert info["dummy"].target == "osa_inventory_dummy:DummyBackend"
    assert load_backend_class("dummy") is DummyBackend


def test_path_is_required() -> None:
    with pytest.raises(ConfigError, match="option path is required"):
        DummyBackend().register({})


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown option colour, size; known options: path"):
        DummyBackend().register({"path": "/tmp/x.json", "colour": "blue", "size": "3"})


def test_path_must_not_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        DummyBackend().register({"path": str(tmp_path)})


def _backend(path: Path) -> DummyBackend:
    backend = DummyBackend()
    backend.register({"path": str(path)})
    return backend


def test_corrupt_store_is_store_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    for content in (b'{"_meta": ', b"[1, 2]", b"\xff\xfe"):
        path.write_bytes(content)
        with pytest.raises(StoreCorrupt):
            _backend(path).load()


def test_unreadable_store_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    backend = _backend(path)
    path.mkdir()  # became a directory after register(): reading it fails
    with pytest.raises(StoreUnavailable):
        backend.load()
    with pytest.raises(StoreUnavailable):
        backend.write({"_meta": {"hostvars": {}}})


def test_unserialisable_inventory_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    backend = _backend(path)
    backend.write({"_meta": {"hostvars": {}}, "all": {"vars": {"n": 1}}})
    with pytest.raises(StoreError):
        backend.write({"_meta": {"hostvars": {}}, "bad": object()})
    assert backend.load()["all"]["vars"]["n"] == 1
    assert sorted(os.listdir(tmp_path)) == ["inventory.json"], "a temp file was left behind"


def test_readers_never_see_half_a_version(tmp_path: Path) -> None:
    """While one thread keeps writing big versions, another only ever reads whole ones."""
    path = tmp_path / "inventory.json"
    writer = _backend(path)
    versions = [
        {"_meta": {"hostvars": {f"h{i}": {"n": n, "pad": "x" * 200} for i in range(2000)}}}
        for n in range(2)
    ]
    writer.write(versions[0])
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            writer.write(versions[n % 2])

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        reader = _backend(path)
        for _ in range(200):
            assert reader.load() in versions
    finally:
        stop.set()
        thread.join()
    assert json.loads(path.read_bytes()) in versions
