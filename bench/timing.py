"""Whole-process timing for the benches: one ``posix_spawn``, reaped with ``os.wait4``.

``os.wait4`` gives the child's own resource use, so each run is measured in wall
time and in CPU time (user + system, the child alone, not this process), and
its peak RSS. On a shared machine the CPU time moves much less with the load
than the wall time does; the benches print both, and judge the wall time.

The environment of a timed process is the caller's (see ``bench_env``): in
particular ``PYTHONDONTWRITEBYTECODE`` is removed, so that the modules are
compiled once (by the warm-up run) and every timed run loads the compiled
bytecode, as on a deploy host where pip compiled the package when installing
it. With the variable set, every run would compile each of the package's
modules again from source.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timed:
    wall: float  # seconds
    cpu: float  # seconds, user + system, the child alone
    max_rss_mb: float  # decimal megabytes


def bench_env(drop_prefixes: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """This process's environment less ``PYTHONDONTWRITEBYTECODE`` (compiled modules used,
    as on a deploy host) and the variables named by ``drop_prefixes``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes or ("\0",))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def spawn(argv: list[str], env: dict[str, str], out: Path | None = None) -> Timed:
    """Run ``argv`` (its standard output to ``out``, else discarded); exit on a failure
    with its standard error."""
    import time

    with tempfile.TemporaryFile() as errors:
        sink = os.open(out or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            actions = [
                (os.POSIX_SPAWN_DUP2, sink, 1),
                (os.POSIX_SPAWN_DUP2, errors.fileno(), 2),
            ]
            start = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - start
        finally:
            os.close(sink)
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            detail = errors.read().decode(errors="replace")
            raise SystemExit(
                f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(argv)}\n{detail}"
            )
    return Timed(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / 1e6)
