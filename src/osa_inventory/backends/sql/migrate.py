"""The schema's revision: check it on first use, upgrade it with alembic.

The migrations ship inside the package (``osa_inventory/backends/sql/migrations``)
and run without an alembic.ini. The revision is kept in ``osa_alembic_version``.
The common case, a database already at :data:`~.schema.SCHEMA_REVISION`, costs
one ``SELECT`` and does not import alembic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from osa_inventory.backends.sql.failures import translated
from osa_inventory.backends.sql.schema import SCHEMA_REVISION, VERSION_TABLE
from osa_inventory.errors import StoreError, StoreMissing

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

SCRIPT_LOCATION = "osa_inventory.backends.sql:migrations"
MIGRATION_LOCK = "osa-inventory:migrate"
MIGRATION_LOCK_WAIT = 120  # seconds


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no schema yet
    head: str
    known: bool  # the current revision is one of this code's

    @property
    def state(self) -> str:
        if self.current == self.head:
            return "up to date"
        if not self.known:
            return "newer than this osa-inventory: upgrade osa-inventory"
        return "behind: run 'osa-inventory db upgrade'"


def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, or None when it has no schema."""
    with engine.connect() as conn:
        try:
            with conn.begin():
                rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        except DBAPIError:
            if conn.invalidated or inspect(conn).has_table(VERSION_TABLE):
                raise
            return None
    if len(rows) != 1:
        return None if not rows else ",".join(sorted(str(r[0]) for r in rows))
    return str(rows[0][0])


def status(engine: Engine, where: str) -> SchemaStatus:
    with translated(where, "reading the schema revision"):
        current = stored_revision(engine)
    script = _script()
    known = current is None or current in {s.revision for s in script.walk_revisions()}
    return SchemaStatus(current, script.get_current_head(), known)


def ensure(engine: Engine, where: str, auto_upgrade: bool) -> None:
    """Make sure the schema is the one this code uses, upgrading it if allowed."""
    with translated(where, "reading the schema revision"):
        if stored_revision(engine) == SCHEMA_REVISION:
            return
    found = status(engine, where)
    if not found.known:
        raise StoreError(
            f"{where}: the database schema is at revision {found.current}, newer than this "
            f"osa-inventory knows (latest {found.head}); upgrade osa-inventory on this host"
        )
    if not auto_upgrade:
        raise (StoreError if found.current else StoreMissing)(
            f"{where}: the database schema is at revision {found.current or 'none (empty)'} "
            f"but this osa-inventory needs {found.head}; run 'osa-inventory db upgrade' "
            "(or set the option auto_upgrade=true)"
        )
    upgrade(engine, where)


def upgrade(engine: Engine, where: str) -> tuple[str | None, str]:
    """Upgrade to the latest revision; returns (before, after)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    found = status(engine, where)
    if not found.known:
        raise StoreError(
            f"{where}: the database schema is at revision {found.current}, newer than this "
            f"osa-inventory knows (latest {found.head}); upgrade osa-inventory, not the database"
        )
    with (
        translated(
            where,
            "upgrading the schema",
            "this database user may not create tables: run 'osa-inventory db upgrade' as the "
            "schema owner (see docs/sql.md)",
        ),
        engine.connect() as conn,
    ):
        dialect = engine.dialect.name
        if dialect == "sqlite":
            conn.execution_options(osa_sqlite_begin="BEGIN EXCLUSIVE")
        try:
            with conn.begin():
                _lock(conn, dialect)
                context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
                before = context.get_current_revision()
                command.upgrade(_config(conn), "head")
        finally:
            if dialect in ("mysql", "mariadb"):
                _unlock_mysql(conn)
    return before, found.head


def _unlock_mysql(conn: Connection) -> None:
    """Release the session's migration lock, or drop the connection if that fails."""
    try:
        conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": MIGRATION_LOCK})
        conn.commit()
    except Exception:
        conn.invalidate()


def _lock(conn: Connection, dialect: str) -> None:
    """Serialise concurrent upgrades (SQLite: BEGIN EXCLUSIVE already did)."""
    if dialect == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(MIGRATION_LOCK.encode()).digest()[:8], "big", signed=True
        )
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    elif dialect in ("mysql", "mariadb"):
        got = conn.execute(
            text("SELECT GET_LOCK(:n, :t)"), {"n": MIGRATION_LOCK, "t": MIGRATION_LOCK_WAIT}
        ).scalar()
        if got != 1:
            raise StoreError(
                f"another process is upgrading the schema; waited {MIGRATION_LOCK_WAIT} s"
            )
