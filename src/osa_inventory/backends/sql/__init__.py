"""SQL backends: ``sqlite``, ``postgresql`` and ``mysql`` (MariaDB or MySQL).

One SQLAlchemy implementation; see docs/sql.md for URLs, schema, history,
locking and migrations.
"""

from __future__ import annotations

from osa_inventory.backends.sql.backend import (
    MySQLBackend,
    PostgreSQLBackend,
    SQLBackend,
    SQLiteBackend,
)

__all__ = ["MySQLBackend", "PostgreSQLBackend", "SQLBackend", "SQLiteBackend"]
