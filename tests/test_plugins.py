"""Third-party backends: discovery, use through the real command, and the errors users see.

The sample plugin in ``examples/dummy-plugin`` is installed with pip into a
temporary folder once per session, and ``osa-inventory`` runs in subprocesses
with that folder on ``PYTHONPATH``: the plugin is found through its entry point
exactly as after ``pip install osa-inventory-dummy``, without touching
osa-inventory's own environment.

Deliberately broken backends live in ``tests/plugins_for_tests.py``; they are
reached through import paths, and through entry points of a metadata-only
distribution written into another temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from conftest import (
    CLI,
    INVENTORY_FILE,
    REPO_DIR,
    USER_CONFIG,
    copy_example,
    in_ci,
    require_shared_dir,
    shared_dir_path,
)
from osa_inventory.store import registry

PLUGIN_SOURCE = REPO_DIR / "examples" / "dummy-plugin"
TESTS_DIR = Path(__file__).resolve().parent
EXAMPLE = "aio"
PIP_TIMEOUT = 600


# -- installing the sample plugin -----------------------------------------------------------


def _pip_install(source: Path, target: Path, *, isolated: bool) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir"]
    command += ["--disable-pip-version-check", "--no-input", "--target", str(target)]
    if not isolated:
        command.append("--no-build-isolation")
    return subprocess.run(
        [*command, str(source)],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )


def _builds_wheels_offline() -> bool:
    """Whether this environment's setuptools can build a wheel without fetching anything."""
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return False
    numbers = re.match(r"(\d+)(?:\.(\d+))?", version)
    if numbers and (int(numbers[1]), int(numbers[2] or 0)) >= (70, 1):  # has bdist_wheel
        return True
    try:
        metadata.version("wheel")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed sample plugin (put it on PYTHONPATH).

    ``--no-build-isolation`` works offline when the venv's setuptools can build
    wheels on its own (setuptools >= 70.1, or with ``wheel`` installed); the
    default, isolated build fetches setuptools from the configured index. The
    likely one is tried first, the other if it fails. The source is copied first
    so that setuptools' build/ and *.egg-info never land in the repository.
    """
    base = tmp_path_factory.mktemp("dummy-plugin")
    source = base / "src"
    shutil.copytree(
        PLUGIN_SOURCE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    attempts = []
    order = (False, True) if _builds_wheels_offline() else (True, False)
    for isolated in order:
        target = base / ("isolated" if isolated else "site")
        started = time.monotonic()
        proc = _pip_install(source, target, isolated=isolated)
        took = time.monotonic() - started
        attempts.append(
            f"pip install ({'with' if isolated else 'without'} build isolation, {took:.1f} s) "
            f"exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
        if proc.returncode == 0:
            assert (target / "osa_inventory_dummy" / "__init__.py").is_file()
            return target
    message = "cannot install examples/dummy-plugin with pip:\n" + "\n".join(attempts)
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def broken_plugins_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A metadata-only distribution declaring entry points to broken backends."""
    root = tmp_path_factory.mktemp("broken-plugins")
    info = root / "osa_inventory_broken_plugins-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: osa-inventory-broken-plugins\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[osa_inventory.backends]\n"
        "needs_postgres = plugins_for_tests:NeedsPostgres\n"
        "lacks_write = plugins_for_tests:LacksWrite\n"
        "unimportable = module_that_does_not_exist_either:Backend\n"
    )
    return root


# -- running the command ----------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment that no osa.ini, OSA_* variable or earlier lock can leak into."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_") and k != "PYTHONPATH"}
    env["OSA_INVENTORY_CONFIG"] = str(tmp_path / "no-osa.ini")  # does not exist: defaults
    runtime = tmp_path / "runtime"  # where the front end keeps local locks
    runtime.mkdir()
    env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def run(
    env: dict[str, str], *args: object, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess:
    if path:
        env = {**env, "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    return subprocess.run(
        [str(CLI), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single error line of a failed run (and nothing on stdout, no traceback)."""
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("osa-inventory: error: "), proc.stderr
    assert proc.stdout == ""
    return lines[0]


def backends_table(proc: subprocess.CompletedProcess) -> dict[str, tuple[str, str, str]]:
    """``osa-inventory backends`` output as name -> (usable, provided by, note)."""
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["backend", "usable", "provided", "by", "note"]
    rows = {}
    for line in lines[2:]:
        name, usable, target, *note = line.split(None, 3)
        rows[name] = (usable, target, note[0] if note else "")
    return rows


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of an OSA example config."""
    return copy_example(EXAMPLE, tmp_path / "config")


@pytest.fixture
def env_dir() -> Path:
    """OSA's base env.d, for --environment."""
    return require_shared_dir() / "inventory"


# -- the built-in list ------------------------------------------------------------------------


def test_builtin_backends_equal_the_distributions_entry_points():
    installed = {
        ep.name: ep.value
        for ep in metadata.distribution("osa-inventory").entry_points
        if ep.group == registry.NAMESPACE
    }
    assert installed == registry.BUILTIN_BACKENDS


def test_builtin_backends_equal_pyproject():
    """The same check against the source, which catches a venv whose metadata is stale."""
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())
    declared = project["project"]["entry-points"][registry.NAMESPACE]
    assert declared == registry.BUILTIN_BACKENDS, (
        "keep BUILTIN_BACKENDS in store/registry.py equal to the entry points in pyproject.toml "
        "(then reinstall: pip install -e .)"
    )


# -- discovery --------------------------------------------------------------------------------


def test_backends_lists_the_installed_plugin_as_usable(plugin_dir, cli_env):
    rows = backends_table(run(cli_env, "backends", path=(plugin_dir,)))
    assert rows["dummy"] == ("yes", "osa_inventory_dummy:DummyBackend", "")
    assert rows["file"][0] == "yes"
    assert rows["memory"][0] == "yes"


def test_backends_without_the_plugin_does_not_list_it(cli_env):
    rows = backends_table(run(cli_env, "backends"))
    assert "dummy" not in rows
    assert set(registry.BUILTIN_BACKENDS) <= set(rows)


def test_backends_shows_why_a_plugin_is_unusable(plugin_dir, broken_plugins_dir, cli_env):
    proc = run(cli_env, "backends", path=(plugin_dir, broken_plugins_dir, TESTS_DIR))
    rows = backends_table(proc)
    assert rows["dummy"][0] == "yes"
    usable, target, note = rows["needs_postgres"]
    assert (usable, target) == ("no", "plugins_for_tests:NeedsPostgres")
    assert "module_that_does_not_exist" in note
    assert "pip install 'osa-inventory[postgresql]'" in note
    usable, _, note = rows["lacks_write"]
    assert usable == "no"
    assert "lacks write" in note
    usable, target, note = rows["unimportable"]
    assert (usable, target) == ("no", "module_that_does_not_exist_either:Backend")
    assert note.startswith("cannot load:")


# -- using the plugin ------------------------------------------------------------------------


def test_dummy_stores_and_prints_what_the_file_backend_prints(
    plugin_dir, cli_env, tmp_path, env_dir
):
    """Both ways round: one backend generates, the other adopts the same store."""
    # The file backend generates a fresh inventory ...
    file_config = copy_example(EXAMPLE, tmp_path / "file-config")
    by_file = run(cli_env, "--config", file_config, "--environment", env_dir, "--list")
    assert by_file.returncode == 0, by_file.stderr
    # ... and the dummy backend, seeded with that store, prints the same bytes.
    dummy_config = copy_example(EXAMPLE, tmp_path / "dummy-config")
    store = tmp_path / "dummy-store" / "inventory.json"
    store.parent.mkdir()
    shutil.copyfile(file_config / INVENTORY_FILE, store)
    stat_before = store.stat()
    by_dummy = run(
        cli_env,
        "--backend", "dummy", "--backend-option", f"path={store}",
        "--config", dummy_config, "--environment", env_dir, "--list",
        path=(plugin_dir,),
    )  # fmt: skip
    assert by_dummy.returncode == 0, by_dummy.stderr
    assert by_dummy.stdout == by_file.stdout
    # Nothing changed, so nothing was written; the config dir was not used as a store.
    assert (store.stat().st_ino, store.stat().st_mtime_ns) == (
        stat_before.st_ino,
        stat_before.st_mtime_ns,
    )
    assert sorted(p.name for p in dummy_config.iterdir()) == [USER_CONFIG]


def test_dummy_generates_and_the_file_backend_adopts(plugin_dir, cli_env, tmp_path, env_dir):
    dummy_config = copy_example(EXAMPLE, tmp_path / "dummy-config")
    store = tmp_path / "dummy-store" / "inventory.json"  # the folder does not exist yet
    args = ["--backend", "dummy", "--backend-option", f"path={store}", "--config", dummy_config]
    args += ["--environment", env_dir]
    first = run(cli_env, *args, "--list", path=(plugin_dir,))
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    stored = json.loads(store.read_bytes())
    assert stored == json.loads(first.stdout)
    assert stored["_meta"]["hostvars"], "the example has hosts"
    assert sorted(p.name for p in dummy_config.iterdir()) == [USER_CONFIG]
    assert [p.name for p in store.parent.iterdir()] == [store.name], "no temp file left behind"

    # A second run reads the store back: same output, no rewrite (same inode).
    inode = store.stat().st_ino
    second = run(cli_env, *args, "--list", path=(plugin_dir,))
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert store.stat().st_ino == inode

    # --host is answered from the plugin's load().
    host = next(iter(sorted(stored["_meta"]["hostvars"])))
    by_host = run(cli_env, *args, "--host", host, path=(plugin_dir,))
    assert by_host.returncode == 0, by_host.stderr
    assert json.loads(by_host.stdout) == stored["_meta"]["hostvars"][host]

    # The file backend adopting the dummy's store prints the same bytes.
    file_config = copy_example(EXAMPLE, tmp_path / "file-config")
    shutil.copyfile(store, file_config / INVENTORY_FILE)
    by_file = run(cli_env, "--config", file_config, "--environment", env_dir, "--list")
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stdout == first.stdout


def test_dummy_by_import_path(plugin_dir, cli_env, config_dir, env_dir, tmp_path):
    store = tmp_path / "by-path.json"
    proc = run(
        cli_env,
        "--backend", "osa_inventory_dummy:DummyBackend", "--backend-option", f"path={store}",
        "--config", config_dir, "--environment", env_dir, "--list",
        path=(plugin_dir,),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(store.read_bytes()) == json.loads(proc.stdout)


def test_dummy_configured_in_osa_ini(plugin_dir, cli_env, config_dir, env_dir, tmp_path):
    store = tmp_path / "from-ini.json"
    ini = tmp_path / "osa.ini"
    ini.write_text(f"[inventory]\nbackend = dummy\n\n[backend:dummy]\npath = {store}\n")
    env = {**cli_env, "OSA_INVENTORY_CONFIG": str(ini)}
    proc = run(env, "--config", config_dir, "--environment", env_dir, path=(plugin_dir,))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(store.read_bytes()) == json.loads(proc.stdout)
    status = run(env, "lock", "status", "--config", config_dir, path=(plugin_dir,))
    assert status.returncode == 0, status.stderr
    assert status.stdout.rstrip().endswith("not locked")


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["--list"], ["lock", "status"]])
def test_unknown_backend_lists_the_available_ones(
    command, plugin_dir, cli_env, config_dir, env_dir
):
    args = [*command, "--backend", "nosuch", "--config", config_dir]
    if command == ["--list"]:
        args += ["--environment", env_dir]
    error = one_line_error(run(cli_env, *args, path=(plugin_dir,)))
    assert "unknown backend 'nosuch'" in error
    listed = error.split("available backends: ", 1)[1].split(" (", 1)[0].split(", ")
    installed = backends_table(run(cli_env, "backends", path=(plugin_dir,)))
    assert listed == sorted(installed)
    assert {"dummy", "file", "memory"} <= set(listed)
    assert "or give an import path 'package.module:Class'" in error
    assert list(config_dir.iterdir()) == [config_dir / USER_CONFIG]


@pytest.mark.parametrize(
    "backend",
    ["needs_postgres", "plugins_for_tests:NeedsPostgres"],
    ids=["entry-point", "import-path"],
)
def test_missing_dependency_names_the_pip_extra(
    backend, broken_plugins_dir, cli_env, config_dir, env_dir
):
    proc = run(
        cli_env,
        "--backend", backend, "--backend-option", "url=postgresql://db/osa",
        "--config", config_dir, "--environment", env_dir, "--list",
        path=(broken_plugins_dir, TESTS_DIR),
    )  # fmt: skip
    error = one_line_error(proc)
    assert "module_that_does_not_exist" in error
    assert "pip install 'osa-inventory[postgresql]'" in error
    assert proc.returncode == 3  # StoreUnavailable


def test_missing_dependency_without_extra_names_the_module(cli_env, config_dir):
    proc = run(
        cli_env, "lock", "status", "--backend", "plugins_for_tests:NeedsModuleNoExtra",
        "--config", config_dir, path=(TESTS_DIR,),
    )  # fmt: skip
    assert "pip install module_that_does_not_exist" in one_line_error(proc)


@pytest.mark.parametrize(
    "backend", ["lacks_write", "plugins_for_tests:LacksWrite"], ids=["entry-point", "import-path"]
)
def test_a_class_without_write_is_refused(backend, broken_plugins_dir, cli_env, config_dir):
    proc = run(
        cli_env, "lock", "status", "--backend", backend, "--config", config_dir,
        path=(broken_plugins_dir, TESTS_DIR),
    )  # fmt: skip
    error = one_line_error(proc)
    assert "LacksWrite lacks write" in error
    assert "register(options), load() and write(inventory)" in error


def test_an_entry_point_that_cannot_be_imported(broken_plugins_dir, cli_env, config_dir):
    proc = run(
        cli_env, "lock", "status", "--backend", "unimportable", "--config", config_dir,
        path=(broken_plugins_dir, TESTS_DIR),
    )  # fmt: skip
    error = one_line_error(proc)
    assert "backend unimportable failed to load" in error
    assert "module_that_does_not_exist_either" in error


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("plugins_for_tests", "must look like 'package.module:Class'"),
        ("plugins_for_tests:Nothing", "plugins_for_tests has no attribute Nothing"),
        ("no_such_module_here:Backend", "cannot import no_such_module_here"),
    ],
)
def test_bad_import_paths(backend, expected, cli_env, config_dir):
    # A bare module name is looked up as an entry point name, so write it with a colon.
    name = backend if ":" in backend else f"{backend}:"
    proc = run(
        cli_env, "lock", "status", "--backend", name, "--config", config_dir,
        path=(TESTS_DIR,),
    )  # fmt: skip
    assert expected in one_line_error(proc)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("backup_keep=lots", "backend file: option backup_keep='lots' is not a valid int"),
        ("colour=blue", "backend file: unknown option colour; known options: backup_keep, path"),
        ("backup_keep", "--backend-option 'backup_keep': write it as key=value"),
        ("backup_keep=0", "backup_keep must be 1 or more"),
    ],
)
def test_bad_file_backend_option(option, expected, cli_env, config_dir, env_dir):
    proc = run(
        cli_env, "--backend-option", option,
        "--config", config_dir, "--environment", env_dir, "--list",
    )  # fmt: skip
    assert expected in one_line_error(proc)
    assert proc.returncode == 2  # ConfigError
    assert list(config_dir.iterdir()) == [config_dir / USER_CONFIG]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], "backend dummy: option path is required"),
        (["path=/tmp/x.json", "colour=blue"], "backend dummy: unknown option colour"),
    ],
)
def test_bad_dummy_options(options, expected, plugin_dir, cli_env, config_dir):
    flags = [item for option in options for item in ("--backend-option", option)]
    proc = run(
        cli_env, "lock", "status", "--backend", "dummy", *flags, "--config", config_dir,
        path=(plugin_dir,),
    )  # fmt: skip
    assert expected in one_line_error(proc)
    assert proc.returncode == 2


def test_dummy_corrupt_store_is_one_line(plugin_dir, cli_env, config_dir, env_dir, tmp_path):
    store = tmp_path / "corrupt.json"
    store.write_text('{"_meta": ')
    proc = run(
        cli_env,
        "--backend", "dummy", "--backend-option", f"path={store}",
        "--config", config_dir, "--environment", env_dir, "--list",
        path=(plugin_dir,),
    )  # fmt: skip
    error = one_line_error(proc)
    assert f"{store} is not valid JSON" in error
    assert proc.returncode == 3  # StoreCorrupt
    assert store.read_text() == '{"_meta": '


# -- the plugin's own tests ------------------------------------------------------------------


def test_the_plugins_conformance_suite_passes(plugin_dir, cli_env):
    """What a plugin author runs: pytest in the plugin's folder, the plugin installed."""
    source = plugin_dir.parent / "src"  # the copy the plugin was installed from
    env = {**cli_env, "PYTHONPATH": str(plugin_dir)}
    shared = shared_dir_path()
    if shared.is_dir():
        env["OSA_SHARED_DIR"] = str(shared)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-ra"],
        capture_output=True,
        text=True,
        cwd=source,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary


# -- defects found and fixed --


def test_two_stores_of_one_plugin_do_not_share_the_local_lock(plugin_dir, tmp_path, monkeypatch):
    from stevedore.extension import ExtensionManager

    from osa_inventory.errors import LockTimeout
    from osa_inventory.settings import resolve_settings
    from osa_inventory.store import open_store

    monkeypatch.syspath_prepend(str(plugin_dir))
    # stevedore keeps a namespace's entry points for the life of the process: an earlier
    # test of this process may have listed them before the plugin was on sys.path
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    env = {"OSA_INVENTORY_CONFIG": str(tmp_path / "no-osa.ini")}
    stores = [
        open_store(
            resolve_settings(
                tmp_path,
                backend="dummy",
                backend_options=[f"path={tmp_path / name}"],
                lock_timeout=0,
                env=env,
            )
        )
        for name in ("a.json", "b.json")
    ]
    with stores[0].locked():
        try:
            stores[1].update(lambda inventory: {**inventory, "all": {"vars": {"x": 1}}})
        except LockTimeout as exc:
            pytest.fail(f"a write to another store waited for this one's lock: {exc}")
