"""The file backend: the conformance suite, then what is particular to OSA's files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import osa_backup, osa_write_in_place
from osa_inventory.errors import StaleWrite, StoreError
from osa_inventory.jsonio import dumps_inventory
from osa_inventory.store import open_backend
from osa_inventory.store.backend import WriteMeta
from osa_inventory.store.store import Store
from osa_inventory.testing import BackendConformance, BackendSpec, sample_inventory


class TestFileBackend(BackendConformance):
    @pytest.fixture
    def backend_spec(self, tmp_path: Path) -> BackendSpec:
        return BackendSpec("file", {"path": str(tmp_path / "openstack_inventory.json")})


# -- what is particular to the file backend ----------------------------------------------

INVENTORY = "openstack_inventory.json"
HISTORY = "openstack_inventory.history.json"
BACKUP = "backup_openstack_inventory.tar"
MEMBER_RE = re.compile(r"openstack_inventory\.json-\d{8}_\d{6}(-\d+)?\.json")


def file_store(directory: Path, lock_timeout: float = 10.0) -> Store:
    backend = open_backend("file", {"path": str(directory / INVENTORY)})
    return Store(backend, label=backend.describe(), lock_timeout=lock_timeout)


def tagged(value: int) -> dict[str, Any]:
    inventory = sample_inventory()
    inventory["all"]["vars"]["tag"] = value
    return inventory


def set_tag(value: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda _: tagged(value)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def replace_bytes(path: Path, data: bytes) -> None:
    """Change a file the way an editor or OSA's own generator would."""
    tmp = path.with_name(path.name + ".edit")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_files_stay_readable_by_plain_json_and_tarfile(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    written = {}
    for tag in range(1, 5):
        result = store.update(set_tag(tag), message=f"tag {tag}", command=f"test {tag}")
        written[result.version.version] = tagged(tag)
    current = (tmp_path / INVENTORY).read_bytes()
    assert current == dumps_inventory(tagged(4)).encode(), "not OSA's byte layout"
    history = json.loads((tmp_path / HISTORY).read_text())
    assert history["format"] == 1
    assert isinstance(history["lineage"], str) and history["lineage"]
    entries = history["versions"]
    assert [e["version"] for e in entries] == [1, 2, 3, 4]
    assert [e["message"] for e in entries] == ["tag 1", "tag 2", "tag 3", "tag 4"]
    with tarfile.open(tmp_path / BACKUP) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert len(members) == 4, "every version is in the tar from its write on"
    assert all(MEMBER_RE.fullmatch(name) for name in members), sorted(members)
    for entry in entries:
        data = members[entry["member"]]
        assert sha256(data) == entry["sha256"]
        assert json.loads(data) == written[entry["version"]]
    assert members[entries[-1]["member"]] == current


def test_adopting_an_existing_osa_file(tmp_path: Path) -> None:
    old = dumps_inventory(sample_inventory()).encode()
    (tmp_path / INVENTORY).write_bytes(old)
    store = file_store(tmp_path)
    adopted = store.read().version
    assert adopted is not None and adopted.version == 1
    assert adopted.message == "adopted existing inventory file"
    assert [v.version for v in store.history()] == [1]
    assert not (tmp_path / HISTORY).exists(), "reading must not write"
    assert not store.update(lambda inv: inv).changed
    assert not (tmp_path / HISTORY).exists()

    result = store.update(set_tag(1), message="first change")
    assert result.version.version == 2
    with tarfile.open(tmp_path / BACKUP) as tar:
        backups = [tar.extractfile(m).read() for m in tar.getmembers()]
    assert backups[0] == old, "the adopted file must go to the tar unchanged"
    assert backups[1:] == [(tmp_path / INVENTORY).read_bytes()]
    versions = file_store(tmp_path).history()
    assert [(v.version, v.message) for v in versions] == [
        (1, "adopted existing inventory file"),
        (2, "first change"),
    ]
    assert len({v.lineage for v in versions}) == 1
    assert store.read_version(1) == sample_inventory()
    assert store.read_version(2) == tagged(1)


def test_adopted_store_moving_on_is_a_stale_write_not_another_lineage(tmp_path: Path) -> None:
    """Two writers that both read an adopted file: the second is told it moved on."""
    (tmp_path / INVENTORY).write_bytes(dumps_inventory(sample_inventory()).encode())
    first, second = file_store(tmp_path), file_store(tmp_path)
    base = first.read()
    second.update(set_tag(1))
    with first.locked(), pytest.raises(StaleWrite) as raised:
        first.commit(tagged(2), base=base, meta=WriteMeta.for_this_process())
    assert "moved from version 1 to 2" in str(raised.value)


def test_hand_edit_appears_as_an_outside_version(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    store.update(set_tag(1))
    store.update(set_tag(2))
    base = store.read()
    edited = tagged(3)
    edited["_meta"]["hostvars"]["infra1"]["edited_by_hand"] = "yes"
    replace_bytes(tmp_path / INVENTORY, json.dumps(edited, indent=2).encode())

    reader = file_store(tmp_path)
    head = reader.read().version
    assert (head.version, head.message) == (3, "changed outside osa-inventory")
    assert head.lineage == base.version.lineage
    assert reader.read_version(3) == edited
    assert [v.version for v in reader.history()][-1] == 3
    with store.locked(), pytest.raises(StaleWrite, match="moved from version 2 to 3"):
        store.commit(tagged(4), base=base, meta=WriteMeta.for_this_process())

    result = store.update(lambda inv: {**inv, "all": {"vars": {"tag": 4}}}, message="after")
    assert result.version.version == 4
    assert result.inventory["_meta"] == edited["_meta"], "the update started from the edit"
    assert file_store(tmp_path).read_version(3) == edited, "the edit is kept in the tar"


def test_write_dying_before_the_file_is_replaced_is_reconciled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history names version 2, but replacing the file failed (a full disk)."""
    import osa_inventory.backends.file as file_backend

    store = file_store(tmp_path)
    one = store.update(set_tag(1)).version
    real_write = file_backend.atomic_write

    def full_disk(target: Path, fill: Any, like: Any) -> None:
        if target == tmp_path / INVENTORY:
            raise OSError(28, "No space left on device")
        real_write(target, fill, like)

    monkeypatch.setattr(file_backend, "atomic_write", full_disk)
    with pytest.raises(StoreError, match="No space left"):
        store.update(set_tag(2))
    monkeypatch.undo()
    assert json.loads((tmp_path / HISTORY).read_text())["versions"][-1]["version"] == 2

    reader = file_store(tmp_path)
    snapshot = reader.read()
    assert snapshot.inventory == tagged(1)
    assert snapshot.version.version == 1
    assert snapshot.version.lineage == one.lineage
    assert [v.version for v in reader.history()] == [1]
    with pytest.raises(StoreError, match="not retained"):
        reader.read_version(2)

    again = reader.update(set_tag(5), message="after the failure")
    assert (again.version.version, again.version.lineage) == (2, one.lineage)
    fresh = file_store(tmp_path)
    assert fresh.read_version(1) == tagged(1)
    assert fresh.read_version(2) == tagged(5)
    assert [(v.version, v.message) for v in fresh.history()][-1] == (2, "after the failure")


# -- changes made outside: OSA's tools, an editor, a restore from the tar -------------------


def _drop_group(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda inventory: inventory.pop(name)


def _history_table(store: Store) -> list[int]:
    return [v.version for v in store.history()]


@pytest.mark.parametrize("outside", ["osa-tool", "hand-edit", "restore-from-tar"])
def test_an_outside_change_is_a_version_of_its_own(outside: str, tmp_path: Path) -> None:
    store = file_store(tmp_path)
    for tag in (1, 2):
        store.update(set_tag(tag), message=f"tag {tag}")
    if outside == "osa-tool":
        osa_write_in_place(tmp_path, _drop_group("shared-infra_hosts"))
    elif outside == "hand-edit":
        edited = tagged(2)
        edited["all"]["vars"]["by_hand"] = True
        replace_bytes(tmp_path / INVENTORY, json.dumps(edited).encode())
    else:  # what a deployer does: extract version 1's member, move it into place
        first = json.loads((tmp_path / HISTORY).read_text())["versions"][0]["member"]
        with tarfile.open(tmp_path / BACKUP) as tar:
            tar.extract(first, tmp_path / "restore", filter="data")
        os.replace(tmp_path / "restore" / first, tmp_path / INVENTORY)
    outside_bytes = (tmp_path / INVENTORY).read_bytes()

    reader = file_store(tmp_path)
    assert _history_table(reader) == [1, 2, 3]
    assert reader.read().version.message == "changed outside osa-inventory"
    assert reader.read_version(2) == tagged(2), "the version the outside change replaced"
    assert reader.read_version(3) == json.loads(outside_bytes)

    after = reader.update(lambda inv: {**inv, "all": {"vars": {"tag": 4}}}, message="ours")
    assert after.version.version == 4
    final = file_store(tmp_path)
    assert _history_table(final) == [1, 2, 3, 4], "numbers never shift"
    assert final.read_version(1) == tagged(1)
    assert final.read_version(2) == tagged(2)
    assert final.read_version(3) == json.loads(outside_bytes)
    assert [v.message for v in final.history()] == [
        "tag 1",
        "tag 2",
        "changed outside osa-inventory",
        "ours",
    ]


def test_two_tools_in_the_same_second_never_share_a_member_name(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    store.update(set_tag(1))
    ours = json.loads((tmp_path / HISTORY).read_text())["versions"][-1]["member"]
    second = ours[len(INVENTORY) + 1 : len(INVENTORY) + 16]  # YYYYmmdd_HHMMSS
    # OSA's tool backs up our version in the very second we wrote it (OSA's name for
    # that second has no counter: ours always have one), then we write again, in that
    # second or a later one (the counter goes past every name of that second)
    osa_backup(tmp_path, second)
    store.update(set_tag(2))
    store.update(set_tag(3))
    with tarfile.open(tmp_path / BACKUP) as tar:
        names = tar.getnames()
    assert names[1] == f"{INVENTORY}-{second}.json"
    assert len(names) == 4
    assert len(set(names)) == len(names), names
    assert all(MEMBER_RE.fullmatch(name) for name in names), names
    assert [file_store(tmp_path).read_version(v)["all"]["vars"]["tag"] for v in (1, 2, 3)] == [
        1,
        2,
        3,
    ]


@pytest.mark.parametrize(
    "name",
    [
        "f.json-20261129_235755.json",
        "f.json-20261129_235755-1.json",
        "f.json-20261129_235755-12.json",
        "f.json-20261129_235755-.json",
        "f.json-20261129_235755-1a.json",
        "f.json-20261129_235755-1.json.json",
        "f.json-20261129_235756-1.json",
        "f.json-20261129_235755_1.json",
        "f.json-20261129_235755-\u0663.json",
    ],
)
def test_member_counters_are_read_as_the_name_pattern_reads_them(name: str) -> None:
    """A member's counter for a second: ``<base>.json`` is 0, ``<base>-N.json`` is N."""
    from osa_inventory.backends.osafile import _counter

    base = "f.json-20261129_235755"
    match = re.fullmatch(re.escape(base) + r"(?:-(\d+))?\.json", name)
    assert _counter(name, base) == (int(match[1] or 0) if match else None)


def test_commit_from_an_older_base_is_stale(tmp_path: Path) -> None:
    first, second = file_store(tmp_path), file_store(tmp_path)
    first.update(set_tag(1))
    base = first.read()
    second.update(set_tag(2))
    with first.locked(), pytest.raises(StaleWrite, match="moved from version 1 to 2"):
        first.commit(tagged(3), base=base, meta=WriteMeta.for_this_process())
    assert file_store(tmp_path).load() == tagged(2)
    assert [v.version for v in file_store(tmp_path).history()] == [1, 2]


def test_another_lineage_is_refused_unless_forced(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    store, other = file_store(ours), file_store(theirs)
    for tag in (1, 2):  # the same versions and content, another lineage
        store.update(set_tag(tag))
        other.update(set_tag(tag))
    base = store.read()
    their_head = other.read().version
    assert (base.version.version, base.version.extra["digest"]) == (
        their_head.version,
        their_head.extra["digest"],
    )
    assert base.version.lineage != their_head.lineage
    for name in (INVENTORY, HISTORY, BACKUP):  # someone swaps the store
        shutil.copyfile(theirs / name, ours / name)

    meta = WriteMeta.for_this_process(message="forced")
    with store.locked():
        with pytest.raises(StaleWrite, match="another lineage"):
            store.commit(tagged(3), base=base, meta=meta)
        assert file_store(ours).load() == tagged(2)
        forced = store.commit(tagged(3), base=base, meta=meta, force=True)
    assert forced.changed
    assert (forced.version.version, forced.version.lineage) == (3, their_head.lineage)
    assert file_store(ours).load() == tagged(3)


@pytest.mark.parametrize(
    ("layout", "served_raw"),
    [(dumps_inventory, True), (lambda inv: json.dumps(inv, indent=1), False)],
    ids=["osa-layout", "other-layout"],
)
def test_adopted_file_is_served_raw_only_in_the_canonical_layout(
    tmp_path: Path, layout: Callable[[dict[str, Any]], str], served_raw: bool
) -> None:
    """After its fingerprint is recorded, an adopted file's bytes are served as they are
    only when they are exactly our (OSA's) serialisation; otherwise they are parsed."""
    data = layout(sample_inventory()).encode()
    (tmp_path / INVENTORY).write_bytes(data)
    store = file_store(tmp_path)
    snapshot = store.read()
    assert store.remember_fingerprint(snapshot, "f" * 64, ["a warning"])
    version, raw = store.read_canonical()
    assert version is not None and version.fingerprint == "f" * 64
    assert version.warnings == ["a warning"]
    assert (raw == data) if served_raw else (raw is None)
    assert (tmp_path / INVENTORY).read_bytes() == data  # the store itself was not rewritten
