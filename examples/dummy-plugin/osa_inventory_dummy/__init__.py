"""``dummy``: a sample osa-inventory storage backend, written as a model for plugin authors.

It keeps the inventory in one JSON file whose path you choose::

    # /etc/ansible/osa.ini
    [inventory]
    backend = dummy

    [backend:dummy]
    path = /var/lib/osa-inventory/inventory.json

What a backend has to do is deliberately small. osa-inventory finds the class
through the entry point declared in this package's ``pyproject.toml``::

    [project.entry-points."osa_inventory.backends"]
    dummy = "osa_inventory_dummy:DummyBackend"

instantiates it with no arguments and calls three methods:

``register(options)``
    receives the options the user gave (from osa.ini, ``OSA_INVENTORY_OPT_*``
    variables or ``--backend-option key=value``) as a dict of strings, and
    checks them. Do no slow work here: ``osa-inventory config show`` and
    ``osa-inventory --check`` register a backend too.
``load()``
    returns the stored inventory as a dict in OpenStack-Ansible's format, or
    the empty skeleton ``{"_meta": {"hostvars": {}}}`` when nothing is stored yet.
``write(inventory)``
    stores a whole new inventory, atomically: a reader (another
    ``osa-inventory --list`` run by Ansible at the same moment) sees either the
    old version or the new one, never half of one.

Everything else is optional. The class does NOT inherit from
``osa_inventory.store.backend.Backend`` on purpose, to show that the three
methods are the whole contract; the front end (``osa_inventory.store.Store``)
supplies what this backend lacks:

* locking: writers are serialised by a lock file the front end keeps on this
  machine (good enough for a file on one deploy host; a backend shared between
  deploy hosts would implement ``acquire_lock``/``release_lock``/...);
* versions and history: none (a backend may add ``head``/``write_version``...);
* ``--host NAME``: answered from ``load()`` (a backend may add ``load_host``).

The one rule for errors: raise only exceptions from :mod:`osa_inventory.errors`,
translating whatever your storage library raises at the edge, with ``from exc``
so that ``--debug`` still logs the original. osa-inventory prints their message
on one line and exits non-zero; anything else would end in a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

# Importing osa-inventory's exceptions is the one dependency a plugin needs.
from osa_inventory.errors import ConfigError, StoreCorrupt, StoreError, StoreUnavailable

__all__ = ["DummyBackend"]
__version__ = "0.1.0"


class DummyBackend:
    """Keep the inventory in one JSON file (option ``path``), replaced atomically."""

    #: The options this backend accepts. Not part of the contract (register()
    #: below does its own checking); kept in one place so that the error
    #: message for an unknown option can list the known ones.
    KNOWN_OPTIONS = ("path",)

    def __init__(self) -> None:
        # osa-inventory calls the class with no arguments, then register().
        self.path: Path | None = None

    # -- 1. register: check the options ------------------------------------------

    def register(self, options: dict[str, Any]) -> None:
        """Check and keep the options; raise ConfigError when they are wrong.

        Values arrive as strings (they come from an INI file, the environment
        or the command line); convert them yourself. An error message should
        say what is wrong and how to fix it, on one line.
        """
        unknown = sorted(set(options) - set(self.KNOWN_OPTIONS))
        if unknown:
            raise ConfigError(
                f"backend dummy: unknown option {', '.join(unknown)}; "
                f"known options: {', '.join(self.KNOWN_OPTIONS)}"
            )
        raw = options.get("path")
        if raw is None or not str(raw).strip():
            raise ConfigError(
                "backend dummy: option path is required (the JSON file to keep the "
                "inventory in); set it in [backend:dummy] of osa.ini or with "
                "--backend-option path=..."
            )
        path = Path(str(raw).strip()).expanduser()
        if path.is_dir():
            raise ConfigError(f"backend dummy: path {path} is a directory; give a file name")
        self.path = path

    # -- 2. load: read what is stored ------------------------------------------------

    def load(self) -> dict[str, Any]:
        """The stored inventory, or the empty skeleton when nothing is stored."""
        path = self._path()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            # Nothing stored yet: this is the normal first run, not an error.
            return {"_meta": {"hostvars": {}}}
        except OSError as exc:
            # Translate at the edge: the user sees one line, --debug keeps the cause.
            raise StoreUnavailable(f"backend dummy: cannot read {path}: {exc.strerror}") from exc
        try:
            inventory = json.loads(data)
        except ValueError as exc:  # bad JSON, or bytes that are not UTF-8
            raise StoreCorrupt(
                f"backend dummy: {path} is not valid JSON ({exc}); restore a good copy"
            ) from exc
        if not isinstance(inventory, dict):
            raise StoreCorrupt(
                f"backend dummy: {path} holds a JSON {type(inventory).__name__}, not an object"
            )
        return inventory

    # -- 3. write: store a new version, atomically --------------------------------------

    def write(self, inventory: dict[str, Any]) -> None:
        """Replace the stored inventory with ``inventory``.

        The classic recipe for an atomic file write: write a temporary file in
        the SAME directory (os.replace cannot cross file systems), flush it to
        disk, then rename it over the old file. A rename within a directory is
        atomic on POSIX, so a reader opens either the old file or the new one.
        """
        path = self._path()
        try:
            # Serialise first: if the inventory cannot be written as JSON, fail
            # before touching anything on disk.
            data = json.dumps(inventory, indent=4, sort_keys=True).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise StoreError(f"backend dummy: inventory is not JSON-serialisable: {exc}") from exc
        temp_name = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(
                prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
            )
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())  # the data is on disk before the rename
            os.chmod(temp_name, 0o640)  # mkstemp makes 0600; pick what suits your users
            os.replace(temp_name, path)  # the atomic step
            temp_name = None
            _fsync_directory(path.parent)  # ...and so is the rename itself
        except OSError as exc:
            raise StoreUnavailable(
                f"backend dummy: cannot write {path}: {exc.strerror or exc}"
            ) from exc
        finally:
            if temp_name is not None:  # failed half way: leave no litter behind
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)

    # -- helpers -------------------------------------------------------------------------

    def _path(self) -> Path:
        if self.path is None:
            # Only a programming error gets here; still, raise one of ours.
            raise StoreError("backend dummy: register() must be called before load()/write()")
        return self.path


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: not every OS allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
