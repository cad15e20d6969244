"""Run one change to the store: lock, re-read, edit, write with a history entry.

Shared by every mutating command (``hosts remove``, ``groups remove``,
``clear-ips``, ``rollback``, ``import`` and ``osa-inventory-manage``). The
change is computed from the inventory read under the lock, so a concurrent
writer can never be overwritten; a bad name raises before anything is written.
``--dry-run`` reads and shows the change without locking or writing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osa_inventory.cli.diffview import render_diff, summary
from osa_inventory.cli.output import Output, add_format_flag
from osa_inventory.ops.diff import InventoryDiff, diff_inventories

Change = Callable[[dict[str, Any]], dict[str, Any]]


def add_change_flags(parser: argparse.ArgumentParser) -> None:
    """``-m/--message``, ``--dry-run``, ``-v`` and ``--format``."""
    parser.add_argument("-m", "--message", default="", help="reason, recorded in the history")
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show every change in full")
    add_format_flag(parser)


def command_line() -> str:
    """This command as typed (program name without its directory), secrets masked, for
    the history."""
    from osa_inventory.redact import redact_command

    return redact_command([sys.argv[0] or "osa-inventory", *sys.argv[1:]])


@dataclass(frozen=True)
class Outcome:
    diff: InventoryDiff
    changed: bool
    version: int | None
    dry_run: bool


def run_change(
    store: Any, change: Change, *, message: str, dry_run: bool, force: bool = False
) -> Outcome:
    """Apply ``change`` through the Store front end (or only compute it, for a dry run).

    The change is first computed on an unlocked read, so that bad input fails
    before the lock is even taken; then again on the inventory read under the lock.
    """
    base = store.read().inventory
    preview = change(base)
    if dry_run:
        return Outcome(diff_inventories(base, preview), False, None, True)
    seen: dict[str, Any] = {}

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        seen["base"], seen["new"] = current, change(current)
        return seen["new"]

    result = store.update(apply, message=message, command=command_line(), force=force)
    diff = diff_inventories(seen["base"], seen["new"])
    version = result.version.version if result.version else None
    return Outcome(diff, result.changed, version, False)


def replace_inventory(
    args: argparse.Namespace,
    inventory: dict[str, Any],
    *,
    message: str,
    done: str,
    extra: dict[str, Any],
) -> int:
    """Write ``inventory`` as the new version (rollback, import), reporting the change."""
    from osa_inventory.cli.common import open_store_from

    store = open_store_from(args)
    try:
        outcome = run_change(
            store, lambda _current: inventory, message=args.message or message, dry_run=args.dry_run
        )
        report(Output(args.format), store, outcome, done=done, extra=extra, verbose=args.verbose)
    finally:
        store.close()
    return 0


def report(
    out: Output,
    store: Any,
    outcome: Outcome,
    *,
    done: str,
    extra: dict[str, Any] | None = None,
    verbose: bool = False,
) -> None:
    """Print what a change did (or would do): the diff, counts, and the new version."""
    if out.structured:
        out.data(
            {
                "store": store.label,
                "dry_run": outcome.dry_run,
                "changed": outcome.changed,
                "version": outcome.version,
                **(extra or {}),
                "diff": outcome.diff.to_dict(),
            }
        )
        return
    render_diff(out, outcome.diff, verbose=verbose, collapse=True)
    if outcome.diff.empty:
        out.line(f"{store.label}: nothing to change")
        return
    out.line(summary(outcome.diff, future=outcome.dry_run))
    if outcome.dry_run:
        out.line(f"Dry run: {store.label} was not changed.")
    elif outcome.version is not None:
        out.line(f"{done}: {store.label} is now at version {outcome.version}.")
    else:
        out.line(f"{done}: {store.label} written.")
