"""Running an ``osa-inventory`` command: errors, warnings, settings (the flags that every
command shares are in :mod:`.flags`). No argparse here: the inventory script's
everyday ``--list`` never imports it (see :mod:`.scriptargs`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

DEBUG_LOG_FILE = "inventory.log"  # OSA's name


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
    except (Exception, SystemExit) as exc:  # a bug, or a plugin's exit: still one line
        from osa_inventory.cli.crash import report_crash

        return report_crash(prog, exc)


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
        lock_timeout=getattr(args, "lock_timeout", None),
        cache_ttl=getattr(args, "cache_ttl", None),
        encryption_key_file=getattr(args, "encryption_key_file", None),
    )


def open_store_from(args: argparse.Namespace) -> Any:
    from osa_inventory.store import open_store

    return open_store(settings_from(args), warn=warn)
