"""The writers' lock, per named inventory, shared by every deploy host using the database.

* PostgreSQL: a session advisory lock (``pg_advisory_lock`` under a short
  ``lock_timeout``), MariaDB/MySQL: a named lock (``GET_LOCK`` with a short
  timeout), each held by one dedicated connection. The server drops it when
  that connection ends, so a dead writer never blocks anyone.
  Beside it, a row in ``osa_locks`` says who holds it, for ``lock status``;
  ``lock break`` ends the holder's database session.
* SQLite: the row alone, taken inside ``BEGIN IMMEDIATE``; a holder that died
  is recognised by the front end when it ran on the same host (its process is
  gone); one from another host stays until ``lock break`` removes its row.

Whether a holder is alive is never judged by its clock: a server lock is held
by a live session (its holder is alive), a row is judged by its pid on one host.
A session proves it may write (a no-op ``DELETE`` on ``osa_locks``) before it
takes the server lock, so a read-only role never holds it through
osa-inventory (a role that takes it by hand is named by ``lock status``;
docs/security.md says how to stop that). Readers never take the lock.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Connection, Engine

from osa_inventory.backends.sql import schema as t
from osa_inventory.backends.sql.engine import reading, writing
from osa_inventory.backends.sql.failures import first_line, translated
from osa_inventory.errors import StoreError
from osa_inventory.store.backend import LockHolder

BREAK_WAIT = 5.0  # seconds to wait for a broken holder's session to end
# A taker waits this long on the server before reporting the holder: the server
# wakes it as soon as the lock is free, which beats the front end's polling.
SERVER_WAIT = 0.2


def _read_row(conn: Connection, name: str) -> LockHolder | None:
    locks = t.locks.c
    row = conn.execute(
        select(locks.holder, locks.lock_id, locks.expires).where(locks.name == name)
    ).first()
    if row is None:
        return None
    try:
        return LockHolder.from_dict(json.loads(row.holder))
    except (ValueError, TypeError):  # 'lock break LOCK_ID' removes it by its id column
        return LockHolder.unknown(str(row.lock_id), row.expires)


def _put_row(conn: Connection, name: str, holder: LockHolder, session: int | None = None) -> None:
    record = holder.to_dict() if session is None else {**holder.to_dict(), "session": session}
    conn.execute(delete(t.locks).where(t.locks.c.name == name))
    conn.execute(
        insert(t.locks).values(
            name=name,
            lock_id=holder.lock_id,
            holder=json.dumps(record),
            expires=holder.expires,
        )
    )


def _row_session(conn: Connection, name: str) -> int | None:
    """The database session that wrote the holder row (None: not recorded)."""
    text_ = conn.execute(select(t.locks.c.holder).where(t.locks.c.name == name)).scalar()
    try:
        session = json.loads(text_).get("session") if text_ else None
    except (ValueError, AttributeError):
        return None
    return session if isinstance(session, int) else None


def _drop_row(conn: Connection, name: str, lock_id: str) -> None:
    conn.execute(delete(t.locks).where(t.locks.c.name == name, t.locks.c.lock_id == lock_id))


class RowLock:
    """SQLite: the lock is the row."""

    stale_holder: LockHolder | None = None

    def __init__(self, engine: Engine, name: str, where: str) -> None:
        self.engine, self.name, self.where = engine, name, where

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        with translated(self.where, "taking the lock"), writing(self.engine) as conn:
            current = _read_row(conn, self.name)
            if current is not None and current.lock_id != holder.lock_id:
                return current
            _put_row(conn, self.name, holder)
        return None

    def release_lock(self, holder: LockHolder) -> None:
        with translated(self.where, "releasing the lock"), writing(self.engine) as conn:
            _drop_row(conn, self.name, holder.lock_id)

    def lock_status(self) -> LockHolder | None:
        with translated(self.where, "reading the lock"), reading(self.engine) as conn:
            return _read_row(conn, self.name)

    def break_lock(self, lock_id: str) -> None:
        with translated(self.where, "breaking the lock"), writing(self.engine) as conn:
            current = _read_row(conn, self.name)
            _check_breakable(current, lock_id)
            _drop_row(conn, self.name, lock_id)

    def holder_alive(self, holder: LockHolder) -> bool | None:
        """A row cannot tell: the front end judges a holder on this host by its pid."""
        return None


def _session_lock_id(session: int) -> str:
    return f"session-{session}"


def _check_breakable(current: LockHolder | None, lock_id: str) -> None:
    if current is None:
        raise StoreError(f"lock {lock_id} is not held; nothing to break")
    if current.lock_id != lock_id:
        raise StoreError(
            f"lock {lock_id} is not the current lock; it is held by {current.describe()}"
        )


class ServerLock:
    """A server-side lock held by one connection, plus the holder row."""

    stale_holder: LockHolder | None = None

    def __init__(self, engine: Engine, name: str, where: str) -> None:
        self.engine, self.name, self.where = engine, name, where
        self._conn: Connection | None = None
        self._holder: LockHolder | None = None

    # -- what each server does --

    def _try(self, conn: Connection) -> bool:
        raise NotImplementedError

    def _unlock(self, conn: Connection) -> None:
        raise NotImplementedError

    def _session(self, conn: Connection) -> int | None:
        """The id of the database session holding the lock, or None."""
        raise NotImplementedError

    def _own_session(self, conn: Connection) -> int:
        """The id of this connection's database session."""
        raise NotImplementedError

    def _end_session(self, conn: Connection, session: int) -> None:
        raise NotImplementedError

    def _session_owner(self, conn: Connection, session: int) -> str | None:
        """The database user (and client address) of a session, when the server says."""
        return None

    # -- the lock capability --

    def holder_alive(self, holder: LockHolder) -> bool:
        """The server says the lock is held, so by a live session: never broken unasked."""
        return True

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        if self._conn is not None and self._holder is not None:
            return None if self._holder.lock_id == holder.lock_id else self._holder
        with translated(self.where, "taking the lock"):
            conn = self.engine.connect()
            try:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                # only a role that may write gets to hold (and so block) the writers' lock
                conn.execute(delete(t.locks).where(text("1 = 0")))
                if not self._try(conn):
                    conn.close()
                    return self._current()
                session = self._own_session(conn)
                with writing(self.engine) as row_conn:
                    previous = _read_row(row_conn, self.name)
                    _put_row(row_conn, self.name, holder, session)
            except BaseException:
                self._discard(conn)
                raise
        self.stale_holder = previous if previous and previous.lock_id != holder.lock_id else None
        self._conn, self._holder = conn, holder
        return None

    def _holder_row(self, conn: Connection, session: int | None) -> LockHolder | None:
        """The holder row, unless another session than the one holding the lock wrote it
        (a holder that died before the current one wrote its own row)."""
        holder = _read_row(conn, self.name)
        written_by = _row_session(conn, self.name) if holder is not None else None
        if session is not None and written_by is not None and written_by != session:
            return None
        return holder

    def _current(self) -> LockHolder:
        with reading(self.engine) as conn:
            session = self._session(conn)
            holder = self._holder_row(conn, session)
            owner = self._session_owner(conn, session) if session is not None else None
        if holder is not None or session is None:
            return holder or LockHolder.unknown()
        # a holder that has not written (or lost) its row, or a role that took the
        # lock by hand: name it by its session
        return LockHolder(
            _session_lock_id(session),
            owner or "unknown",
            f"database session {session}",
            0,
            time.time(),
        )

    def _discard(self, conn: Connection) -> None:
        """Release whatever the connection may hold, then return it to the pool."""
        try:
            if not conn.invalidated:
                self._unlock(conn)
            conn.close()
        except Exception:  # the connection is unusable: make sure the pool drops it
            conn.invalidate()
            conn.close()

    def release_lock(self, holder: LockHolder) -> None:
        conn, mine = self._conn, self._holder
        if conn is None or mine is None or mine.lock_id != holder.lock_id:
            return
        self._conn = self._holder = None
        try:
            with translated(self.where, "releasing the lock"), writing(self.engine) as row_conn:
                _drop_row(row_conn, self.name, holder.lock_id)
        finally:
            self._discard(conn)

    def lock_status(self) -> LockHolder | None:
        with translated(self.where, "reading the lock"):
            with reading(self.engine) as conn:
                if self._session(conn) is None:
                    return None
            return self._current()

    def break_lock(self, lock_id: str) -> None:
        with translated(self.where, "breaking the lock"):
            with reading(self.engine) as conn:
                session = self._session(conn)
                current = self._holder_row(conn, session)
            if session is None:  # nobody holds it: at most a row left by a dead writer
                if current is None or current.lock_id != lock_id:
                    raise StoreError(f"lock {lock_id} is not held; nothing to break")
            else:
                if not (current is None and lock_id == _session_lock_id(session)):
                    _check_breakable(current, lock_id)
                with self.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    self._end_session(conn, session)
                    self._wait_gone(conn)
            with writing(self.engine) as conn:
                _drop_row(conn, self.name, lock_id)

    def _wait_gone(self, conn: Connection) -> None:
        deadline = time.monotonic() + BREAK_WAIT
        while self._session(conn) is not None:
            if time.monotonic() > deadline:
                raise StoreError(
                    f"{self.where}: the session holding the lock did not end within "
                    f"{BREAK_WAIT:g} s; try again"
                )
            time.sleep(0.05)


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _key64(text_: str) -> int:
    return int.from_bytes(hashlib.sha256(text_.encode()).digest()[:8], "big", signed=True)


class PostgresAdvisoryLock(ServerLock):
    """``pg_try_advisory_lock`` on a key derived from the inventory name (per database)."""

    def __init__(self, engine: Engine, name: str, where: str) -> None:
        super().__init__(engine, name, where)
        self.key = _key64(f"osa-inventory:lock:{name}")
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        self.classid, self.objid = unsigned >> 32, unsigned & 0xFFFFFFFF

    def _try(self, conn: Connection) -> bool:
        from sqlalchemy.exc import OperationalError

        conn.execute(text("SELECT set_config('lock_timeout', :t, false)"), {"t": _ms(SERVER_WAIT)})
        try:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            # The lock may have been granted as the timeout fired; a session lock is
            # not dropped with the failed statement, so drop it here or it leaks.
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
            return False
        finally:
            if not conn.invalidated:
                conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))
        return True

    def _unlock(self, conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_unlock_all()"))  # the connection holds no other

    def _own_session(self, conn: Connection) -> int:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def _session(self, conn: Connection) -> int | None:
        return conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = CAST(:c AS oid) AND objid = CAST(:o AS oid) AND objsubid = 1"
            ),
            {"c": self.classid, "o": self.objid},
        ).scalar()

    def _session_owner(self, conn: Connection, session: int) -> str | None:
        row = conn.execute(
            text("SELECT usename, client_addr FROM pg_stat_activity WHERE pid = :p"),
            {"p": session},
        ).first()
        if row is None or row[0] is None:
            return None
        return f"{row[0]} from {row[1]}" if row[1] else str(row[0])

    def _end_session(self, conn: Connection, session: int) -> None:
        try:
            ended = conn.execute(
                text("SELECT pg_terminate_backend(:p, 5000)"), {"p": session}
            ).scalar()
        except Exception as exc:
            raise StoreError(
                f"{self.where}: cannot end database session {session} holding the lock "
                f"({first_line(getattr(exc, 'orig', exc))}); ask the DBA to run "
                f"SELECT pg_terminate_backend({session})"
            ) from exc
        if not ended:
            raise StoreError(f"{self.where}: database session {session} did not end; try again")


class MySQLNamedLock(ServerLock):
    """``GET_LOCK`` on a name derived from the database and inventory names."""

    def __init__(self, engine: Engine, name: str, where: str) -> None:
        super().__init__(engine, name, where)
        database = engine.url.database or ""
        digest = hashlib.sha256(f"{database}\x00{name}".encode()).hexdigest()[:40]
        self.lock_name = f"osa-inventory:{digest}"

    def _try(self, conn: Connection) -> bool:
        got = conn.execute(
            text("SELECT GET_LOCK(:n, :t)"), {"n": self.lock_name, "t": SERVER_WAIT}
        ).scalar()
        return got == 1

    def _unlock(self, conn: Connection) -> None:
        conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": self.lock_name})

    def _own_session(self, conn: Connection) -> int:
        return int(conn.execute(text("SELECT CONNECTION_ID()")).scalar_one())

    def _session(self, conn: Connection) -> int | None:
        return conn.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": self.lock_name}).scalar()

    def _session_owner(self, conn: Connection, session: int) -> str | None:
        row = conn.execute(
            text("SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = :i"),
            {"i": session},
        ).first()  # empty without the PROCESS privilege, for others' sessions
        if row is None:
            return None
        return f"{row[0]} from {row[1]}" if row[1] else str(row[0])

    def _end_session(self, conn: Connection, session: int) -> None:
        try:
            conn.exec_driver_sql(f"KILL CONNECTION {int(session)}")
        except Exception as exc:
            raise StoreError(
                f"{self.where}: cannot end database connection {session} holding the lock "
                f"({first_line(getattr(exc, 'orig', exc))}); ask the DBA to run "
                f"KILL CONNECTION {session}"
            ) from exc


def lock_for(engine: Engine, name: str, where: str) -> Any:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return PostgresAdvisoryLock(engine, name, where)
    if dialect in ("mysql", "mariadb"):
        return MySQLNamedLock(engine, name, where)
    return RowLock(engine, name, where)
