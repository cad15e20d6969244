"""``sqlite``, ``postgresql``, ``mysql``: one SQLAlchemy backend for three kinds of database.

The classes here only declare options and delegate to
:class:`~.database.InventoryDatabase`; nothing imports SQLAlchemy until a
backend is registered, so ``osa-inventory backends`` can report a missing extra
and the file backend's ``--list`` never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from osa_inventory.errors import ConfigError
from osa_inventory.store.backend import (
    Backend,
    LockHolder,
    Option,
    Retention,
    VersionInfo,
    WriteMeta,
)

if TYPE_CHECKING:
    from osa_inventory.backends.sql.database import InventoryDatabase

DEFAULT_RETENTION = 100


def _options(example: str) -> dict[str, Option]:
    return {
        "url": Option(str, None, f"database URL, e.g. {example}", required=True),
        "password": Option(
            str, None, "database password (better: password_env or password_file)", secret=True
        ),
        "name": Option(str, "default", "named inventory within the database"),
        "retention": Option(int, DEFAULT_RETENTION, "versions kept in the history (1 or more)"),
        "auto_upgrade": Option(bool, True, "create or upgrade the schema on first use"),
    }


class SQLBackend(Backend):
    """Inventory, history and lock in a SQL database (see docs/sql.md)."""

    options: ClassVar[dict[str, Option]] = {}
    #: a reader (the Ansible plugin) never creates or upgrades a schema
    reader_options: ClassVar[dict[str, Any]] = {"auto_upgrade": False}
    db: InventoryDatabase

    @classmethod
    def options_from_url(cls, url: str) -> dict[str, str]:
        """A SQLAlchemy URL is the ``url`` option as it is (its query belongs to the driver)."""
        return {"url": url}

    def configure(self) -> None:
        from osa_inventory.backends.sql.database import InventoryDatabase

        if self.config["retention"] < 1:
            raise ConfigError(
                f"backend {self.name}: retention={self.config['retention']} keeps no version; "
                "set it to 1 or more"
            )
        self.db = InventoryDatabase(self.name, self.config)

    def describe(self) -> str:
        return self.db.where

    def close(self) -> None:
        self.db.close()

    def retention(self) -> Retention:
        keep = int(self.config["retention"])
        return Retention("retention", keep, keep)

    # -- the three methods --

    def load(self) -> dict[str, Any]:
        return self.db.read_current()[1]

    def write(self, inventory: dict[str, Any]) -> None:
        self.db.write_version(inventory, WriteMeta.for_this_process(), self.db.head())

    # -- versions, snapshot reads, per-host reads --

    def read_current(self) -> tuple[VersionInfo | None, dict[str, Any]]:
        return self.db.read_current()

    def head(self) -> VersionInfo | None:
        return self.db.head()

    def list_versions(self) -> list[VersionInfo]:
        return self.db.list_versions()

    def read_version(self, version: int) -> dict[str, Any]:
        return self.db.read_version(version)

    def write_version(
        self, inventory: dict[str, Any], meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        return self.db.write_version(inventory, meta, expected)

    def overwrite(self, inventory: dict[str, Any], meta: WriteMeta) -> VersionInfo:
        """A new version on top of a head that may be damaged (rollback, import)."""
        return self.db.write_version(inventory, meta, None, over_damage=True)

    def load_host(self, name: str) -> dict[str, Any] | None:
        return self.db.load_host(name)

    def set_fingerprint(self, version: VersionInfo, fingerprint: str, warnings: list[str]) -> None:
        """Attach the generator's input fingerprint to the head version (lock held)."""
        self.db.set_fingerprint(version, fingerprint, warnings)

    def rewrite_contents(self, contents: list[tuple[int, dict[str, Any]]]) -> None:
        """New content for every retained version, in one transaction (``rekey``)."""
        self.db.rewrite_contents(contents)

    def redact_history(self, redact: Callable[[str], str]) -> list[int]:
        """Mask what ``redact`` masks in every recorded command and message (lock held)."""
        return self.db.redact_history(redact)

    # -- lock --

    @property
    def stale_holder(self) -> LockHolder | None:
        return self.db.lock.stale_holder

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        self.db.ready()
        return self.db.lock.acquire_lock(holder)

    def release_lock(self, holder: LockHolder) -> None:
        self.db.lock.release_lock(holder)

    def holder_alive(self, holder: LockHolder) -> bool | None:
        return self.db.lock.holder_alive(holder)

    def lock_status(self) -> LockHolder | None:
        self.db.ready()
        return self.db.lock.lock_status()

    def break_lock(self, lock_id: str) -> None:
        self.db.ready()
        self.db.lock.break_lock(lock_id)

    # -- schema administration: osa-inventory db upgrade|current --

    def upgrade_schema(self) -> tuple[str | None, str]:
        """Create or upgrade the schema; returns the revisions (before, after)."""
        return self.db.upgrade_schema()

    def schema_status(self) -> Any:
        """The schema's :class:`~.migrate.SchemaStatus`."""
        return self.db.schema_status()


class SQLiteBackend(SQLBackend):
    name = "sqlite"
    extra = "sqlite"
    requires = ("sqlalchemy", "alembic")
    url_schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    light_head = "osa_inventory.backends.sql.light:sqlite_head"
    options: ClassVar[dict[str, Option]] = _options("sqlite:////var/lib/osa-inventory/inventory.db")


class PostgreSQLBackend(SQLBackend):
    name = "postgresql"
    extra = "postgresql"
    requires = ("sqlalchemy", "alembic", "psycopg")
    url_schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    network = True  # the front end keeps a local copy to serve --list during outages
    light_head = "osa_inventory.backends.sql.light:postgresql_head"
    options: ClassVar[dict[str, Option]] = _options("postgresql+psycopg://deploy@db1/osa")


class MySQLBackend(SQLBackend):
    name = "mysql"
    extra = "mysql"
    requires = ("sqlalchemy", "alembic", "pymysql")
    url_schemes: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")
    network = True
    light_head = "osa_inventory.backends.sql.light:mysql_head"
    options: ClassVar[dict[str, Option]] = _options("mysql+pymysql://deploy@db1/osa")
