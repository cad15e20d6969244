"""``osa-inventory plan``: what the next run would change in the store, written nowhere.

Exit status: 0 when nothing would change, :data:`CHANGES_EXIT` (4) when something
would, 1-3 on errors (as every command).
"""

from __future__ import annotations

import argparse

from osa_inventory.cli.common import open_store_from, warn
from osa_inventory.cli.diffview import render_diff, summary
from osa_inventory.cli.output import Output, add_format_flag

CHANGES_EXIT = 4


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    from osa_inventory.defaults import default_environment_dir

    plan = commands.add_parser(
        "plan",
        parents=[parent],
        help="show what generating from the config would change in the store; write nothing",
        description="Generate the inventory from the config and compare it with the store. "
        f"Exit status 0: nothing would change; {CHANGES_EXIT}: changes pending.",
    )
    plan.add_argument(
        "-e",
        "--environment",
        default=default_environment_dir(),
        metavar="DIR",
        help="directory holding the base env.d/ "
        "(default: $OSA_ROOT/inventory, else /opt/openstack-ansible/inventory)",
    )
    plan.add_argument("-v", "--verbose", action="store_true", help="show every value in full")
    add_format_flag(plan)
    plan.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    from osa_inventory.generate import generate
    from osa_inventory.ops.diff import diff_inventories
    from osa_inventory.sources import load_environment, load_user_config

    user_config = load_user_config(args.config)
    environment = load_environment(args.environment, args.config)
    store = open_store_from(args)
    try:
        snapshot = store.read()
    finally:
        store.close()
    result = generate(user_config, environment, snapshot.inventory)
    diff = diff_inventories(snapshot.inventory, result.inventory)
    version = snapshot.version.version if snapshot.version else None
    out = Output(args.format)
    if out.structured:
        out.data(
            {
                "store": store.label,
                "version": version,
                "warnings": result.warnings,
                "unknown_groups": list(result.unknown_groups),
                **diff.to_dict(),
            }
        )
        return CHANGES_EXIT if not diff.empty else 0
    for message in result.warnings:
        warn(message)
    at = f" at version {version}" if version is not None else " (empty)"
    if diff.empty:
        out.line(f"No changes: {store.label}{at} matches the configuration.", "green")
        return 0
    out.line(f"Changes from {store.label}{at} to what the configuration generates:", "bold")
    out.line()
    render_diff(out, diff, verbose=args.verbose)
    out.line()
    out.line(f"Plan: {summary(diff)}", "bold")
    return CHANGES_EXIT
