"""Flags and helpers shared by every ``osa-inventory`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

DEBUG_LOG_FILE = "inventory.log"  # OSA's name


def terminal_columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` gives it ($COLUMNS, else
    the terminal on standard output, else 80), without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions kept as written), its width from
    :func:`terminal_columns`: argparse makes one for every option it adds and would
    import shutil for it, a few milliseconds of every ``--list``."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = terminal_columns() - 2 if width is None else width  # as argparse does
        super().__init__(prog, indent_increment, max_help_position, width)


def store_flags(*, writes: bool = True, local_copy: bool = True) -> argparse.ArgumentParser:
    """--config, --backend and friends: a parent parser for the commands that open the store.

    ``writes``: the command may take the store lock, so ``--lock-timeout`` applies;
    ``local_copy``: it reads through the local copy kept for a network backend's
    outages, so ``--cache-ttl`` applies. A flag that would do nothing is not offered.
    """
    from osa_inventory.defaults import default_config_dir

    parent = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    group = parent.add_argument_group("store flags (before or after the command)")
    group.add_argument(
        "--config",
        default=default_config_dir(),
        metavar="DIR",
        help="directory holding openstack_user_config.yml, conf.d/ and env.d/ "
        "(default: $OSA_CONFIG_DIR, else /etc/openstack_deploy)",
    )
    group.add_argument(
        "--backend", metavar="NAME", help="backend name or package.module:Class (overrides osa.ini)"
    )
    group.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend option (repeatable; overrides osa.ini and environment)",
    )
    group.add_argument(
        "--inventory-name", metavar="NAME", help="named inventory within the backend"
    )
    group.add_argument(
        "--encryption-key-file",
        metavar="FILE",
        help="file of the keys that encrypt the store, first key writes (overrides osa.ini "
        "and environment; docs/encryption.md)",
    )
    if writes:
        group.add_argument(
            "--lock-timeout",
            type=float,
            metavar="SECONDS",
            help="how long to wait for another writer's lock (default 60)",
        )
    if local_copy:
        group.add_argument(
            "--cache-ttl",
            type=float,
            metavar="SECONDS",
            help="how old a network backend's local copy may be when served during an outage "
            "(default 86400; 0: no local copy)",
        )
    add_debug_flag(group)
    return parent


def read_flags() -> argparse.ArgumentParser:
    """The store flags of a command that only reads the store."""
    return store_flags(writes=False)


def debug_flags() -> argparse.ArgumentParser:
    """A parent parser with only ``--debug``, for commands that open no store."""
    parent = argparse.ArgumentParser(add_help=False)
    add_debug_flag(parent)
    return parent


def add_debug_flag(parser: argparse.ArgumentParser | Any) -> None:
    parser.add_argument(
        "--debug", action="store_true", help=f"log to {DEBUG_LOG_FILE} in the current directory"
    )


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
