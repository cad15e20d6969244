"""Database schema administration: ``db upgrade``, ``db current`` (SQL backends only)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from osa_inventory.cli.common import open_store_from
from osa_inventory.cli.output import Output, add_format_flag
from osa_inventory.errors import ConfigError
from osa_inventory.store.backend import SchemaAdmin

if TYPE_CHECKING:
    from osa_inventory.store.store import Store


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    db = commands.add_parser("db", help="manage the SQL backends' database schema")
    db_commands = db.add_subparsers(dest="db_command")
    upgrade = db_commands.add_parser(
        "upgrade",
        parents=[parent],
        help="create the schema or upgrade it to this osa-inventory's revision",
    )
    add_format_flag(upgrade)
    upgrade.set_defaults(func=cmd_db_upgrade)
    current = db_commands.add_parser(
        "current", parents=[parent], help="show the schema revision and whether it is current"
    )
    add_format_flag(current)
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
    out = Output(args.format)
    if out.structured:
        out.data({"store": label, "before": before, "after": after, "upgraded": before != after})
    elif before == after:
        out.line(f"{label}: schema already at revision {after} (the latest)")
    else:
        out.line(f"{label}: schema upgraded from revision {before or 'none'} to {after}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    schema, store = _sql_backend(args)
    label = store.label
    try:
        status = schema.schema_status()
    finally:
        store.close()
    out = Output(args.format)
    if out.structured:
        out.data(
            {
                "store": label,
                "current": status.current,
                "latest": status.head,
                "state": status.state,
                "up_to_date": status.current == status.head,
            }
        )
    else:
        current = status.current or "none (no schema yet)"
        out.line(f"{label}: schema revision {current}; latest known {status.head}: {status.state}")
    return 0 if status.current == status.head else 1


__all__ = ["add_commands"]
