"""``osa-inventory``: OSA's dynamic inventory script with a pluggable store.

With no subcommand it is an Ansible inventory script (``--list``, ``--host``,
``--check``; see :mod:`osa_inventory.cli.inventory`). Subcommands administer the
store: ``backends``, ``config show``, ``lock status|break`` (:mod:`.admin`);
``hosts``, ``groups``, ``clear-ips`` (:mod:`.hosts`); ``plan`` (:mod:`.plan`);
``history``, ``diff``, ``rollback``, ``retention`` (:mod:`.history`); ``export``,
``import``, ``migrate`` (:mod:`.transfer`); ``doctor`` (:mod:`.doctor`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from osa_inventory.cli.common import DEBUG_LOG_FILE
from osa_inventory.debuglog import debug
from osa_inventory.errors import OsaInventoryError

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
)


def _admin_parser() -> argparse.ArgumentParser:
    from osa_inventory.cli import admin, db, doctor, history, hosts, plan, transfer
    from osa_inventory.cli.common import store_flags

    parser = argparse.ArgumentParser(prog="osa-inventory", description="Administer the store.")
    commands = parser.add_subparsers(dest="command", required=True)
    parent = store_flags()
    for module in (admin, hosts, plan, history, transfer, doctor, db):
        module.add_commands(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        args = _admin_parser().parse_args(argv)
        func = args.func
    else:
        from osa_inventory.cli import inventory

        args = inventory.build_parser().parse_args(argv)
        func = inventory.run
    if args.debug:
        import logging

        logging.basicConfig(
            filename=DEBUG_LOG_FILE,
            level=logging.DEBUG,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    try:
        return func(args)
    except OsaInventoryError as exc:
        debug("failed", exc_info=True)
        print(f"osa-inventory: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        print("osa-inventory: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
