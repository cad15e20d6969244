"""``osa-inventory migrate``: the inventory and its history, copied between backends.

The round trip file -> SQLite -> PostgreSQL -> etcd -> file runs the real
command for every hop, and after each one the target must hold the source's
versions (content, time, actor, command, message) and the source must be
untouched. PostgreSQL and etcd are started from the binaries on this machine;
without them (or their backend modules) the test is skipped, and fails under
``CI=true``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    CLI,
    INVENTORY_FILE,
    copy_example,
    dir_snapshot,
    one_line_error,
    osa_write_in_place,
    reference_path,
    require_module,
    require_shared_dir,
)
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store

TESTS_DIR = Path(__file__).resolve().parent
SCRUBBED = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS", "PYTHONPATH")


def cli(*args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OSA_") and k not in SCRUBBED}
    full["OSA_INVENTORY_CONFIG"] = "/nonexistent/osa.ini"
    full.update(env or {})
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, env=full, timeout=180
    )


@dataclass(frozen=True)
class Place:
    """One store: its URL for the command, and backend + options for the Python API."""

    url: str
    backend: str
    options: dict[str, str]

    def store(self) -> Store:
        return Store(open_backend(self.backend, self.options), label=self.url, lock_timeout=5)

    def versions(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(metadata, content) of every retained version, oldest first."""
        store = self.store()
        try:
            found = []
            for info in store.history():
                meta = info.to_dict()
                meta.pop("lineage")
                meta["extra"] = {k: v for k, v in info.extra.items() if k != "digest"}
                found.append((meta, store.read_version(info.version)))
            return found
        finally:
            store.close()


def file_place(path: Path) -> Place:
    return Place(f"file://{path}", "file", {"path": str(path)})


def sqlite_place(path: Path) -> Place:
    url = f"sqlite:///{path}"
    return Place(url, "sqlite", {"url": url})


def assert_same_history(source: Place, target: Place) -> None:
    """Same versions, numbers, contents and metadata (an input fingerprint where both keep it).

    Times must agree to the microsecond, the precision of the SQL backends.
    """
    expected, got = source.versions(), target.versions()
    assert len(got) == len(expected)
    for (meta_a, content_a), (meta_b, content_b) in zip(expected, got, strict=True):
        assert content_b == content_a, meta_a["version"]
        extra_a, extra_b = meta_a.pop("extra"), meta_b.pop("extra")
        assert meta_b.pop("time") == pytest.approx(meta_a.pop("time"), abs=1e-6)
        assert meta_b == meta_a
        if extra_a.get("fingerprint") and extra_b.get("fingerprint"):
            assert extra_b == extra_a


@pytest.fixture(scope="module")
def history_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config dir whose file store has five versions (built once, copied by each test)."""
    require_shared_dir()
    config = copy_example("prod", tmp_path_factory.mktemp("template") / "config")
    (config / INVENTORY_FILE).write_bytes(reference_path("prod").read_bytes())
    environment = require_shared_dir() / "inventory"
    steps = [
        ["hosts", "remove", "compute2", "-m", "retire compute2"],
        ["--environment", environment, "--list"],  # compute2 is back, with a fingerprint
        ["groups", "remove", "nova_compute", "-m", "drop a group"],
        ["rollback", "2", "-m", "back to 2"],
    ]
    for step in steps:
        proc = cli(*step, "--config", config)
        assert proc.returncode == 0, (step, proc.stderr)
    return config


@pytest.fixture
def source_store(history_template: Path, tmp_path: Path) -> tuple[Path, Place]:
    """A fresh copy of the template: (config dir, its file store)."""
    config = tmp_path / "config"
    shutil.copytree(history_template, config)
    return config, file_place(config / INVENTORY_FILE)


def migrate(source: Place, target: Place, *extra: str) -> subprocess.CompletedProcess:
    return cli("migrate", "--from", source.url, "--to", target.url, *extra)


def snapshot_of(place: Place, tmp_path: Path) -> Any:
    """What must not change in a source: its files, or its versions."""
    if place.backend == "file":
        return dir_snapshot(Path(place.options["path"]).parent)
    if place.backend == "sqlite":
        return Path(place.options["url"].removeprefix("sqlite:///")).read_bytes()
    return place.versions()


def test_round_trip_file_sqlite_postgresql_etcd_file(
    source_store: tuple[Path, Place], tmp_path: Path, pg_server: Any, etcd_endpoints: str
) -> None:
    from osa_inventory.testing import servers as services

    require_module("osa_inventory.backends.sql")
    config, origin = source_store
    assert len(origin.versions()) == 5
    database = f"mig_{uuid.uuid4().hex[:10]}"
    services.create_database(pg_server, database)
    pg_url = pg_server.url(database)
    prefix = f"/mig-{uuid.uuid4().hex[:10]}"
    etcd_options = {"endpoints": etcd_endpoints, "prefix": prefix}
    (tmp_path / "back").mkdir()
    hops = [
        origin,
        sqlite_place(tmp_path / "inventory.db"),
        Place(pg_url, "postgresql", {"url": pg_url}),
        Place(f"etcd://{etcd_endpoints}{prefix}", "etcd", etcd_options),
        file_place(tmp_path / "back" / INVENTORY_FILE),
    ]
    for source, target in itertools.pairwise(hops):
        before = snapshot_of(source, tmp_path)
        proc = migrate(source, target)
        assert proc.returncode == 0, (source.url, target.url, proc.stderr)
        assert "Verified" in proc.stdout
        assert_same_history(source, target)
        assert snapshot_of(source, tmp_path) == before, f"{source.url} was touched"
    assert_same_history(origin, hops[-1])
    final = hops[-1].options["path"]
    assert Path(final).read_bytes() == (config / INVENTORY_FILE).read_bytes()
    proc = cli("history", "--config", tmp_path / "back", "--format", "json")
    messages = [v["message"] for v in json.loads(proc.stdout)]
    assert messages == [
        "adopted existing inventory file",
        "retire compute2",
        "",
        "drop a group",
        "back to 2",
    ]


def _numbers(place: Place) -> list[int]:
    return [meta["version"] for meta, _ in place.versions()]


def test_outside_change_then_our_run_keeps_every_version_and_migrate_the_numbers(
    tmp_path: Path,
) -> None:
    """OSA's inventory-manage.py edits the file between two of our versions: every
    earlier version stays, numbers never shift, and migrate keeps them."""
    require_module("osa_inventory.backends.sql")
    config = copy_example("prod", tmp_path / "config")
    (config / INVENTORY_FILE).write_bytes(reference_path("prod").read_bytes())
    environment = require_shared_dir() / "inventory"
    steps: list[list[Any]] = [
        ["hosts", "remove", "compute2", "-m", "retire compute2"],  # versions 1 (adopted), 2
        ["osa"],  # OSA's tool: version 3
        ["--environment", environment, "--list"],  # our run: version 4 (compute2 back)
    ]
    for step in steps:
        if step == ["osa"]:
            osa_write_in_place(config, lambda inventory: inventory.pop("nova_compute"))
            continue
        proc = cli(*step, "--config", config)
        assert proc.returncode == 0, (step, proc.stderr)
    source = file_place(config / INVENTORY_FILE)
    assert _numbers(source) == [1, 2, 3, 4]
    history = json.loads(cli("history", "--config", config, "--format", "json").stdout)
    assert [v["message"] for v in history][1:3] == [
        "retire compute2",
        "changed outside osa-inventory",
    ]
    diff = cli("diff", "2", "3", "--config", config, "--format", "json")
    assert diff.returncode == 0, diff.stderr
    assert "nova_compute" in json.dumps(json.loads(diff.stdout)["groups"])

    for target in (sqlite_place(tmp_path / "copy.db"), file_place(tmp_path / "copy.json")):
        proc = migrate(source, target)
        assert proc.returncode == 0, proc.stderr
        assert _numbers(target) == [1, 2, 3, 4]
        assert_same_history(source, target)

    # a source whose oldest versions were dropped keeps its numbers in an empty target too
    short = f"file://{config / INVENTORY_FILE}?backup_keep=2"
    option = ["--backend-option", "backup_keep=2"]
    proc = cli("hosts", "remove", "infra3", "--config", config, *option)
    assert proc.returncode == 0, proc.stderr
    kept = Place(short, "file", {"path": str(config / INVENTORY_FILE), "backup_keep": "2"})
    assert _numbers(kept) == [4, 5]
    target = sqlite_place(tmp_path / "short.db")
    proc = migrate(kept, target)
    assert proc.returncode == 0, proc.stderr
    assert _numbers(target) == [4, 5]


def test_a_target_keeping_fewer_versions_gets_the_newest_with_their_numbers(
    tmp_path: Path,
) -> None:
    from osa_inventory.ops.migrate import migrate as migrate_stores
    from osa_inventory.testing import sample_inventory

    source = file_place(tmp_path / "source.json").store()
    for step in range(1, 6):
        source.update(lambda inv, step=step: {**sample_inventory(), "all": {"vars": {"n": step}}})
    target = Place("small", "file", {"path": str(tmp_path / "small.json"), "backup_keep": "3"})
    report = migrate_stores(source, target.store())
    assert [info.version for info in report.written] == [3, 4, 5]
    assert _numbers(target) == [3, 4, 5]
    assert any("keeps 3 versions" in note for note in report.notes), report.notes


def test_non_empty_target_needs_force(source_store: tuple[Path, Place], tmp_path: Path) -> None:
    _, origin = source_store
    (tmp_path / "target").mkdir()
    target = file_place(tmp_path / "target" / INVENTORY_FILE)
    assert migrate(origin, target).returncode == 0
    before = target.versions()
    one_line_error(migrate(origin, target), "already holds an inventory", "--force")
    assert target.versions() == before
    proc = migrate(origin, target, "--force")
    assert proc.returncode == 0, proc.stderr
    after = target.versions()
    assert after[: len(before)] == before  # the target's own history is kept
    assert [c for _, c in after[len(before) :]] == [c for _, c in origin.versions()]


def test_dry_run_writes_nothing(source_store: tuple[Path, Place], tmp_path: Path) -> None:
    _, origin = source_store
    target = file_place(tmp_path / "copy" / INVENTORY_FILE)
    target_dir = tmp_path / "copy"
    target_dir.mkdir()
    proc = migrate(origin, target, "--dry-run", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["dry_run"] and result["copied_versions"] == [1, 2, 3, 4, 5]
    assert list(target_dir.iterdir()) == []


def test_names_with_options_and_the_configured_source(
    source_store: tuple[Path, Place], tmp_path: Path
) -> None:
    require_module("osa_inventory.backends.sql")
    config, origin = source_store
    db = tmp_path / "named.db"
    ini = tmp_path / "osa.ini"
    ini.write_text(f"[backend:sqlite]\nurl = sqlite:///{db}\n")
    # no --from: the configured store (here the file backend in --config)
    proc = cli(
        "migrate", "--config", config, "--to", "sqlite", env={"OSA_INVENTORY_CONFIG": str(ini)}
    )
    assert proc.returncode == 0, proc.stderr
    assert_same_history(origin, sqlite_place(db))
    # a backend name with --to-option, retention below the history: the newest versions only
    small = tmp_path / "small.db"
    proc = cli(
        "migrate",
        "--from",
        "file",
        "--config",
        config,
        "--to",
        "sqlite",
        "--to-option",
        f"url=sqlite:///{small}",
        "--to-option",
        "retention=2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "the oldest 3 of 5 were not copied" in proc.stdout
    kept = Place(f"sqlite:///{small}", "sqlite", {"url": f"sqlite:///{small}", "retention": "2"})
    assert [c for _, c in kept.versions()] == [c for _, c in origin.versions()[-2:]]


def test_a_store_without_history_copies_the_current_inventory(
    source_store: tuple[Path, Place], tmp_path: Path
) -> None:
    _, origin = source_store
    plain = tmp_path / "plain.json"
    env = {"PYTHONPATH": str(TESTS_DIR)}
    target = ["--to", "minimal_plugin:MinimalPlugin", "--to-option", f"path={plain}"]
    proc = cli("migrate", "--from", origin.url, *target, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "keeps no history" in proc.stdout
    assert json.loads(plain.read_text()) == origin.versions()[-1][1]
    back = file_place(tmp_path / "back" / INVENTORY_FILE)
    (tmp_path / "back").mkdir()
    source = ["--from", "minimal_plugin:MinimalPlugin", "--from-option", f"path={plain}"]
    proc = cli("migrate", *source, "--to", back.url, env=env)
    assert proc.returncode == 0, proc.stderr
    [(meta, content)] = back.versions()
    assert content == origin.versions()[-1][1]
    assert meta["message"].startswith("migrated from")


def test_bad_locations_are_clear_errors(source_store: tuple[Path, Place], tmp_path: Path) -> None:
    _, origin = source_store
    empty = file_place(tmp_path / "empty" / INVENTORY_FILE)
    (tmp_path / "empty").mkdir()
    one_line_error(migrate(origin, origin), "same store")
    one_line_error(migrate(empty, origin), "holds no inventory")
    one_line_error(
        cli("migrate", "--from", origin.url, "--to", "gopher://x/y"), "unknown URL scheme"
    )
    one_line_error(cli("migrate", "--from", origin.url, "--to", "nosuchbackend"), "nosuchbackend")
    proc = cli("migrate", "--from", origin.url, "--to", empty.url, "--to-option", "oops")
    one_line_error(proc, "--to-option", "key=value")
    proc = cli("migrate", "--from", origin.url, "--to", empty.url, "--to-option", "colour=red")
    one_line_error(proc, "colour")
    assert list((tmp_path / "empty").iterdir()) == []


def test_progress_bar_on_a_terminal(source_store: tuple[Path, Place], tmp_path: Path) -> None:
    _, origin = source_store
    (tmp_path / "copy").mkdir()
    target = file_place(tmp_path / "copy" / INVENTORY_FILE)
    proc = cli("migrate", "--from", origin.url, "--to", target.url, env={"FORCE_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "writing target" in proc.stderr and "5/5" in proc.stderr
    (tmp_path / "copy2").mkdir()
    quiet = migrate(origin, file_place(tmp_path / "copy2" / INVENTORY_FILE))
    assert quiet.returncode == 0 and quiet.stderr == ""  # no bar in a pipe
