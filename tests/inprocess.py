"""``osa-inventory`` run inside the test process, with bytes on stdout, for the damage tests.

Much faster than a subprocess (no interpreter start, no re-import of SQLAlchemy
or etcd3gw), so the fuzz suite can afford hundreds of runs. ``--list`` writes
bytes to ``sys.stdout.buffer``, so stdout is a text wrapper over bytes.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from test_operations import clean_env, process_state


@dataclass(frozen=True)
class Run:
    code: int
    stdout: bytes
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def run_main(*args: Any, env: dict[str, str] | None = None, stdin: bytes = b"") -> Run:
    """``osa-inventory ARGS`` through cli.main.main, as a process would run it."""
    from osa_inventory.cli.main import main

    argv = [str(a) for a in args]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    err = io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with (
            process_state(clean_env(env), ["osa-inventory", *argv]),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = saved_stdin
    out.flush()
    return Run(code, out.buffer.getvalue(), err.getvalue())  # type: ignore[attr-defined]


def one_line_failure(run: Run, *codes: int) -> str:
    """The run failed with one of ``codes`` (default 2 or 3) and one line, no traceback."""
    assert run.code in (codes or (2, 3)), (run.code, run.stderr, run.stdout[-300:])
    assert "Traceback" not in run.stderr, run.stderr
    assert len(run.lines) == 1, run.stderr
    assert run.lines[0].startswith("osa-inventory: error: "), run.stderr
    return run.lines[0]


def pg_executor(server: Any, database: str) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run one SQL statement as PostgreSQL's admin in ``database``; the rows it returns."""
    from osa_inventory.testing import servers as services

    def execute(statement: str) -> list[tuple[Any, ...]]:
        conn = services.pg_admin(server, database)
        try:
            cursor = conn.cursor()
            cursor.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            conn.close()

    return execute
