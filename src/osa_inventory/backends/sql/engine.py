"""Engines and transactions, with what each database needs to behave the same.

* Reads run in one snapshot: ``REPEATABLE READ`` on PostgreSQL and MariaDB, a
  deferred ``BEGIN`` on SQLite (WAL mode, so readers never wait for a writer).
* A SQLite database file is created 0600 (SQLite's own default is 0644).
* Writes on SQLite start with ``BEGIN IMMEDIATE``, taking the write lock first.
  pysqlite issues no ``BEGIN`` of its own before a ``SELECT``; it is turned off
  and the engine emits ``BEGIN`` itself (SQLAlchemy's documented recipe).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine

from osa_inventory.fileio import NEW_FILE_MODE

CONNECT_TIMEOUT = 10  # seconds to reach a server
SQLITE_BUSY_TIMEOUT = 30  # seconds a SQLite writer waits for another
_BEGIN = "osa_sqlite_begin"


def make_engine(url: URL) -> Engine:
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
        event.listen(engine, "do_connect", _sqlite_private_file)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
    if dialect == "mysql" and "charset" not in url.query:
        connect_args["charset"] = "utf8mb4"  # names and values beyond the BMP
    return create_engine(url, connect_args=connect_args, pool_size=2, max_overflow=4)


def _sqlite_private_file(_dialect: Any, _record: Any, cargs: Any, _cparams: Any) -> None:
    """Create a missing database file 0600 before SQLite does (it would make it 0644); its
    ``-wal`` and ``-shm`` files then get the same mode. An existing file keeps its own."""
    path = cargs[0] if cargs else None
    if not isinstance(path, str) or not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, NEW_FILE_MODE)
    except OSError:  # it exists, or cannot be made: SQLite reports that itself
        return
    os.fchmod(fd, NEW_FILE_MODE)
    os.close(fd)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN; see _sqlite_begin
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN, "BEGIN"))


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection inside one read snapshot."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A connection inside one write transaction, committed when the block ends."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{_BEGIN: "BEGIN IMMEDIATE"})
        with conn.begin():
            yield conn


@contextlib.contextmanager
def autocommit(engine: Engine) -> Iterator[Connection]:
    """A connection without a transaction, for server-side locks."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn
