"""Database servers for tests and benchmarks, started from the binaries on this machine.

Each server gets its own data directory under a fresh temporary folder, listens
on 127.0.0.1 on a free port below 32768 (outside Linux's ephemeral range, so it
never collides with a client socket), and is stopped and removed by
:meth:`Server.stop`. Nothing here needs pytest: ``bench/bench_sql.py`` uses it
too. :func:`missing_message` says what to install when a binary is absent.

PostgreSQL refuses to run as root, so as root its commands run as the
``postgres`` user (or ``nobody``). MariaDB runs as the current user
(``--user=root`` when root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_SUPERUSER = "postgres"
WRITER = ("osa_writer", "writer-secret")
READER = ("osa_reader", "reader-secret")
ADMIN = ("osa_admin", "admin-secret")  # MariaDB: an all-privileges user over TCP
START_TIMEOUT = 60.0


class ServiceError(RuntimeError):
    """A server did not start; the message includes the end of its log."""


def free_port() -> int:
    """A port on 127.0.0.1 below 32768 that nothing listens on now."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 32767)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise ServiceError("no free port between 20000 and 32767 on 127.0.0.1")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- finding the binaries ------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    found = shutil.which("initdb")
    if found:
        real = Path(found).resolve().parent
        if (real / "pg_ctl").exists() and (real / "postgres").exists():
            return real
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if all((candidate / b).exists() for b in ("initdb", "pg_ctl", "postgres")):
            return candidate
    return None


def mariadb_binaries() -> tuple[Path, Path] | None:
    """(mariadb-install-db, mariadbd), or None."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = shutil.which("mariadbd") or next(
        (p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if Path(p).exists()), None
    )
    return (Path(install), Path(server)) if install and server else None


def missing_message(kind: str) -> str | None:
    """What to install for ``kind`` ("postgresql" or "mariadb"), or None when all is there."""
    if kind == "postgresql" and postgres_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; install them "
            "with: apt-get install postgresql"
        )
    if kind == "mariadb" and mariadb_binaries() is None:
        return (
            "MariaDB server binaries (mariadb-install-db, mariadbd) not found; install them "
            "with: apt-get install mariadb-server"
        )
    return None


# -- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    """A running server; ``url(...)`` builds SQLAlchemy URLs for it."""

    kind: str
    port: int
    base: Path  # temporary folder holding data dir, log, socket
    process: subprocess.Popen | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def url(
        self, database: str, user: str | None = None, password: str | None = None, port: int = 0
    ) -> str:
        scheme = "postgresql+psycopg" if self.kind == "postgresql" else "mysql+pymysql"
        if user is None:
            user, password = (PG_SUPERUSER, None) if self.kind == "postgresql" else ADMIN
        auth = user if password is None else f"{user}:{password}"
        return f"{scheme}://{auth}@127.0.0.1:{port or self.port}/{database}"

    def stop(self) -> None:
        try:
            if self.kind == "postgresql":
                _stop_postgres(self)
            elif self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)  # a clean shutdown for mariadbd
                try:
                    self.process.wait(30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


# -- PostgreSQL ----------------------------------------------------------------------------


def _pg_user() -> dict[str, Any]:
    """subprocess arguments that run PostgreSQL's commands as a non-root user."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid}
    raise ServiceError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL")


def start_postgres(durable: bool = False) -> Server:
    """initdb + pg_ctl start; trust for the superuser, passwords for everyone else."""
    bindir = postgres_bindir()
    if bindir is None:
        raise ServiceError(missing_message("postgresql") or "")
    base = Path(tempfile.mkdtemp(prefix="osa-pg-"))
    as_user = _pg_user()
    if as_user:
        os.chown(base, as_user["user"], as_user["group"])
    data = base / "data"
    run = {"check": True, "capture_output": True, "text": True, "env": {"LC_ALL": "C"}, **as_user}
    try:
        subprocess.run(
            [
                bindir / "initdb",
                "-D",
                data,
                "-U",
                PG_SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth=trust",
                "--no-sync",
            ],
            **run,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise ServiceError(f"initdb failed: {exc.stderr.strip()}") from exc
    (data / "pg_hba.conf").write_text(
        f"local all all trust\n"
        f"host all {PG_SUPERUSER} 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    settings = ["listen_addresses=127.0.0.1", f"unix_socket_directories={base}"]
    if not durable:  # test data need not survive a crash
        settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    port = free_port()
    settings.append(f"port={port}")
    server = Server("postgresql", port, base, extra={"bindir": bindir, "run": as_user})
    if as_user:
        os.chown(base, as_user["user"], as_user["group"])
    options = " ".join(f"-c {s}" for s in settings)
    proc = subprocess.run(
        [
            bindir / "pg_ctl",
            "start",
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "-D",
            data,
            "-l",
            server.log,
            "-o",
            options,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C"},
        **as_user,
    )
    if proc.returncode != 0:
        log = _tail(server.log)
        shutil.rmtree(base, ignore_errors=True)
        raise ServiceError(f"PostgreSQL did not start on port {port}: {proc.stderr}\n{log}")
    admin = pg_admin(server)
    try:
        for user, password in (WRITER, READER):
            admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    finally:
        admin.close()
    return server


def _stop_postgres(server: Server) -> None:
    subprocess.run(
        [server.extra["bindir"] / "pg_ctl", "stop", "-w", "-m", "fast", "-D", server.base / "data"],
        capture_output=True,
        check=False,
        timeout=60,
        **server.extra["run"],
    )


def pg_admin(server: Server, database: str = "postgres") -> Any:
    """An autocommit psycopg connection as the superuser."""
    import psycopg

    return psycopg.connect(
        host="127.0.0.1", port=server.port, user=PG_SUPERUSER, dbname=database, autocommit=True
    )


# -- MariaDB -------------------------------------------------------------------------------


def start_mariadb(durable: bool = False, options: tuple[str, ...] = ()) -> Server:
    """mariadb-install-db + mariadbd; root over the socket, ``ADMIN`` and roles over TCP.

    ``options``: more mariadbd options (``--ssl-cert=...``, ...)."""
    binaries = mariadb_binaries()
    if binaries is None:
        raise ServiceError(missing_message("mariadb") or "")
    install, daemon = binaries
    base = Path(tempfile.mkdtemp(prefix="osa-my-"))
    data = base / "data"
    user = ["--user=root"] if os.geteuid() == 0 else []
    proc = subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            *user,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise ServiceError(f"mariadb-install-db failed: {proc.stderr.strip() or proc.stdout}")
    port = free_port()
    sock = base / "mysqld.sock"
    server = Server("mariadb", port, base, extra={"socket": sock})
    settings = [
        f"--datadir={data}",
        f"--socket={sock}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--pid-file={base / 'mysqld.pid'}",
        f"--log-error={server.log}",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=128M",
        "--max-connections=200",
    ]
    if not durable:
        settings += ["--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0"]
    settings += options
    server.process = subprocess.Popen(
        [daemon, "--no-defaults", *settings, *user],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        admin = _wait_mariadb(server)
    except BaseException:
        server.stop()
        raise
    try:
        with admin.cursor() as cur:
            for name, password in (ADMIN, WRITER, READER):
                cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN[0]}'@'%' WITH GRANT OPTION")
    finally:
        admin.close()
    return server


def _wait_mariadb(server: Server) -> Any:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process is not None and server.process.poll() is not None:
            raise ServiceError(f"mariadbd exited at start:\n{_tail(server.log)}")
        try:
            return mariadb_admin(server)
        except Exception as exc:
            if time.monotonic() > deadline:
                raise ServiceError(f"mariadbd not ready: {exc}\n{_tail(server.log)}") from exc
            time.sleep(0.1)


def mariadb_admin(server: Server, database: str | None = None) -> Any:
    """An autocommit PyMySQL connection as root, over the socket."""
    import pymysql

    return pymysql.connect(
        unix_socket=str(server.extra["socket"]),
        user="root",
        password="",
        database=database,
        autocommit=True,
        connect_timeout=5,
    )


# -- databases and roles ---------------------------------------------------------------------


def create_database(server: Server, name: str) -> None:
    if server.kind == "postgresql":
        with contextlib.closing(pg_admin(server)) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    else:
        with contextlib.closing(mariadb_admin(server)) as admin, admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")


def grant_reader(server: Server, database: str) -> None:
    """The read-only role of docs/sql.md: SELECT on the inventory tables, nothing else."""
    if server.kind == "postgresql":
        with contextlib.closing(pg_admin(server, database)) as admin:
            admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {READER[0]}')
            admin.execute(f"GRANT USAGE ON SCHEMA public TO {READER[0]}")
            admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER[0]}")
    else:
        with contextlib.closing(mariadb_admin(server)) as admin, admin.cursor() as cur:
            cur.execute(f"GRANT SELECT ON `{database}`.* TO '{READER[0]}'@'%'")


def grant_writer(server: Server, database: str) -> None:
    """The writer role of docs/sql.md: read and write rows, no schema changes."""
    if server.kind == "postgresql":
        with contextlib.closing(pg_admin(server, database)) as admin:
            admin.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                f"TO {WRITER[0]}"
            )
            admin.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {WRITER[0]}")
    else:
        with contextlib.closing(mariadb_admin(server)) as admin, admin.cursor() as cur:
            cur.execute(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{database}`.* TO '{WRITER[0]}'@'%'"
            )
