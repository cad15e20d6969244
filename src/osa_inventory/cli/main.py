"""``osa-inventory``: OSA's dynamic inventory script with a pluggable store.

With no subcommand it is an Ansible inventory script (``--list``, ``--host``,
``--check``; see :mod:`osa_inventory.cli.inventory`). Subcommands administer the
store: ``backends``, ``config show``, ``lock status|break`` (:mod:`.admin`);
``hosts``, ``groups``, ``clear-ips`` (:mod:`.hosts`); ``plan`` (:mod:`.plan`);
``history``, ``diff``, ``rollback``, ``retention`` (:mod:`.history`); ``export``,
``import``, ``migrate`` (:mod:`.transfer`); ``doctor`` (:mod:`.doctor`);
``ansible-setup`` (:mod:`.ansible_setup`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osa_inventory.cli.common import execute

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
)


def _admin_parser() -> argparse.ArgumentParser:
    from osa_inventory.cli import admin, ansible_setup, db, doctor, history, hosts, plan, transfer
    from osa_inventory.cli.common import store_flags

    parser = argparse.ArgumentParser(prog="osa-inventory", description="Administer the store.")
    commands = parser.add_subparsers(dest="command", required=True)
    parent = store_flags()
    for module in (admin, hosts, plan, history, transfer, doctor, db, ansible_setup):
        module.add_commands(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        args = _admin_parser().parse_args(argv)
        func = args.func
    else:
        from osa_inventory.cli import inventory

        parser = inventory.build_parser()
        args = parser.parse_args(argv)
        func = inventory.run
        if args.version and args.list:  # --list sits outside the group: it may go with --check
            parser.error("argument --version: not allowed with argument --list")
        if args.version:
            from osa_inventory.cli.version import version_command

            func = version_command("osa-inventory")
    return execute("osa-inventory", func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
