"""``--version`` of ``osa-inventory`` and ``osa-inventory-manage``.

Prints the installed package's version and, when the configured store is a SQL
database, its schema revision. A store that cannot be read only adds a note:
``--version`` itself never fails on it, and never creates or upgrades a schema.
Imported only when ``--version`` is given, so ``--list`` pays nothing for it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from osa_inventory.cli.common import open_store_from, settings_from

DISTRIBUTION = "osa-inventory"


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (the osa-inventory distribution is not installed)"


def schema_line(args: argparse.Namespace) -> str | None:
    """The SQL store's schema revision, a note when it cannot be read, None for other stores."""
    from osa_inventory.errors import OsaInventoryError
    from osa_inventory.store.registry import load_backend_class

    try:
        backend = settings_from(args).backend.value
        if not callable(getattr(load_backend_class(backend), "schema_status", None)):
            return None
        store = open_store_from(args)
        try:
            status = store.backend.schema_status()
        finally:
            store.close()
    except OsaInventoryError as exc:
        return f"schema: not read: {exc}"
    current = status.current or "none (no schema yet)"
    latest = f"latest known {status.head}: {status.state}"
    return f"schema: revision {current} in {store.label}; {latest}"


def version_command(prog: str) -> Callable[[argparse.Namespace], int]:
    """The function that answers ``prog --version``."""

    def show(args: argparse.Namespace) -> int:
        print(f"{prog} {package_version()}")
        line = schema_line(args)
        if line:
            print(line)
        return 0

    return show
