"""``osa-inventory``: OSA's dynamic inventory script, with a pluggable store.

Called with ``--list`` (or no action at all, as Ansible and OSA do) it generates
the inventory from the config, stores it when it changed and prints it;
``--host NAME`` prints one host's variables; ``--check`` validates and writes
nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from osa_inventory.errors import OsaInventoryError

LOG = logging.getLogger("osa_inventory")
INVENTORY_FILE = "openstack_inventory.json"
DEBUG_LOG_FILE = "osa-inventory.log"


def build_parser() -> argparse.ArgumentParser:
    from osa_inventory.sources import default_config_dir, default_environment_dir

    parser = argparse.ArgumentParser(
        prog="osa-inventory",
        description="Generate and store the OpenStack-Ansible inventory (an Ansible "
        "inventory script: with no action it behaves like --list).",
    )
    parser.add_argument(
        "--config",
        default=default_config_dir(),
        metavar="DIR",
        help="directory holding openstack_user_config.yml, conf.d/ and env.d/ "
        "(default: $OSA_CONFIG_DIR, else /etc/openstack_deploy)",
    )
    parser.add_argument(
        "--environment",
        default=default_environment_dir(),
        metavar="DIR",
        help="directory holding the base env.d/ "
        "(default: $OSA_ROOT/inventory, else /opt/openstack-ansible/inventory)",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="print the inventory (default)")
    action.add_argument("--host", metavar="NAME", help="print the variables of one host")
    action.add_argument(
        "--check", action="store_true", help="validate the configuration; write nothing"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"log the run to {DEBUG_LOG_FILE} in the current directory",
    )
    return parser


def _warn(message: str) -> None:
    print(f"osa-inventory: warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from osa_inventory.backends.file import FileStore
    from osa_inventory.generate import generate
    from osa_inventory.sources import load_environment, load_user_config

    config_dir = Path(args.config)
    user_config = load_user_config(config_dir)
    environment = load_environment(args.environment, config_dir)
    store = FileStore(config_dir / INVENTORY_FILE)
    previous = store.load()
    LOG.debug("loaded %d stored hosts", len(((previous or {}).get("_meta") or {}).get("hostvars") or {}))
    result = generate(user_config, environment, previous)
    for warning in result.warnings:
        _warn(warning)
    inventory = result.inventory

    if args.check:
        for group in result.unknown_groups:
            _warn(f"group {group} is in the user config but not in env.d; no service uses it")
        if result.unknown_groups:
            print(
                "osa-inventory: error: configuration has groups unknown to env.d "
                "(see warnings above); fix the group names or add them to env.d",
                file=sys.stderr,
            )
            return 1
        print("Configuration ok!")
        return 0

    if inventory != previous:
        store.write(inventory)
        LOG.debug("stored %d hosts", len(inventory["_meta"]["hostvars"]))
    else:
        LOG.debug("inventory unchanged; nothing written")

    if args.host is not None:
        hostvars = inventory["_meta"]["hostvars"].get(args.host, {})
        sys.stdout.write(json.dumps(hostvars, sort_keys=True))
    else:
        from osa_inventory.jsonio import dumps_compact

        sys.stdout.write(dumps_compact(inventory))
    sys.stdout.write("\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.debug:
        logging.basicConfig(
            filename=DEBUG_LOG_FILE,
            level=logging.DEBUG,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
    try:
        return run(args)
    except OsaInventoryError as exc:
        LOG.debug("failed", exc_info=True)
        print(f"osa-inventory: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. piped into `head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
