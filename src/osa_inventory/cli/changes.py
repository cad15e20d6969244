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
from osa_inventory.inventory import hostvars_of
from osa_inventory.ops.diff import InventoryDiff, diff_inventories
from osa_inventory.progress import NO_PROGRESS, ProgressCallback

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
    #: why the current version could not be read, when it was replaced unread (recovery)
    damaged: str = ""


def run_change(
    store: Any,
    change: Change,
    *,
    message: str,
    dry_run: bool,
    force: bool = False,
    progress: ProgressCallback = NO_PROGRESS,
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

    hosts, phase = len(hostvars_of(preview)), f"writing {store.label}"
    progress(phase, 0, hosts, "hosts")
    result = store.update(apply, message=message, command=command_line(), force=force)
    progress(phase, hosts, hosts, "hosts")
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
    progress: ProgressCallback = NO_PROGRESS,
) -> int:
    """Write ``inventory`` as the new version (rollback, import), reporting the change."""
    from osa_inventory.cli.common import open_store_from
    from osa_inventory.errors import HistoryCorrupt, StoreCorrupt

    store = open_store_from(args)
    message = args.message or message
    try:
        try:
            outcome = run_change(
                store,
                lambda _current: inventory,
                message=message,
                dry_run=args.dry_run,
                progress=progress,
            )
        except HistoryCorrupt:
            raise  # the content is readable: the history itself must be set aside first
        except StoreCorrupt as exc:  # the current version is damaged: replace it unread
            outcome = replace_damaged(store, inventory, str(exc), message, args.dry_run)
        report(Output(args.format), store, outcome, done=done, extra=extra, verbose=args.verbose)
    finally:
        store.close()
    return 0


def replace_damaged(
    store: Any, inventory: dict[str, Any], problem: str, message: str, dry_run: bool
) -> Outcome:
    """Write ``inventory`` over a current version that cannot be read (Store.overwrite)."""
    from osa_inventory.inventory import empty_inventory
    from osa_inventory.store.backend import WriteMeta

    damage = problem.split("; ")[0]
    diff = diff_inventories(empty_inventory(), empty_inventory())
    if dry_run:
        return Outcome(diff, False, None, True, damaged=damage)
    with store.locked():
        meta = WriteMeta.for_this_process(message=message, command=command_line())
        result = store.overwrite(inventory, meta)
    version = result.version.version if result.version else None
    return Outcome(diff, True, version, False, damaged=damage)


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
                **({"replaced_damaged": outcome.damaged} if outcome.damaged else {}),
                "diff": outcome.diff.to_dict(),
            }
        )
        return
    if outcome.damaged:
        out.line(f"The current version of {store.label} cannot be read ({outcome.damaged}).")
        if outcome.dry_run:
            out.line(f"Dry run: it would be replaced as it is; {store.label} was not changed.")
        else:
            at = f" at version {outcome.version}" if outcome.version is not None else " written"
            out.line(f"{done}: the damaged version was replaced; {store.label} is now{at}.")
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
