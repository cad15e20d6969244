"""Versions of the store: ``history``, ``diff``, ``rollback``, ``retention show|set``."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from osa_inventory import timefmt
from osa_inventory.cli.changes import add_change_flags, replace_inventory
from osa_inventory.cli.common import open_store_from, settings_from, warn
from osa_inventory.cli.diffview import render_diff, summary
from osa_inventory.cli.flags import store_flags
from osa_inventory.cli.output import Output, add_format_flag, plural
from osa_inventory.errors import ConfigError, StoreCorrupt, StoreError
from osa_inventory.redact import redact_text
from osa_inventory.timefmt import local_time
from osa_inventory.words import kept_versions

HEAD_WORDS = ("head", "current")
DIFFERENT_EXIT = 1  # diff --exit-code: the versions differ


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    history = commands.add_parser(
        "history",
        parents=[store_flags()],  # 'history redact' takes the store lock: --lock-timeout
        help="versions of the store: time, actor, command, message; 'history redact' masks "
        "secrets recorded by older versions",
    )
    history.add_argument(
        "action",
        nargs="?",
        choices=("redact",),
        help="redact: mask, in place, the secrets (passwords in command lines) that older "
        "versions of osa-inventory recorded in the history",
    )
    history.add_argument("--limit", type=int, metavar="N", help="show only the newest N versions")
    add_format_flag(history)
    history.set_defaults(func=cmd_history)

    diff = commands.add_parser(
        "diff", parents=[parent], help="changes between two versions (default: to the current)"
    )
    diff.add_argument("old", metavar="V1", help="the version to compare from (a number, or head)")
    diff.add_argument(
        "new",
        metavar="V2",
        nargs="?",
        default="head",
        help="the version to compare to (default: head, the current one)",
    )
    diff.add_argument("-v", "--verbose", action="store_true", help="show every value in full")
    diff.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit {DIFFERENT_EXIT} when the versions differ, 0 when they are the same "
        "(as git diff)",
    )
    add_format_flag(diff)
    diff.set_defaults(func=cmd_diff)

    rollback = commands.add_parser(
        "rollback",
        parents=[store_flags()],
        help="make an earlier version current again, as a new version (history is kept)",
    )
    rollback.add_argument(
        "version", metavar="VERSION", help="the version whose content becomes current again"
    )
    add_change_flags(rollback)
    rollback.set_defaults(func=cmd_rollback)

    retention = commands.add_parser("retention", help="how many versions the store keeps")
    retention_commands = retention.add_subparsers(dest="retention_command")
    show = retention_commands.add_parser(
        "show", parents=[parent], help="the retention setting and the versions kept now"
    )
    add_format_flag(show)
    show.set_defaults(func=cmd_retention_show)
    setter = retention_commands.add_parser(
        "set", parents=[parent], help="set the retention in osa.ini (applies from the next write)"
    )
    setter.add_argument(
        "count", type=int, metavar="N", help="versions to keep, the current one included"
    )
    add_format_flag(setter)
    setter.set_defaults(func=cmd_retention_set)


def format_time(seconds: float) -> str:
    return local_time(seconds) if seconds else "-"


def iso_time(seconds: float) -> str | None:
    return timefmt.iso_time(seconds) if seconds else None


def cmd_history(args: argparse.Namespace) -> int:
    if args.action == "redact":
        return cmd_history_redact(args)
    store = open_store_from(args)
    try:
        versions = store.history()
    finally:
        store.close()
    total = len(versions)
    if args.limit is not None:
        if args.limit < 1:
            raise ConfigError(f"--limit {args.limit}: give 1 or more")
        versions = versions[-args.limit :]
    head = versions[-1].version if versions else None
    rows, data = [], []
    for info in versions:  # what older versions recorded is shown with its secrets masked
        info = replace(info, command=redact_text(info.command), message=redact_text(info.message))
        actor = "@".join(p for p in (info.user, info.host) if p)
        rows.append([info.version, format_time(info.time), actor, info.command, info.message])
        data.append(
            {
                "version": info.version,
                "current": info.version == head,
                "time": info.time,
                "date": iso_time(info.time),
                "user": info.user,
                "host": info.host,
                "command": info.command,
                "message": info.message,
            }
        )
    title = f"{store.label}: {plural(total, 'version')} kept"
    if head is not None:
        title += f", current {head}"
    if len(versions) < total:
        title += f" (the newest {len(versions)} shown)"
    Output(args.format).table(
        ["version", "time", "actor", "command", "message"],
        rows,
        title=title,
        data=data,
        wrap=["command", "message"],
    )
    return 0


def cmd_history_redact(args: argparse.Namespace) -> int:
    """``history redact``: mask the secrets older versions recorded, in place."""
    store = open_store_from(args)
    try:
        if not store.versioned:
            raise ConfigError(f"{store.label} keeps no history; there is nothing to redact")
        changed = store.redact_history()
        store.read()  # a network backend's local copy follows the rewritten history
    finally:
        store.close()
    out = Output(args.format)
    if out.structured:
        out.data({"store": store.label, "redacted_versions": changed})
    elif changed:
        listed = ", ".join(str(n) for n in changed)
        out.line(f"{store.label}: masked the secrets recorded with versions {listed}")
    else:
        out.line(f"{store.label}: no secrets recorded in the history; nothing changed")
    return 0


def current_version(store: Any) -> int:
    """The number of the store's current version."""
    if not store.versioned:
        raise StoreError(f"backend {store.label} keeps no versions")
    head = store.head() or store.read().version  # head() first: a damaged history is its error
    if head is None:
        raise StoreError(f"{store.label} holds no versions yet")
    return int(head.version)


def parse_version(text: str, store: Any, head: int | None = None) -> int:
    """A version number, or ``head``/``current`` for the current one.

    A number above the current version never existed: bad input (exit 2). One
    below the oldest retained existed once; reading it says it is not retained.
    """
    if text.lower() in HEAD_WORDS:
        return current_version(store) if head is None else head
    try:
        number = int(text)
    except ValueError as exc:
        raise ConfigError(f"version {text!r} is not a number; see 'osa-inventory history'") from exc
    if number < 1:
        raise ConfigError(f"version {number}: versions are numbered from 1")
    if head is None:
        try:
            head = current_version(store)
        except StoreCorrupt:  # a damaged head cannot tell; reading the version itself will
            return number
    if number > head:
        raise ConfigError(
            f"version {number} does not exist: {store.label} is at version {head}; "
            "see 'osa-inventory history'"
        )
    return number


def cmd_diff(args: argparse.Namespace) -> int:
    from osa_inventory.ops.diff import diff_inventories

    store = open_store_from(args)
    try:
        head = current_version(store)
        old_version = parse_version(args.old, store, head)
        new_version = parse_version(args.new, store, head)
        old, new = store.read_version(old_version), store.read_version(new_version)
    finally:
        store.close()
    diff = diff_inventories(old, new)
    status = DIFFERENT_EXIT if args.exit_code and not diff.empty else 0
    out = Output(args.format)
    if out.structured:
        out.data({"store": store.label, "from": old_version, "to": new_version, **diff.to_dict()})
        return status
    if diff.empty:
        out.line(f"{store.label}: versions {old_version} and {new_version} are the same")
        return status
    out.line(f"Changes from version {old_version} to {new_version} of {store.label}:", "bold")
    out.line()
    render_diff(out, diff, verbose=args.verbose)
    out.line()
    out.line(summary(diff, future=False))
    return status


def cmd_rollback(args: argparse.Namespace) -> int:
    store = open_store_from(args)
    try:
        version = parse_version(args.version, store)
        target = store.read_version(version)
    finally:
        store.close()
    return replace_inventory(
        args,
        target,
        message=f"rollback to version {version}",
        done=f"Rolled back to the content of version {version}",
        extra={"rollback_to": version},
    )


def _retention(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(settings, store, Retention or None) of the configured store."""
    from osa_inventory.store import open_store

    settings = settings_from(args)
    store = open_store(settings, warn=warn)
    return settings, store, store.retention()


def cmd_retention_show(args: argparse.Namespace) -> int:
    settings, store, retention = _retention(args)
    try:
        kept = store.history() if store.versioned else []
    finally:
        store.close()
    if retention is None:
        raise ConfigError(
            f"backend {settings.backend.value} has no retention setting"
            + ("" if store.versioned else " (it keeps no history)")
        )
    source = settings.options.get(retention.option)
    data = {
        "store": store.label,
        "option": retention.option,
        "value": retention.value,
        "source": source.source if source else "default",
        "versions_kept_at_most": retention.versions or None,
        "versions_kept_now": len(kept),
        "oldest": kept[0].version if kept else None,
        "current": kept[-1].version if kept else None,
    }
    out = Output(args.format)
    if out.structured:
        out.data(data)
        return 0
    limit = kept_versions(retention.versions)
    out.line(
        f"{store.label}: keeps {limit} ({retention.option}={retention.value}, {data['source']})"
    )
    if kept:
        out.line(f"now: {plural(len(kept), 'version')}, {kept[0].version} to {kept[-1].version}")
    return 0


def cmd_retention_set(args: argparse.Namespace) -> int:
    from osa_inventory.ops.retention import set_ini_option
    from osa_inventory.settings import ini_path
    from osa_inventory.store import open_backend
    from osa_inventory.store.backend import Closable, RetentionReporter

    settings, store, retention = _retention(args)
    store.close()
    backend = str(settings.backend.value)
    if retention is None:
        raise ConfigError(f"backend {backend} has no retention setting")
    if args.count < 1:
        raise ConfigError(f"retention {args.count}: keep 1 or more versions")
    # let the backend check the value before osa.ini is touched
    trial = open_backend(
        backend,
        {**settings.backend_options(), retention.option: args.count},
        settings.name.value,
    )
    new = trial.retention() if isinstance(trial, RetentionReporter) else None
    if isinstance(trial, Closable):
        trial.close()
    path = settings.ini_path or ini_path()
    set_ini_option(path, f"backend:{backend}", retention.option, str(args.count))
    current = settings.options.get(retention.option)
    out = Output(args.format)
    overridden = bool(current) and not current.source.startswith(str(path))
    overridden = overridden and current.source != "default"
    effective = retention if overridden else new
    versions = effective.versions if effective else None
    if out.structured:
        out.data(
            {
                "ini": str(path),
                "section": f"backend:{backend}",
                "option": retention.option,
                "value": args.count,
                "overridden_by": current.source if overridden else None,
                "versions_kept_at_most": versions or None,
            }
        )
    else:
        out.line(f"{path}: [backend:{backend}] {retention.option} = {args.count}")
        still = " still" if overridden else ""
        out.line(f"From the next write, {store.label}{still} keeps {kept_versions(versions)}.")
    if overridden:
        warn(f"{retention.option} is also set by {current.source}, which takes precedence")
    return 0
