"""The flags that commands share (``--config``, ``--backend``, ... ``--debug``) and the
help formatter every parser uses."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from osa_inventory.cli.common import DEBUG_LOG_FILE


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
