"""Store administration: ``backends``, ``config show``, ``lock status|break``."""

from __future__ import annotations

import argparse
from typing import Any

from osa_inventory.cli.common import open_store_from, settings_from
from osa_inventory.cli.flags import debug_flags, store_flags
from osa_inventory.cli.output import Output, add_format_flag


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    backends = commands.add_parser(
        "backends",
        parents=[debug_flags()],
        help="list installed backends and whether each is usable",
        description="List the backends installed (built in and plugins), whether each can be "
        "used here and, if not, what to install.",
    )
    add_format_flag(backends)
    backends.set_defaults(func=cmd_backends)

    config = commands.add_parser("config", help="show the resolved settings")
    config_commands = config.add_subparsers(dest="config_command")
    show = config_commands.add_parser(
        "show",
        parents=[store_flags()],
        help="resolved settings with the source of each (secrets masked)",
    )
    add_format_flag(show)
    show.set_defaults(func=cmd_config_show)

    lock = commands.add_parser("lock", help="inspect or break the store lock")
    lock_commands = lock.add_subparsers(dest="lock_command")
    status = lock_commands.add_parser(
        "status", parents=[parent], help="who holds the store lock, since when, running what"
    )
    add_format_flag(status)
    status.set_defaults(func=cmd_lock_status)
    breaker = lock_commands.add_parser(
        "break", parents=[parent], help="break a lock whose holder is gone"
    )
    breaker.add_argument(
        "lock_id", metavar="LOCK_ID", help="the lock id that 'lock status' shows for the holder"
    )
    add_format_flag(breaker)
    breaker.set_defaults(func=cmd_lock_break)


def cmd_backends(args: argparse.Namespace) -> int:
    from osa_inventory.store.registry import list_backends

    infos = list_backends()
    Output(args.format).table(
        ["backend", "usable", "provided by", "note"],
        [[i.name, "yes" if i.usable else "no", i.target, i.reason] for i in infos],
        data=[
            {"backend": i.name, "usable": i.usable, "provided_by": i.target, "note": i.reason}
            for i in infos
        ],
        wrap=["provided by", "note"],
    )
    return 0


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def typed_setting_rows(settings: Any) -> list[tuple[str, Any, str]]:
    """``settings.rows()`` with numbers and booleans as such (masked values stay text)."""
    from osa_inventory.store.registry import find_backend_class

    declared = getattr(find_backend_class(str(settings.backend.value)), "options", None) or {}
    typed: list[tuple[str, Any, str]] = []
    for key, shown, source in settings.rows():
        value: Any = shown
        if key in ("lock_timeout", "cache_ttl"):
            value = _number(getattr(settings, key).value)
        elif key.startswith("option "):
            name = key.removeprefix("option ")
            option = declared.get(name)
            kind = getattr(option, "type", str)
            if (
                option is not None
                and kind in (int, float, bool)
                and shown == str(settings.options[name].value)
            ):
                try:
                    value = option.convert(str(settings.backend.value), name, shown)
                except Exception:  # shown as given; the backend reports it when opened
                    value = shown
        typed.append((key, value, source))
    return typed


def cmd_config_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    out = Output(args.format)
    ini = str(settings.ini_path) if settings.ini_path else None
    if out.structured:
        rows = typed_setting_rows(settings)
        out.data({k: {"value": v, "source": s} for k, v, s in rows})
        return 0
    out.line(f"osa.ini: {ini or 'none (defaults)'}")
    out.table(["setting", "value", "source"], [list(r) for r in settings.rows()], wrap=["source"])
    return 0


def cmd_lock_status(args: argparse.Namespace) -> int:
    from osa_inventory.timefmt import iso_time, local_time

    store = open_store_from(args)
    try:
        holder = store.lock_status()
    finally:
        store.close()
    out = Output(args.format)
    if out.structured:
        data: dict[str, Any] = {"store": store.label, "locked": holder is not None}
        if holder is not None:
            from osa_inventory.redact import redact_text

            data["holder"] = holder.to_dict() | {
                "command": redact_text(holder.command),
                "since_date": iso_time(holder.since),
                "expires_date": iso_time(holder.expires) if holder.expires else None,
            }
        out.data(data)
        return 0
    if holder is None:
        out.line(f"{store.label}: not locked")
        return 0
    out.line(f"{store.label}: locked by {holder.describe()}")
    if holder.is_unknown and holder.lock_id:
        out.line(
            "  if no osa-inventory command is still running, remove it with: "
            f"osa-inventory lock break {holder.lock_id}"
        )
    if holder.command:
        from osa_inventory.redact import redact_text

        out.line(f"  command: {redact_text(holder.command)}")
    if holder.expires:
        out.line(f"  lease expires: {local_time(holder.expires)}")
    return 0


def cmd_lock_break(args: argparse.Namespace) -> int:
    store = open_store_from(args)
    try:
        holder = store.lock_status()
        store.break_lock(args.lock_id)
    finally:
        store.close()
    named = holder is not None and holder.lock_id == args.lock_id
    out = Output(args.format)
    if out.structured:
        out.data(
            {
                "store": store.label,
                "lock_id": args.lock_id,
                "broken": True,
                "holder": holder.to_dict() if holder is not None and named else None,
            }
        )
    else:
        held_by = f"; it was held by {holder.describe()}" if holder is not None and named else ""
        out.line(f"{store.label}: broke and removed lock {args.lock_id}{held_by}")
    return 0


__all__ = ["add_commands"]
