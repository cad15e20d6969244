"""Inspect and edit hosts and groups: ``hosts list|show|remove``, ``groups list|show|remove``,
``clear-ips``.
"""

from __future__ import annotations

import argparse
from typing import Any

from osa_inventory.cli.changes import add_change_flags, report, run_change
from osa_inventory.cli.common import open_store_from
from osa_inventory.cli.flags import store_flags
from osa_inventory.cli.output import Output, add_format_flag, dumps, plural
from osa_inventory.ops import edit
from osa_inventory.ops.views import (
    containers_on,
    group_of,
    group_rows,
    host_kind,
    host_rows,
    host_vars,
    members,
    memberships,
    parents_of,
)

HOST_SORT_KEYS = ("name", "type", "component", "physical_host", "management_address")


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    hosts = commands.add_parser("hosts", help="list, show or remove hosts")
    host_commands = hosts.add_subparsers(dest="hosts_command")
    listing = host_commands.add_parser(
        "list", parents=[parent], help="hosts and containers, one per line"
    )
    listing.add_argument("--group", help="only members of this group (children included)")
    listing.add_argument("--physical-host", metavar="HOST", help="only HOST and its containers")
    listing.add_argument(
        "--sort",
        choices=HOST_SORT_KEYS,
        default="name",
        help="the column to sort by (default: name)",
    )
    add_format_flag(listing)
    listing.set_defaults(func=cmd_hosts_list)

    show = host_commands.add_parser("show", parents=[parent], help="one host's groups and vars")
    show.add_argument("name", metavar="NAME", help="a host or container name")
    add_format_flag(show)
    show.set_defaults(func=cmd_hosts_show)

    remove = host_commands.add_parser(
        "remove",
        parents=[store_flags()],
        help="remove hosts; a physical host takes its containers with it",
    )
    remove.add_argument("names", nargs="+", metavar="NAME", help="hosts or containers to remove")
    add_change_flags(remove)
    remove.set_defaults(func=cmd_hosts_remove)

    groups = commands.add_parser("groups", help="list, show or remove groups")
    group_commands = groups.add_subparsers(dest="groups_command")
    glist = group_commands.add_parser("list", parents=[parent], help="groups with member counts")
    add_format_flag(glist)
    glist.set_defaults(func=cmd_groups_list)
    gshow = group_commands.add_parser(
        "show", parents=[parent], help="one group's hosts, children and parents"
    )
    gshow.add_argument("name", metavar="NAME", help="a group name")
    add_format_flag(gshow)
    gshow.set_defaults(func=cmd_groups_show)
    gremove = group_commands.add_parser(
        "remove", parents=[store_flags()], help="remove groups (their hosts stay)"
    )
    gremove.add_argument("names", nargs="+", metavar="NAME", help="groups to remove")
    add_change_flags(gremove)
    gremove.set_defaults(func=cmd_groups_remove)

    clear = commands.add_parser(
        "clear-ips",
        parents=[store_flags()],
        help="drop the addresses of all containers; the next run assigns new ones",
    )
    add_change_flags(clear)
    clear.set_defaults(func=cmd_clear_ips)


def _read(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    store = open_store_from(args)
    try:
        return store, store.read().inventory
    finally:
        store.close()


def cmd_hosts_list(args: argparse.Namespace) -> int:
    store, inventory = _read(args)
    rows = host_rows(inventory)
    if args.group:
        group_of(inventory, args.group)
        wanted = members(inventory, args.group)
        rows = [r for r in rows if r.name in wanted]
    if args.physical_host:
        host_vars(inventory, args.physical_host)
        rows = [r for r in rows if r.physical_host == args.physical_host]
    key = "kind" if args.sort == "type" else args.sort
    rows.sort(key=lambda r: (getattr(r, key) or "\uffff", r.name))
    out = Output(args.format)
    out.table(
        ["name", "type", "component", "physical host", "management address"],
        [[r.name, r.kind, r.component, r.physical_host, r.management_address] for r in rows],
        title=f"{plural(len(rows), 'host')} in {store.label}",
        data=[r.to_dict() for r in rows],
        droppable=["type", "component", "physical host"],
    )
    return 0


def cmd_hosts_show(args: argparse.Namespace) -> int:
    _, inventory = _read(args)
    variables = host_vars(inventory, args.name)
    kind = host_kind(args.name, variables)
    data = {
        "name": args.name,
        "type": kind,
        "physical_host": variables.get("physical_host") or args.name,
        "containers": containers_on(inventory, args.name) if kind == "metal" else [],
        "groups": memberships(inventory).get(args.name, []),
        "vars": variables,
    }
    out = Output(args.format)
    if out.structured:
        out.data(data)
        return 0
    out.line(f"host: {args.name}", "bold")
    where = f" on {data['physical_host']}" if kind == "container" else ""
    out.line(f"type: {kind}{where}")
    if data["containers"]:
        out.line(f"containers: {', '.join(data['containers'])}")
    out.line(f"groups: {', '.join(data['groups']) or '(none)'}")
    out.line("vars:")
    for line in dumps(variables, "yaml").splitlines():
        out.line(f"  {line}")
    return 0


def cmd_hosts_remove(args: argparse.Namespace) -> int:
    return _change(
        args,
        lambda inventory: edit.remove_hosts(inventory, args.names).inventory,
        f"remove host {', '.join(args.names)}",
        "Removed",
    )


def cmd_groups_list(args: argparse.Namespace) -> int:
    store, inventory = _read(args)
    rows = group_rows(inventory)
    out = Output(args.format)
    out.table(
        ["group", "hosts", "children", "members"],
        [[r.name, len(r.hosts), len(r.children), r.members] for r in rows],
        title=f"{plural(len(rows), 'group')} in {store.label} (members: hosts, children's too)",
        data=[r.to_dict() for r in rows],
    )
    return 0


def cmd_groups_show(args: argparse.Namespace) -> int:
    _, inventory = _read(args)
    group = group_of(inventory, args.name)
    parents = parents_of(inventory, args.name)
    data = {
        "name": args.name,
        "hosts": list(group.get("hosts") or []),
        "children": list(group.get("children") or []),
        "parents": parents,
        "members": sorted(members(inventory, args.name)),
    }
    if group.get("vars"):
        data["vars"] = group["vars"]
    out = Output(args.format)
    if out.structured:
        out.data(data)
        return 0
    out.line(f"group: {args.name}", "bold")
    for key in ("hosts", "children", "parents", "members"):
        out.line(f"{key} ({len(data[key])}): {', '.join(data[key]) or '-'}")
    if "vars" in data:
        out.line("vars:")
        for line in dumps(data["vars"], "yaml").splitlines():
            out.line(f"  {line}")
    return 0


def cmd_groups_remove(args: argparse.Namespace) -> int:
    return _change(
        args,
        lambda inventory: edit.remove_groups(inventory, args.names).inventory,
        f"remove group {', '.join(args.names)}",
        "Removed",
    )


def cmd_clear_ips(args: argparse.Namespace) -> int:
    return _change(
        args,
        lambda inventory: edit.clear_ips(inventory).inventory,
        "clear container addresses",
        "Cleared",
    )


def _change(args: argparse.Namespace, change: Any, default_message: str, done: str) -> int:
    store = open_store_from(args)
    try:
        outcome = run_change(
            store, change, message=args.message or default_message, dry_run=args.dry_run
        )
        report(Output(args.format), store, outcome, done=done, verbose=args.verbose)
    finally:
        store.close()
    return 0
