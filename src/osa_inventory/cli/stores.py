"""Opening stores directly: ``migrate --from/--to``, ``doctor`` and ``osa-inventory-manage -f``.

These stores never serve the local copy that the configured store of a network
backend falls back on when the backend is down (:mod:`osa_inventory.store.cache`):
a migration must copy, and the doctor must check, the backend itself.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from osa_inventory.cli.common import warn
from osa_inventory.errors import ConfigError


def parse_pairs(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """``key=value`` strings as a dict; a one-line error naming ``flag`` otherwise."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: write it as key=value")
        result[key.strip()] = value
    return result


def plain_store(settings: Any, warn: Any = warn) -> Any:
    """The Store of resolved settings, on the backend itself (no local copy)."""
    from osa_inventory.store import open_backend, store_label
    from osa_inventory.store.store import Store

    backend = open_backend(settings.backend.value, settings.backend_options(), settings.name.value)
    describe = getattr(backend, "describe", None)
    # the label names the local lock of a plugin without one: the same as open_store's
    label = describe() if callable(describe) else store_label(settings)
    return Store(backend, label=label, lock_timeout=settings.lock_timeout.value, warn=warn)


def open_named(args: argparse.Namespace, backend: str, pairs: Sequence[str]) -> Any:
    """The Store of backend ``backend``: its osa.ini section plus ``pairs`` (key=value).

    Options from ``OSA_INVENTORY_OPT_*`` are left out: they are meant for the
    configured backend, which may be another one.
    """
    from osa_inventory.settings import OPTION_ENV_PREFIX, resolve_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(OPTION_ENV_PREFIX)}
    settings = resolve_settings(
        args.config,
        backend=backend,
        backend_options=pairs,
        name=args.inventory_name,
        lock_timeout=args.lock_timeout,
        env=env,
    )
    return plain_store(settings)


def open_location(
    args: argparse.Namespace, spec: str | None, pairs: Sequence[str], flag: str
) -> Any:
    """The Store for ``spec``: None (the configured one), a backend name, or a URL."""
    from osa_inventory.ops.locations import is_url, parse_location
    from osa_inventory.settings import resolve_option_references, resolve_settings
    from osa_inventory.store import open_backend
    from osa_inventory.store.store import DEFAULT_LOCK_TIMEOUT, Store

    options = parse_pairs(pairs, flag)
    if spec is not None and is_url(spec):
        backend_name, found = parse_location(spec)
        options = resolve_option_references({**found, **options}, flag)
        backend = open_backend(backend_name, options, args.inventory_name)
        describe = getattr(backend, "describe", None)
        label = describe() if callable(describe) else spec
        timeout = DEFAULT_LOCK_TIMEOUT if args.lock_timeout is None else args.lock_timeout
        return Store(backend, label=label, lock_timeout=timeout, warn=warn)
    if spec is not None:
        return open_named(args, spec, pairs)
    settings = resolve_settings(
        args.config,
        backend=args.backend,
        backend_options=[*args.backend_option, *pairs],
        name=args.inventory_name,
        lock_timeout=args.lock_timeout,
    )
    return plain_store(settings)
