"""An exclusive lock on a local file (``flock``), with its holder written inside.

The kernel drops an ``flock`` when its process dies, so a dead holder never
blocks anyone, and a holder the lock reports is alive; the holder record a dead
process left behind is only reported (and overwritten) by the next taker. Used
by the file backend (lock file beside the inventory) and by the front end for
plugins that bring no lock of their own (in a directory of the user's own).

The lock file is opened without following a symbolic link (``O_NOFOLLOW``), so
a link planted in its place makes the lock fail instead of truncating the file
it points to. It is created 0600 and removed on release: a taker that finds it
was removed meanwhile (its lock is then on a file nobody else will see) starts
again on the file now at the path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
from pathlib import Path

from osa_inventory.errors import StoreError, StoreUnavailable
from osa_inventory.fileio import NEW_FILE_MODE, check_private
from osa_inventory.store.backend import LockHolder

PRIVATE_DIR_MODE = 0o700
ATTEMPTS = 20  # a path that keeps being removed under us: give up after this many


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_private_dir(path: Path, what: str) -> int:
    """Create ``path`` (mode 0700) if missing, open it without following a link, check it."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE_DIR_MODE)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise StoreError(
                f"{what} {path} is not a directory (a symbolic link or a file); remove it "
                f"(rm {path}) and retry"
            ) from exc
        raise StoreUnavailable(f"cannot open {what} {path}: {exc.strerror}") from exc
    try:
        check_private(os.fstat(fd), path, what)
    except BaseException:
        os.close(fd)
        raise
    return fd


class FileLock:
    """``acquire_lock``/``release_lock``/``lock_status``/``break_lock`` on one file.

    ``private_dir``: the lock's directory must be this user's own, mode 0700
    (created so when missing): the front end's locks live in a shared place
    such as ``/tmp``.
    """

    def __init__(self, path: str | os.PathLike[str], *, private_dir: bool = False) -> None:
        self.path = Path(path)
        self.private_dir = private_dir
        self._held: tuple[int, int] | None = None  # (directory fd, lock file fd)
        self.stale_holder: LockHolder | None = None

    # -- opening --

    def _open_dir(self, create: bool) -> int | None:
        directory = self.path.parent
        if self.private_dir:
            if not create and not os.path.lexists(directory):
                return None
            return open_private_dir(directory, "lock directory")
        try:
            if create:
                directory.mkdir(parents=True, exist_ok=True)
            return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            if create:
                raise StoreUnavailable(
                    f"cannot open lock file {self.path}: no such directory"
                ) from exc
            return None
        except OSError as exc:
            raise StoreUnavailable(f"cannot open lock file {self.path}: {exc.strerror}") from exc

    def _open_file(self, dir_fd: int, create: bool) -> int | None:
        """The lock file (created 0600 when ``create``), never through a symbolic link."""
        name = self.path.name
        flags = (os.O_RDWR if create else os.O_RDONLY) | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            if create:
                try:
                    fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE, dir_fd=dir_fd)
                    os.fchmod(fd, NEW_FILE_MODE)
                    return fd
                except FileExistsError:
                    pass
            fd = os.open(name, flags, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StoreError(
                    f"lock file {self.path} is a symbolic link; remove it (rm {self.path}) "
                    "and retry"
                ) from exc
            raise StoreUnavailable(f"cannot open lock file {self.path}: {exc.strerror}") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoreError(f"lock file {self.path} is not a regular file; remove it and retry")
        return fd

    def _still_at_path(self, dir_fd: int, fd: int) -> bool:
        """Whether ``fd`` is still the file at the path (a releasing holder removes it)."""
        try:
            at_path = os.stat(self.path.name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (at_path.st_dev, at_path.st_ino) == (mine.st_dev, mine.st_ino)

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

    # -- the lock capability --

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        """Take the lock without waiting: None on success, else the holder (if known)."""
        dir_fd = self._open_dir(create=True)
        assert dir_fd is not None
        try:
            for _ in range(ATTEMPTS):
                fd = self._open_file(dir_fd, create=True)
                if fd is None:
                    continue  # removed between creating and opening it: start again
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    current = self._read_holder(fd)
                    os.close(fd)
                    if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        return current or LockHolder.unknown()
                    raise StoreUnavailable(f"cannot lock {self.path}: {exc.strerror}") from exc
                if not self._still_at_path(dir_fd, fd):
                    os.close(fd)  # locked a file its holder removed: take the one there now
                    continue
                self.stale_holder = self._read_holder(fd)  # left by a process that died
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, json.dumps(holder.to_dict()).encode())
                os.fsync(fd)
                self._held, dir_fd = (dir_fd, fd), -1
                return None
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
        raise StoreUnavailable(f"cannot lock {self.path}: it keeps being replaced; retry")

    def release_lock(self, holder: LockHolder) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        dir_fd, fd = held
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                if self._still_at_path(dir_fd, fd):
                    os.unlink(self.path.name, dir_fd=dir_fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            os.close(dir_fd)

    def holder_alive(self, holder: LockHolder) -> bool:
        """A holder this lock reports holds a live ``flock``: the kernel frees a dead one's."""
        return True

    def lock_status(self) -> LockHolder | None:
        """The live holder, or None when nobody holds the lock."""
        dir_fd = self._open_dir(create=False)
        if dir_fd is None:
            return None
        try:
            fd = self._open_file(dir_fd, create=False)
        finally:
            os.close(dir_fd)
        if fd is None:
            return None
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
