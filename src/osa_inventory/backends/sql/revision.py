"""The schema revision this code reads and writes, without SQLAlchemy (the light ``--list``
checks it too); tests keep it equal to the migrations' head."""

SCHEMA_REVISION = "0002"
VERSION_TABLE = "osa_alembic_version"
