"""The statements, each on a connection the caller opened (and whose transaction it owns)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from osa_inventory.backends.sql import schema as t
from osa_inventory.backends.sql.delta import Change, DamagedRow, State, load_row
from osa_inventory.errors import StoreError
from osa_inventory.store.backend import VersionInfo, WriteMeta, fingerprint_extra, new_lineage


@dataclass(frozen=True)
class InventoryRow:
    id: int
    lineage: str
    head: int  # 0: no version yet


# kind -> (table, {change field: key column}, {change field: value column})
_LAYOUT: dict[str, tuple[Table, dict[str, str], dict[str, str]]] = {
    "H": (t.hosts, {"name": "name"}, {"new": "vars"}),
    "G": (t.groups, {"name": "name"}, {"new": "body", "new_lists": "lists"}),
    "M": (t.members, {"name": "group_name", "part": "part", "ord": "ord"}, {"new": "member"}),
    "X": (t.extras, {"name": "key"}, {"new": "value"}),
}


def find_inventory(conn: Connection, name: str, *, for_update: bool = False) -> InventoryRow | None:
    query = select(t.inventories.c.id, t.inventories.c.lineage, t.inventories.c.head).where(
        t.inventories.c.name == name
    )
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return InventoryRow(row.id, row.lineage, row.head) if row else None


def create_inventory(conn: Connection, name: str) -> InventoryRow:
    lineage = new_lineage()
    result = conn.execute(
        insert(t.inventories).values(
            name=name, lineage=lineage, head=0, created_us=int(time.time() * 1e6)
        )
    )
    key = result.inserted_primary_key
    if key is None:  # every database here returns it for a single-row insert
        raise StoreError(f"inventory {name}: the database did not return the new row's id")
    return InventoryRow(key[0], lineage, 0)


def set_head(conn: Connection, inventory: InventoryRow, version: int) -> bool:
    """Compare-and-swap the head; False when another writer moved it."""
    result = conn.execute(
        update(t.inventories)
        .where(t.inventories.c.id == inventory.id, t.inventories.c.head == inventory.head)
        .values(head=version)
    )
    return result.rowcount == 1


def read_state(conn: Connection, inventory_id: int) -> State:
    state = State()
    h, g, m, x = t.hosts, t.groups, t.members, t.extras
    state.hosts = {
        name: text
        for name, text in conn.execute(
            select(h.c.name, h.c.vars).where(h.c.inventory_id == inventory_id)
        )
    }
    state.groups = {
        name: (body, lists)
        for name, body, lists in conn.execute(
            select(g.c.name, g.c.body, g.c.lists).where(g.c.inventory_id == inventory_id)
        )
    }
    members: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    for group, part, ord_, member in conn.execute(
        select(m.c.group_name, m.c.part, m.c.ord, m.c.member).where(
            m.c.inventory_id == inventory_id
        )
    ):
        members[(group, part)][ord_] = member
    state.members = dict(members)
    state.extras = {
        key: value
        for key, value in conn.execute(
            select(x.c.key, x.c.value).where(x.c.inventory_id == inventory_id)
        )
    }
    return state


def host_vars(conn: Connection, inventory_name: str, host: str) -> str | None:
    """One host's vars, in a single-row query."""
    query = (
        select(t.hosts.c.vars)
        .join(t.inventories, t.inventories.c.id == t.hosts.c.inventory_id)
        .where(t.inventories.c.name == inventory_name, t.hosts.c.name == host)
    )
    return conn.execute(query).scalar()


def _info(row: Any, lineage: str) -> VersionInfo:
    extra = load_row(row.extra, f"the extra column of version {row.version}") if row.extra else {}
    if not isinstance(extra, dict):
        raise DamagedRow(f"the extra column of version {row.version}: not a JSON object")
    if not isinstance(row.time_us, int | float) or not isinstance(row.checksum, str):
        raise DamagedRow(f"the time or checksum of version {row.version} is not what was written")
    return VersionInfo(
        version=row.version,
        lineage=lineage,
        time=row.time_us / 1e6,
        user=row.user,
        host=row.host,
        command=row.command,
        message=row.message,
        extra={**extra, "digest": row.checksum},
    )


def version_info(conn: Connection, inventory: InventoryRow, version: int) -> VersionInfo | None:
    v = t.versions
    row = conn.execute(
        select(v).where(v.c.inventory_id == inventory.id, v.c.version == version)
    ).first()
    return _info(row, inventory.lineage) if row else None


def list_versions(conn: Connection, inventory: InventoryRow) -> list[VersionInfo]:
    v = t.versions
    rows = conn.execute(select(v).where(v.c.inventory_id == inventory.id).order_by(v.c.version))
    return [_info(row, inventory.lineage) for row in rows]


def newest_version(conn: Connection, inventory_id: int) -> int | None:
    v = t.versions
    return conn.execute(
        select(func.max(v.c.version)).where(v.c.inventory_id == inventory_id)
    ).scalar()


def oldest_version(conn: Connection, inventory_id: int) -> int | None:
    v = t.versions
    return conn.execute(
        select(func.min(v.c.version)).where(v.c.inventory_id == inventory_id)
    ).scalar()


def undo_rows(conn: Connection, inventory_id: int, after: int) -> Iterator[tuple[Any, ...]]:
    """The undo log of every version newer than ``after``, newest version first."""
    c = t.changes
    query = (
        select(c.c.kind, c.c.name, c.c.part, c.c.ord, c.c.old, c.c.old_lists)
        .where(c.c.inventory_id == inventory_id, c.c.version > after)
        .order_by(c.c.version.desc())
    )
    for row in conn.execute(query):
        yield tuple(row)


def _op(change: Change) -> str:
    if change.old is None:
        return "insert"
    return "delete" if change.new is None else "update"


def apply_changes(conn: Connection, inventory_id: int, changes: list[Change]) -> None:
    """Write the new values of ``changes`` to the inventory tables, one batch per kind and op."""
    batches: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for change in changes:
        batches[(change.kind, _op(change))].append(change)
    for op in ("delete", "update", "insert"):
        for kind, (table, keys, values) in _LAYOUT.items():
            batch = batches.get((kind, op))
            if not batch:
                continue
            if op == "insert":
                rows = [
                    {
                        "inventory_id": inventory_id,
                        **{col: getattr(c, f) for f, col in keys.items()},
                        **{col: getattr(c, f) for f, col in values.items()},
                    }
                    for c in batch
                ]
                conn.execute(insert(table), rows)
                continue
            where = and_(
                table.c.inventory_id == bindparam("k_inventory_id"),
                *(table.c[col] == bindparam(f"k_{col}") for col in keys.values()),
            )
            params = [
                {
                    "k_inventory_id": inventory_id,
                    **{f"k_{col}": getattr(c, f) for f, col in keys.items()},
                    **(
                        {f"v_{col}": getattr(c, f) for f, col in values.items()}
                        if op == "update"
                        else {}
                    ),
                }
                for c in batch
            ]
            if op == "delete":
                conn.execute(delete(table).where(where), params)
            else:
                stmt = (
                    update(table)
                    .where(where)
                    .values({col: bindparam(f"v_{col}") for col in values.values()})
                )
                conn.execute(stmt, params)


def record_undo(conn: Connection, inventory_id: int, version: int, changes: list[Change]) -> None:
    """Keep the old value of every changed row: what rebuilds the version before ``version``."""
    if not changes:
        return
    conn.execute(
        insert(t.changes),
        [
            {
                "inventory_id": inventory_id,
                "version": version,
                "kind": c.kind,
                "name": c.name,
                "part": c.part,
                "ord": c.ord,
                "old": c.old,
                "old_lists": c.old_lists,
            }
            for c in changes
        ],
    )


def record_version(
    conn: Connection,
    inventory: InventoryRow,
    version: int,
    meta: WriteMeta,
    checksum: str,
    changed_rows: int,
) -> VersionInfo:
    values = {
        "inventory_id": inventory.id,
        "version": version,
        "time_us": round(meta.time * 1e6),
        "user": meta.user[:255],
        "host": meta.host[:255],
        "command": meta.command,
        "message": meta.message,
        "checksum": checksum,
        "changed_rows": changed_rows,
        "extra": _extra_text(fingerprint_extra(meta.fingerprint, meta.warnings)),
    }
    conn.execute(insert(t.versions).values(values))
    return _info(SimpleNamespace(**values), inventory.lineage)


def _extra_text(extra: dict[str, Any]) -> str | None:
    return json.dumps(extra, sort_keys=True) if extra else None


def set_version_extra(
    conn: Connection, inventory_id: int, version: int, extra: dict[str, Any], keys: tuple[str, ...]
) -> None:
    """Replace the facts ``keys`` of one version by those in ``extra``; keep the others."""
    v = t.versions
    where = (v.c.inventory_id == inventory_id, v.c.version == version)
    current = conn.execute(select(v.c.extra).where(*where)).scalar()
    kept = load_row(current, f"the extra column of version {version}") if current else {}
    if not isinstance(kept, dict):
        raise DamagedRow(f"the extra column of version {version}: not a JSON object")
    merged = {**{k: value for k, value in kept.items() if k not in keys}, **extra}
    conn.execute(update(v).where(*where).values(extra=_extra_text(merged)))


def prune(conn: Connection, inventory_id: int, oldest_kept: int) -> None:
    """Forget versions older than ``oldest_kept`` and the undo log that led to them."""
    if oldest_kept <= 1:
        return
    conn.execute(
        delete(t.versions).where(
            t.versions.c.inventory_id == inventory_id, t.versions.c.version < oldest_kept
        )
    )
    conn.execute(
        delete(t.changes).where(
            t.changes.c.inventory_id == inventory_id, t.changes.c.version <= oldest_kept
        )
    )


def redact_versions(conn: Connection, inventory_id: int, redact: Callable[[str], str]) -> list[int]:
    """Pass every recorded command and message through ``redact``; the versions changed."""
    v = t.versions
    rows = conn.execute(
        select(v.c.version, v.c.command, v.c.message).where(v.c.inventory_id == inventory_id)
    ).all()
    changed = []
    for version, command, message in rows:
        new_command, new_message = redact(command), redact(message)
        if (new_command, new_message) != (command, message):
            conn.execute(
                update(v)
                .where(v.c.inventory_id == inventory_id, v.c.version == version)
                .values(command=new_command, message=new_message)
            )
            changed.append(version)
    return sorted(changed)


def clear_contents(conn: Connection, inventory_id: int) -> None:
    """Delete the rows and the undo log of one inventory (its versions' records stay)."""
    for table in (t.members, t.groups, t.hosts, t.extras, t.changes):
        conn.execute(delete(table).where(table.c.inventory_id == inventory_id))


def set_version_content(
    conn: Connection, inventory_id: int, version: int, checksum: str, changed_rows: int
) -> None:
    """The checksum and row count of a version whose content was rewritten."""
    v = t.versions
    conn.execute(
        update(v)
        .where(v.c.inventory_id == inventory_id, v.c.version == version)
        .values(checksum=checksum, changed_rows=changed_rows)
    )
