"""Flags and helpers shared by every ``osa-inventory`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

DEBUG_LOG_FILE = "inventory.log"  # OSA's name


def store_flags() -> argparse.ArgumentParser:
    """--config, --backend and friends: a parent parser for every command."""
    from osa_inventory.defaults import default_config_dir

    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("store")
    group.add_argument(
        "--config",
        default=default_config_dir(),
        metavar="DIR",
        help="directory holding openstack_user_config.yml, conf.d/ and env.d/ "
        "(default: $OSA_CONFIG_DIR, else /etc/openstack_deploy)",
    )
    group.add_argument("--backend", help="backend name or package.module:Class (overrides osa.ini)")
    group.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend option (repeatable; overrides osa.ini and environment)",
    )
    group.add_argument("--inventory-name", help="named inventory within the backend")
    group.add_argument("--lock-timeout", type=float, metavar="SECONDS", help="default 60")
    group.add_argument(
        "--cache-ttl",
        type=float,
        metavar="SECONDS",
        help="how old a network backend's local copy may be when served during an outage "
        "(default 86400; 0: no local copy)",
    )
    group.add_argument(
        "--debug", action="store_true", help=f"log to {DEBUG_LOG_FILE} in the current directory"
    )
    return parent


def execute(prog: str, func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a parsed command: debug logging on request, one-line errors, exit codes."""
    from osa_inventory.debuglog import debug, start_debug_log
    from osa_inventory.errors import OsaInventoryError
    from osa_inventory.redact import redact_text

    if args.debug:
        try:
            start_debug_log(DEBUG_LOG_FILE)
        except OSError as exc:
            print(
                f"{prog}: error: cannot write the debug log {DEBUG_LOG_FILE} "
                f"({exc.strerror or exc}); remove it or run from another directory",
                file=sys.stderr,
            )
            return 2
    try:
        return func(args)
    except OsaInventoryError as exc:
        debug("failed", exc_info=True)
        print(f"{prog}: error: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def warn(message: str) -> None:
    from osa_inventory.redact import redact_text

    print(f"osa-inventory: warning: {redact_text(message)}", file=sys.stderr)


def settings_from(args: argparse.Namespace) -> Any:
    from osa_inventory.settings import resolve_settings

    return resolve_settings(
        args.config,
        backend=args.backend,
        backend_options=args.backend_option,
        name=args.inventory_name,
        lock_timeout=args.lock_timeout,
        cache_ttl=args.cache_ttl,
    )


def open_store_from(args: argparse.Namespace) -> Any:
    from osa_inventory.store import open_store

    return open_store(settings_from(args), warn=warn)


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(str(cell))) for w, cell in zip(widths, row, strict=True)]
    for row in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
