"""One road to a Store: :func:`open_store`, and the one label rule.

Every Store the product opens (the command, ``migrate --from/--to``,
``doctor``, ``osa-inventory-manage -f``, the Ansible plugin) is built here, so
what applies to every store (the label that names its local lock, the local
copy of a network backend, read-only defaults) is decided in one place.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from osa_inventory.defaults import DEFAULT_LOCK_TIMEOUT
from osa_inventory.errors import ConfigError, OsaInventoryError
from osa_inventory.sealing import Sealing
from osa_inventory.settings import (
    DEFAULT_NAME,
    Settings,
    Value,
    encryption_setting,
    lookups_setting,
    mask_url_password,
    option_layer,
    parse_pairs,
    remember_secrets,
)
from osa_inventory.store.backend import Describable, MinimalBackend
from osa_inventory.store.registry import load_backend_class, parse_url, plugin_failure
from osa_inventory.store.store import Store

__all__ = ["open_backend", "open_store", "store_label", "url_settings"]


def open_backend(
    backend: str,
    options: Mapping[str, Any],
    inventory_name: str | None = None,
    *,
    read_only: bool = False,
) -> MinimalBackend:
    """Load, instantiate and register a backend by name or import path.

    A backend that declares a ``name`` option gets ``inventory_name`` unless
    ``options`` set it; ``read_only`` adds the backend's ``reader_options``
    (e.g. the SQL backends' ``auto_upgrade=false``) unless given.
    """
    backend_class = load_backend_class(backend)
    chosen = dict(options)
    if read_only:
        for key, value in (getattr(backend_class, "reader_options", None) or {}).items():
            chosen.setdefault(key, value)
    declared = getattr(backend_class, "options", None)
    if inventory_name is not None and isinstance(declared, Mapping) and "name" in declared:
        chosen.setdefault("name", inventory_name)
    _remember_secret_values(declared, chosen)
    try:
        instance = backend_class()
        instance.register(chosen)
    except OsaInventoryError:
        raise
    except (Exception, SystemExit) as exc:  # a plugin's own bug: name it, one line
        raise plugin_failure(backend, "starting it", exc) from exc
    return instance


def _remember_secret_values(declared: Any, options: Mapping[str, Any]) -> None:
    """Mask the values of secret options in every text this process records from now on
    (however the backend was opened: settings, a URL, or the API)."""
    from osa_inventory.redact import option_is_secret, remember

    schema = declared if isinstance(declared, Mapping) and declared else None
    for key, value in options.items():
        if isinstance(value, str) and option_is_secret(key, schema):
            remember(value)


def store_label(backend: object, backend_name: str, options: Mapping[str, Any]) -> str:
    """The label of a store: the backend's ``describe()``, else name and a digest of options.

    The label names the store in messages and, for a backend without a lock of
    its own, the front end's local lock file: every road to one store gives it
    the same label, so they all share that lock. The digest is of the options as
    shown, secrets masked, so that it reveals nothing about them.
    """
    if isinstance(backend, Describable):
        text = backend.describe()
        if text:
            return str(text)
    from osa_inventory.redact import shown_option
    from osa_inventory.store.registry import option_schema

    schema = option_schema(backend)
    shown = {key: shown_option(key, value, schema) for key, value in options.items()}
    encoded = json.dumps(shown, sort_keys=True, default=str)
    return f"{backend_name}:{hashlib.sha256(encoded.encode()).hexdigest()[:12]}"


def url_settings(
    url: str,
    *,
    options: Sequence[str] = (),
    flag: str = "--backend-option",
    name: str | None = None,
    lock_timeout: float | None = None,
    encryption_key_file: str | None = None,
) -> Settings:
    """Settings for a store named by a URL, plus ``options`` (``key=value``, named ``flag``).

    The URL is the whole location: osa.ini plays no part, and the environment only
    where an option names it (``key_env=VAR``; ``password_file=PATH`` names a file).
    An option that the URL gives already is refused rather than silently preferred.
    The encryption keys are the host's (``encryption_key_file``), like the Jinja policy.
    """
    backend, found = parse_url(url)
    chosen = option_layer(found, "URL")
    for key, item in option_layer(parse_pairs(options, flag), flag).items():
        if key in chosen:
            raise ConfigError(
                f"option {key} is given by the URL and by {item.origin}; give it one way only"
            )
        chosen[key] = item
    remember_secrets(backend, chosen)
    timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
    return Settings(
        allow_jinja_lookups=lookups_setting(),
        encryption_key=encryption_setting(flag=encryption_key_file),
        backend=Value(backend, "URL"),
        name=Value(name or DEFAULT_NAME, "--inventory-name" if name else "default"),
        lock_timeout=Value(timeout, "--lock-timeout" if lock_timeout is not None else "default"),
        options=chosen,
    )


def _check_one_password(settings: Settings) -> None:
    """A URL that carries a password, and a password option too: refused, never one preferred."""
    password = settings.options.get("password")
    if password is None:
        return
    for key, item in settings.options.items():
        if key != "password" and mask_url_password(str(item.value)) != str(item.value):
            raise ConfigError(
                f"option {key} ({item.origin}) is a URL with a password, and option password "
                f"({password.origin}) gives one too; give the password one way only "
                f"(better: drop it from the {key})"
            )


def _with_sources(exc: ConfigError, settings: Settings) -> ConfigError:
    """``exc`` naming where each option it mentions was set (osa.ini line, variable, flag)."""
    message = str(exc)
    mentioned = [
        f"{key} from {item.origin}"
        for key, item in sorted(settings.options.items())
        if not item.source.startswith("default")
        and re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", message)
        and item.origin not in message
    ]
    if not mentioned:
        return exc
    return type(exc)(f"{message} ({'; '.join(mentioned)})")


def open_store(
    settings: Settings | str,
    *,
    warn: Callable[[str], None] | None = None,
    local_copy: bool = True,
    read_only: bool = False,
) -> Store:
    """The Store for resolved settings (:func:`~osa_inventory.settings.resolve_settings`) or a URL.

    ``local_copy``: a network backend's store keeps a local copy, served when
    the backend cannot be reached (see :mod:`osa_inventory.store.cache`); a
    backend with a light head reader (``light_head``) keeps it for the light
    ``--list`` only. Off for stores that must see the backend itself (migrate,
    doctor).
    ``read_only``: open it as a reader that never changes the store.
    """
    if isinstance(settings, str):
        settings = url_settings(settings)
    name, options = str(settings.backend.value), settings.backend_options()
    _check_one_password(settings)
    sealing = store_sealing(settings)  # before any connection: a key problem is said first
    try:
        backend = open_backend(name, options, settings.name.value, read_only=read_only)
    except ConfigError as exc:
        raise _with_sources(exc, settings) from exc
    label = store_label(backend, name, options)
    timeout = float(settings.lock_timeout.value)
    lookups = bool(settings.allow_jinja_lookups.value)
    network = bool(getattr(backend, "network", False))
    keeps_copy = network or bool(getattr(backend, "light_head", None))
    if local_copy and settings.cache_ttl.value > 0 and keeps_copy:
        from osa_inventory.store.cache import caching_store

        return caching_store(
            backend,
            backend_name=name,
            options=options,
            inventory_name=settings.name.value,
            ttl=settings.cache_ttl.value,
            outage_copy=network,
            label=label,
            lock_timeout=timeout,
            warn=warn,
            allow_jinja_lookups=lookups,
            sealing=sealing,
        )
    return Store(
        backend,
        label=label,
        lock_timeout=timeout,
        warn=warn,
        allow_jinja_lookups=lookups,
        sealing=sealing,
    )


def store_sealing(settings: Settings) -> Sealing:
    """How the store seals its inventories: with the configured keys, bound to its name."""
    from osa_inventory.sealing import sealing_for

    try:
        return sealing_for(settings.encryption_key.value, str(settings.name.value))
    except ConfigError as exc:
        origin = settings.encryption_key.origin
        raise type(exc)(f"{exc} ({origin})") from exc
