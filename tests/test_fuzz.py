"""Fuzzing damaged stores and bad input: never a traceback, never a changed store.

Hypothesis generates damage (truncations, bytes that are not UTF-8, values of the
wrong JSON type at the places the code relies on, missing keys, zeroed tar
headers, missing etcd objects) to a healthy store of every kind (file, SQLite,
PostgreSQL, etcd), and bad osa.ini files, environment variables, flags and
import files. Every case must end with exit status 2 (bad input) or 3 (store),
exactly one line on stderr, no traceback, and the store as it was. The one
deliberate exception: a file store whose history alone is damaged still serves
its intact inventory to ``--list`` (one warning line, exit 0).

The examples are derandomized (a fixed seed per test) and bounded, so CI time
stays bounded: a few hundred cases, most run in this process
(tests/inprocess.py), some through the installed command.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CLI, INVENTORY_FILE, dir_snapshot, require_module
from inprocess import Run, one_line_failure, pg_executor, run_main
from test_operations import clean_env

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
HISTORY_FILE = "openstack_inventory.history.json"
BACKUP_FILE = "backup_openstack_inventory.tar"


#: generated cases run, per store or input kind (checked by the last test)
CASES: Counter[str] = Counter()
MIN_CASES = 300


def fuzz(examples: int) -> Any:
    """Hypothesis settings: a fixed seed, ``examples`` cases, no deadline (a busy CI)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="osa-fuzz-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def refused(run: Run) -> str:
    """Exit 2 or 3, one line on stderr, no traceback, nothing on stdout."""
    line = one_line_failure(run)
    assert run.stdout == b"", run.stdout[:200]
    return line


# -- values of the wrong JSON type ------------------------------------------------------------

KINDS: dict[str, st.SearchStrategy[Any]] = {
    "object": st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    "list": st.lists(st.integers(), max_size=3),
    "string": st.text(max_size=8),
    "number": st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
    "null": st.none(),
}


def wrong(allowed: set[str]) -> st.SearchStrategy[Any]:
    """A JSON value of any kind but those in ``allowed``."""
    return st.sampled_from(sorted(set(KINDS) - allowed)).flatmap(KINDS.__getitem__)


def set_path(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


def delete_path(document: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        document = document[key]
    del document[path[-1]]


# -- healthy stores to damage ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def file_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config dir with a file store of three versions (the demo, clear-ips, the demo again:
    the inputs give the stored inventory, so --list takes the fast path)."""
    config = tmp_path_factory.mktemp("fuzz-file") / "config"
    shutil.copytree(DEMO, config)
    assert run_main("--config", config, "--environment", DEMO, "--list").code == 0
    assert run_main("clear-ips", "--config", config).code == 0
    assert run_main("--config", config, "--environment", DEMO, "--list").code == 0
    return config


def inventory_of(config: Path) -> dict[str, Any]:
    return json.loads((config / INVENTORY_FILE).read_text())


@contextlib.contextmanager
def copy_of(template: Path) -> Iterator[Path]:
    with scratch() as base:
        config = base / "config"
        shutil.copytree(template, config)
        yield config


def inventory_paths(inventory: dict[str, Any]) -> list[tuple[tuple[Any, ...], set[str]]]:
    """(path, kinds allowed there) for every place whose type the code relies on."""
    from osa_inventory.inventory import _HOSTVAR_TYPES

    kind_names = {dict: "object", str: "string"}
    paths: list[tuple[tuple[Any, ...], set[str]]] = [
        (("_meta",), {"object"}),
        (("_meta", "hostvars"), {"object"}),
    ]
    for host, variables in sorted(inventory["_meta"]["hostvars"].items()):
        paths.append((("_meta", "hostvars", host), {"object"}))
        for key, (kind, _) in _HOSTVAR_TYPES.items():
            paths.append((("_meta", "hostvars", host, key), {kind_names[kind], "null"}))
        for network in sorted(variables.get("container_networks") or {}):
            paths.append((("_meta", "hostvars", host, "container_networks", network), {"object"}))
    for group in sorted(k for k in inventory if k != "_meta"):
        paths.append(((group,), {"object"}))
        paths.append(((group, "vars"), {"object"}))
        for members in ("hosts", "children"):
            paths.append(((group, members), {"list"}))
    return paths


@st.composite
def inventory_damage(draw: st.DrawFn, inventory: dict[str, Any]) -> Callable[[Path], None]:
    """Damage to ``openstack_inventory.json``: bytes, truncation or a wrong-typed value."""
    how = draw(st.sampled_from(["truncate", "bad byte", "wrong type", "member not a name"]))
    if how in ("truncate", "bad byte"):
        return byte_damage(draw, how, INVENTORY_FILE)
    document = json.loads(json.dumps(inventory))
    if how == "wrong type":
        path, allowed = draw(st.sampled_from(inventory_paths(inventory)))
        set_path(document, path, draw(wrong(allowed)))
    else:
        groups = sorted(g for g, v in inventory.items() if g != "_meta" and v.get("hosts"))
        group = draw(st.sampled_from(groups))
        hosts = document[group]["hosts"]
        hosts.insert(draw(st.integers(0, len(hosts))), draw(wrong({"string"})))
    text = json.dumps(document, indent=4, sort_keys=True)
    return lambda config: (config / INVENTORY_FILE).write_text(text)


def byte_damage(draw: st.DrawFn, how: str, name: str) -> Callable[[Path], None]:
    def damage(config: Path) -> None:
        path = config / name
        data = bytearray(path.read_bytes())
        if how == "truncate":
            del data[cut % len(data) :]
        else:
            data[at % len(data)] = byte
        path.write_bytes(bytes(data))

    cut = draw(st.integers(0, 100_000))
    at = draw(st.integers(0, 100_000))
    byte = draw(st.integers(0x80, 0xFF))  # never valid on its own in UTF-8 text
    return damage


@st.composite
def history_damage(draw: st.DrawFn, history: dict[str, Any]) -> Callable[[Path], None]:
    how = draw(st.sampled_from(["truncate", "bad byte", "wrong type", "missing key"]))
    if how in ("truncate", "bad byte"):
        return byte_damage(draw, how, HISTORY_FILE)
    document = json.loads(json.dumps(history))
    index = draw(st.integers(0, len(history["versions"]) - 1))
    if how == "missing key":
        delete_path(document, ("versions", index, draw(st.sampled_from(["version", "sha256"]))))
    else:
        fields: list[tuple[tuple[Any, ...], set[str]]] = [
            ((), {"object"}),
            (("lineage",), {"string", "null"}),
            (("versions",), {"list"}),
            (("versions", index), {"object"}),
            (("versions", index, "version"), {"number"}),
            (("versions", index, "sha256"), set()),
            (("versions", index, "time"), {"number"}),
            (("versions", index, "member"), {"string", "null"}),
            (("versions", index, "canonical"), {"bool"}),
            (("versions", index, "warnings"), {"list"}),
            (("versions", index, "message"), {"string"}),
        ]
        path, allowed = draw(st.sampled_from(fields))
        value = draw(wrong(allowed))
        if path == ():
            document = value
        else:
            set_path(document, path, value)
    text = json.dumps(document, indent=2)
    return lambda config: (config / HISTORY_FILE).write_text(text)


@st.composite
def tar_damage(draw: st.DrawFn, template: Path) -> Callable[[Path], None]:
    with tarfile.open(template / BACKUP_FILE) as tar:
        members = tar.getmembers()
    member = draw(st.sampled_from(members))
    zero = draw(st.booleans())
    # a cut inside the member (header or data), never exactly between two members
    end = member.offset_data + member.size
    cut = draw(st.integers(member.offset + 1, end - 1))

    def damage(config: Path) -> None:
        path = config / BACKUP_FILE
        data = bytearray(path.read_bytes())
        if zero:
            data[member.offset : member.offset + 512] = bytes(512)
        else:
            del data[cut:]
        path.write_bytes(bytes(data))

    return damage


# -- the file backend ---------------------------------------------------------------------------


def file_cases(template: Path) -> st.SearchStrategy[tuple[str, Callable[[Path], None]]]:
    inventory = inventory_of(template)
    history = json.loads((template / HISTORY_FILE).read_text())
    return st.one_of(
        inventory_damage(inventory).map(lambda d: ("inventory", d)),
        history_damage(history).map(lambda d: ("history", d)),
        tar_damage(template).map(lambda d: ("tar", d)),
    )


def test_a_damaged_file_store(file_template: Path) -> None:
    @fuzz(120)
    @given(file_cases(file_template))
    def check(case: tuple[str, Callable[[Path], None]]) -> None:
        CASES["file"] += 1
        target, damage = case
        with copy_of(file_template) as config:
            damage(config)
            before = dir_snapshot(config)
            check_file_store(config, target)
            assert dir_snapshot(config) == before

    check()


def check_file_store(config: Path, target: str) -> None:
    listing = run_main("--config", config, "--environment", DEMO, "--list")
    if target == "inventory":
        refused(listing)
        refused(run_main("hosts", "list", "--config", config))
        refused(run_main("export", "--config", config))
    elif target == "history":  # the inventory is intact: served, with one warning
        assert listing.code == 0, listing.stderr
        assert listing.stdout == (config / INVENTORY_FILE).read_bytes() + b"\n"
        assert len(listing.lines) == 1 and "warning" in listing.lines[0], listing.stderr
        for args in (["history"], ["clear-ips"], ["diff", "1"], ["export", "--version", "1"]):
            assert "move it aside" in refused(run_main(*args, "--config", config))
    else:
        assert listing.code == 0, listing.stderr  # the fast path needs no backup
        assert "move it aside" in refused(run_main("history", "--config", config))
        refused(run_main("clear-ips", "--config", config))


def test_a_damaged_file_store_through_the_command(file_template: Path) -> None:
    """The same, in real processes: what a deploy host sees."""

    @fuzz(8)
    @given(file_cases(file_template).filter(lambda case: case[0] != "history"))
    def check(case: tuple[str, Callable[[Path], None]]) -> None:
        CASES["file command"] += 1
        _, damage = case
        with copy_of(file_template) as config:
            damage(config)
            before = dir_snapshot(config)
            proc = subprocess.run(
                [str(CLI), "history" if case[0] == "tar" else "--list", "--config", str(config)],
                capture_output=True,
                text=True,
                env=clean_env(),
                timeout=120,
            )
            assert proc.returncode in (2, 3), proc.stderr
            assert "Traceback" not in proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert dir_snapshot(config) == before

    check()


@st.composite
def import_input(draw: st.DrawFn, inventory: dict[str, Any]) -> bytes:
    """Bytes that are not an importable inventory."""
    how = draw(st.sampled_from(["binary", "wrong type", "not an object", "truncated"]))
    text = json.dumps(inventory, indent=4, sort_keys=True)
    if how == "binary":
        return draw(st.binary(min_size=1, max_size=200)) + b"\xff"
    if how == "not an object":
        return json.dumps(draw(wrong({"object"}))).encode()
    if how == "truncated":
        return text.encode()[: draw(st.integers(0, len(text) - 1))]
    document = json.loads(text)
    path, allowed = draw(st.sampled_from(inventory_paths(inventory)))
    set_path(document, path, draw(wrong(allowed)))
    return json.dumps(document).encode()


def test_bad_import_files(file_template: Path) -> None:
    @fuzz(30)
    @given(import_input(inventory_of(file_template)), st.booleans())
    def check(data: bytes, from_stdin: bool) -> None:
        CASES["import"] += 1
        with copy_of(file_template) as config:
            before = dir_snapshot(config)
            source = config.parent / "import.json"
            source.write_bytes(data)
            if from_stdin:
                run = run_main("import", "-", "--config", config, stdin=data)
            else:
                run = run_main("import", source, "--config", config)
            assert run.code == 2, run.stderr
            refused(run)
            assert dir_snapshot(config) == before

    check()


# -- osa.ini, environment and flags -----------------------------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="#;=[]"),
    max_size=12,
)
KNOWN_BACKENDS = {"file", "memory", "sqlite", "postgresql", "mysql", "etcd"}


def not_seconds(value: str) -> bool:
    try:
        seconds = float(value)
    except ValueError:
        return True
    return math.isnan(seconds) or seconds < 0


def bad_name(value: str) -> bool:
    from osa_inventory.settings import NAME_RE

    return not NAME_RE.fullmatch(value.strip())


INI_DAMAGE = [
    "not utf-8",
    "outside a section",
    "unknown section",
    "unknown key",
    "seconds",
    "name",
    "backend",
    "backend option",
    "backup_keep",
    "duplicate",
]


@st.composite
def bad_ini(draw: st.DrawFn) -> bytes:
    how = draw(st.sampled_from(INI_DAMAGE))
    if how == "not utf-8":
        data = draw(st.binary(max_size=40))
        at = draw(st.integers(0, len(data)))
        return b"[inventory]\n" + data[:at] + b"\xff" + data[at:]
    if how == "outside a section":
        return f"{draw(WORD)} = {draw(TEXT)}\n[inventory]\n".encode()
    if how == "unknown section":
        name = draw(WORD.filter(lambda w: w != "inventory"))
        return f"[{name}]\nx = 1\n".encode()
    if how == "unknown key":
        key = draw(WORD.filter(lambda w: w not in ("backend", "name", "lock_timeout", "cache_ttl")))
        return f"[inventory]\n{key} = 1\n".encode()
    if how == "seconds":
        key = draw(st.sampled_from(["lock_timeout", "cache_ttl"]))
        value = draw(TEXT.filter(lambda v: v.strip() and not_seconds(v.strip())))
        return f"[inventory]\n{key} = {value}\n".encode()
    if how == "name":
        value = draw(st.sampled_from("!$%&*()<>?/,.-_")) + draw(TEXT)
        return f"[inventory]\nname = {value}\n".encode()
    if how == "backend":
        name = draw(WORD.filter(lambda w: w not in KNOWN_BACKENDS))
        return f"[inventory]\nbackend = {name}\n".encode()
    if how == "backend option":
        key = draw(WORD.filter(lambda w: w not in ("path", "backup_keep")))
        key = key if not key.endswith(("_env", "_file")) else key + "x"
        return f"[backend:file]\n{key} = 1\n".encode()
    if how == "backup_keep":
        value = draw(st.integers(-5, 0).map(str) | WORD)
        return f"[backend:file]\nbackup_keep = {value}\n".encode()
    section = draw(st.sampled_from(["[inventory]", "[backend:file]"]))
    return f"{section}\nbackend = file\n{section}\n".encode()


@st.composite
def bad_settings(draw: st.DrawFn) -> tuple[dict[str, str], list[str]]:
    """(environment, extra flags) that are wrong."""
    how = draw(st.sampled_from(["env seconds", "env name", "env backend", "env option", "flags"]))
    if how == "env seconds":
        key = draw(st.sampled_from(["OSA_INVENTORY_LOCK_TIMEOUT", "OSA_INVENTORY_CACHE_TTL"]))
        return {key: draw(TEXT.filter(lambda v: v and not_seconds(v)))}, []
    if how == "env name":
        return {"OSA_INVENTORY_NAME": draw(TEXT.filter(lambda v: v and bad_name(v)))}, []
    if how == "env backend":
        return {"OSA_INVENTORY_BACKEND": draw(WORD.filter(lambda w: w not in KNOWN_BACKENDS))}, []
    if how == "env option":
        key = draw(WORD.filter(lambda w: w not in ("path", "backup_keep")))
        key = key if not key.endswith(("_env", "_file")) else key + "x"
        return {f"OSA_INVENTORY_OPT_{key.upper()}": "1"}, []
    flag = draw(st.sampled_from(["no equals", "empty path", "unknown option", "timeout", "name"]))
    if flag == "no equals":
        return {}, ["--backend-option", draw(WORD)]
    if flag == "empty path":
        return {}, ["--backend-option", "path=" + draw(st.sampled_from(["", " ", "  "]))]
    if flag == "unknown option":
        return {}, ["--backend-option", f"{draw(WORD.filter(lambda w: w != 'path'))}x=1"]
    if flag == "timeout":
        return {}, [draw(st.sampled_from(["--lock-timeout", "--cache-ttl"])), "nan"]
    return {}, ["--inventory-name", draw(st.sampled_from("!$%&*<>?,.-_")) + draw(WORD)]


def test_bad_settings(file_template: Path) -> None:
    @fuzz(70)
    @given(
        st.one_of(
            bad_ini().map(lambda ini: (ini, {}, [])), bad_settings().map(lambda s: (None, *s))
        )
    )
    def check(case: tuple[bytes | None, dict[str, str], list[str]]) -> None:
        CASES["settings"] += 1
        ini, env, flags = case
        with copy_of(file_template) as config:
            before = dir_snapshot(config)
            ini_path = config.parent / "osa.ini"
            if ini is not None:
                ini_path.write_bytes(ini)
            env = {"OSA_INVENTORY_CONFIG": str(ini_path), **env}
            for args in (["--environment", DEMO, "--list"], ["hosts", "list"]):
                if args[0] == "hosts" and "--lock-timeout" in flags:
                    continue  # a reading command has no --lock-timeout to get wrong
                run = run_main(*args[:2], "--config", config, *flags, *args[2:], env=env)
                assert run.code == 2, (case, run.stderr)
                refused(run)
            assert dir_snapshot(config) == before

    check()


# -- SQL: SQLite and PostgreSQL ---------------------------------------------------------------


@st.composite
def sql_damage(
    draw: st.DrawFn, hosts: list[str], groups: list[str], kind: str
) -> tuple[str, str, str]:
    """(statement, what it damaged, a host whose --host read must fail too, or '')."""
    not_json = TEXT.filter(lambda t: t != "" and not _parses(t))  # '' is "no value"
    json_not_object = wrong({"object"}).map(json.dumps)
    how = draw(
        st.sampled_from(
            ["host vars", "group body", "version extra", "head", "time"]
            if kind == "sqlite"
            else ["host vars", "group body", "version extra", "head"]
        )
    )
    if how == "host vars":
        host = draw(st.sampled_from(hosts))
        value = draw(not_json | json_not_object)
        return (f"UPDATE osa_hosts SET vars = {_quote(value)} WHERE name = '{host}'", how, host)
    if how == "group body":
        group = draw(st.sampled_from(groups))
        value = draw(not_json | json_not_object)
        return (f"UPDATE osa_groups SET body = {_quote(value)} WHERE name = '{group}'", how, "")
    if how == "version extra":
        value = draw(not_json | wrong({"object", "null"}).map(json.dumps))
        statement = (
            f"UPDATE osa_versions SET extra = {_quote(value)} "
            "WHERE version = (SELECT head FROM osa_inventories)"
        )
        return statement, how, hosts[0]
    if how == "head":
        head = draw(st.sampled_from([0, 99, 1000]))
        return f"UPDATE osa_inventories SET head = {head}", how, hosts[0]
    return (
        f"UPDATE osa_versions SET time_us = {_quote(draw(WORD))}",
        how,
        hosts[0],
    )


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class SqlStore:
    """One named inventory in a SQL database, and the admin access to damage it."""

    TABLES = ("osa_inventories", "osa_versions", "osa_hosts", "osa_groups", "osa_members",
              "osa_extras", "osa_changes", "osa_locks")  # fmt: skip

    def __init__(self, config: Path, kind: str, url: str, execute: Callable[[str], list[Any]]):
        self.config, self.kind, self.url, self.execute = config, kind, url, execute

    def flags(self) -> list[Any]:
        return ["--config", self.config, "--backend", self.kind, "--backend-option",
                f"url={self.url}", "--cache-ttl", "0"]  # fmt: skip

    def rows(self) -> dict[str, list[Any]]:
        return {
            t: sorted(map(tuple, self.execute(f"SELECT * FROM {t}")), key=repr) for t in self.TABLES
        }


def sql_check(store: SqlStore, statement: str, host: str) -> None:
    store.execute(statement)
    before = store.rows()
    refused(run_main("--environment", DEMO, "--list", *store.flags()))
    refused(run_main("hosts", "list", *store.flags()))
    if host:
        refused(run_main("--environment", DEMO, "--host", host, *store.flags()))
    assert store.rows() == before


@pytest.fixture(scope="module")
def demo_inventory(file_template: Path) -> dict[str, Any]:
    return inventory_of(file_template)


def _names(inventory: dict[str, Any]) -> tuple[list[str], list[str]]:
    return sorted(inventory["_meta"]["hostvars"]), sorted(k for k in inventory if k != "_meta")


def test_a_damaged_sqlite_store(file_template: Path, demo_inventory: dict[str, Any]) -> None:
    require_module("osa_inventory.backends.sql")
    import sqlite3

    with scratch() as base:
        template = base / "template.db"
        config = base / "config"
        shutil.copytree(DEMO, config)
        flags = ["--backend", "sqlite", "--backend-option", f"url=sqlite:///{template}"]
        assert (
            run_main("import", file_template / INVENTORY_FILE, "--config", config, *flags).code == 0
        )
        hosts, groups = _names(demo_inventory)

        @fuzz(60)
        @given(sql_damage(hosts, groups, "sqlite"))
        def check(case: tuple[str, str, str]) -> None:
            CASES["sqlite"] += 1
            statement, _, host = case
            with scratch() as work:
                path = work / "inventory.db"
                shutil.copyfile(template, path)

                def execute(sql: str) -> list[Any]:
                    conn = sqlite3.connect(str(path), isolation_level=None)
                    try:
                        return conn.execute(sql).fetchall()
                    finally:
                        conn.close()

                sql_check(SqlStore(config, "sqlite", f"sqlite:///{path}", execute), statement, host)

        check()


def test_a_damaged_postgresql_store(
    pg_server: Any, file_template: Path, demo_inventory: dict[str, Any]
) -> None:
    from osa_inventory.testing import servers as services

    database = f"fuzz_{uuid.uuid4().hex[:10]}"
    services.create_database(pg_server, database)
    url = pg_server.url(database)
    hosts, groups = _names(demo_inventory)

    execute = pg_executor(pg_server, database)

    with scratch() as base:
        config = base / "config"
        shutil.copytree(DEMO, config)
        store = SqlStore(config, "postgresql", url, execute)
        assert run_main("import", file_template / INVENTORY_FILE, *store.flags()).code == 0

        @fuzz(35)
        @given(sql_damage(hosts, groups, "postgresql"))
        def check(case: tuple[str, str, str]) -> None:
            CASES["postgresql"] += 1
            statement, _, host = case
            for table in reversed(SqlStore.TABLES):  # a fresh copy of the healthy store
                execute(f"DELETE FROM {table}")
            imported = run_main("import", file_template / INVENTORY_FILE, *store.flags())
            assert imported.code == 0, imported.stderr
            sql_check(store, statement, host)

        check()


# -- etcd ----------------------------------------------------------------------------------------

RECORD_FIELDS: dict[str, set[str]] = {
    "version": {"number"},
    "lineage": {"string"},
    "root": {"object"},
    "time": {"number", "null"},
    "user": {"string", "null"},
    "host": {"string", "null"},
    "command": {"string", "null"},
    "message": {"string", "null"},
    "fingerprint": {"string", "null"},
    "digest": {"string", "null"},
    "warnings": {"list"},
}
ROOT_FIELDS: dict[str, set[str]] = {"shape": {"object"}, "buckets": {"number"}, "chunks": {"list"}}


@st.composite
def etcd_damage(draw: st.DrawFn) -> tuple[str, Any]:
    """(kind of damage, what to do): to the head record, or to the objects it refers to."""
    how = draw(st.sampled_from(["wrong type", "root wrong type", "missing key", "bytes", "object"]))
    if how == "wrong type":
        key = draw(st.sampled_from(sorted(RECORD_FIELDS)))
        value = draw(wrong(RECORD_FIELDS[key]))
        if key == "version" and isinstance(value, float):
            value = "three"
        return how, (key, value)
    if how == "root wrong type":
        key = draw(st.sampled_from(sorted(ROOT_FIELDS)))
        value = draw(wrong(ROOT_FIELDS[key]))
        return how, (key, value)
    if how == "missing key":
        return how, draw(st.sampled_from(["version", "lineage", "root"]))
    if how == "bytes":
        return how, (draw(st.integers(0, 400)), draw(st.booleans()))
    return how, (draw(st.integers(0, 10_000)), draw(st.booleans()))


def damage_etcd(backend: Any, case: tuple[str, Any]) -> None:
    from osa_inventory.backends.etcd.kv import delete_op, put_op
    from osa_inventory.backends.etcd.records import parse_record, root_of

    layout, client = backend.layout, backend.client
    revision, head_kv = client.get(layout.head)
    how, detail = case
    record = json.loads(head_kv.value)
    if how == "wrong type":
        record[detail[0]] = detail[1]
    elif how == "root wrong type":
        record["root"][detail[0]] = detail[1]
    elif how == "missing key":
        del record[detail]
    elif how == "bytes":
        cut, flip = detail
        data = bytearray(head_kv.value)
        if flip:
            data[cut % len(data)] = 0xFF
        else:
            del data[cut % len(data) :]
        client.txn([], [put_op(layout.head, bytes(data))], [])
        return
    else:  # an object the head refers to: gone, or holding other bytes
        index, remove = detail
        _, objects = backend.referenced(root_of(parse_record(head_kv)), revision)
        key = layout.object(sorted(objects)[index % len(objects)])
        op = delete_op(key) if remove else put_op(key, b'{"other": "bytes"}')
        client.txn([], [op], [])
        return
    client.txn([], [put_op(layout.head, json.dumps(record).encode())], [])


def test_a_damaged_etcd_store(etcd_endpoints: str, file_template: Path) -> None:
    from osa_inventory.store import open_backend

    with scratch() as base:
        config = base / "config"
        shutil.copytree(DEMO, config)

        @fuzz(45)
        @given(etcd_damage())
        def check(case: tuple[str, Any]) -> None:
            CASES["etcd"] += 1
            options = {"endpoints": etcd_endpoints, "prefix": f"/fuzz-{uuid.uuid4().hex[:12]}"}
            flags: list[Any] = ["--config", config, "--backend", "etcd", "--cache-ttl", "0"]
            for key, value in options.items():
                flags += ["--backend-option", f"{key}={value}"]
            assert run_main("import", file_template / INVENTORY_FILE, *flags).code == 0
            backend = open_backend("etcd", options)
            try:
                damage_etcd(backend, case)
                before = _etcd_keys(backend)
                refused(run_main("--environment", DEMO, "--list", *flags))
                refused(run_main("hosts", "list", *flags))
                assert _etcd_keys(backend) == before
            finally:
                backend.close()

        check()


def _etcd_keys(backend: Any) -> dict[bytes, bytes]:
    prefix = backend.layout.root
    revision = backend.client.range(prefix).revision
    return {kv.key: kv.value for kv in backend.client.scan(prefix, revision=revision)}


def test_the_fuzz_ran_enough_cases() -> None:
    """Runs last: every kind of store and input was fuzzed, 300 cases at least."""
    kinds = {"file", "file command", "import", "settings", "sqlite", "postgresql", "etcd"}
    if set(CASES) != kinds:
        pytest.skip(f"only {sorted(CASES)} ran; run the whole module to count the cases")
    assert sum(CASES.values()) >= MIN_CASES, CASES
