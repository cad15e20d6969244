"""Copy an inventory and its retained history from one store to another.

Every retained version of the source is read first, then written in order to
the target with its original time, actor, command and message (secrets an
older release recorded in a command line masked). An empty target
gives them the source's numbers; one that holds versions numbers them after its
own head. Afterwards the target is read back and must
equal the source, version by version. The source is only read, never locked or
written; if it changes meanwhile the migration fails and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from osa_inventory.debuglog import debug
from osa_inventory.errors import ConfigError, StaleWrite, StoreError, StoreMissing
from osa_inventory.inventory import empty_inventory, hostvars_of
from osa_inventory.progress import NO_PROGRESS, ProgressCallback, reporting
from osa_inventory.store.backend import VersionInfo, WriteMeta
from osa_inventory.store.store import Snapshot, Store
from osa_inventory.words import plural

TIME_TOLERANCE = 1e-6
READING, WRITING, VERIFYING = "reading source", "writing target", "verifying target"


@dataclass(frozen=True)
class SourceVersion:
    info: VersionInfo | None  # None: the source keeps no versions
    inventory: dict[str, Any]


@dataclass
class MigrationReport:
    source: str
    target: str
    copied: list[VersionInfo | None] = field(default_factory=list)
    written: list[VersionInfo | None] = field(default_factory=list)
    available: int = 0  # versions the source holds
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    hosts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "source_versions": self.available,
            "copied_versions": [i.version if i else None for i in self.copied],
            "target_versions": [i.version if i else None for i in self.written],
            "hosts": self.hosts,
            "verified": bool(self.written) and not self.dry_run,
            "notes": self.notes,
        }


def is_empty(snapshot: Snapshot) -> bool:
    return snapshot.version is None and snapshot.inventory == empty_inventory()


def _identity(snapshot: Snapshot) -> tuple[Any, ...] | None:
    info = snapshot.version
    return None if info is None else (info.version, info.lineage, info.extra.get("digest"))


def read_source(
    store: Store, progress: ProgressCallback = NO_PROGRESS
) -> tuple[Snapshot, list[SourceVersion]]:
    """The current snapshot and every retained version of ``store``, oldest first.

    A store without history gives just its current inventory.
    """
    snapshot = store.read()
    if is_empty(snapshot):
        raise ConfigError(f"source {store.label} holds no inventory; nothing to migrate")
    if not store.versioned:
        return snapshot, [SourceVersion(None, snapshot.inventory)]
    infos = store.history()
    versions = []
    progress(READING, 0, len(infos), "versions")
    for done, info in enumerate(infos, 1):
        versions.append(SourceVersion(info, store.read_version(info.version)))
        progress(READING, done, len(infos), "versions")
    if not versions or versions[-1].inventory != snapshot.inventory:
        raise StaleWrite(f"source {store.label} changed while it was read; rerun the migration")
    return snapshot, versions


def _meta_for(info: VersionInfo | None, source: str, command: str) -> WriteMeta:
    if info is None:
        return WriteMeta.for_this_process(message=f"migrated from {source}", command=command)
    return WriteMeta(
        user=info.user,
        host=info.host,
        command=info.command,
        message=info.message,
        time=info.time,
        fingerprint=info.fingerprint,
        warnings=tuple(info.warnings),
        first_version=info.version,  # used by an empty target only
    )


def migrate(
    source: Store,
    target: Store,
    *,
    force: bool = False,
    dry_run: bool = False,
    command: str = "",
    progress: ProgressCallback = NO_PROGRESS,
) -> MigrationReport:
    """Copy ``source`` (current inventory and retained history) to ``target`` and verify it.

    ``progress`` hears of reading the source (in versions), writing the target and
    verifying it (in hosts, summed over the versions); backends may report finer
    steps through :func:`osa_inventory.progress.report`.
    """
    with reporting(progress):
        return _migrate(source, target, force, dry_run, command, progress)


def _migrate(
    source: Store,
    target: Store,
    force: bool,
    dry_run: bool,
    command: str,
    progress: ProgressCallback,
) -> MigrationReport:
    if source.label == target.label:
        raise ConfigError(f"source and target are the same store ({source.label})")
    report = MigrationReport(source.label, target.label, dry_run=dry_run)
    before, versions = read_source(source, progress)
    report.available = len(versions)
    report.hosts = len(hostvars_of(versions[-1].inventory))
    if not source.versioned:
        report.notes.append(f"{source.label} keeps no history: copying the current inventory only")
    existing = _existing(target, dry_run, report)
    if not is_empty(existing) and not force:
        where = f" (version {existing.version.version})" if existing.version else ""
        raise ConfigError(
            f"target {target.label} already holds an inventory{where}; choose an empty target, "
            "or add --force to write the copy on top of it"
        )
    versions = _fit_target(versions, target, report)
    report.copied = [v.info for v in versions]
    if dry_run:
        return report
    hosts = sum(len(hostvars_of(v.inventory)) for v in versions)
    with target.locked():
        if _identity(target.read()) != _identity(existing):
            raise StaleWrite(f"target {target.label} changed since it was checked; rerun")
        done = 0
        progress(WRITING, done, hosts, "hosts")
        for version in versions:
            meta = _meta_for(version.info, source.label, command)
            report.written.append(target.append_version(version.inventory, meta))
            done += len(hostvars_of(version.inventory))
            progress(WRITING, done, hosts, "hosts")
    numbers = [v.info.version for v in versions if v.info is not None]
    written = [w.version for w in report.written if w is not None]
    if is_empty(existing) and written and numbers and written != numbers:
        report.notes.append(
            f"{target.label} numbered the copies {written[0]}-{written[-1]} (source: "
            f"{numbers[0]}-{numbers[-1]}): its backend does not take a first version number"
        )
    verify(versions, target, progress)
    after = source.read()
    if _identity(after) != _identity(before) or after.inventory != before.inventory:
        raise StaleWrite(
            f"source {source.label} changed during the migration; the target holds a copy of "
            "what it was before; rerun with --force to copy it again"
        )
    return report


def _existing(target: Store, dry_run: bool, report: MigrationReport) -> Snapshot:
    """What the target holds; in a dry run, a target not created yet holds nothing."""
    try:
        return target.read()
    except StoreMissing as exc:
        if not dry_run:
            raise
        report.notes.append(f"{target.label} does not exist yet; the migration creates it")
        debug("dry run: %s", exc)
        return Snapshot(empty_inventory(), None)


def _fit_target(
    versions: list[SourceVersion], target: Store, report: MigrationReport
) -> list[SourceVersion]:
    """The versions the target can keep: all, the newest few, or only the current one."""
    if not target.versioned:
        if len(versions) > 1:
            report.notes.append(
                f"{target.label} keeps no history: copying the current inventory only"
            )
        return versions[-1:]
    retention = target.retention()
    if retention and retention.versions and len(versions) > retention.versions:
        dropped = len(versions) - retention.versions
        report.notes.append(
            f"{target.label} keeps {plural(retention.versions, 'version')} ({retention.option}="
            f"{retention.value}): the oldest {dropped} of {len(versions)} were not copied; "
            f"raise {retention.option} on the target to keep them all"
        )
        return versions[-retention.versions :]
    return versions


def verify(
    versions: list[SourceVersion], target: Store, progress: ProgressCallback = NO_PROGRESS
) -> None:
    """The target must now end with exactly ``versions``: content and metadata."""
    hosts = sum(len(hostvars_of(v.inventory)) for v in versions)
    progress(VERIFYING, 0, hosts, "hosts")
    current = target.read()
    if current.inventory != versions[-1].inventory:
        raise StoreError(
            f"verification failed: {target.label} does not read back equal to the source; "
            "check the target backend, then rerun with --force"
        )
    if not target.versioned or versions[-1].info is None:
        progress(VERIFYING, hosts, hosts, "hosts")
        return
    infos = target.history()[-len(versions) :]
    if len(infos) != len(versions):
        raise StoreError(
            f"verification failed: {target.label} kept {len(infos)} of the {len(versions)} "
            "versions written"
        )
    done = 0
    for version, info in zip(versions, infos, strict=True):
        problem = _meta_mismatch(version.info, info)
        if problem is None and target.read_version(info.version) != version.inventory:
            problem = "content differs"
        if problem:
            raise StoreError(
                f"verification failed: version {info.version} of {target.label} (copy of source "
                f"version {version.info.version if version.info else '?'}): {problem}"
            )
        done += len(hostvars_of(version.inventory))
        progress(VERIFYING, done, hosts, "hosts")


def _meta_mismatch(expected: VersionInfo | None, got: VersionInfo) -> str | None:
    if expected is None:
        return None
    from osa_inventory.redact import redact_text

    for key in ("user", "host", "command", "message"):
        wanted = getattr(expected, key)
        if key in ("command", "message"):  # the copy masks secrets an older release recorded
            wanted = redact_text(wanted)
        if wanted != getattr(got, key):
            return f"{key} {getattr(got, key)!r} instead of {wanted!r}"
    if abs(expected.time - got.time) > TIME_TOLERANCE:
        return f"time {got.time} instead of {expected.time}"
    if got.fingerprint and got.fingerprint != expected.fingerprint:
        return "input fingerprint differs"
    return None
