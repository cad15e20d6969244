"""``osa-inventory``: OSA's dynamic inventory script with a pluggable store.

With no subcommand it is an Ansible inventory script (``--list``, ``--host``,
``--check``; see :mod:`osa_inventory.cli.inventory`). Subcommands administer the
store: ``backends``, ``config show``, ``lock status|break`` (:mod:`.admin`);
``hosts``, ``groups``, ``clear-ips`` (:mod:`.hosts`); ``plan`` (:mod:`.plan`);
``history``, ``diff``, ``rollback``, ``retention`` (:mod:`.history`); ``export``,
``import``, ``migrate`` (:mod:`.transfer`); ``doctor`` (:mod:`.doctor`);
``ansible-setup`` (:mod:`.ansible_setup`); ``key generate``, ``rekey`` (:mod:`.encryption`).

Store flags go before or after the command (``osa-inventory --config DIR plan``
is ``osa-inventory plan --config DIR``), as ``git -C`` does. The script mode
stays as cheap as it was: the command line is only scanned for a command word,
and the command modules are imported only when there is one; an everyday
script command line (``--config DIR --list``) is read without argparse at all
(:mod:`.scriptargs`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from osa_inventory.cli.common import execute

if TYPE_CHECKING:
    import argparse

PROG = "osa-inventory"
SUBCOMMANDS = (
    "backends",
    "config",
    "lock",
    "hosts",
    "groups",
    "clear-ips",
    "plan",
    "history",
    "diff",
    "rollback",
    "retention",
    "export",
    "import",
    "migrate",
    "doctor",
    "db",
    "ansible-setup",
    "key",
    "rekey",
)


def _admin_parser() -> argparse.ArgumentParser:
    from osa_inventory.cli import (
        admin,
        ansible_setup,
        db,
        doctor,
        encryption,
        history,
        hosts,
        plan,
        transfer,
    )
    from osa_inventory.cli.commandparser import CommandParser, finish_tree
    from osa_inventory.cli.flags import read_flags

    parser = CommandParser(
        prog=PROG,
        usage=f"{PROG} [STORE FLAGS] COMMAND [ARGS...]",
        description="Administer the store; with no COMMAND, the Ansible inventory script "
        f"(see '{PROG} --help').",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", prog=PROG)
    parent = read_flags()
    for module in (admin, hosts, plan, history, transfer, doctor, db, ansible_setup, encryption):
        module.add_commands(commands, parent)
    finish_tree(parser)
    return parser


def command_summaries() -> list[tuple[str, str]]:
    """(command, one-line description) of every command, in the order of ``--help``."""
    from osa_inventory.cli.commandparser import subcommands

    return subcommands(_admin_parser())


def _run_command(argv: list[str]) -> int:
    from osa_inventory.cli.commandparser import parse_command

    args = parse_command(_admin_parser(), argv)
    return execute(PROG, args.func, args)


def _run_script(argv: list[str], parser: argparse.ArgumentParser) -> int:
    from osa_inventory.cli import inventory

    if "-h" in argv or "--help" in argv:
        parser = inventory.build_parser(commands=command_summaries())
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = inventory.run
    if args.version and args.list:  # --list sits outside the group: it may go with --check
        parser.error("argument --version: not allowed with argument --list")
    if args.version:
        from osa_inventory.cli.version import version_command

        func = version_command(PROG)
    return execute(PROG, func, args)


def find_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int | None:
    """Where the command word is in ``argv`` (None: there is none, the script mode).

    The first argument that is neither an option of the inventory script's
    ``parser`` (which has every store flag) nor the value of one.
    """
    options = parser._option_string_actions  # every spelling of every option
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if token == "--":
            return None
        if not token.startswith("-") or token == "-":
            return index - 1
        if token.startswith("--"):
            name, eq, _ = token.partition("=")
            matches = [o for o in options if o.startswith(name) and o.startswith("--")]
            action = options.get(name) or (options[matches[0]] if len(matches) == 1 else None)
            if action is not None and action.nargs != 0 and not eq:
                index += 1  # its value
            continue
        for position, letter in enumerate(token[1:], 2):  # -d, -e DIR, -eDIR, -de DIR
            action = options.get(f"-{letter}")
            if action is None or action.nargs == 0:
                continue
            if position == len(token):
                index += 1  # its value is the next argument
            break
    return None


def flags_after_command(argv: Sequence[str], at: int) -> list[str]:
    """``argv`` with the flags given before the command moved after it (before any ``--``)."""
    rest = list(argv[at:])
    end = rest.index("--") if "--" in rest else len(rest)
    return [*rest[:end], *argv[:at], *rest[end:]]


def main(argv: Sequence[str] | None = None) -> int:
    from osa_inventory.cli.scriptargs import read_script_args

    argv = list(sys.argv[1:] if argv is None else argv)
    args = read_script_args(argv)
    if args is not None:
        from osa_inventory.cli.inventory import run

        return execute(PROG, run, args)
    from osa_inventory.cli import inventory

    parser = inventory.build_parser()
    at = find_command(parser, argv)
    if at is None:
        return _run_script(argv, parser)
    if argv[at] in SUBCOMMANDS:
        return _run_command(flags_after_command(argv, at))
    from osa_inventory.cli.commandparser import unknown_command

    unknown_command(PROG, argv[at], SUBCOMMANDS)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
