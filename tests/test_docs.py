"""The guides in docs/, run as written against servers started here.

A block a reader is meant to run carries a marker on the line before its fence::

    <!-- test: SCENARIO KIND [TARGET] -->

KIND says how to run it: ``sh`` (bash, ``set -e``), ``ini`` (written to the
file TARGET), ``psql`` or ``mariadb`` (SQL, as the server's superuser). The
blocks of a scenario run in the order of the docs. Only hosts and ports are
substituted (``db1.example.org`` and the etcd endpoints become the test
servers'), and the deploy host's directories (``/etc``, ``/var/lib``, ``/opt``)
live under a temporary root, which the environment variables osa-inventory
and OSA already read (``OSA_CONFIG_DIR``, ``OSA_ROOT``,
``OSA_INVENTORY_CONFIG``) point at.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    INVENTORY_FILE,
    REPO_DIR,
    copy_example,
    osa_backup,
    reference_path,
    require_module,
    require_shared_dir,
    unavailable,
)

DOCS = REPO_DIR / "docs"
MARKER = re.compile(
    r"^\s*<!-- test: (?P<scenario>\S+) (?P<kind>sh|ini|psql|mariadb)(?: (?P<target>\S+))? -->\s*$"
)
FENCE = re.compile(r"^(?P<indent>\s*)```")
DOC_HOSTS = ("db1.example.org",)
DOC_ETCD = ("10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379", "10.0.0.1:2379,10.0.0.2:2379")
ROOTED = ("/etc/", "/var/lib/", "/opt/")
TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    kind: str
    target: str | None
    text: str


def blocks(scenario: str) -> list[Block]:
    """The marked blocks of ``scenario``, in the order of the docs (files by name)."""
    found = []
    for doc in sorted(DOCS.glob("*.md")):
        lines = doc.read_text().splitlines()
        for number, line in enumerate(lines):
            match = MARKER.match(line)
            if not match or match["scenario"] != scenario:
                continue
            found.append(_fenced(doc, lines, number + 1, match["kind"], match["target"]))
    assert found, f"no block of scenario {scenario} in docs/"
    return found


def _fenced(doc: Path, lines: list[str], start: int, kind: str, target: str | None) -> Block:
    while not lines[start].strip():
        start += 1
    opening = FENCE.match(lines[start])
    assert opening, f"{doc.name}:{start + 1}: the marker is not followed by a fenced block"
    body = []
    for line in lines[start + 1 :]:
        if FENCE.match(line) and line.strip() == "```":
            break
        body.append(line)
    text = textwrap.dedent("\n".join(body)) + "\n"
    return Block(doc.name, start + 1, kind, target, text)


@dataclass
class DeployHost:
    """A deploy host's directories under ``root``, and the servers the docs talk to."""

    root: Path
    hosts: dict[str, str]

    def substitute(self, text: str) -> str:
        for doc_host, real in self.hosts.items():
            text = text.replace(doc_host, real)
        for prefix in ROOTED:
            text = re.sub(rf"(?<![\w.]){re.escape(prefix)}", f"{self.root}{prefix}", text)
        return text

    @property
    def config(self) -> Path:
        return self.root / "etc" / "openstack_deploy"

    def env(self, **extra: str) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
            HOME=str(self.root / "root"),
            XDG_CACHE_HOME=str(self.root / "root" / ".cache"),
            OSA_CONFIG_DIR=str(self.config),
            OSA_ROOT=str(self.root / "opt" / "openstack-ansible"),
            OSA_INVENTORY_CONFIG=str(self.root / "etc" / "ansible" / "osa.ini"),
        )
        env.update(extra)
        return env

    def run(self, scenario: str, servers: dict[str, Any], **env: str) -> None:
        for block in blocks(scenario):
            self.run_block(block, servers, env)

    def run_block(self, block: Block, servers: dict[str, Any], env: dict[str, str]) -> None:
        text = self.substitute(block.text)
        where = f"{block.doc}:{block.line}"
        if block.kind == "ini":
            assert block.target, f"{where}: an ini block needs a target file"
            path = Path(self.substitute(block.target))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        if block.kind == "sh":
            argv = ["bash", "-euo", "pipefail", "-c", text]
        elif block.kind == "psql":
            server = servers["postgresql"]
            psql = server.extra["bindir"] / "psql"
            argv = [str(psql), "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(server.port)]
            argv += ["-U", "postgres", "-d", "postgres", "-f", "-"]
        else:
            server = servers["mariadb"]
            argv = ["mariadb", f"--socket={server.extra['socket']}", "-u", "root"]
        proc = subprocess.run(
            argv,
            input=text if block.kind in ("psql", "mariadb") else None,
            capture_output=True,
            text=True,
            env=self.env(**env),
            cwd=self.root,
            timeout=TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, f"{where} failed:\n{text}\n{proc.stdout}\n{proc.stderr}"

    def osa(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["osa-inventory", *args],
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.root,
            timeout=TIMEOUT,
            check=False,
        )


@pytest.fixture
def deploy_host(tmp_path: Path) -> DeployHost:
    """An OSA deploy host: OSA's checkout, and a config dir whose inventory OSA wrote."""
    shared = require_shared_dir()
    root = tmp_path / "root"
    config = copy_example("prod", root / "etc" / "openstack_deploy")
    (config / INVENTORY_FILE).write_bytes(reference_path("prod").read_bytes())
    osa_backup(config, "20260301_101500")
    osa_root = root / "opt" / "openstack-ansible"
    shutil.copytree(shared / "inventory", osa_root / "inventory", symlinks=True)
    (root / "root").mkdir()
    host = DeployHost(root, {})
    proc = host.osa("--list")  # adopted by osa-inventory: its history and lock are there too
    assert proc.returncode == 0, proc.stderr
    return host


def history(host: DeployHost) -> list[dict[str, Any]]:
    proc = host.osa("history", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return list(json.loads(proc.stdout))


@pytest.fixture
def fresh_pg_server() -> Iterable[Any]:
    """A PostgreSQL server of this test's own: the guides create and drop roles, which
    are cluster-wide, so the run's shared server (whose databases other tests granted to
    those roles) cannot serve."""
    from conftest import unavailable
    from osa_inventory.testing import servers as services

    missing = services.missing_message("postgresql")
    if missing:
        unavailable(missing)
    server = services.start_postgres()
    yield server
    server.stop()


def without_roles(server: Any, roles: Iterable[str]) -> None:
    """The docs start from a fresh server: drop the roles the test server comes with."""
    from osa_inventory.testing import servers as services

    admin = services.pg_admin(server)
    try:
        found = {row[0] for row in admin.execute("SELECT rolname FROM pg_roles").fetchall()}
        databases = admin.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
        ).fetchall()
        for (database,) in databases:  # the run's server: other tests' grants go first
            with contextlib.closing(services.pg_admin(server, database)) as conn:
                for role in found.intersection(roles):
                    conn.execute(f"DROP OWNED BY {role}")
        for role in roles:
            admin.execute(f"DROP ROLE IF EXISTS {role}")
    finally:
        admin.close()


def test_postgresql_guides(deploy_host: DeployHost, fresh_pg_server: Any) -> None:
    """sql.md's roles and schema owner, then operations.md's migration there and back."""
    from osa_inventory.testing import servers as services

    pg_server = fresh_pg_server
    without_roles(pg_server, [services.WRITER[0], services.READER[0]])
    host = deploy_host
    host.hosts = {"db1.example.org": f"127.0.0.1:{pg_server.port}"}
    servers = {"postgresql": pg_server}
    before = history(host)
    host.run("postgresql-roles", servers)
    host.run("postgresql-migration", servers)
    # the file backend's three files moved away, together (its lock file is removed when
    # the lock is released)
    moved = host.config / "inventory-before-postgresql"
    assert sorted(p.name for p in moved.iterdir()) == [
        "backup_openstack_inventory.tar",
        "openstack_inventory.history.json",
        "openstack_inventory.json",
    ]
    # back on the file: the versions copied from PostgreSQL only, none of the old file's
    after = history(host)
    assert [(v["version"], v["message"]) for v in after] == [
        (v["version"], v["message"]) for v in before
    ]
    assert (host.config / INVENTORY_FILE).is_file()
    shown = host.osa("config", "show").stdout
    assert "writer-password" not in shown


def test_mariadb_roles_work_beside_anonymous_users(tmp_path: Path) -> None:
    """sql.md's MariaDB block drops the anonymous user that would refuse local logins."""
    require_module("osa_inventory.backends.sql")
    from osa_inventory.testing import servers as services

    missing = services.missing_message("mariadb")
    if missing:
        unavailable(missing)
    server = services.start_mariadb()
    try:
        admin = services.mariadb_admin(server)
        try:
            with admin.cursor() as cur:
                for name in (services.WRITER[0], services.READER[0]):
                    cur.execute(f"DROP USER IF EXISTS '{name}'@'%'")
                cur.execute("CREATE USER ''@'localhost'")  # what old installs leave
        finally:
            admin.close()
        host = DeployHost(tmp_path, {})
        host.run("mysql-roles", {"mariadb": server})
        import pymysql

        conn = pymysql.connect(  # a local login, as on the database host itself
            unix_socket=str(server.extra["socket"]),
            user="osa_writer",
            password="writer-password",
            database="osa",
        )
        conn.close()
    finally:
        server.stop()


@pytest.fixture
def etcd_cluster(tmp_path: Path) -> Iterator[Any]:
    """An etcd of this test's own: the guide turns authentication on."""
    require_module("osa_inventory.backends.etcd")
    from osa_inventory.testing.etcd_cluster import EtcdCluster, etcd_binary

    binary = etcd_binary()
    if binary is None:
        unavailable("etcd not found on PATH; install it with: apt-get install etcd-server")
    if shutil.which("etcdctl") is None:
        unavailable("etcdctl not found on PATH; install it with: apt-get install etcd-client")
    cluster = EtcdCluster(tmp_path / "etcd", size=1, binary=binary).start()
    yield cluster
    cluster.stop()


def test_etcd_guides(deploy_host: DeployHost, etcd_cluster: Any) -> None:
    """etcd.md's users and roles, operations.md's migration, and etcd.md's inspection."""
    host = deploy_host
    endpoints = etcd_cluster.endpoints
    host.hosts = dict.fromkeys(DOC_ETCD, endpoints)
    servers: dict[str, Any] = {}
    etcdctl = {"ETCDCTL_ENDPOINTS": endpoints}
    host.run("etcd-auth", servers, **etcdctl)
    versions = len(history(host))
    host.run("etcd-migration", servers)
    assert len(history(host)) == versions  # now read from etcd, as osa-inventory
    status = host.osa("lock", "status")
    assert status.stdout.startswith(f"etcd://{endpoints}/osa-inventory/default: not locked")
    assert "osa-inventory-password" not in status.stdout
    host.run("etcd-inspect", servers, **etcdctl, ETCDCTL_USER="root:root-password")
    gone = host.osa("history")  # the inspection block's last line removed the store
    assert gone.returncode == 0 and ": 0 versions kept" in gone.stdout, gone.stderr


@pytest.mark.parametrize("scenario", ["install", "ansible-setup"])
def test_ansible_setup_guides(deploy_host: DeployHost, scenario: str) -> None:
    """install.md's and ansible.md's ansible-setup steps, through to the undo."""
    user_rc = deploy_host.config / "user.rc"
    deploy_host.run(scenario, {})
    assert "osa-inventory" not in (user_rc.read_text() if user_rc.exists() else "")
    inventory_dir = deploy_host.root / "opt" / "openstack-ansible" / "inventory"
    assert not list(inventory_dir.glob("osa_inventory*"))  # the undo removed what was written


def test_encryption_guide(deploy_host: DeployHost) -> None:
    """encryption.md: key, encrypt the adopted store, rotate, decrypt, export for OSA."""
    inventory = deploy_host.config / INVENTORY_FILE
    deploy_host.run("encryption", {})
    assert inventory.read_bytes().startswith(b"{")  # plain again after rekey --decrypt
    exported = deploy_host.root / "var" / "lib" / "osa-export" / INVENTORY_FILE
    assert json.loads(exported.read_text()) == json.loads(inventory.read_text())
    key = deploy_host.config / "inventory.key"
    assert len(key.read_text().splitlines()) == 1 and key.stat().st_mode & 0o777 == 0o600


def test_cache_guide(deploy_host: DeployHost) -> None:
    """configuration.md's caches block clears the parsed inputs; the output stays the same."""
    cache = deploy_host.root / "root" / ".cache" / "osa-inventory"
    before = deploy_host.osa("--list", "--regenerate")
    assert before.returncode == 0, before.stderr
    assert list(cache.glob("parsed-*.marshal"))
    deploy_host.run("caches", {})
    assert not list(cache.glob("parsed-*.marshal"))
    after = deploy_host.osa("--list", "--regenerate")
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    assert list(cache.glob("parsed-*.marshal"))  # filled again
