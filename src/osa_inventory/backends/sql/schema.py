"""The tables, as SQLAlchemy Core sees them (the migrations create them).

One row per host, per group, per group member and per odd top-level key, so a
change to one host touches that host's rows only. ``osa_changes`` is the undo
log: for each version, the previous value of every row it changed, from which
older versions are rebuilt. See docs/sql.md for the full picture.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

from osa_inventory.backends.sql.revision import SCHEMA_REVISION, VERSION_TABLE

NAME_BYTES = 1024  # longest host, group or inventory name (UTF-8 bytes)

MYSQL_TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


class Name(TypeDecorator[str]):
    """A name compared byte for byte: VARBINARY on MySQL, whose text collations fold case."""

    impl = String(NAME_BYTES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.VARBINARY(NAME_BYTES))
        return dialect.type_descriptor(String(NAME_BYTES))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is not None and dialect.name in ("mysql", "mariadb"):
            return value.encode("utf-8")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, bytes | bytearray):
            return bytes(value).decode("utf-8")
        return value


#: JSON text of any size (TEXT stops at 64 KiB on MySQL)
Doc = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

metadata = MetaData()


def _inventory_id() -> Column[Any]:
    return Column("inventory_id", Integer, ForeignKey("osa_inventories.id"), primary_key=True)


inventories = Table(
    "osa_inventories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Name, nullable=False, unique=True),
    Column("lineage", String(32), nullable=False),
    Column("head", Integer, nullable=False),  # current version; 0 before the first
    Column("created_us", BigInteger, nullable=False),
    **MYSQL_TABLE,
)

hosts = Table(
    "osa_hosts",
    metadata,
    _inventory_id(),
    Column("name", Name, primary_key=True),
    Column("vars", Doc, nullable=False),
    **MYSQL_TABLE,
)

groups = Table(
    "osa_groups",
    metadata,
    _inventory_id(),
    Column("name", Name, primary_key=True),
    Column("body", Doc, nullable=False),  # the group without the lists below
    Column("lists", String(2), nullable=False),  # which lists are in osa_members: h, c, hc
    **MYSQL_TABLE,
)

members = Table(
    "osa_members",
    metadata,
    _inventory_id(),
    Column("group_name", Name, primary_key=True),
    Column("part", String(1), primary_key=True),  # h: hosts, c: children
    Column("ord", BigInteger, primary_key=True, autoincrement=False),  # sort key, gapped
    Column("member", Name, nullable=False),
    **MYSQL_TABLE,
)

extras = Table(
    "osa_extras",
    metadata,
    _inventory_id(),
    Column("key", String(64), primary_key=True),
    Column("value", Doc, nullable=False),
    **MYSQL_TABLE,
)

versions = Table(
    "osa_versions",
    metadata,
    _inventory_id(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("time_us", BigInteger, nullable=False),
    Column("user", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("command", Doc, nullable=False),
    Column("message", Doc, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("changed_rows", Integer, nullable=False),  # inventory rows the version changed
    Column("extra", Doc, nullable=True),  # JSON: input fingerprint, generator warnings
    **MYSQL_TABLE,
)

changes = Table(
    "osa_changes",
    metadata,
    _inventory_id(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(1), primary_key=True),  # H host, G group, M member, X extra
    Column("name", Name, primary_key=True),
    Column("part", String(1), primary_key=True),
    Column("ord", BigInteger, primary_key=True, autoincrement=False),
    Column("old", Doc, nullable=True),  # the value before this version; NULL: no row
    Column("old_lists", String(2), nullable=True),
    **MYSQL_TABLE,
)

locks = Table(
    "osa_locks",
    metadata,
    Column("name", Name, primary_key=True),
    Column("lock_id", String(64), nullable=False),
    Column("holder", Doc, nullable=False),
    Column("expires", Double, nullable=True),
    **MYSQL_TABLE,
)

__all__ = [
    "SCHEMA_REVISION",
    "VERSION_TABLE",
    "Doc",
    "Name",
    "changes",
    "extras",
    "groups",
    "hosts",
    "inventories",
    "locks",
    "members",
    "metadata",
    "versions",
]
