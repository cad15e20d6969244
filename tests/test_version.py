"""``--version`` of ``osa-inventory`` and ``osa-inventory-manage``."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from conftest import CLI, copy_example, require_module, run_cli

MANAGE = CLI.parent / "osa-inventory-manage"
VERSION = version("osa-inventory")


def run_manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MANAGE), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def no_osa_ini(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSA_INVENTORY_CONFIG", str(tmp_path / "no-osa.ini"))
    for name in ("OSA_INVENTORY_BACKEND", "OSA_INVENTORY_NAME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("command", ["osa-inventory", "osa-inventory-manage"])
def test_version_of_a_file_store_is_the_package_version(no_osa_ini: Path, command: str) -> None:
    run = run_cli if command == "osa-inventory" else run_manage
    proc = run("--config", str(no_osa_ini), "--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{command} {VERSION}\n", "")


def test_version_shows_the_sql_schema_and_the_upgrade_it_suggests_works(no_osa_ini: Path) -> None:
    require_module("osa_inventory.backends.sql")
    url = f"sqlite:///{no_osa_ini / 'inventory.db'}"
    store = ["--backend", "sqlite", "--backend-option", f"url={url}"]
    before = run_cli("--version", *store)
    assert before.returncode == 0, before.stderr
    first, second = before.stdout.splitlines()
    assert first == f"osa-inventory {VERSION}"
    assert second.startswith("schema: revision none (no schema yet) in sqlite")
    assert second.endswith(": behind: run 'osa-inventory db upgrade'")
    upgrade = run_cli("db", "upgrade", *store)
    assert upgrade.returncode == 0, upgrade.stderr
    after = run_manage("--version", *store)
    assert after.returncode == 0, after.stderr
    (line,) = after.stdout.splitlines()[1:]
    assert line.startswith("schema: revision ") and line.endswith(": up to date")
    head = line.split("latest known ")[1].split(":")[0]
    assert line.startswith(f"schema: revision {head} in ")


def test_an_unreachable_store_does_not_fail_version(no_osa_ini: Path) -> None:
    require_module("osa_inventory.backends.sql")
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://deploy@127.0.0.1:{port}/osa?connect_timeout=5"
    proc = run_cli("--version", "--backend", "postgresql", "--backend-option", f"url={url}")
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first == f"osa-inventory {VERSION}"
    assert second.startswith("schema: not read: postgresql+psycopg://deploy@127.0.0.1:")
    assert "Connection refused" in second or "connection failed" in second


def test_version_excludes_other_actions(no_osa_ini: Path) -> None:
    assert run_cli("--version", "--list").returncode == 2
    assert run_manage("--version", "-l").returncode == 2


def test_the_list_path_never_loads_the_version_code(tmp_path: Path, env_dir: Path) -> None:
    config = copy_example("aio", tmp_path / "config")
    code = (
        "import sys\n"
        "from osa_inventory.cli.main import main\n"
        f"status = main(['--config', {str(config)!r}, '--environment', {str(env_dir)!r}])\n"
        "sys.stdout.flush()\n"
        "loaded = [m for m in ('osa_inventory.cli.version', 'importlib.metadata') "
        "if m in sys.modules]\n"
        "print(status, loaded, file=sys.stderr)\n"
    )
    for _ in range(2):  # generating, then serving the stored version
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert proc.stderr.strip().splitlines()[-1] == "0 []"
