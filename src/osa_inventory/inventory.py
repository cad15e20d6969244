"""Small helpers for OSA's inventory format (shared by generator, store and CLI)."""

from __future__ import annotations

from typing import Any


def empty_inventory() -> dict[str, Any]:
    """What an empty store holds: OSA's skeleton."""
    return {"_meta": {"hostvars": {}}}


def hostvars_of(inventory: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``_meta.hostvars``, or an empty mapping."""
    return (inventory.get("_meta") or {}).get("hostvars") or {}
