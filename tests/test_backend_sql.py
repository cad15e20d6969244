"""The SQL backends (sqlite, postgresql, mysql) against real databases.

PostgreSQL and MariaDB servers are started once per session from the binaries
on this machine (see osa_inventory.testing.servers) and stopped at the end; each test gets
a database (or, in the conformance suite, a named inventory) of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import USER_CONFIG, copy_example, dir_snapshot, in_ci
from osa_inventory.backends.sql.schema import SCHEMA_REVISION
from osa_inventory.errors import ConfigError, OsaInventoryError, StaleWrite, StoreError
from osa_inventory.inventory import copy_inventory
from osa_inventory.store import open_backend
from osa_inventory.store.backend import LockHolder, WriteMeta
from osa_inventory.store.store import Store
from osa_inventory.testing import BackendConformance, BackendSpec, sample_inventory
from osa_inventory.testing import servers as services

KINDS = ("sqlite", "postgresql", "mysql")
SERVER_KINDS = ("postgresql", "mysql")
TABLES = (
    "osa_inventories",
    "osa_hosts",
    "osa_groups",
    "osa_members",
    "osa_extras",
    "osa_versions",
    "osa_changes",
    "osa_locks",
)


# -- servers, once per session -------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run here keep their local copies (network backends) in the test's folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _start(kind: str) -> services.Server:
    missing = services.missing_message(kind)
    if missing:
        if in_ci():
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    start = services.start_postgres if kind == "postgresql" else services.start_mariadb
    return start()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[services.Server]:
    server = _start("postgresql")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[services.Server]:
    server = _start("mariadb")
    yield server
    server.stop()


def _server(request: pytest.FixtureRequest, kind: str) -> services.Server:
    return request.getfixturevalue("pg_server" if kind == "postgresql" else "mariadb_server")


@dataclass
class Db:
    """A fresh database for one test, with admin access to it."""

    kind: str  # the backend name
    url: str
    database: str
    server: services.Server | None = None
    path: Path | None = None  # SQLite file

    def options(self, **extra: Any) -> dict[str, Any]:
        return {"url": self.url, **extra}

    def backend(self, **extra: Any) -> Any:
        return open_backend(self.kind, self.options(**extra))

    def store(self, **extra: Any) -> Store:
        backend = self.backend(**extra)
        return Store(backend, label=backend.describe(), lock_timeout=10)

    def role_url(self, role: tuple[str, str], password: str | None = None) -> str:
        assert self.server is not None
        return self.server.url(self.database, role[0], password or role[1])

    @contextlib.contextmanager
    def admin(self) -> Iterator[Any]:
        """A DB-API connection with every right, autocommit."""
        if self.kind == "sqlite":
            conn = sqlite3.connect(str(self.path), isolation_level=None)
        elif self.kind == "postgresql":
            conn = services.pg_admin(self.server, self.database)
        else:
            conn = services.mariadb_admin(self.server, self.database)
        try:
            yield conn
        finally:
            conn.close()

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement as the admin; rows with names decoded (MariaDB returns bytes)."""
        if self.kind != "sqlite":
            statement = statement.replace("?", "%s")
        with self.admin() as conn:
            cursor = conn.cursor()
            cursor.execute(statement, params)
            rows = list(cursor.fetchall()) if cursor.description else []
            cursor.close()
        return [
            tuple(v.decode() if isinstance(v, bytes | bytearray) else v for v in row)
            for row in rows
        ]

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every osa_ table, sorted: to compare before and after."""
        return {
            name: sorted(map(tuple, self.execute(f"SELECT * FROM {name}")), key=repr)
            for name in TABLES
        }


def _make_db(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Db:
    if kind == "sqlite":
        path = tmp_path / "inventory.db"
        return Db("sqlite", f"sqlite:///{path}", str(path), path=path)
    server = _server(request, kind)
    database = f"t_{uuid.uuid4().hex[:12]}"
    services.create_database(server, database)
    return Db(kind, server.url(database), database, server=server)


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    return _make_db(request, request.param, tmp_path)


@pytest.fixture(params=SERVER_KINDS)
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    return _make_db(request, request.param, tmp_path)


@pytest.fixture(scope="session")
def pg_conformance_url(pg_server: services.Server) -> str:
    """One database for the conformance suite; each test uses a named inventory of its own."""
    services.create_database(pg_server, "conformance")
    return pg_server.url("conformance")


@pytest.fixture(scope="session")
def mariadb_conformance_url(mariadb_server: services.Server) -> str:
    services.create_database(mariadb_server, "conformance")
    return mariadb_server.url("conformance")


# -- the conformance suite on all three ----------------------------------------------------


class _SQLConformance(BackendConformance):
    kind = ""
    large_computes = 2_000  # 10,000 works too; this keeps the suite quick

    @pytest.fixture
    def backend_spec(self, request: pytest.FixtureRequest, tmp_path: Path) -> BackendSpec:
        if self.kind == "sqlite":
            url = f"sqlite:///{tmp_path / 'conformance.db'}"
        else:
            prefix = "pg" if self.kind == "postgresql" else "mariadb"
            url = request.getfixturevalue(f"{prefix}_conformance_url")
        return BackendSpec(self.kind, {"url": url, "name": f"t-{uuid.uuid4().hex[:16]}"})


class TestSQLiteConformance(_SQLConformance):
    kind = "sqlite"


class TestPostgreSQLConformance(_SQLConformance):
    kind = "postgresql"


class TestMySQLConformance(_SQLConformance):
    kind = "mysql"


# -- helpers for the SQL-specific tests --------------------------------------------------------


def _cli(*args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed osa-inventory, with extra environment variables."""
    from conftest import CLI

    full = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    full.update(env or {})
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, env=full, timeout=120
    )


def _db_command(*argv: str) -> tuple[int, str]:
    """Run ``osa-inventory db ...`` in this process; (exit code, stdout or error)."""
    from osa_inventory.cli import db as db_cli
    from osa_inventory.cli.flags import store_flags

    parser = argparse.ArgumentParser(prog="osa-inventory")
    db_cli.add_commands(parser.add_subparsers(dest="command", required=True), store_flags())
    args = parser.parse_args(["db", *argv])
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = args.func(args)
    except OsaInventoryError as exc:
        return exc.exit_code, str(exc)
    return code, out.getvalue()


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout[:200]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("osa-inventory: error:"), proc.stderr
    assert proc.stdout == ""
    return lines[0]


def _changed_rows(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, Any]:
    """Per table: (rows gone, rows new), for the tables that differ."""
    result = {}
    for table in TABLES:
        old, new = set(before[table]), set(after[table])
        if old != new:
            result[table] = (sorted(old - new, key=repr), sorted(new - old, key=repr))
    return result


def _edit(inventory: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    result = copy_inventory(inventory)
    change(result)
    return result


def _prod_config(tmp_path: Path, name: str, marker: str | None = None) -> Path:
    config = copy_example("prod", tmp_path / name)
    if marker is not None:
        data = yaml.safe_load((config / USER_CONFIG).read_text())
        data["global_overrides"]["sql_test_marker"] = marker
        (config / USER_CONFIG).write_text(yaml.safe_dump(data))
    return config


def _environment() -> Path:
    from conftest import require_shared_dir

    return require_shared_dir() / "inventory"


def _sql_args(url: str, kind: str, *extra: str) -> list[str]:
    return ["--backend", kind, "--backend-option", f"url={url}", *extra]


# -- normalised rows: a one-host change writes that host's rows only ----------------------------


def test_one_host_change_writes_that_hosts_rows_only(db: Db) -> None:
    from osa_inventory.testing.backend import large_inventory

    base = large_inventory(300)
    store = db.store()
    store.update(lambda _: base)
    before = db.tables()

    changed = _edit(base, lambda i: i["_meta"]["hostvars"]["compute00042"].update(ratio=8.0))
    assert store.update(lambda _: changed).version.version == 2
    after = db.tables()
    diff = _changed_rows(before, after)
    assert set(diff) == {"osa_hosts", "osa_versions", "osa_changes", "osa_inventories"}
    gone, new = diff["osa_hosts"]
    assert [row[1] for row in gone] == [row[1] for row in new] == ["compute00042"]
    assert len(diff["osa_changes"][1]) == 1 and not diff["osa_changes"][0]
    assert len(diff["osa_versions"][1]) == 1

    # a new host in the middle of two groups: its host row and two member rows, nothing else
    def add_host(inventory: dict[str, Any]) -> None:
        inventory["_meta"]["hostvars"]["compute-new"] = {"ansible_host": "10.9.9.9"}
        inventory["compute_hosts"]["hosts"].insert(150, "compute-new")
        inventory["nova_compute"]["hosts"].append("compute-new")

    added = _edit(changed, add_host)
    store.update(lambda _: added)
    diff = _changed_rows(after, db.tables())
    assert set(diff) == {
        "osa_hosts",
        "osa_members",
        "osa_versions",
        "osa_changes",
        "osa_inventories",
    }
    assert (len(diff["osa_hosts"][0]), len(diff["osa_hosts"][1])) == (0, 1)
    assert (len(diff["osa_members"][0]), len(diff["osa_members"][1])) == (0, 2)
    assert len(diff["osa_changes"][1]) == 3
    assert db.store().load() == added
    assert db.backend().read_version(2) == changed
    assert db.backend().read_version(1) == base


# -- history: deltas that rebuild every retained version exactly ------------------------------


def _random_edit(rng: random.Random, inventory: dict[str, Any], step: int) -> None:
    hostvars = inventory["_meta"]["hostvars"]
    groups = [k for k, v in inventory.items() if k != "_meta" and isinstance(v, dict)]
    action = rng.choice(["var", "add", "remove", "all", "group", "drop", "order", "meta"])
    if action == "var" and hostvars:
        hostvars[rng.choice(sorted(hostvars))][f"v{step}"] = [step, {"x": step / 3}]
    elif action == "add":
        name = f"host{step}-é"
        hostvars[name] = {"ansible_host": f"10.0.{step}.1"}
        for group in rng.sample(groups, min(2, len(groups))):
            hosts = inventory[group].setdefault("hosts", [])
            hosts.insert(rng.randint(0, len(hosts)), name)
    elif action == "remove" and hostvars:
        name = rng.choice(sorted(hostvars))
        del hostvars[name]
        for group in groups:
            hosts = inventory[group].get("hosts")
            if isinstance(hosts, list) and name in hosts:
                hosts.remove(name)
    elif action == "all":
        inventory.setdefault("all", {}).setdefault("vars", {})["step"] = step
    elif action == "group":
        inventory[f"group{step}"] = {"hosts": sorted(hostvars)[:3], "children": [], "vars": {}}
    elif action == "drop" and len(groups) > 2:
        del inventory[rng.choice(groups)]
    elif action == "order" and groups:
        hosts = inventory[rng.choice(groups)].get("hosts")
        if isinstance(hosts, list):
            rng.shuffle(hosts)
            hosts.append(hosts[0] if hosts else "dup")  # duplicates are kept too
    else:
        inventory["_meta"][f"extra{step}"] = step
    inventory.setdefault("all", {}).setdefault("vars", {})["version_marker"] = step


def test_every_retained_version_is_rebuilt_exactly(db: Db) -> None:
    rng = random.Random(20240601)
    store = db.store(retention="50")
    written = {}
    inventory = sample_inventory()
    for step in range(1, 16):
        if step > 1:
            inventory = copy.deepcopy(inventory)
            for _ in range(rng.randint(1, 3)):
                _random_edit(rng, inventory, step)
        result = store.update(lambda _, inv=inventory: copy_inventory(inv), message=f"s{step}")
        written[result.version.version] = inventory
    reader = db.backend()
    assert [v.version for v in reader.list_versions()] == sorted(written)
    for version, expected in written.items():
        assert reader.read_version(version) == expected, f"version {version}"
    # deltas, not copies: the undo log holds one row per changed row, no more
    counts = db.execute("SELECT SUM(changed_rows) FROM osa_versions WHERE version > 1")
    undo = db.execute("SELECT COUNT(*) FROM osa_changes")
    assert int(undo[0][0]) == int(counts[0][0])
    full_copy = sum(len(t) for t in db.tables().values())
    assert int(undo[0][0]) < full_copy * len(written) / 4


def test_retention_prunes_versions_and_their_deltas(db: Db) -> None:
    store = db.store(retention="3")
    for step in range(1, 7):
        store.update(
            lambda inv, s=step: _edit(sample_inventory(), lambda i: i["all"]["vars"].update(step=s))
        )
    backend = db.backend()
    assert [v.version for v in backend.list_versions()] == [4, 5, 6]
    assert sorted({row[0] for row in db.execute("SELECT version FROM osa_changes")}) == [5, 6]
    with pytest.raises(StoreError, match=r"version 3 is not retained \(kept: 4 to 6\)"):
        backend.read_version(3)
    assert backend.read_version(4)["all"]["vars"]["step"] == 4


# -- a failed write leaves the previous version intact -------------------------------------------

POISON = {
    "sqlite": [
        "CREATE TRIGGER osa_poison BEFORE INSERT ON osa_members WHEN NEW.member = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned member'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION osa_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.member = 'poison' THEN RAISE EXCEPTION 'poisoned member'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER osa_poison BEFORE INSERT ON osa_members FOR EACH ROW "
        "EXECUTE FUNCTION osa_poison()",
    ],
    "mysql": [
        "CREATE TRIGGER osa_poison BEFORE INSERT ON osa_members FOR EACH ROW BEGIN "
        "IF NEW.member = 'poison' THEN SIGNAL SQLSTATE '45000' "
        "SET MESSAGE_TEXT = 'poisoned member'; END IF; END"
    ],
}


def _poisoned(inventory: dict[str, Any]) -> dict[str, Any]:
    """A new version whose host rows are written before the member row that fails."""

    def change(inv: dict[str, Any]) -> None:
        inv["_meta"]["hostvars"]["infra1"]["changed"] = True
        inv["_meta"]["hostvars"]["poison"] = {}
        inv["compute_hosts"]["hosts"].append("poison")
        inv["all"]["vars"]["changed"] = True

    return _edit(inventory, change)


def test_failing_write_leaves_the_previous_version(db: Db) -> None:
    first = sample_inventory()
    backend = db.backend()
    store = Store(backend, lock_timeout=10)
    store.update(lambda _: first)
    for statement in POISON[db.kind]:
        db.execute(statement)
    before = db.tables()
    with pytest.raises(StoreError, match="poisoned member"):
        store.update(lambda inv: _poisoned(inv))
    assert db.tables() == before, "a failed write left rows behind"
    assert db.backend().load() == first
    assert db.backend().head().version == 1
    assert store.lock_status() is None
    db.execute("DROP TRIGGER osa_poison" + (" ON osa_members" if db.kind == "postgresql" else ""))
    assert store.update(lambda inv: _poisoned(inv)).version.version == 2
    assert db.backend().load() == _poisoned(first)
    assert db.backend().read_version(1) == first


def test_connection_killed_mid_write_leaves_the_previous_version(server_db: Db) -> None:
    from sqlalchemy import event

    db = server_db
    first = sample_inventory()
    backend = db.backend()
    store = Store(backend, lock_timeout=10)
    store.update(lambda _: first)
    before = db.tables()
    killed = []

    def kill_on_members_insert(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if killed or not statement.startswith("INSERT INTO osa_members"):
            return
        raw = cursor.connection
        if db.kind == "postgresql":
            db.execute(f"SELECT pg_terminate_backend({raw.info.backend_pid}, 5000)")
        else:
            db.execute(f"KILL CONNECTION {raw.thread_id()}")
        killed.append(True)

    event.listen(backend.db.engine, "before_cursor_execute", kill_on_members_insert)
    with pytest.raises(StoreError) as raised:
        store.update(lambda inv: _poisoned(inv))
    event.remove(backend.db.engine, "before_cursor_execute", kill_on_members_insert)
    assert killed and "\n" not in str(raised.value)
    assert db.tables() == before
    assert store.update(lambda inv: _poisoned(inv)).version.version == 2
    assert db.backend().read_version(1) == first


# -- readers: one snapshot, never blocked -------------------------------------------------------


def test_a_reader_sees_one_whole_version_while_a_writer_commits(db: Db) -> None:
    from sqlalchemy import event

    first = sample_inventory()
    second = _edit(
        first,
        lambda i: (i["_meta"]["hostvars"].pop("infra2"), i["all"]["vars"].update(second=True)),
    )
    db.store().update(lambda _: first)
    reader = db.backend()
    reader.load()  # schema checked; the next read starts with the inventory row
    writes = []

    def write_in_between(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not writes and statement.lstrip().upper().startswith("SELECT"):
            writes.append(db.store().update(lambda _: second).version.version)

    event.listen(reader.db.engine, "after_cursor_execute", write_in_between)
    version, inventory = reader.read_current()
    event.remove(reader.db.engine, "after_cursor_execute", write_in_between)
    assert writes == [2], "the writer did not commit during the read"
    assert (version.version, inventory) == (1, first)
    assert reader.read_current() == (db.backend().head(), second)


def test_readers_are_not_blocked_by_an_open_write(db: Db) -> None:
    import time

    db.store().update(lambda _: sample_inventory())
    with db.admin() as conn:
        cursor = conn.cursor()
        if db.kind == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        elif db.kind == "postgresql":
            conn.autocommit = False
        else:
            conn.autocommit(False)
        cursor.execute("DELETE FROM osa_hosts")  # uncommitted; holds the write locks
        started = time.monotonic()
        assert db.backend().load() == sample_inventory()
        assert time.monotonic() - started < 5
        conn.rollback()


# -- locks ----------------------------------------------------------------------------------


def test_lock_status_names_the_holder_and_break_ends_it(db: Db) -> None:
    holder_store = db.store()
    holder_store.load()
    other = db.store()
    with holder_store.locked() as holder:
        status = other.lock_status()
        assert status is not None and status.to_dict() == holder.to_dict()
        proc = _cli("lock", "status", *_sql_args(db.url, db.kind))
        assert proc.returncode == 0, proc.stderr
        assert f"pid {holder.pid}" in proc.stdout and holder.lock_id in proc.stdout
        other.break_lock(holder.lock_id)  # PostgreSQL, MariaDB: ends the holder's session
        assert other.lock_status() is None
        with other.locked() as taken:
            assert holder_store.lock_status().lock_id == taken.lock_id
    assert other.lock_status() is None


def test_named_inventories_are_independent(db: Db) -> None:
    one, two = db.store(name="one"), db.store(name="two")
    one.update(lambda _: sample_inventory())
    assert two.read().version is None
    with one.locked():
        assert two.update(lambda _: _edit(sample_inventory(), lambda i: i.pop("galera"))).changed
    assert db.store(name="one").load() == sample_inventory()
    assert "galera" not in db.store(name="two").load()
    assert [v.version for v in two.history()] == [1]
    assert db.backend(name="two").load_host("infra1") is not None


# -- schema: migrations, db upgrade, newer schema refused ---------------------------------------


def test_schema_revision_constant_is_the_migrations_head() -> None:
    from osa_inventory.backends.sql import migrate, schema

    assert migrate._script().get_current_head() == schema.SCHEMA_REVISION


def test_db_upgrade_and_current(db: Db, tmp_path: Path) -> None:
    flags = _sql_args(db.url, db.kind)
    code, out = _db_command("current", *flags)
    assert code == 1 and "schema revision none (no schema yet)" in out, out
    no_auto = db.backend(auto_upgrade="false")
    with pytest.raises(StoreError, match=r"run 'osa-inventory db upgrade'"):
        no_auto.load()
    code, out = _db_command("upgrade", *flags)
    assert code == 0 and f"upgraded from revision none to {SCHEMA_REVISION}" in out, out
    code, out = _db_command("upgrade", *flags)
    assert code == 0 and f"already at revision {SCHEMA_REVISION}" in out, out
    code, out = _db_command("current", *flags)
    assert code == 0 and f"schema revision {SCHEMA_REVISION}" in out and "up to date" in out, out
    assert db.backend(auto_upgrade="false").load() == {"_meta": {"hostvars": {}}}
    assert "password" not in out and "secret" not in out


def _alembic(db: Db, action: str, revision: str) -> None:
    """Move the schema to ``revision`` with alembic itself, as an older release would."""
    from alembic import command

    from osa_inventory.backends.sql import migrate

    backend = db.backend()
    with backend.db.engine.begin() as conn:
        getattr(command, action)(migrate._config(conn), revision)
    backend.close()


def test_an_older_schema_is_upgraded_and_keeps_its_data(db: Db) -> None:
    store = db.store()
    store.update(lambda _: sample_inventory(), message="before")
    store.update(lambda inv: _edit(inv, lambda i: i.pop("galera")), message="second")
    _alembic(db, "downgrade", "0001")  # the schema of the first release
    assert db.execute("SELECT version_num FROM osa_alembic_version") == [("0001",)]
    with pytest.raises(StoreError, match="at revision 0001 but this osa-inventory needs"):
        db.backend(auto_upgrade="false").load()
    code, out = _db_command("current", *_sql_args(db.url, db.kind))
    assert code == 1 and "behind: run 'osa-inventory db upgrade'" in out, out
    code, out = _db_command("upgrade", *_sql_args(db.url, db.kind))
    assert code == 0 and f"from revision 0001 to {SCHEMA_REVISION}" in out, out
    backend = db.backend(auto_upgrade="false")
    assert [v.message for v in backend.list_versions()] == ["before", "second"]
    assert backend.read_version(1) == sample_inventory()
    assert "galera" not in backend.load()


def test_input_fingerprint_is_kept_with_the_version(db: Db) -> None:
    backend = db.backend()
    meta = WriteMeta.for_this_process(fingerprint="f1", warnings=("careful",))
    written = backend.write_version(sample_inventory(), meta, None)
    assert (written.fingerprint, written.warnings) == ("f1", ["careful"])
    head = db.backend().head()
    assert head == written and head.extra["digest"]
    backend.set_fingerprint(head, "f2", [])
    again = db.backend().head()
    assert (again.fingerprint, again.warnings, again.version) == ("f2", [], 1)
    assert again.extra["digest"] == head.extra["digest"]


def test_db_commands_refuse_a_backend_without_schema(tmp_path: Path) -> None:
    code, message = _db_command(
        "current", "--backend", "file", "--backend-option", f"path={tmp_path / 'inv.json'}"
    )
    assert code == 2 and "has no database schema" in message


def test_schema_newer_than_the_code_is_refused(db: Db, tmp_path: Path) -> None:
    db.store().update(lambda _: sample_inventory())
    db.execute("UPDATE osa_alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="newer than this osa-inventory knows") as raised:
        db.backend().load()
    assert "revision 9999" in str(raised.value) and "upgrade osa-inventory" in str(raised.value)
    code, out = _db_command("upgrade", *_sql_args(db.url, db.kind))
    assert code == 3 and "newer than this osa-inventory" in out
    config = _prod_config(tmp_path, "config")
    proc = _cli("--config", config, "--environment", _environment(), *_sql_args(db.url, db.kind))
    assert "newer than this osa-inventory knows" in _one_line_error(proc)
    assert proc.returncode == 3
    assert db.execute("SELECT version_num FROM osa_alembic_version") == [("9999",)]


# -- the command: --list identical to the file backend; errors on one line ---------------------


def test_list_is_byte_identical_to_the_file_backend(db: Db, tmp_path: Path) -> None:
    environment = _environment()
    file_config = _prod_config(tmp_path, "file")
    reference = _cli("--config", file_config, "--environment", environment, "--list")
    assert reference.returncode == 0, reference.stderr
    sql_config = _prod_config(tmp_path, "sql")
    args = ["--config", sql_config, "--environment", environment, *_sql_args(db.url, db.kind)]
    first = _cli(*args, "--list")
    assert first.returncode == 0, first.stderr
    assert first.stdout == reference.stdout
    again = _cli(*args, "--list")  # a no-op run: same output, no new version
    assert again.stdout == reference.stdout
    assert [v.version for v in db.backend().list_versions()] == [1]
    assert not (sql_config / "openstack_inventory.json").exists()
    stored = json.loads((file_config / "openstack_inventory.json").read_text())
    assert db.backend().load() == stored


def test_reader_role_lists_but_cannot_write(server_db: Db, tmp_path: Path) -> None:
    db = server_db
    environment = _environment()
    config = _prod_config(tmp_path, "config")
    base = ["--config", config, "--environment", environment]
    created = _cli(*base, *_sql_args(db.url, db.kind))  # the schema owner's first run
    assert created.returncode == 0, created.stderr
    services.grant_reader(db.server, db.database)
    services.grant_writer(db.server, db.database)

    # the reader, its password from an environment variable
    reader_url = db.server.url(db.database, services.READER[0])
    env = {"READER_PASSWORD": services.READER[1]}
    reader = [*_sql_args(reader_url, db.kind), "--backend-option", "password_env=READER_PASSWORD"]
    listed = _cli(*base, *reader, env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == created.stdout

    before = db.tables()
    changed = _prod_config(tmp_path, "changed", marker="reader")
    refused = _cli("--config", changed, "--environment", environment, *reader, env=env)
    message = _one_line_error(refused)
    assert "may not" in message and "writer role" in message, message
    assert db.tables() == before, "the reader wrote something"

    # the writer (rows only, no DDL), configured in osa.ini with its password in a file
    secret = tmp_path / "writer.password"
    secret.write_text(services.WRITER[1] + "\n")
    ini = tmp_path / "osa.ini"
    writer_url = db.server.url(db.database, services.WRITER[0])
    ini.write_text(
        f"[inventory]\nbackend = {db.kind}\n\n[backend:{db.kind}]\n"
        f"url = {writer_url}\npassword_file = {secret}\n"
    )
    written = _cli(
        "--config", changed, "--environment", environment, env={"OSA_INVENTORY_CONFIG": str(ini)}
    )
    assert written.returncode == 0, written.stderr
    history = db.backend().list_versions()
    assert [v.version for v in history] == [1, 2]


def test_a_role_that_may_not_create_tables_is_told_to_run_db_upgrade(server_db: Db) -> None:
    db = server_db
    services.grant_writer(db.server, db.database)  # rows only: no CREATE
    writer = open_backend(db.kind, {"url": db.role_url(services.WRITER)})
    with pytest.raises(StoreError) as raised:
        writer.load()
    message = str(raised.value)
    assert "upgrading the schema failed" in message and "may not create tables" in message
    assert "run 'osa-inventory db upgrade' as the schema owner" in message
    assert "\n" not in message and services.WRITER[1] not in message
    assert _no_tables(db)


def test_reader_lists_a_version_stored_without_fingerprint(server_db: Db, tmp_path: Path) -> None:
    db = server_db
    config = _prod_config(tmp_path, "config")
    base = ["--config", config, "--environment", _environment()]
    written = _cli(*base, *_sql_args(db.url, db.kind), "--regenerate")  # no fingerprint kept
    assert written.returncode == 0, written.stderr
    services.grant_reader(db.server, db.database)
    listed = _cli(*base, *_sql_args(db.role_url(services.READER), db.kind))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == written.stdout


def _no_tables(db: Db) -> bool:
    if db.kind == "postgresql":
        rows = db.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'osa%%'")
    else:
        rows = db.execute("SHOW TABLES")
    return rows == []


def test_unreachable_database_is_a_one_line_error(server_db: Db, tmp_path: Path) -> None:
    db = server_db
    config = _prod_config(tmp_path, "config")
    snapshot = dir_snapshot(config)
    base = ["--config", config, "--environment", _environment()]
    server = db.server
    cases = {
        "server down": (server.url(db.database, port=services.free_port()), "server is running"),
        "wrong password": (db.role_url(services.WRITER, "wrong"), "check the user and password"),
        "missing database": (server.url("no_such_db"), "create the database first"),
    }
    for case, (url, hint) in cases.items():
        proc = _cli(*base, *_sql_args(url, db.kind))
        message = _one_line_error(proc)
        assert proc.returncode == 3, (case, message)
        assert hint in message, (case, message)
        assert "wrong" not in message.replace("wrong password", ""), "password shown"
    assert dir_snapshot(config) == snapshot
    assert _no_tables(db), "a failed run created tables"
    if db.kind == "postgresql":
        found = db.execute("SELECT datname FROM pg_database WHERE datname = 'no_such_db'")
    else:
        found = db.execute("SHOW DATABASES LIKE 'no_such_db'")
    assert found == []


def test_sqlite_in_a_missing_directory_is_a_one_line_error(tmp_path: Path) -> None:
    config = _prod_config(tmp_path, "config")
    url = f"sqlite:///{tmp_path / 'missing' / 'inventory.db'}"
    proc = _cli("--config", config, "--environment", _environment(), *_sql_args(url, "sqlite"))
    assert "check that the directory exists" in _one_line_error(proc)
    assert not (tmp_path / "missing").exists()


# -- options and URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "url", "expected"),
    [
        ("postgresql", "sqlite:////tmp/x.db", "not a PostgreSQL URL.*--backend sqlite"),
        ("mysql", "postgresql://u:s3cret@db1/osa", "not a MariaDB/MySQL URL.*--backend postgresql"),
        ("sqlite", "mysql+pymysql://u@db1/osa", "not a SQLite URL.*--backend mysql"),
        ("sqlite", "sqlite://", "names no database file"),
        ("sqlite", "sqlite:///:memory:", "names no database file"),
        ("postgresql", "postgresql+psycopg://u@db1", "names no database"),
        ("postgresql", "postgresql+asyncpg://u@db1/osa", "driver 'asyncpg' .* not supported"),
        ("mysql", "not a url at all", "is not a database URL"),
    ],
)
def test_bad_urls_are_clear_config_errors(backend: str, url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as raised:
        open_backend(backend, {"url": url})
    assert "s3cret" not in str(raised.value)


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="option url is required"):
        open_backend("sqlite", {})
    with pytest.raises(ConfigError, match="retention=0 keeps no version"):
        open_backend("sqlite", {"url": "sqlite:////tmp/x.db", "retention": "0"})
    backend = open_backend(
        "postgresql", {"url": "postgresql://deploy@db1/osa", "password": "pw", "name": "prod"}
    )
    assert backend.db.url.password == "pw" and backend.db.url.drivername == "postgresql+psycopg"
    assert backend.describe() == "postgresql+psycopg://deploy:***@db1/osa (inventory prod)"
    assert open_backend("mysql", {"url": "mariadb://u@h/d"}).db.url.drivername == "mysql+pymysql"


def test_sqlalchemy_is_imported_only_for_a_sql_backend(tmp_path: Path) -> None:
    config = _prod_config(tmp_path, "config")
    code = (
        "import sys, contextlib, io\n"
        "import osa_inventory.backends.sql\n"
        "from osa_inventory.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['--config', {str(config)!r}, '--environment', "
        f"{str(_environment())!r}, '--list']) == 0\n"
        "assert 'sqlalchemy' not in sys.modules, 'file backend imported SQLAlchemy'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_writer_dying_with_the_lock_held_blocks_nobody(db: Db) -> None:
    """The holder process is killed: the next writer takes over (with a warning)."""
    db.store().load()
    code = (
        "import os, sys\n"
        "from osa_inventory.store import open_backend\n"
        "from osa_inventory.store.backend import LockHolder\n"
        f"backend = open_backend({db.kind!r}, {{'url': {db.url!r}}})\n"
        "assert backend.acquire_lock(LockHolder.for_this_process()) is None\n"
        "print(os.getpid(), flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    pid = int(proc.stdout.split()[0])
    warnings: list[str] = []
    store = Store(db.backend(), lock_timeout=10, warn=warnings.append)
    assert store.update(lambda _: sample_inventory()).changed
    assert any(f"pid {pid}" in w for w in warnings), warnings


def test_stale_write_after_another_writer(db: Db) -> None:
    first = db.backend()
    first.write(sample_inventory())
    head = first.head()
    db.backend().write(_edit(sample_inventory(), lambda i: i.pop("galera")))
    meta = WriteMeta.for_this_process(message="late")
    with pytest.raises(StaleWrite, match="at version 2, not at version 1"):
        first.write_version(sample_inventory(), meta, head)
    assert [v.version for v in first.list_versions()] == [1, 2]


def test_lock_holder_row_is_not_left_behind(db: Db) -> None:
    store = db.store()
    with store.locked() as holder:
        assert isinstance(holder, LockHolder)
        assert len(db.execute("SELECT lock_id FROM osa_locks")) == 1
    assert db.execute("SELECT lock_id FROM osa_locks") == []


# -- the delta logic on its own ------------------------------------------------------------------


def _lists_strategy() -> Any:
    from hypothesis import strategies as st

    names = st.sampled_from(["a", "b", "c", "d", "e", "f", "ü", "a "])
    return st.lists(names, max_size=12)


def test_member_lists_round_trip_through_diff_and_undo() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from osa_inventory.backends.sql import delta

    def inventory(lists: list[list[str]], marker: int) -> dict[str, Any]:
        groups = {f"g{i}": {"hosts": hosts, "children": []} for i, hosts in enumerate(lists)}
        return {"_meta": {"hostvars": {"h": {"m": marker}}}, "all": {"vars": {}}, **groups}

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.lists(_lists_strategy(), min_size=1, max_size=3), min_size=2, max_size=5))
    def check(history: list[list[list[str]]]) -> None:
        state, versions, undo_log = delta.State(), [], []
        for step, lists in enumerate(history):
            wanted = inventory(lists, step)
            changes, state = delta.diff(state, delta.split(wanted))
            assert delta.join(state) == wanted
            versions.append(wanted)
            undo_log.append(changes)
        for index in range(len(versions) - 1, 0, -1):
            rebuilt = state.copy()
            for changes in reversed(undo_log[index:]):
                delta.undo(
                    rebuilt, [(c.kind, c.name, c.part, c.ord, c.old, c.old_lists) for c in changes]
                )
            assert delta.join(rebuilt) == versions[index - 1]

    check()


def test_an_insertion_writes_one_member_row() -> None:
    from osa_inventory.backends.sql import delta

    hosts = [f"compute{i}" for i in range(1000)]
    first = {"_meta": {"hostvars": {}}, "compute_hosts": {"hosts": hosts}}
    _, state = delta.diff(delta.State(), delta.split(first))
    for position in (0, 500, 1000):
        changed = {"_meta": {"hostvars": {}}, "compute_hosts": {"hosts": list(hosts)}}
        changed["compute_hosts"]["hosts"].insert(position, "new")
        changes, after = delta.diff(state, delta.split(changed))
        assert [(c.kind, c.old, c.new) for c in changes] == [("M", None, "new")]
        assert delta.join(after) == changed
    crowded = delta.State(members={("g", "h"): {1: "a", 2: "b"}}, groups={"g": ("{}", "h")})
    changes, after = delta.diff(
        crowded, delta.split({"_meta": {"hostvars": {}}, "g": {"hosts": ["a", "x", "b"]}})
    )
    assert delta.join(after)["g"]["hosts"] == ["a", "x", "b"]  # renumbered: no room at 1..2
