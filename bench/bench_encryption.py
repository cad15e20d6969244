#!/usr/bin/env python3
"""The cost of encryption at rest: ``osa-inventory --list``, plain vs encrypted, same run.

For every size N (compute hosts) a prod-shaped deployment is made with
osa_inventory.testing.deployment, then for each backend (file, sqlite) and each
form (plain, encrypted with a key made by ``osa-inventory key generate``):

fresh
    ``--list`` on a config dir without a stored inventory (generate, seal, write),
    each repetition in a new copy of the dir;
rerun
    ``--list`` again with nothing changed: the fast path (open the sealed bytes,
    or read the plain ones).

Every run is a new process; the medians are printed as a Markdown table, with
the encrypted run's output checked byte for byte against the plain run's.

    .venv/bin/python bench/bench_encryption.py                    # 1000, 10000
    .venv/bin/python bench/bench_encryption.py --computes 1000 --reps 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from osa_inventory.testing.deployment import write_config

REPO_ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT = (REPO_ROOT / ".." / "shared" / "osa" / "inventory").resolve()
COMMAND = REPO_ROOT / ".venv" / "bin" / "osa-inventory"
BACKENDS = ("file", "sqlite")
FORMS = ("plain", "encrypted")


def timed(args: list[str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}: {proc.stderr.decode()[-500:]}")
    return elapsed, proc.stdout


def store_flags(backend: str, config: Path) -> list[str]:
    if backend == "file":
        return ["--backend", "file"]
    return ["--backend", "sqlite", "--backend-option", f"url=sqlite:///{config}/inventory.db"]


def measure(
    template: Path, work: Path, backend: str, form: str, key: Path, reps: int
) -> tuple[float, float, bytes]:
    """(median fresh, median rerun, output) for one backend and form."""
    fresh: list[float] = []
    rerun: list[float] = []
    output = b""
    for rep in range(reps):
        config = work / f"{backend}-{form}-{rep}"
        shutil.copytree(template, config)
        args = [str(COMMAND), "--config", str(config), "--environment", str(ENVIRONMENT)]
        args += store_flags(backend, config)
        if form == "encrypted":
            args += ["--encryption-key-file", str(key)]
        seconds, output = timed([*args, "--list"])
        fresh.append(seconds)
        for _ in range(2):
            seconds, again = timed([*args, "--list"])
            rerun.append(seconds)
            if again != output:
                raise SystemExit(f"{backend} {form}: a rerun printed other bytes")
    return statistics.median(fresh), statistics.median(rerun), output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--computes", default="1000,10000", help="sizes, comma separated")
    parser.add_argument("--reps", type=int, default=2, help="fresh runs per case (2 reruns each)")
    args = parser.parse_args()
    print("| computes | backend | fresh plain | fresh encrypted | rerun plain | rerun encrypted |")
    print("|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-encryption-") as tmp:
        work = Path(tmp)
        key = work / "inventory.key"
        subprocess.run([str(COMMAND), "key", "generate", str(key)], check=True, capture_output=True)
        for computes in (int(n) for n in args.computes.split(",")):
            template = work / f"template-{computes}"
            template.mkdir()
            write_config(computes, template)
            for backend in BACKENDS:
                results = {
                    form: measure(template, work, backend, form, key, args.reps) for form in FORMS
                }
                if results["plain"][2] != results["encrypted"][2]:
                    raise SystemExit(f"{backend}: encrypted output differs from plain")
                plain, sealed = results["plain"], results["encrypted"]
                print(
                    f"| {computes:,} | {backend} | {plain[0]:.2f} s | {sealed[0]:.2f} s "
                    f"| {plain[1]:.3f} s | {sealed[1]:.3f} s |",
                    flush=True,
                )
                for form in FORMS:
                    for path in work.glob(f"{backend}-{form}-*"):
                        shutil.rmtree(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
