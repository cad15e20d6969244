#!/usr/bin/env python3
"""Benchmark the SQL backends (and the file backend, for comparison) on one deployment.

For each store, on a prod-shaped deployment from osa_inventory.testing.deployment
(default 1,000 computes), with PostgreSQL and MariaDB started from the binaries
on this machine (osa_inventory.testing.servers, durable settings: fsync on):

whole ``osa-inventory --list`` processes
    first write (empty store), no-op run (nothing changed: the stored input
    fingerprint matches and the stored version is served), the same with
    ``--regenerate`` (generated again and compared), one-host change (one
    compute host's IP changed in openstack_user_config.yml);
the store alone, through the Python API
    write of the whole inventory into an empty store, write of a one-host
    change, ``load()`` by a new instance (connect, schema check, read),
    ``load_host()``;
rows and bytes written per one-host change
    every INSERT/UPDATE/DELETE of one update cycle (lock row, host row, undo
    row, version row, head), counted on the engine: rows and the size of the
    values sent;
growth after 100 one-host changes
    the size of the store's tables (file backend: its files) before and after
    100 successive one-host changes, against the size of the inventory.

Prints Markdown tables. Run it on an otherwise idle machine::

    .venv/bin/python bench/bench_sql.py                       # 1,000 computes, all stores
    .venv/bin/python bench/bench_sql.py --stores sqlite,postgresql --reps 3
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osa_inventory.inventory import copy_inventory
from osa_inventory.jsonio import dumps_inventory
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store
from osa_inventory.testing import servers as services
from osa_inventory.testing.deployment import write_config

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

DEFAULT_ENVIRONMENT = (REPO_ROOT / ".." / "shared" / "osa" / "inventory").resolve()
DEFAULT_COMMAND = Path(sys.executable).parent / "osa-inventory"
STORES = ("file", "sqlite", "postgresql", "mysql")


@dataclass
class Target:
    """One store under test: the backend name and how to reach a named inventory in it."""

    store: str
    scratch: Path
    server: services.Server | None = None
    database: str = "bench"

    def options(self, name: str) -> dict[str, str]:
        if self.store == "file":
            return {"path": str(self.scratch / f"file-{name}" / "openstack_inventory.json")}
        if self.store == "sqlite":
            return {"url": f"sqlite:///{self.scratch / f'{self.database}.db'}", "name": name}
        assert self.server is not None
        return {"url": self.server.url(self.database), "name": name}

    def flags(self, name: str) -> list[str]:
        flags = ["--backend", self.store]
        for key, value in self.options(name).items():
            if key == "name":
                flags += ["--inventory-name", value]
            else:
                flags += ["--backend-option", f"{key}={value}"]
        return flags

    def open(self, name: str, **extra: str) -> Any:
        options = self.options(name)
        if self.store == "file":
            Path(options["path"]).parent.mkdir(parents=True, exist_ok=True)
        return open_backend(self.store, {**options, **extra})

    def size(self, name: str) -> int:
        """Bytes the store occupies (all inventories in the database)."""
        if self.store == "file":
            folder = Path(self.options(name)["path"]).parent
            return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        if self.store == "sqlite":
            path = self.scratch / f"{self.database}.db"
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*"))
        assert self.server is not None
        if self.store == "postgresql":
            with contextlib.closing(services.pg_admin(self.server, self.database)) as conn:
                row = conn.execute(
                    "SELECT sum(pg_total_relation_size(oid)) FROM pg_class "
                    "WHERE relkind = 'r' AND relname LIKE 'osa%'"
                ).fetchone()
            return int(row[0])
        admin = services.mariadb_admin(self.server, self.database)
        with contextlib.closing(admin), admin.cursor() as cur:
            cur.execute("SHOW TABLES")
            for (table,) in cur.fetchall():
                cur.execute(f"ANALYZE TABLE `{table}`")
                cur.fetchall()
            cur.execute(
                "SELECT SUM(data_length + index_length) FROM information_schema.tables "
                "WHERE table_schema = %s",
                (self.database,),
            )
            return int(cur.fetchone()[0])


@dataclass
class Figures:
    store: str
    cli: dict[str, list[float]] = field(default_factory=dict)
    api: dict[str, list[float]] = field(default_factory=dict)
    rows: int = 0
    inventory_rows: int = 0
    bytes_sent: int = 0
    by_table: dict[str, int] = field(default_factory=dict)
    size_before: int = 0
    size_after: int = 0
    inventory_bytes: int = 0


# -- measuring -------------------------------------------------------------------------------


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run_cli(command: Path, config: Path, environment: Path, flags: list[str]) -> float:
    argv = [str(command), "--config", str(config), "--environment", str(environment), *flags]
    started = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed: {' '.join(argv)}\n{proc.stderr}")
    return elapsed


def set_host_ip(config: Path, old: str, new: str) -> None:
    path = config / "openstack_user_config.yml"
    text = path.read_text()
    if f"ip: {old}\n" not in text:
        raise SystemExit(f"{path}: no host with ip {old}")
    path.write_text(text.replace(f"ip: {old}\n", f"ip: {new}\n"))


def host_ip(config: Path, host: str) -> str:
    lines = (config / "openstack_user_config.yml").read_text().splitlines()
    index = lines.index(f"  {host}:")
    return lines[index + 1].split("ip:")[1].strip()


@contextlib.contextmanager
def counting_writes(backend: Any, figures: Figures) -> Iterator[None]:
    """Count rows and bytes of every INSERT/UPDATE/DELETE the backend's engine sends."""
    engine = getattr(getattr(backend, "db", None), "engine", None)
    if engine is None:
        yield
        return
    from sqlalchemy import event

    def size(value: Any) -> int:
        if isinstance(value, str):
            return len(value.encode())
        if isinstance(value, bytes | bytearray):
            return len(value)
        return 0 if value is None else 8

    def count(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("INSERT", "UPDATE", "DELETE"):
            return
        table = next((w for w in statement.replace("`", " ").split() if w.startswith("osa_")), "?")
        rows = cursor.rowcount if cursor.rowcount and cursor.rowcount > 0 else 0
        values = params if many else [params]
        sent = 0
        for item in values:
            items = item.values() if isinstance(item, dict) else item or ()
            sent += sum(size(v) for v in items)
        figures.rows += rows
        figures.by_table[table] = figures.by_table.get(table, 0) + rows
        if table in ("osa_hosts", "osa_groups", "osa_members", "osa_extras"):
            figures.inventory_rows += rows
        figures.bytes_sent += sent

    event.listen(engine, "after_cursor_execute", count)
    try:
        yield
    finally:
        event.remove(engine, "after_cursor_execute", count)


def change_one_host(inventory: dict[str, Any], host: str, step: int) -> dict[str, Any]:
    result = copy_inventory(inventory)
    result["_meta"]["hostvars"][host]["ansible_host"] = f"10.99.{step // 250}.{step % 250 + 1}"
    return result


def bench_store(
    target: Target,
    template: Path,
    computes: int,
    environment: Path,
    command: Path,
    reps: int,
    changes: int,
    log: Callable[[str], None],
) -> Figures:
    figures = Figures(target.store)
    host = f"compute{max(1, computes // 2)}"
    scratch = target.scratch
    if target.store != "file":  # the schema, once: not part of any figure
        with contextlib.closing(target.open("schema")) as backend:
            backend.upgrade_schema()

    # whole processes ------------------------------------------------------------------
    first = []
    for rep in range(reps):
        config = scratch / f"first{rep}"
        shutil.copytree(template, config)
        first.append(run_cli(command, config, environment, target.flags(f"first{rep}")))
    figures.cli["first write"] = first
    log(f"  {target.store}: first write {statistics.median(first):.3f} s")

    config = scratch / "config"
    shutil.copytree(template, config)
    flags = target.flags("bench")
    run_cli(command, config, environment, flags)
    figures.cli["no-op run"] = [run_cli(command, config, environment, flags) for _ in range(reps)]
    figures.cli["no-op, --regenerate"] = [
        run_cli(command, config, environment, [*flags, "--regenerate"]) for _ in range(reps)
    ]
    original = host_ip(config, host)
    one_host, current = [], original
    with contextlib.closing(target.open("bench")) as backend:
        before = backend.head()
        for _ in range(reps):
            new = "10.16.250.1" if current == original else original
            set_host_ip(config, current, new)
            current = new
            one_host.append(run_cli(command, config, environment, flags))
        after = backend.head()
    if after.version - before.version != reps:
        raise SystemExit(f"{target.store}: the one-host changes did not each make a version")
    figures.cli["one-host change"] = one_host
    log(f"  {target.store}: runs done")

    # the store alone --------------------------------------------------------------------
    with contextlib.closing(target.open("bench")) as backend:
        inventory = backend.load()
    figures.inventory_bytes = len(dumps_inventory(inventory))
    writes = []
    for rep in range(reps):
        with contextlib.closing(target.open(f"api{rep}")) as backend:
            store = Store(backend, label=f"{target.store}-api{rep}")
            store.read()
            writes.append(timed(lambda s=store: s.update(lambda _: inventory)))
    figures.api["write, empty store"] = writes
    with contextlib.closing(target.open("api0")) as backend:
        store = Store(backend, label=f"{target.store}-api0")
        store.read()
        figures.api["write, one-host change"] = [
            timed(lambda s=store, i=i: s.update(lambda inv: change_one_host(inv, host, i)))
            for i in range(reps)
        ]
        with counting_writes(backend, figures):
            store.update(lambda inv: change_one_host(inv, host, 1000))
    loads, hosts = [], []
    for _ in range(reps):
        backend = target.open("api0")
        loads.append(timed(backend.load))
        backend.close()
        backend = target.open("api0")
        if hasattr(backend, "load_host"):
            hosts.append(timed(lambda b=backend: b.load_host(host)))
        backend.close()
    figures.api["load, new instance"] = loads
    if hosts:
        figures.api["load_host, new instance"] = hosts
    log(f"  {target.store}: API done")

    # growth over 100 one-host changes, in a database of its own ---------------------------
    target = dataclasses.replace(target, database="growth")
    if target.server is not None:
        services.create_database(target.server, "growth")
    keep = {} if target.store == "file" else {"retention": str(changes + 10)}
    with contextlib.closing(target.open("growth", **keep)) as backend:
        store = Store(backend, label=f"{target.store}-growth")
        store.update(lambda _: inventory)
        figures.size_before = target.size("growth")
        hostnames = sorted(h for h in inventory["_meta"]["hostvars"] if h.startswith("compute"))
        for step in range(changes):
            host = hostnames[step % len(hostnames)]
            store.update(lambda inv, h=host, s=step: change_one_host(inv, h, s))
        figures.size_after = target.size("growth")
    log(f"  {target.store}: growth done")
    return figures


# -- reporting ---------------------------------------------------------------------------------


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}" if values else ""


def megabytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if abs(n) >= 100_000 else f"{n / 1e3:.1f} kB"


def report(results: list[Figures], changes: int) -> str:
    cli_keys = ["first write", "no-op run", "no-op, --regenerate", "one-host change"]
    api_keys = [
        "write, empty store",
        "write, one-host change",
        "load, new instance",
        "load_host, new instance",
    ]
    lines = [
        "Median seconds. `osa-inventory --list`, whole process:",
        "",
        "| store | " + " | ".join(cli_keys) + " |",
        "|---|" + "---:|" * len(cli_keys),
    ]
    for fig in results:
        lines.append(f"| {fig.store} | " + " | ".join(median(fig.cli[k]) for k in cli_keys) + " |")
    lines += [
        "",
        "Median seconds. The store alone (Python API, generation excluded):",
        "",
        "| store | " + " | ".join(api_keys) + " |",
        "|---|" + "---:|" * len(api_keys),
    ]
    for fig in results:
        cells = [median(fig.api.get(k, [])) for k in api_keys]
        lines.append(f"| {fig.store} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Written per one-host change, and growth after {changes} one-host changes:",
        "",
        "| store | rows written | of which inventory rows | bytes sent | size before "
        f"| size after {changes} | growth per change | inventory JSON | "
        f"{changes} copies would be |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fig in results:
        growth = fig.size_after - fig.size_before
        rows = "" if fig.store == "file" else str(fig.rows)
        inv_rows = "" if fig.store == "file" else str(fig.inventory_rows)
        sent = "" if fig.store == "file" else megabytes(fig.bytes_sent)
        lines.append(
            f"| {fig.store} | {rows} | {inv_rows} | {sent} | {megabytes(fig.size_before)} "
            f"| {megabytes(fig.size_after)} | {megabytes(growth // changes)} "
            f"| {megabytes(fig.inventory_bytes)} | {megabytes(fig.inventory_bytes * changes)} |"
        )
    breakdown = [
        f"{fig.store}: " + ", ".join(f"{t} {n}" for t, n in sorted(fig.by_table.items()))
        for fig in results
        if fig.by_table
    ]
    if breakdown:
        lines += ["", "Rows per table in one one-host change cycle:", ""]
        lines += [f"- {line}" for line in breakdown]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the SQL backends.")
    parser.add_argument("--computes", type=int, default=1000, help="compute hosts (default 1000)")
    parser.add_argument(
        "--stores", default=",".join(STORES), help=f"comma-separated (default {','.join(STORES)})"
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure (default 5)")
    parser.add_argument("--changes", type=int, default=100, help="one-host changes for growth")
    parser.add_argument("--environment", type=Path, default=DEFAULT_ENVIRONMENT)
    parser.add_argument("--command", type=Path, default=DEFAULT_COMMAND)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = sorted(set(stores) - set(STORES))
    if unknown:
        parser.error(f"unknown store {unknown[0]}; choose from {', '.join(STORES)}")
    if not (args.environment / "env.d").is_dir():
        parser.error(f"{args.environment} has no env.d/; give --environment")
    if args.reps < 1 or args.changes < 1:
        parser.error("--reps and --changes must be at least 1")

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    for kind in {"postgresql": "postgresql", "mysql": "mariadb"}.items():
        if kind[0] in stores and services.missing_message(kind[1]):
            parser.error(services.missing_message(kind[1]) or "")
    scratch = Path(tempfile.mkdtemp(prefix="osa-bench-sql-"))
    servers: dict[str, services.Server] = {}
    results = []
    load_before = os.getloadavg()[0]
    try:
        template = scratch / "template"
        sizes = write_config(args.computes, template)
        for store in stores:
            log(f"{store}: starting")
            server = None
            if store == "postgresql":
                server = servers[store] = services.start_postgres(durable=True)
            elif store == "mysql":
                server = servers[store] = services.start_mariadb(durable=True)
            if server is not None:
                services.create_database(server, "bench")
            folder = scratch / store
            folder.mkdir()
            target = Target(store, folder, server)
            results.append(
                bench_store(
                    target,
                    template,
                    args.computes,
                    args.environment,
                    args.command,
                    args.reps,
                    args.changes,
                    log,
                )
            )
            if server is not None:
                server.stop()
                del servers[store]
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"{sizes.computes:,} computes ({sizes.hosts:,} hosts in the config); {os.cpu_count()} "
        f"CPUs; Python {sys.version.split()[0]}; load average before {load_before:.2f}, "
        f"after {os.getloadavg()[0]:.2f}; {args.reps} repetitions"
    )
    print()
    print(report(results, args.changes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
