"""Security (docs/security.md): nothing secret recorded, nothing but regular files
replaced, private lock and cache directories, locks judged by their servers,
private file modes, stores tied to their deployment, no stored Jinja that runs.

Each test reproduces a defect the product once had; they run the real command
against real files and servers (PostgreSQL, MariaDB and etcd started by fixtures).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CLI, REPO_DIR, USER_CONFIG
from osa_inventory.errors import LockTimeout, StoreError
from osa_inventory.redact import MASK, redact_argv, redact_text
from osa_inventory.store import open_backend
from osa_inventory.store.backend import LockHolder, WriteMeta
from osa_inventory.store.store import Store, local_lock_path
from osa_inventory.testing import sample_inventory
from osa_inventory.testing import servers as services

DEMO = REPO_DIR / "examples" / "demo"
TESTS_DIR = Path(__file__).resolve().parent
SECRET = "s3cr3t-Pa55w0rd"
KINDS = ("file", "sqlite", "postgresql", "mysql", "etcd")


# -- helpers ---------------------------------------------------------------------------------


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a command: no OSA_* of the caller, no osa.ini unless written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    env["OSA_INVENTORY_CONFIG"] = str(tmp_path / "osa.ini")
    env.update(extra)
    return env


def run(
    tmp_path: Path, *args: Any, cwd: Path | None = None, stdout: Any = None, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *map(str, args)],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or tmp_path,
        env=env_for(tmp_path, **env),
        timeout=120,
        check=False,
    )


def one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def demo_config(directory: Path, rename: Callable[[str], str] | None = None) -> Path:
    """The demo deployment's config in ``directory`` (hosts renamed by ``rename``)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((DEMO / USER_CONFIG).read_text())
    if rename is not None:
        for key, group in config.items():
            if key.endswith("hosts") and isinstance(group, dict):
                config[key] = {rename(host): entry for host, entry in group.items()}
    (directory / USER_CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    return directory


def generate(tmp_path: Path, config: Path, *flags: Any, **env: str) -> subprocess.CompletedProcess:
    return run(tmp_path, "--config", config, "--environment", DEMO, "--list", *flags, **env)


def files_below(path: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# -- servers ---------------------------------------------------------------------------------


def fresh_database(server: services.Server) -> tuple[str, str]:
    """(database, admin URL) of a new database with the schema and the roles' grants."""
    database = f"s_{uuid.uuid4().hex[:12]}"
    services.create_database(server, database)
    url = server.url(database)
    backend = "postgresql" if server.kind == "postgresql" else "mysql"
    open_backend(backend, {"url": url}).upgrade_schema()
    services.grant_writer(server, database)
    services.grant_reader(server, database)
    return database, url


@pytest.fixture
def flags_of(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], list[str]]:
    """The command-line flags that reach a fresh store of each backend kind."""

    def flags(kind: str) -> list[str]:
        if kind == "file":
            return ["--backend", "file", "--config", tmp_path]
        if kind == "sqlite":
            return ["--backend", "sqlite", "--backend-option", f"url=sqlite:///{tmp_path}/i.db"]
        if kind == "etcd":
            endpoints = request.getfixturevalue("etcd_endpoints")
            prefix = f"/sec-{uuid.uuid4().hex[:12]}"
            return [
                "--backend", "etcd", "--backend-option", f"endpoints={endpoints}",
                "--backend-option", f"prefix={prefix}",
            ]  # fmt: skip
        server = request.getfixturevalue("pg_server" if kind == "postgresql" else "mariadb_server")
        _, url = fresh_database(server)
        return ["--backend", kind, "--backend-option", f"url={url}"]

    return flags


def backend_from(flags: list[Any], config: Path | None = None) -> Any:
    """The backend the flags name, opened in this process."""
    from osa_inventory.settings import resolve_settings

    words = list(map(str, flags))
    backend = words[words.index("--backend") + 1]
    options = [words[i + 1] for i, w in enumerate(words) if w == "--backend-option"]
    where = words[words.index("--config") + 1] if "--config" in words else config
    settings = resolve_settings(where, backend=backend, backend_options=options, env={})
    return open_backend(backend, settings.backend_options())


# == 1. secrets =================================================================================


def test_the_rule_masks_secrets_and_keeps_references() -> None:
    argv = [
        "osa-inventory", "--backend-option", f"password={SECRET}",
        f"--backend-option=token={SECRET}", "--backend-option", "password_env=DB_PASSWORD",
        "--backend-option", "password_file=/etc/osa/db.pw", "--backend-option",
        f"url=postgresql://deploy:{SECRET}@db1/osa", "-m", "keystone_hosts=3 added",
    ]  # fmt: skip
    shown = " ".join(redact_argv(argv))
    assert SECRET not in shown
    assert f"password={MASK}" in shown and f"--backend-option=token={MASK}" in shown
    assert "password_env=DB_PASSWORD" in shown and "password_file=/etc/osa/db.pw" in shown
    assert f"url=postgresql://deploy:{MASK}@db1/osa" in shown
    assert "keystone_hosts=3" in shown  # 'key' must be a word of the name
    quoted = redact_text(f"osa-inventory 'password=two {SECRET}' api_key={SECRET}")
    assert SECRET not in quoted and quoted.count(MASK) == 2


def test_config_show_masks_by_declared_secrecy(tmp_path: Path) -> None:
    """etcd declares cert_key a path (shown) and password a secret (masked); an option
    the schema does not know is judged by its name."""
    key = tmp_path / "client.key"
    key.write_text("key\n")
    cert = tmp_path / "client.crt"
    cert.write_text("cert\n")
    proc = run(
        tmp_path, "config", "show", "--format", "json", "--backend", "etcd",
        "--backend-option", f"cert_key={key}", "--backend-option", f"cert_cert={cert}",
        "--backend-option", "user=osa", "--backend-option", f"password={SECRET}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["option cert_key"]["value"] == str(key)
    assert shown["option password"]["value"] == MASK
    assert SECRET not in proc.stdout


@pytest.mark.parametrize("where", ["option", "url"])
def test_no_secret_is_recorded_anywhere(
    where: str, tmp_path: Path, pg_server: services.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password given on the command line reaches no history entry, lock row, debug
    log, local cache header or output."""
    user, password = services.WRITER
    database, _ = fresh_database(pg_server)
    if where == "option":
        store_flags = [
            "--backend", "postgresql", "--backend-option",
            f"url={pg_server.url(database, user)}",
            "--backend-option", f"password={password}",
        ]  # fmt: skip
    else:
        store_flags = [
            "--backend", "postgresql", "--backend-option",
            f"url={pg_server.url(database, user, password)}",
        ]  # fmt: skip
    config = demo_config(tmp_path / "config")
    cache = tmp_path / "cache"
    proc = generate(tmp_path, config, "--debug", *store_flags, XDG_CACHE_HOME=str(cache))
    assert proc.returncode == 0, proc.stderr
    history = run(tmp_path, "history", "--format", "json", *store_flags, XDG_CACHE_HOME=str(cache))
    assert history.returncode == 0, history.stderr
    commands = [row["command"] for row in json.loads(history.stdout)]
    assert commands and all(MASK in c for c in commands), commands
    with contextlib.closing(services.pg_admin(pg_server, database)) as admin:
        rows = admin.execute("SELECT command, message FROM osa_versions").fetchall()
    log = (tmp_path / "inventory.log").read_text()
    assert "stored: changed=True" in log
    assert stat.S_IMODE((tmp_path / "inventory.log").stat().st_mode) == 0o600
    cached = b"".join(files_below(cache).values())
    assert cached, "the network backend kept no local copy"
    for text in (history.stdout, history.stderr, proc.stderr, json.dumps(rows), log):
        assert password not in text
    assert password.encode() not in cached

    # the lock row and `lock status` while a run holds the lock
    monkeypatch.setattr(sys, "argv", ["osa-inventory", *map(str, store_flags)])
    store = Store(backend_from(store_flags), lock_timeout=5)
    with store.locked():
        with contextlib.closing(services.pg_admin(pg_server, database)) as admin:
            (holder,) = admin.execute("SELECT holder FROM osa_locks").fetchone()
        status = run(tmp_path, "lock", "status", *store_flags, XDG_CACHE_HOME=str(cache))
    store.close()
    assert status.returncode == 0 and "locked by" in status.stdout, status.stderr
    assert MASK in holder
    assert password not in holder and password not in status.stdout


def plant_old_secret(kind: str, flags: list[Any], tmp_path: Path) -> None:
    """A version written as an older osa-inventory did: the command line as typed."""
    command = f"osa-inventory --list --backend-option password={SECRET}"
    meta = WriteMeta("someone", "deploy1", command, message=f"url=etcd://u:{SECRET}@e1")
    backend = backend_from(flags, tmp_path)
    backend.write_version(sample_inventory(), meta, backend.head())
    backend.close()


def raw_history(kind: str, flags: list[Any], tmp_path: Path) -> bytes:
    """Every byte the store keeps about its versions, read around osa-inventory."""
    backend = backend_from(flags, tmp_path)
    try:
        if kind == "file":
            return b"".join(files_below(tmp_path).values())
        if kind == "sqlite":
            with contextlib.closing(sqlite3.connect(str(tmp_path / "i.db"))) as conn:
                return repr(conn.execute("SELECT * FROM osa_versions").fetchall()).encode()
        if kind == "etcd":
            prefix = backend.layout.root
            return b"".join(kv.value for kv in backend.client.scan(prefix, revision=0))
        from sqlalchemy import text

        with backend.db.engine.connect() as conn:
            return repr(conn.execute(text("SELECT * FROM osa_versions")).all()).encode()
    finally:
        backend.close()


def doctor_row(tmp_path: Path, flags: list[Any], check: str) -> dict[str, str]:
    proc = run(tmp_path, "doctor", "--format", "json", *flags)
    assert proc.returncode in (0, 1), proc.stderr
    return next(r for r in json.loads(proc.stdout)["checks"] if r["check"] == check)


@pytest.mark.parametrize("kind", KINDS)
def test_doctor_finds_old_secrets_and_history_redact_masks_them(
    kind: str, tmp_path: Path, flags_of: Callable[[str], list[str]]
) -> None:
    flags = flags_of(kind)
    plant_old_secret(kind, flags, tmp_path)
    assert SECRET.encode() in raw_history(kind, flags, tmp_path)
    row = doctor_row(tmp_path, flags, "secrets")
    assert row["status"] == "FAIL" and "version 1" in row["detail"], row
    assert "osa-inventory history redact" in row["detail"]
    listed = run(tmp_path, "history", *flags)
    assert listed.returncode == 0 and SECRET not in listed.stdout, listed.stdout

    proc = run(tmp_path, "history", "redact", *flags)
    assert proc.returncode == 0, proc.stderr
    assert "masked the secrets recorded with versions 1" in proc.stdout
    assert SECRET.encode() not in raw_history(kind, flags, tmp_path)
    assert doctor_row(tmp_path, flags, "secrets")["status"] == "ok"
    again = run(tmp_path, "history", "redact", *flags)
    assert "nothing changed" in again.stdout, again.stdout
    backend = backend_from(flags, tmp_path)
    try:  # contents and numbering untouched
        assert backend.read_version(1) == sample_inventory()
        assert [v.version for v in backend.list_versions()] == [1]
    finally:
        backend.close()


def test_migrate_does_not_copy_old_secrets(tmp_path: Path) -> None:
    flags = ["--backend", "file", "--config", tmp_path]
    plant_old_secret("file", flags, tmp_path)
    target = tmp_path / "copy.db"
    proc = run(tmp_path, "migrate", *flags, "--to", f"sqlite:///{target}")
    assert proc.returncode == 0, proc.stderr
    with contextlib.closing(sqlite3.connect(str(target))) as conn:
        rows = conn.execute("SELECT command, message FROM osa_versions").fetchall()
    assert len(rows) == 1 and MASK in rows[0][0], rows
    assert SECRET not in repr(rows)


# == 2. special files ===========================================================================


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A config dir whose file store holds the demo inventory."""
    config = demo_config(tmp_path / "config")
    proc = generate(tmp_path, config)
    assert proc.returncode == 0, proc.stderr
    return config


def test_export_to_a_fifo_streams_into_it(tmp_path: Path, stored: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    keeper = os.open(fifo, os.O_WRONLY)  # a writer of ours: reads wait instead of seeing EOF
    os.set_blocking(reader, True)
    received: list[bytes] = []

    def drain() -> None:
        while chunk := os.read(reader, 65536):
            received.append(chunk)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        proc = run(tmp_path, "export", "--config", stored, "-o", fifo)
    finally:
        os.close(keeper)
        thread.join(30)
        os.close(reader)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a file"
    expected = run(tmp_path, "export", "--config", stored).stdout
    assert b"".join(received).decode().strip() == expected.strip()


def test_export_to_dev_null_and_dev_stdout(tmp_path: Path, stored: Path) -> None:
    before = os.stat("/dev/null")
    proc = run(tmp_path, "export", "--config", stored, "-o", "/dev/null")
    assert proc.returncode == 0, proc.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev, after.st_mode) == (
        before.st_ino,
        before.st_rdev,
        before.st_mode,
    )
    expected = run(tmp_path, "export", "--config", stored).stdout
    piped = run(tmp_path, "export", "--config", stored, "-o", "/dev/stdout")
    assert piped.returncode == 0 and piped.stdout.strip() == expected.strip(), piped.stderr
    out = tmp_path / "out.json"
    out.write_text("")
    inode = out.stat().st_ino
    with open(out, "w") as handle:  # the shell's `> out.json`
        proc = run(tmp_path, "export", "--config", stored, "-o", "/dev/stdout", stdout=handle)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_ino == inode, "the file behind standard output was replaced"
    assert out.read_text().strip() == expected.strip()


def test_retention_set_never_replaces_a_device(tmp_path: Path, stored: Path) -> None:
    if os.geteuid() == 0:  # a private copy of /dev/null, which a replace would turn into a file
        device = tmp_path / "null"
        try:
            os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except OSError:
            device = Path("/dev/null")
    else:
        device = Path("/dev/null")
    before = os.stat(device)
    proc = run(tmp_path, "retention", "set", "3", "--config", stored, OSA_INVENTORY_CONFIG=device)
    one_line_error(proc, 2, str(device), "not a regular file", "OSA_INVENTORY_CONFIG")
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_symlinked_osa_ini_and_inventory_are_written_through(tmp_path: Path, stored: Path) -> None:
    real = tmp_path / "real.ini"
    real.write_text("[inventory]\nbackend = file\n")
    os.chmod(real, 0o640)
    link = tmp_path / "osa.ini"
    link.symlink_to(real)
    proc = run(tmp_path, "retention", "set", "3", "--config", stored)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and "backup_keep = 3" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640

    moved = tmp_path / "elsewhere.json"
    shutil.move(stored / "openstack_inventory.json", moved)
    (stored / "openstack_inventory.json").symlink_to(moved)
    proc = run(tmp_path, "hosts", "remove", "hv2", "--config", stored)
    assert proc.returncode == 0, proc.stderr
    assert (stored / "openstack_inventory.json").is_symlink()
    assert "hv2" not in json.loads(moved.read_text())["_meta"]["hostvars"]


# == 3. the front end's local locks ===============================================================


def minimal_store_flags(tmp_path: Path) -> list[str]:
    return [
        "--backend", "minimal_plugin:MinimalPlugin",
        "--backend-option", f"path={tmp_path / 'plugin.json'}",
    ]  # fmt: skip


def local_lock_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: Path) -> Path:
    """Where the front end keeps the minimal plugin's lock with XDG_RUNTIME_DIR=runtime."""
    from osa_inventory.store import store_label

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    sys.path.insert(0, str(TESTS_DIR))
    options = {"path": str(tmp_path / "plugin.json")}
    backend = open_backend("minimal_plugin:MinimalPlugin", options)
    return local_lock_path(store_label(backend, "minimal_plugin:MinimalPlugin", options))


def write_with_minimal_plugin(tmp_path: Path, runtime: Path) -> subprocess.CompletedProcess:
    return run(
        tmp_path, "clear-ips", *minimal_store_flags(tmp_path),
        PYTHONPATH=str(TESTS_DIR), XDG_RUNTIME_DIR=str(runtime),
    )  # fmt: skip


@pytest.mark.parametrize("planted", ["open-directory", "symlink"])
def test_a_planted_lock_file_truncates_nothing(
    planted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plugin.json").write_text(json.dumps(sample_inventory()))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    lock = local_lock_of(tmp_path, monkeypatch, runtime)
    victim = tmp_path / "precious"
    victim.write_text("keep me\n")
    lock.parent.mkdir(mode=0o700)
    lock.symlink_to(victim)
    if planted == "open-directory":  # made by someone else, open to everyone
        os.chmod(lock.parent, 0o777)
    proc = write_with_minimal_plugin(tmp_path, runtime)
    assert victim.read_text() == "keep me\n"
    if planted == "open-directory":
        one_line_error(proc, 3, str(lock.parent), f"chmod 700 {lock.parent}")
        os.chmod(lock.parent, 0o700)  # the fix the message names
        proc = write_with_minimal_plugin(tmp_path, runtime)
    one_line_error(proc, 3, str(lock), "symbolic link", f"rm {lock}")
    assert victim.read_text() == "keep me\n"
    lock.unlink()  # the fix the message names
    proc = write_with_minimal_plugin(tmp_path, runtime)
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "keep me\n"


def test_lock_directory_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    (tmp_path / "plugin.json").write_text(json.dumps(sample_inventory()))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    lock = local_lock_of(tmp_path, monkeypatch, runtime)
    lock.parent.mkdir(mode=0o700)
    os.chown(lock.parent, 65534, 65534)
    proc = write_with_minimal_plugin(tmp_path, runtime)
    one_line_error(proc, 3, str(lock.parent), "uid 65534", f"rm -r {lock.parent}")
    shutil.rmtree(lock.parent)  # the fix the message names
    proc = write_with_minimal_plugin(tmp_path, runtime)
    assert proc.returncode == 0, proc.stderr


def test_local_lock_directory_is_private_and_lock_files_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plugin.json").write_text(json.dumps(sample_inventory()))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    lock = local_lock_of(tmp_path, monkeypatch, runtime)
    proc = write_with_minimal_plugin(tmp_path, runtime)
    assert proc.returncode == 0, proc.stderr
    info = os.lstat(lock.parent)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.geteuid()
    assert list(lock.parent.iterdir()) == [], "a lock file was left behind"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    from osa_inventory.store.store import local_lock_dir

    assert local_lock_dir().name == f"osa-inventory-locks-{os.geteuid()}"


def test_lock_removal_keeps_the_lock_exclusive(tmp_path: Path) -> None:
    """Many takers racing on a lock file that every release removes: never two holders."""
    from osa_inventory.store.filelock import FileLock

    path = tmp_path / "locks" / "x.lock"
    inside: list[int] = []
    overlaps: list[int] = []
    guard = threading.Lock()

    errors: list[BaseException] = []
    taken: list[int] = []

    def worker(number: int) -> None:
        try:
            lock = FileLock(path, private_dir=True)
            holder = LockHolder.for_this_process()
            done = 0
            while done < 30:
                if lock.acquire_lock(holder) is not None:
                    continue
                with guard:
                    inside.append(number)
                    if len(inside) > 1:
                        overlaps.append(number)
                time.sleep(0.0005)
                with guard:
                    inside.remove(number)
                lock.release_lock(holder)
                done += 1
            taken.append(done)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert taken == [30] * 6 and not overlaps
    assert not path.exists()


# == 4. locks judged by their servers, never by clocks ============================================


def test_etcd_lock_outlives_its_lease_ttl_while_held(etcd_endpoints: str) -> None:
    """A run longer than the lease TTL keeps the lock: its lease is renewed."""
    options = {"endpoints": etcd_endpoints, "prefix": f"/long-{uuid.uuid4().hex[:8]}"}
    options["lock_ttl"] = "2"
    holder_store = Store(open_backend("etcd", options), lock_timeout=5)
    holder_store.update(lambda _: sample_inventory())
    waiter = Store(open_backend("etcd", options), lock_timeout=0.5)
    with holder_store.locked():
        base = holder_store.read()
        deadline = time.monotonic() + 6  # three TTLs
        while time.monotonic() < deadline:
            with pytest.raises(LockTimeout):
                waiter.update(lambda inv: {**inv, "late": {"hosts": []}})
        changed = {**base.inventory, "long": {"hosts": []}}
        meta = WriteMeta.for_this_process(message="a long run")
        assert holder_store.commit(changed, base=base, meta=meta).changed
    assert "long" in waiter.load() and "late" not in waiter.load()
    holder_store.close()
    waiter.close()


def test_a_role_holding_the_advisory_lock_by_hand_is_named_and_broken(
    tmp_path: Path, pg_server: services.Server
) -> None:
    """The read-only role can take pg_advisory_lock itself: the writer's timeout names its
    session and role, and `lock break session-N` (the command it names) frees the store."""
    from osa_inventory.backends.sql.locks import PostgresAdvisoryLock

    database, url = fresh_database(pg_server)
    flags = ["--backend", "postgresql", "--backend-option", f"url={url}", "--lock-timeout", "1"]
    config = demo_config(tmp_path / "config")
    import psycopg

    reader = psycopg.connect(
        host="127.0.0.1", port=pg_server.port, dbname=database, autocommit=True,
        user=services.READER[0], password=services.READER[1],
    )  # fmt: skip
    try:
        key = PostgresAdvisoryLock.__new__(PostgresAdvisoryLock)
        key.__init__(open_backend("postgresql", {"url": url}).db.engine, "default", "")
        reader.execute("SELECT pg_advisory_lock(%s)", (key.key,))
        session = reader.execute("SELECT pg_backend_pid()").fetchone()[0]
        proc = generate(tmp_path, config, *flags)
        line = one_line_error(proc, 3, "osa_reader", f"lock break session-{session}")
        assert "database session" in line
        broken = run(tmp_path, "lock", "break", f"session-{session}", *flags[:-2])
        assert broken.returncode == 0, broken.stderr
    finally:
        with contextlib.suppress(Exception):
            reader.close()
    proc = generate(tmp_path, config, *flags)
    assert proc.returncode == 0, proc.stderr


def test_the_documented_revoke_stops_readers_taking_advisory_locks(
    pg_server: services.Server,
) -> None:
    """The REVOKE/GRANT of docs/security.md: the reader may no longer lock, the writer still
    writes. Cluster-wide, so it is undone at the end."""
    database, _ = fresh_database(pg_server)
    doc = (REPO_DIR / "docs" / "security.md").read_text()
    block = doc[doc.index("```sql\nREVOKE EXECUTE") + len("```sql\n") :]
    statements = [s.strip() for s in block[: block.index("```")].split(";") if s.strip()]
    revoke, grant = statements
    grant = grant.replace("TO osa_writer, osa_owner", f"TO {services.WRITER[0]}")
    import psycopg

    with contextlib.closing(services.pg_admin(pg_server, database)) as admin:
        admin.execute(revoke)
        admin.execute(grant)
    try:
        reader = psycopg.connect(
            host="127.0.0.1", port=pg_server.port, dbname=database, autocommit=True,
            user=services.READER[0], password=services.READER[1],
        )  # fmt: skip
        with contextlib.closing(reader), pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT pg_advisory_lock(42)")
        writer_url = pg_server.url(database, *services.WRITER)
        writer = Store(open_backend("postgresql", {"url": writer_url}), lock_timeout=5)
        assert writer.update(lambda _: sample_inventory()).changed
        writer.close()
    finally:
        with contextlib.closing(services.pg_admin(pg_server, database)) as admin:
            admin.execute(revoke.replace("REVOKE", "GRANT").replace("FROM PUBLIC", "TO PUBLIC"))


def test_a_read_only_role_never_holds_the_writers_lock(pg_server: services.Server) -> None:
    database, url = fresh_database(pg_server)
    reader_url = pg_server.url(database, *services.READER)
    reader = open_backend("postgresql", {"url": reader_url, "auto_upgrade": "false"})
    with pytest.raises(StoreError, match="taking the lock failed: permission denied"):
        reader.acquire_lock(LockHolder.for_this_process())
    writer = Store(open_backend("postgresql", {"url": url}), lock_timeout=1)
    assert writer.lock_status() is None
    assert writer.update(lambda _: sample_inventory()).changed
    reader.close()
    writer.close()


# == 5. the local cache ============================================================================


def caching_store(tmp_path: Path) -> Any:
    from osa_inventory.store.cache import CachingStore, LocalCache

    backend = open_backend("file", {"path": str(tmp_path / "store" / "openstack_inventory.json")})
    cache = LocalCache(tmp_path / "cache" / "osa-inventory" / "copy.json")
    return CachingStore(backend, cache=cache, ttl=3600, label=backend.describe())


def test_a_copy_planted_in_an_open_cache_directory_is_never_served(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    store = caching_store(tmp_path)
    with store.locked():
        base = store.read()
        meta = WriteMeta.for_this_process()
        store.commit(sample_inventory(), base=base, meta=meta)
    head = store.head()
    directory = store.cache.path.parent
    os.chmod(directory, 0o777)  # as if another user had made it
    forged = {**sample_inventory(), "evil": {"hosts": []}}
    body = json.dumps(forged).encode()
    import hashlib

    header = {"format": 2, "label": store.label, "version": head.to_dict()}
    header["sha256"] = hashlib.sha256(body).hexdigest()
    store.cache.path.write_bytes(json.dumps(header).encode() + b"\n" + body)
    with pytest.raises(StoreError, match=f"chmod 700 {directory}"):
        store.read_canonical()
    os.chmod(directory, 0o700)
    os.chmod(store.cache.path, 0o644)
    with pytest.raises(StoreError, match=f"chmod 600 {store.cache.path}"):
        store.read_canonical()
    if os.geteuid() == 0:
        os.chmod(store.cache.path, 0o600)
        os.chown(directory, 65534, 65534)
        with pytest.raises(StoreError, match=f"uid 65534.*rm -r {directory}"):
            store.read_canonical()


# == 6. file modes =================================================================================


def private_umask() -> None:
    os.umask(0o022)


def test_sqlite_files_and_debug_log_are_0600(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "config")
    database = tmp_path / "db" / "inventory.db"
    database.parent.mkdir()
    flags = ["--backend", "sqlite", "--backend-option", f"url=sqlite:///{database}"]
    for command in (["db", "current", *flags], ["--version", *flags]):
        proc = run(tmp_path, *command)
        assert proc.returncode in (0, 1), proc.stderr
        assert not database.exists(), f"{command[0]} created the database file"
    proc = subprocess.run(
        [str(CLI), "--config", config, "--environment", DEMO, "--debug", *flags],
        capture_output=True, text=True, cwd=tmp_path, env=env_for(tmp_path),
        preexec_fn=private_umask, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with contextlib.closing(sqlite3.connect(str(database))) as conn:  # WAL files stay open
        conn.execute("SELECT 1 FROM osa_versions").fetchall()
        made = sorted(database.parent.iterdir())
        assert {p.name for p in made} >= {"inventory.db", "inventory.db-wal", "inventory.db-shm"}
        for path in made:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    log = tmp_path / "inventory.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    os.chmod(log, 0o640)  # an existing file keeps its mode
    proc = run(tmp_path, "--config", config, "--environment", DEMO, "--debug", *flags)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o640


def test_debug_log_is_never_written_through_a_symbolic_link(tmp_path: Path, stored: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (tmp_path / "inventory.log").symlink_to(victim)
    proc = run(tmp_path, "--config", stored, "--environment", DEMO, "--debug")
    one_line_error(proc, 2, "inventory.log", "remove it")
    assert victim.read_text() == "keep me\n"


# == 7. stores shared by mistake ==================================================================


def test_another_deployment_is_not_merged_into_a_store(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    store_flag = ["--backend-option", f"path={store_dir / 'openstack_inventory.json'}"]
    first = demo_config(tmp_path / "a")
    proc = generate(tmp_path, first, *store_flag)
    assert proc.returncode == 0, proc.stderr
    before = files_below(store_dir)
    second = demo_config(tmp_path / "b", rename=lambda host: f"b-{host}")
    proc = generate(tmp_path, second, *store_flag)
    one_line_error(proc, 2, "holds another deployment", "ctl1", "--allow-foreign-store")
    assert files_below(store_dir) == before
    shown = run(tmp_path, "config", "show", "--config", second, *store_flag)  # the named check
    assert shown.returncode == 0 and str(store_dir) in shown.stdout, shown.stderr
    proc = generate(tmp_path, second, *store_flag, "--allow-foreign-store")
    assert proc.returncode == 0, proc.stderr
    hosts = json.loads(proc.stdout)["_meta"]["hostvars"]
    assert "b-ctl1" in hosts and "ctl1" in hosts  # what the operator asked for
    proc = generate(tmp_path, second, *store_flag)  # now the store knows B's hosts
    assert proc.returncode == 0, proc.stderr


def test_file_names_that_would_share_a_history_are_refused(tmp_path: Path, stored: Path) -> None:
    history = stored / "openstack_inventory.history.json"
    before = history.read_bytes()
    proc = generate(tmp_path, stored, "--inventory-name", "history")
    one_line_error(proc, 2, "history file of openstack_inventory.json", "--inventory-name")
    assert history.read_bytes() == before
    bare = stored / "inventory"
    proc = generate(tmp_path, stored, "--backend-option", f"path={bare}")
    one_line_error(proc, 2, "does not end in .json", f"{bare}.json")
    assert not bare.exists()


def test_etcd_stores_cannot_nest_inside_each_other(tmp_path: Path) -> None:
    from osa_inventory.errors import ConfigError

    for options in ({"prefix": "/osa-inventory/default"}, {"name": "objects"}):
        with pytest.raises(ConfigError, match="share its keys with another's"):
            if "name" in options:
                open_backend("etcd", {"endpoints": "127.0.0.1:1", **options})
            else:
                open_backend("etcd", {"endpoints": "127.0.0.1:1", "prefix": "/a/objects/b"})


# == 9. inventory content that Ansible executes ====================================================


def config_with_lookup(directory: Path, value: str) -> Path:
    config = demo_config(directory)
    data = yaml.safe_load((config / USER_CONFIG).read_text())
    group = next(key for key, v in data.items() if key.endswith("hosts") and isinstance(v, dict))
    host = next(iter(data[group]))
    data[group][host]["host_vars"] = {"probe": value}
    (config / USER_CONFIG).write_text(yaml.safe_dump(data, sort_keys=False))
    return config


@pytest.mark.parametrize(
    "value",
    [
        "{{ lookup('pipe', 'touch MARKER') }}",
        "{{ query('ansible.builtin.pipe', 'id') }}",
        "{% set x = q('pipe', 'id') %}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    ],
)
def test_values_that_ansible_would_execute_are_refused(value: str, tmp_path: Path) -> None:
    config = config_with_lookup(tmp_path / "config", value)
    proc = generate(tmp_path, config)
    one_line_error(proc, 2, "Ansible would execute", "probe", "allow_jinja_lookups")
    assert not (config / "openstack_inventory.json").exists()
    (tmp_path / "osa.ini").write_text("[inventory]\nallow_jinja_lookups = true\n")
    proc = generate(tmp_path, config)
    assert proc.returncode == 0, proc.stderr


def test_plain_jinja_is_stored(tmp_path: Path) -> None:
    config = config_with_lookup(tmp_path / "config", "{{ ansible_host }}:{{ 8000 + 1 }}")
    proc = generate(tmp_path, config)
    assert proc.returncode == 0, proc.stderr


def test_doctor_reports_stored_lookups(tmp_path: Path) -> None:
    config = config_with_lookup(tmp_path / "config", "{{ lookup('pipe', 'id') }}")
    proc = generate(tmp_path, config, OSA_INVENTORY_ALLOW_JINJA_LOOKUPS="true")
    assert proc.returncode == 0, proc.stderr
    row = doctor_row(tmp_path, ["--config", config], "lookups")
    assert row["status"] == "FAIL" and "probe" in row["detail"], row
    proc = run(tmp_path, "doctor", "--format", "json", "--config", config,
               OSA_INVENTORY_ALLOW_JINJA_LOOKUPS="true")  # fmt: skip
    row = next(r for r in json.loads(proc.stdout)["checks"] if r["check"] == "lookups")
    assert row["status"] == "warn", row


@pytest.mark.parametrize("unsafe", [False, True])
def test_the_plugin_can_mark_every_value_unsafe(unsafe: bool, tmp_path: Path) -> None:
    """With ``compose:``, Ansible renders a stored lookup during ``ansible-inventory --list``;
    ``unsafe_values: true`` keeps it text."""
    marker = tmp_path / "ran"
    config = config_with_lookup(tmp_path / "config", f"{{{{ lookup('pipe', 'touch {marker}') }}}}")
    proc = generate(tmp_path, config, OSA_INVENTORY_ALLOW_JINJA_LOOKUPS="true")
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), "osa-inventory itself rendered the value"
    source = tmp_path / "store.osa.yml"
    source.write_text(
        yaml.safe_dump(
            {
                "plugin": "osa_inventory.store.inventory",
                "backend": "file",
                "config_dir": str(config),
                "compose": {"composed": "probe"},
                "unsafe_values": unsafe,
            }
        )
    )
    ansible = Path(sys.executable).parent / "ansible-inventory"
    env = env_for(tmp_path, ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    result = subprocess.run(
        [str(ansible), "-i", str(source), "--list"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert marker.exists() is not unsafe, result.stdout[-2000:]
