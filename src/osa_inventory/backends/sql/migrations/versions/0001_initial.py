"""The first schema: inventories, hosts, groups, members, extras, versions, undo log, locks.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NAME = sa.String(1024).with_variant(mysql.VARBINARY(1024), "mysql", "mariadb")
DOC = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
TABLE: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _inventory_id() -> sa.Column:
    return sa.Column(
        "inventory_id", sa.Integer, sa.ForeignKey("osa_inventories.id"), primary_key=True
    )


def upgrade() -> None:
    op.create_table(
        "osa_inventories",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", NAME, nullable=False, unique=True),
        sa.Column("lineage", sa.String(32), nullable=False),
        sa.Column("head", sa.Integer, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        **TABLE,
    )
    op.create_table(
        "osa_hosts",
        _inventory_id(),
        sa.Column("name", NAME, primary_key=True),
        sa.Column("vars", DOC, nullable=False),
        **TABLE,
    )
    op.create_table(
        "osa_groups",
        _inventory_id(),
        sa.Column("name", NAME, primary_key=True),
        sa.Column("body", DOC, nullable=False),
        sa.Column("lists", sa.String(2), nullable=False),
        **TABLE,
    )
    op.create_table(
        "osa_members",
        _inventory_id(),
        sa.Column("group_name", NAME, primary_key=True),
        sa.Column("part", sa.String(1), primary_key=True),
        sa.Column("ord", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("member", NAME, nullable=False),
        **TABLE,
    )
    op.create_table(
        "osa_extras",
        _inventory_id(),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", DOC, nullable=False),
        **TABLE,
    )
    op.create_table(
        "osa_versions",
        _inventory_id(),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("command", DOC, nullable=False),
        sa.Column("message", DOC, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("changed_rows", sa.Integer, nullable=False),
        **TABLE,
    )
    op.create_table(
        "osa_changes",
        _inventory_id(),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(1), primary_key=True),
        sa.Column("name", NAME, primary_key=True),
        sa.Column("part", sa.String(1), primary_key=True),
        sa.Column("ord", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("old", DOC, nullable=True),
        sa.Column("old_lists", sa.String(2), nullable=True),
        **TABLE,
    )
    op.create_table(
        "osa_locks",
        sa.Column("name", NAME, primary_key=True),
        sa.Column("lock_id", sa.String(64), nullable=False),
        sa.Column("holder", DOC, nullable=False),
        sa.Column("expires", sa.Double, nullable=True),
        **TABLE,
    )


def downgrade() -> None:
    for table in (
        "osa_locks",
        "osa_changes",
        "osa_versions",
        "osa_extras",
        "osa_members",
        "osa_groups",
        "osa_hosts",
        "osa_inventories",
    ):
        op.drop_table(table)
