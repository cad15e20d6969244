"""A cache of parsed YAML inputs: a run whose inputs did not change parses no YAML.

Parsing YAML is the largest cost of generating. Parses are kept in the cache
directory (``$XDG_CACHE_HOME/osa-inventory``, else ``~/.cache/osa-inventory``)
as ``parsed-<kind>-<digest>.marshal``: one per file of the user config and
``conf.d`` (editing one file re-parses that file alone), and one for the merged
env.d directories (dozens of small files that change together, with an
upgrade). An entry is named after a SHA-256 of everything its parse depends on:
the bytes of its files (and, for env.d, their names relative to their folder) in
reading order, this program's version, Python's, and the installed PyYAML; its
header holds the whole digest. A run reads and hashes the files anyway (a few
milliseconds) and takes a cached parse only when the digest matches, so a
changed, added, removed or renamed file is parsed afresh. The same files in
another folder share the parse; the paths that error messages name are always
the current run's.

The cache only ever saves time; it is never a source of output. It is ignored,
and the YAML parsed, when the directory or the file is not this user's own with
mode 0700/0600, a symbolic link or not a regular file, unreadable, damaged (the
payload's SHA-256 is checked before it is decoded) or written by another
version. The payload is ``marshal`` of plain data (dicts, lists, strings,
numbers, booleans, None), never ``pickle``, beside the number of floats the
parse built (see :mod:`osa_inventory.floatcount`); a parse that holds anything else
(a YAML timestamp) is not cached. Files are written 0600 through a temporary
file and a rename; at most :data:`MAX_ENTRIES` are kept, the least recently used
removed first. Removing the files (``rm ~/.cache/osa-inventory/parsed-*``) is
always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from osa_inventory._version import __version__
from osa_inventory.debuglog import debug
from osa_inventory.defaults import cache_dir
from osa_inventory.errors import StoreError

__all__ = ["MAX_ENTRIES", "ParsedCache", "Source"]

#: bump when the layout of a cached parse changes (2: the parse and its count of floats)
FORMAT = 2
MAGIC = b"osa-inventory parsed YAML\n"
DIGEST_SIZE = 32
PREFIX, SUFFIX = "parsed-", ".marshal"
#: entries kept; more are removed, the least recently used first
MAX_ENTRIES = 32

#: (path as the parser names it, the file's bytes)
Source = tuple[str, bytes]
T = TypeVar("T")


def _yaml_identity() -> str:
    """The installed PyYAML, by the path and stat of its package (not importing it)."""
    from importlib.util import find_spec

    try:
        spec = find_spec("yaml")
    except (ImportError, ValueError):
        return "no yaml"
    origin = spec.origin if spec is not None else None
    if not origin:
        return "no yaml"
    try:
        info = os.stat(origin)
    except OSError:
        return origin
    return f"{origin} {info.st_size} {info.st_mtime_ns}"


class ParsedCache:
    """The parsed-input entries in one directory (default: the user's cache directory)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory if directory is not None else cache_dir())

    def path(self, kind: str, key: bytes) -> Path:
        """The entry of input set ``kind`` whose inputs have digest ``key``."""
        return self.directory / f"{PREFIX}{kind}-{key.hex()[:32]}{SUFFIX}"

    @staticmethod
    def key(kind: str, sources: Sequence[Source]) -> bytes:
        """SHA-256 of everything a parse of ``sources`` depends on."""
        digest = hashlib.sha256(
            f"{FORMAT}\0{kind}\0{__version__}\0{sys.version}\0{marshal.version}\0"
            f"{_yaml_identity()}\0".encode()
        )
        for name, data in sources:
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
        return digest.digest()

    def load(self, kind: str, sources: Sequence[Source], parse: Callable[[], T], valid: type) -> T:
        """The parse of ``sources``: cached when it is there and sound, else ``parse()``
        (which is then cached). ``valid``: the type a cached parse must have."""
        key = self.key(kind, sources)
        if not self.directory.is_absolute():  # no home directory: ~ stayed as it was
            return parse()
        from osa_inventory import floatcount

        path = self.path(kind, key)
        cached = self._read(path, key)
        if (
            isinstance(cached, tuple)
            and len(cached) == 2
            and isinstance(cached[0], valid)
            and type(cached[1]) is int
        ):
            debug("parsed %s inputs from the cache %s", kind, path)
            value, floats = cached
            floatcount.built(floats)  # as if parsed here: a parse with floats is no proof
            return value
        before = floatcount.count()
        value = parse()
        self._write(path, key, (value, floatcount.count() - before))
        return value

    # -- reading --

    def _private_dir(self) -> bool:
        from osa_inventory.fileio import check_private

        try:
            check_private(os.lstat(self.directory), self.directory, "cache directory")
        except (OSError, StoreError) as exc:
            debug("parsed-input cache not used: %s", exc)
            return False
        return True

    def _read(self, path: Path, key: bytes) -> Any:
        """The cached value, or None when there is none or it may not be trusted."""
        from osa_inventory.fileio import check_private

        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(path, flags)
        except OSError:
            return None
        try:
            check_private(os.fstat(fd), path, "cache file")
            if not self._private_dir():
                return None
            with os.fdopen(fd, "rb", closefd=False) as handle:
                data = handle.read()
            with contextlib.suppress(OSError):
                os.utime(fd)  # recently used: pruned last
        except (OSError, StoreError) as exc:
            debug("parsed-input cache %s not used: %s", path, exc)
            return None
        finally:
            os.close(fd)
        head = len(MAGIC)
        stored_key = data[head : head + DIGEST_SIZE]
        checksum = data[head + DIGEST_SIZE : head + 2 * DIGEST_SIZE]
        payload = data[head + 2 * DIGEST_SIZE :]
        if not data.startswith(MAGIC) or stored_key != key:
            return None  # another input, or another version
        if hashlib.sha256(payload).digest() != checksum:
            debug("parsed-input cache %s is damaged; parsing the YAML", path)
            return None
        try:
            return marshal.loads(payload)
        except (EOFError, ValueError, TypeError):
            return None

    # -- writing --

    def _write(self, path: Path, key: bytes, value: Any) -> None:
        """Keep ``value`` for the next run; any failure only costs that run a parse."""
        try:
            payload = marshal.dumps(value)
        except (ValueError, RecursionError):  # a date, or another type marshal refuses
            debug("parsed-input cache: %s holds a type that is not cached", path)
            return
        from osa_inventory.fileio import atomic_write, check_private

        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self._private_dir():
                return
            with contextlib.suppress(FileNotFoundError):
                check_private(os.lstat(path), path, "cache file")
            data = MAGIC + key + hashlib.sha256(payload).digest() + payload
            atomic_write(path, lambda handle: handle.write(data), None, durable=False)
        except (OSError, StoreError) as exc:
            debug("parsed-input cache %s not written: %s", path, exc)
            return
        self._prune(path)

    def forget(self, kind: str) -> None:
        """Remove every entry of input set ``kind`` (``file``: user config and conf.d files,
        when the store is encrypted and their parses must not stay in plain text)."""
        start = f"{PREFIX}{kind}-"
        with contextlib.suppress(OSError), os.scandir(self.directory) as entries:
            for entry in list(entries):
                if entry.name.startswith(start) and entry.name.endswith(SUFFIX):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _prune(self, written: Path) -> None:
        """Remove the least recently used entries beyond :data:`MAX_ENTRIES`, and the
        temporary files of writers that died."""
        from osa_inventory.tempfiles import remove_stale_temp_files

        remove_stale_temp_files(written)
        try:
            entries = [
                (entry.stat(follow_symlinks=False).st_mtime_ns, entry.path)
                for entry in os.scandir(self.directory)
                if entry.name.startswith(PREFIX) and entry.name.endswith(SUFFIX)
            ]
        except OSError:
            return
        for _, stale in sorted(entries)[:-MAX_ENTRIES]:
            with contextlib.suppress(OSError):
                os.unlink(stale)
