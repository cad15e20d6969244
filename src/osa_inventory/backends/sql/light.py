"""The head version in one query, with the DB-API driver alone (the light ``--list``).

No SQLAlchemy and no engine: stdlib ``sqlite3`` for SQLite, ``psycopg2`` for
PostgreSQL when it is installed (it imports in about a fifth of ``psycopg``'s
time; else ``psycopg``), ``pymysql`` for MariaDB/MySQL, connected with what the
full backend would connect with. The driver the URL names matters only to the
full backend: both PostgreSQL drivers are libpq and read the same answer. One
statement reads the head's version record and the schema revision. Only the
plain URL forms are handled; anything else (another driver, URL options for
MySQL, a MySQL URL without a user, a password given twice, a schema of another
revision, an empty or damaged head, any error) returns None, and the full
backend (:mod:`.database`) answers instead, with its own messages. See
:mod:`osa_inventory.store.light`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any, NamedTuple

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


def _query(mark: str, quote_char: str) -> str:
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
        return connection.execute(_query("?", '"'), (name,)).fetchall()
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
            cursor.execute(_query("%s", '"'), (name,))
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
        return connection.execute(_query("%s", '"'), (name,)).fetchall()


#: the PostgreSQL drivers the head query tries, lightest import first
POSTGRESQL_DRIVERS = (psycopg2_rows, psycopg_rows)


def _mysql(where: Where, name: str) -> list[tuple[Any, ...]]:
    if where.query:  # driver options (TLS ones too): SQLAlchemy's dialect translates them
        return []
    if where.user is None:  # PyMySQL would take the login name: getpass is not imported
        return []
    host, port = where.host or "localhost", where.port or 3306
    with pymysql_without_cryptography() as connections:
        connection = _light_connection_class(connections)(
            host=host,
            port=port,
            user=where.user,
            password=where.password or "",
            database=where.database,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT,
            autocommit=None,  # the server's own mode: no SET AUTOCOMMIT round trip for one SELECT
            defer_connect=True,
        )
        try:
            connection.connect(tcp_socket(host, port))
            with connection.cursor() as cursor:
                cursor.execute(_query("%s", "`"), (name.encode("utf-8"),))  # a VARBINARY name
                return list(cursor.fetchall())
        finally:
            connection.close()


def tcp_socket(host: str, port: int) -> Any:
    """A TCP connection to the server, made as PyMySQL makes it (timeout, no Nagle,
    keepalive), but with an ASCII host name given as bytes: as a ``str`` Python passes
    it through the IDNA codec first, which for ASCII gives the same bytes but imports
    ``encodings.idna`` and ``stringprep`` (about 2 ms)."""
    import socket

    address = (ascii_host(host), port)  # getaddrinfo takes bytes as well (typeshed: str only)
    sock = socket.create_connection(address, CONNECT_TIMEOUT)  # type: ignore[arg-type]
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def ascii_host(host: str) -> str | bytes:
    """``host`` as the bytes the IDNA codec would give when it is ASCII, else as it is."""
    return host.encode("ascii") if host.isascii() else host


@contextlib.contextmanager
def pymysql_without_cryptography() -> Iterator[Any]:
    """``pymysql.connections``, imported for the one head query without what it never uses.

    PyMySQL imports ``cryptography`` up front (about 30 ms of CPU, a third of a
    light ``--list``) for the RSA exchange of ``sha256_password`` and of
    ``caching_sha2_password``'s full authentication over plain TCP, which the
    head query can do without: there PyMySQL raises, and the full road answers.
    So while PyMySQL is imported here ``cryptography`` is unimportable, and so
    is ``getpass`` (the login name, PyMySQL's user when none is given: the head
    query is not made without one). ``pymysql.optionfile`` (``my.cnf`` files,
    with ``configparser``) is not imported: what PyMySQL takes from it raises
    if used (:data:`NOT_IMPORTED`). ``ssl``, used only when the server offers
    TLS, and ``traceback``, used only when the connection fails, are imported
    lazily (loaded on first use). Together about 7 ms of the import's 16.

    On the way out every ``pymysql`` module, and each lazy module still unused,
    is dropped again, so that whatever imports them next in this process (the
    full road) gets them whole. When PyMySQL or ``cryptography`` is imported
    already, PyMySQL is used as it is.
    """
    if "pymysql" in sys.modules or "cryptography" in sys.modules:
        import pymysql.connections

        yield pymysql.connections
        return
    with imported_lazily("ssl", "traceback"):
        with unimportable("cryptography", "getpass"), standing_in(NOT_IMPORTED):
            import pymysql.connections
        try:
            yield pymysql.connections
        finally:
            for module in [m for m in sys.modules if m == "pymysql" or m.startswith("pymysql.")]:
                del sys.modules[module]


@contextlib.contextmanager
def unimportable(*modules: str) -> Iterator[None]:
    """While a driver is imported, ``modules`` it would import for what the head query
    never needs raise ImportError, as if not installed (those imported already stay)."""
    hidden = [module for module in modules if module not in sys.modules]
    for module in hidden:
        sys.modules[module] = None  # type: ignore[assignment]  # the import system's "missing"
    try:
        yield
    finally:
        for module in hidden:
            if module in sys.modules and sys.modules[module] is None:
                del sys.modules[module]


#: PyMySQL modules the head query never uses, and the names PyMySQL takes from them
NOT_IMPORTED = {"pymysql.optionfile": ("Parser",)}


@contextlib.contextmanager
def standing_in(modules: Mapping[str, tuple[str, ...]]) -> Iterator[None]:
    """While a driver is imported, each of ``modules`` (not imported yet) is a module
    whose names are classes that raise ImportError when used: the driver imports, and
    the one road that would use them fails (the full road then answers)."""
    placed = [name for name in modules if name not in sys.modules]
    for name in placed:
        module = ModuleType(name, "not imported for the light head query")
        for attribute in modules[name]:
            setattr(module, attribute, _not_imported(f"{name}.{attribute}"))
        sys.modules[name] = module
    try:
        yield
    finally:
        for name in placed:
            sys.modules.pop(name, None)


def _not_imported(qualified: str) -> type:
    class NotImported:
        def __init__(self, *_args: Any, **_kwargs: Any) -> None:
            raise ImportError(f"{qualified} is not imported for the light head query")

    return NotImported


@contextlib.contextmanager
def imported_lazily(*modules: str) -> Iterator[None]:
    """While inside, importing one of ``modules`` (not imported yet) binds a module that
    loads on its first attribute use (:class:`importlib.util.LazyLoader`); on the way
    out those never used are forgotten, as if never imported (the loaded ones stay)."""
    finder = _LazyFinder(frozenset(m for m in modules if m not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in finder.names:
            module = sys.modules.get(name)
            if module is not None and type(module) is not ModuleType:  # still lazy: unused
                del sys.modules[name]


class _LazyFinder:
    """A meta path finder giving ``names`` (top-level, found on ``sys.path``) lazy loaders."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.names:
            return None
        from importlib.machinery import PathFinder
        from importlib.util import LazyLoader

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None  # the usual finders decide
        spec.loader = LazyLoader(spec.loader)
        return spec


def _light_connection_class(connections: Any) -> Any:
    """PyMySQL's connection, minus the one costly step that changes nothing.

    With no TLS option given, PyMySQL (2.x) prefers TLS when the server offers
    it, unverified (no CA: ``CERT_NONE``), as the full backend's connection
    does; but to build that context it loads the system's CA bundle first,
    about 25 ms that the unverified context never uses, and it builds it before
    knowing whether the server offers TLS. This class builds the same context
    without that load, and only when the server offers TLS (:class:`PreferredTLS`).
    An explicit TLS option keeps PyMySQL's own.
    """

    class LightConnection(connections.Connection):
        def _create_ssl_ctx(self, sslp: Any) -> Any:
            if sslp:
                return super()._create_ssl_ctx(sslp)
            return PreferredTLS()

    return LightConnection


class PreferredTLS:
    """PyMySQL's TLS context for a server that offers TLS, no CA given: unverified
    (``CERT_NONE``, no host name check), made (and ``ssl`` loaded) only when the
    server's greeting offers TLS and PyMySQL wraps its socket."""

    def wrap_socket(self, sock: Any, server_hostname: str | None = None) -> Any:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        name = ascii_host(server_hostname) if server_hostname else None
        return context.wrap_socket(sock, server_hostname=name)


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
