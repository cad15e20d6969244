"""Keep each version's extra facts (the generator's input fingerprint and warnings).

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DOC = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.add_column("osa_versions", sa.Column("extra", DOC, nullable=True))


def downgrade() -> None:
    op.drop_column("osa_versions", "extra")
