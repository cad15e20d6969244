"""Inventories in and out: OSA's per-host export format, and reading files to import.

``export --osa`` writes what OSA's ``inventory-manage -e`` prints::

    {"hosts": {NAME: {"hostvars": {...}, "groups": [GROUP, ...]}}, "all": {ALL VARS}}

``import`` reads an inventory in OSA's format (``openstack_inventory.json``, the
output of ``osa-inventory --list`` or ``export``), from a file, standard input,
or one member of OSA's backup tar.
"""

from __future__ import annotations

import os
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osa_inventory.errors import ConfigError, StoreCorrupt
from osa_inventory.fileio import parse_bytes
from osa_inventory.inventory import hostvars_of, shape_problem
from osa_inventory.progress import NO_PROGRESS, ProgressCallback, read_in_chunks
from osa_inventory.sealing import Sealing

LATEST = "latest"
#: the most an import reads: ten times the largest inventories seen (about 13 MB)
MAX_IMPORT_BYTES = 128 * 1024 * 1024


def _sorted_keys(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order (lists keep theirs)."""
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def osa_export(inventory: Mapping[str, Any]) -> dict[str, Any]:
    """Per-host vars and direct groups, plus the ``all`` vars (OSA's export format).

    In OSA's order, which is that of the sorted file OSA reads: hosts by name,
    each host's ``hostvars`` then ``groups`` (by group name; no ``groups`` key
    for a host in no group), then ``all``.
    """
    hosts: dict[str, dict[str, Any]] = {
        name: {"hostvars": _sorted_keys(hostvars)}
        for name, hostvars in sorted(hostvars_of(dict(inventory)).items())
    }
    for group, value in sorted(inventory.items()):
        if group in ("_meta", "all") or not isinstance(value, dict):
            continue
        for host in value.get("hosts") or []:
            if host in hosts:
                hosts[host].setdefault("groups", []).append(group)
    all_group = inventory.get("all")
    all_vars = all_group.get("vars", {}) if isinstance(all_group, dict) else {}
    return {"hosts": hosts, "all": _sorted_keys(all_vars)}


def tar_members(path: Path) -> list[str]:
    """Names of the members of a tar file, in archive order (oldest backup first)."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            return [m.name for m in tar.getmembers() if m.isreg()]
    except (OSError, tarfile.TarError) as exc:
        raise ConfigError(f"{path}: cannot read the tar archive ({exc})") from exc


def _read_member(path: Path, member: str) -> tuple[bytes, str]:
    names = tar_members(path)
    if not names:
        raise ConfigError(f"{path}: the archive holds no backups")
    chosen = names[-1] if member == LATEST else member
    if chosen not in names:
        newest = ", ".join(names[-3:])
        raise ConfigError(
            f"{path}: no member named {member!r}; newest members: {newest} "
            f"(list them all with: tar tf {path})"
        )
    with tarfile.open(path, mode="r:*") as tar:
        stream = tar.extractfile(chosen)
        if stream is None:  # pragma: no cover - only regular files are listed
            raise ConfigError(f"{path}:{chosen} is not a regular file")
        return _read_capped(stream, f"{path}:{chosen}"), f"{path}:{chosen}"


def read_import(
    source: str,
    member: str | None = None,
    progress: ProgressCallback = NO_PROGRESS,
    sealing: Sealing | None = None,
) -> tuple[dict[str, Any], str]:
    """The inventory to import from ``source`` (a path or ``-``); returns (inventory, where).

    ``member`` picks a backup out of a tar (``latest``: the newest one). ``progress``
    hears of the bytes read. A sealed file or member (an encrypted file store's) is
    opened with ``sealing`` (docs/encryption.md).
    """
    if source == "-":
        if member:
            raise ConfigError("--member needs a tar file, not standard input")
        data = _read_capped(sys.stdin.buffer, "standard input", progress)
        where = "standard input"
    else:
        path = Path(source)
        if path.exists() and not path.is_file():
            raise ConfigError(
                f"{path} is not a regular file; give the inventory JSON or backup tar"
            )
        if not path.is_file():
            raise ConfigError(f"{path}: no such file; give the inventory JSON or backup tar")
        if tarfile.is_tarfile(path):
            if not member:
                names = tar_members(path)
                newest = names[-1] if names else "none"
                raise ConfigError(
                    f"{path} is a backup archive; choose a member with --member NAME "
                    f"(newest: {newest}, or --member {LATEST})"
                )
            data, where = _read_member(path, member)
        else:
            if member:
                raise ConfigError(f"{path} is not a tar archive; --member is for backup tars")
            try:
                with open(path, "rb") as stream:
                    size = os.fstat(stream.fileno()).st_size
                    data = _read_capped(stream, str(path), progress, size)
                where = str(path)
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = (sealing or Sealing(None, "")).reveal_bytes(data, where)[0]
        inventory = parse_bytes(data, where)
    except StoreCorrupt as exc:  # bad input to import is the user's, not a corrupt store
        raise ConfigError(f"{_first_part(exc)}; give a valid inventory JSON file") from exc
    _check_importable(inventory, where)
    return inventory, where


def _read_capped(
    stream: Any, where: str, progress: ProgressCallback = NO_PROGRESS, total: int | None = None
) -> bytes:
    """All of ``stream``, refusing more than MAX_IMPORT_BYTES (``/dev/zero`` never ends)."""
    data = read_in_chunks(stream, f"reading {where}", progress, total, limit=MAX_IMPORT_BYTES)
    if len(data) > MAX_IMPORT_BYTES:
        raise ConfigError(
            f"{where}: more than {MAX_IMPORT_BYTES // 2**20} MiB, far more than any inventory; "
            "give the inventory JSON (openstack_inventory.json or 'osa-inventory export')"
        )
    return bytes(data)


def _first_part(exc: Exception) -> str:
    """A store error's message without its advice on restoring the store."""
    return str(exc).split("; restore")[0]


def _check_importable(inventory: dict[str, Any], where: str) -> None:
    hosts = inventory.get("hosts")
    if "_meta" not in inventory and isinstance(hosts, dict) and "all" in inventory:
        raise ConfigError(
            f"{where} is in OSA's per-host export format, which lacks the group tree; "
            "import the full inventory (openstack_inventory.json or 'osa-inventory export')"
        )
    if not isinstance(inventory.get("_meta"), dict) or "hostvars" not in inventory["_meta"]:
        raise ConfigError(
            f"{where}: not an inventory in OSA's format (no _meta.hostvars); give "
            "openstack_inventory.json or the output of 'osa-inventory export'"
        )
    problem = shape_problem(inventory)
    if problem:
        raise ConfigError(f"{where}: not an inventory in OSA's format ({problem}); fix the file")
