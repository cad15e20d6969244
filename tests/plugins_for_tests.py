"""Backend classes that are wrong on purpose, for tests/test_plugins.py.

The tests reach them through import paths (``--backend plugins_for_tests:NeedsPostgres``)
with this folder on ``PYTHONPATH``, and through entry points declared by a small
metadata-only distribution that test_plugins.py writes into a temporary folder.
"""

from __future__ import annotations

from typing import Any, ClassVar

from osa_inventory.inventory import empty_inventory
from osa_inventory.store.backend import Backend, Option

MISSING_MODULE = "module_that_does_not_exist"


class NeedsPostgres(Backend):
    """Like a built-in SQL backend whose client library is not installed."""

    name = "needs_postgres"
    requires = (MISSING_MODULE,)
    extra = "postgresql"
    options: ClassVar[dict[str, Option]] = {
        "url": Option(str, None, "database URL", required=True, secret=True),
    }

    def load(self) -> dict[str, Any]:
        return empty_inventory()

    def write(self, inventory: dict[str, Any]) -> None:
        raise AssertionError("never reached: the backend is unusable")


class NeedsModuleNoExtra:
    """A third-party plugin declaring a dependency but no osa-inventory extra."""

    requires = (MISSING_MODULE,)

    def register(self, options: dict[str, Any]) -> None:
        pass

    def load(self) -> dict[str, Any]:
        return empty_inventory()

    def write(self, inventory: dict[str, Any]) -> None:
        pass


class LacksWrite:
    """Has register and load but forgot write."""

    def register(self, options: dict[str, Any]) -> None:
        pass

    def load(self) -> dict[str, Any]:
        return empty_inventory()


class DeclaresSecret(Backend):
    """Declares an option secret whose name does not look secret."""

    name = "declares_secret"
    options: ClassVar[dict[str, Option]] = {
        "dsn": Option(str, None, "connection string with credentials", secret=True),
        "region": Option(str, "north", "where"),
    }

    def load(self) -> dict[str, Any]:
        return empty_inventory()

    def write(self, inventory: dict[str, Any]) -> None:
        pass
