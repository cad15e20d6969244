"""Backend locations written as URLs, for ``migrate --from/--to``.

=========================================  ==========  ===============================
URL                                        backend     options
=========================================  ==========  ===============================
``file:///DIR/openstack_inventory.json``   file        ``path``
``sqlite:////PATH/inventory.db``           sqlite      ``url``
``postgresql+psycopg://USER@HOST/DB``      postgresql  ``url``
``mysql+pymysql://USER@HOST/DB``           mysql       ``url``
``etcd://HOST:PORT,HOST:PORT/PREFIX``      etcd        ``endpoints``, ``prefix``
``etcds://USER:PASSWORD@HOST:PORT``         etcd        the same over https, and
                                                       ``user``, ``password``
``craton+http://USER@HOST:PORT/v1``         craton      ``url``, ``user`` (``key``
                                                       after a colon; prefer
``craton+https://...?project_id=UUID``                 ``key_env``), ``project_id``
=========================================  ==========  ===============================

For ``file``, ``etcd`` and ``craton`` a query string sets further options
(``?backup_keep=30``, ``?name=site1&retention=50``, ``?project_id=...&region=r1``);
a database URL keeps its query string, which belongs to the database driver.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from osa_inventory.errors import ConfigError

_SCHEME_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
SQL_DIALECTS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}


def is_url(text: str) -> bool:
    return bool(_SCHEME_RE.match(text))


def parse_location(text: str) -> tuple[str, dict[str, str]]:
    """(backend name, options) for a backend URL."""
    match = _SCHEME_RE.match(text)
    if match is None:
        raise ConfigError(f"{text!r} is not a URL; write it like sqlite:////path/inventory.db")
    scheme = match.group("scheme").lower()
    dialect = scheme.partition("+")[0]
    if dialect in SQL_DIALECTS:
        return SQL_DIALECTS[dialect], {"url": text}
    parts = urlsplit(text)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(
                f"{text}: a file URL names a local path; write it like "
                "file:///etc/openstack_deploy/openstack_inventory.json"
            )
        if not parts.path:
            raise ConfigError(f"{text}: the file URL names no file")
        return "file", {**options, "path": unquote(parts.path)}
    if scheme in ("etcd", "etcds"):
        if not parts.netloc:
            raise ConfigError(
                f"{text}: name the endpoints, like etcd://10.0.0.1:2379,10.0.0.2:2379"
            )
        credentials, _, endpoints = parts.netloc.rpartition("@")
        found = {**options, "endpoints": endpoints}
        if credentials:
            user, _, password = credentials.partition(":")
            found["user"] = unquote(user)
            if password:
                found["password"] = unquote(password)
        if parts.path.strip("/"):
            found["prefix"] = "/" + parts.path.strip("/")
        if scheme == "etcds":
            found["protocol"] = "https"
        return "etcd", found
    if scheme in ("craton+http", "craton+https"):
        return "craton", _craton_options(text, parts, options)
    known = "file, sqlite, postgresql, mysql, etcd, etcds, craton+http, craton+https"
    raise ConfigError(f"{text}: unknown URL scheme {scheme!r}; known: {known}")


def _craton_options(text: str, parts: SplitResult, options: dict[str, str]) -> dict[str, str]:
    """``craton+http://USER[:KEY]@HOST:PORT/v1?project_id=...`` as craton options."""
    credentials, _, host = parts.netloc.rpartition("@")
    if not host:
        raise ConfigError(f"{text}: name the Craton API, like craton+http://osa@craton:7780/v1")
    found = {**options, "url": f"{parts.scheme.partition('+')[2]}://{host}{parts.path}"}
    if credentials:
        user, _, key = credentials.partition(":")
        found["user"] = unquote(user)
        if key:
            found["key"] = unquote(key)
    return found
