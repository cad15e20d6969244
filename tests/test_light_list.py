"""The light ``--list`` (osa_inventory.store.light): one head query, the verified local copy.

Every test runs the real ``osa-inventory`` against a real SQLite file, PostgreSQL,
MariaDB and etcd. A probe around the command's ``main`` records which heavy
libraries the process imported: the light road imports neither SQLAlchemy nor
alembic, etcd3gw or requests; the full road (refresh) does.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_example, require_module, require_shared_dir, unavailable
from osa_inventory.settings import resolve_settings
from osa_inventory.store import open_store
from osa_inventory.testing import servers as services

KINDS = ["sqlite", "postgresql", "mysql", "etcd"]
HEAVY = ("sqlalchemy", "alembic", "etcd3gw", "requests")
PROBE = """\
import json, os, sys
for blocked in filter(None, os.environ.get("LIGHT_TEST_BLOCK", "").split(",")):
    sys.modules[blocked] = None  # as if not installed
from osa_inventory.cli.main import main
code = main(sys.argv[2:])
sys.stdout.flush()
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[1])))
sys.stderr.write("loaded: " + json.dumps(loaded) + "\\n")
sys.exit(code)
"""


def run_probe(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``code`` in a new Python with ``args``; it must exit 0 (its stderr says why not)."""
    probe = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, env=env, timeout=60, check=False
    )
    assert probe.returncode == 0, probe.stderr.decode()
    return probe


class Deployment:
    """One config dir and store, and the command run against them through the probe."""

    def __init__(self, tmp_path: Path, flags: list[str]) -> None:
        self.config = copy_example("prod", tmp_path / "deploy")
        self.environment = require_shared_dir() / "inventory"
        self.flags = flags
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
        self.env.update(
            XDG_CACHE_HOME=str(tmp_path / "xdg"),
            OSA_INVENTORY_CONFIG=str(tmp_path / "no-osa.ini"),
        )

    def run(
        self, *extra: str, block: tuple[str, ...] = ()
    ) -> tuple[subprocess.CompletedProcess[bytes], list[str]]:
        """(process, heavy libraries it imported); stderr without the probe's line.

        ``block``: modules the process finds missing, as if not installed."""
        args = ["--config", str(self.config), "--environment", str(self.environment)]
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args, *self.flags, *extra],
            capture_output=True,
            env={**self.env, "LIGHT_TEST_BLOCK": ",".join(block)},
            timeout=120,
            check=False,
        )
        lines = proc.stderr.decode().splitlines()
        loaded = json.loads(lines[-1].removeprefix("loaded: ")) if lines else []
        proc.stderr = "\n".join(lines[:-1]).encode()
        return proc, loaded

    def cache_file(self) -> Path:
        (found,) = (Path(self.env["XDG_CACHE_HOME"]) / "osa-inventory").glob("*.json")
        return found

    def store(self) -> Any:
        options = [
            o
            for flag, o in zip(self.flags, self.flags[1:], strict=False)
            if flag == "--backend-option"
        ]
        settings = resolve_settings(
            self.config, backend=self.flags[1], backend_options=options, cache_ttl=0
        )
        return open_store(settings)


@pytest.fixture(params=KINDS)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Deployment:
    kind = request.param
    if kind == "sqlite":
        flags = ["--backend-option", f"url=sqlite:///{tmp_path / 'inventory.db'}"]
    elif kind == "etcd":
        endpoints = request.getfixturevalue("etcd_endpoints")
        prefix = f"/light-{uuid.uuid4().hex[:8]}"
        flags = [
            "--backend-option",
            f"endpoints={endpoints}",
            "--backend-option",
            f"prefix={prefix}",
        ]
    else:
        server = request.getfixturevalue("pg_server" if kind == "postgresql" else "mariadb_server")
        database = f"light_{uuid.uuid4().hex[:10]}"
        services.create_database(server, database)
        flags = ["--backend-option", f"url={server.url(database)}"]
    return Deployment(tmp_path, ["--backend", kind, *flags])


def test_light_list_serves_the_bytes_the_full_road_prints(deployment: Deployment) -> None:
    first, _ = deployment.run("--list")
    assert first.returncode == 0, first.stderr
    full, loaded_full = deployment.run("--list", "--regenerate")  # generated again, printed
    assert full.returncode == 0, full.stderr
    assert "sqlalchemy" in loaded_full or "etcd3gw" in loaded_full
    light, loaded = deployment.run("--list")
    assert light.returncode == 0, light.stderr
    assert loaded == [], f"the light road imported {loaded}"
    assert light.stdout == full.stdout == first.stdout
    assert light.stderr == b""


def test_a_newer_head_is_read_by_the_full_road(deployment: Deployment) -> None:
    """A head the copy is not of (written with the same fingerprint) is never served stale."""
    assert deployment.run("--list")[0].returncode == 0
    assert deployment.run("--list")[1] == []  # the copy is there and current
    store = deployment.store()
    try:
        head = store.head()
        assert head is not None

        def change(inventory: dict[str, Any]) -> dict[str, Any]:
            return {**inventory, "light_test_group": {"hosts": [], "vars": {"marker": 1}}}

        store.update(change, fingerprint=head.fingerprint)  # same inputs, other content
    finally:
        store.close()
    after, loaded = deployment.run("--list")
    assert after.returncode == 0, after.stderr
    assert loaded != []  # the full road
    assert json.loads(after.stdout)["light_test_group"] == {"hosts": [], "vars": {"marker": 1}}
    again, loaded = deployment.run("--list")  # the copy is of the new head now
    assert loaded == [] and again.stdout == after.stdout


def test_changed_inputs_take_the_full_road(deployment: Deployment) -> None:
    assert deployment.run("--list")[0].returncode == 0
    config = deployment.config / "openstack_user_config.yml"
    config.write_text(config.read_text() + "\nlight_test_marker: 1\n")
    changed, loaded = deployment.run("--list")
    assert changed.returncode == 0, changed.stderr
    assert loaded != []


def _tamper_body(deployment: Deployment) -> None:
    path = deployment.cache_file()
    header, _, body = path.read_bytes().partition(b"\n")
    path.write_bytes(header + b"\n" + body.replace(b'"_meta"', b'"_metx"', 1))


def _tamper_header(deployment: Deployment) -> None:
    path = deployment.cache_file()
    header, _, body = path.read_bytes().partition(b"\n")
    record = json.loads(header)
    record["version"]["extra"]["digest"] = "0" * 64
    path.write_bytes(json.dumps(record).encode() + b"\n" + body)


@pytest.mark.parametrize("tamper", [_tamper_body, _tamper_header])
def test_a_tampered_copy_is_not_served(
    deployment: Deployment, tamper: Callable[[Deployment], None]
) -> None:
    first, _ = deployment.run("--list")
    assert first.returncode == 0
    tamper(deployment)
    after, loaded = deployment.run("--list")
    assert after.returncode == 0, after.stderr
    assert loaded != []  # refused: the full road read the store
    assert after.stdout == first.stdout
    assert deployment.run("--list")[1] == []  # and the copy was made whole again


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> tuple[Deployment, Path]:
    path = tmp_path / "inventory.db"
    return Deployment(
        tmp_path, ["--backend", "sqlite", "--backend-option", f"url=sqlite:///{path}"]
    ), path


def test_a_tampered_head_is_not_served(sqlite_deployment: tuple[Deployment, Path]) -> None:
    deployment, path = sqlite_deployment
    first, _ = deployment.run("--list")
    assert first.returncode == 0
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE osa_versions SET checksum = 'forged'")
    after, loaded = deployment.run("--list")
    assert loaded != []
    no_copy, _ = deployment.run("--list", "--cache-ttl", "0")
    assert (after.returncode, after.stdout, after.stderr) == (
        no_copy.returncode,
        no_copy.stdout,
        no_copy.stderr,
    )


def test_a_damaged_head_gives_todays_error(sqlite_deployment: tuple[Deployment, Path]) -> None:
    deployment, path = sqlite_deployment
    assert deployment.run("--list")[0].returncode == 0
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE osa_versions SET extra = '{not json'")
    damaged, loaded = deployment.run("--list")
    no_copy, _ = deployment.run("--list", "--cache-ttl", "0")
    assert loaded != []
    assert damaged.returncode == no_copy.returncode != 0
    assert damaged.stderr == no_copy.stderr
    assert len(damaged.stderr.decode().strip().splitlines()) == 1
    assert b"Traceback" not in damaged.stderr


def test_a_sqlite_copy_is_never_served_when_the_database_is_gone(
    sqlite_deployment: tuple[Deployment, Path],
) -> None:
    """SQLite keeps the copy for speed only: no outage copy for a local database."""
    deployment, path = sqlite_deployment
    assert deployment.run("--list")[0].returncode == 0
    path.unlink()
    path.mkdir()  # opening it fails
    gone, _ = deployment.run("--list")
    assert gone.returncode != 0 and gone.stdout == b""
    (line,) = gone.stderr.decode().strip().splitlines()
    assert line.startswith("osa-inventory: error:") and "cache" not in line


@pytest.fixture
def pg_deployment(pg_server: Any, tmp_path: Path) -> Deployment:
    database = f"light_{uuid.uuid4().hex[:10]}"
    services.create_database(pg_server, database)
    flags = ["--backend", "postgresql", "--backend-option", f"url={pg_server.url(database)}"]
    return Deployment(tmp_path, flags)


def test_both_postgresql_drivers_read_the_same_head(pg_deployment: Deployment) -> None:
    """psycopg2 (preferred: a lighter import) and psycopg answer the head query alike,
    and that answer is the head the full backend reads."""
    from osa_inventory.backends.sql import light

    assert pg_deployment.run("--list")[0].returncode == 0
    where = light.where_of("postgresql", pg_deployment.flags[-1].removeprefix("url="), None)
    assert where is not None
    options = light.libpq_options(where)
    by_psycopg2 = light.psycopg2_rows(options, "default")
    by_psycopg = light.psycopg_rows(options, "default")
    assert by_psycopg2 is not None and len(by_psycopg2) == 1
    assert by_psycopg2 == by_psycopg
    store = pg_deployment.store()
    try:
        assert light.version_of(by_psycopg2[0]) == store.head()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("block", "light_road"),
    [((), True), (("psycopg2",), True), (("psycopg2", "psycopg"), False)],
    ids=["psycopg2", "psycopg", "neither"],
)
def test_the_postgresql_light_road_falls_back_driver_by_driver(
    pg_deployment: Deployment, block: tuple[str, ...], light_road: bool
) -> None:
    first, _ = pg_deployment.run("--list")
    assert first.returncode == 0, first.stderr
    served, loaded = pg_deployment.run("--list", block=block)
    if light_road:
        assert served.returncode == 0, served.stderr
        assert loaded == [] and served.stdout == first.stdout
    else:  # the full road, which needs psycopg: it says so
        assert served.returncode != 0 and served.stdout == b""
        (line,) = served.stderr.decode().strip().splitlines()
        assert "psycopg" in line


MYSQL_PROBE = """\
import sys
from osa_inventory.backends.sql.backend import MySQLBackend
from osa_inventory.backends.sql.light import mysql_head

url = sys.argv[1]
config = MySQLBackend.checked_options({"url": url, "name": "default"})
assert mysql_head(config) is not None  # read without cryptography
unused = ["cryptography", "pymysql", "ssl", "traceback", "getpass", "configparser"]
unused.append("encodings.idna")
assert not [m for m in unused if m in sys.modules], [m for m in unused if m in sys.modules]
from osa_inventory.testing.servers import free_port

server, database = url.rsplit("/", 1)
scheme, at = server.split("@")
for other in (
    f"{server}/no_such_database",  # refused by the server
    f"{scheme}@127.0.0.1:{free_port()}/{database}",  # no server there: no connection
):
    try:
        mysql_head({**config, "url": other})
    except Exception as exc:  # the full road would answer
        print(type(exc).__name__)
print(mysql_head({**config, "url": f"mysql+pymysql://{at}/{database}"}))  # no user: not tried
assert "pymysql" not in sys.modules
import ssl, configparser, getpass  # what the full road imports next: whole
assert ssl.create_default_context() is not None
import pymysql._auth, pymysql.connections, pymysql.optionfile
print(pymysql._auth._have_cryptography)
print(issubclass(pymysql.optionfile.Parser, configparser.RawConfigParser))
print(pymysql.connections.DEFAULT_USER == getpass.getuser())
"""


def test_the_mysql_head_leaves_pymysql_whole(mariadb_server: Any, tmp_path: Path) -> None:
    """The head query imports PyMySQL without cryptography, getpass and its option files,
    and ``ssl`` and ``traceback`` only when used (here neither: no TLS offered, no
    failure); whatever imports PyMySQL next in the process (the full road) gets it
    whole, after a success, a refusal and a failed connection alike."""
    database = f"light_{uuid.uuid4().hex[:10]}"
    services.create_database(mariadb_server, database)
    url = mariadb_server.url(database)
    deployment = Deployment(tmp_path, ["--backend", "mysql", "--backend-option", f"url={url}"])
    assert deployment.run("--list")[0].returncode == 0
    probe = run_probe(MYSQL_PROBE, url, env=deployment.env)
    assert probe.stdout.decode().split() == [
        "OperationalError",
        "ConnectionRefusedError",
        "None",
        "True",
        "True",
        "True",
    ]


LAZY_PROBE = """\
import sys, types
from osa_inventory.backends.sql.driverimport import imported_lazily, standing_in

assert "ssl" not in sys.modules and "traceback" not in sys.modules
with imported_lazily("ssl", "traceback"):
    import ssl, traceback
    assert "_ssl" not in sys.modules  # bound, not loaded
    assert type(ssl) is not types.ModuleType and type(traceback) is not types.ModuleType
    print(traceback.format_exc().strip())  # used: loaded now
assert "ssl" not in sys.modules and "_ssl" not in sys.modules  # never used: forgotten
assert type(sys.modules["traceback"]) is types.ModuleType  # used: kept, whole
import ssl
assert ssl.create_default_context() is not None
with standing_in({"no_such.module": ("Thing",)}):
    from no_such.module import Thing
try:
    Thing()
except ImportError as exc:
    print(exc)
assert "no_such.module" not in sys.modules
"""


def test_the_lazy_and_stand_in_imports() -> None:
    """What the MySQL head query's import of PyMySQL leaves out, in isolation: a lazy
    module loads when first used and is forgotten when never used; a stand-in's names
    raise when used."""
    probe = run_probe(LAZY_PROBE)
    assert probe.stdout.decode().splitlines() == [
        "NoneType: None",
        "no_such.module.Thing is not imported for the light head query",
    ]


@pytest.fixture(scope="module")
def mariadb_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A MariaDB that offers TLS (a self-signed certificate), and a user it admits
    over TLS only (``REQUIRE SSL``)."""
    require_module("pymysql")
    missing = services.missing_message("mariadb")
    if missing:
        unavailable(missing)
    folder = tmp_path_factory.mktemp("tls")
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(folder / "key.pem"),
         "-out", str(folder / "cert.pem")],
        capture_output=True,
        check=False,
    )  # fmt: skip
    if made.returncode != 0:
        unavailable(f"openssl could not make a certificate: {made.stderr.decode().strip()}")
    server = services.start_mariadb(
        options=(f"--ssl-cert={folder / 'cert.pem'}", f"--ssl-key={folder / 'key.pem'}")
    )
    try:
        with contextlib.closing(services.mariadb_admin(server)) as admin, admin.cursor() as cur:
            cur.execute("CREATE USER 'osa_tls'@'%' IDENTIFIED BY 'tls-secret' REQUIRE SSL")
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'osa_tls'@'%'")
        yield server
    finally:
        server.stop()


TLS_PROBE = """\
import sys
from osa_inventory.backends.sql.backend import MySQLBackend
from osa_inventory.backends.sql.light import mysql_head

config = MySQLBackend.checked_options({"url": sys.argv[1], "name": "default"})
assert mysql_head(config) is not None  # admitted over TLS only
assert "cryptography" not in sys.modules and "pymysql" not in sys.modules
import ssl  # loaded when the server offered TLS; whole
print(ssl.create_default_context().verify_mode == ssl.CERT_REQUIRED)
"""


def test_the_mysql_head_takes_the_tls_the_server_offers(
    mariadb_tls_server: Any, tmp_path: Path
) -> None:
    """With no TLS option, the light road's PyMySQL still prefers TLS as the full road's
    does: a user the server admits over TLS only reads the head, and the no-op --list is
    served without SQLAlchemy."""
    database = f"light_{uuid.uuid4().hex[:10]}"
    services.create_database(mariadb_tls_server, database)
    url = mariadb_tls_server.url(database, user="osa_tls", password="tls-secret")
    deployment = Deployment(tmp_path, ["--backend", "mysql", "--backend-option", f"url={url}"])
    first, loaded = deployment.run("--list")
    assert first.returncode == 0, first.stderr.decode()
    assert "sqlalchemy" in loaded  # generated and stored by the full road
    served, loaded = deployment.run("--list")
    assert served.returncode == 0, served.stderr.decode()
    assert served.stdout == first.stdout
    assert loaded == []  # the light road
    probe = run_probe(TLS_PROBE, url, env=deployment.env)
    assert probe.stdout == b"True\n"


PG_PROBE = """\
import sys
from osa_inventory.backends.sql.backend import PostgreSQLBackend
from osa_inventory.backends.sql.light import postgresql_head

config = PostgreSQLBackend.checked_options({"url": sys.argv[1], "name": "default"})
assert postgresql_head(config) is not None  # through psycopg2, imported without ssl
assert "psycopg2" in sys.modules and "ssl" not in sys.modules
import ssl  # whatever imports it next gets it whole
assert ssl.create_default_context() is not None
assert postgresql_head(config) is not None  # and psycopg2 works on, beside it
print("ok")
"""


def test_the_postgresql_head_leaves_ssl_importable(pg_deployment: Deployment) -> None:
    assert pg_deployment.run("--list")[0].returncode == 0
    url = pg_deployment.flags[-1].removeprefix("url=")
    probe = run_probe(PG_PROBE, url, env=pg_deployment.env)
    assert probe.stdout == b"ok\n"
