#!/usr/bin/env python3
"""Time the etcd backend on prod-shaped deployments of 1,000 and 10,000 computes.

For every size N a deployment is made with osa_inventory.testing.deployment and its
inventory built with the generator API. A 3-member etcd cluster is started
from the installed ``etcd`` on loopback (data on disk, as in production),
unless ``--endpoints`` names a running one. Each measurement uses a fresh key
prefix. Through the Store front end, as the command uses it:

first write
    lock, read (empty), write every key, unlock; each rep on a new prefix;
no-op run
    what an unchanged ``--list`` costs the store: a new backend instance reads
    the whole inventory, finds it equal and writes nothing;
one-host change
    one compute's vars change: lock, read, write, collect garbage, unlock
    (warm instance, as within one command run);
load, cold / warm
    ``load()`` on a new instance / again on the same one.

Keys and bytes written are those of the write (keys plus values). The
``--list`` rows time the whole ``osa-inventory`` process (start-up,
generation, store) for the empty, unchanged and one-host-changed cases.

    .venv/bin/python bench/bench_etcd.py                    # 1000 and 10000
    .venv/bin/python bench/bench_etcd.py --computes 1000 --reps 3
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from osa_inventory.generate import generate
from osa_inventory.sources import load_environment, load_user_config
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store
from osa_inventory.testing.deployment import Sizes, write_config
from osa_inventory.testing.etcd_cluster import EtcdCluster

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

DEFAULT_ENVIRONMENT = (REPO_ROOT / ".." / "shared" / "osa" / "inventory").resolve()
COMMAND = REPO_ROOT / ".venv" / "bin" / "osa-inventory"


@dataclass
class Row:
    computes: int
    hosts: int
    operation: str
    seconds: list[float] = field(default_factory=list)
    keys: int | None = None
    bytes: int | None = None

    def cells(self) -> list[str]:
        def count(value: int | None) -> str:
            return "" if value is None else f"{value:,}"

        return [
            f"{self.computes:,}",
            f"{self.hosts:,}",
            self.operation,
            str(len(self.seconds)),
            f"{min(self.seconds):.3f}",
            f"{statistics.median(self.seconds):.3f}",
            count(self.keys),
            count(self.bytes),
        ]


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@contextmanager
def etcd(endpoints: str | None, data_dir: Path | None) -> Iterator[str]:
    if endpoints:
        yield endpoints
        return
    base = Path(tempfile.mkdtemp(prefix="bench-etcd-", dir=data_dir))
    cluster = EtcdCluster(base, binary=shutil.which("etcd") or "etcd")
    try:
        yield cluster.start().endpoints
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def with_host_var(config_dir: Path, host: str, value: int) -> None:
    """Give one compute host a host var in the user config (one host's vars change)."""
    path = config_dir / "openstack_user_config.yml"
    config = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for group in ("compute_hosts", "metering_compute_hosts"):
        config[group][host]["host_vars"] = {"bench_marker": value}
    path.write_text(yaml.dump(config, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))


def bench_size(computes: int, endpoints: str, environment: Path, reps: int, log: Any) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-etcd-{computes}-"))
    try:
        sizes = Sizes.for_computes(computes)
        write_config(computes, work)
        inventory = generate(load_user_config(work), load_environment(environment, work)).inventory
        hosts = sizes.hosts
        options = {"endpoints": endpoints}

        def fresh() -> dict[str, str]:
            return {**options, "prefix": f"/bench-{uuid.uuid4().hex[:10]}"}

        rows = {
            name: Row(computes, hosts, name)
            for name in (
                "first write",
                "no-op run (read + compare)",
                "one-host change",
                "load, cold",
                "load, warm",
            )
        }
        log(f"{computes} computes: first write")
        for _ in range(reps):
            backend = open_backend("etcd", fresh())
            store = Store(backend)
            rows["first write"].seconds.append(timed(lambda s=store: s.update(lambda _: inventory)))
            rows["first write"].keys = backend.last_write["keys"]
            rows["first write"].bytes = backend.last_write["bytes"]
            store.close()
        spec = fresh()
        writer = Store(open_backend("etcd", spec))
        writer.update(lambda _: inventory)
        log(f"{computes} computes: reads")
        for _ in range(reps):
            reader = Store(open_backend("etcd", spec))
            rows["no-op run (read + compare)"].seconds.append(
                timed(lambda r=reader: r.read().inventory == inventory)
            )
            reader.close()
            cold = open_backend("etcd", spec)
            rows["load, cold"].seconds.append(timed(cold.load))
            rows["load, warm"].seconds.append(timed(cold.load))
            cold.close()
        log(f"{computes} computes: one-host changes")
        host = f"compute{computes // 2}"
        for step in range(reps):
            changed = copy.deepcopy(inventory)
            changed["_meta"]["hostvars"][host]["bench_marker"] = step
            row = rows["one-host change"]
            row.seconds.append(timed(lambda c=changed: writer.update(lambda _: c)))
            row.keys, row.bytes = (
                writer.backend.last_write["keys"],
                writer.backend.last_write["bytes"],
            )
        writer.close()
        return [*rows.values(), *bench_command(computes, hosts, work, fresh(), environment, reps)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_command(
    computes: int, hosts: int, config: Path, options: dict[str, str], environment: Path, reps: int
) -> list[Row]:
    argv = [str(COMMAND), "--config", str(config), "--environment", str(environment)]
    argv += ["--backend", "etcd", "--list"]
    for key, value in options.items():
        argv += ["--backend-option", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    env["OSA_INVENTORY_CONFIG"] = str(config / "no-osa.ini")

    def run() -> None:
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)

    first = Row(computes, hosts, "`--list`, empty store", [timed(run)])
    unchanged = Row(computes, hosts, "`--list`, nothing changed")
    changed = Row(computes, hosts, "`--list`, one host changed")
    for step in range(reps):
        unchanged.seconds.append(timed(run))
        with_host_var(config, f"compute{computes // 2}", step)
        changed.seconds.append(timed(run))
    return [first, unchanged, changed]


HEADERS = ["computes", "hosts", "operation", "reps", "min s", "median s", "keys written",
           "bytes written"]  # fmt: skip


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|---:|---:|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--computes", default="1000,10000", help="comma-separated sizes")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per measurement")
    parser.add_argument("--environment", type=Path, default=DEFAULT_ENVIRONMENT)
    parser.add_argument("--endpoints", help="use this running etcd instead of starting one")
    parser.add_argument("--data-dir", type=Path, help="where the started cluster keeps its data")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.computes.split(",") if part.strip()]
    if not args.endpoints and shutil.which("etcd") is None:
        parser.error("etcd not found on PATH; install it with: apt-get install etcd-server")

    def log(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    with etcd(args.endpoints, args.data_dir) as endpoints:
        for computes in sizes:
            rows += bench_size(computes, endpoints, args.environment, args.reps, log)
    print(markdown(rows))
    print()
    print(f"load average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
