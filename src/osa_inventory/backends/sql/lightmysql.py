"""The head query on MariaDB/MySQL with PyMySQL alone, imported and connected lightly.

Part of the light ``--list`` (:mod:`osa_inventory.backends.sql.light`): PyMySQL is
imported without what one ``SELECT`` never uses and dropped again afterwards, and
the connection skips the steps that change nothing for that query. Any failure
(a refused login, an authentication that needs what was left out) raises, and
the full backend answers instead.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from osa_inventory.backends.sql.driverimport import imported_lazily, standing_in, unimportable
from osa_inventory.backends.sql.light import CONNECT_TIMEOUT, Where, head_query
from osa_inventory.store.light import socket_host


def mysql_rows(where: Where, name: str) -> list[tuple[Any, ...]]:
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
                cursor.execute(head_query("%s", "`"), (name.encode("utf-8"),))  # a VARBINARY name
                return list(cursor.fetchall())
        finally:
            connection.close()


def tcp_socket(host: str, port: int) -> Any:
    """A TCP connection to the server, made as PyMySQL makes it (timeout, no Nagle,
    keepalive), but with an ASCII host name given as bytes: as a ``str`` Python passes
    it through the IDNA codec first, which for ASCII gives the same bytes but imports
    ``encodings.idna`` and ``stringprep`` (about 2 ms)."""
    import socket

    address = (socket_host(host), port)  # getaddrinfo takes bytes as well (typeshed: str only)
    sock = socket.create_connection(address, CONNECT_TIMEOUT)  # type: ignore[arg-type]
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except BaseException:
        sock.close()
        raise
    return sock


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


#: PyMySQL modules the head query never uses, and the names PyMySQL takes from them
NOT_IMPORTED = {"pymysql.optionfile": ("Parser",)}


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
        name = socket_host(server_hostname) if server_hostname else None
        return context.wrap_socket(sock, server_hostname=name)
