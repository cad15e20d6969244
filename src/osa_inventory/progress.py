"""Progress of long operations: a callback that operations accept, and how it is shown.

An operation calls ``progress(phase, done, total, unit)`` as it goes: ``phase``
says what it does ("reading source", "writing target"), ``done`` and ``total``
count the unit that moves ("hosts", "bytes", "versions"; ``total`` None when
not known). Any callable of that shape will do; :data:`NO_PROGRESS` ignores
everything, and :func:`for_stderr` gives what a command shows:

* on a terminal, a bar per phase on stderr, with the count and the time spent
  (gone when the operation ends);
* otherwise (a pipe, a log, CI), every few seconds while something is under
  way, one line such as ``osa-inventory: writing target: 4,000/10,280 hosts
  (15 s)``, as ``terraform init -migrate-state`` does: a long run never looks
  hung, and a quick one prints nothing. ``OSA_INVENTORY_PROGRESS_INTERVAL``
  sets the seconds between lines (0: a line for every step).

Code below an operation, such as a backend writing keys in batches, reports
finer steps with :func:`report`: it goes to the progress of the operation
running in this context (``with reporting(progress): ...``), so that no
backend method needs a parameter for it. Nothing here imports the command line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any, AnyStr, Protocol

INTERVAL_ENV = "OSA_INVENTORY_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 5.0  # seconds between phase lines when stderr is not a terminal
BYTES = "bytes"
CHUNK = 1 << 20  # bytes read or written between two reports


class ProgressCallback(Protocol):
    def __call__(self, phase: str, done: int, total: int | None = None, unit: str = "") -> None:
        """``phase`` has reached ``done`` of ``total`` ``unit``."""


class Progress:
    """Where an operation reports how far it got; this one shows nothing."""

    def __call__(self, phase: str, done: int, total: int | None = None, unit: str = "") -> None:
        """``phase`` has reached ``done`` of ``total`` ``unit``."""

    def close(self) -> None:
        """The operation is over: stop showing anything."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


NO_PROGRESS = Progress()
_current: ContextVar[ProgressCallback] = ContextVar("osa_inventory_progress", default=NO_PROGRESS)


@contextlib.contextmanager
def reporting(progress: ProgressCallback) -> Iterator[ProgressCallback]:
    """Send what code in this block :func:`report` to ``progress``."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


def report(phase: str, done: int, total: int | None = None, unit: str = "") -> None:
    """Report a step to the progress of the operation under way (nowhere if none)."""
    _current.get()(phase, done, total, unit)


def in_chunks(
    data: AnyStr, phase: str, progress: ProgressCallback, size: int = CHUNK
) -> Iterator[AnyStr]:
    """``data`` in pieces of ``size`` bytes (or characters), reporting each as it is taken."""
    total = len(data)
    progress(phase, 0, total, BYTES)
    for start in range(0, total, size):
        yield data[start : start + size]
        progress(phase, min(start + size, total), total, BYTES)


def read_in_chunks(
    stream: IO[bytes],
    phase: str,
    progress: ProgressCallback,
    total: int | None = None,
    limit: int | None = None,
) -> bytes:
    """All of ``stream``, reporting the bytes read (of ``total``, when known).

    With ``limit``, reading stops once more than ``limit`` bytes were read, so the
    caller can refuse an endless stream by the length of what comes back.
    """
    parts, done = [], 0
    progress(phase, done, total, BYTES)
    while (limit is None or done <= limit) and (chunk := stream.read(CHUNK)):
        parts.append(chunk)
        done += len(chunk)
        progress(phase, done, total, BYTES)
    return b"".join(parts)


def counted(done: int, total: int | None, unit: str) -> str:
    """``4,000/10,280 hosts``, ``1.2/10.7 MB``, ``12 versions`` (total unknown), or ''."""
    if total is None and not unit:
        return ""
    if unit == BYTES:
        return f"{_size(done)}/{_size(total)}" if total is not None else _size(done)
    text = f"{done:,}/{total:,}" if total is not None else f"{done:,}"
    return f"{text} {unit}".rstrip()


def _size(count: int) -> str:
    for limit, suffix in ((10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if count >= limit:
            return f"{count / limit:.1f} {suffix}"
    return f"{count} bytes"


@dataclass
class _Step:
    """How far one phase got."""

    done: int
    total: int | None
    unit: str

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total


def _phase_line(phase: str, step: _Step) -> str:
    count = counted(step.done, step.total, step.unit)
    return f"{phase}: {count}" if count else phase


class LineProgress(Progress):
    """One line on ``stream`` every ``interval`` seconds while a phase is under way."""

    def __init__(self, stream: IO[str], prog: str, interval: float = DEFAULT_INTERVAL) -> None:
        self.stream, self.prog, self.interval = stream, prog, interval
        self.started = time.monotonic()
        self._steps: dict[str, _Step] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval > 0:
            self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._thread.start()

    def __call__(self, phase: str, done: int, total: int | None = None, unit: str = "") -> None:
        with self._lock:
            self._steps.pop(phase, None)  # the latest phase last
            self._steps[phase] = _Step(done, total, unit)
        if self.interval <= 0:  # every step, as it comes
            self._print(phase)

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._print()

    def _print(self, phase: str | None = None) -> None:
        """The phases under way (the two latest), or ``phase``."""
        with self._lock:
            under_way = [(p, s) for p, s in self._steps.items() if not s.finished]
            shown = under_way[-2:] if phase is None else [(phase, self._steps[phase])]
            if not shown:
                return
            text = "; ".join(_phase_line(p, s) for p, s in shown)
        elapsed = time.monotonic() - self.started
        try:
            self.stream.write(f"{self.prog}: {text} ({elapsed:.0f} s)\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr gone: nothing to show progress on
            self._stop.set()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class BarProgress(Progress):
    """rich progress bars on a terminal, one per phase, gone when the operation ends."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bars = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, Any] = {}
        self._bars.start()

    def __call__(self, phase: str, done: int, total: int | None = None, unit: str = "") -> None:
        count = counted(done, total, unit)
        if phase not in self._tasks:
            self._tasks[phase] = self._bars.add_task(phase, total=total, count=count)
        self._bars.update(self._tasks[phase], completed=done, total=total, count=count)

    def close(self) -> None:
        self._bars.stop()


def interval_from_env() -> float:
    try:
        return max(0.0, float(os.environ.get(INTERVAL_ENV) or DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL


def for_stderr(prog: str = "osa-inventory", enabled: bool = True) -> Progress:
    """Bars when stderr is a terminal (or colour is forced), phase lines otherwise."""
    if not enabled:
        return NO_PROGRESS
    if sys.stderr.isatty() or os.environ.get("FORCE_COLOR"):
        from rich.console import Console

        console = Console(stderr=True)
        if console.is_terminal:
            return BarProgress(console)
    return LineProgress(sys.stderr, prog, interval_from_env())


__all__ = [
    "NO_PROGRESS",
    "BarProgress",
    "LineProgress",
    "Progress",
    "ProgressCallback",
    "counted",
    "for_stderr",
    "in_chunks",
    "read_in_chunks",
    "report",
    "reporting",
]
