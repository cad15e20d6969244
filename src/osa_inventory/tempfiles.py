"""Temporary files of atomic writes: named after their writer, removed once it died.

A writer killed with ``kill -9`` between creating its temporary file and
renaming it leaves the file behind (as large as an inventory or its backup
tar). Each temporary file's name carries the writer's process id and a tag of
its host, ``.<target>.<pid>-<host tag>.<random>.tmp``, so a later writer can
tell which ones belong to a process of this host that no longer runs, and only
those are removed. A live writer's file, another host's (a shared directory)
and anything else are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from pathlib import Path

SUFFIX = ".tmp"
#: as ``tempfile.mkstemp`` opens its file: created here and now, no link followed
_NEW_ONLY = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ATTEMPTS = 100


def _host_tag() -> str:
    return hashlib.sha256(os.uname().nodename.encode()).hexdigest()[:8]


def temp_prefix(target: Path) -> str:
    """The prefix of this process's temporary files for ``target`` (for ``mkstemp``)."""
    return f".{target.name}.{os.getpid()}-{_host_tag()}."


def create_temp_file(target: Path) -> tuple[int, str]:
    """A new temporary file for ``target`` in its directory, mode 0600: (open fd, path).

    What ``tempfile.mkstemp(prefix=temp_prefix(target), suffix=SUFFIX, dir=target.parent)``
    does, without importing tempfile (and random) into every writing run.
    """
    prefix = os.path.join(target.parent, temp_prefix(target))
    for _ in range(_ATTEMPTS):
        path = f"{prefix}{os.urandom(6).hex()}{SUFFIX}"
        try:
            return os.open(path, _NEW_ONLY, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name", str(target.parent))


def _writer_pid(name: str, prefix: str, tag: str) -> int | None:
    """The writer's pid when ``name`` is ``<prefix><pid>-<tag>.<random>.tmp``, else None."""
    if not (name.startswith(prefix) and name.endswith(SUFFIX)):
        return None
    pid, dash, rest = name[len(prefix) : len(name) - len(SUFFIX)].partition("-")
    random = rest[len(tag) + 1 :]
    if not (pid.isdecimal() and dash and rest.startswith(f"{tag}.") and random):
        return None
    return None if "." in random or "/" in random else int(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temp_files(*targets: Path) -> list[Path]:
    """Remove the temporary files left next to ``targets`` by writers that died.

    Returns what was removed. Never raises: a file that cannot be removed stays.
    """
    removed = []
    tag = _host_tag()
    for target in targets:
        prefix = f".{target.name}."
        try:
            names = os.listdir(target.parent)
        except OSError:
            continue
        for name in names:
            pid = _writer_pid(name, prefix, tag)
            if pid is None or pid == os.getpid() or _pid_alive(pid):
                continue
            path = target.parent / name
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(path).st_mode):
                    os.unlink(path)
                    removed.append(path)
    return removed
