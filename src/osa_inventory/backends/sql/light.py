"""The head version in one query, with the DB-API driver alone (the light ``--list``).

No SQLAlchemy and no engine: stdlib ``sqlite3`` for SQLite, ``psycopg2`` for
PostgreSQL when it is installed (it imports in about a fifth of ``psycopg``'s
time; else ``psycopg``), ``pymysql`` for MariaDB/MySQL (:mod:`.lightmysql`),
connected with what the full backend would connect with. The driver the URL
names matters only to the full backend: both PostgreSQL drivers are libpq and
read the same answer. One statement reads the head's version record and the
schema revision. Only the plain URL forms are handled; anything else (another
driver, URL options for MySQL, a MySQL URL without a user, a password given
twice, a schema of another revision, an empty or damaged head, any error)
returns None, and the full backend (:mod:`.database`) answers instead, with its
own messages. See :mod:`osa_inventory.store.light`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from osa_inventory.backends.sql.driverimport import unimportable
from osa_inventory.backends.sql.revision import SCHEMA_REVISION, VERSION_TABLE
from osa_inventory.store.backend import VersionInfo

CONNECT_TIMEOUT = 10  # seconds, as the engine's (engine.CONNECT_TIMEOUT)
#: the dialects and drivers each backend's URL may name (url.FLAVOURS), first the default
_DIALECTS = {
    "sqlite": (("sqlite",), ("", "pysqlite")),
    "postgresql": (("postgresql", "postgres"), ("", "psycopg", "psycopg2")),
    "mysql": (("mysql", "mariadb"), ("", "pymysql")),
}


class Where(NamedTuple):
    """A database URL taken apart (None fields: not given)."""

    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str
    query: dict[str, str]


def where_of(backend: str, url: str, password: str | None) -> Where | None:
    """``url`` taken apart when it is a plain form of ``backend``'s URL, else None."""
    scheme, _, rest = url.partition("://")
    dialect, _, driver = scheme.partition("+")
    dialects, drivers = _DIALECTS[backend]
    if not rest or dialect not in dialects or driver not in drivers:
        return None
    if backend == "sqlite":  # sqlite:///relative.db, sqlite:////absolute.db
        path = rest[1:] if rest.startswith("/") else ""
        if not path or any(c in path for c in "?%#") or path == ":memory:":
            return None
        return Where(None, None, None, None, path, {})
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(f"{dialect}://{rest}")
    if parts.password is not None and password:
        return None  # given twice: the full road refuses it
    host, database = parts.hostname, unquote(parts.path.lstrip("/"))
    if not host or "," in parts.netloc or not database or parts.fragment:
        return None
    return Where(
        host=host,
        port=parts.port,
        user=unquote(parts.username) if parts.username else None,
        password=password or (unquote(parts.password) if parts.password else None),
        database=database,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
    )


def sqlite_head(config: Mapping[str, Any]) -> VersionInfo | None:
    """The head version of inventory ``config['name']``; None when the reader cannot tell."""
    return _head("sqlite", config)


def postgresql_head(config: Mapping[str, Any]) -> VersionInfo | None:
    return _head("postgresql", config)


def mysql_head(config: Mapping[str, Any]) -> VersionInfo | None:
    return _head("mysql", config)


def _head(backend: str, config: Mapping[str, Any]) -> VersionInfo | None:
    if int(config["retention"]) < 1:
        return None
    where = where_of(backend, str(config["url"]), config.get("password"))
    if where is None:
        return None
    rows = _CONNECT[backend](where, config["name"])
    if len(rows) != 1 or rows[0][-1] != SCHEMA_REVISION:
        return None
    return version_of(rows[0])


def head_query(mark: str, quote_char: str) -> str:
    """The one statement, with the driver's parameter mark and identifier quote."""
    user = f"{quote_char}user{quote_char}"
    return (
        "SELECT i.lineage, v.version, v.time_us, "
        f"v.{user}, v.host, v.command, v.message, v.checksum, v.extra, a.version_num "
        "FROM osa_inventories i "
        "JOIN osa_versions v ON v.inventory_id = i.id AND v.version = i.head "
        f"CROSS JOIN {VERSION_TABLE} a "
        f"WHERE i.name = {mark}"
    )


def _sqlite(where: Where, name: str) -> list[tuple[Any, ...]]:
    import sqlite3

    path = os.path.abspath(where.database)
    if not os.path.isfile(path) or any(c in path for c in "?%#"):  # (nothing to quote)
        return []  # connecting would create it; or a name only the full road opens
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=CONNECT_TIMEOUT)
    try:
        return connection.execute(head_query("?", '"'), (name,)).fetchall()
    finally:
        connection.close()


def _postgresql(where: Where, name: str) -> list[tuple[Any, ...]]:
    options = libpq_options(where)
    for driver in POSTGRESQL_DRIVERS:
        rows = driver(options, name)
        if rows is not None:
            return rows
    return []  # neither driver: the full backend names what to install


def libpq_options(where: Where) -> dict[str, Any]:
    """The connection parameters both PostgreSQL drivers pass to libpq."""
    options: dict[str, Any] = {
        key: value
        for key, value in (
            ("host", where.host),
            ("port", where.port),
            ("user", where.user),
            ("password", where.password),
        )
        if value is not None
    }
    options.update(where.query)  # libpq parameters, as SQLAlchemy's dialect passes them
    options.update(dbname=where.database, connect_timeout=CONNECT_TIMEOUT)
    return options


def psycopg2_rows(options: dict[str, Any], name: str) -> list[tuple[Any, ...]] | None:
    """The head query's rows through psycopg2; None when it is not installed.

    psycopg2 imports Python's ``ssl`` (with ``socket``, a tenth of a light
    ``--list``) only to tell libpq that OpenSSL's locks are set up, which
    OpenSSL 1.1 and later need not and ignore (psycopg2-binary's libpq carries
    an OpenSSL 3 of its own), so it is imported here without them.
    """
    try:
        with unimportable("ssl"):
            import psycopg2
    except ImportError:
        return None
    connection = psycopg2.connect(**options)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(head_query("%s", '"'), (name,))
            return list(cursor.fetchall())
    finally:
        connection.close()


def psycopg_rows(options: dict[str, Any], name: str) -> list[tuple[Any, ...]] | None:
    """The head query's rows through psycopg (3); None when it is not installed."""
    try:
        import psycopg
    except ImportError:
        return None
    with psycopg.connect(autocommit=True, **options) as connection:
        return connection.execute(head_query("%s", '"'), (name,)).fetchall()


#: the PostgreSQL drivers the head query tries, lightest import first
POSTGRESQL_DRIVERS = (psycopg2_rows, psycopg_rows)


def _mysql(where: Where, name: str) -> list[tuple[Any, ...]]:
    from osa_inventory.backends.sql.lightmysql import mysql_rows

    return mysql_rows(where, name)


_CONNECT = {"sqlite": _sqlite, "postgresql": _postgresql, "mysql": _mysql}


def version_of(row: tuple[Any, ...]) -> VersionInfo | None:
    """The head's version record as the full backend reads it (queries.version_info);
    None when a field is not what was written (the full road names it)."""
    import json

    lineage, version, time_us, user, host, command, message, checksum, extra, _ = row
    found = json.loads(extra) if extra else {}
    if not isinstance(found, dict) or not isinstance(checksum, str):
        return None
    if isinstance(time_us, bool) or not isinstance(time_us, int | float):
        return None
    return VersionInfo(
        version=version,
        lineage=lineage,
        time=time_us / 1e6,
        user=user,
        host=host,
        command=command,
        message=message,
        extra={**found, "digest": checksum},
    )
