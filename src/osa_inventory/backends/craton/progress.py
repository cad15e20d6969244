"""Progress of a long write: a bar on a terminal, debug log lines otherwise.

Craton takes about 20 ms per request, so a first write of 1,000 hosts runs
for half a minute or more. When standard error is a terminal a progress bar
shows it (rich's notion of a terminal, so ``FORCE_COLOR`` forces it); under
Ansible or in a pipe nothing is printed (the debug log, with
``--debug``, gets a line every few seconds).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from osa_inventory import debuglog

#: a write of fewer requests than this shows no bar
BAR_THRESHOLD = 50
LOG_EVERY = 5.0  # seconds between debug lines


class Progress:
    def __init__(self, description: str, total: int) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self._bar: Any = None
        self._task: Any = None
        self._logged = time.monotonic()

    def __enter__(self) -> Progress:
        if self.total < BAR_THRESHOLD:
            return self
        from rich.console import Console

        console = Console(stderr=True)
        if console.is_terminal:
            from rich.errors import LiveError
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            try:
                bar.start()
            except LiveError:  # another bar is showing (migrate's): leave the terminal to it
                return self
            self._bar = bar
            self._task = bar.add_task(self.description, total=self.total)
        return self

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif time.monotonic() - self._logged >= LOG_EVERY:
            self._logged = time.monotonic()
            debuglog.debug("%s: %d of %d requests", self.description, self.done, self.total)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
