"""``osa-inventory-manage``: OpenStack-Ansible's ``inventory-manage.py`` flags, on any backend.

Existing scripts keep working, byte for byte: ``-l`` lists hosts, ``-g`` hosts
with their groups and ``-G`` groups with their hosts (what OSA's code prints,
the reverse of its ``--help``), ``-e`` exports OSA's per-host JSON,
``--clear-ips`` drops container addresses, ``-r HOST`` removes hosts (a physical
host with its containers), ``-d GROUP`` removes groups, ``-s KEY`` sorts ``-l``
and ``-f FILE`` names an inventory file. Without ``-f`` it works on the
configured store (osa.ini, ``--backend``...), whatever its backend. Changes go
through the store's lock and history (``-m`` records why; ``--dry-run`` shows
them without writing) and print OSA's ``Success. . .``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osa_inventory.cli.changes import report, run_change
from osa_inventory.cli.common import execute, open_store_from
from osa_inventory.cli.flags import store_flags
from osa_inventory.cli.output import Output, add_format_flag, dumps
from osa_inventory.errors import ConfigError

PROG = "osa-inventory-manage"
SUCCESS = "Success. . ."  # what OSA prints after a change


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[store_flags()],
        description="Inspect and edit the OpenStack-Ansible inventory with the flags of OSA's "
        "inventory-manage.py, on whichever backend osa-inventory is configured to use.",
    )
    parser.add_argument(
        "-f",
        "--file",
        metavar="FILE",
        help="an inventory JSON file (looked up in --config first); default: the configured store",
    )
    parser.add_argument(
        "-s", "--sort", default="component", metavar="KEY", help="sort -l by column KEY"
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("-l", "--list-host", action="store_true", help="list hosts")
    # OSA's -g and -G print the reverse of what its --help says; scripts rely on the output
    action.add_argument(
        "-g", "--list-groups", action="store_true", help="list hosts and the groups of each"
    )
    action.add_argument(
        "-G", "--list-containers", action="store_true", help="list groups and the hosts in each"
    )
    action.add_argument(
        "-e", "--export", action="store_true", help="export hostvars and groups per host (JSON)"
    )
    action.add_argument(
        "--clear-ips",
        action="store_true",
        help="drop the addresses of all containers; the next run assigns new ones",
    )
    action.add_argument(
        "-r",
        "--remove-item",
        action="append",
        metavar="HOST",
        help="remove a host, a physical host with its containers (repeatable)",
    )
    action.add_argument(
        "-d", "--remove-group", action="append", metavar="GROUP", help="remove a group (repeatable)"
    )
    action.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-m", "--message", default="", help="reason, recorded in the history")
    parser.add_argument("--dry-run", action="store_true", help="show a change; write nothing")
    add_format_flag(parser)
    return parser


def _inventory_file(args: argparse.Namespace) -> Path:
    """``-f FILE`` as OSA finds it: in the config dir first, then as given."""
    given = Path(args.file)
    candidates = [given] if given.is_absolute() else [Path(args.config) / given, given]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    looked = " or ".join(str(c) for c in candidates)
    raise ConfigError(f"inventory file {args.file} not found (looked for {looked}); fix -f")


def _open(args: argparse.Namespace) -> Any:
    if args.file is None:
        return open_store_from(args)
    from osa_inventory.cli.stores import open_named

    return open_named(args, "file", [f"path={_inventory_file(args)}"])


def _print_table(out: Output, table: Any, cells: list[list[Any]], data: Any) -> None:
    """OSA's ASCII table (also on a terminal: scripts and eyes see the same), or data."""
    if out.structured:
        out.data(data)
        return
    from osa_inventory.cli.asciitable import render

    out.file.write(render(table.headers, cells) + "\n")


def list_hosts(out: Output, inventory: dict[str, Any], sort_key: str) -> None:
    from osa_inventory.ops.osaviews import host_table

    table = host_table(inventory, sort_key)
    _print_table(out, table, table.rows, table.records())


def list_groups_per_host(out: Output, inventory: dict[str, Any]) -> None:
    from osa_inventory.ops.osaviews import groups_per_host

    table = groups_per_host(inventory)
    cells = [[name, ", ".join(groups)] for name, groups in table.rows]
    _print_table(out, table, cells, dict(table.rows))


def list_hosts_per_group(out: Output, inventory: dict[str, Any]) -> None:
    from osa_inventory.ops.osaviews import hosts_per_group

    table = hosts_per_group(inventory)
    cells = [[group, "\n".join(map(str, hosts))] for group, hosts in table.rows]
    _print_table(out, table, cells, dict(table.rows))


def _change(args: argparse.Namespace, store: Any) -> None:
    from osa_inventory.ops import edit

    names: list[str] = args.remove_item or args.remove_group or []
    if args.clear_ips:
        message = "clear container addresses"
    elif args.remove_item:
        message = f"remove host {', '.join(names)}"
    else:
        message = f"remove group {', '.join(names)}"

    def change(inventory: dict[str, Any]) -> dict[str, Any]:
        if args.clear_ips:
            return edit.clear_ips(inventory).inventory
        if args.remove_item:
            return edit.remove_hosts(inventory, names).inventory
        return edit.remove_groups(inventory, names, unlink=False).inventory

    outcome = run_change(store, change, message=args.message or message, dry_run=args.dry_run)
    out = Output(args.format)
    if out.structured or outcome.dry_run:
        report(out, store, outcome, done="Success")
    else:
        out.line(SUCCESS)


def run(args: argparse.Namespace) -> int:
    from osa_inventory.ops.migrate import is_empty

    store = _open(args)
    try:
        snapshot = store.read()
        if is_empty(snapshot):
            raise ConfigError(
                f"{store.label} holds no inventory yet; run the dynamic inventory "
                "(osa-inventory) first, or point -f or --config at an existing one"
            )
        out = Output(args.format)
        if args.list_host:
            list_hosts(out, snapshot.inventory, args.sort)
        elif args.list_groups:
            list_groups_per_host(out, snapshot.inventory)
        elif args.list_containers:
            list_hosts_per_group(out, snapshot.inventory)
        elif args.export:
            from osa_inventory.ops.exchange import osa_export

            fmt = "yaml" if args.format == "yaml" else "json"
            sys.stdout.write(dumps(osa_export(snapshot.inventory), fmt))
        else:
            _change(args, store)
    finally:
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.version:
        from osa_inventory.cli.version import version_command

        return execute(PROG, version_command(PROG), args)
    return execute(PROG, run, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
