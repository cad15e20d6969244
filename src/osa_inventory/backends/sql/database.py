"""One named inventory in one database: the work behind :mod:`.backend`'s methods."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

from osa_inventory.backends.sql import migrate
from osa_inventory.backends.sql import queries as q
from osa_inventory.backends.sql.delta import (
    Change,
    DamagedRow,
    Layout,
    State,
    checksum,
    diff,
    join,
    load_row,
    split,
    undo,
)
from osa_inventory.backends.sql.engine import make_engine, reading, writing
from osa_inventory.backends.sql.failures import damaged, is_conflict, translated
from osa_inventory.backends.sql.locks import lock_for
from osa_inventory.backends.sql.schema import NAME_BYTES, SCHEMA_REVISION
from osa_inventory.backends.sql.url import parse_url, shown
from osa_inventory.errors import StaleWrite, StoreError, StoreMissing
from osa_inventory.inventory import empty_inventory
from osa_inventory.store.backend import VersionInfo, WriteMeta, fingerprint_extra

_KINDS = {"H": "host", "G": "group", "M": "group member", "X": "key"}
FINGERPRINT_KEYS = ("fingerprint", "warnings")


def _identity(info: VersionInfo | None) -> tuple[int, str] | None:
    return None if info is None else (info.version, info.lineage)


class InventoryDatabase:
    """Reads, writes, history and lock of the inventory ``config['name']`` at ``config['url']``."""

    def __init__(self, backend: str, config: dict[str, Any]) -> None:
        self.name: str = config["name"]
        if not self.name or len(self.name.encode()) > NAME_BYTES:
            raise StoreError(f"backend {backend}: inventory name must be 1 to {NAME_BYTES} bytes")
        self.retention: int = config["retention"]
        self.auto_upgrade: bool = config["auto_upgrade"]
        self.url = parse_url(backend, config["url"], config["password"])
        self.where = shown(self.url)
        if self.name != "default":
            self.where += f" (inventory {self.name})"
        self.engine = make_engine(self.url)
        self.lock = lock_for(self.engine, self.name, self.where)
        self._schema_checked = False
        # the rows of the last version read or written, to diff the next write against
        self._cache: tuple[tuple[int, str, int], State] | None = None

    def close(self) -> None:
        self.engine.dispose()

    def _missing_file(self) -> bool:
        """A SQLite database whose file does not exist: only creating a schema makes it."""
        database = self.url.database or ""
        on_disk = self.url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
        return on_disk and not os.path.exists(database)

    def ready(self) -> None:
        """Check (and if allowed upgrade) the schema, once per instance."""
        if not self._schema_checked:
            if self._missing_file() and not self.auto_upgrade:  # connecting would create it
                raise StoreMissing(
                    f"{self.where}: the database file does not exist yet; to create it, run "
                    "'osa-inventory db upgrade' (or set the option auto_upgrade=true)"
                )
            migrate.ensure(self.engine, self.where, self.auto_upgrade)
            self._schema_checked = True

    def upgrade_schema(self) -> tuple[str | None, str]:
        result = migrate.upgrade(self.engine, self.where)
        self._schema_checked = True
        return result

    def schema_status(self) -> migrate.SchemaStatus:
        if self._missing_file():  # reported, not created
            return migrate.SchemaStatus(None, SCHEMA_REVISION, True)
        return migrate.status(self.engine, self.where)

    # -- reading --

    def read_current(self) -> tuple[VersionInfo | None, dict[str, Any]]:
        self.ready()
        with translated(self.where, "reading the inventory"):
            with reading(self.engine) as conn:
                row = q.find_inventory(conn, self.name)
                info = self._head_info(conn, row)
                if row is None or info is None:
                    return None, empty_inventory()
                state = q.read_state(conn, row.id)
            inventory = join(state)
        self._cache = ((row.id, row.lineage, row.head), state)
        return info, inventory

    def head(self) -> VersionInfo | None:
        self.ready()
        with translated(self.where, "reading the head version"), reading(self.engine) as conn:
            return self._head_info(conn, q.find_inventory(conn, self.name))

    def _head_info(self, conn: Any, row: q.InventoryRow | None) -> VersionInfo | None:
        """The head's version info; None for an empty store, DamagedRow for a broken head."""
        if row is None:
            return None
        if row.head == 0:
            newest = q.newest_version(conn, row.id)
            if newest is None:
                return None  # created, never written
            raise DamagedRow(f"the head of inventory {self.name} is 0 but version {newest} exists")
        info = q.version_info(conn, row, row.head)
        if info is None:
            raise DamagedRow(
                f"the head of inventory {self.name} is version {row.head}, which is missing"
            )
        return info

    def list_versions(self) -> list[VersionInfo]:
        self.ready()
        with translated(self.where, "reading the history"), reading(self.engine) as conn:
            row = q.find_inventory(conn, self.name)
            return [] if row is None else q.list_versions(conn, row)

    def read_version(self, version: int) -> dict[str, Any]:
        """Rebuild ``version`` from the current rows and the undo log, and check it."""
        self.ready()
        with translated(self.where, f"reading version {version}"), reading(self.engine) as conn:
            row = q.find_inventory(conn, self.name)
            oldest = None if row is None else q.oldest_version(conn, row.id)
            # the rows are the newest version's even when the head was damaged
            newest = None if row is None else q.newest_version(conn, row.id)
            if row is None or oldest is None or newest is None or not oldest <= version <= newest:
                kept = "none" if row is None or oldest is None else f"{oldest} to {newest}"
                raise StoreError(
                    f"{self.where}: version {version} is not retained (kept: {kept}); "
                    "see 'osa-inventory history'"
                )
            info = q.version_info(conn, row, version)
            state = q.read_state(conn, row.id)
            undo(state, q.undo_rows(conn, row.id, version))
            if info is None or checksum(state) != info.extra["digest"]:
                raise damaged(
                    self.where,
                    f"reading version {version}",
                    "the version rebuilt from the history does not match its checksum",
                )
            return join(state)

    def load_host(self, host: str) -> dict[str, Any] | None:
        self.ready()
        with translated(self.where, f"reading host {host}"):
            with reading(self.engine) as conn:
                text = q.host_vars(conn, self.name, host)
            if text is None:
                return None
            variables = load_row(text, f"the vars of host {host}")
            if not isinstance(variables, dict):
                raise DamagedRow(f"the vars of host {host}: not a JSON object")
        return variables

    # -- writing --

    def write_version(
        self,
        inventory: dict[str, Any],
        meta: WriteMeta,
        expected: VersionInfo | None,
        *,
        over_damage: bool = False,
    ) -> VersionInfo:
        """Store a new version in one transaction if the head is still ``expected``.

        ``over_damage``: whatever the head is, even a broken one (recovery); the new
        version comes after every version recorded.
        """
        self.ready()
        layout = split(inventory)
        try:
            with translated(self.where, "writing the inventory"):
                try:
                    info, row, new_state = self._write(layout, meta, expected, over_damage)
                except DBAPIError as exc:
                    if not is_conflict(exc):
                        raise
                    raise StaleWrite(
                        f"{self.where}: another writer stored a version at the same time; "
                        "rerun the command"
                    ) from exc
        except BaseException:
            self._cache = None  # the outcome is unknown: read afresh next time
            raise
        self._cache = ((row.id, row.lineage, info.version), new_state)
        return info

    def _write(
        self, layout: Layout, meta: WriteMeta, expected: VersionInfo | None, over_damage: bool
    ) -> tuple[VersionInfo, q.InventoryRow, State]:
        with writing(self.engine) as conn:
            row = q.find_inventory(conn, self.name, for_update=True)
            found = None if row is None or row.head == 0 else (row.head, row.lineage)
            if found != _identity(expected) and not over_damage:
                raise self._stale(expected, row)
            if row is None:
                row = q.create_inventory(conn, self.name)
            cached = None if over_damage else self._cache
            if cached is not None and cached[0] == (row.id, row.lineage, row.head):
                state = cached[1]
            else:  # the rows as text: a damaged value is replaced, never parsed
                state = q.read_state(conn, row.id)
            changes, new_state = diff(state, layout)
            self._check_names(changes)
            last = max(row.head, q.newest_version(conn, row.id) or 0) if over_damage else row.head
            version = last + 1 if last else (meta.first_version or 1)
            q.apply_changes(conn, row.id, changes)
            if last:  # version 1 needs no undo: there is nothing older to rebuild
                q.record_undo(conn, row.id, version, changes)
            info = q.record_version(conn, row, version, meta, checksum(new_state), len(changes))
            if not q.set_head(conn, row, version):
                raise self._stale(expected, row)
            q.prune(conn, row.id, version - self.retention + 1)
        return info, row, new_state

    def set_fingerprint(self, version: VersionInfo, fingerprint: str, warnings: list[str]) -> None:
        """Record the generator's input fingerprint with ``version`` (the lock is held)."""
        self.ready()
        with (
            translated(self.where, "recording the input fingerprint"),
            writing(self.engine) as conn,
        ):
            row = q.find_inventory(conn, self.name)
            if row is None or row.head != version.version or row.lineage != version.lineage:
                return
            extra = fingerprint_extra(fingerprint, warnings)
            q.set_version_extra(conn, row.id, version.version, extra, FINGERPRINT_KEYS)

    def rewrite_contents(self, contents: list[tuple[int, dict[str, Any]]]) -> None:
        """Rebuild the rows and the undo log from new contents of the retained versions,
        oldest first, in one transaction (the version records stay)."""
        self.ready()
        self._cache = None
        with translated(self.where, "rewriting the versions"), writing(self.engine) as conn:
            row = q.find_inventory(conn, self.name, for_update=True)
            numbers = [] if row is None else [i.version for i in q.list_versions(conn, row)]
            if row is None or numbers != [number for number, _ in contents]:
                raise StaleWrite(f"{self.where}: the versions changed since they were read; rerun")
            q.clear_contents(conn, row.id)
            state = State()
            for index, (number, inventory) in enumerate(contents):
                changes, state = diff(state, split(inventory))
                q.apply_changes(conn, row.id, changes)
                if index:  # the oldest needs no undo: nothing older is rebuilt
                    q.record_undo(conn, row.id, number, changes)
                q.set_version_content(conn, row.id, number, checksum(state), len(changes))

    def redact_history(self, redact: Callable[[str], str]) -> list[int]:
        """Pass every recorded command and message through ``redact`` (the lock is held)."""
        self.ready()
        with translated(self.where, "redacting the history"), writing(self.engine) as conn:
            row = q.find_inventory(conn, self.name)
            return [] if row is None else q.redact_versions(conn, row.id, redact)

    def _stale(self, expected: VersionInfo | None, row: q.InventoryRow | None) -> StaleWrite:
        now = "empty" if row is None or row.head == 0 else f"at version {row.head}"
        then = "empty" if expected is None else f"at version {expected.version}"
        return StaleWrite(
            f"{self.where}: the store is {now}, not {then} as when it was read; rerun the "
            "command to work from the current version"
        )

    def _check_names(self, changes: list[Change]) -> None:
        for change in changes:
            if change.new is None:
                continue
            name = change.new if change.kind == "M" else change.name
            if len(name.encode("utf-8", "surrogatepass")) > NAME_BYTES:
                raise StoreError(
                    f"{self.where}: {_KINDS[change.kind]} name {name[:40]!r}... is longer than "
                    f"{NAME_BYTES} bytes, which the SQL backends cannot store; shorten it"
                )
