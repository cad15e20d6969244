"""The inventory-script mode: ``--list`` (default), ``--host NAME``, ``--check``.

Ansible runs this once per playbook, so the common case is fast: when the
generator's inputs are unchanged since the stored version (same fingerprint),
the stored inventory is served without reading YAML or generating.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from osa_inventory.cli.common import open_store_from, store_flags, warn
from osa_inventory.debuglog import debug


def build_parser() -> argparse.ArgumentParser:
    from osa_inventory.defaults import default_environment_dir

    parser = argparse.ArgumentParser(
        prog="osa-inventory",
        parents=[store_flags()],
        description="Generate and store the OpenStack-Ansible inventory. An Ansible inventory "
        "script: with no action it behaves like --list. Other commands (each with --help): "
        "hosts, groups, clear-ips, plan, history, diff, rollback, retention, export, import, "
        "migrate, doctor, backends, config show, lock status|break, db upgrade|current, "
        "ansible-setup.",
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
        "--regenerate",
        action="store_true",
        help="generate even when the inputs are unchanged since the stored version",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from osa_inventory.fingerprint import input_fingerprint

    fingerprint = "" if args.regenerate else input_fingerprint(args.config, args.environment)
    store = open_store_from(args)
    try:
        if fingerprint and args.host is None and not args.check:
            version, data = store.read_canonical()
            if data is not None and version is not None and version.fingerprint == fingerprint:
                debug("inputs unchanged since version %s: served its bytes", version.version)
                for message in version.warnings:
                    warn(message)
                sys.stdout.buffer.write(data + b"\n")
                return 0
        snapshot = store.read()
        stored = snapshot.version.fingerprint if snapshot.version else ""
        if fingerprint and stored == fingerprint and not args.check:
            debug("inputs unchanged since version %s: served as stored", snapshot.version)
            for message in snapshot.version.warnings:
                warn(message)
            inventory = snapshot.inventory
        else:
            result = _generate(args, snapshot)
            inventory = result.inventory
            if args.check:
                if not result.unknown_groups:
                    print("Configuration ok!")
                    return 0
                # with unknown keys OSA prints the inventory (and writes it; we do not)
            elif inventory != snapshot.inventory:
                inventory = _store(store, args, snapshot, result, fingerprint)
            elif fingerprint:
                store.remember_fingerprint(snapshot, fingerprint, result.warnings)
    finally:
        store.close()
    _print(args, inventory)
    return 0


def _generate(args: argparse.Namespace, snapshot: Any) -> Any:
    from osa_inventory.generate import generate
    from osa_inventory.sources import load_environment, load_user_config

    args.user_config = load_user_config(args.config)
    args.environment_data = load_environment(args.environment, args.config)
    result = generate(args.user_config, args.environment_data, snapshot.inventory)
    for message in result.warnings:
        warn(message)
    return result


def _store(
    store: Any, args: argparse.Namespace, snapshot: Any, result: Any, fingerprint: str
) -> dict[str, Any]:
    """Write under the lock, regenerating if another writer got there first."""
    from osa_inventory.generate import generate

    def change(current: dict[str, Any]) -> dict[str, Any]:
        if current == snapshot.inventory:
            return result.inventory
        debug("store changed while generating; regenerating from the new version")
        return generate(args.user_config, args.environment_data, current).inventory

    command = "osa-inventory " + " ".join(sys.argv[1:])
    outcome = store.update(
        change,
        message=args.message,
        command=command.strip(),
        fingerprint=fingerprint,
        warnings=result.warnings,
    )
    debug("stored: changed=%s version=%s", outcome.changed, outcome.version)
    return outcome.inventory


def _print(args: argparse.Namespace, inventory: dict[str, Any]) -> None:
    if args.host is not None:
        hostvars = inventory["_meta"]["hostvars"].get(args.host, {})
        sys.stdout.write(json.dumps(hostvars, sort_keys=True))
    else:
        from osa_inventory.jsonio import dumps_inventory

        sys.stdout.write(dumps_inventory(inventory))
    sys.stdout.write("\n")
