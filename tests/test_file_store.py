"""Tests of the OSA-compatible JSON file store (through the file backend) and its serialisation."""

from __future__ import annotations

import json
import os
import random
import re
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from osa_inventory.backends.file import FileBackend
from osa_inventory.backends.osafile import APPENDING_SUFFIX, BACKUP_NAME, FileStore, prune_slack
from osa_inventory.errors import ConfigError, StoreCorrupt, StoreError, StoreUnavailable
from osa_inventory.jsonio import dumps_inventory, loads_inventory
from osa_inventory.store import open_backend

INVENTORY = "openstack_inventory.json"
HISTORY = "openstack_inventory.history.json"
MEMBER_RE = re.compile(r"openstack_inventory\.json-\d{8}_\d{6}(-\d+)?\.json")


def inventory(version: int, hosts: int = 3) -> dict[str, Any]:
    """A small OSA-shaped inventory tagged with ``version``."""
    hostvars = {
        f"infra{i}_nova_api_container-{i:08x}": {
            "ansible_host": f"172.29.236.{i % 250}",
            "container_networks": {"management_address": {"bridge": "br-mgmt"}},
            "version": version,
        }
        for i in range(hosts)
    }
    return {
        "_meta": {"hostvars": hostvars},
        "all": {"vars": {"version": version}},
        "nova_api": {"hosts": sorted(hostvars), "children": []},
    }


def others(directory: Path) -> list[str]:
    """Files in ``directory`` other than the inventory, its backup tar and its history."""
    known = {INVENTORY, BACKUP_NAME, HISTORY}
    return sorted(p.name for p in directory.iterdir() if p.name not in known)


def file_backend(path: Path | str, backup_keep: int = 15) -> FileBackend:
    backend = open_backend("file", {"path": str(path), "backup_keep": backup_keep})
    assert isinstance(backend, FileBackend)
    return backend


def tar_members(path: Path) -> list[tuple[str, bytes]]:
    """Read the backup tar the way OSA's tools do: plain ``tarfile``."""
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


@pytest.fixture
def store(tmp_path: Path) -> FileBackend:
    return file_backend(tmp_path / INVENTORY)


# --- jsonio ----------------------------------------------------------------------------------


def test_dumps_inventory_is_osa_layout() -> None:
    expected = """{
    "a": [
        1,
        {
            "c": "\\u00e9"
        }
    ],
    "b": 1
}"""
    assert dumps_inventory({"b": 1, "a": [1, {"c": "é"}]}) == expected


def test_loads_inventory_errors_name_source_line_and_column() -> None:
    assert loads_inventory('{"a": 1}', "x") == {"a": 1}
    with pytest.raises(StoreCorrupt, match=r"^/some/file: invalid JSON at line 2, column 7 "):
        loads_inventory('{"a": 1,\n "b": ]}', "/some/file")
    with pytest.raises(StoreCorrupt, match="is an array, not an object"):
        loads_inventory("[1, 2]", "/some/file")
    with pytest.raises(StoreCorrupt, match="is null, not an object"):
        loads_inventory("null", "/some/file")


# --- the files, written through the file backend ---------------------------------------------


def test_negative_backup_keep(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        FileStore(tmp_path / INVENTORY, backup_keep=-1)


def test_changed_write_backs_up_previous_file(tmp_path: Path, store: FileBackend) -> None:
    store.write(inventory(1))
    previous = (tmp_path / INVENTORY).read_bytes()
    store.write(inventory(2))
    members = tar_members(tmp_path / BACKUP_NAME)
    # every version goes to the tar as it is written: the previous one and the current one
    assert [data for _, data in members] == [previous, (tmp_path / INVENTORY).read_bytes()]
    names = [name for name, _ in members]
    assert all(MEMBER_RE.fullmatch(name) for name in names)
    assert store.files.backup_members() == names
    assert store.files.read_backup(names[0]) == inventory(1)
    assert store.load() == inventory(2)


def test_backups_within_one_second_get_distinct_names(store: FileBackend) -> None:
    for version in range(6):  # 6 versions well under a second: two share a second
        store.write(inventory(version))
    names = store.files.backup_members()
    assert len(names) == 6
    assert len(set(names)) == 6
    assert all(MEMBER_RE.fullmatch(name) for name in names)
    assert any(MEMBER_RE.fullmatch(name)[1] for name in names)
    assert [store.files.read_backup(name) for name in names] == [inventory(v) for v in range(6)]


def test_retention_keeps_newest(tmp_path: Path) -> None:
    store = file_backend(tmp_path / INVENTORY, backup_keep=3)
    for version in range(5):
        store.write(inventory(version))
    members = tar_members(tmp_path / BACKUP_NAME)
    assert [name for name, _ in members] == store.files.backup_members()
    # backup_keep counts the current version too
    assert [json.loads(data) for _, data in members] == [inventory(v) for v in (2, 3, 4)]
    assert store.load() == inventory(4)


def test_new_files_are_private(tmp_path: Path, store: FileBackend) -> None:
    store.write(inventory(1))
    store.write(inventory(2))
    assert stat.S_IMODE((tmp_path / INVENTORY).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / BACKUP_NAME).stat().st_mode) == 0o600


def test_existing_mode_is_kept(tmp_path: Path, store: FileBackend) -> None:
    store.write(inventory(1))
    store.write(inventory(2))
    (tmp_path / INVENTORY).chmod(0o640)
    (tmp_path / BACKUP_NAME).chmod(0o644)
    store.write(inventory(3))
    assert stat.S_IMODE((tmp_path / INVENTORY).stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / BACKUP_NAME).stat().st_mode) == 0o644


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files away")
def test_existing_owner_is_kept_as_root(tmp_path: Path, store: FileBackend) -> None:
    store.write(inventory(1))
    os.chown(tmp_path / INVENTORY, 4321, 4322)
    store.write(inventory(2))
    st = (tmp_path / INVENTORY).stat()
    assert (st.st_uid, st.st_gid) == (4321, 4322)


def test_bad_json_is_corrupt_and_untouched(tmp_path: Path, store: FileBackend) -> None:
    path = tmp_path / INVENTORY
    path.write_text('{"_meta": {},\n  "all": ]\n}')
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with pytest.raises(StoreCorrupt, match=r"line 2, column 10") as excinfo:
        store.load()
    message = str(excinfo.value)
    assert str(path) in message
    assert BACKUP_NAME in message
    assert "\n" not in message
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_non_utf8_file_is_corrupt(tmp_path: Path, store: FileBackend) -> None:
    (tmp_path / INVENTORY).write_bytes(b'{"a": "\xff"}')
    with pytest.raises(StoreCorrupt, match="not UTF-8"):
        store.load()


def test_writing_over_a_corrupt_file_backs_it_up(tmp_path: Path, store: FileBackend) -> None:
    (tmp_path / INVENTORY).write_bytes(b"{not json")
    store.write(inventory(1))
    datas = [data for _, data in tar_members(tmp_path / BACKUP_NAME)]
    assert datas == [b"{not json", (tmp_path / INVENTORY).read_bytes()]
    assert store.load() == inventory(1)


def test_unreadable_file_is_unavailable(tmp_path: Path, store: FileBackend) -> None:
    (tmp_path / INVENTORY).mkdir()  # reading a directory fails even for root
    with pytest.raises(StoreUnavailable, match=re.escape(str(tmp_path / INVENTORY))):
        store.load()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path: Path, store: FileBackend) -> None:
    store.write(inventory(1))
    before = (tmp_path / INVENTORY).read_bytes()
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StoreUnavailable, match="Permission denied") as excinfo:
            store.write(inventory(2))
    finally:
        tmp_path.chmod(0o700)
    assert str(tmp_path) in str(excinfo.value)
    assert (tmp_path / INVENTORY).read_bytes() == before
    assert others(tmp_path) == []


FULL_DISK_CHILD = """
import resource, signal, sys
from osa_inventory.errors import StoreUnavailable
from osa_inventory.store import open_backend
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit now fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
hosts = int(sys.argv[2])
try:
    open_backend("file", {"path": sys.argv[1]}).write(
        {"hosts": {f"h{i}": "x" * 100 for i in range(hosts)}}
    )
except StoreUnavailable as exc:
    print(exc)
    sys.exit(0)
sys.exit(1)
"""


@pytest.mark.parametrize(
    ("hosts_before", "hosts_now", "failing"),
    # every version goes to the tar before the inventory file is replaced, and the tar is
    # the larger file: it is the one that hits the limit, whether the new version is big
    # or the tar already is
    [(1, 2000, BACKUP_NAME), (400, 10, BACKUP_NAME)],
    ids=["big-version", "big-tar"],
)
def test_full_disk_leaves_previous_files(
    tmp_path: Path, store: FileBackend, hosts_before: int, hosts_now: int, failing: str
) -> None:
    """Writes past RLIMIT_FSIZE fail like a full disk does, even for root."""
    for version in range(2):
        store.write({"hosts": {f"h{i}": "x" * 100 for i in range(hosts_before)}, "v": version})
    files = {name: (tmp_path / name).read_bytes() for name in (INVENTORY, BACKUP_NAME)}
    child = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CHILD, str(tmp_path / INVENTORY), str(hosts_now)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert f"{tmp_path / failing}: File too large" in child.stdout
    assert child.stdout.count("\n") == 1
    assert (tmp_path / INVENTORY).read_bytes() == files[INVENTORY]
    if failing == BACKUP_NAME:
        assert (tmp_path / BACKUP_NAME).read_bytes() == files[BACKUP_NAME]
    assert others(tmp_path) == []


def test_no_temporary_files_left(tmp_path: Path) -> None:
    store = file_backend(tmp_path / INVENTORY, backup_keep=2)
    for version in range(5):
        store.write(inventory(version))
        store.write(inventory(version))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([BACKUP_NAME, HISTORY, INVENTORY])


def test_tar_is_standard(tmp_path: Path, store: FileBackend) -> None:
    for version in range(4):
        store.write(inventory(version))
    with tarfile.open(tmp_path / BACKUP_NAME) as tar:
        members = tar.getmembers()
        assert [json.load(tar.extractfile(m)) for m in members] == [inventory(v) for v in range(4)]
    assert all(m.isreg() and MEMBER_RE.fullmatch(m.name) for m in members)
    # OSA appends to the tar in "a" mode; that must keep working on our file.
    with tarfile.open(tmp_path / BACKUP_NAME, "a") as tar:
        tar.add(tmp_path / INVENTORY, arcname="openstack_inventory.json-20240101_000000.json")
    assert len(store.files.backup_members()) == 5


def test_osa_tar_is_kept(tmp_path: Path, store: FileBackend) -> None:
    """A tar written by OSA (appended on every run, names may repeat) is carried over."""
    store.write(inventory(1))
    with tarfile.open(tmp_path / BACKUP_NAME, "a") as tar:
        for _ in range(2):
            tar.add(tmp_path / INVENTORY, arcname="openstack_inventory.json-20240101_000000.json")
    store.write(inventory(2))
    names = store.files.backup_members()
    assert names[1:3] == ["openstack_inventory.json-20240101_000000.json"] * 2
    assert len(names) == 4
    assert store.files.read_backup(names[0]) == store.files.read_backup(names[1]) == inventory(1)
    assert store.files.read_backup(names[3]) == inventory(2)


def test_read_backup_unknown_member(store: FileBackend) -> None:
    with pytest.raises(StoreError, match="no backup named 'nope'"):
        store.files.read_backup("nope")


def test_corrupt_tar_blocks_write(tmp_path: Path, store: FileBackend) -> None:
    store.write(inventory(1))
    (tmp_path / BACKUP_NAME).write_bytes(b"x" * 1024)
    with pytest.raises(StoreCorrupt, match="move it aside"):
        store.write(inventory(2))
    assert store.load() == inventory(1)
    assert others(tmp_path) == []


def test_symlink_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "conf").mkdir()
    link = tmp_path / "conf" / INVENTORY
    link.symlink_to(Path("..", "real", "inventory.json"))
    store = file_backend(link)
    store.write(inventory(1))
    store.write(inventory(2))
    assert link.is_symlink()
    assert json.loads((tmp_path / "real" / "inventory.json").read_text()) == inventory(2)
    assert store.files.read_backup(store.files.backup_members()[0]) == inventory(1)


CRASH_CHILD = """
import sys
from osa_inventory.store import open_backend
store = open_backend("file", {"path": sys.argv[1], "backup_keep": 3})
current = store.load()
n = current["n"] + 1 if "n" in current else 0
print("ready", flush=True)
while True:
    store.write({"n": n, "hosts": {f"host{i}": {"n": n, "pad": "x" * 80} for i in range(8000)}})
    n += 1
"""


def test_kill_9_never_leaves_a_broken_file(tmp_path: Path) -> None:
    """SIGKILL a writer at random moments: each file is always a whole old or new version."""
    path, tar = tmp_path / INVENTORY, tmp_path / BACKUP_NAME
    rng = random.Random(20240601)
    last = -1
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", CRASH_CHILD, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout.readline() == "ready\n", child.stderr.read()
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            child.kill()
            child.communicate()
        if path.exists():
            current = json.loads(path.read_text())
            assert current["n"] >= last
            assert all(host["n"] == current["n"] for host in current["hosts"].values())
            last = current["n"]
        if tar.exists():
            for _, data in tar_members(tar):
                json.loads(data)
    assert last > 0
    # Temporary files of killed writers must not get in the way, and the next write removes them.
    store = file_backend(path, backup_keep=3)
    store.write({"n": last + 1})
    assert store.load() == {"n": last + 1}
    assert not list(tmp_path.glob(".*.tmp"))


# --- appending to the backup tar -----------------------------------------------------------------


def test_a_write_appends_to_the_tar_and_prunes_only_now_and_then(tmp_path: Path) -> None:
    """Versions are appended (the tar keeps its inode and its bytes so far); once it holds
    backup_keep + prune_slack members it is rewritten with the newest backup_keep."""
    store = file_backend(tmp_path / INVENTORY, backup_keep=6)
    tar = tmp_path / BACKUP_NAME
    store.write(inventory(0))
    shown: list[int] = []
    for version in range(1, 12):
        before = (tar.stat().st_ino, tar.read_bytes())
        store.write(inventory(version))
        physical = tar_members(tar)
        if tar.stat().st_ino == before[0]:  # appended: what was there is untouched
            assert tar.read_bytes().startswith(before[1].rstrip(b"\0"))
        assert len(physical) <= 6 + prune_slack(6)
        kept = store.files.backup_members()
        assert kept == [name for name, _ in physical][-6:]  # the newest 6 are shown
        assert [store.files.read_backup(n) for n in kept] == [
            inventory(v) for v in range(max(0, version - 5), version + 1)
        ]
        shown.append(len(physical))
    assert 6 + prune_slack(6) in shown and 6 in shown[shown.index(8) :]  # pruned, then grew
    assert [v.version for v in store.list_versions()] == list(range(7, 13))


def test_an_append_that_died_is_cut_off_by_the_next_write(tmp_path: Path) -> None:
    store = file_backend(tmp_path / INVENTORY)
    for version in range(2):
        store.write(inventory(version))
    tar = tmp_path / BACKUP_NAME
    with tarfile.open(tar) as archive:
        end = archive.getmembers()[-1]
        start = end.offset_data + -(-end.size // 512) * 512
    marker = tmp_path / (BACKUP_NAME + APPENDING_SUFFIX)
    marker.write_text(str(start))
    with open(tar, "r+b") as f:  # a dead writer's data, no header yet
        f.seek(start + 512)
        f.write(b'{"half": "a version' * 100)
    names = store.files.backup_members()  # readers: what follows the marker does not count
    assert len(names) == 2 and store.files.read_backup(names[1]) == inventory(1)
    store.write(inventory(2))
    assert not marker.exists()
    assert [json.loads(data) for _, data in tar_members(tar)] == [inventory(v) for v in range(3)]
    assert others(tmp_path) == []


def test_a_member_missing_before_an_append_is_damage(tmp_path: Path) -> None:
    store = file_backend(tmp_path / INVENTORY)
    for version in range(2):
        store.write(inventory(version))
    tar = tmp_path / BACKUP_NAME
    (tmp_path / (BACKUP_NAME + APPENDING_SUFFIX)).write_text(str(tar.stat().st_size + 512))
    before = tar.read_bytes()
    with pytest.raises(StoreCorrupt, match="move it aside"):
        store.write(inventory(2))
    assert tar.read_bytes() == before
