"""An exclusive lock on a local file (``flock``), with its holder written inside.

The kernel drops an ``flock`` when its process dies, so a dead holder never
blocks anyone; the holder record it left behind is only reported (and
overwritten) by the next taker. Used by the file backend (lock file beside the
inventory) and by the front end for plugins that bring no lock of their own.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from pathlib import Path

from osa_inventory.errors import StoreError, StoreUnavailable
from osa_inventory.store.backend import LockHolder


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileLock:
    """``acquire_lock``/``release_lock``/``lock_status``/``break_lock`` on one file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self.stale_holder: LockHolder | None = None

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open lock file {self.path}: {exc.strerror}") from exc

    @staticmethod
    def _read_holder(fd: int) -> LockHolder | None:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 65536)
        if not data.strip():
            return None
        try:
            return LockHolder.from_dict(json.loads(data))
        except (ValueError, TypeError):
            return None

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        """Take the lock without waiting: None on success, else the holder (if known)."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            current = self._read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return current or LockHolder.unknown()
            raise StoreUnavailable(f"cannot lock {self.path}: {exc.strerror}") from exc
        self.stale_holder = self._read_holder(fd)  # left by a process that died holding it
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(holder.to_dict()).encode())
        os.fsync(fd)
        self._fd = fd
        return None

    def release_lock(self, holder: LockHolder) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def lock_status(self) -> LockHolder | None:
        """The live holder, or None when nobody holds the lock."""
        if not self.path.exists():
            return None
        fd = self._open()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return self._read_holder(fd) or LockHolder.unknown()
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def break_lock(self, lock_id: str) -> None:
        holder = self.lock_status()
        if holder is None:
            raise StoreError(f"lock {lock_id} is not held; nothing to break")
        if holder.lock_id != lock_id:
            raise StoreError(
                f"lock {lock_id} is not the current lock; it is held by {holder.describe()}"
            )
        raise StoreError(
            f"lock {lock_id} on {self.path} is held by a live process ({holder.describe()}); "
            "a file lock dies with its process: stop that process to release it"
        )
