"""The local copy of a store's inventory: one file per store in the user's cache directory.

A file holds two lines: a JSON header (format, store label, version, the body's
SHA-256) and the body, the canonical serialisation of that version. The
caching store (:mod:`.cache`) writes it and serves it during an outage; the
light ``--list`` (:mod:`.light`) serves its body when the store's head is the
header's version. Nothing here imports the Store front end. The copy of an
encrypted store is kept sealed with the store's write key (the sealed line,
never the plain inventory) and opened like the store itself; a body opened
without a :class:`~osa_inventory.sealing.Sealing` must be plain.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any, NamedTuple

from osa_inventory.defaults import APP_CACHE_DIR
from osa_inventory.fileio import NEW_FILE_MODE, check_private

if TYPE_CHECKING:
    from collections.abc import Mapping

    from osa_inventory.sealing import Sealing
    from osa_inventory.store.store import Snapshot

FORMAT = 2  # 2: the body is the canonical serialisation, with its SHA-256 in the header
APP_DIR = APP_CACHE_DIR


def cache_dir() -> str:
    """Where the local copies live: ``$XDG_CACHE_HOME/osa-inventory`` or ``~/.cache/...``."""
    from osa_inventory.defaults import cache_dir as default_cache_dir

    return default_cache_dir()


def cache_key(
    backend: str, options: Mapping[str, Any], name: str, schema: Mapping[str, Any] | None
) -> str:
    """A digest naming one store; secret options and URL passwords stay out of it."""
    from osa_inventory.redact import mask_url_password, option_is_secret

    shown = {
        key: mask_url_password(value) if isinstance(value, str) else value
        for key, value in options.items()
        if not option_is_secret(key, schema)
    }
    text = json.dumps([backend, name, shown], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def age_text(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


class CachedCopy(NamedTuple):
    """A copy read back from the cache, and when it was last confirmed current."""

    snapshot: Snapshot
    confirmed: float
    label: str


class LocalCache:
    """One store's cache file (``path``: a str or a Path, kept as given)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self.directory = os.path.dirname(os.fspath(path))

    def check(self) -> None:
        """Refuse a cache directory or file that is not this user's own, mode 0700/0600:
        whoever else could write there could plant a copy to be served."""
        for path, what in ((self.directory, "local cache directory"), (self.path, "cache file")):
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                return
            check_private(info, path, what)

    def _header(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as handle:
                return json.loads(handle.readline())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _shown(version: dict[str, Any] | None) -> dict[str, Any] | None:
        """A version record as the header keeps it: secrets in its command line masked."""
        if version is None:
            return None
        from osa_inventory.redact import redact_text

        return {
            **version,
            **{k: redact_text(str(version[k])) for k in ("command", "message") if k in version},
        }

    def load(self, sealing: Sealing | None = None) -> CachedCopy | None:
        """The cached copy, or None when there is none or it does not parse (or open)."""
        self.check()
        try:
            with open(self.path, "rb") as handle:
                header = json.loads(handle.readline())
                body = _opened(handle.read(), sealing, self.path)
                if body is None:
                    return None
                inventory = json.loads(body)
                confirmed = os.fstat(handle.fileno()).st_mtime
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            return None
        if not isinstance(inventory, dict):
            return None
        from osa_inventory.store.backend import VersionInfo
        from osa_inventory.store.store import Snapshot

        raw = header.get("version")
        version = VersionInfo.from_dict(raw) if isinstance(raw, dict) else None
        return CachedCopy(Snapshot(inventory, version), confirmed, str(header.get("label", "")))

    def save(self, snapshot: Snapshot, label: str, sealing: Sealing | None = None) -> None:
        """Record ``snapshot`` as confirmed now (only touch the file if it is the same version
        and intact); sealed when ``sealing`` has keys."""
        self.check()
        version = self._shown(snapshot.version.to_dict() if snapshot.version else None)
        if version is not None and self._stored_body(version) is not None:  # intact
            os.utime(self.path)
            return
        from osa_inventory.jsonio import dumps_inventory_bytes

        body = dumps_inventory_bytes(snapshot.inventory)
        if sealing is not None:
            body = sealing.cover_bytes(body)
        header = {
            "format": FORMAT,
            "label": label,
            "version": version,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        self._write(json.dumps(header).encode() + b"\n" + body)

    def is_current(self, version: dict[str, Any]) -> bool:
        header = self._header()
        shown = self._shown(version)
        return bool(header and header.get("format") == FORMAT and header.get("version") == shown)

    def canonical_bytes(
        self, version: dict[str, Any], sealing: Sealing | None = None
    ) -> bytes | None:
        """The cached body if it is ``version`` and intact (its digest checks out), opened
        with ``sealing`` (without one, only a plain body is returned)."""
        body = self._stored_body(version)
        return None if body is None else _opened(body, sealing, self.path)

    def _stored_body(self, version: dict[str, Any]) -> bytes | None:
        """The body as stored (sealed or not) if it is ``version`` and its digest checks out."""
        self.check()
        try:
            with open(self.path, "rb") as handle:
                header = json.loads(handle.readline())
                body = handle.read()
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            return None
        if header.get("version") != self._shown(version):
            return None
        if hashlib.sha256(body).hexdigest() != header.get("sha256"):
            return None
        return body

    def _write(self, data: bytes) -> None:
        directory = self.directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.check()  # made by someone else meanwhile
        from pathlib import Path

        from osa_inventory.tempfiles import create_temp_file, remove_stale_temp_files

        target = Path(self.path)
        remove_stale_temp_files(target)  # left by a reader killed mid-write
        fd, temp = create_temp_file(target)
        try:
            os.fchmod(fd, NEW_FILE_MODE)  # whatever the umask
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _opened(body: bytes, sealing: Sealing | None, path: str | os.PathLike[str]) -> bytes | None:
    """A copy's body as canonical bytes; None when it does not open: a copy that does not
    open is no copy, and the backend is read instead."""
    from osa_inventory.sealing import is_sealed_bytes

    if sealing is None:
        return None if is_sealed_bytes(body) else body
    from osa_inventory.errors import OsaInventoryError

    try:
        return sealing.reveal_bytes(body, f"local copy {os.fspath(path)}")[0]
    except OsaInventoryError:
        return None
