"""The run use case as a library function (osa_inventory.run): what --list and --host do.

Each store is real (files, SQLite); a backend subclass counts what the run
asks of it, so that a test fails when a run reads or checks more than it must.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest

from conftest import copy_example, generate_cli, read_config, write_config
from osa_inventory.backends.file import FileBackend
from osa_inventory.inventory import hostvars_of
from osa_inventory.jsonio import dumps_inventory
from osa_inventory.run import Inputs, host_vars, refresh
from osa_inventory.store import Store, open_backend, store_label


class CountingFileBackend(FileBackend):
    """The file backend, counting reads of its files and compare-and-swap writes."""

    calls: Counter[str]

    def configure(self) -> None:
        super().configure()
        self.calls = Counter()

    def _state(self) -> Any:
        self.calls["state"] += 1
        return super()._state()

    def head(self) -> Any:
        self.calls["head"] += 1
        return super().head()

    def write_canonical(self, new_bytes: bytes, meta: Any, expected: Any) -> Any:
        self.calls["write"] += 1
        return super().write_canonical(new_bytes, meta, expected)


def counting_store(path: Path) -> tuple[Store, CountingFileBackend]:
    backend = CountingFileBackend()
    backend.register({"path": str(path)})
    return Store(backend, label=store_label(backend, "file", {"path": str(path)})), backend


def change_config(config_dir: Path, marker: str) -> None:
    data = read_config(config_dir)
    data.setdefault("global_overrides", {})["run_marker"] = marker
    write_config(config_dir, data)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return copy_example("test", tmp_path / "config")


def test_a_changing_run_reads_the_store_once_and_writes_once(
    config: Path, env_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "store" / "openstack_inventory.json"
    path.parent.mkdir()
    inputs = Inputs(config, env_dir)
    store, _ = counting_store(path)
    first = refresh(store, inputs, message="first")
    assert first.changed and first.generated and first.version is not None

    change_config(config, "second")
    store, backend = counting_store(path)
    second = refresh(store, Inputs(config, env_dir), message="second")
    assert second.changed and second.version is not None
    assert second.version.version == first.version.version + 1
    # one read for the snapshot, one inside the compare-and-swap; no head() besides
    assert backend.calls == Counter(state=2, write=1)
    assert second.data == path.read_bytes(), "the written bytes are what --list prints"
    assert second.text() == dumps_inventory(second.inventory)
    assert second.inventory["all"]["vars"]["run_marker"] == "second"


def test_unchanged_inputs_serve_the_stored_bytes(
    config: Path, env_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "openstack_inventory.json"
    store, _ = counting_store(path)
    refresh(store, Inputs(config, env_dir))
    store, backend = counting_store(path)
    again = refresh(store, Inputs(config, env_dir))
    assert not again.generated and not again.changed
    assert again.data == path.read_bytes()
    assert backend.calls == Counter(state=1)
    assert again.inventory == json.loads(path.read_text())


def test_a_writer_that_got_there_first_is_built_upon(
    config: Path, env_dir: Path, tmp_path: Path
) -> None:
    """The compare-and-swap fails: the run reads the store again and regenerates from it."""
    path = tmp_path / "openstack_inventory.json"
    store, _ = counting_store(path)
    refresh(store, Inputs(config, env_dir))
    change_config(config, "mine")

    class Interloper(Store):
        def locked(self) -> Any:
            other = Store(open_backend("file", {"path": str(path)}))
            other.update(lambda inv: {**inv, "interloper_group": {"hosts": []}}, message="other")
            return super().locked()

    backend = CountingFileBackend()
    backend.register({"path": str(path)})
    result = refresh(Interloper(backend, label="interloper"), Inputs(config, env_dir))
    assert result.changed
    stored = json.loads(path.read_text())
    assert stored["all"]["vars"]["run_marker"] == "mine"
    assert "interloper_group" in stored, "the other writer's version was overwritten"
    history = Store(open_backend("file", {"path": str(path)})).history()
    assert [v.message for v in history[-2:]] == ["other", ""]
    assert backend.calls["write"] == 2  # the refused compare-and-swap, then the write


def test_host_vars_read_one_host_when_the_inputs_are_unchanged(
    config: Path, env_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("sqlalchemy")
    from osa_inventory.backends.sql import SQLiteBackend

    class CountingSQLite(SQLiteBackend):
        reads: ClassVar[Counter[str]] = Counter()

        def load_host(self, name: str) -> dict[str, Any] | None:
            self.reads["load_host"] += 1
            return super().load_host(name)

        def read_current(self) -> Any:
            self.reads["read_current"] += 1
            return super().read_current()

    options = {"url": f"sqlite:///{tmp_path / 'inventory.db'}"}

    def store() -> Store:
        backend = CountingSQLite()
        backend.register(options)
        return Store(backend, label=store_label(backend, "sqlite", options))

    inventory = refresh(store(), Inputs(config, env_dir)).inventory
    CountingSQLite.reads.clear()
    for name, expected in hostvars_of(inventory).items():
        assert host_vars(store(), Inputs(config, env_dir), name) == expected
    assert host_vars(store(), Inputs(config, env_dir), "no-such-host") == {}
    # an unknown host is looked up in the whole inventory once: on an encrypted store
    # read without its key, that read says so instead of answering {}
    assert CountingSQLite.reads == Counter(
        load_host=len(hostvars_of(inventory)) + 1, read_current=1
    )


def test_host_output_is_the_same_through_load_host(
    config: Path, env_dir: Path, tmp_path: Path
) -> None:
    """--host on SQLite (one host's read) prints what --list holds for that host."""
    pytest.importorskip("sqlalchemy")
    flags = ["--backend", "sqlite", "--backend-option", f"url=sqlite:///{tmp_path / 'i.db'}"]
    listed = generate_cli(config, env_dir, *flags, "--list")
    assert listed.returncode == 0, listed.stderr
    hostvars = hostvars_of(json.loads(listed.stdout))
    log = tmp_path / "inventory.log"
    for name in sorted(hostvars)[:3]:
        shown = generate_cli(config, env_dir, *flags, "--host", name, "--debug", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == json.dumps(hostvars[name], sort_keys=True) + "\n"
        assert f"read host {name} alone" in log.read_text()
