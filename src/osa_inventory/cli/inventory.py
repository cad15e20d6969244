"""The inventory-script mode: ``--list`` (default), ``--host NAME``, ``--check``.

Ansible runs this once per playbook, so the common case is fast: when the
generator's inputs are unchanged since the stored version (same fingerprint),
the stored inventory is served without reading YAML or generating.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from osa_inventory.cli.common import settings_from, warn

if TYPE_CHECKING:
    import argparse

USAGE = """%(prog)s [STORE FLAGS] COMMAND [ARGS...]
       %(prog)s [STORE FLAGS] [--list | --host NAME | --check | --version] [-e DIR] [-m MESSAGE]
                     [--regenerate] [-d]"""


def build_parser(commands: Sequence[tuple[str, str]] = ()) -> argparse.ArgumentParser:
    """The inventory script's parser; ``commands`` (name, help) are listed in its help.

    The everyday command lines are read without it (:mod:`.scriptargs`): a flag added
    here goes there too (a test compares the two).
    """
    import argparse

    from osa_inventory.cli.flags import HelpFormatter, store_flags
    from osa_inventory.defaults import default_environment_dir

    epilog = None
    if commands:
        width = max(len(name) for name, _ in commands)
        lines = [f"  {name.ljust(width)}  {text}" for name, text in commands]
        epilog = "commands (osa-inventory COMMAND --help for each):\n" + "\n".join(lines)
    parser = argparse.ArgumentParser(
        prog="osa-inventory",
        usage=USAGE,
        parents=[store_flags()],
        description="Generate and store the OpenStack-Ansible inventory. With no COMMAND it "
        "is an Ansible inventory script and behaves like --list.",
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "-e",
        "--environment",
        default=default_environment_dir(),
        metavar="DIR",
        help="directory holding the base env.d/ "
        "(default: $OSA_ROOT/inventory, else /opt/openstack-ansible/inventory)",
    )
    # OSA's flags: --config, --list, --check, -d/--debug, -e/--environment. As in OSA,
    # --list may come with --check (which wins).
    parser.add_argument("-d", dest="debug", action="store_true", help="same as --debug (OSA's)")
    parser.add_argument("--list", action="store_true", help="print the inventory (default)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--host", metavar="NAME", help="print the variables of one host")
    action.add_argument(
        "--check",
        action="store_true",
        help="validate the configuration; write nothing; print 'Configuration ok!' when "
        "every top-level key is known, else warn and print the inventory (as OSA)",
    )
    action.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-m", "--message", default="", help="reason recorded in the history")
    parser.add_argument(
        "--allow-foreign-store",
        action="store_true",
        help="write even into a store none of whose physical hosts is in the config "
        "(normally refused: it holds another deployment)",
    )
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="generate even when the inputs are unchanged since the stored version",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.host is None and not (args.check or args.regenerate) and _served_light(args, settings):
        return 0
    from osa_inventory.run import Inputs, host_vars, preview, refresh
    from osa_inventory.store import open_store

    inputs = Inputs(args.config, args.environment)

    store = open_store(settings, warn=warn)
    shown = StderrProgress()
    try:
        if args.check:
            return _report_check(preview(store, inputs, warn=warn))
        from osa_inventory.redact import redact_argv

        command = " ".join(["osa-inventory", *redact_argv(sys.argv[1:])])
        options = {
            "message": args.message,
            "command": command,
            "regenerate": args.regenerate,
            "allow_foreign_store": args.allow_foreign_store,
        }
        if args.host is not None:
            hostvars = host_vars(store, inputs, args.host, warn=warn, **options)
        else:
            result = refresh(store, inputs, warn=warn, progress=shown, **options)
    finally:
        shown.close()
        store.close()
    if args.host is not None:
        import json

        sys.stdout.write(json.dumps(hostvars, sort_keys=True))
        sys.stdout.write("\n")
    else:  # the bytes stored (or served) are the bytes printed
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text stream put in its place (tests, embedding callers)
            sys.stdout.write(result.text() + "\n")
        else:
            sys.stdout.flush()
            binary.write(result.serialised())
            binary.write(b"\n")
    return 0


def _served_light(args: argparse.Namespace, settings: Any) -> bool:
    """Print the stored head's bytes when the light road (:mod:`osa_inventory.store.light`)
    vouches for them: what :func:`osa_inventory.run.refresh` would print, without opening
    the store (nor importing the run use case)."""
    from osa_inventory.fingerprint import input_fingerprint
    from osa_inventory.store.light import serve_unchanged

    served = serve_unchanged(settings, lambda: input_fingerprint(args.config, args.environment))
    if served is None:
        return False
    for line in served.version.warnings:  # as refresh's fast path warns
        warn(line)
    sys.stdout.buffer.write(served.data + b"\n")
    return True


class StderrProgress:
    """Progress on stderr, set up on the first report only: the fast path never pays for it."""

    def __init__(self) -> None:
        self._shown: Any = None

    def __call__(self, phase: str, done: int, total: int | None = None, unit: str = "") -> None:
        if self._shown is None:
            from osa_inventory.progress import for_stderr

            self._shown = for_stderr()
        self._shown(phase, done, total, unit)

    def close(self) -> None:
        if self._shown is not None:
            self._shown.close()


def _report_check(result: Any) -> int:
    """OSA's ``--check``: 'Configuration ok!', or with unknown groups (already warned
    about) the inventory it would write; nothing is written either way."""
    if not result.unknown_groups:
        print("Configuration ok!")
        return 0
    from osa_inventory.jsonio import dumps_inventory

    sys.stdout.write(dumps_inventory(result.inventory) + "\n")
    return 0
