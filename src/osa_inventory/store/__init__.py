"""Storage: the backend contract, discovery and the Store front end.

:func:`open_store` is the one way to build a Store (see :mod:`.factory`). The
names are imported on first use, so that importing the contract
(:mod:`.backend`) or the light ``--list`` (:mod:`.light`) does not load the
front end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from osa_inventory.store.factory import open_backend, open_store, store_label, url_settings
    from osa_inventory.store.store import Snapshot, Store

__all__ = ["Snapshot", "Store", "open_backend", "open_store", "store_label", "url_settings"]

_WHERE = {
    "Snapshot": "osa_inventory.store.store",
    "Store": "osa_inventory.store.store",
    "open_backend": "osa_inventory.store.factory",
    "open_store": "osa_inventory.store.factory",
    "store_label": "osa_inventory.store.factory",
    "url_settings": "osa_inventory.store.factory",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
