"""Writing files safely and reading stored inventory bytes, for anyone who handles a file.

:func:`atomic_write` is how every file the product creates or replaces gets
written: a temporary file in the same directory, ``fsync``, ``os.replace``,
``fsync`` of the directory. A crash leaves the old or the new file, never a
truncated one, and a new file is 0600 (whatever the umask). Only a regular file
is ever replaced: a symbolic link is written through (the file it points to is
replaced, the link stays), and a device, FIFO or directory is refused
(:class:`NotRegularFile`).

:func:`write_output` writes to a path a user named (``export -o``): a regular
file as above, a device, FIFO or this process's own standard output as a stream.
:func:`open_append` opens a log file: 0600 when new, never through a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from osa_inventory.errors import StoreCorrupt, StoreError
from osa_inventory.jsonio import loads_inventory

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "NEW_FILE_MODE",
    "NotRegularFile",
    "atomic_write",
    "check_private",
    "open_append",
    "parse_bytes",
    "write_output",
]

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


class NotRegularFile(OSError):
    """The path names a device, FIFO, socket or directory, which is never replaced."""

    def __init__(self, path: os.PathLike[str] | str, kind: str) -> None:
        super().__init__(
            errno.EINVAL, f"{kind}, not a regular file: it is never replaced", os.fspath(path)
        )


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "a special file"


def atomic_write(
    target: Path,
    fill: Callable[[BinaryIO], object],
    like: os.stat_result | None,
    *,
    durable: bool = True,
) -> None:
    """Replace ``target`` by what ``fill`` writes, atomically and durably.

    The new file gets the mode (and, where allowed, owner) of ``like``, the stat of the
    file it replaces, or mode 0600 when there is none. A symbolic link is written
    through; a target that is not a regular file raises :class:`NotRegularFile`.
    Raises OSError, leaving ``target`` and its directory as they were. ``durable=False``
    skips the ``fsync`` calls: for a cache, whose reader checks what it reads.
    """
    from pathlib import Path

    from osa_inventory.tempfiles import create_temp_file  # named after this writer

    target = Path(os.path.realpath(target))  # a link stays a link: its file is replaced
    try:
        found = os.stat(target)
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISREG(found.st_mode):
        raise NotRegularFile(target, _kind(found.st_mode))
    fd, tmp = create_temp_file(target)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            _copy_owner_and_mode(f.fileno(), like)
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(target.parent)


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


def fsync_dir(path: Path) -> None:
    """Make a rename or removal in ``path`` durable (where the file system allows)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _same_file(found: os.stat_result, fd: int) -> bool:
    try:
        other = os.fstat(fd)
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (other.st_dev, other.st_ino)


def write_output(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Write to a path a user named, such as ``export -o PATH``: ``write`` gets the stream.

    A new file is created 0600, a regular file (or a link to one) is replaced by
    :func:`atomic_write` keeping its mode; this process's standard output or
    error (``/dev/stdout``), a device (``/dev/null``) or a FIFO is written to as a
    stream, never replaced. Raises OSError (a directory, a socket, no such folder).
    """
    import sys
    from pathlib import Path

    target = Path(path)
    try:
        found: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        found = None
    if found is not None:
        for number, stream in ((1, sys.stdout), (2, sys.stderr)):
            if _same_file(found, number):
                stream.flush()
                write(stream.buffer)
                stream.flush()
                return
        if stat.S_ISDIR(found.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(target))
        if not stat.S_ISREG(found.st_mode):
            fd = os.open(target, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)  # never created
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            return
    atomic_write(target, write, found)


def open_append(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a log file to append to: created 0600, an existing file keeps its mode.

    A symbolic link at ``path`` is refused (ELOOP), and so is anything that is not a
    regular file (:class:`NotRegularFile`). Raises OSError.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
        os.fchmod(fd, NEW_FILE_MODE)
    except FileExistsError:
        fd = os.open(path, flags)
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode):
        os.close(fd)
        raise NotRegularFile(path, _kind(found.st_mode))
    return os.fdopen(fd, "ab")


def check_private(info: os.stat_result, path: os.PathLike[str] | str, what: str) -> None:
    """Refuse (StoreError) a file or directory, by its ``lstat``, that is not this
    user's own and closed to others; the message names the fix."""
    is_dir = stat.S_ISDIR(info.st_mode)
    remove = f"rm -r {path}" if is_dir else f"rm {path}"
    if stat.S_ISLNK(info.st_mode) or not (is_dir or stat.S_ISREG(info.st_mode)):
        raise StoreError(f"{what} {path} is {_kind(info.st_mode)}; remove it ({remove})")
    if info.st_uid != os.geteuid():
        raise StoreError(
            f"{what} {path} belongs to uid {info.st_uid}, not to this user (uid "
            f"{os.geteuid()}); remove it ({remove}) and retry"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        wanted = "700" if is_dir else "600"
        raise StoreError(
            f"{what} {path} has mode {mode:04o}, open to other users; make it private "
            f"with: chmod {wanted} {path}"
        )
