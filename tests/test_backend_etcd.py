"""The etcd backend on a real 3-member cluster: conformance, atomicity, failover, TLS, auth.

The cluster is started once per session from the installed ``etcd`` (Debian's
``etcd-server``) on loopback ports below 32768; tests that kill members restart
them afterwards. Every test works below a prefix of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CLI, USER_CONFIG, require_shared_dir
from osa_inventory.backends.etcd import EtcdBackend
from osa_inventory.backends.etcd.backend import BATCH_KEYS
from osa_inventory.backends.etcd.kv import b64, prefix_end, put_op
from osa_inventory.backends.etcd.records import parse_record, root_of
from osa_inventory.backends.etcd.tree import (
    PART_BYTES,
    build,
    canonical,
    digest,
    join,
    ref_digests,
)
from osa_inventory.errors import (
    ConfigError,
    LockTimeout,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
)
from osa_inventory.inventory import copy_inventory
from osa_inventory.store import open_backend
from osa_inventory.store.backend import LockHolder, WriteMeta
from osa_inventory.store.store import Store
from osa_inventory.testing import BackendConformance, BackendSpec, large_inventory, sample_inventory
from osa_inventory.testing.etcd_cluster import (
    EtcdCluster,
    TlsFiles,
    free_ports,
    make_tls_files,
    require_etcd,
)

REPO = Path(__file__).resolve().parents[1]
ETCD_REQUEST_LIMIT = 1536 * 1024


# -- fixtures ----------------------------------------------------------------------------


@contextlib.contextmanager
def data_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A fresh data dir, in memory (/dev/shm) when possible: etcd fsyncs every commit."""
    if not os.access("/dev/shm", os.W_OK):
        yield tmp_path_factory.mktemp(name)
        return
    path = Path(tempfile.mkdtemp(prefix=f"osa-{name}-", dir="/dev/shm"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def running(cluster: EtcdCluster) -> Iterator[EtcdCluster]:
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def etcd_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    binary = require_etcd()
    with data_dir(tmp_path_factory, "etcd") as base, running(EtcdCluster(base, binary=binary)) as c:
        yield c


@pytest.fixture
def cluster(etcd_cluster: EtcdCluster) -> Iterator[EtcdCluster]:
    """The session's cluster, whole before and after the test."""
    etcd_cluster.restart_all()
    yield etcd_cluster
    etcd_cluster.restart_all()


@pytest.fixture
def options(cluster: EtcdCluster) -> dict[str, str]:
    """Options for a fresh, empty store of this test's own."""
    return {"endpoints": cluster.endpoints, "prefix": f"/test-{uuid.uuid4().hex[:12]}"}


def backend_for(options: dict[str, str], **extra: str) -> EtcdBackend:
    return open_backend("etcd", {**options, **extra})


def keys_below(backend: EtcdBackend) -> dict[bytes, Any]:
    """Every key of the store with its value and revisions."""
    client = backend.client
    revision = client.range(backend.layout.head).revision
    return {kv.key: kv for kv in client.scan(backend.layout.root, revision=revision)}


def generation(inventory: dict[str, Any], tag: str, hosts: int) -> dict[str, Any]:
    """``inventory`` with ``tag`` in every host's vars and in all.vars."""
    result = copy_inventory(inventory)
    for name in list(result["_meta"]["hostvars"])[:hosts]:
        result["_meta"]["hostvars"][name]["generation"] = tag
    result["all"]["vars"]["generation"] = tag
    return result


# -- the tree, without a server --------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_meta = st.one_of(
    st.fixed_dictionaries({"hostvars": st.dictionaries(st.text(), _json, max_size=6)}),
    st.fixed_dictionaries(
        {"hostvars": st.dictionaries(st.text(), _json, max_size=3), "extra": _json}
    ),
    _json,
)
_inventories = st.builds(
    lambda groups, meta, all_group: {
        **groups,
        **({"_meta": meta} if meta is not None else {}),
        **({"all": all_group} if all_group is not None else {}),
    },
    st.dictionaries(st.text().filter(lambda k: k not in ("_meta", "all")), _json, max_size=6),
    st.none() | _meta,
    st.none() | _json | st.fixed_dictionaries({"vars": _json}, optional={"children": _json}),
)


@settings(max_examples=200, deadline=None)
@given(_inventories)
def test_tree_round_trips_any_inventory(inventory: dict[str, Any]) -> None:
    tree = build(inventory)
    values = {}
    for entry, ref in tree.manifest.items():
        values[entry] = json.loads(b"".join(tree.objects[sha] for sha in ref_digests(ref)))
    assert join(tree.root.shape, values) == inventory
    assert build(json.loads(json.dumps(inventory))).root.digest == tree.root.digest


# -- the conformance suite ---------------------------------------------------------------


class TestEtcdBackend(BackendConformance):
    @pytest.fixture
    def backend_spec(self, options: dict[str, str]) -> BackendSpec:
        return BackendSpec("etcd", dict(options))


# -- layout and atomicity ----------------------------------------------------------------


def test_a_write_puts_only_the_keys_that_changed(options: dict[str, str]) -> None:
    backend = backend_for(options)
    inventory = large_inventory(2000)
    backend.write(inventory)
    before = keys_below(backend)
    changed = copy_inventory(inventory)
    changed["_meta"]["hostvars"]["compute00042"]["nova_cpu_allocation_ratio"] = 8.0
    backend.write(changed)
    after = keys_below(backend)
    last_revision = max(kv.mod_revision for kv in before.values())
    written = sorted(k for k, kv in after.items() if kv.mod_revision > last_revision)
    layout = backend.layout
    host_value = canonical(changed["_meta"]["hostvars"]["compute00042"])
    new_chunk = set(build(changed).chunks) - set(build(inventory).chunks)
    assert len(new_chunk) == 1
    assert written == sorted(
        [
            layout.head,
            layout.version(2),
            layout.object(digest(host_value)),
            layout.chunk(new_chunk.pop()),
        ]
    )
    assert backend.last_write["keys"] == 4
    assert backend.last_write["bytes"] < 40_000
    assert backend_for(options).load() == changed


def test_no_value_nears_the_request_limit_at_10000_computes(
    options: dict[str, str], tmp_path: Path
) -> None:
    from osa_inventory.generate import generate
    from osa_inventory.sources import load_environment, load_user_config
    from osa_inventory.testing.deployment import write_config

    environment = require_shared_dir() / "inventory"
    write_config(10_000, tmp_path)
    inventory = generate(
        load_user_config(tmp_path), load_environment(environment, tmp_path)
    ).inventory
    backend = backend_for(options)
    backend.write(inventory)
    sizes = {key: len(kv.value) for key, kv in keys_below(backend).items()}
    biggest = max(sizes, key=sizes.__getitem__)
    assert sizes[biggest] <= PART_BYTES, (biggest, sizes[biggest])
    assert sizes[biggest] < ETCD_REQUEST_LIMIT / 4
    assert len(sizes) > 10_000
    assert backend_for(options).load() == inventory


def test_values_larger_than_a_part_are_split(options: dict[str, str]) -> None:
    inventory = sample_inventory()
    names = [f"compute{i:06d}.region-one.example.org" for i in range(40_000)]
    inventory["huge_group"] = {"hosts": names, "children": []}
    backend = backend_for(options)
    backend.write(inventory)
    sizes = [len(kv.value) for kv in keys_below(backend).values()]
    assert len(canonical(inventory["huge_group"])) > 3 * PART_BYTES
    assert max(sizes) <= PART_BYTES
    assert backend_for(options).load() == inventory


def test_reader_never_sees_a_mixed_version(options: dict[str, str]) -> None:
    base = large_inventory(3000)
    versions = {f"g{i}": generation(base, f"g{i}", 3000) for i in range(6)}
    writer, reader = backend_for(options), backend_for(options)
    writer.write(versions["g0"])
    seen: list[str] = []
    problems: list[str] = []
    done = threading.Event()

    def read_all() -> None:
        while not done.is_set():
            inventory = reader.load()
            tag = inventory["all"]["vars"]["generation"]
            if inventory != versions.get(tag):
                tags = {h.get("generation") for h in inventory["_meta"]["hostvars"].values()}
                problems.append(f"read a mix of {sorted(map(str, tags))} labelled {tag}")
            seen.append(tag)

    thread = threading.Thread(target=read_all)
    thread.start()
    try:
        for tag in list(versions)[1:]:
            writer.write(versions[tag])
            assert writer.last_write["keys"] > 3 * BATCH_KEYS  # several transactions
    finally:
        done.set()
        thread.join()
    assert not problems, problems[:3]
    assert len(set(seen)) >= 3, f"the reader saw too few versions: {sorted(set(seen))}"
    assert len(seen) > 10


def test_versions_beyond_retention_are_collected(options: dict[str, str]) -> None:
    backend = backend_for(options, retention="3")
    written = {}
    for number in range(1, 7):
        inventory = sample_inventory()
        inventory["_meta"]["hostvars"][f"extra{number}"] = {"number": number}
        backend.write(inventory)
        written[number] = inventory
    assert [v.version for v in backend.list_versions()] == [4, 5, 6]
    for number in (4, 5, 6):
        assert backend.read_version(number) == written[number]
    with pytest.raises(StoreError, match="version 3 is not retained"):
        backend.read_version(3)
    assert _unreferenced_keys(backend) == set()

    # A writer that died midway leaves keys no version refers to: a full sweep
    # removes them, but only once a later version is committed (it might be a
    # write in progress until then).
    layout, client = backend.layout, backend.client
    orphans = [layout.object(digest(b'"orphan"')), layout.chunk(digest(b'{"x":"y"}'))]
    client.txn([], [put_op(orphans[0], b'"orphan"'), put_op(orphans[1], b'{"x":"y"}')], [])
    backend.collect_garbage(full=True)
    assert set(orphans) <= set(keys_below(backend))
    backend.write(sample_inventory())
    collected = backend.collect_garbage(full=True)
    assert collected.objects >= 1 and collected.chunks >= 1
    assert not set(orphans) & set(keys_below(backend))
    assert _unreferenced_keys(backend) == set()
    assert [v.version for v in backend.list_versions()] == [5, 6, 7]


def _unreferenced_keys(backend: EtcdBackend) -> set[bytes]:
    """Chunk and object keys no retained version refers to (and check none is missing)."""
    keys = set(keys_below(backend))
    revision = backend.client.range(backend.layout.head).revision
    used: set[bytes] = set()
    for kv in backend.client.scan(backend.layout.versions, revision=revision):
        chunks, objects = backend.referenced(root_of(parse_record(kv)), revision)
        used |= {backend.layout.chunk(sha) for sha in chunks}
        used |= {backend.layout.object(sha) for sha in objects}
    assert used <= keys, "a retained version refers to a missing key"
    layout = backend.layout
    stored = {k for k in keys if k.startswith((layout.chunks, layout.objects))}
    return stored - used


def test_a_fingerprint_is_attached_to_the_head_in_place(options: dict[str, str]) -> None:
    store = Store(backend_for(options))
    store.update(lambda _: sample_inventory(), fingerprint="inputs-1", warnings=["w1"])
    head = backend_for(options).head()
    assert (head.version, head.fingerprint, head.warnings) == (1, "inputs-1", ["w1"])
    assert store.remember_fingerprint(store.read(), "inputs-2", [])
    again = backend_for(options)
    assert (again.head().version, again.head().fingerprint) == (1, "inputs-2")
    assert again.list_versions()[-1].fingerprint == "inputs-2"
    assert again.load() == sample_inventory()
    assert store.read().version == again.head()


def test_a_damaged_value_is_reported_not_served(options: dict[str, str]) -> None:
    backend = backend_for(options)
    backend.write(sample_inventory())
    host_value = canonical(sample_inventory()["_meta"]["hostvars"]["infra1"])
    key = backend.layout.object(digest(host_value))
    backend.client.txn([], [put_op(key, host_value.replace(b"infra1", b"infra9"))], [])
    with pytest.raises(StoreCorrupt, match="does not hold what its digest says") as raised:
        backend_for(options).load()
    assert "osa-inventory rollback" in str(raised.value) and "\n" not in str(raised.value)


# -- the lock ----------------------------------------------------------------------------

HOLD_LOCK = """
import json, sys, time
from osa_inventory.store import open_backend
from osa_inventory.store.backend import LockHolder, WriteMeta
backend = open_backend("etcd", json.loads(sys.argv[1]))
assert backend.acquire_lock(LockHolder.for_this_process()) is None
print("locked", flush=True)
time.sleep(120)
"""


def test_lock_of_a_killed_holder_expires_by_itself(options: dict[str, str]) -> None:
    ttl = 2
    settings = {**options, "lock_ttl": str(ttl)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, json.dumps(settings)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        backend = backend_for(settings)
        status = backend.lock_status()
        assert status is not None and status.pid == holder.pid
        assert status.expires is not None and status.expires <= time.time() + ttl + 0.5
        time.sleep(ttl * 1.5)  # the holder refreshes its lease: still locked
        assert backend.lock_status().pid == holder.pid
        other = LockHolder.for_this_process()
        assert backend.acquire_lock(other).pid == holder.pid
    finally:
        holder.kill()  # SIGKILL: no chance to release anything
        holder.wait()
    killed = time.monotonic()
    while backend.lock_status() is not None:
        assert time.monotonic() - killed < ttl + 3, "the dead holder's lock did not expire"
        time.sleep(0.1)
    assert backend.acquire_lock(other) is None
    backend.release_lock(other)
    assert backend.lock_status() is None


def test_a_write_after_losing_the_lock_is_refused(options: dict[str, str]) -> None:
    store = Store(backend_for(options), lock_timeout=5)
    store.update(lambda _: sample_inventory())
    intruder = backend_for(options)
    with store.locked() as holder:
        base = store.read()
        intruder.break_lock(holder.lock_id)
        assert intruder.acquire_lock(LockHolder.for_this_process()) is None
        meta = WriteMeta.for_this_process(message="too late")
        with pytest.raises(LockTimeout, match="lost the store lock"):
            store.commit(generation(base.inventory, "late", 1), base=base, meta=meta)
    assert backend_for(options).load() == sample_inventory()
    intruder.close()


# -- failover and loss of quorum ----------------------------------------------------------


def test_failover_past_a_dead_first_endpoint(cluster: EtcdCluster) -> None:
    (dead_port,) = free_ports(1)
    endpoints = f"127.0.0.1:{dead_port},{cluster.endpoints}"
    options = {"endpoints": endpoints, "prefix": f"/test-{uuid.uuid4().hex[:12]}"}
    backend = backend_for(options)
    backend.write(sample_inventory())
    assert backend.client.current_endpoint.port != dead_port  # remembered
    assert backend_for(options).load() == sample_inventory()
    # the member it talks to dies: the next one takes over
    first = next(
        m for m in cluster.members if m.client_port == backend.client.current_endpoint.port
    )
    cluster.kill(first)
    assert backend.load() == sample_inventory()
    assert backend.client.current_endpoint.port not in (dead_port, first.client_port)


def test_failover_past_a_hung_member(cluster: EtcdCluster) -> None:
    hung = cluster.members[0]
    options = {"endpoints": cluster.endpoints, "prefix": f"/test-{uuid.uuid4().hex[:12]}"}
    backend_for(options).write(sample_inventory())
    cluster.pause(hung)  # connections are accepted, nothing is answered
    try:
        started = time.monotonic()
        assert backend_for({**options, "timeout": "4"}).load() == sample_inventory()
        assert time.monotonic() - started < 4  # the hung member got half the budget
    finally:
        cluster.resume(hung)


def test_one_member_killed_during_a_burst_of_writes(cluster: EtcdCluster) -> None:
    options = {"endpoints": cluster.endpoints, "prefix": f"/test-{uuid.uuid4().hex[:12]}"}
    store = Store(backend_for(options), lock_timeout=30)
    count, kill_after = 24, 6
    errors: list[str] = []
    progress = threading.Semaphore(0)

    def burst() -> None:
        for step in range(1, count + 1):
            try:
                store.update(lambda inv, n=step: _with_counter(inv, n), message=f"step {step}")
            except Exception as exc:
                errors.append(f"step {step}: {type(exc).__name__}: {exc}")
            progress.release()

    thread = threading.Thread(target=burst)
    thread.start()
    for _ in range(kill_after):
        progress.acquire(timeout=60)
    leader = cluster.leader()
    cluster.kill(leader)  # the leader: an election happens mid-burst
    thread.join(120)
    assert not errors, errors
    history = store.history()
    assert [v.version for v in history][-1] == count
    assert [v.message for v in history][-3:] == [f"step {n}" for n in range(count - 2, count + 1)]
    cluster.restart(leader)
    only_restarted = {**options, "endpoints": leader.endpoint}
    expected = _with_counter(sample_inventory(), count)
    deadline = time.monotonic() + 10
    while backend_for(only_restarted).load() != expected:  # it catches up with the log
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for info in history:
        assert backend_for(only_restarted).read_version(info.version) == _with_counter(
            sample_inventory(), info.version
        )


def _with_counter(inventory: dict[str, Any], value: int) -> dict[str, Any]:
    result = copy_inventory(inventory) if inventory.get("all") else sample_inventory()
    result["all"]["vars"]["burst"] = value
    return result


def test_losing_quorum_mid_write_leaves_the_old_version(cluster: EtcdCluster) -> None:
    options = {
        "endpoints": cluster.endpoints,
        "prefix": f"/test-{uuid.uuid4().hex[:12]}",
        "timeout": "3",
    }
    backend = backend_for(options)
    old = sample_inventory()
    backend.write(old)
    head = backend.head()
    big = large_inventory(10_000)
    failure: list[BaseException] = []

    def write() -> None:
        try:
            backend_for(options).write(big)
        except BaseException as exc:
            failure.append(exc)

    watcher = backend_for(options).client
    start = watcher.range(b"/").revision
    thread = threading.Thread(target=write)
    thread.start()
    while watcher.range(b"/").revision < start + 5:  # some batches are in
        time.sleep(0.01)
    victims = [m for m in cluster.members][:2]
    for member in victims:
        cluster.kill(member)
    thread.join(60)
    assert failure and isinstance(failure[0], StoreUnavailable), failure
    assert "\n" not in str(failure[0])
    for member in victims:
        cluster.restart(member, wait=False)
    cluster.wait_healthy()
    reader = backend_for(options)
    assert reader.head() == head
    assert reader.load() == old
    again = large_inventory(2000)
    reader.write(again)  # works again
    assert backend_for(options).load() == again


# -- the command ---------------------------------------------------------------------------


def _cli(config: Path, *args: str, cache: bool = True) -> subprocess.CompletedProcess:
    """``osa-inventory --list`` on ``config``; the local copy of the store kept beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    env["OSA_INVENTORY_CONFIG"] = str(config / "no-osa.ini")
    env["XDG_CACHE_HOME"] = str(config / "cache")
    if not cache:
        env["OSA_INVENTORY_CACHE_TTL"] = "0"
    environment = require_shared_dir() / "inventory"
    return subprocess.run(
        [str(CLI), "--config", str(config), "--environment", str(environment), *args, "--list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _prod_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copyfile(require_shared_dir() / "examples" / "prod" / USER_CONFIG, dest / USER_CONFIG)
    return dest


def test_list_is_byte_identical_to_the_file_backend(
    options: dict[str, str], tmp_path: Path
) -> None:
    with_file = _cli(_prod_copy(tmp_path / "file"))
    assert with_file.returncode == 0, with_file.stderr
    etcd_flags = ["--backend", "etcd"]
    for key, value in options.items():
        etcd_flags += ["--backend-option", f"{key}={value}"]
    config = _prod_copy(tmp_path / "etcd")
    first = _cli(config, *etcd_flags)
    assert first.returncode == 0, first.stderr
    assert first.stdout == with_file.stdout
    again = _cli(config, *etcd_flags)  # read back from etcd: no change, no new version
    assert again.returncode == 0, again.stderr
    assert again.stdout == with_file.stdout
    head = backend_for(options).head()
    assert head.version == 1 and head.fingerprint  # the rerun was served as stored
    assert not list(config.glob("openstack_inventory*"))  # nothing went to the file backend


def test_cli_without_quorum_fails_cleanly_then_recovers(
    cluster: EtcdCluster, tmp_path: Path
) -> None:
    options = {
        "endpoints": cluster.endpoints,
        "prefix": f"/test-{uuid.uuid4().hex[:12]}",
        "timeout": "2",
    }
    flags = ["--backend", "etcd"]
    for key, value in options.items():
        flags += ["--backend-option", f"{key}={value}"]
    config = _prod_copy(tmp_path / "config")
    first = _cli(config, *flags)
    assert first.returncode == 0, first.stderr
    user_config = yaml.safe_load((config / USER_CONFIG).read_text())
    user_config["global_overrides"]["etcd_test_marker"] = "after"
    (config / USER_CONFIG).write_text(yaml.safe_dump(user_config))

    victims = cluster.members[1:]
    for member in victims:
        cluster.kill(member)
    started = time.monotonic()
    failed = _cli(config, *flags, cache=False)  # the backend's own error, not the local copy
    assert time.monotonic() - started < 20
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("osa-inventory: error: etcd: no endpoint answered"), lines[0]
    assert "quorum" in lines[0] and "Traceback" not in failed.stderr
    assert failed.stdout == ""

    for member in victims:
        cluster.restart(member, wait=False)
    cluster.wait_healthy()
    backend = backend_for(options)
    assert [v.version for v in backend.list_versions()] == [1]  # nothing half-written
    assert backend.load() == json.loads(first.stdout)
    recovered = _cli(config, *flags)
    assert recovered.returncode == 0, recovered.stderr
    stored = backend_for(options).load()
    assert stored == json.loads(recovered.stdout)
    assert stored["all"]["vars"]["etcd_test_marker"] == "after"
    assert [v.version for v in backend_for(options).list_versions()] == [1, 2]


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"endpoints": "10.0.0.1:notaport"}, "endpoint '10.0.0.1:notaport' is not valid"),
        ({"endpoints": " , "}, "option endpoints is empty"),
        ({"endpoints": "ftp://10.0.0.1:2379"}, "is not valid"),
        ({"retention": "0"}, "retention must be 1 or more"),
        ({"lock_ttl": "1"}, "lock_ttl must be 2 seconds or more"),
        ({"prefix": "osa"}, "must start with '/'"),
        ({"ca_cert": "/nonexistent/ca.pem"}, "option ca_cert: cannot read /nonexistent/ca.pem"),
        ({"password": "secret"}, "needs the user option"),
        ({"protocol": "udp"}, "use http or https"),
        ({"endpoint": "10.0.0.1"}, "unknown option endpoint"),
    ],
)
def test_bad_options_are_one_line_config_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_backend("etcd", options)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_endpoints_accept_schemes_and_ipv6() -> None:
    backend = open_backend("etcd", {"endpoints": "https://[::1]:2380, 10.0.0.2 ,etcd3:2381"})
    assert [(e.scheme, str(e)) for e in backend.client.config.endpoints] == [
        ("https", "[::1]:2380"),
        ("http", "10.0.0.2:2379"),
        ("http", "etcd3:2381"),
    ]


def test_unreachable_cluster_is_a_one_line_error() -> None:
    ports = free_ports(2)
    endpoints = ",".join(f"127.0.0.1:{p}" for p in ports)
    backend = open_backend("etcd", {"endpoints": endpoints, "timeout": "0.5"})
    with pytest.raises(StoreUnavailable) as raised:
        backend.load()
    message = str(raised.value)
    assert "\n" not in message
    for port in ports:
        assert f"127.0.0.1:{port}: Connection refused" in message


# -- TLS and authentication (single-member servers of their own) ----------------------------

AUTH_PREFIX = "/osa-auth/"
AUTH_USER, AUTH_PASSWORD = "deployer", "s3cret pass"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TlsFiles]]:
    """An etcd serving https and requiring client certificates; (endpoint, files)."""
    binary = require_etcd()
    with data_dir(tmp_path_factory, "etcd-tls") as base:
        files = make_tls_files(base / "pki")
        with running(EtcdCluster(base, size=1, binary=binary, tls=files)) as server:
            yield server.members[0].endpoint, files


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An etcd with authentication on; AUTH_USER may read and write below AUTH_PREFIX."""
    binary = require_etcd()
    with (
        data_dir(tmp_path_factory, "etcd-auth") as base,
        running(EtcdCluster(base, size=1, binary=binary)) as server,
    ):
        member = server.members[0]
        prefix = AUTH_PREFIX.encode()
        permission = {
            "permType": "READWRITE",
            "key": b64(prefix),
            "range_end": b64(prefix_end(prefix)),
        }
        for path, body in [
            ("auth/role/add", {"name": "root"}),
            ("auth/user/add", {"name": "root", "password": "root-secret"}),
            ("auth/user/grant", {"user": "root", "role": "root"}),
            ("auth/role/add", {"name": "osa"}),
            ("auth/role/grant", {"name": "osa", "perm": permission}),
            ("auth/user/add", {"name": AUTH_USER, "password": AUTH_PASSWORD}),
            ("auth/user/grant", {"user": AUTH_USER, "role": "osa"}),
            ("auth/enable", {}),
        ]:
            server.post(member, path, body)
        yield member.endpoint


def _round_trip_with_lock(options: dict[str, str]) -> None:
    store = Store(backend_for(options), lock_timeout=5)
    result = store.update(lambda _: sample_inventory(), message="over tls/auth")
    assert result.changed and result.version.version == 1
    assert backend_for(options).load() == sample_inventory()
    assert (
        backend_for(options).load_host("infra1")
        == sample_inventory()["_meta"]["hostvars"]["infra1"]
    )
    store.close()


def test_tls_with_a_client_certificate(tls_server: tuple[str, TlsFiles]) -> None:
    endpoint, files = tls_server
    options = {
        "endpoints": endpoint,  # https because ca_cert is set
        "ca_cert": str(files.ca),
        "cert_cert": str(files.client_cert),
        "cert_key": str(files.client_key),
        "prefix": f"/tls-{uuid.uuid4().hex[:8]}",
    }
    _round_trip_with_lock(options)


def test_the_light_head_over_tls(tls_server: tuple[str, TlsFiles], tmp_path: Path) -> None:
    """The light ``--list``'s one request (a socket of its own) speaks TLS with the
    client certificate, verifies the server against ca_cert, and reads the head the
    full backend reads; with another CA it cannot tell (None: the full road answers)."""
    from osa_inventory.backends.etcd.light import etcd_head

    endpoint, files = tls_server
    options = {
        "endpoints": endpoint,
        "ca_cert": str(files.ca),
        "cert_cert": str(files.client_cert),
        "cert_key": str(files.client_key),
        "prefix": f"/tls-light-{uuid.uuid4().hex[:8]}",
    }
    _round_trip_with_lock(options)
    backend = backend_for(options)
    assert etcd_head(backend.config) == backend.head()
    other = make_tls_files(tmp_path / "other-pki")
    assert etcd_head({**backend.config, "ca_cert": str(other.ca)}) is None


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        (b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"kvs": []}', {"kvs": []}),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"kvs": []}', {"kvs": []}),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"kvs": []}', None),  # cut short
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n{}\r\n0\r\n\r\n", None),
        (b'HTTP/1.0 503 Service Unavailable\r\n\r\n{"error": "no leader"}', None),
        (b'HTTP/1.0 200 OK\r\n\r\n["not", "an object"]', None),
        (b'HTTP/1.0 200 OK\r\n\r\n{"kvs": [', None),
        (b"HTTP/1.0 200 OK", None),  # the connection closed before the headers ended
    ],
)
def test_the_light_head_takes_only_a_whole_answer(response: bytes, answer: Any) -> None:
    from osa_inventory.backends.etcd.light import answer_of

    assert answer_of(response) == answer


@pytest.mark.parametrize("missing", ["client certificate", "CA"])
def test_tls_problems_are_one_line_errors(tls_server: tuple[str, TlsFiles], missing: str) -> None:
    endpoint, files = tls_server
    options = {"endpoints": f"https://{endpoint}", "timeout": "1"}
    if missing == "CA":
        options.update(cert_cert=str(files.client_cert), cert_key=str(files.client_key))
    else:
        options["ca_cert"] = str(files.ca)
    with pytest.raises(StoreUnavailable) as raised:
        backend_for(options).load()
    message = str(raised.value)
    assert "\n" not in message
    assert "check the ca_cert, cert_cert and cert_key options" in message, message
    if missing == "CA":
        assert "CERTIFICATE_VERIFY_FAILED" in message


def test_user_and_password_through_the_command(auth_server: str, tmp_path: Path) -> None:
    password_file = tmp_path / "etcd-password"
    password_file.write_text(AUTH_PASSWORD + "\n")
    flags = ["--backend", "etcd"]
    for option in (
        f"endpoints={auth_server}",
        f"prefix={AUTH_PREFIX}cli",
        f"user={AUTH_USER}",
        f"password_file={password_file}",
    ):
        flags += ["--backend-option", option]
    result = _cli(_prod_copy(tmp_path / "config"), *flags)
    assert result.returncode == 0, result.stderr
    options = {"endpoints": auth_server, "prefix": f"{AUTH_PREFIX}cli", "user": AUTH_USER}
    assert backend_for(options, password=AUTH_PASSWORD).load() == json.loads(result.stdout)


def test_user_and_password_with_the_lock(auth_server: str) -> None:
    options = {"endpoints": auth_server, "prefix": f"{AUTH_PREFIX}{uuid.uuid4().hex[:8]}"}
    _round_trip_with_lock({**options, "user": AUTH_USER, "password": AUTH_PASSWORD})


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        ({"user": AUTH_USER, "password": "wrong"}, ConfigError, "rejected user 'deployer'"),
        ({}, ConfigError, "requires authentication; set the user and password options"),
        (
            {"user": AUTH_USER, "password": AUTH_PASSWORD, "prefix": "/elsewhere"},
            StoreUnavailable,
            "permission denied",
        ),
    ],
)
def test_auth_problems_are_one_line_errors(
    auth_server: str, extra: dict[str, str], error: type, message: str
) -> None:
    options = {"endpoints": auth_server, "prefix": f"{AUTH_PREFIX}x", **extra}
    with pytest.raises(error) as raised:
        backend_for(options).load()
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
