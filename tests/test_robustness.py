"""Damaged stores and bad input: one line naming the fix, the store untouched, and every
recovery command those lines suggest, run on the damage that printed it (issue 13).

Commands run in this process (tests/inprocess.py) except where a real process
matters (standard input, exit codes of a whole process).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import CLI, INVENTORY_FILE, dir_snapshot, require_module
from inprocess import Run, one_line_failure, pg_executor, run_main
from test_operations import clean_env

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
HISTORY_FILE = "openstack_inventory.history.json"
BACKUP_FILE = "backup_openstack_inventory.tar"


# -- a deployment: the demo config and its store ---------------------------------------------


def demo_config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(DEMO, config)
    return config


def listed(config: Path, *flags: Any) -> Run:
    return run_main("--config", config, "--environment", DEMO, *flags, "--list")


def file_store(tmp_path: Path, versions: int = 1) -> Path:
    """A config dir whose file store holds ``versions`` versions (clear-ips makes the others)."""
    config = demo_config(tmp_path)
    assert listed(config).code == 0
    for _ in range(versions - 1):
        assert run_main("clear-ips", "--config", config).code == 0
        assert listed(config).code == 0
    return config


def store_files(config: Path) -> dict[str, bytes]:
    return {
        k: v for k, v in dir_snapshot(config).items() if k.startswith(("openstack_inv", "backup"))
    }


# -- the file backend's history ------------------------------------------------------------------

BAD_HISTORIES = {
    "a list": "[]",
    "versions a string": '{"versions": "x"}',
    "an entry without sha256": '{"versions": [{"version": 1, "time": 1.0}]}',
    "version as text": '{"versions": [{"version": "one", "sha256": "' + "a" * 64 + '"}]}',
    "an entry that is a number": '{"versions": [5]}',
    "not JSON": "{garbage",
}


@pytest.mark.parametrize("text", BAD_HISTORIES.values(), ids=BAD_HISTORIES.keys())
def test_a_damaged_history_is_one_line_and_list_still_serves(tmp_path: Path, text: str) -> None:
    config = file_store(tmp_path)
    (config / HISTORY_FILE).write_text(text)
    before = store_files(config)
    error = one_line_failure(run_main("history", "--config", config), 3)
    assert "move it aside to start a new history" in error
    served = listed(config)  # inputs unchanged: the intact inventory, with a warning
    assert served.code == 0, served.stderr
    assert served.stdout == (config / INVENTORY_FILE).read_bytes() + b"\n"
    assert (
        len(served.lines) == 1 and "warning" in served.lines[0] and HISTORY_FILE in served.lines[0]
    )
    one_line_failure(run_main("clear-ips", "--config", config), 3)  # writes are refused
    assert store_files(config) == before
    # the fix the message names: move it aside; then writes work again
    (config / HISTORY_FILE).rename(config / "history.damaged")
    assert run_main("clear-ips", "--config", config).code == 0
    assert listed(config).code == 0
    assert json.loads((config / HISTORY_FILE).read_text())["versions"]


# -- the backup tar --------------------------------------------------------------------------------


def _tar_damage(config: Path, how: str) -> None:
    path = config / BACKUP_FILE
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    data = bytearray(path.read_bytes())
    if how == "first header zeroed":
        data[:512] = bytes(512)
    elif how == "last header zeroed":
        data[last.offset : last.offset + 512] = bytes(512)
    else:  # truncated inside the last member's data
        del data[last.offset_data + 10 :]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["first header zeroed", "last header zeroed", "truncated"])
def test_a_damaged_backup_tar_is_reported_not_emptied(tmp_path: Path, how: str) -> None:
    config = file_store(tmp_path, versions=3)
    _tar_damage(config, how)
    before = store_files(config)
    error = one_line_failure(run_main("history", "--config", config), 3)
    assert "backup archive" in error and "unreadable" in error and "move it aside" in error
    one_line_failure(run_main("clear-ips", "--config", config), 3)  # no older backup dropped
    assert store_files(config) == before
    (config / BACKUP_FILE).rename(config / "backup.damaged")  # the fix it names
    assert run_main("clear-ips", "--config", config).code == 0


def test_a_backup_member_that_does_not_match_the_history_is_damage(tmp_path: Path) -> None:
    config = file_store(tmp_path, versions=2)
    path = config / BACKUP_FILE
    with tarfile.open(path) as tar:
        first = tar.getmembers()[0]
    data = bytearray(path.read_bytes())
    data[first.offset_data + 5] ^= 0x01  # still JSON, other content
    path.write_bytes(bytes(data))
    error = one_line_failure(run_main("rollback", "1", "--config", config), 3)
    assert "does not hold what the history recorded" in error


# -- bad input -----------------------------------------------------------------------------------


def test_a_misspelt_file_path_is_refused(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    wrong = tmp_path / "no-such-dir" / INVENTORY_FILE
    error = one_line_failure(listed(config, "--backend-option", f"path={wrong}"), 2)
    assert "does not exist" in error and str(wrong.parent) in error
    assert not wrong.parent.exists()


def test_an_empty_required_option_is_refused(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    error = one_line_failure(listed(config, "--backend-option", "path="), 2)
    assert "option path is empty" in error
    assert not (config / INVENTORY_FILE).exists()


def test_an_osa_ini_that_is_not_utf8(tmp_path: Path) -> None:
    config = file_store(tmp_path)
    ini = tmp_path / "osa.ini"
    ini.write_bytes(b"[inventory]\nbackend = f\xe9le\n")
    error = one_line_failure(_with_ini(config, ini), 2)
    assert str(ini) in error and "UTF-8" in error


def _with_ini(config: Path, ini: Path) -> Run:
    env = {"OSA_INVENTORY_CONFIG": str(ini)}
    return run_main("--config", config, "--environment", DEMO, "--list", env=env)


def test_import_reads_a_bounded_amount(tmp_path: Path) -> None:
    config = file_store(tmp_path)
    before = store_files(config)
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [str(CLI), "import", "-", "--config", str(config)],
            stdin=zero,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=120,
        )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "MiB" in proc.stderr, proc.stderr
    error = one_line_failure(run_main("import", "/dev/zero", "--config", config), 2)
    assert "not a regular file" in error
    assert store_files(config) == before


# -- stored inventories that parse but would crash the generator ------------------------------


def _group_a_list(inventory: dict[str, Any]) -> None:
    inventory["compute_hosts"] = ["hv1"]


def _networks_a_number(inventory: dict[str, Any]) -> None:
    name = sorted(inventory["_meta"]["hostvars"])[0]
    inventory["_meta"]["hostvars"][name]["container_networks"] = 5


def _hosts_numbers(inventory: dict[str, Any]) -> None:
    inventory["compute_hosts"]["hosts"] = [1, 2]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_group_a_list, "group compute_hosts"),
        (_networks_a_number, "container_networks"),
        (_hosts_numbers, "compute_hosts.hosts"),
    ],
    ids=["group a list", "container_networks 5", "hosts holding numbers"],
)
def test_a_stored_inventory_of_the_wrong_shape_is_never_generated_from(
    tmp_path: Path, change: Any, named: str
) -> None:
    config = file_store(tmp_path)
    path = config / INVENTORY_FILE
    inventory = json.loads(path.read_text())
    change(inventory)
    path.write_text(json.dumps(inventory, indent=4, sort_keys=True))
    before = store_files(config)
    for args in (
        ["--config", config, "--environment", DEMO, "--list"],
        ["hosts", "list", "--config", config],
    ):
        error = one_line_failure(run_main(*args), 3)
        assert named in error and "osa-inventory rollback" in error
    assert store_files(config) == before  # never written back
    # the fixes it names: roll back to the version before, or import a saved copy
    assert run_main("rollback", "1", "--config", config).code == 0
    assert listed(config).code == 0
    path.write_text(json.dumps(inventory, indent=4, sort_keys=True))
    saved = tmp_path / "saved.json"
    saved.write_bytes(run_main("export", "--version", "1", "--config", config).stdout)
    assert run_main("import", saved, "--config", config).code == 0
    assert listed(config).code == 0


# -- broken plugins ------------------------------------------------------------------------------

PLUGIN = """
import sys
{on_import}
class Backend:
    def __init__(self):
        {in_init}
    def register(self, options):
        {in_register}
    def load(self):
        {in_load}
        return {{"_meta": {{"hostvars": {{}}}}}}
    def write(self, inventory):
        pass
"""
BROKEN = {
    "import raises": ("raise ValueError('bad import')", "ValueError: bad import"),
    "import exits 0": ("sys.exit(0)", "sys.exit(0)"),
    "init raises": ("pass", "RuntimeError"),
    "register raises": ("pass", "KeyError"),
    "load exits 0": ("pass", "sys.exit(0)"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_plugin_is_one_line_naming_it(tmp_path: Path, case: str) -> None:
    on_import, said = BROKEN[case]
    module = f"broken_{uuid.uuid4().hex[:8]}"
    body = {"in_init": "pass", "in_register": "pass", "in_load": "pass"}
    if case == "init raises":
        body["in_init"] = "raise RuntimeError('no')"
    if case == "register raises":
        body["in_register"] = "raise KeyError('x')"
    if case == "load exits 0":
        body["in_load"] = "sys.exit(0)"
    (tmp_path / f"{module}.py").write_text(PLUGIN.format(on_import=on_import, **body))
    config = demo_config(tmp_path)
    env = {**clean_env(), "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [str(CLI), "--config", str(config), "--environment", str(DEMO), "--backend",
         f"{module}:Backend", "--list"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0 and proc.stdout == "", (proc.returncode, proc.stdout)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert module in lines[0] and said in lines[0], lines[0]


# -- writers killed mid-write leave temporary files; the next writer removes them ---------------


def test_temp_files_of_dead_writers_are_removed_and_no_others(tmp_path: Path) -> None:
    from osa_inventory.tempfiles import temp_prefix

    config = file_store(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ours = temp_prefix(config / INVENTORY_FILE)  # .<name>.<pid>-<host tag>.
        tag = ours[:-1].rsplit("-", 1)[1]
        files = {
            "dead": f".{INVENTORY_FILE}.{dead.pid}-{tag}.abcd1234.tmp",
            "dead tar": f".{BACKUP_FILE}.{dead.pid}-{tag}.x1y2z3.tmp",
            "live": f".{INVENTORY_FILE}.{live.pid}-{tag}.abcd1234.tmp",
            "other host": f".{INVENTORY_FILE}.{dead.pid}-00000000.abcd1234.tmp",
            "not ours": f".{INVENTORY_FILE}.abcd1234.tmp",
        }
        for name in files.values():
            (config / name).write_bytes(b"x" * 100)
        assert run_main("clear-ips", "--config", config).code == 0
        left = {key for key, name in files.items() if (config / name).exists()}
        assert left == {"live", "other host", "not ours"}
    finally:
        live.kill()
        live.wait()


TEMP_NAMES = [
    ".f.json.12-abcd1234.x1y2.tmp",
    ".f.json.12-abcd1234.x1.y2.tmp",  # a dot in the random part
    ".f.json.12-abcd1234..tmp",  # no random part
    ".f.json.-abcd1234.x.tmp",  # no pid
    ".f.json.1a-abcd1234.x.tmp",
    ".f.json.12-abcd12345.x.tmp",  # another tag
    ".f.json.12-abcd1234.x.tm",
    ".f.json.\u0663-abcd1234.x.tmp",  # an Arabic-Indic digit: a decimal digit to re too
    ".g.json.12-abcd1234.x.tmp",
    ".f.json.12-abcd1234-abcd1234.x.tmp",
    ".f.json.12-abcd1234.x.tmp.tmp",
]


@pytest.mark.parametrize("name", TEMP_NAMES)
def test_temp_file_names_are_read_as_the_pattern_reads_them(name: str) -> None:
    """The writer's pid is read from a temporary file's name exactly as the pattern
    ``.<target>.<pid>-<tag>.<random>.tmp`` (random: no '.' nor '/') reads it."""
    import re

    from osa_inventory.tempfiles import _writer_pid

    pattern = re.compile(r"\.f\.json\.(?P<pid>\d+)-abcd1234\.[^./]+\.tmp")
    match = pattern.fullmatch(name)
    assert _writer_pid(name, ".f.json.", "abcd1234") == (int(match["pid"]) if match else None)


def test_temp_files_are_new_private_and_named_after_their_writer(tmp_path: Path) -> None:
    import os
    import stat

    from osa_inventory.tempfiles import _host_tag, _writer_pid, create_temp_file

    target = tmp_path / "inventory.json"
    first, second = create_temp_file(target), create_temp_file(target)
    for fd, path in (first, second):
        os.close(fd)
        name = Path(path).name
        assert Path(path).parent == tmp_path
        assert _writer_pid(name, ".inventory.json.", _host_tag()) == os.getpid()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first[1] != second[1]


# -- doctor -------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["empty dir", "missing dir"])
def test_doctor_fails_without_an_inventory(tmp_path: Path, where: str) -> None:
    config = tmp_path / "config"
    if where == "empty dir":
        config.mkdir()
    run = run_main("doctor", "--config", config, "--format", "json")
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    assert not report["ok"]
    failed = [c["detail"] for c in report["checks"] if c["status"] == "FAIL"]
    assert failed and ("holds no inventory" in failed[0] or "does not exist" in failed[0])
    assert where == "empty dir" or not config.exists()


def test_doctor_passes_once_the_inventory_it_asks_for_is_generated(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    assert run_main("doctor", "--config", config).code == 1
    assert listed(config).code == 0  # 'osa-inventory --list', as the failure says
    run = run_main("doctor", "--config", config)
    assert run.code == 0, run.stdout.decode()


def test_an_unexpected_failure_is_one_line_and_debug_logs_it(tmp_path: Path) -> None:
    module = f"crashing_{uuid.uuid4().hex[:8]}"
    body = {"in_init": "pass", "in_register": "pass", "in_load": "raise ZeroDivisionError('x')"}
    (tmp_path / f"{module}.py").write_text(PLUGIN.format(on_import="", **body))
    config = demo_config(tmp_path)
    env = {**clean_env(), "PYTHONPATH": str(tmp_path)}
    for debug in ([], ["--debug"]):
        proc = subprocess.run(
            [str(CLI), "--config", str(config), "--environment", str(DEMO), "--backend",
             f"{module}:Backend", "--list", *debug],
            capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and proc.stdout == "", proc.stderr
        assert len(lines) == 1 and module in lines[0] and "--debug" in lines[0], proc.stderr
    assert "Traceback" in (tmp_path / "inventory.log").read_text()  # what --debug promised


# -- SQL: damaged rows, a damaged head, an unreadable lock row ------------------------------


class Sql:
    """A SQLite or PostgreSQL store holding the demo inventory, two versions."""

    def __init__(self, tmp_path: Path, kind: str, url: str, admin: Any) -> None:
        self.config = demo_config(tmp_path)
        self.flags = ["--config", self.config, "--backend", kind, "--backend-option", f"url={url}"]
        # the backend itself: with a local copy, --list serves the verified copy of the head
        self.flags += ["--cache-ttl", "0"]
        self.admin = admin
        self.kind = kind
        assert self.run("--environment", DEMO, "--list").code == 0
        self.saved = tmp_path / "saved.json"
        export = self.run("export")
        assert export.code == 0
        self.saved.write_bytes(export.stdout)

    def run(self, *args: Any) -> Run:
        flags = self.flags
        if args[0] == "migrate":  # it never serves a local copy: --cache-ttl is not offered
            flags = flags[:-2]
        return run_main(*args, *flags)

    def execute(self, statement: str) -> list[tuple[Any, ...]]:
        return self.admin(statement)

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        names = ["osa_inventories", "osa_versions", "osa_hosts", "osa_groups", "osa_members",
                 "osa_extras", "osa_changes", "osa_locks"]  # fmt: skip
        return {n: sorted(map(tuple, self.execute(f"SELECT * FROM {n}")), key=repr) for n in names}


def _sqlite_admin(path: Path) -> Any:
    def execute(statement: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(str(path), isolation_level=None)
        try:
            return conn.execute(statement).fetchall()
        finally:
            conn.close()

    return execute


@pytest.fixture(params=["sqlite", "postgresql"])
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Sql:
    return make_sql(request.param, request, tmp_path)


@pytest.fixture
def sqlite_sql(request: pytest.FixtureRequest, tmp_path: Path) -> Sql:
    return make_sql("sqlite", request, tmp_path)


def make_sql(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Sql:
    require_module("osa_inventory.backends.sql")
    if kind == "sqlite":
        path = tmp_path / "inventory.db"
        return Sql(tmp_path, "sqlite", f"sqlite:///{path}", _sqlite_admin(path))
    from osa_inventory.testing import servers as services

    server = request.getfixturevalue("pg_server")
    database = f"r_{uuid.uuid4().hex[:10]}"
    services.create_database(server, database)

    return Sql(tmp_path, "postgresql", server.url(database), pg_executor(server, database))


SQL_DAMAGE = {
    "host vars not JSON": "UPDATE osa_hosts SET vars = '{bad' WHERE name = 'hv1'",
    "group body not JSON": "UPDATE osa_groups SET body = 'nope' WHERE name = 'compute_hosts'",
    "host vars a list": "UPDATE osa_hosts SET vars = '[1]' WHERE name = 'hv1'",
}


@pytest.mark.parametrize("damage", SQL_DAMAGE, ids=list(SQL_DAMAGE))
def test_damaged_sql_rows_are_one_line_and_import_repairs(sql: Sql, damage: str) -> None:
    sql.execute(SQL_DAMAGE[damage])
    before = sql.tables()
    for args in (
        ("--environment", DEMO, "--list"),
        ("hosts", "list"),
        ("--environment", DEMO, "--host", "hv1"),
    ):
        run = sql.run(*args)
        if damage == "group body not JSON" and "--host" in args:
            continue  # one host's read does not touch the groups
        error = one_line_failure(run, 3)
        assert "osa-inventory import FILE" in error and "rollback" in error, error
    assert sql.tables() == before
    imported = sql.run("import", sql.saved)  # the fix the message names
    assert imported.code == 0, imported.stderr
    assert sql.run("--environment", DEMO, "--list").code == 0
    assert sql.run("hosts", "list").code == 0


def test_damaged_sql_rows_are_repaired_by_a_rollback_to_before_the_change(sql: Sql) -> None:
    assert sql.run("clear-ips").code == 0  # version 2: the containers' vars changed
    container = "ctl1-sql-container-"
    name = next(n for (n,) in sql.execute("SELECT name FROM osa_hosts") if n.startswith(container))
    sql.execute(f"UPDATE osa_hosts SET vars = 'x' WHERE name = '{name}'")
    error = one_line_failure(sql.run("hosts", "list"), 3)
    assert "'osa-inventory rollback VERSION'" in error
    rolled = sql.run("rollback", "1")  # version 1 had other vars for that container
    assert rolled.code == 0, rolled.stderr
    assert sql.run("export").stdout == sql.saved.read_bytes()


def test_a_reader_never_creates_a_sqlite_file_and_says_how_to(tmp_path: Path) -> None:
    require_module("osa_inventory.backends.sql")
    config = demo_config(tmp_path)
    path = tmp_path / "inventory.db"
    flags = ["--config", config, "--backend", "sqlite", "--backend-option", f"url=sqlite:///{path}"]
    reader = [*flags, "--backend-option", "auto_upgrade=false"]
    error = one_line_failure(run_main("hosts", "list", *reader), 3)
    assert "does not exist yet" in error and "'osa-inventory db upgrade'" in error
    assert not path.exists()
    upgraded = run_main("db", "upgrade", *flags)  # the command it names
    assert upgraded.code == 0, upgraded.stderr
    assert run_main("hosts", "list", *reader).code == 0


def test_a_zeroed_sql_head_is_corruption_and_rollback_repairs(sql: Sql) -> None:
    sql.execute("UPDATE osa_inventories SET head = 0")
    before = sql.tables()
    error = one_line_failure(sql.run("--environment", DEMO, "--list"), 3)
    assert "head" in error and "another writer" not in error and "rollback" in error
    one_line_failure(sql.run("hosts", "list"), 3)  # not "0 hosts"
    assert sql.tables() == before
    rolled = sql.run("rollback", "1")  # the fix the message names
    assert rolled.code == 0, rolled.stderr
    assert sql.run("--environment", DEMO, "--list").code == 0
    assert [row[0] for row in sql.execute("SELECT head FROM osa_inventories")] == [2]


def test_an_unreadable_lock_row_names_no_placeholder_and_lock_break_removes_it(
    sqlite_sql: Sql,
) -> None:
    """SQLite's lock is the row (PostgreSQL's is a server lock; the row only describes it)."""
    sql = sqlite_sql
    sql.execute(
        "INSERT INTO osa_locks (name, lock_id, holder, expires) "
        "VALUES ('default', 'abc123', '{bad', NULL)"
    )
    status = sql.run("lock", "status")
    assert status.code == 0
    text = status.stdout.decode()
    assert "unknown holder" in text and "?@?" not in text and "1970" not in text
    assert "osa-inventory lock break abc123" in text
    error = one_line_failure(sql.run("clear-ips", "--lock-timeout", "0"), 3)
    assert "unknown holder" in error and "?@?" not in error and "pid 0" not in error
    assert "'osa-inventory lock break abc123'" in error
    broken = sql.run("lock", "break", "abc123")  # the command both messages suggest
    assert broken.code == 0, broken.stderr
    assert "removed lock abc123" in broken.stdout.decode()
    assert sql.execute("SELECT * FROM osa_locks") == []
    assert sql.run("clear-ips").code == 0


def test_a_migrate_dry_run_writes_nothing_anywhere(
    sql: Sql, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = tmp_path / "target.db"
    run = sql.run("migrate", "--dry-run", "--to", f"sqlite:///{target}")
    assert run.code == 0, run.stderr
    assert not target.exists()
    if sql.kind == "postgresql":
        from osa_inventory.testing import servers as services

        server = request.getfixturevalue("pg_server")
        database = f"m_{uuid.uuid4().hex[:10]}"
        services.create_database(server, database)
        dry = sql.run("migrate", "--dry-run", "--to", server.url(database))
        assert dry.code == 0, dry.stderr
        conn = services.pg_admin(server, database)
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            assert cursor.fetchall() == []
        finally:
            conn.close()


# -- etcd: a damaged head or a missing object, and the recovery the message names -------------


class Etcd:
    """An etcd store of its own holding two versions of the demo inventory."""

    def __init__(self, tmp_path: Path, endpoints: str) -> None:
        from osa_inventory.store import open_backend

        self.config = demo_config(tmp_path)
        prefix = f"/robust-{uuid.uuid4().hex[:10]}"
        self.options = {"endpoints": endpoints, "prefix": prefix, "timeout": "5"}
        self.flags: list[Any] = ["--config", self.config, "--backend", "etcd", "--cache-ttl", "0"]
        for key, value in self.options.items():
            self.flags += ["--backend-option", f"{key}={value}"]
        assert self.run("--environment", DEMO, "--list").code == 0
        self.first = self.run("export").stdout
        assert self.run("clear-ips").code == 0  # version 2: other objects for the containers
        self.saved = tmp_path / "saved.json"
        self.saved.write_bytes(self.first)
        self.backend = open_backend("etcd", self.options)

    def run(self, *args: Any) -> Run:
        if args[0] == "migrate":  # it reads the backend itself: no --cache-ttl to give
            return run_main(*args, *self.flags[:-2])
        return run_main(*args, *self.flags)

    def keys(self) -> dict[bytes, bytes]:
        prefix = self.backend.layout.root
        revision = self.backend.client.range(prefix).revision
        return {kv.key: kv.value for kv in self.backend.client.scan(prefix, revision=revision)}

    def put(self, key: bytes, value: bytes) -> None:
        from osa_inventory.backends.etcd.kv import put_op

        self.backend.client.txn([], [put_op(key, value)], [])

    def delete(self, key: bytes) -> None:
        from osa_inventory.backends.etcd.kv import delete_op

        self.backend.client.txn([], [delete_op(key)], [])

    def head(self) -> dict[str, Any]:
        return json.loads(self.keys()[self.backend.layout.head])

    def only_in_head(self) -> bytes:
        """An object the head refers to and version 1 does not (clear-ips changed it)."""
        from osa_inventory.backends.etcd.records import parse_record, root_of

        layout, client = self.backend.layout, self.backend.client
        revision, head_kv = client.get(layout.head)
        _, first_kv = client.get(layout.version(1))
        _, now = self.backend.referenced(root_of(parse_record(head_kv)), revision)
        _, before = self.backend.referenced(root_of(parse_record(first_kv)), revision)
        return layout.object(sorted(now - before)[0])


def _etcd_head_damage(etcd: Etcd, how: str) -> None:
    head = etcd.head()
    if how == "version as text":
        head["version"] = "three"
    elif how == "no lineage":
        del head["lineage"]
    elif how == "root a list":
        head["root"] = []
    elif how == "time as text":
        head["time"] = "noon"
    if how == "not JSON":
        etcd.put(etcd.backend.layout.head, b"{not json")
    elif how == "object missing":
        etcd.delete(etcd.only_in_head())
    else:
        etcd.put(etcd.backend.layout.head, json.dumps(head).encode())


ETCD_DAMAGE = ["version as text", "no lineage", "root a list", "time as text", "not JSON",
               "object missing"]  # fmt: skip


@pytest.fixture
def etcd(etcd_endpoints: str, tmp_path: Path) -> Etcd:
    store = Etcd(tmp_path, etcd_endpoints)
    yield store
    store.backend.close()


@pytest.mark.parametrize("how", ETCD_DAMAGE)
@pytest.mark.parametrize("repair", ["rollback", "import"])
def test_a_damaged_etcd_store_is_repaired_by_the_commands_it_names(
    etcd: Etcd, how: str, repair: str
) -> None:
    last = etcd.head()["version"]
    _etcd_head_damage(etcd, how)
    before = etcd.keys()
    for args in (("--environment", DEMO, "--list"), ("hosts", "list"), ("export",)):
        error = one_line_failure(etcd.run(*args), 3)
        assert "'osa-inventory rollback VERSION'" in error, error
        assert "'osa-inventory import FILE'" in error, error
    assert etcd.keys() == before
    fixed = etcd.run("rollback", "1") if repair == "rollback" else etcd.run("import", etcd.saved)
    assert fixed.code == 0, fixed.stderr
    assert b"damaged version was replaced" in fixed.stdout
    assert etcd.run("export").stdout == etcd.first
    assert etcd.head()["version"] == last + 1  # numbered after every version, nothing reused
    assert etcd.run("--environment", DEMO, "--list").code == 0
    assert etcd.run("history").code == 0


def test_an_unreachable_etcd_is_asked_once_before_the_local_copy_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quorum lost: --list answers within one ``timeout`` (one request), not two."""
    require_module("osa_inventory.backends.etcd")
    from osa_inventory.backends.etcd.client import EtcdClient
    from osa_inventory.run import Inputs, host_vars, refresh
    from osa_inventory.store import open_store
    from osa_inventory.store.backend import VersionInfo
    from osa_inventory.store.store import Snapshot

    config = file_store(tmp_path)
    inventory = json.loads((config / INVENTORY_FILE).read_text())
    asked: list[str] = []
    real_post = EtcdClient.post

    def counting(self: EtcdClient, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        asked.append(path)
        return real_post(self, path, payload)

    monkeypatch.setattr(EtcdClient, "post", counting)
    warnings: list[str] = []
    for action in ("list", "host"):
        # nothing listens on port 9: every request fails until its timeout is spent
        store = open_store("etcd://127.0.0.1:9/unreachable?timeout=0.5", warn=warnings.append)
        store.cache.save(Snapshot(inventory, VersionInfo(1, "l", 1.0)), store.label)
        asked.clear()
        inputs = Inputs(config, DEMO)
        if action == "list":
            assert refresh(store, inputs).inventory == inventory
        else:
            assert host_vars(store, inputs, "hv1") == inventory["_meta"]["hostvars"]["hv1"]
        assert len(asked) == 1, asked
        store.close()
    assert warnings and "serving the local copy" in warnings[0]


def test_a_file_lock_held_without_a_record_is_an_unknown_holder(tmp_path: Path) -> None:
    """Someone holds the flock but wrote no holder (or an unreadable one): say so, no '?@?'."""
    import fcntl

    config = file_store(tmp_path)
    lock = config / f"{INVENTORY_FILE}.lock"
    lock.write_text("{not a holder")
    with open(lock, "rb+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        status = run_main("lock", "status", "--config", config)
        assert status.code == 0 and b"unknown holder" in status.stdout, status.stdout
        error = one_line_failure(
            run_main("clear-ips", "--config", config, "--lock-timeout", "0"), 3
        )
        assert "unknown holder" in error and "released when its holder ends" in error
        assert "?@?" not in error and "pid 0" not in error and "lock break" not in error
    assert run_main("clear-ips", "--config", config).code == 0  # released with its holder
