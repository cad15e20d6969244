"""Store administration: ``backends``, ``config show``, ``lock status|break``."""

from __future__ import annotations

import argparse
import json
import time

from osa_inventory.cli.common import open_store_from, print_table, settings_from, store_flags


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    backends = commands.add_parser(
        "backends", parents=[parent], help="list installed backends and whether each is usable"
    )
    backends.set_defaults(func=cmd_backends)

    config = commands.add_parser("config", help="show the resolved settings")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser(
        "show", parents=[parent], help="resolved settings with the source of each (secrets masked)"
    )
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(func=cmd_config_show)

    lock = commands.add_parser("lock", help="inspect or break the store lock")
    lock_commands = lock.add_subparsers(dest="lock_command", required=True)
    status = lock_commands.add_parser("status", parents=[parent], help="who holds the lock")
    status.set_defaults(func=cmd_lock_status)
    breaker = lock_commands.add_parser(
        "break", parents=[parent], help="break a lock whose holder is gone"
    )
    breaker.add_argument("lock_id", metavar="LOCK_ID")
    breaker.set_defaults(func=cmd_lock_break)


def cmd_backends(args: argparse.Namespace) -> int:
    from osa_inventory.store.registry import list_backends

    rows = [
        [info.name, "yes" if info.usable else "no", info.target, info.reason]
        for info in list_backends()
    ]
    print_table(["backend", "usable", "provided by", "note"], rows)
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    rows = settings.rows()
    if args.format == "json":
        print(json.dumps({k: {"value": v, "source": s} for k, v, s in rows}, indent=2))
        return 0
    print(f"osa.ini: {settings.ini_path or 'none (defaults)'}")
    print_table(["setting", "value", "source"], [list(r) for r in rows])
    return 0


def cmd_lock_status(args: argparse.Namespace) -> int:
    store = open_store_from(args)
    holder = store.lock_status()
    if holder is None:
        print(f"{store.label}: not locked")
        return 0
    print(f"{store.label}: locked by {holder.describe()}")
    if holder.command:
        from osa_inventory.redact import redact_text

        print(f"  command: {redact_text(holder.command)}")
    if holder.expires:
        print(
            f"  lease expires: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(holder.expires))}"
        )
    return 0


def cmd_lock_break(args: argparse.Namespace) -> int:
    store = open_store_from(args)
    store.break_lock(args.lock_id)
    print(f"{store.label}: lock {args.lock_id} broken")
    return 0


__all__ = ["add_commands", "store_flags"]
