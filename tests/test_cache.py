"""The local cache of network backends: private files, TTL, served only when the backend is down.

In-process tests wrap the real file backend in a :class:`CachingStore` and make
it unreachable by putting a directory where its file was (reading it then
raises ``StoreUnavailable``). End-to-end tests run the real ``osa-inventory``
against a real PostgreSQL and a real etcd, fill the cache with a successful
``--list``, stop the server and check that ``--list`` serves the copy with a
warning while a run that must write fails clearly.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CLI, USER_CONFIG, copy_example, in_ci, require_shared_dir
from osa_inventory.backends.etcd import EtcdBackend
from osa_inventory.backends.sql import MySQLBackend, PostgreSQLBackend, SQLiteBackend
from osa_inventory.errors import ConfigError, StoreError, StoreUnavailable
from osa_inventory.inventory import copy_inventory
from osa_inventory.jsonio import dumps_inventory
from osa_inventory.settings import resolve_settings
from osa_inventory.store import open_backend, open_store
from osa_inventory.store.backend import Option
from osa_inventory.store.cache import CachingStore, LocalCache, cache_dir, cache_key
from osa_inventory.store.store import Snapshot, Store
from osa_inventory.testing import sample_inventory

TESTS_DIR = Path(__file__).resolve().parent


# -- in-process: a CachingStore over the file backend ------------------------------------------


def caching_file_store(path: Path, cache: Path, warnings: list[str], ttl: float = 60) -> Any:
    backend = open_backend("file", {"path": str(path)})
    return CachingStore(backend, cache=LocalCache(cache), ttl=ttl, warn=warnings.append)


def make_unreachable(path: Path) -> None:
    path.unlink()
    path.mkdir()  # reading it now fails with StoreUnavailable


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """(store file, cache file, inventory) after a write and a read through a CachingStore."""
    path = tmp_path / "store" / "inventory.json"
    path.parent.mkdir()
    cache = tmp_path / "cache" / "store.json"
    inventory = sample_inventory()
    store = caching_file_store(path, cache, [])
    store.update(lambda _current: copy_inventory(inventory))
    store.read()
    return path, cache, inventory


def test_cache_files_are_private(tmp_path: Path) -> None:
    cache = LocalCache(tmp_path / "cache" / "x.json")
    old = os.umask(0)
    try:
        cache.save(Snapshot(sample_inventory(), None), "label")
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    cache.path.parent.chmod(0o755)  # opened to others: refused, with the fix
    with pytest.raises(StoreError, match=f"chmod 700 {cache.path.parent}"):
        cache.save(Snapshot({**sample_inventory(), "extra": {"hosts": []}}, None), "label")
    cache.path.parent.chmod(0o700)
    cache.save(Snapshot({**sample_inventory(), "extra": {"hosts": []}}, None), "label")
    assert [p.name for p in cache.path.parent.iterdir()] == ["x.json"]  # no temp file left


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == str(tmp_path / "xdg" / "osa-inventory")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == str(tmp_path / "home" / ".cache" / "osa-inventory")


def test_cache_key_names_the_store_without_its_secrets() -> None:
    url = "postgresql+psycopg://deploy:{}@db1/osa"
    key = cache_key("postgresql", {"url": url.format("one"), "password": "a"}, "default", None)
    same = cache_key("postgresql", {"url": url.format("two"), "password": "b"}, "default", None)
    assert key == same
    assert key != cache_key("postgresql", {"url": url.format("one")}, "staging", None)
    assert key != cache_key("mysql", {"url": url.format("one")}, "default", None)
    schema = {"endpoints": Option(str), "cred": Option(str, secret=True)}
    declared = cache_key("etcd", {"endpoints": "e1", "cred": "x"}, "default", schema)
    assert declared == cache_key("etcd", {"endpoints": "e1", "cred": "y"}, "default", schema)


def test_a_read_of_the_same_version_only_touches_the_copy(stored: tuple) -> None:
    path, cache, _ = stored
    before = cache.stat()
    os.utime(cache, (before.st_atime - 100, before.st_mtime - 100))
    caching_file_store(path, cache, []).read()
    after = cache.stat()
    assert after.st_ino == before.st_ino
    assert after.st_mtime > before.st_mtime - 100


def test_serves_the_copy_when_the_backend_is_unreachable(stored: tuple) -> None:
    path, cache, inventory = stored
    copied = cache.read_bytes()
    make_unreachable(path)
    warnings: list[str] = []
    store = caching_file_store(path, cache, warnings)
    snapshot = store.read()
    assert snapshot.inventory == inventory
    assert snapshot.version is not None and snapshot.version.version == 1
    assert len(warnings) == 1
    assert "cannot be reached" in warnings[0] and "serving the local copy" in warnings[0]
    assert str(cache) in warnings[0]
    with pytest.raises(StoreUnavailable, match="never written back"):
        store.update(lambda current: {**current, "new_group": {"hosts": []}})
    assert not store.remember_fingerprint(snapshot, "abc")
    assert cache.read_bytes() == copied
    assert path.is_dir()  # nothing was written to the store either


def test_a_copy_older_than_the_ttl_is_not_served(stored: tuple) -> None:
    path, cache, _ = stored
    make_unreachable(path)
    old = time.time() - 120
    os.utime(cache, (old, old))
    with pytest.raises(StoreUnavailable, match=r"more than cache_ttl \(60 s\)"):
        caching_file_store(path, cache, [], ttl=60).read()


def test_without_a_copy_the_backend_error_stands(tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    path.mkdir()
    with pytest.raises(StoreUnavailable, match="cannot read"):
        caching_file_store(path, tmp_path / "cache.json", []).read()


def test_a_writer_holding_the_lock_never_reads_the_copy(stored: tuple) -> None:
    path, cache, _ = stored
    store = caching_file_store(path, cache, [])
    with store.locked():
        make_unreachable(path)
        with pytest.raises(StoreUnavailable, match="cannot read"):
            store.read()


def test_a_commit_refreshes_the_copy(stored: tuple) -> None:
    path, cache, inventory = stored
    store = caching_file_store(path, cache, [])
    changed = {**copy_inventory(inventory), "extra_group": {"hosts": []}}
    store.update(lambda _current: changed)
    assert LocalCache(cache).load().snapshot.inventory == changed  # type: ignore[union-attr]


# -- settings and open_store ----------------------------------------------------------------


def test_cache_ttl_setting(tmp_path: Path) -> None:
    ini = tmp_path / "osa.ini"
    ini.write_text("[inventory]\ncache_ttl = 600\n")
    env = {"OSA_INVENTORY_CONFIG": str(ini)}
    assert resolve_settings(tmp_path, env={}).cache_ttl.value == 86400.0
    assert resolve_settings(tmp_path, env=env).cache_ttl.value == 600.0
    by_env = resolve_settings(tmp_path, env={**env, "OSA_INVENTORY_CACHE_TTL": "30"})
    assert (by_env.cache_ttl.value, by_env.cache_ttl.source) == (
        30.0,
        "env OSA_INVENTORY_CACHE_TTL",
    )
    by_flag = resolve_settings(tmp_path, env=env, cache_ttl=0)
    assert (by_flag.cache_ttl.value, by_flag.cache_ttl.source) == (0.0, "--cache-ttl")
    assert ("cache_ttl", "600", f"{ini} [inventory]") in resolve_settings(tmp_path, env=env).rows()
    with pytest.raises(ConfigError, match=r"cache_ttl 'soon' .* is not a number of seconds"):
        resolve_settings(tmp_path, env={"OSA_INVENTORY_CACHE_TTL": "soon"})


def test_open_store_caches_network_backends_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    file_store = open_store(resolve_settings(tmp_path, env={}))
    assert type(file_store) is Store
    url = "postgresql+psycopg://deploy@127.0.0.1:1/osa"
    flags = ["url=" + url]
    spec = "postgresql"
    remote = open_store(resolve_settings(tmp_path, backend=spec, backend_options=flags, env={}))
    assert isinstance(remote, CachingStore)
    assert remote.cache.path.parent == tmp_path / "xdg" / "osa-inventory"
    off = resolve_settings(tmp_path, backend=spec, backend_options=flags, cache_ttl=0, env={})
    assert type(open_store(off)) is Store


def test_network_backends_declare_it() -> None:
    assert PostgreSQLBackend.network and MySQLBackend.network and EtcdBackend.network
    assert not getattr(SQLiteBackend, "network", False)


# -- end to end: the real command, real servers ----------------------------------------------


def run(*args: Any, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


def _skip_or_fail(message: str) -> None:
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def postgres_store() -> Iterator[tuple[list[str], Callable[[], None]]]:
    """(store flags, stop) for a fresh PostgreSQL server of this test's own."""
    from osa_inventory.testing import servers as services

    missing = services.missing_message("postgresql")
    if missing:
        _skip_or_fail(missing)
    server = services.start_postgres()
    try:
        services.create_database(server, "osa")
        spec = "postgresql"
        yield ["--backend", spec, "--backend-option", f"url={server.url('osa')}"], server.stop
    finally:
        server.stop()


@pytest.fixture
def etcd_store(tmp_path: Path) -> Iterator[tuple[list[str], Callable[[], None]]]:
    """(store flags, stop) for a one-member etcd of this test's own."""
    from osa_inventory.testing.etcd_cluster import EtcdCluster, etcd_binary

    binary = etcd_binary()
    if binary is None:
        _skip_or_fail("etcd not found on PATH; install it with: apt-get install etcd-server")
    cluster = EtcdCluster(tmp_path / "etcd", size=1, binary=str(binary)).start()
    try:
        spec = "etcd"
        flags = ["--backend", spec, "--backend-option", f"endpoints={cluster.endpoints}"]
        yield [*flags, "--backend-option", "timeout=1"], cluster.stop
    finally:
        cluster.stop()


@pytest.mark.parametrize("server", ["postgres_store", "etcd_store"])
def test_list_serves_the_copy_when_the_backend_is_down(
    server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    flags, stop = request.getfixturevalue(server)
    config = copy_example("prod", tmp_path / "deploy")
    environment = require_shared_dir() / "inventory"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        PYTHONPATH=os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]),
        OSA_INVENTORY_CONFIG=str(tmp_path / "no-osa.ini"),
    )
    args = ["--config", config, "--environment", environment, *flags]

    first = run(*args, "--list", env=env)
    assert first.returncode == 0, first.stderr
    cached = list((tmp_path / "xdg" / "osa-inventory").glob("*.json"))  # the store copy
    assert len(cached) == 1
    assert stat.S_IMODE(cached[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(cached[0].parent.stat().st_mode) == 0o700
    copied = cached[0].read_bytes()
    ours = json.loads(first.stdout)

    stop()
    offline = run(*args, "--list", env=env)
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout) == ours
    warnings = offline.stderr.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("osa-inventory: warning:"), warnings
    assert "cannot be reached" in warnings[0] and str(cached[0]) in warnings[0]
    host = sorted(ours["_meta"]["hostvars"])[0]
    one = run(*args, "--host", host, env=env)
    assert one.returncode == 0 and json.loads(one.stdout) == ours["_meta"]["hostvars"][host]

    data = yaml.safe_load((config / USER_CONFIG).read_text())
    data["global_overrides"]["cache_test_marker"] = "changed while the backend is down"
    (config / USER_CONFIG).write_text(yaml.safe_dump(data))
    changed = run(*args, "--list", env=env)
    assert changed.returncode == 3
    assert changed.stdout == ""
    error = changed.stderr.strip().splitlines()[-1]
    assert error.startswith("osa-inventory: error: cannot write the inventory:")
    assert "never written back" in error
    assert cached[0].read_bytes() == copied

    expired = run(*args, "--list", env={**env, "OSA_INVENTORY_CACHE_TTL": "0.001"})
    assert expired.returncode == 3 and expired.stdout == ""
    assert "more than cache_ttl" in expired.stderr
    shutil.rmtree(tmp_path / "xdg")
    gone = run(*args, "--list", env=env)
    assert gone.returncode == 3 and "osa-inventory: error:" in gone.stderr


def test_current_local_copy_is_served_after_one_head_request(tmp_path: Path) -> None:
    """The copy also speeds up reads: when the backend's head is the cached version, its
    bytes are served without reading the store; anything else falls back to a read."""
    path, cache = tmp_path / "store.json", tmp_path / "cache.json"
    warnings: list[str] = []
    store = caching_file_store(path, cache, warnings)
    inventory = sample_inventory()
    store.update(lambda _current: inventory)
    assert store.read_canonical() == (store.read().version, dumps_inventory(inventory).encode())

    other = caching_file_store(path, tmp_path / "other-cache.json", warnings)
    changed = copy_inventory(inventory)
    changed["all"]["vars"]["changed"] = True
    other.update(lambda _current: changed)
    version, body = store.read_canonical()
    assert body is None and version is not None  # stale copy: read the store instead
    assert store.read().inventory == changed  # ...which refreshes the copy
    assert store.read_canonical()[1] == dumps_inventory(changed).encode()

    cache.write_bytes(cache.read_bytes().replace(b'"changed": true', b'"changed": 1'))
    assert store.read_canonical()[1] is None  # a damaged copy is never served
    assert warnings == []
