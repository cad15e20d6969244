"""Storage: the backend contract, discovery and the Store front end."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from osa_inventory.settings import Settings
from osa_inventory.store.registry import load_backend_class
from osa_inventory.store.store import Snapshot, Store

__all__ = ["Snapshot", "Store", "open_backend", "open_store", "store_label"]


def open_backend(backend: str, options: dict[str, Any], inventory_name: str | None = None) -> Any:
    """Load, instantiate and register a backend by name or import path."""
    backend_class = load_backend_class(backend)
    options = dict(options)
    declared = getattr(backend_class, "options", None)
    if inventory_name is not None and isinstance(declared, dict) and "name" in declared:
        options.setdefault("name", inventory_name)
    instance = backend_class()
    instance.register(options)
    return instance


def store_label(settings: Settings) -> str:
    """A label unique to one store of a plugin that cannot describe itself."""
    options = json.dumps(settings.backend_options(), sort_keys=True, default=str)
    digest = hashlib.sha256(options.encode()).hexdigest()[:12]
    return f"{settings.backend.value}:{digest}"


def open_store(settings: Settings, warn: Callable[[str], None] | None = None) -> Store:
    """The Store for resolved settings."""
    backend = open_backend(settings.backend.value, settings.backend_options(), settings.name.value)
    describe = getattr(backend, "describe", None)
    label = describe() if callable(describe) else store_label(settings)
    if settings.cache_ttl.value > 0 and getattr(backend, "network", False):
        from osa_inventory.store.cache import caching_store

        return caching_store(
            backend,
            backend_name=settings.backend.value,
            options=settings.backend_options(),
            inventory_name=settings.name.value,
            ttl=settings.cache_ttl.value,
            label=label,
            lock_timeout=settings.lock_timeout.value,
            warn=warn,
        )
    return Store(backend, label=label, lock_timeout=settings.lock_timeout.value, warn=warn)
