"""OSA-compatible file store: ``openstack_inventory.json`` plus its backup tar.

The layout is the one OpenStack-Ansible uses, so OSA's own tools keep working:

* the inventory is a plain JSON file (see :func:`osa_inventory.jsonio.dumps_inventory`);
* earlier versions live in ``backup_openstack_inventory.tar`` next to it, an uncompressed
  tar whose members OSA names ``<file name>-YYYYmmdd_HHMMSS.json`` (UTC). The members
  added here carry a counter as well, ``<file name>-YYYYmmdd_HHMMSS-N.json`` (N = 1, or
  one more than the highest in use for that second), so that they never take a name
  OSA's tools may still give a member in the same second. Members are kept in write
  order, oldest first, and only the newest ``backup_keep`` are kept.

Unlike OSA, a backup is only taken when a write changes the inventory, and both files
are replaced atomically (temporary file in the same directory, ``fsync``, ``os.replace``,
``fsync`` of the directory): a crash leaves the previous or the new version of each
file, never a truncated one. Symbolic links are written through, not replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from osa_inventory.errors import ConfigError, StoreCorrupt, StoreError, StoreUnavailable
from osa_inventory.fileio import NEW_FILE_MODE, atomic_write
from osa_inventory.sealing import parse_stored

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

    def read_backup(self, member: str, sha256: str | None = None) -> dict[str, Any]:
        """Return the inventory stored in backup ``member``.

        Of several members of that name (OSA's tools may add one that shares a name),
        the last one, or with ``sha256`` the one holding bytes of that digest.
        """
        source = f"{self.backup_path}:{member}"
        with _open_tar(self.backup_path) as tar:
            found = [] if tar is None else [m for m in tar.getmembers() if m.name == member]
            if not found:
                raise StoreError(f"{self.backup_path}: no backup named {member!r}")
            for candidate in reversed(found):
                stream = tar.extractfile(candidate) if tar is not None else None
                if stream is None:
                    raise StoreCorrupt(f"{source}: not a regular file")
                data = stream.read()
                if sha256 is None or hashlib.sha256(data).hexdigest() == sha256:
                    return parse_stored(data, source)
            raise StoreCorrupt(
                f"backup archive {self.backup_path} is damaged ({member} does not hold what the "
                "history recorded); move it aside and retry"
            )

    def backup(self, data: bytes, data_stat: os.stat_result | None) -> str:
        """Add ``data`` to the backup tar, dropping the oldest members beyond the limit.

        Returns the new member's name.
        """
        return self.add_backups([(data, data_stat)])[0]

    def add_backups(self, items: list[tuple[bytes, os.stat_result | None]]) -> list[str]:
        """Add each ``(data, stat of the file it was)`` to the tar in one rewrite.

        A ``None`` stat stands for bytes not yet in a file: the member gets the
        current time and mode 0600. Returns the new members' names, in order.
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
            import time

            taken = {m.name for m in members}
            infos = []
            for data, data_stat in items:
                info = tarfile.TarInfo(self._member_name(taken))
                taken.add(info.name)
                info.size = len(data)
                if data_stat is None:
                    info.mtime, info.mode = int(time.time()), NEW_FILE_MODE
                    info.uid, info.gid = os.getuid(), os.getgid()
                else:
                    info.mtime = int(data_stat.st_mtime)
                    info.mode = stat.S_IMODE(data_stat.st_mode)
                    info.uid, info.gid = data_stat.st_uid, data_stat.st_gid
                infos.append((info, data))
            kept = members[max(0, len(members) - self.backup_keep + len(infos)) :]

            def fill(f: BinaryIO) -> None:
                with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as new:
                    if old is not None:
                        for member in kept:
                            stream = old.extractfile(member) if member.isreg() else None
                            new.addfile(member, stream)
                    for info, data in infos[-self.backup_keep :]:
                        new.addfile(info, io.BytesIO(data))

            try:
                atomic_write(target, fill, tar_stat)
            except OSError as exc:
                raise _unavailable("write backup archive", target, exc) from exc
        return [info.name for info, _ in infos]

    def rewrite_members(self, new: dict[str, bytes], *, keep_old: bool) -> None:
        """Rewrite the tar with the members named in ``new`` holding those bytes (``rekey``).

        ``keep_old``: each old member stays, its new bytes following it under the same
        name (readers pick a member by the digest the history records, so the history
        may then switch over); else only the new bytes stay. Members not named in
        ``new`` are left out either way.
        """
        import io
        import tarfile

        target = Path(os.path.realpath(self.backup_path))
        try:
            tar_stat: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            tar_stat = None
        except OSError as exc:
            raise _unavailable("read backup archive", target, exc) from exc
        with _open_tar(target) as old:
            members = [] if old is None else old.getmembers()

            def fill(f: BinaryIO) -> None:
                with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    written = set()
                    for member in members:
                        if member.name not in new or member.name in written:
                            continue
                        if keep_old and old is not None and member.isreg():
                            tar.addfile(member, old.extractfile(member))
                        info = tarfile.TarInfo(member.name)
                        info.size, info.mtime = len(new[member.name]), member.mtime
                        info.mode = 0o600
                        info.uid, info.gid = member.uid, member.gid
                        tar.addfile(info, io.BytesIO(new[member.name]))
                        written.add(member.name)

            try:
                atomic_write(target, fill, tar_stat)
            except OSError as exc:
                raise _unavailable("write backup archive", target, exc) from exc

    def _member_name(self, taken: set[str]) -> str:
        """A member name for now with its counter: one more than any in ``taken`` for the
        same second (OSA's own name for that second, without a counter, counts as 0)."""
        from datetime import UTC, datetime

        base = f"{self.path.name}-{datetime.now(UTC):%Y%m%d_%H%M%S}"
        same_second = re.compile(re.escape(base) + r"(?:-(\d+))?\.json")
        used = [int(m[1] or 0) for name in taken if (m := same_second.fullmatch(name))]
        return f"{base}-{max(used, default=0) + 1}.json"


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
                _check_whole(tar, f)
                yield tar
        except (tarfile.TarError, _Damaged) as exc:
            raise StoreCorrupt(
                f"backup archive {path} is unreadable ({exc}); move it aside and retry"
            ) from exc


class _Damaged(Exception):
    """A tar that tarfile reads without complaint, but not to its end."""


def _check_whole(tar: tarfile.TarFile, f: BinaryIO) -> None:
    """Only zeros may follow the last member: tarfile stops at a zeroed header, and a
    write would then drop every member after it (all of them, for the first)."""
    tar.getmembers()
    if tar.offset > os.fstat(f.fileno()).st_size:
        raise _Damaged("truncated: its last member ends after the end of the file")
    f.seek(tar.offset)
    while block := f.read(1 << 16):
        if block.count(0) != len(block):
            raise _Damaged(f"data after the end of the archive at byte {tar.offset}")
