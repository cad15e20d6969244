"""The inventory script's everyday command lines, read without argparse.

Ansible runs ``osa-inventory --list`` once per playbook. Importing argparse
(and gettext, and locale) and building the script's parser would cost a few
milliseconds of every such run, so a command line made only of the script's
flags spelt in full (``--config DIR``, ``--config=DIR``, ``-e DIR``,
``--list``, ``--host NAME``, ...) is read here into the namespace argparse
would give; a test holds the two equal. Anything else (a command word, help,
``--version``, ``--lock-timeout``, an abbreviated or combined flag, a value
that starts with '-', ``--host`` with ``--check``, ``--``) gives None, and
argparse parses it and words any error as it always did.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

#: flag -> destination, for the flags that take one value (the last given wins)
VALUE_FLAGS = {
    "--config": "config",
    "--environment": "environment",
    "-e": "environment",
    "--host": "host",
    "--backend": "backend",
    "--inventory-name": "inventory_name",
    "--encryption-key-file": "encryption_key_file",
    "--message": "message",
    "-m": "message",
}
#: flag -> destination, for the repeatable ``key=value`` flags
APPEND_FLAGS = {"--backend-option": "backend_option"}
#: flag -> destination, for the flags that take no value
SWITCHES = {
    "--list": "list",
    "--check": "check",
    "--regenerate": "regenerate",
    "--allow-foreign-store": "allow_foreign_store",
    "--debug": "debug",
    "-d": "debug",
}
#: at most one of these (argparse's mutually exclusive group says why otherwise)
EXCLUSIVE = ("host", "check")


def script_defaults() -> dict[str, Any]:
    """Every destination of the inventory script's parser, with its default."""
    from osa_inventory.defaults import default_config_dir, default_environment_dir

    return {
        "config": default_config_dir(),
        "backend": None,
        "backend_option": [],
        "inventory_name": None,
        "encryption_key_file": None,
        "lock_timeout": None,
        "cache_ttl": None,
        "debug": False,
        "environment": default_environment_dir(),
        "list": False,
        "host": None,
        "check": False,
        "version": False,
        "message": "",
        "allow_foreign_store": False,
        "regenerate": False,
    }


def read_script_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """The script's arguments as argparse would parse them, or None: let argparse parse them."""
    values = script_defaults()
    given: set[str] = set()
    index = 0
    while index < len(argv):
        flag, eq, value = argv[index].partition("=")
        index += 1
        if flag in SWITCHES and not eq:
            dest = SWITCHES[flag]
            values[dest] = True
        elif flag in VALUE_FLAGS or flag in APPEND_FLAGS:
            if not eq:
                if index == len(argv):
                    return None
                value = argv[index]
                index += 1
            elif not flag.startswith("--"):
                return None  # -e=DIR: argparse's reading of it is its own
            if value.startswith("-"):
                return None  # argparse takes it for a flag, or a negative number
            if flag in APPEND_FLAGS:
                dest = APPEND_FLAGS[flag]
                values[dest] = [*values[dest], value]
            else:
                dest = VALUE_FLAGS[flag]
                values[dest] = value
        else:
            return None
        given.add(dest)
    if all(dest in given for dest in EXCLUSIVE):
        return None
    return cast("argparse.Namespace", SimpleNamespace(**values))
