"""Writing files safely and reading stored inventory bytes, for anyone who handles a file.

:func:`atomic_write` is how every file the product creates or replaces gets
written: a temporary file in the same directory, ``fsync``, ``os.replace``,
``fsync`` of the directory. A crash leaves the old or the new file, never a
truncated one, and a new file is 0600.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from osa_inventory.errors import StoreCorrupt
from osa_inventory.jsonio import loads_inventory

__all__ = ["NEW_FILE_MODE", "atomic_write", "parse_bytes"]

NEW_FILE_MODE = 0o600


def parse_bytes(data: bytes, source: str) -> dict[str, Any]:
    """Parse stored inventory bytes; a one-line StoreCorrupt names ``source``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreCorrupt(
            f"{source}: not UTF-8 text (byte {exc.start}); restore a good copy, "
            "e.g. from backup_openstack_inventory.tar next to it"
        ) from exc
    return loads_inventory(text, source)


def atomic_write(
    target: Path, fill: Callable[[BinaryIO], object], like: os.stat_result | None
) -> None:
    """Replace ``target`` by what ``fill`` writes, atomically and durably.

    The new file gets the mode (and, where allowed, owner) of ``like``, the stat of the
    file it replaces, or mode 0600 when there is none. Raises OSError, leaving
    ``target`` and its directory as they were.
    """
    import tempfile

    from osa_inventory.tempfiles import SUFFIX, temp_prefix  # named after this writer

    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            _copy_owner_and_mode(f.fileno(), like)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _copy_owner_and_mode(fd: int, like: os.stat_result | None) -> None:
    if like is None:
        os.fchmod(fd, NEW_FILE_MODE)
        return
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) != (like.st_uid, like.st_gid):
        # Only root may give a file away; others may still keep the group.
        try:
            os.fchown(fd, like.st_uid, like.st_gid)
        except PermissionError:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, -1, like.st_gid)
    os.fchmod(fd, stat.S_IMODE(like.st_mode))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
