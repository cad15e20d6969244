"""Alembic migrations of the SQL backends' schema (run by ``osa-inventory db upgrade``)."""
