"""The light ``--list``: serve the stored bytes without opening the store.

A playbook run calls ``osa-inventory --list`` with inputs that have usually not
changed since the stored head was generated. For a backend whose class names
a ``light_head`` reader (SQLite, PostgreSQL, MySQL, etcd), one head query made
with the lightest client there is (stdlib ``sqlite3``, the DB-API driver, a
plain HTTP request to etcd's gateway; never SQLAlchemy, never an engine) says
whether that is so. When it is, the answer is the local copy of that version
(:mod:`.localcopy`), served as its bytes once they are verified:

* the copy's header names exactly the head just read (number, lineage, the
  content digest the backend recorded, fingerprint, ...), and
* the body's SHA-256 is the one in the header.

Anything else (no reader, a head written from other inputs, a copy of another
version or damaged, an option or URL form the reader does not handle, any
error at all) returns None: the caller then takes the full road
(:func:`osa_inventory.run.refresh`), which reads the store, refreshes the copy
and gives today's one-line errors. So the light road can only be faster, never
different: the bytes it serves are the ones the full road would print.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from osa_inventory.debuglog import debug

if TYPE_CHECKING:
    from osa_inventory.settings import Settings
    from osa_inventory.store.backend import VersionInfo

#: a light head reader: the checked options (``name`` included) -> the head, or None
#: when it cannot tell (the full road then decides)
HeadReader = Callable[[Mapping[str, Any]], "VersionInfo | None"]


class LightServed(NamedTuple):
    """The stored head, served as its canonical bytes."""

    version: VersionInfo
    data: bytes


def serve_unchanged(settings: Settings, fingerprint: Callable[[], str]) -> LightServed | None:
    """The head's bytes when the inputs' fingerprint (``fingerprint()``, asked only of a
    backend with a light head reader) is the head's; None: take the full road."""
    if settings.cache_ttl.value <= 0:  # no local copy is kept
        return None
    try:
        return _serve(settings, fingerprint)
    except Exception as exc:  # the full road reads the store and says what is wrong
        debug("light --list not taken: %s", type(exc).__name__)
        return None


def _serve(settings: Settings, fingerprint: Callable[[], str]) -> LightServed | None:
    from osa_inventory.store.registry import find_backend_class

    name = str(settings.backend.value)
    backend_class = find_backend_class(name)
    target = getattr(backend_class, "light_head", None)
    if not target:
        return None  # the file backend's own fast path is as light: no fingerprint here
    expected = fingerprint()
    if not expected:
        return None
    options = settings.backend_options()
    if options.get("name") is None and "name" in (getattr(backend_class, "options", None) or {}):
        options = {**options, "name": settings.name.value}  # as open_backend gives it
    config = backend_class.checked_options(options)
    head = _reader(target)(config)
    if head is None or head.fingerprint != expected:
        return None
    copy = _local_copy(name, settings.backend_options(), str(settings.name.value), backend_class)
    body = copy.canonical_bytes(head.to_dict())
    if body is None:  # none, damaged, another version, or sealed: the full road opens it
        return None
    with contextlib.suppress(OSError):
        os.utime(copy.path)  # confirmed current just now (its age counts for outages)
    debug("inputs unchanged since version %s: served the local copy's bytes", head.version)
    return LightServed(head, body)


def _reader(target: str) -> HeadReader:
    module, _, function = target.partition(":")
    reader: HeadReader = getattr(importlib.import_module(module), function)
    return reader


def _local_copy(name: str, options: Mapping[str, Any], inventory: str, backend_class: Any) -> Any:
    """The copy :func:`osa_inventory.store.factory.open_store` keeps for the same settings."""
    from osa_inventory.store.localcopy import LocalCache, cache_dir, cache_key

    schema = getattr(backend_class, "options", None) or None
    key = cache_key(name, options, inventory, schema)
    return LocalCache(os.path.join(cache_dir(), f"{key}.json"))


def socket_host(host: str) -> str | bytes:
    """``host`` for ``socket.create_connection``: an ASCII name as bytes, which gives
    ``getaddrinfo`` the bytes the IDNA codec would (a ``str`` host loads
    ``encodings.idna`` and ``stringprep`` first, about 2 ms of a light run), any
    other name as it is."""
    return host.encode("ascii") if host.isascii() else host
