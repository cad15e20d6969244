"""Parse and check the ``url`` option: the right database for the backend, a usable driver."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from osa_inventory.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


@dataclass(frozen=True)
class Flavour:
    """What one backend accepts in its ``url``."""

    backend: str
    title: str
    dialects: tuple[str, ...]
    drivers: tuple[str, ...]  # the first is the default
    canonical: str  # the SQLAlchemy dialect name we normalise to
    example: str


FLAVOURS: dict[str, Flavour] = {
    "sqlite": Flavour(
        "sqlite",
        "SQLite",
        ("sqlite",),
        ("pysqlite",),
        "sqlite",
        "sqlite:////var/lib/osa-inventory/inventory.db",
    ),
    "postgresql": Flavour(
        "postgresql",
        "PostgreSQL",
        ("postgresql", "postgres"),
        ("psycopg", "psycopg2"),
        "postgresql",
        "postgresql+psycopg://deploy@db1/osa",
    ),
    "mysql": Flavour(
        "mysql",
        "MariaDB/MySQL",
        ("mysql", "mariadb"),
        ("pymysql", "mysqldb"),
        "mysql",
        "mysql+pymysql://deploy@db1/osa",
    ),
}

_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@/]*@")


def mask(text: str) -> str:
    """``text`` with any password in it replaced by ``***``."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


def shown(url: URL) -> str:
    """The URL for messages: password hidden."""
    return url.render_as_string(hide_password=True)


def flavour_of_dialect(dialect: str) -> Flavour | None:
    return next((f for f in FLAVOURS.values() if dialect in f.dialects), None)


def parse_url(backend: str, text: str, password: str | None) -> URL:
    """The SQLAlchemy URL for ``backend``, checked, with its driver and password filled in."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    flavour = FLAVOURS[backend]
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise ConfigError(
            f"backend {backend}: option url={mask(text)!r} is not a database URL; "
            f"write it like {flavour.example}"
        ) from exc
    dialect, _, driver = url.drivername.partition("+")
    if dialect not in flavour.dialects:
        other = flavour_of_dialect(dialect)
        hint = f", or use --backend {other.backend} for this URL" if other else ""
        raise ConfigError(
            f"backend {backend}: url {shown(url)} is not a {flavour.title} URL; "
            f"write it like {flavour.example}{hint}"
        )
    if driver and driver not in flavour.drivers:
        raise ConfigError(
            f"backend {backend}: driver {driver!r} in url {shown(url)} is not supported; "
            f"use {flavour.canonical}+{flavour.drivers[0]}://..."
        )
    url = url.set(drivername=f"{flavour.canonical}+{driver or flavour.drivers[0]}")
    if password:
        url = url.set(password=password)
    if backend == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ConfigError(
                f"backend sqlite: url {shown(url)} names no database file; "
                f"write it like {flavour.example} (four slashes for an absolute path)"
            )
    elif not url.database:
        raise ConfigError(
            f"backend {backend}: url {shown(url)} names no database; add it at the end, "
            f"like {flavour.example}"
        )
    return url
