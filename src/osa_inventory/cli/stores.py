"""Opening stores directly: ``migrate --from/--to``, ``doctor`` and ``osa-inventory-manage -f``.

These stores never serve the local copy that the configured store of a network
backend falls back on when the backend is down (:mod:`osa_inventory.store.cache`):
a migration must copy, and the doctor must check, the backend itself.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from osa_inventory.cli.common import warn

if TYPE_CHECKING:
    from osa_inventory.store import Store


def open_named(
    args: argparse.Namespace,
    backend: str,
    pairs: Sequence[str],
    flag: str = "--backend-option",
    read_only: bool = False,
) -> Store:
    """The Store of backend ``backend``: its osa.ini section plus ``pairs`` (key=value, ``flag``).

    Options from ``OSA_INVENTORY_OPT_*`` are left out: they are meant for the
    configured backend, which may be another one.
    """
    from osa_inventory.settings import OPTION_ENV_PREFIX, resolve_settings
    from osa_inventory.store import open_store

    env = {k: v for k, v in os.environ.items() if not k.startswith(OPTION_ENV_PREFIX)}
    settings = resolve_settings(
        args.config,
        backend=backend,
        backend_options=pairs,
        name=args.inventory_name,
        lock_timeout=args.lock_timeout,
        env=env,
        option_flag=flag,
        encryption_key_file=getattr(args, "encryption_key_file", None),
    )
    return open_store(settings, warn=warn, local_copy=False, read_only=read_only)


def open_location(
    args: argparse.Namespace,
    spec: str | None,
    pairs: Sequence[str],
    flag: str,
    read_only: bool = False,
) -> Store:
    """The Store for ``spec``: None (the configured one), a backend name, or a URL.

    ``read_only``: opened as a reader that creates and changes nothing (a dry run).
    """
    from osa_inventory.settings import Value, parse_pairs, resolve_references, resolve_settings
    from osa_inventory.store import open_store, url_settings
    from osa_inventory.store.registry import is_url

    if spec is not None and is_url(spec):
        settings = url_settings(
            spec,
            options=pairs,
            flag=flag,
            name=args.inventory_name,
            lock_timeout=args.lock_timeout,
            encryption_key_file=getattr(args, "encryption_key_file", None),
        )
    elif spec is not None:
        return open_named(args, spec, pairs, flag, read_only)
    else:
        settings = resolve_settings(
            args.config,
            backend=args.backend,
            backend_options=args.backend_option,
            name=args.inventory_name,
            lock_timeout=args.lock_timeout,
            encryption_key_file=getattr(args, "encryption_key_file", None),
        )
        given = {key: Value(value, flag) for key, value in parse_pairs(pairs, flag).items()}
        settings.options.update(resolve_references(given))
    return open_store(settings, warn=warn, local_copy=False, read_only=read_only)
