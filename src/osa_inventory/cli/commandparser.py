"""The command tree of ``osa-inventory``: "did you mean", and help for a command group.

* A misspelt command (``osa-inventory hosts lst``) is answered with the
  closest one (``did you mean 'list'?``), as for hosts and groups.
* A command group given alone (``osa-inventory hosts``) prints its help, which
  lists its commands, and exits 2, rather than "required: hosts_command".
* Arguments the command does not take are reported by that command's parser,
  with its usage line.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import NoReturn

USAGE_EXIT = 2
_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<known>.*)\)")


def did_you_mean(given: str, known: Iterable[str]) -> str:
    """``; did you mean 'plan'?`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(given, list(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose "invalid choice" errors suggest the closest choice."""

    def error(self, message: str) -> NoReturn:
        match = _INVALID_CHOICE.search(message)
        if match:
            known = re.findall(r"'([^']*)'", match.group("known"))
            message += did_you_mean(match.group("given"), known)
        super().error(message)


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse._SubParsersAction]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield action


def finish_tree(parser: argparse.ArgumentParser) -> None:
    """Mark every parser of the tree with itself, so that errors come from the right one.

    Command groups (``hosts``, ``lock``...) get no ``func``: given alone, they
    print their help (:func:`parse_command`).
    """
    parser.set_defaults(command_parser=parser)
    for action in _subparsers(parser):
        action.required = False
        action.metavar = action.metavar or "COMMAND"
        parser.set_defaults(func=None)
        for child in action.choices.values():
            finish_tree(child)


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(name, one-line help) of the commands directly under ``parser``."""
    found: list[tuple[str, str]] = []
    for action in _subparsers(parser):
        found += [(choice.dest, choice.help or "") for choice in action._choices_actions]
    return found


def parse_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line; a command group alone prints its help and exits 2."""
    args, extras = parser.parse_known_args(argv)
    chosen: argparse.ArgumentParser = args.command_parser
    if args.func is None:
        chosen.print_help(sys.stderr)
        sys.exit(USAGE_EXIT)
    if extras:
        chosen.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def unknown_command(prog: str, given: str, known: Sequence[str]) -> NoReturn:
    """The one-line error for a word that is no command."""
    hint = did_you_mean(given, known) or f"; see '{prog} --help' for the commands"
    print(f"{prog}: error: unknown command '{given}'{hint}", file=sys.stderr)
    sys.exit(USAGE_EXIT)
