#!/usr/bin/env python3
"""Time the craton backend on prod-shaped deployments of 100 and 1,000 computes.

A Craton server is started from ../shared/craton (osa_inventory.testing.craton_server;
set ``CRATON_DIR`` to reuse a built virtualenv). For every size N a deployment is
made with osa_inventory.testing.deployment and its inventory built with the
generator API.
Every measurement of a write starts in a new Craton project, as a plain user.
Through the Store front end, as the command uses it:

first write
    lock, read (empty), create every host with its labels and variables, the
    groups, the version records, unlock;
one-host change
    one compute's vars change: lock, read under the lock, the change, unlock
    (warm instance, as within one command run);
load, cold
    ``load()`` on a new instance: the head, the groups and every host, paged.

The ``--list`` rows time the whole ``osa-inventory`` process for an empty
store (generate and first write), unchanged inputs (one request, then the local
copy), and one host changed in the user config (read, generate, write one host).
"requests" counts what Craton answered (its access log).

    .venv/bin/python bench/bench_craton.py                  # 100 and 1000, 3 reps
    .venv/bin/python bench/bench_craton.py --computes 100 --reps 1
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_etcd import Row, timed, with_host_var  # the script's folder is on sys.path
from osa_inventory.generate import generate
from osa_inventory.sources import load_environment, load_user_config
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store
from osa_inventory.testing.craton_server import CratonServer, start_server
from osa_inventory.testing.deployment import Sizes, write_config

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

DEFAULT_ENVIRONMENT = (REPO_ROOT / ".." / "shared" / "osa" / "inventory").resolve()
COMMAND = REPO_ROOT / ".venv" / "bin" / "osa-inventory"
KEY_VAR = "OSA_BENCH_CRATON_KEY"


class AccessLog:
    """Counts the requests Craton answers (wsgiref's access log)."""

    def __init__(self, server: CratonServer) -> None:
        self.path = server.base / "craton-api.out"
        self.mark = self._count()

    def _count(self) -> int:
        with open(self.path, "rb") as handle:
            return sum(1 for line in handle if b" HTTP/1." in line)

    def since(self) -> int:
        now = self._count()
        done, self.mark = now - self.mark, now
        return done


def bench_size(
    server: CratonServer, computes: int, environment: Path, reps: int, log: Any
) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-craton-{computes}-"))
    try:
        write_config(computes, work)
        inventory = generate(load_user_config(work), load_environment(environment, work)).inventory
        hosts = len(inventory["_meta"]["hostvars"])
        rows = {
            name: Row(computes, hosts, name)
            for name in ("first write", "one-host change", "load, cold")
        }
        requests = AccessLog(server)
        log(f"{computes} computes ({hosts} inventory hosts): first write")
        for _ in range(reps):
            store = Store(open_backend("craton", server.new_project("bench")))
            requests.since()
            rows["first write"].seconds.append(timed(lambda s=store: s.update(lambda _: inventory)))
            rows["first write"].keys = requests.since()
            store.close()
        options = server.new_project("bench")
        writer = Store(open_backend("craton", options))
        writer.update(lambda _: inventory)
        log(f"{computes} computes: loads")
        for _ in range(reps):
            cold = open_backend("craton", options)
            requests.since()
            rows["load, cold"].seconds.append(timed(cold.load))
            rows["load, cold"].keys = requests.since()
            cold.close()
        log(f"{computes} computes: one-host changes")
        host = f"compute{computes // 2}"
        for step in range(reps):
            changed = copy.deepcopy(inventory)
            changed["_meta"]["hostvars"][host]["bench_marker"] = step
            requests.since()
            row = rows["one-host change"]
            row.seconds.append(timed(lambda c=changed: writer.update(lambda _: c)))
            row.keys = requests.since()
        writer.close()
        log(f"{computes} computes: --list")
        command = bench_command(server, computes, hosts, work, environment, reps, requests)
        return [*rows.values(), *command]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_command(
    server: CratonServer,
    computes: int,
    hosts: int,
    config: Path,
    environment: Path,
    reps: int,
    requests: AccessLog,
) -> list[Row]:
    options = server.new_project("bench")
    ini = config / "osa.ini"
    ini.write_text(
        "[inventory]\nbackend = craton\n\n[backend:craton]\n"
        + "".join(f"{k} = {v}\n" for k, v in options.items() if k != "key")
        + f"key_env = {KEY_VAR}\n"
    )
    argv = [str(COMMAND), "--config", str(config), "--environment", str(environment), "--list"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    env.update({"OSA_INVENTORY_CONFIG": str(ini), KEY_VAR: options["key"]})
    env["XDG_CACHE_HOME"] = str(config / "cache")

    def run() -> None:
        subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)

    requests.since()
    first = Row(computes, hosts, "`--list`, empty store", [timed(run)], requests.since())
    run()  # records the inputs' fingerprint with the version
    unchanged = Row(computes, hosts, "`--list`, nothing changed")
    changed = Row(computes, hosts, "`--list`, one host changed")
    for step in range(reps):
        requests.since()
        unchanged.seconds.append(timed(run))
        unchanged.keys = requests.since()
        with_host_var(config, f"compute{computes // 2}", step)
        changed.seconds.append(timed(run))
        changed.keys = requests.since()
        run()  # the fingerprint again, so that the next unchanged run is one request
        requests.since()
    return [first, unchanged, changed]


HEADERS = ["computes", "hosts", "operation", "reps", "min s", "median s", "requests"]


def markdown(rows: list[Row]) -> str:
    """bench_etcd's rows, its "keys written" column holding requests, without bytes."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|---:|---:|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row.cells()[:-1]) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--computes", default="100,1000", help="comma-separated sizes")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per measurement")
    parser.add_argument("--environment", type=Path, default=DEFAULT_ENVIRONMENT)
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.computes.split(",") if part.strip()]

    def log(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    load_before = os.getloadavg()[0]
    base = Path(tempfile.mkdtemp(prefix="bench-craton-server-"))
    server = start_server(base)
    rows: list[Row] = []
    try:
        for computes in sizes:
            log(f"{Sizes.for_computes(computes).hosts} physical hosts")
            rows += bench_size(server, computes, args.environment, args.reps, log)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(markdown(rows))
    print()
    print(f"load average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
