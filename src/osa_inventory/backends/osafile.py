"""OSA-compatible file store: ``openstack_inventory.json`` plus its backup tar.

The layout is the one OpenStack-Ansible uses, so OSA's own tools keep working:

* the inventory is a plain JSON file (see :func:`osa_inventory.jsonio.dumps_inventory`);
* earlier versions live in ``backup_openstack_inventory.tar`` next to it, an uncompressed
  tar whose members are named ``<file name>-YYYYmmdd_HHMMSS.json``. Like OSA, the
  timestamp is UTC. Names are unique: when the tar already holds a backup from the same
  second, ``-1``, ``-2``, ... (one more than the highest in use) goes before ``.json``.
  Members are kept in write order, oldest first, and only the newest ``backup_keep``
  are kept.

Unlike OSA, a backup is only taken when a write changes the inventory, and both files
are replaced atomically (temporary file in the same directory, ``fsync``, ``os.replace``,
``fsync`` of the directory): a crash leaves the previous or the new version of each
file, never a truncated one. Symbolic links are written through, not replaced.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from osa_inventory.errors import ConfigError, StoreCorrupt, StoreError, StoreUnavailable
from osa_inventory.fileio import atomic_write, parse_bytes

if TYPE_CHECKING:  # tarfile, tempfile and datetime are imported when writing, not on reads
    import tarfile

__all__ = ["BACKUP_NAME", "FileStore"]

BACKUP_NAME = "backup_openstack_inventory.tar"


class FileStore:
    """The tar of earlier versions next to an OSA-compatible inventory file.

    The file itself, and the history, are the file backend's
    (:mod:`osa_inventory.backends.file`).
    """

    def __init__(self, path: str | os.PathLike[str], backup_keep: int = 15) -> None:
        """Store the inventory in ``path``; keep at most ``backup_keep`` backups (0: none)."""
        if backup_keep < 0:
            raise ConfigError(f"backup_keep must be 0 or more, not {backup_keep}")
        self.path = Path(path)
        self.backup_path = self.path.with_name(backup_name_for(self.path.name))
        self.backup_keep = backup_keep

    def backup_members(self) -> list[str]:
        """Names of the members of the backup tar, oldest first."""
        with _open_tar(self.backup_path) as tar:
            return [] if tar is None else tar.getnames()

    def read_backup(self, member: str) -> dict[str, Any]:
        """Return the inventory stored in backup ``member`` (the last one of that name)."""
        source = f"{self.backup_path}:{member}"
        with _open_tar(self.backup_path) as tar:
            if tar is None or member not in tar.getnames():
                raise StoreError(f"{self.backup_path}: no backup named {member!r}")
            stream = tar.extractfile(member)
            if stream is None:
                raise StoreCorrupt(f"{source}: not a regular file")
            return parse_bytes(stream.read(), source)

    def backup(self, data: bytes, data_stat: os.stat_result) -> str:
        """Add ``data`` to the backup tar, dropping the oldest members beyond the limit.

        Returns the new member's name.
        """
        target = Path(os.path.realpath(self.backup_path))
        try:
            tar_stat: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            tar_stat = None
        except OSError as exc:
            raise _unavailable("read backup archive", target, exc) from exc

        with _open_tar(target) as old:
            members = [] if old is None else old.getmembers()
            import io
            import tarfile

            info = tarfile.TarInfo(self._member_name({m.name for m in members}))
            info.size = len(data)
            info.mtime = int(data_stat.st_mtime)
            info.mode = stat.S_IMODE(data_stat.st_mode)
            info.uid, info.gid = data_stat.st_uid, data_stat.st_gid
            kept = members[max(0, len(members) - self.backup_keep + 1) :]

            def fill(f: BinaryIO) -> None:
                with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as new:
                    if old is not None:
                        for member in kept:
                            stream = old.extractfile(member) if member.isreg() else None
                            new.addfile(member, stream)
                    new.addfile(info, io.BytesIO(data))

            try:
                atomic_write(target, fill, tar_stat)
            except OSError as exc:
                raise _unavailable("write backup archive", target, exc) from exc
        return info.name

    def _member_name(self, taken: set[str]) -> str:
        """A backup member name for now, numbered after any in ``taken`` for the same second."""
        from datetime import UTC, datetime

        base = f"{self.path.name}-{datetime.now(UTC):%Y%m%d_%H%M%S}"
        same_second = re.compile(re.escape(base) + r"(?:-(\d+))?\.json")
        used = [int(m[1] or 0) for name in taken if (m := same_second.fullmatch(name))]
        return f"{base}-{max(used) + 1}.json" if used else f"{base}.json"


def backup_name_for(inventory_file: str) -> str:
    """OSA's tar name for its own file; ``backup_<stem>.tar`` for any other inventory."""
    if inventory_file == "openstack_inventory.json":
        return BACKUP_NAME
    return f"backup_{Path(inventory_file).stem}.tar"


def _unavailable(action: str, path: os.PathLike[str] | str, exc: OSError) -> StoreUnavailable:
    return StoreUnavailable(f"cannot {action} {path}: {exc.strerror or exc}")


@contextlib.contextmanager
def _open_tar(path: Path) -> Iterator[tarfile.TarFile | None]:
    """Open the tar at ``path`` for reading; None when it is missing or empty."""
    import tarfile

    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with block below
    except FileNotFoundError:
        f = None
    except OSError as exc:
        raise _unavailable("read backup archive", path, exc) from exc
    if f is None:
        yield None
        return
    with f:
        try:
            if os.fstat(f.fileno()).st_size == 0:
                yield None
                return
            with tarfile.open(fileobj=f, mode="r:") as tar:
                yield tar
        except tarfile.TarError as exc:
            raise StoreCorrupt(
                f"backup archive {path} is unreadable ({exc}); move it aside and retry"
            ) from exc
