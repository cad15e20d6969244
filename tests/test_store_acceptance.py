"""Acceptance tests of the storage core through the real ``osa-inventory`` command.

* 8 processes x 25 runs at once on one file store: every run's change lands,
  and the history is consistent;
* ``kill -9`` of a writer at random moments: the store always holds a whole
  version (the previous or the new one) and stays usable;
* the same config gives byte-identical ``--list`` output through every backend.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from conftest import CLI, USER_CONFIG, require_shared_dir
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store

WORKERS = 8
RUNS_PER_WORKER = 25


def _config_with_marker(source: Path, dest: Path, marker: str) -> Path:
    """A copy of an example config whose global_overrides carry ``marker``."""
    dest.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((source / USER_CONFIG).read_text())
    data["global_overrides"]["acceptance_marker"] = marker
    (dest / USER_CONFIG).write_text(yaml.safe_dump(data))
    return dest


def _run(
    config: Path, store_path: Path, environment: Path, *extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(CLI),
            "--config",
            str(config),
            "--environment",
            str(environment),
            "--backend-option",
            f"path={store_path}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_concurrent_runs_lose_no_update(tmp_path: Path) -> None:
    shared = require_shared_dir()
    source = shared / "examples" / "test"
    environment = shared / "inventory"
    store_path = tmp_path / "store" / "openstack_inventory.json"
    store_path.parent.mkdir()

    def worker(index: int) -> list[str]:
        errors = []
        for run in range(RUNS_PER_WORKER):
            config = _config_with_marker(
                source, tmp_path / f"w{index}" / f"r{run}", f"{index}-{run}"
            )
            result = _run(
                config, store_path, environment, "--list", "-m", f"worker {index} run {run}"
            )
            if result.returncode != 0:
                errors.append(result.stderr)
        return errors

    with ThreadPoolExecutor(WORKERS) as pool:
        failures = [e for errors in pool.map(worker, range(WORKERS)) for e in errors]
    assert failures == []

    store = Store(open_backend("file", {"path": str(store_path)}))
    versions = store.history()
    # Every run changed the marker, so every run wrote exactly one version.
    assert versions[-1].version == WORKERS * RUNS_PER_WORKER
    numbers = [v.version for v in versions]
    assert numbers == list(range(numbers[0], numbers[-1] + 1))
    assert len({v.lineage for v in versions}) == 1
    assert {v.message for v in versions} <= {
        f"worker {w} run {r}" for w in range(WORKERS) for r in range(RUNS_PER_WORKER)
    }
    # Retained versions are whole and the head is the stored file.
    for info in versions:
        inventory = store.read_version(info.version)
        assert inventory["all"]["vars"]["acceptance_marker"]
    head = json.loads(store_path.read_text())
    assert store.read().inventory == head
    with tarfile.open(store_path.with_name("backup_openstack_inventory.tar")) as tar:
        for member in tar.getmembers():
            json.load(tar.extractfile(member))


def _check_whole(store_path: Path, possible_markers: set[str]) -> str:
    inventory = json.loads(store_path.read_text())  # never half written
    marker = inventory["all"]["vars"]["acceptance_marker"]
    assert marker in possible_markers
    store = Store(open_backend("file", {"path": str(store_path)}))
    snapshot = store.read()
    assert snapshot.inventory == inventory
    assert snapshot.version is not None
    history = store.history()
    assert history[-1].version == snapshot.version.version
    backups = store_path.with_name("backup_openstack_inventory.tar")
    if len(history) > 1:  # no tar until a second version was written: every run may be killed
        with tarfile.open(backups) as tar:
            for member in tar.getmembers():
                json.load(tar.extractfile(member))
    return marker


def test_kill_9_leaves_a_whole_version(tmp_path: Path) -> None:
    shared = require_shared_dir()
    source = shared / "examples" / "prod"
    environment = shared / "inventory"
    store_path = tmp_path / "openstack_inventory.json"
    first = _config_with_marker(source, tmp_path / "c0", "m0")
    assert _run(first, store_path, environment).returncode == 0
    rng = random.Random(1234)
    markers = {"m0"}
    killed = 0
    for attempt in range(1, 25):
        marker = f"m{attempt}"
        config = _config_with_marker(source, tmp_path / f"c{attempt}", marker)
        process = subprocess.Popen(
            [
                str(CLI),
                "--config",
                str(config),
                "--environment",
                str(environment),
                "--backend-option",
                f"path={store_path}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.0, 0.35))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait()
        markers.add(marker)
        _check_whole(store_path, markers)
    assert killed > 0, "no run was killed mid-way; the timing window is wrong"
    # The store is still writable after all that.
    final = _config_with_marker(source, tmp_path / "final", "final")
    result = _run(final, store_path, environment)
    assert result.returncode == 0, result.stderr
    assert _check_whole(store_path, markers | {"final"}) == "final"


@pytest.mark.parametrize("backend", ["file", "memory"])
def test_list_is_identical_through_every_backend(tmp_path: Path, backend: str) -> None:
    shared = require_shared_dir()
    environment = shared / "inventory"
    config = _config_with_marker(shared / "examples" / "prod", tmp_path / "config", "same")
    reference = subprocess.run(
        [str(CLI), "--config", str(config), "--environment", str(environment), "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    options = [] if backend != "file" else ["--backend-option", f"path={tmp_path / 'other.json'}"]
    result = subprocess.run(
        [
            str(CLI),
            "--config",
            str(config),
            "--environment",
            str(environment),
            "--backend",
            backend,
            *options,
            "--list",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == reference
