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
import hashlib
import os
import re
import stat
from pathlib import Path

SUFFIX = ".tmp"


def _host_tag() -> str:
    return hashlib.sha256(os.uname().nodename.encode()).hexdigest()[:8]


def temp_prefix(target: Path) -> str:
    """The prefix of this process's temporary files for ``target`` (for ``mkstemp``)."""
    return f".{target.name}.{os.getpid()}-{_host_tag()}."


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
        pattern = re.compile(
            re.escape(f".{target.name}.") + r"(?P<pid>\d+)-" + re.escape(tag) + r"\.[^./]+"
            + re.escape(SUFFIX)
        )  # fmt: skip
        try:
            names = os.listdir(target.parent)
        except OSError:
            continue
        for name in names:
            match = pattern.fullmatch(name)
            if match is None:
                continue
            pid = int(match["pid"])
            if pid == os.getpid() or _pid_alive(pid):
                continue
            path = target.parent / name
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(path).st_mode):
                    os.unlink(path)
                    removed.append(path)
    return removed
