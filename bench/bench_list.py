#!/usr/bin/env python3
"""Time ``osa-inventory --list`` as a whole process on generated deployments.

For every size N (number of compute hosts) a prod-shaped deployment is made
with osa_inventory.testing.deployment in a temporary directory, then timed in four ways:

cold
    ``--list`` on a config dir without a stored inventory and with an empty
    cache directory (``XDG_CACHE_HOME``), each repetition in a new copy of the
    dir and a new cache: the first run of a deployment on a machine, which
    parses every YAML file (default 3 repetitions, as fresh).
fresh
    ``--list`` on a config dir without a stored inventory, each repetition in
    a new copy of the dir (default 3 repetitions). The parsed-input cache
    holds these inputs (one untimed run filled it): a deployment whose store
    is new but whose config and env.d were read before on this machine.
regenerate
    ``--list --regenerate`` on the last fresh dir: the store is present and
    current, the generator runs anyway and finds nothing to change (default 5
    repetitions). Skipped when the command has no ``--regenerate`` flag.
rerun
    plain ``--list`` on the same dir, which is what every playbook run does:
    with nothing changed the command may serve the stored inventory without
    generating (default 5 repetitions).
change
    ``--list`` after one compute's ``host_vars`` changed (in ``conf.d``): generates
    and writes one new version (default 5 repetitions). Its cost is compared with
    ``regenerate``, the same run with nothing to write.
osa
    OpenStack-Ansible's own ``dynamic_inventory.py`` on a fresh copy of the config
    dir, when ``OSA_REF`` (or ``--osa-ref``) names an OSA checkout; said to be
    skipped otherwise (1,000 computes or fewer: OSA is quadratic).
floor
    ``python -c 'import json,sys; sys.stdout.write(json.dumps(json.load(open(F))))'``
    on the stored inventory with the same interpreter: the least any
    ``--list`` that reads a stored JSON inventory can cost (default 5
    repetitions).

After the regenerate and rerun runs every file in the config dir (but lock
files) must be byte-identical: nothing changed, so nothing may be written.

Every run is a new process started with posix_spawn and reaped with
os.wait4, which gives both the wall time and the child's own peak RSS.
Output goes to /dev/null, as Ansible would read it from a pipe.

The result is a Markdown table on stdout, the targets beside the figures,
followed by the cost per 1,000 computes and the growth exponent.

    .venv/bin/python bench/bench_list.py                      # 100, 1000, 10000
    .venv/bin/python bench/bench_list.py --computes 1000,10000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from osa_inventory.testing.deployment import Sizes, write_config

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ENVIRONMENT = (REPO_ROOT / ".." / "shared" / "osa" / "inventory").resolve()
DEFAULT_COMMAND = REPO_ROOT / ".venv" / "bin" / "osa-inventory"
STORE_NAME = "openstack_inventory.json"

FLOOR_CODE = "import json,sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1]))))"

MODES = ("cold", "fresh", "regenerate", "rerun", "change", "osa", "floor")

# Issue 16's targets, as ratios to the floor measured in the same run:
# (computes, mode) -> (max x floor or None, max peak RSS in MB or None)
TARGETS: dict[tuple[int, str], tuple[float | None, float | None]] = {
    (1000, "fresh"): (3.0, None),
    (1000, "regenerate"): (3.0, None),
    (10000, "fresh"): (5.0, 300.0),
    (10000, "regenerate"): (5.0, 300.0),
    (1000, "rerun"): (1.5, None),
    (10000, "rerun"): (1.5, None),
}
# A one-host change may cost at most this much more than regenerate (nothing to write).
MAX_CHANGE_EXTRA_S = {10000: 0.3}
# OSA must take at least this many times as long as a fresh run (same run, same size).
MIN_OSA_OVER_FRESH = {1000: 40.0}
OSA_MAX_COMPUTES = 1000

# Growth exponent above which the cost counts as super-linear. Linear is 1 and
# OSA's quadratic generator is 2; the slack covers timing noise on the small
# sizes and the garbage collector and CPU caches, which cost a little more per
# object on a bigger heap.
MAX_GROWTH_EXPONENT = 1.3
# Below this many seconds between the two smallest sizes the first marginal
# cost is mostly timing noise, and the exponent derived from it means nothing.
MIN_MEASURABLE_SECONDS = 0.05


@dataclass
class Run:
    seconds: float
    max_rss_mb: float


@dataclass
class Result:
    computes: int
    mode: str
    runs: list[Run] = field(default_factory=list)
    inventory_hosts: int | None = None
    store_stable: bool | None = None
    floor_median_s: float | None = None
    #: the median of another mode this row is compared with (change: regenerate; osa: fresh)
    other_median_s: float | None = None

    @property
    def min_s(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.max_rss_mb for r in self.runs)

    @property
    def over_floor(self) -> float | None:
        if self.floor_median_s is None or self.mode == "floor":
            return None
        return self.median_s / self.floor_median_s

    def verdict(self) -> tuple[str, str]:
        """(target text, 'yes'/'NO'/'') for this row."""
        max_ratio, max_rss = TARGETS.get((self.computes, self.mode), (None, None))
        parts, ok = [], True
        if max_ratio is not None and self.over_floor is not None:
            parts.append(f"<= {max_ratio:g}x floor")
            ok = ok and self.over_floor <= max_ratio
        if max_rss is not None:
            parts.append(f"< {max_rss:g} MB")
            ok = ok and self.peak_rss_mb < max_rss
        extra = MAX_CHANGE_EXTRA_S.get(self.computes)
        if self.mode == "change" and extra is not None and self.other_median_s is not None:
            parts.append(f"<= regenerate + {extra:g} s")
            ok = ok and self.median_s - self.other_median_s <= extra
        slower = MIN_OSA_OVER_FRESH.get(self.computes)
        if self.mode == "osa" and slower is not None and self.other_median_s is not None:
            parts.append(f">= {slower:g}x fresh")
            ok = ok and self.median_s >= slower * self.other_median_s
        if not parts:
            return "", ""
        return ", ".join(parts), "yes" if ok else "NO"

    def compared(self) -> str:
        """This row against the one it is compared with."""
        if self.other_median_s is None:
            return ""
        if self.mode == "change":
            return f"+{self.median_s - self.other_median_s:.3f} s vs regenerate"
        return f"{self.median_s / self.other_median_s:.1f}x fresh"


@dataclass
class SizeResult:
    sizes: Sizes
    results: dict[str, Result]


class RunFailed(RuntimeError):
    pass


def run_once(argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``argv`` with stdout to /dev/null; return wall time and peak RSS."""
    err_path = workdir / "stderr.txt"
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, str(err_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = err_path.read_text(errors="replace")[-4000:]
        raise RunFailed(f"{' '.join(argv)} exited with {code}:\n{tail}")
    # ru_maxrss is in KiB on Linux; report decimal megabytes (10**6 bytes).
    return Run(seconds=elapsed, max_rss_mb=usage.ru_maxrss * 1024 / 1e6)


def snapshot(config: Path) -> dict[str, str]:
    """Digest of every file in ``config`` but lock files, by relative path."""
    out = {}
    for path in sorted(config.rglob("*")):
        if path.is_file() and not path.name.endswith(".lock"):
            out[str(path.relative_to(config))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def count_hosts(store: Path) -> int | None:
    """Hosts in the stored inventory, if it is the usual JSON layout."""
    try:
        data = json.loads(store.read_text())
        return len(data["_meta"]["hostvars"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def python_of(command: Path) -> str:
    """The interpreter of a console script (its shebang), else this one."""
    try:
        with open(command, "rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
    except OSError:
        return sys.executable
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and Path(parts[0]).name.startswith("python") and Path(parts[0]).exists():
            return parts[0]
    return sys.executable


def supports_regenerate(command: Path) -> bool:
    try:
        out = subprocess.run(
            [str(command), "--help"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--regenerate" in out


def bench_size(
    computes: int,
    command: Path,
    environment: Path,
    scratch: Path,
    reps: dict[str, int],
    regenerate: bool,
    log: Callable[[str], None],
    osa_ref: Path | None = None,
) -> SizeResult:
    template = scratch / f"n{computes}-template"
    sizes = write_config(computes, template)
    results: dict[str, Result] = {}

    def argv_for(config: Path, *extra: str) -> list[str]:
        return [
            str(command),
            "--config",
            str(config),
            "--environment",
            str(environment),
            "--list",
            *extra,
        ]

    def timed(mode: str, argv: list[str]) -> Result:
        res = Result(computes, mode)
        for rep in range(reps[mode]):
            run = run_once(argv, scratch)
            res.runs.append(run)
            log(f"  N={computes} {mode} #{rep + 1}: {run.seconds:.3f} s, {run.max_rss_mb:.0f} MB")
        return res

    cold = Result(computes, "cold")
    for rep in range(reps["fresh"]):
        config = scratch / f"n{computes}-cold{rep}"
        shutil.copytree(template, config)
        empty_cache = {**os.environ, "XDG_CACHE_HOME": str(scratch / f"cache-n{computes}-{rep}")}
        run = run_once(argv_for(config), scratch, empty_cache)
        cold.runs.append(run)
        log(f"  N={computes} cold #{rep + 1}: {run.seconds:.3f} s, {run.max_rss_mb:.0f} MB")
    cold.inventory_hosts = count_hosts(config / STORE_NAME)
    results["cold"] = cold

    fill = scratch / f"n{computes}-fill"  # untimed: the parsed-input cache learns the inputs
    shutil.copytree(template, fill)
    run_once(argv_for(fill), scratch)
    fresh = Result(computes, "fresh")
    config = template
    for rep in range(reps["fresh"]):
        config = scratch / f"n{computes}-fresh{rep}"
        shutil.copytree(template, config)
        run = run_once(argv_for(config), scratch)
        fresh.runs.append(run)
        log(f"  N={computes} fresh #{rep + 1}: {run.seconds:.3f} s, {run.max_rss_mb:.0f} MB")
    store = config / STORE_NAME
    fresh.inventory_hosts = count_hosts(store)
    results["fresh"] = fresh
    if not store.exists():
        log(f"  warning: no {STORE_NAME} after a fresh run in {config}")

    for mode, extra in (("regenerate", ("--regenerate",)), ("rerun", ())):
        if mode == "regenerate" and not regenerate:
            continue
        before = snapshot(config)
        res = timed(mode, argv_for(config, *extra))
        res.store_stable = store.exists() and snapshot(config) == before
        res.inventory_hosts = count_hosts(store)
        results[mode] = res

    if "change" in reps and reps["change"] > 0:
        change = Result(computes, "change")
        for rep in range(reps["change"]):
            change_one_host(config, rep)
            before = store.read_bytes()
            run = run_once(argv_for(config), scratch)
            if store.read_bytes() == before:
                raise RunFailed(f"N={computes}: a one-host change wrote no new version")
            change.runs.append(run)
            log(f"  N={computes} change #{rep + 1}: {run.seconds:.3f} s, {run.max_rss_mb:.0f} MB")
        change.inventory_hosts = count_hosts(store)
        if "regenerate" in results:
            change.other_median_s = results["regenerate"].median_s
        results["change"] = change

    if osa_ref is not None and computes <= OSA_MAX_COMPUTES:
        osa = Result(computes, "osa")
        script = osa_ref / "inventory" / "dynamic_inventory.py"
        for rep in range(reps["fresh"]):
            osa_config = scratch / f"n{computes}-osa{rep}"
            shutil.copytree(template, osa_config)
            argv = [sys.executable, str(script), "--config", str(osa_config), "--list"]
            run = run_once(argv, scratch)
            osa.runs.append(run)
            log(f"  N={computes} osa #{rep + 1}: {run.seconds:.3f} s, {run.max_rss_mb:.0f} MB")
        osa.other_median_s = fresh.median_s
        results["osa"] = osa

    if store.exists():
        floor = timed("floor", [python_of(command), "-c", FLOOR_CODE, str(store)])
        floor.inventory_hosts = fresh.inventory_hosts
        results["floor"] = floor
        for res in results.values():
            res.floor_median_s = floor.median_s
    return SizeResult(sizes, results)


def change_one_host(config: Path, rep: int) -> None:
    """Give compute1 another host variable, through a conf.d file (merged over the config)."""
    conf_d = config / "conf.d"
    conf_d.mkdir(exist_ok=True)
    (conf_d / "bench-change.yml").write_text(
        f"compute_hosts:\n  compute1:\n    host_vars:\n      bench_change: {rep}\n"
    )


def markdown(rows: list[SizeResult]) -> str:
    lines = [
        "| computes | hosts in config | run | reps | min s | median s | x floor | compared "
        "| peak RSS MB | inventory hosts | store unchanged | target | met |",
        "|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---|---|---|",
    ]
    for row in rows:
        for mode in MODES:
            res = row.results.get(mode)
            if res is None:
                continue
            target, met = res.verdict()
            stable = "" if res.store_stable is None else ("yes" if res.store_stable else "NO")
            hosts = "?" if res.inventory_hosts is None else f"{res.inventory_hosts:,}"
            ratio = "" if res.over_floor is None else f"{res.over_floor:.1f}"
            lines.append(
                f"| {row.sizes.computes:,} | {row.sizes.hosts:,} | {mode} | {len(res.runs)} "
                f"| {res.min_s:.3f} | {res.median_s:.3f} | {ratio} | {res.compared()} "
                f"| {res.peak_rss_mb:.0f} "
                f"| {hosts} | {stable} | {target} | {met} |"
            )
    return "\n".join(lines)


def linearity(rows: list[SizeResult]) -> tuple[str, list[str], bool]:
    """Seconds per 1,000 computes, the marginal cost between sizes, the growth exponent.

    All three use the fastest repetition of each size: other load on the
    machine only ever adds time, so the minimum is the steadiest estimate of
    the command's own cost.

    The marginal cost (extra seconds per extra 1,000 computes between two
    consecutive sizes) leaves out the fixed start-up cost, so for linear growth
    it stays flat as N grows, while for quadratic growth it rises in proportion
    to N. Comparing the first and the last marginal cost gives the exponent k of
    t ~ a + b * N**k: k = 1 + log(m_last / m_first) / log(mid_last / mid_first),
    mid being the middle of each interval. It needs at least three sizes.
    """
    ordered = sorted(rows, key=lambda r: r.sizes.computes)
    lines = [
        "| run | computes | min s | s per 1,000 computes | marginal s per 1,000 computes |",
        "|---|---:|---:|---:|---:|",
    ]
    summary: list[str] = []
    linear = True
    for mode in MODES:
        if mode in ("change", "osa"):
            continue
        series = [(r.sizes.computes, r.results[mode]) for r in ordered if mode in r.results]
        if not series:
            continue
        intervals: list[tuple[float, float, float]] = []  # (middle N, s per 1,000, delta s)
        prev: tuple[int, float] | None = None
        for n, res in series:
            per_k = res.min_s / (n / 1000)
            marginal = ""
            if prev is not None and n > prev[0]:
                m = (res.min_s - prev[1]) / ((n - prev[0]) / 1000)
                intervals.append(((n + prev[0]) / 2, m, res.min_s - prev[1]))
                marginal = f"{m:.3f}"
            lines.append(f"| {mode} | {n:,} | {res.min_s:.3f} | {per_k:.3f} | {marginal} |")
            prev = (n, res.min_s)
        if len(intervals) < 2:
            summary.append(f"{mode}: growth exponent n/a (needs three sizes)")
            continue
        (mid0, m0, delta0), (mid1, m1, _) = intervals[0], intervals[-1]
        if delta0 < MIN_MEASURABLE_SECONDS:
            summary.append(
                f"{mode}: growth exponent n/a (the two smallest sizes differ by "
                f"{delta0 * 1000:.0f} ms, within timing noise)"
            )
            continue
        k = 1.0 if m1 <= m0 else 1 + math.log(m1 / m0) / math.log(mid1 / mid0)
        ok = k <= MAX_GROWTH_EXPONENT
        if mode != "floor":
            linear = linear and ok
        verdict = "linear" if ok else "SUPER-LINEAR"
        summary.append(
            f"{mode}: growth exponent {k:.2f} ({verdict}; limit {MAX_GROWTH_EXPONENT}, "
            "quadratic is 2)"
        )
    return "\n".join(lines), summary, linear


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from exc
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time osa-inventory --list on generated deployments.",
    )
    parser.add_argument(
        "--computes",
        type=parse_sizes,
        default=[100, 1000, 10000],
        help="comma-separated compute counts (default: 100,1000,10000)",
    )
    parser.add_argument(
        "--environment",
        type=Path,
        default=DEFAULT_ENVIRONMENT,
        help=f"OSA environment dir holding env.d (default: {DEFAULT_ENVIRONMENT})",
    )
    parser.add_argument(
        "--command",
        type=Path,
        default=DEFAULT_COMMAND,
        help=f"osa-inventory executable (default: {DEFAULT_COMMAND})",
    )
    parser.add_argument("--fresh-reps", type=int, default=3, help="fresh runs per size")
    parser.add_argument(
        "--rerun-reps", type=int, default=5, help="regenerate, rerun and floor runs per size"
    )
    parser.add_argument(
        "--change-reps", type=int, default=5, help="one-host change runs per size (0: none)"
    )
    parser.add_argument(
        "--osa-ref",
        type=Path,
        default=os.environ.get("OSA_REF") or None,
        help="an OpenStack-Ansible checkout to time beside (default: $OSA_REF)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress on stderr")
    args = parser.parse_args(argv)

    if args.fresh_reps < 1 or args.rerun_reps < 1:
        parser.error("--fresh-reps and --rerun-reps must be at least 1")
    command = args.command
    if not command.exists():
        found = shutil.which("osa-inventory")
        if found is None:
            parser.error(f"{command} not found; run `make venv` first")
        command = Path(found)
    environment = args.environment.resolve()
    if not (environment / "env.d").is_dir():
        parser.error(f"{environment} has no env.d/ directory")
    reps = {
        "fresh": args.fresh_reps,
        "regenerate": args.rerun_reps,
        "rerun": args.rerun_reps,
        "floor": args.rerun_reps,
        "change": args.change_reps,
    }
    osa_ref = args.osa_ref
    if osa_ref is not None and not (osa_ref / "inventory" / "dynamic_inventory.py").is_file():
        parser.error(f"--osa-ref/OSA_REF {osa_ref} has no inventory/dynamic_inventory.py")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    regenerate = supports_regenerate(command)
    if not regenerate:
        log("note: the command has no --regenerate flag; skipping the regenerate runs")
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        log(f"warning: load average {load_before:.2f}; other work skews the figures")
    scratch = Path(tempfile.mkdtemp(prefix="osa-inventory-bench-"))
    os.environ["XDG_CACHE_HOME"] = str(scratch / "cache")  # the runs' own, empty at first
    rows: list[SizeResult] = []
    try:
        # Untimed warm-up: byte-compiles the package (even where the environment says
        # not to, as an installed package comes compiled) and warms the page cache.
        warm = scratch / "warmup"
        write_config(10, warm)
        compiling = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        run_once(
            [str(command), "--config", str(warm), "--environment", str(environment), "--list"],
            scratch,
            compiling,
        )
        for n in args.computes:
            log(f"N={n}: generating deployment")
            rows.append(
                bench_size(n, command, environment, scratch, reps, regenerate, log, osa_ref)
            )
    except RunFailed as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"scratch dir kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"osa-inventory --list, whole process, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}"
    )
    print(f"environment: {environment}")
    print(f"load average (1 min) before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}")
    if osa_ref is None:
        print("OSA: skipped (set OSA_REF to an OpenStack-Ansible checkout to time it beside)")
    else:
        print(f"OSA: {osa_ref}")
    print()
    print(markdown(rows))
    print()
    table, summary, linear = linearity(rows)
    print(table)
    print()
    for line in summary:
        print(line)

    everything = [res for row in rows for res in row.results.values()]
    missed = [res for res in everything if res.verdict()[1] == "NO"]
    unstable = [res for res in everything if res.store_stable is False]
    if unstable:
        print(
            "store changed although nothing did: "
            + ", ".join(f"N={r.computes} {r.mode}" for r in unstable)
        )
    if missed:
        print("targets missed: " + ", ".join(f"N={r.computes} {r.mode}" for r in missed))
    return 0 if not (missed or unstable or not linear) else 2


if __name__ == "__main__":
    sys.exit(main())
