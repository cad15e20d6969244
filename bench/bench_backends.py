#!/usr/bin/env python3
"""Time the no-op ``--list`` and ``--host NAME`` on the SQL and etcd backends, against floors.

For each size (computes) a prod-shaped deployment is made with
osa_inventory.testing.deployment; for each backend (sqlite, postgresql, mysql,
etcd) a server of its own is started on loopback (osa_inventory.testing.servers,
etcd_cluster; each with its own data dir, stopped at the end; a backend whose
binary is missing is skipped with a message). Then, as whole processes,
interleaved repetition by repetition so that every ratio is measured in one run:

no-op --list
    ``osa-inventory --list`` with the inputs unchanged since the stored head:
    the light road (one head query, the verified local copy). Its output must be
    byte-identical to the first run's. Floor: a Python process that loads the
    produced inventory and dumps it compactly with the C JSON encoder.
--host NAME
    one compute host's variables, inputs unchanged. Floor: ``python -c pass``
    plus the backend's import (``import sqlalchemy`` with its driver, or
    ``import etcd3gw``).

Prints a Markdown table (median of the repetitions, ratio, target) and exits 1
when a target is missed::

    .venv/bin/python bench/bench_backends.py                  # 1,000 and 10,000 computes
    .venv/bin/python bench/bench_backends.py --computes 1000 --backends sqlite,etcd
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from osa_inventory.testing.deployment import write_config
from timing import Timed, bench_env, spawn

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ENVIRONMENT = (REPO_ROOT / ".." / "shared" / "osa" / "inventory").resolve()
COMMAND = Path(sys.executable).parent / "osa-inventory"
BACKENDS = ("sqlite", "postgresql", "mysql", "etcd")
FLOOR_CODE = "import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1]))))"
#: the backend's own import, the floor of --host
BACKEND_IMPORT = {
    "sqlite": "import sqlalchemy, sqlite3",
    "postgresql": "import sqlalchemy, psycopg",
    "mysql": "import sqlalchemy, pymysql",
    "etcd": "import etcd3gw",
}
MAX_LIST_OVER_FLOOR = 2.0  # issue 16: no-op --list on SQL and etcd
MAX_HOST_OVER_FLOOR = 2.0  # issue 16: --host NAME reads one host
LIST_TARGET_SIZES = (1000,)  # the target's size; other sizes are measured and shown
HOST_TARGET_SIZES = (10000,)


@dataclass
class Row:
    backend: str
    computes: int
    path: str
    runs: list[Timed] = field(default_factory=list)
    floor: list[Timed] = field(default_factory=list)
    target: float | None = None

    def median(self, runs: list[Timed], what: str = "wall") -> float:
        return statistics.median(getattr(run, what) for run in runs)

    def ratio(self, what: str = "wall") -> float:
        return self.median(self.runs, what) / self.median(self.floor, what)

    @property
    def ok(self) -> bool:
        return self.target is None or self.ratio() <= self.target


def child_env(scratch: Path) -> dict[str, str]:
    """The environment of every timed process: compiled modules used (bench/timing.py),
    a cache dir of its own and no osa.ini or OSA_* variable of the machine."""
    return bench_env(
        ("OSA_",),
        XDG_CACHE_HOME=str(scratch / "xdg"),
        OSA_INVENTORY_CONFIG=str(scratch / "none"),
    )


@contextlib.contextmanager
def store_flags(backend: str, scratch: Path) -> Iterator[list[str] | None]:
    """The flags of a fresh store of ``backend``; None (with a message) when it cannot run."""
    from osa_inventory.testing import servers

    if backend == "sqlite":
        yield ["--backend-option", f"url=sqlite:///{scratch / 'inventory.db'}"]
        return
    if backend == "etcd":
        from osa_inventory.testing.etcd_cluster import EtcdCluster, etcd_binary

        binary = etcd_binary()
        if binary is None:
            print("etcd: skipped, etcd not found on PATH (apt-get install etcd-server)")
            yield None
            return
        cluster = EtcdCluster(scratch / "etcd", size=1, binary=str(binary)).start()
        try:
            yield ["--backend-option", f"endpoints={cluster.endpoints}"]
        finally:
            cluster.stop()
        return
    kind = "postgresql" if backend == "postgresql" else "mariadb"
    missing = servers.missing_message(kind)
    if missing:
        print(f"{backend}: skipped, {missing}")
        yield None
        return
    server = servers.start_postgres() if kind == "postgresql" else servers.start_mariadb()
    try:
        servers.create_database(server, "bench")
        yield ["--backend-option", f"url={server.url('bench')}"]
    finally:
        server.stop()


def measure(backend: str, computes: int, config: Path, args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{backend}-") as tmp:
        scratch = Path(tmp)
        with store_flags(backend, scratch) as flags:
            if flags is None:
                return []
            env = child_env(scratch)
            base = [str(COMMAND), "--config", str(config), "--environment", str(args.environment)]
            command = [*base, "--backend", backend, *flags]
            first = scratch / "first.json"
            spawn([*command, "--list"], env, first)  # generate and store
            served = scratch / "served.json"
            spawn([*command, "--list"], env, served)  # warm: compiled modules, copy confirmed
            if served.read_bytes() != first.read_bytes():
                raise SystemExit(f"{backend}: the no-op --list printed other bytes")
            host = next(
                h for h in json.loads(first.read_bytes())["_meta"]["hostvars"] if "compute" in h
            )
            python = [sys.executable, "-c"]
            rows = [
                Row(
                    backend,
                    computes,
                    "no-op --list",
                    target=_target(computes, LIST_TARGET_SIZES, MAX_LIST_OVER_FLOOR),
                ),
                Row(
                    backend,
                    computes,
                    "--host NAME",
                    target=_target(computes, HOST_TARGET_SIZES, MAX_HOST_OVER_FLOOR),
                ),
            ]
            for _ in range(args.reps):
                rows[0].runs.append(spawn([*command, "--list"], env))
                rows[0].floor.append(spawn([*python, FLOOR_CODE, str(first)], env))
                rows[1].runs.append(spawn([*command, "--host", host], env))
                rows[1].floor.append(spawn([*python, BACKEND_IMPORT[backend]], env))
            spawn([*command, "--list"], env, served)
            if served.read_bytes() != first.read_bytes():
                raise SystemExit(f"{backend}: the no-op --list printed other bytes")
            return rows


def _target(computes: int, sizes: tuple[int, ...], ratio: float) -> float | None:
    return ratio if computes in sizes else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--computes", default="1000,10000")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--environment", type=Path, default=DEFAULT_ENVIRONMENT)
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for computes in (int(n) for n in args.computes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
            config = Path(tmp) / "deploy"
            write_config(computes, config)
            for backend in args.backends.split(","):
                rows.extend(measure(backend, computes, config, args))
    load = os.getloadavg()[0]
    print(f"\nbench_backends.py, {args.reps} repetitions, load average {load:.2f}\n")
    print("| backend | computes | path | median | floor | ratio | CPU ratio | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        target = f"<= {row.target:g}x" if row.target else "(shown)"
        met = ("yes" if row.ok else "NO") if row.target else ""
        print(
            f"| {row.backend} | {row.computes:,} | {row.path} "
            f"| {row.median(row.runs):.3f} s | {row.median(row.floor):.3f} s "
            f"| {row.ratio():.2f}x | {row.ratio('cpu'):.2f}x | {target} | {met} |"
        )
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
