"""``osa-inventory-manage``: OpenStack-Ansible's ``inventory-manage.py`` flags, on any backend.

Existing scripts keep working: ``-l`` lists hosts, ``-g`` groups with their
hosts, ``-G`` hosts with their groups, ``-e`` exports OSA's per-host JSON,
``--clear-ips`` drops container addresses, ``-r HOST`` removes hosts (a physical
host with its containers), ``-d GROUP`` removes groups, ``-s KEY`` sorts ``-l``
and ``-f FILE`` names an inventory file. Without ``-f`` it works on the
configured store (osa.ini, ``--backend``...), whatever its backend. Changes go
through the store's lock and history (``-m`` records why; ``--dry-run`` shows
them without writing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osa_inventory.cli.changes import report, run_change
from osa_inventory.cli.common import execute, open_store_from, store_flags
from osa_inventory.cli.output import Output, add_format_flag, dumps
from osa_inventory.errors import ConfigError

PROG = "osa-inventory-manage"
LIST_COLUMNS = (
    "container_name",
    "is_metal",
    "component",
    "physical_host",
    "tunnel_address",
    "ansible_host",
    "container_types",
)


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
        "-s", "--sort", default="component", metavar="KEY", help="sort -l by KEY (a host var)"
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("-l", "--list-host", action="store_true", help="list hosts")
    action.add_argument(
        "-g", "--list-groups", action="store_true", help="list groups and the hosts in each"
    )
    action.add_argument(
        "-G", "--list-containers", action="store_true", help="list hosts and their groups"
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


def _network_address(hostvars: dict[str, Any], key: str) -> Any:
    networks = hostvars.get("container_networks")
    network = networks.get(key) if isinstance(networks, dict) else None
    return network.get("address") if isinstance(network, dict) else None


def _sort_value(value: Any) -> tuple[int, str]:
    return (1, "") if value is None else (0, str(value))


def list_hosts(out: Output, inventory: dict[str, Any], sort_key: str) -> None:
    rows = []
    for name, hostvars in inventory["_meta"]["hostvars"].items():
        row = {
            "container_name": name,
            "is_metal": bool(hostvars.get("is_metal")),
            "component": hostvars.get("component"),
            "physical_host": hostvars.get("physical_host"),
            "tunnel_address": _network_address(hostvars, "tunnel_address"),
            "ansible_host": hostvars.get("ansible_host"),
            "container_types": hostvars.get("container_types"),
        }
        value = row[sort_key] if sort_key in row else hostvars.get(sort_key)
        rows.append((_sort_value(value), name, row))
    rows.sort(key=lambda item: (item[0], item[1]))
    data = [row for _, _, row in rows]
    out.table(LIST_COLUMNS, [[row[c] for c in LIST_COLUMNS] for row in data], data=data)


def list_groups(out: Output, inventory: dict[str, Any]) -> None:
    from osa_inventory.ops.views import group_rows

    rows = [r for r in group_rows(inventory) if r.hosts]
    out.table(
        ["group", "hosts"],
        [[r.name, ", ".join(r.hosts)] for r in rows],
        data={r.name: r.hosts for r in rows},
    )


def list_containers(out: Output, inventory: dict[str, Any]) -> None:
    from osa_inventory.ops.views import memberships

    groups = memberships(inventory)
    names = sorted(inventory["_meta"]["hostvars"])
    out.table(
        ["container_name", "groups"],
        [[name, ", ".join(groups.get(name, []))] for name in names],
        data={name: groups.get(name, []) for name in names},
    )


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
        return edit.remove_groups(inventory, names).inventory

    outcome = run_change(store, change, message=args.message or message, dry_run=args.dry_run)
    report(Output(args.format), store, outcome, done="Success")


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
            list_groups(out, snapshot.inventory)
        elif args.list_containers:
            list_containers(out, snapshot.inventory)
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
