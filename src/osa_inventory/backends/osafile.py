"""OSA-compatible file store: ``openstack_inventory.json`` plus its backup tar.

The layout is the one OpenStack-Ansible uses, so OSA's own tools keep working:

* the inventory is a plain JSON file (see :func:`osa_inventory.jsonio.dumps_inventory`);
* earlier versions live in ``backup_openstack_inventory.tar`` next to it, an uncompressed
  tar whose members OSA names ``<file name>-YYYYmmdd_HHMMSS.json`` (UTC). The members
  added here carry a counter as well, ``<file name>-YYYYmmdd_HHMMSS-N.json`` (N = 1, or
  one more than the highest in use for that second), so that they never take a name
  OSA's tools may still give a member in the same second. Members are kept in write
  order, oldest first, and only the newest ``backup_keep`` are kept (the ones shown and
  served).

Unlike OSA, a backup is only taken when a write changes the inventory. Like OSA, a new
backup is appended to the tar, so a write costs the size of one version, not of the
whole tar; the members beyond ``backup_keep`` are dropped now and then, by rewriting the
tar once it holds :func:`prune_slack` more (so it holds at most ``backup_keep +
prune_slack`` members; until then the older ones are neither shown nor served).

An append writes the members' data first and their headers last, so a reader never
sees a member whose data is not there yet. Before it starts, the tar's length is
recorded in ``<tar>.appending`` (0600): while that file exists, whatever lies beyond
that length does not count, and the next writer cuts it off, so an append that died
(or hit a full disk) leaves the previous archive. A rewrite, like the inventory file,
is atomic (temporary file in the same directory, ``fsync``, ``os.replace``, ``fsync``
of the directory). Symbolic links are written through, not replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from osa_inventory.errors import ConfigError, StoreCorrupt, StoreError, StoreUnavailable
from osa_inventory.fileio import NEW_FILE_MODE, NotRegularFile, atomic_write, fsync_dir
from osa_inventory.sealing import parse_stored

if TYPE_CHECKING:  # tarfile, tempfile and datetime are imported when writing, not on reads
    import tarfile

__all__ = ["APPENDING_SUFFIX", "BACKUP_NAME", "FileStore", "prune_slack"]

BACKUP_NAME = "backup_openstack_inventory.tar"
#: ``<tar>.appending`` holds the tar's length while an append is under way
APPENDING_SUFFIX = ".appending"
BLOCK = 512  # a tar block
RECORD = 20 * BLOCK  # tar files are written in records of 20 blocks


def prune_slack(backup_keep: int) -> int:
    """How many members beyond ``backup_keep`` the tar may hold before it is rewritten:
    a third more (at least one), so a write copies a third of a version on average."""
    return max(1, backup_keep // 3)


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

    @property
    def appending_path(self) -> Path:
        """``<tar>.appending``, next to the tar itself (a link to the tar is followed)."""
        return _appending_marker(Path(os.path.realpath(self.backup_path)))

    def backup_members(self) -> list[str]:
        """Names of the kept members of the backup tar (the newest ``backup_keep``), oldest
        first."""
        with _open_tar(self.backup_path) as tar:
            return [m.name for m in self._kept(tar)]

    def _kept(self, tar: _Archive | None) -> list[tarfile.TarInfo]:
        members = [] if tar is None else tar.members
        return members[max(0, len(members) - self.backup_keep) :] if self.backup_keep else []

    def read_backup(self, member: str, sha256: str | None = None) -> dict[str, Any]:
        """Return the inventory stored in backup ``member``.

        Of several members of that name (OSA's tools may add one that shares a name),
        the last one, or with ``sha256`` the one holding bytes of that digest.
        """
        source = f"{self.backup_path}:{member}"
        with _open_tar(self.backup_path) as tar:
            found = [m for m in self._kept(tar) if m.name == member]
            if not found:
                raise StoreError(f"{self.backup_path}: no backup named {member!r}")
            for candidate in reversed(found):
                stream = tar.tar.extractfile(candidate) if tar is not None else None
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
        """Add each ``(data, stat of the file it was)`` to the tar, in order.

        A ``None`` stat stands for bytes not yet in a file: the member gets the
        current time and mode 0600. The members are appended, or when the tar would
        hold more than ``backup_keep`` + :func:`prune_slack` members, the tar is
        rewritten with the newest ``backup_keep``. Returns the new members' names.
        """
        target, tar_stat = self._tar_target()

        with _open_tar(target) as old:
            members = [] if old is None else old.members
            taken = {m.name for m in members}
            infos = []
            for data, data_stat in items:
                info = self._new_member(self._member_name(taken), data, data_stat)
                taken.add(info.name)
                infos.append((info, data))
            try:
                if old is not None and len(members) + len(infos) <= self.backup_keep + (
                    prune_slack(self.backup_keep)
                ):
                    _append(target, old, infos)
                else:
                    self._rewrite(target, tar_stat, old, infos)
            except OSError as exc:
                raise _unavailable("write backup archive", target, exc) from exc
        return [info.name for info, _ in infos]

    def _tar_target(self) -> tuple[Path, os.stat_result | None]:
        """The backup tar's real path (through a symlink), and its stat (None: missing)."""
        target = Path(os.path.realpath(self.backup_path))
        try:
            return target, os.stat(target)
        except FileNotFoundError:
            return target, None
        except OSError as exc:
            raise _unavailable("read backup archive", target, exc) from exc

    def rewrite_members(self, new: dict[str, bytes], *, keep_old: bool) -> None:
        """Rewrite the tar with the members named in ``new`` holding those bytes (``rekey``).

        ``keep_old``: each old member stays, its new bytes following it under the same
        name (readers pick a member by the digest the history records, so the history
        may then switch over); else only the new bytes stay. Members not named in
        ``new`` are left out either way.
        """
        import io
        import tarfile

        target, tar_stat = self._tar_target()
        with _open_tar(target) as old:
            members = [] if old is None else old.members

            def fill(f: BinaryIO) -> None:
                with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    written = set()
                    for member in members:
                        if member.name not in new or member.name in written:
                            continue
                        if keep_old and old is not None and member.isreg():
                            tar.addfile(member, old.tar.extractfile(member))
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
        _forget_append(_appending_marker(target))

    @staticmethod
    def _new_member(name: str, data: bytes, data_stat: os.stat_result | None) -> tarfile.TarInfo:
        import tarfile
        import time

        info = tarfile.TarInfo(name)
        info.size = len(data)
        if data_stat is None:
            info.mtime, info.mode = int(time.time()), NEW_FILE_MODE
            info.uid, info.gid = os.getuid(), os.getgid()
        else:
            info.mtime = int(data_stat.st_mtime)
            info.mode = stat.S_IMODE(data_stat.st_mode)
            info.uid, info.gid = data_stat.st_uid, data_stat.st_gid
        return info

    def _rewrite(
        self,
        target: Path,
        tar_stat: os.stat_result | None,
        old: _Archive | None,
        infos: list[tuple[tarfile.TarInfo, bytes]],
    ) -> None:
        """Replace the tar by its newest ``backup_keep`` members, the new ones included."""
        import io
        import tarfile

        members = [] if old is None else old.members
        kept = members[max(0, len(members) - self.backup_keep + len(infos)) :]

        def fill(f: BinaryIO) -> None:
            with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as new:
                if old is not None:
                    for member in kept:
                        stream = old.tar.extractfile(member) if member.isreg() else None
                        new.addfile(member, stream)
                for info, data in infos[-self.backup_keep :]:
                    new.addfile(info, io.BytesIO(data))

        atomic_write(target, fill, tar_stat)
        _forget_append(_appending_marker(target))

    def _member_name(self, taken: set[str]) -> str:
        """A member name for now with its counter: one more than any in ``taken`` for the
        same second (OSA's own name for that second, without a counter, counts as 0)."""
        from datetime import UTC, datetime

        base = f"{self.path.name}-{datetime.now(UTC):%Y%m%d_%H%M%S}"
        used = [count for name in taken if (count := _counter(name, base)) is not None]
        return f"{base}-{max(used, default=0) + 1}.json"


def _counter(name: str, base: str) -> int | None:
    """N for a member named ``<base>-<N>.json``, 0 for ``<base>.json``, else None."""
    if name == f"{base}.json":
        return 0
    if not (name.startswith(f"{base}-") and name.endswith(".json")):
        return None
    digits = name[len(base) + 1 : -len(".json")]
    return int(digits) if digits.isdecimal() else None


def backup_name_for(inventory_file: str) -> str:
    """OSA's tar name for its own file; ``backup_<stem>.tar`` for any other inventory."""
    if inventory_file == "openstack_inventory.json":
        return BACKUP_NAME
    return f"backup_{Path(inventory_file).stem}.tar"


def _unavailable(action: str, path: os.PathLike[str] | str, exc: OSError) -> StoreUnavailable:
    return StoreUnavailable(f"cannot {action} {path}: {exc.strerror or exc}")


@dataclass
class _Archive:
    """A backup tar opened for reading, as far as it counts."""

    file: BinaryIO
    tar: tarfile.TarFile
    #: its members, but those beyond an append under way (or one that died)
    members: list[tarfile.TarInfo]
    #: where the next member goes: the end of the last member that counts
    end: int
    #: ``<tar>.appending``, when it exists
    appending: Path | None


@contextlib.contextmanager
def _open_tar(path: Path) -> Iterator[_Archive | None]:
    """Open the tar at ``path`` for reading; None when it is missing or empty.

    A reader that finds it damaged looks once more: it may have met a writer's
    append halfway (the data written, the headers not yet).
    """
    import tarfile

    try:
        archive = _read_archive(path)
    except _Damaged:
        try:
            archive = _read_archive(path)
        except _Damaged as exc:
            raise _corrupt(path, exc) from exc
    if archive is None:
        yield None
        return
    with archive.file, archive.tar:
        try:
            yield archive
        except tarfile.TarError as exc:
            raise _corrupt(path, exc) from exc


def _corrupt(path: Path, problem: Exception) -> StoreCorrupt:
    return StoreCorrupt(f"backup archive {path} is unreadable ({problem}); move it aside and retry")


def _read_archive(path: Path) -> _Archive | None:
    import tarfile

    real = Path(os.path.realpath(path))
    marker = _appending_marker(real)
    limit = _append_start(marker)
    try:
        f = open(real, "rb")  # noqa: SIM115 - closed by _open_tar, or below
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unavailable("read backup archive", path, exc) from exc
    try:
        if os.fstat(f.fileno()).st_size == 0:
            f.close()
            return None
        tar = tarfile.open(fileobj=f, mode="r:")  # noqa: SIM115 - closed by _open_tar
        members = _members(tar, f, limit)
    except tarfile.TarError as exc:
        f.close()
        raise _Damaged(str(exc)) from exc
    except BaseException:
        f.close()
        raise
    end = tar.offset if limit is None else limit
    return _Archive(f, tar, members, end, marker if limit is not None else None)


class _Damaged(Exception):
    """A tar that tarfile does not read, or not to its end."""


def _members(tar: tarfile.TarFile, f: BinaryIO, limit: int | None) -> list[tarfile.TarInfo]:
    """The members that count; _Damaged when the tar is not whole up to its end.

    Only zeros may follow the last member: tarfile stops at a zeroed header, and a
    write would then drop every member after it (all of them, for the first). While
    an append is under way (``limit``: where it started) what follows that point
    does not count, but every member before it must be there.
    """
    import tarfile

    read: list[tarfile.TarInfo] = []
    try:
        for member in tar:  # one by one: those read before an error are kept
            read.append(member)
    except tarfile.TarError as exc:
        if limit is None:
            raise _Damaged(str(exc)) from exc
    if limit is not None:
        counted = [m for m in read if m.offset < limit]
        last_end = _end_of(counted[-1]) if counted else 0
        if last_end != limit:
            raise _Damaged(f"a member before byte {limit}, where an append started, is missing")
        return counted
    size = os.fstat(f.fileno()).st_size
    if tar.offset > size:
        raise _Damaged("truncated: its last member ends after the end of the file")
    f.seek(tar.offset)
    while block := f.read(1 << 16):
        if block.count(0) != len(block):
            raise _Damaged(f"data after the end of the archive at byte {tar.offset}")
    return read


def _end_of(member: tarfile.TarInfo) -> int:
    return member.offset_data + _padded(member.size)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _appending_marker(tar: Path) -> Path:
    return tar.with_name(tar.name + APPENDING_SUFFIX)


def _append_start(marker: Path) -> int | None:
    """Where the append recorded in ``marker`` started (None: no append under way)."""
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unavailable("read", marker, exc) from exc
    with os.fdopen(fd, "rb") as handle:
        text = handle.read(64) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    if not text.strip().isdigit():
        raise StoreCorrupt(f"{marker} is unreadable (not a length); move it aside and retry")
    return int(text)


def _append(target: Path, old: _Archive, infos: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    """Append ``infos`` at ``old.end``: data first, then the headers; the tar is as
    it was (but for zeros) when this raises."""
    import tarfile

    start = old.end
    marker = _appending_marker(target)
    fd = os.open(target, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise NotRegularFile(target, "a special file")
        if old.appending is not None:  # one that died: what it left does not count
            os.ftruncate(fd, start)
        size_before = os.fstat(fd).st_size
        atomic_write(marker, lambda f: f.write(str(start).encode()), None)
        written = [size_before, 0]  # the range of old bytes overwritten so far (low, high)
        try:
            headers = [
                info.tobuf(tarfile.PAX_FORMAT, old.tar.encoding, "surrogateescape")
                for info, _ in infos
            ]
            places, position = [], start
            for header, (_, data) in zip(headers, infos, strict=True):
                places.append(position)  # zeros until the data is safe
                position += len(header)
                _write_at(fd, data, position, written)
                position += _padded(len(data))
            os.ftruncate(fd, -(-(position + 2 * BLOCK) // RECORD) * RECORD)
            os.fsync(fd)
            for place, header in reversed(list(zip(places, headers, strict=True))):
                _write_at(fd, header, place, written)  # the first member's header last
            os.fsync(fd)
        except BaseException:
            _undo_append(fd, written, size_before, marker)
            raise
    finally:
        os.close(fd)
    _forget_append(marker)


def _write_at(fd: int, data: bytes, offset: int, written: list[int]) -> None:
    """Write all of ``data`` at ``offset``; ``written`` (low, high) grows as it goes."""
    view = memoryview(data)
    written[0] = min(written[0], offset)
    while view:
        count = os.pwrite(fd, view, offset)
        view, offset = view[count:], offset + count
        written[1] = max(written[1], offset)


def _undo_append(fd: int, written: list[int], size_before: int, marker: Path) -> None:
    """Put the tar back as it was before an append: its length, and zeros where the
    append overwrote the zeros that followed the last member."""
    low, high = written[0], min(written[1], size_before)
    try:
        os.ftruncate(fd, size_before)
        if high > low:
            os.pwrite(fd, bytes(high - low), low)
        os.fsync(fd)
    except OSError:
        return  # the marker stays: what follows ``start`` does not count
    _forget_append(marker)


def _forget_append(marker: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(marker)
        fsync_dir(marker.parent)
