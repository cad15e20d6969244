"""``file``: the default backend, OSA's ``openstack_inventory.json`` with history.

Files in the inventory's directory (OSA's own tools keep reading the first two):

``openstack_inventory.json``
    the current version, written atomically;
``backup_openstack_inventory.tar``
    the versions, one member each (see :mod:`osa_inventory.backends.osafile`);
``openstack_inventory.history.json``
    the history: lineage and, per retained version, number, time, actor,
    command, message, SHA-256 of the content and the tar member holding it;
``openstack_inventory.json.lock``
    the writers' ``flock``, with the holder written inside.

A write adds the new version to the tar (and the current file too, when no
member holds it yet: an adopted file or one changed outside), then writes the
history naming the new version, then replaces the inventory file. Every version
written here is in the tar from the start, so a file changed by someone else
(OSA's own tools, an editor, a restore from the tar) becomes a version of its
own while the one it replaced stays readable. Versions are matched to content
by digest, so a crash between steps is harmless: a history entry whose write
never replaced the file (the file is still the very one it found) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from osa_inventory.backends.filehistory import parse_history
from osa_inventory.backends.osafile import FileStore
from osa_inventory.debuglog import debug
from osa_inventory.errors import ConfigError, StaleWrite, StoreCorrupt, StoreError, StoreUnavailable
from osa_inventory.fileio import atomic_write
from osa_inventory.inventory import empty_inventory
from osa_inventory.sealing import parse_stored, stored_bytes
from osa_inventory.store.backend import (
    UNASSIGNED_LINEAGE,
    Backend,
    LockHolder,
    Option,
    Retention,
    VersionInfo,
    WriteMeta,
    fingerprint_extra,
    new_lineage,
)
from osa_inventory.store.filelock import FileLock

INVENTORY_FILE = "openstack_inventory.json"
HISTORY_SUFFIX = ".history.json"
LOCK_SUFFIX = ".lock"
OUTSIDE = "changed outside osa-inventory"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Entry:
    info: VersionInfo
    sha256: str
    member: str | None  # tar member holding it; None for the current file
    #: the bytes are osa-inventory's canonical serialisation (written by write_version)
    canonical: bool = False
    #: (inode, ctime in ns) of the file this version's write set out to replace
    replaces: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.info.to_dict()
        data.pop("lineage")
        extra = data.pop("extra")
        for key in ("fingerprint", "warnings"):
            if extra.get(key):
                data[key] = extra[key]
        data.update(sha256=self.sha256, member=self.member)
        if self.canonical:
            data["canonical"] = True
        if self.replaces:
            data["replaces"] = list(self.replaces)
        return data


@dataclass
class _State:
    """The history as it stands against the current inventory file."""

    lineage: str | None
    entries: list[_Entry]
    current: bytes | None

    @property
    def head(self) -> _Entry | None:
        return self.entries[-1] if self.entries else None


class FileBackend(Backend):
    name = "file"
    options: ClassVar[dict[str, Option]] = {
        "path": Option(str, None, "the inventory JSON file", required=True),
        "backup_keep": Option(int, 15, "versions kept in the backup tar"),
    }

    def configure(self) -> None:
        self.path = Path(self.config["path"])
        if self.config["backup_keep"] < 1:
            raise ConfigError(f"backend file: backup_keep must be 1 or more for {self.path}")
        _check_own_files(self.path)
        self.files = FileStore(self.path, backup_keep=self.config["backup_keep"])
        self.history_path = self.path.with_name(self.path.stem + HISTORY_SUFFIX)
        self.lock = FileLock(self.path.with_name(self.path.name + LOCK_SUFFIX))

    url_schemes: ClassVar[tuple[str, ...]] = ("file",)
    #: after acquire_lock: the holder of a lock file whose process died
    stale_holder: LockHolder | None = None

    @classmethod
    def default_options(cls, config_dir: str | None, name: str) -> dict[str, str]:
        """OSA's file in the config dir; ``openstack_inventory.NAME.json`` for a named one."""
        if config_dir is None:
            return {}
        file_name = INVENTORY_FILE if name == "default" else f"openstack_inventory.{name}.json"
        return {"path": str(Path(config_dir) / file_name)}

    @classmethod
    def options_from_url(cls, url: str) -> dict[str, str]:
        """``file:///DIR/openstack_inventory.json[?backup_keep=N]``."""
        from urllib.parse import parse_qsl, unquote, urlsplit

        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(
                f"{url}: a file URL names a local path; write it like "
                "file:///etc/openstack_deploy/openstack_inventory.json"
            )
        if not parts.path:
            raise ConfigError(f"{url}: the file URL names no file")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        return {**options, "path": unquote(parts.path)}

    def describe(self) -> str:
        return f"file:{self.path}"

    def retention(self) -> Retention:
        """``backup_keep`` versions in the tar, the current one included."""
        keep = int(self.config["backup_keep"])
        return Retention("backup_keep", keep, keep)

    # -- the three methods --

    def load(self) -> dict[str, Any]:
        data = self._read_current()
        return empty_inventory() if data is None else parse_stored(data, str(self.path))

    def write(self, inventory: dict[str, Any]) -> None:
        self.write_version(inventory, WriteMeta.for_this_process(), self.head())

    # -- reading the history --

    def _read_current(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {self.path}: {exc.strerror}") from exc

    def _read_history(self) -> tuple[str | None, list[_Entry]]:
        try:
            data = self.history_path.read_bytes()
        except FileNotFoundError:
            return None, []
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {self.history_path}: {exc.strerror}") from exc
        raw = parse_history(data, self.history_path)
        lineage = raw.get("lineage")
        entries = []
        for item in raw.get("versions", []):
            item = dict(item)
            sha, member = item.pop("sha256"), item.pop("member", None)
            canonical = bool(item.pop("canonical", False))
            replaced = item.pop("replaces", None)
            replaces = (int(replaced[0]), int(replaced[1])) if replaced else None
            extra = fingerprint_extra(item.pop("fingerprint", ""), item.pop("warnings", []))
            info = VersionInfo.from_dict({**item, "lineage": lineage, "extra": extra})
            entries.append(_Entry(info, sha, member, canonical, replaces))
        return lineage, entries

    def _state(self) -> _State:
        """Reconcile the history with the inventory file as it is now."""
        current = self._read_current()
        lineage, entries = self._read_history()
        if current is None:
            return _State(lineage, entries, None)
        sha = self._digest_of(current)
        if entries and entries[-1].sha256 != sha:
            if len(entries) > 1 and entries[-2].sha256 == sha and self._never_replaced(entries[-1]):
                entries = entries[:-1]  # a write died before replacing the file
            else:  # changed outside: OSA's tools, an editor, a restore of an older version
                entries = [*entries, self._outside_entry(lineage, entries, sha)]
        elif not entries:
            entries = [self._outside_entry(lineage, entries, sha)]
        return _State(lineage, entries, current)

    #: the bytes of the file as last read or written here, and their digest
    _last_seen: tuple[bytes, str] | None = None

    def _digest_of(self, current: bytes) -> str:
        """SHA-256 of the file's bytes; not hashed again when they are the bytes last
        seen (a write reads the file it replaces once more: comparing costs less)."""
        if self._last_seen is not None and self._last_seen[0] == current:
            return self._last_seen[1]
        sha = digest(current)
        self._last_seen = (current, sha)
        return sha

    def _never_replaced(self, head: _Entry) -> bool:
        """Whether the file is still the one ``head``'s write found (so the write died).

        A restore of the previous version (same bytes) is a new file, or at least a
        new change time, so it counts as a change made outside instead.
        """
        if head.replaces is None:
            return True  # written before this was recorded: assume the write died
        try:
            now = os.stat(self.path)
        except OSError:
            return False
        return (now.st_ino, now.st_ctime_ns) == head.replaces

    def _outside_entry(self, lineage: str | None, entries: list[_Entry], sha: str) -> _Entry:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = 0.0
        version = entries[-1].info.version + 1 if entries else 1
        message = OUTSIDE if entries else "adopted existing inventory file"
        info = VersionInfo(
            version=version, lineage=lineage or UNASSIGNED_LINEAGE, time=mtime, message=message
        )
        return _Entry(info, sha, None)

    def head(self) -> VersionInfo | None:
        return self._head_of(self._state())

    @staticmethod
    def _head_of(state: _State) -> VersionInfo | None:
        if state.current is None or state.head is None:
            return None
        info = state.head.info
        return replace(info, extra={**info.extra, "digest": state.head.sha256})

    def read_current_bytes(self) -> tuple[VersionInfo | None, bytes | None]:
        """Head and its stored bytes when they are exactly what ``write_version`` wrote.

        The digest recorded in the history vouches for the bytes, so a caller may
        serve them without parsing. ``None`` bytes: not canonical (an adopted or
        hand-edited file), parse it with :meth:`read_current` instead.
        """
        state = self._state()
        head = state.head
        if state.current is None or head is None or not head.canonical:
            return self._head_of(state), None
        return self._head_of(state), state.current

    def read_current(self) -> tuple[VersionInfo | None, dict[str, Any]]:
        """Head and content from one read of the file (no race between the two)."""
        state = self._state()
        if state.current is None:
            return None, empty_inventory()
        return self._head_of(state), parse_stored(state.current, str(self.path))

    def list_versions(self) -> list[VersionInfo]:
        state = self._state()
        members = set(self.files.backup_members())
        return [
            e.info
            for e in state.entries
            if (e is state.head and state.current is not None) or (e.member in members)
        ]

    def read_version(self, version: int) -> dict[str, Any]:
        state = self._state()
        for entry in state.entries:
            if entry.info.version != version:
                continue
            if entry is state.head and state.current is not None:
                return parse_stored(state.current, str(self.path))
            if entry.member:
                return self.files.read_backup(entry.member, entry.sha256)
        raise StoreError(
            f"{self.path}: version {version} is not retained; see 'osa-inventory history'"
        )

    # -- writing --

    def write_version(
        self, inventory: dict[str, Any], meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        return self.write_canonical(stored_bytes(inventory), meta, expected)

    def write_canonical(
        self, new_bytes: bytes, meta: WriteMeta, expected: VersionInfo | None
    ) -> VersionInfo:
        """:meth:`write_version` of the inventory whose canonical bytes are ``new_bytes``."""
        state = self._state()
        current = self._head_of(state)
        if _identity(current) != _identity(expected):
            raise StaleWrite(
                f"{self.path} moved on since it was read; rerun the command to work from the "
                "new version"
            )
        lineage = state.lineage or new_lineage()
        entries = [replace(e, info=replace(e.info, lineage=lineage)) for e in state.entries]
        self._remove_stale_temp_files()
        old_stat = None
        backups: list[tuple[bytes, os.stat_result | None]] = []
        if state.current is not None:
            try:
                old_stat = os.stat(self.path)
            except OSError as exc:
                raise StoreUnavailable(f"cannot stat {self.path}: {exc.strerror}") from exc
            if entries and entries[-1].member is None:  # adopted, or changed outside
                backups.append((state.current, old_stat))
        backups.append((new_bytes, None))
        names = self.files.add_backups(backups)
        if len(names) == 2:
            entries[-1] = replace(entries[-1], member=names[0])
        number = entries[-1].info.version + 1 if entries else (meta.first_version or 1)
        info = meta.new_version(number, lineage)
        replaces = (old_stat.st_ino, old_stat.st_ctime_ns) if old_stat else None
        self._last_seen = (new_bytes, digest(new_bytes))
        entries.append(_Entry(info, self._last_seen[1], names[-1], True, replaces))
        members = set(self.files.backup_members())
        entries = [e for e in entries[:-1] if e.member in members] + entries[-1:]
        self._write_history(lineage, entries)
        try:
            target = Path(os.path.realpath(self.path))  # a symbolic link is written through
            atomic_write(target, lambda f: f.write(new_bytes), old_stat)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        return replace(info, extra={**info.extra, "digest": entries[-1].sha256})

    def overwrite(self, inventory: dict[str, Any], meta: WriteMeta) -> VersionInfo:
        """A new version over a current file that may be damaged: only its digest is read."""
        return self.write_version(inventory, meta, self.head())

    def _remove_stale_temp_files(self) -> None:
        """Temporary files of writers killed mid-write (the lock is held: none is writing)."""
        from osa_inventory.tempfiles import remove_stale_temp_files

        targets = (self.path, self.history_path, self.files.backup_path, self.files.appending_path)
        for path in remove_stale_temp_files(*(Path(os.path.realpath(t)) for t in targets)):
            debug("removed %s, left by a writer that died", path)

    def set_fingerprint(self, version: VersionInfo, fingerprint: str, warnings: list[str]) -> None:
        """Attach an input fingerprint to the head version (the lock is held)."""
        state = self._state()
        if state.head is None or state.head.info.version != version.version:
            return
        lineage = state.lineage or new_lineage()
        entries = [replace(e, info=replace(e.info, lineage=lineage)) for e in state.entries]
        head = entries[-1]
        kept = {k: v for k, v in head.info.extra.items() if k not in ("fingerprint", "warnings")}
        extra = {**kept, **fingerprint_extra(fingerprint, warnings)}
        canonical = head.canonical or self._is_canonical(state.current)
        entries[-1] = replace(head, info=replace(head.info, extra=extra), canonical=canonical)
        self._write_history(lineage, entries)

    def _is_canonical(self, data: bytes | None) -> bool:
        """Whether an adopted file is byte for byte our serialisation (OSA's usually is)."""
        if data is None:
            return False
        try:
            return stored_bytes(parse_stored(data, str(self.path))) == data
        except (StoreCorrupt, UnicodeEncodeError):
            return False

    def rewrite_contents(self, contents: list[tuple[int, dict[str, Any]]]) -> None:
        """New bytes for every retained version (``rekey``; the lock is held).

        In four atomic steps, each leaving every version readable: the tar with the
        new bytes after the old ones, the current file, the history naming the new
        digests, the tar without the old bytes. Members no version names (OSA's own
        backups from before the file was adopted) are left out.
        """
        state = self._state()
        members = set(self.files.backup_members())
        kept = [
            e
            for e in state.entries
            if (e is state.head and state.current is not None) or (e.member in members)
        ]
        if [e.info.version for e in kept] != [number for number, _ in contents]:
            raise StaleWrite(f"{self.path}: the versions changed since they were read; rerun")
        data = {number: stored_bytes(inventory) for number, inventory in contents}
        new = {e.member: data[e.info.version] for e in kept if e.member}
        self.files.rewrite_members(new, keep_old=True)
        head = kept[-1] if state.current is not None else None
        if head is not None:
            try:
                target = Path(os.path.realpath(self.path))
                atomic_write(target, lambda f: f.write(data[head.info.version]), os.stat(target))
            except OSError as exc:
                raise StoreUnavailable(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        entries = [
            replace(e, sha256=digest(data[e.info.version]), canonical=True, replaces=None)
            for e in kept
        ]
        self._write_history(state.lineage or new_lineage(), entries)
        self.files.rewrite_members(new, keep_old=False)

    def redact_history(self, redact: Callable[[str], str]) -> list[int]:
        """Pass each recorded command and message through ``redact``, in place (lock held)."""
        lineage, entries = self._read_history()
        changed: list[int] = []
        for index, entry in enumerate(entries):
            info = entry.info
            command, message = redact(info.command), redact(info.message)
            if (command, message) != (info.command, info.message):
                redacted = replace(info, command=command, message=message)
                entries[index] = replace(entry, info=redacted)
                changed.append(info.version)
        if changed:
            self._write_history(lineage or new_lineage(), entries)
        return changed

    def _write_history(self, lineage: str, entries: list[_Entry]) -> None:
        document = {"format": 1, "lineage": lineage, "versions": [e.to_dict() for e in entries]}
        data = json.dumps(document, indent=2, sort_keys=True).encode()
        try:
            try:
                like: os.stat_result | None = os.stat(self.history_path)
            except FileNotFoundError:
                like = None
            atomic_write(self.history_path, lambda f: f.write(data), like)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write {self.history_path}: {exc.strerror or exc}"
            ) from exc

    # -- lock --

    def _check_directory(self) -> None:
        """A misspelt path must not start a new inventory in directories made for it."""
        if not self.path.parent.is_dir():
            raise ConfigError(
                f"backend file: directory {self.path.parent} of {self.path} does not exist; "
                "fix the path (option path, or --config) or create the directory"
            )

    def acquire_lock(self, holder: LockHolder) -> LockHolder | None:
        self._check_directory()  # before the lock file would create it
        result = self.lock.acquire_lock(holder)
        self.stale_holder = self.lock.stale_holder
        return result

    def release_lock(self, holder: LockHolder) -> None:
        self.lock.release_lock(holder)

    def holder_alive(self, holder: LockHolder) -> bool:
        return self.lock.holder_alive(holder)

    def lock_status(self) -> LockHolder | None:
        return self.lock.lock_status()

    def break_lock(self, lock_id: str) -> None:
        self.lock.break_lock(lock_id)


def _check_own_files(path: Path) -> None:
    """Refuse a path whose history or backup tar another store's files would share.

    Both are named after the file's stem, so ``inv`` and ``inv.json`` would share
    them, and ``X.history.json`` is the history of ``X.json`` (the inventory name
    ``history`` gives ``openstack_inventory.history.json``, the default store's).
    """
    if path.name.endswith(HISTORY_SUFFIX):
        owner = path.name[: -len(HISTORY_SUFFIX)] + ".json"
        raise ConfigError(
            f"backend file: {path} is the history file of {owner} in the same folder; "
            "choose another inventory name (--inventory-name) or path"
        )
    if path.suffix != ".json":
        raise ConfigError(
            f"backend file: path {path} does not end in .json, so its history and backup "
            f"tar would be those of {path.with_name(path.stem + '.json')}; give a path "
            "ending in .json"
        )


def _identity(info: VersionInfo | None) -> tuple[Any, ...] | None:
    if info is None:
        return None
    return (info.version, info.lineage, info.extra.get("digest"))
