"""Alembic environment: runs on the connection that :mod:`..migrate` hands over.

There is no alembic.ini: the configuration is built in code, with the
connection in ``config.attributes["connection"]``, already inside the
transaction (and holding the migration lock) that the caller commits.
"""

from __future__ import annotations

from alembic import context

from osa_inventory.backends.sql.schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("osa-inventory migrations run online, through 'osa-inventory db upgrade'")

context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
