"""Database schema administration: ``db upgrade``, ``db current`` (SQL backends only)."""

from __future__ import annotations

import argparse
from typing import Any

from osa_inventory.cli.common import open_store_from
from osa_inventory.errors import ConfigError


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


def _sql_backend(args: argparse.Namespace) -> tuple[Any, str]:
    store = open_store_from(args)
    backend = store.backend
    if not callable(getattr(backend, "upgrade_schema", None)):
        store.close()
        raise ConfigError(
            f"backend {store.label} has no database schema; 'osa-inventory db' is for the "
            "sqlite, postgresql and mysql backends (choose one with --backend)"
        )
    return backend, store.label


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    backend, label = _sql_backend(args)
    try:
        before, after = backend.upgrade_schema()
    finally:
        backend.close()
    if before == after:
        print(f"{label}: schema already at revision {after} (the latest)")
    else:
        print(f"{label}: schema upgraded from revision {before or 'none'} to {after}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    backend, label = _sql_backend(args)
    try:
        status = backend.schema_status()
    finally:
        backend.close()
    current = status.current or "none (no schema yet)"
    print(f"{label}: schema revision {current}; latest known {status.head}: {status.state}")
    return 0 if status.current == status.head else 1


__all__ = ["add_commands"]
