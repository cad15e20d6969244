#!/usr/bin/env python3
"""Time a *changing* ``osa-inventory --list`` on the file backend, and count its store work.

A prod-shaped deployment of N computes (osa_inventory.testing.deployment) is
generated and stored once; then, for each repetition, one value in the user
config changes and ``--list`` runs in this process (``cli.main.main``), so
that it generates and writes a new version. For each run it counts how often
the file backend read and hashed the inventory and its history (``_state``),
how often a head was read besides (``head``), and how often the inventory
was serialised (``dumps_inventory_bytes``), and measures wall and CPU time.
Output goes to a buffer, as Ansible reads it from a pipe.

    .venv/bin/python bench/bench_change.py --computes 2000 --reps 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

import osa_inventory.backends.file as file_backend
import osa_inventory.jsonio as jsonio
from osa_inventory.cli.main import main
from osa_inventory.testing.deployment import write_config

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ENVIRONMENT = (REPO_ROOT / ".." / "shared" / "osa" / "inventory").resolve()


def counted(calls: Counter[str], name: str, owner: Any, attribute: str) -> None:
    """Wrap ``owner.attribute`` so that every call adds one to ``calls[name]``."""
    original: Callable[..., Any] = getattr(owner, attribute)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return original(*args, **kwargs)

    setattr(owner, attribute, wrapper)


@contextlib.contextmanager
def captured_stdout() -> Iterator[io.BytesIO]:
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="ascii")
    saved, sys.stdout = sys.stdout, text
    try:
        yield buffer
    finally:
        text.flush()
        text.detach()
        sys.stdout = saved


def run_list(config: Path, environment: Path) -> bytes:
    with captured_stdout() as out:
        code = main(["--config", str(config), "--environment", str(environment), "--list"])
    if code != 0:
        raise SystemExit(f"--list failed with exit code {code}")
    return out.getvalue()


def main_bench(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--computes", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--environment", type=Path, default=DEFAULT_ENVIRONMENT)
    args = parser.parse_args(argv)

    calls: Counter[str] = Counter()
    columns = ("inventory+history read and hashed", "head read besides", "serialised")
    counted(calls, columns[0], file_backend.FileBackend, "_state")
    counted(calls, columns[1], file_backend.FileBackend, "head")
    counted(calls, columns[2], jsonio, "dumps_inventory_bytes")
    if hasattr(file_backend, "dumps_inventory_bytes"):  # the backend's own import of it
        counted(calls, "serialised", file_backend, "dumps_inventory_bytes")

    with tempfile.TemporaryDirectory(prefix="bench-change-") as scratch:
        config = Path(scratch) / "deploy"
        write_config(args.computes, config)
        run_list(config, args.environment)
        walls, cpus, counts = [], [], []
        user_config = config / "openstack_user_config.yml"
        for rep in range(args.reps):
            data = yaml.safe_load(user_config.read_text())
            data.setdefault("global_overrides", {})["bench_change"] = rep
            user_config.write_text(yaml.safe_dump(data))
            calls.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            run_list(config, args.environment)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            counts.append([calls[name] for name in columns])
    if any(c != counts[0] for c in counts):
        print(f"note: the counts differ between runs: {counts}", file=sys.stderr)
    print(f"| computes | runs | wall median s | CPU median s | {' | '.join(columns)} |")
    print("|---:|---:|---:|---:|" + "---:|" * len(columns))
    figures = " | ".join(str(count) for count in counts[0])
    print(
        f"| {args.computes} | {args.reps} | {statistics.median(walls):.2f} | "
        f"{statistics.median(cpus):.2f} | {figures} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
