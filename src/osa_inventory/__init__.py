"""osa-inventory: OpenStack-Ansible's inventory with pluggable, production-grade storage.

The public Python API (docs/api.md), importable from here::

    from osa_inventory import Inputs, open_store, refresh, resolve_settings

Names are imported on first use, so ``import osa_inventory`` stays as cheap as
the ``--list`` fast path needs. (The run use case lives in
:mod:`osa_inventory.run`: a module named ``refresh`` would shadow the function.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from osa_inventory._version import __version__

#: public name -> module that defines it
_API: dict[str, str] = {
    # generating, without a store
    "generate_inventory": "osa_inventory.run",
    "GenerationResult": "osa_inventory.generate",
    "Inputs": "osa_inventory.run",
    # settings and stores
    "Settings": "osa_inventory.settings",
    "resolve_settings": "osa_inventory.settings",
    "open_store": "osa_inventory.store.factory",
    "Store": "osa_inventory.store.store",
    "Snapshot": "osa_inventory.store.store",
    "VersionInfo": "osa_inventory.store.backend",
    # the run use case
    "refresh": "osa_inventory.run",
    "Refreshed": "osa_inventory.run",
    "host_vars": "osa_inventory.run",
    # comparing and serialising inventories
    "diff_inventories": "osa_inventory.ops.diff",
    "InventoryDiff": "osa_inventory.ops.diff",
    "dumps_inventory": "osa_inventory.jsonio",
    # the one exception tree
    "OsaInventoryError": "osa_inventory.errors",
    "ConfigError": "osa_inventory.errors",
    "YamlError": "osa_inventory.errors",
    "GenerationError": "osa_inventory.errors",
    "AddressPoolExhausted": "osa_inventory.errors",
    "StoreError": "osa_inventory.errors",
    "StoreUnavailable": "osa_inventory.errors",
    "StoreCorrupt": "osa_inventory.errors",
    "LockTimeout": "osa_inventory.errors",
    "StaleWrite": "osa_inventory.errors",
}

__all__ = [
    "AddressPoolExhausted",
    "ConfigError",
    "GenerationError",
    "GenerationResult",
    "Inputs",
    "InventoryDiff",
    "LockTimeout",
    "OsaInventoryError",
    "Refreshed",
    "Settings",
    "Snapshot",
    "StaleWrite",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "VersionInfo",
    "YamlError",
    "__version__",
    "diff_inventories",
    "dumps_inventory",
    "generate_inventory",
    "host_vars",
    "open_store",
    "refresh",
    "resolve_settings",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'osa_inventory' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


if TYPE_CHECKING:
    from osa_inventory.errors import (
        AddressPoolExhausted,
        ConfigError,
        GenerationError,
        LockTimeout,
        OsaInventoryError,
        StaleWrite,
        StoreCorrupt,
        StoreError,
        StoreUnavailable,
        YamlError,
    )
    from osa_inventory.generate import GenerationResult
    from osa_inventory.jsonio import dumps_inventory
    from osa_inventory.ops.diff import InventoryDiff, diff_inventories
    from osa_inventory.run import Inputs, Refreshed, generate_inventory, host_vars, refresh
    from osa_inventory.settings import Settings, resolve_settings
    from osa_inventory.store.backend import VersionInfo
    from osa_inventory.store.factory import open_store
    from osa_inventory.store.store import Snapshot, Store
