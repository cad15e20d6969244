"""Storage: the backend contract, discovery and the Store front end.

:func:`open_store` is the one way to build a Store (see :mod:`.factory`).
"""

from __future__ import annotations

from osa_inventory.store.factory import open_backend, open_store, store_label, url_settings
from osa_inventory.store.store import Snapshot, Store

__all__ = ["Snapshot", "Store", "open_backend", "open_store", "store_label", "url_settings"]
