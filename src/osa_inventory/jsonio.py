"""JSON serialisation of inventories, compatible with OpenStack-Ansible.

The stored file uses OSA's exact layout (``indent=4``, ``": "`` separators, sorted
keys, ASCII only, no trailing newline) so that diffs against files written by OSA
stay empty. ``--list`` prints the same layout, so the stored file and the output
are the same bytes on every backend (and the file backend can serve its bytes as
they are).
"""

from __future__ import annotations

import json
from typing import Any

from osa_inventory.errors import StoreCorrupt

__all__ = ["dumps_inventory", "loads_inventory"]

_JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def dumps_inventory(inventory: dict[str, Any]) -> str:
    """Serialise ``inventory`` exactly as OSA writes ``openstack_inventory.json``."""
    return json.dumps(inventory, indent=4, separators=(",", ": "), sort_keys=True)


def loads_inventory(text: str, source: str) -> dict[str, Any]:
    """Parse an inventory read from ``source`` (a path or name, used in messages).

    Raises :class:`StoreCorrupt` when ``text`` is not JSON or not a JSON object.
    """
    hint = "restore a good copy, e.g. from backup_openstack_inventory.tar next to it"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreCorrupt(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); {hint}"
        ) from exc
    except RecursionError as exc:
        raise StoreCorrupt(f"{source}: invalid JSON (nested too deeply); {hint}") from exc
    if not isinstance(data, dict):
        raise StoreCorrupt(
            f"{source}: top-level JSON value is {_JSON_TYPES.get(type(data), 'null')}, "
            f"not an object; {hint}"
        )
    return data
