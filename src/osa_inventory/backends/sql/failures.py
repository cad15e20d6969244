"""Turn SQLAlchemy and driver errors into the project's own, on one line with a fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from osa_inventory.errors import OsaInventoryError, StoreCorrupt, StoreError, StoreUnavailable
from osa_inventory.inventory import REPAIR

# PostgreSQL SQLSTATE and MySQL error numbers, by what they mean to an operator
_AUTH = {"28P01", "28000", 1045, 1698}
_NO_DATABASE = {"3D000", 1049}
_DENIED = {"42501", 1142, 1143, 1044, 1227}
_UNREACHABLE = {2002, 2003, 2005, 2006, 2013}
_DISCONNECTED = {"57P01", "57P02", "57P03", "08000", "08003", "08006"}


def _code(orig: Any) -> Any:
    """MySQL's error number (PyMySQL: ``args[0]``), else PostgreSQL's SQLSTATE."""
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return getattr(orig, "sqlstate", None)


def is_conflict(exc: Exception) -> bool:
    """Another writer got there first: a duplicate key, a deadlock or a serialisation failure."""
    orig = getattr(exc, "orig", None)
    code = _code(orig)
    return code in ("23505", "40001", "40P01", 1062, 1213) or str(orig).startswith(
        "UNIQUE constraint failed"
    )


def first_line(orig: Any) -> str:
    """The driver's message, reduced to its first line."""
    args: tuple[Any, ...] = getattr(orig, "args", ())
    pymysql = len(args) >= 2 and isinstance(args[0], int)  # PyMySQL: (code, message)
    text = str(args[1]) if pymysql else str(orig)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(orig).__name__).rstrip(".")


DENIED_HINT = "this database user may not do that: use a writer role (see docs/sql.md)"


def translate(exc: Exception, where: str, action: str, denied: str = DENIED_HINT) -> StoreError:
    """The project error for a database error met while doing ``action`` on ``where``.

    ``denied`` is the advice given when the database refuses for lack of rights.
    """
    from sqlalchemy import exc as sa_exc

    if not isinstance(exc, sa_exc.DBAPIError):
        return StoreError(f"{where}: {action} failed: {exc}")
    orig = exc.orig
    code = _code(orig)
    detail = first_line(orig)
    lowered = detail.lower()
    if code in _AUTH or "authentication failed" in lowered:
        return StoreUnavailable(
            f"{where}: {action} failed: {detail}; check the user and password "
            "(options password, password_env or password_file)"
        )
    if code in _NO_DATABASE or ("database" in lowered and "does not exist" in lowered):
        return StoreUnavailable(
            f"{where}: {action} failed: {detail}; create the database first (see docs/sql.md)"
        )
    if code in _DENIED or "permission denied" in lowered or "read-only" in lowered:
        return StoreError(f"{where}: {action} failed: {detail}; {denied}")
    if "unable to open database file" in lowered:
        return StoreUnavailable(
            f"{where}: {action} failed: {detail}; check that the directory exists and is writable"
        )
    if (
        code in _UNREACHABLE
        or code in _DISCONNECTED
        or exc.connection_invalidated
        or "connection" in lowered
        or isinstance(exc, sa_exc.InterfaceError)
    ):
        return StoreUnavailable(
            f"{where}: {action} failed: {detail}; check that the database server is running "
            "and that the host and port in the url are right"
        )
    return StoreError(f"{where}: {action} failed: {detail}")


@contextlib.contextmanager
def translated(where: str, action: str, denied: str = DENIED_HINT) -> Iterator[None]:
    """Re-raise database errors inside the block as project errors."""
    from sqlalchemy import exc as sa_exc

    from osa_inventory.backends.sql.delta import DamagedRow

    try:
        yield
    except OsaInventoryError:
        raise
    except sa_exc.SQLAlchemyError as exc:
        raise translate(exc, where, action, denied) from exc
    except DamagedRow as exc:
        raise damaged(where, action, str(exc)) from exc


def damaged(where: str, action: str, problem: str) -> StoreCorrupt:
    """The error for rows that no longer hold what osa-inventory wrote."""
    return StoreCorrupt(
        f"{where}: {action} failed: {problem}; the tables were changed outside "
        f"osa-inventory. {REPAIR[0].upper()}{REPAIR[1:]}"
    )
