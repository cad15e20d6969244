"""Database schema administration: ``db upgrade``, ``db current`` (SQL backends only)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from osa_inventory.cli.common import open_store_from
from osa_inventory.errors import ConfigError
from osa_inventory.store.backend import SchemaAdmin

if TYPE_CHECKING:
    from osa_inventory.store.store import Store


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    db = commands.add_parser("db", help="manage the SQL backends' database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser(
        "upgrade",
        parents=[parent],
        help="create the schema or upgrade it to this osa-inventory's revision",
    )
    upgrade.set_defaults(func=cmd_db_upgrade)
    current = db_commands.add_parser(
        "current", parents=[parent], help="show the schema revision and whether it is current"
    )
    current.set_defaults(func=cmd_db_current)


def _sql_backend(args: argparse.Namespace) -> tuple[SchemaAdmin, Store]:
    store = open_store_from(args)
    schema = store.capability(SchemaAdmin)
    if schema is None:
        store.close()
        raise ConfigError(
            f"backend {store.label} has no database schema; 'osa-inventory db' is for the "
            "sqlite, postgresql and mysql backends (choose one with --backend)"
        )
    return schema, store


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    schema, store = _sql_backend(args)
    label = store.label
    try:
        before, after = schema.upgrade_schema()
    finally:
        store.close()
    if before == after:
        print(f"{label}: schema already at revision {after} (the latest)")
    else:
        print(f"{label}: schema upgraded from revision {before or 'none'} to {after}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    schema, store = _sql_backend(args)
    label = store.label
    try:
        status = schema.schema_status()
    finally:
        store.close()
    current = status.current or "none (no schema yet)"
    print(f"{label}: schema revision {current}; latest known {status.head}: {status.state}")
    return 0 if status.current == status.head else 1


__all__ = ["add_commands"]
