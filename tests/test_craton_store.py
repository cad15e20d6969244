"""The craton backend as deployers use it: the commands, outages, interrupted and concurrent
writes, the exact values Craton's database would change, and what it costs in requests.

All against the run's real Craton server (fixture ``craton_server``), each test in a
project of its own with a plain user (``craton_options``).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from conftest import (
    CLI,
    INVENTORY_FILE,
    copy_example,
    example_params,
    one_line_error,
    reference_path,
    require_shared_dir,
    warnings_of,
)
from osa_inventory.backends.craton import CratonBackend
from osa_inventory.backends.craton import lock as craton_lock
from osa_inventory.backends.craton.lock import BEAT_VAR, HOLDER_VAR
from osa_inventory.backends.craton.mapping import EXACT_KEY, PLACEHOLDER_IP
from osa_inventory.backends.craton.places import HISTORY_CELL, LOCK_CELL
from osa_inventory.errors import ConfigError, LockTimeout, StaleWrite, StoreError
from osa_inventory.inventory import copy_inventory
from osa_inventory.jsonio import dumps_inventory
from osa_inventory.redact import MASK
from osa_inventory.store import open_backend
from osa_inventory.store.backend import LockHolder
from osa_inventory.store.registry import parse_url
from osa_inventory.store.store import Store
from osa_inventory.testing import large_inventory, sample_inventory

MANAGE = CLI.parent / "osa-inventory-manage"
KEY_VAR = "OSA_TEST_CRATON_KEY"
#: hosts rewritten by the writers the tests stop half-way: enough to catch one mid-write
HALF_WAY_HOSTS = 120
SCRUBBED = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS")


# -- helpers ------------------------------------------------------------------------------


def craton(options: dict[str, Any], **extra: Any) -> CratonBackend:
    return open_backend("craton", {**options, **extra})


def store_of(options: dict[str, Any]) -> Store:
    backend = craton(options)
    return Store(backend, label=backend.describe(), lock_timeout=30)


def write_ini(path: Path, options: dict[str, Any], **extra: str) -> Path:
    """osa.ini selecting the craton store; the key is read from $OSA_TEST_CRATON_KEY."""
    lines = ["[inventory]", "backend = craton", "", "[backend:craton]"]
    for key, value in {**options, **extra}.items():
        if key != "key":
            lines.append(f"{key} = {value}")
    lines.append(f"key_env = {KEY_VAR}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run(
    *args: Any,
    ini: Path | None = None,
    options: dict[str, Any] | None = None,
    program: Path = CLI,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OSA_") and k not in SCRUBBED}
    full["OSA_INVENTORY_CONFIG"] = str(ini) if ini else "/nonexistent/osa.ini"
    if options:
        full[KEY_VAR] = options["key"]
    full.update(env or {})
    return subprocess.run(
        [str(program), *map(str, args)], capture_output=True, text=True, env=full, timeout=300
    )


def start(*args: Any, ini: Path, options: dict[str, Any]) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OSA_") and k not in SCRUBBED}
    full.update({"OSA_INVENTORY_CONFIG": str(ini), KEY_VAR: options["key"]})
    return subprocess.Popen(
        [str(CLI), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
    )


def craton_url(options: dict[str, Any], **query: str) -> str:
    """The migrate URL of a store; the key stays out of it (key_env)."""
    base = options["url"].replace("http://", f"craton+http://{options['user']}@", 1)
    params = {"project_id": options["project_id"], **query}
    return base + "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())


def access_log_lines(server: Any) -> list[str]:
    """The requests Craton has answered so far (wsgiref's access log)."""
    text = (server.base / "craton-api.out").read_text(errors="replace")
    return [
        line for line in text.splitlines() if '"GET ' in line or ('" ' in line and "HTTP/" in line)
    ]


def own_variables(options: dict[str, Any], host: str) -> dict[str, Any]:
    backend = craton(options)
    place = backend.places.ensure()
    found = backend.client.get("/hosts", region_id=place.region_id, name=host)["hosts"]
    return backend.client.get(f"/hosts/{found[0]['id']}/variables", **{"resolved-values": "false"})[
        "variables"
    ]


def synthetic(computes: int, tag: str = "") -> dict[str, Any]:
    inventory = large_inventory(computes)
    if tag:
        for hostvars in inventory["_meta"]["hostvars"].values():
            hostvars["generation"] = tag
    return inventory


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def writing_marker(options: dict[str, Any]) -> dict[str, Any] | None:
    _, head = craton(options)._head_record()
    return (head or {}).get("writing")


# -- options, URLs, errors (no server needed) ------------------------------------------------


def test_options_are_checked_with_clear_messages() -> None:
    good = {
        "url": "http://127.0.0.1:9/v1",
        "project_id": "627c61ac-4adf-4daa-bac6-5d040c84c372",
        "user": "osa",
        "key": "s3cret",
    }
    for bad, words in (
        ({"project_id": "osa"}, "not a UUID"),
        ({"url": "craton:7780"}, "http://"),
        ({"retention": "0"}, "retention"),
        ({"ca_cert": "/nonexistent/ca.pem"}, "cannot read"),
    ):
        with pytest.raises(ConfigError) as raised:
            craton({**good, **bad})
        assert words in str(raised.value)
    backend = craton({**good, "url": "http://127.0.0.1:9"})
    assert backend.url == "http://127.0.0.1:9/v1"  # the API root is /v1
    assert backend.cloud == backend.region == "default"
    assert "s3cret" not in backend.describe()
    named = open_backend("craton", good, inventory_name="site1")
    assert (named.cloud, named.region) == ("site1", "site1")


def test_migrate_urls() -> None:
    assert parse_url("craton+https://osa@craton.example:7780/v1?project_id=P&region=r1") == (
        "craton",
        {"url": "https://craton.example:7780/v1", "user": "osa", "project_id": "P", "region": "r1"},
    )
    _, found = parse_url("craton+http://osa:k%40y@h:1/v1")
    assert found["key"] == "k@y" and found["url"] == "http://h:1/v1"
    with pytest.raises(ConfigError):
        parse_url("craton+http:///v1")


def test_unreachable_craton_is_a_one_line_error(tmp_path: Path) -> None:
    options = {
        "url": "http://127.0.0.1:9/v1",
        "project_id": "627c61ac-4adf-4daa-bac6-5d040c84c372",
        "user": "osa",
        "key": "s3cret-key",
        "timeout": "2",
    }
    proc = run("export", ini=write_ini(tmp_path / "osa.ini", options), options=options)
    line = one_line_error(proc, "craton http://127.0.0.1:9/v1", "no answer", "craton-api runs")
    assert proc.returncode == 3 and "s3cret-key" not in line


# -- the data: every example through the commands ------------------------------------------------


@pytest.mark.parametrize("example", example_params())
def test_list_and_migration_round_trip_are_byte_identical(
    example: str, craton_options: dict[str, Any], tmp_path: Path
) -> None:
    """--list through Craton is the file backend's --list; file -> craton -> file is exact."""
    environment = require_shared_dir() / "inventory"
    on_file = copy_example(example, tmp_path / "file")
    # the file backend's own layout (OSA's reference files are indented differently)
    stored = dumps_inventory(json.loads(reference_path(example).read_text())).encode()
    (on_file / INVENTORY_FILE).write_bytes(stored)
    by_file = run("--config", on_file, "--environment", environment, "--list")
    assert by_file.returncode == 0, by_file.stderr

    source = f"file://{on_file / INVENTORY_FILE}"
    target = craton_url(craton_options)
    moved = run(
        "migrate", "--from", source, "--to", target, "--to-option", f"key_env={KEY_VAR}",
        options=craton_options,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr

    ini = write_ini(tmp_path / "osa.ini", craton_options)
    config = copy_example(example, tmp_path / "craton")
    for attempt in ("generated", "served as stored"):
        listed = run("--config", config, "--environment", environment, "--list", ini=ini,
                     options=craton_options)  # fmt: skip
        assert listed.returncode == 0, (attempt, listed.stderr)
        assert listed.stdout == by_file.stdout, attempt
    assert not list(config.glob("openstack_inventory*"))

    back = tmp_path / "back"
    back.mkdir()
    returned = run("migrate", "--to", f"file://{back / INVENTORY_FILE}", ini=ini,
                   options=craton_options)  # fmt: skip
    assert returned.returncode == 0, returned.stderr
    assert (back / INVENTORY_FILE).read_bytes() == stored


def test_values_keep_their_json_types(craton_options: dict[str, Any]) -> None:
    """Craton on SQLite turns 4.0 into 4; the backend keeps the exact JSON beside it."""
    inventory = sample_inventory()
    odd = {
        "ratio": 4.0,
        "negative_zero": -0.0,
        "float_1e16": 1e16,
        "tiny": 5e-324,
        "third": 1 / 3,
        "big": 2**63,
        "huge": -(10**30),
        "int64": 2**63 - 1,
        "flag": True,
        "nothing": None,
        "text_number": "4.0",
        "nested": {"ratio": 4.0, "list": [1.0, 2**70]},
        "ключ": "значение",
    }
    inventory["_meta"]["hostvars"]["compute1"].update(odd)
    inventory["all"]["vars"]["ratio"] = 2.0
    craton(craton_options).write(copy_inventory(inventory))
    loaded = craton(craton_options).load()
    assert dumps_inventory(loaded) == dumps_inventory(inventory)
    raw = own_variables(craton_options, "compute1")
    assert raw["ratio"] == 4 and not isinstance(raw["ratio"], float)  # what SQLite keeps
    assert set(raw[EXACT_KEY]) == {
        "ratio", "negative_zero", "float_1e16", "tiny", "third", "big", "huge"
    }  # fmt: skip
    # a change back to plain values drops the exact copy
    plain = copy_inventory(inventory)
    for key in odd:
        plain["_meta"]["hostvars"]["compute1"].pop(key)
    craton(craton_options).write(plain)
    assert EXACT_KEY not in own_variables(craton_options, "compute1")
    assert craton(craton_options).load() == plain


def test_unsupported_names_are_refused_before_anything_is_written(
    craton_options: dict[str, Any],
) -> None:
    backend = craton(craton_options)
    backend.write(sample_inventory())
    before = backend.client.counts.copy()
    for breaker in (
        lambda inv: inv["_meta"]["hostvars"]["infra1"].__setitem__("", 1),
        lambda inv: inv["_meta"]["hostvars"]["infra1"].__setitem__(EXACT_KEY, 1),
        lambda inv: inv["_meta"]["hostvars"].__setitem__("h" * 256, {}),
    ):
        inventory = sample_inventory()
        breaker(inventory)
        with pytest.raises(ConfigError):
            backend.write(inventory)
    assert backend.client.counts - before == {"GET": 3}  # the head, read by write(); no write
    assert craton(craton_options).load() == sample_inventory()


def test_hosts_addresses_and_device_types(craton_options: dict[str, Any]) -> None:
    inventory = sample_inventory()
    hostvars = inventory["_meta"]["hostvars"]
    hostvars["infra1"]["management_address"] = "infra1.example.com"  # a name: not an address
    hostvars["infra1"]["ansible_host"] = "infra1.example.com"
    hostvars["infra2"]["management_address"] = "2001:DB8::10"
    del hostvars["compute1"]["management_address"]  # falls back on ansible_host
    craton(craton_options).write(inventory)
    backend = craton(craton_options)
    place = backend.places.ensure()
    hosts = {
        h["name"]: h
        for h in backend.client.get("/hosts", region_id=place.region_id, limit=100)["hosts"]
    }
    assert hosts["infra1"]["ip_address"] == PLACEHOLDER_IP
    assert hosts["infra2"]["ip_address"] == "2001:db8::10"
    assert hosts["compute1"]["ip_address"] == hostvars["compute1"]["ansible_host"]
    galera = next(name for name in hosts if "galera" in name)
    assert hosts[galera]["device_type"] == "container"
    assert hosts["infra1"]["device_type"] == "server"
    labels = backend.client.get(f"/hosts/{hosts[galera]['id']}/labels")["labels"]
    assert sorted(labels) == ["galera", "galera_container"]
    assert backend.load() == inventory


# -- what a change costs ------------------------------------------------------------------------


def test_a_one_host_change_touches_that_host_only(craton_options: dict[str, Any]) -> None:
    inventory = synthetic(40)
    store = store_of(craton_options)
    store.update(lambda _: copy_inventory(inventory))
    backend = store.backend
    ids = {h.id: name for name, h in backend._stored[1].hosts.items()}
    target = "compute00007"

    def changed_paths(change: Any) -> list[tuple[str, str]]:
        backend.client.reset_counts()
        assert store.update(change).changed
        sent = list(backend.client.sent)
        hosts_touched = {
            ids.get(int(path.split("/")[2])) for _, path in sent if path.startswith("/hosts/")
        }
        assert hosts_touched <= {target}, hosts_touched
        return [(method, path) for method, path in sent if method != "GET"]

    def one_var(current: dict[str, Any]) -> dict[str, Any]:
        new = copy_inventory(current)
        new["_meta"]["hostvars"][target]["nova_cpu_allocation_ratio"] = 8.0
        return new

    writes = changed_paths(one_var)
    host_writes = [w for w in writes if w[1].startswith("/hosts/")]
    assert len(host_writes) == 1 and host_writes[0][0] == "PUT", writes
    assert len(writes) <= 8, writes  # lock, change records, head twice, the host
    assert sum(backend.client.counts.values()) <= 16, backend.client.sent

    def new_group(current: dict[str, Any]) -> dict[str, Any]:
        new = copy_inventory(current)
        new["fast_compute"] = {"hosts": [target]}
        return new

    writes = changed_paths(new_group)
    assert ("PUT", f"/hosts/{next(i for i, n in ids.items() if n == target)}/labels") in writes
    assert store_of(craton_options).load() == new_group(one_var(inventory))


def test_list_with_unchanged_inputs_is_one_request(
    craton_server: Any, craton_options: dict[str, Any], tmp_path: Path
) -> None:
    environment = require_shared_dir() / "inventory"
    config = copy_example("aio", tmp_path / "config")
    ini = write_ini(tmp_path / "osa.ini", craton_options)
    first = run("--config", config, "--environment", environment, ini=ini, options=craton_options)
    assert first.returncode == 0, first.stderr
    warm = run("--config", config, "--environment", environment, ini=ini, options=craton_options)
    assert warm.returncode == 0 and warm.stdout == first.stdout
    before = len(access_log_lines(craton_server))
    again = run("--config", config, "--environment", environment, ini=ini, options=craton_options)
    assert again.returncode == 0 and again.stdout == first.stdout
    during = access_log_lines(craton_server)[before:]
    assert len(during) == 1, during
    assert "GET /v1/regions" in during[0]


# -- outages, interruptions, concurrent writers -------------------------------------------------


class Proxy:
    """A TCP relay to Craton that a test can cut, as a network outage would.

    With ``tls`` (a server-side SSL context) it is also Craton's TLS front end.
    """

    def __init__(self, target_port: int, tls: ssl.SSLContext | None = None) -> None:
        self.target_port = target_port
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        client.settimeout(None)
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:  # a client that refused our certificate, or Craton gone
            client.close()
            return
        with client, upstream:
            pair = {client: upstream, upstream: client}
            while self.running:
                # data an SSL socket already decrypted does not wake select()
                ready = [s for s in pair if isinstance(s, ssl.SSLSocket) and s.pending()]
                if not ready:
                    ready, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in ready:
                    try:
                        data = sock.recv(65536)
                        if not data:
                            return
                        pair[sock].sendall(data)
                    except OSError:
                        return

    def close(self) -> None:
        self.running = False
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def proxy(craton_server: Any) -> Iterator[Proxy]:
    relay = Proxy(int(craton_server.url.rsplit(":", 1)[1].split("/")[0]))
    yield relay
    relay.close()


def test_outage_serves_the_local_copy_and_refuses_writes(
    craton_options: dict[str, Any], proxy: Proxy, tmp_path: Path
) -> None:
    options = {**craton_options, "url": f"http://127.0.0.1:{proxy.port}/v1", "timeout": "3"}
    ini = write_ini(tmp_path / "osa.ini", options)
    craton(options).write(sample_inventory())
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    online = run("export", ini=ini, options=options, env=env)
    assert online.returncode == 0, online.stderr
    proxy.close()
    offline = run("export", ini=ini, options=options, env=env)
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout == online.stdout
    assert any("cannot be reached" in w and "local copy" in w for w in warnings_of(offline))
    refused = run("hosts", "remove", "compute1", ini=ini, options=options, env=env)
    assert refused.returncode == 3
    assert "cannot write the inventory" in refused.stderr
    assert craton(craton_options).load() == sample_inventory()
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert options["key"].encode() not in path.read_bytes()
            assert path.stat().st_mode & 0o077 == 0


def test_tls_with_the_ca_cert_option(
    craton_server: Any, craton_options: dict[str, Any], tmp_path: Path
) -> None:
    from osa_inventory.testing.etcd_cluster import make_tls_files

    files = make_tls_files(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(files.server_cert), str(files.server_key))
    relay = Proxy(int(craton_server.url.rsplit(":", 1)[1].split("/")[0]), tls=context)
    try:
        options = {**craton_options, "url": f"https://127.0.0.1:{relay.port}/v1", "timeout": "5"}
        craton(options, ca_cert=str(files.ca)).write(sample_inventory())
        assert craton(options, ca_cert=str(files.ca)).load() == sample_inventory()
        ini = write_ini(tmp_path / "osa.ini", options)
        untrusted = run("export", ini=ini, options=options)  # the CA is not in the system's
        line = one_line_error(untrusted, "TLS failed", "verify and ca_cert options")
        assert untrusted.returncode == 3 and options["key"] not in line
        unverified = run("export", ini=write_ini(tmp_path / "no-verify.ini", options,
                         verify="false"), options=options)  # fmt: skip
        assert unverified.returncode == 0, unverified.stderr
        assert json.loads(unverified.stdout) == sample_inventory()
        assert unverified.stderr == ""  # no warning per request
    finally:
        relay.close()


def _stopped_writer(
    tmp_path: Path, options: dict[str, Any]
) -> tuple[subprocess.Popen, Path, dict[str, Any], dict[str, Any]]:
    """A store at version 1 (``old``) and a writer of ``new`` stopped half-way (SIGSTOP)."""
    old, new = synthetic(HALF_WAY_HOSTS, "old"), synthetic(HALF_WAY_HOSTS, "new")
    craton(options).write(old)
    ini = write_ini(tmp_path / "osa.ini", options)
    source = tmp_path / "new.json"
    source.write_text(dumps_inventory(new))
    writer = start("import", source, "-m", "big change", ini=ini, options=options)

    def started() -> bool:  # the first host holds the new value
        return (
            writer.poll() is not None
            or own_variables(options, "compute00000").get("generation") == "new"
        )

    wait_for(started, what="the write to start")
    os.kill(writer.pid, signal.SIGSTOP)
    assert writer.poll() is None, writer.communicate()
    last = own_variables(options, f"compute{HALF_WAY_HOSTS - 1:05d}")["generation"]
    assert last == "old" and writing_marker(options) is not None, "the write was not half-way"
    return writer, ini, old, new


def test_interrupted_write_is_never_served_half_done_and_is_completed(
    craton_options: dict[str, Any], tmp_path: Path
) -> None:
    writer, ini, old, new = _stopped_writer(tmp_path, craton_options)
    try:
        mid = run("export", ini=ini, options=craton_options)  # the writer is alive, stopped
        assert mid.returncode == 0, mid.stderr
        assert mid.stdout == dumps_inventory(old), "a half-done write was served"
        assert writing_marker(craton_options) is not None
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    after = run("export", ini=ini, options=craton_options)
    assert after.returncode == 0, after.stderr
    assert after.stdout == dumps_inventory(new)
    warned = " ".join(warnings_of(after))
    assert f"pid {writer.pid}" in warned and "completed the write of version 2" in warned
    assert writing_marker(craton_options) is None
    versions = craton(craton_options).list_versions()
    assert [(v.version, v.message) for v in versions] == [(1, ""), (2, "big change")]
    assert craton(craton_options).read_version(1) == old
    doctor = run("doctor", ini=ini, options=craton_options)
    assert "craton write" in doctor.stdout and "no write under way" in doctor.stdout


def test_a_writer_that_lost_its_lock_stops_and_is_reported(
    craton_options: dict[str, Any], tmp_path: Path
) -> None:
    writer, ini, _, new = _stopped_writer(tmp_path, craton_options)
    try:
        holder = craton(craton_options).lock_status()
        assert holder is not None and holder.pid == writer.pid
        broken = run("lock", "break", holder.lock_id, ini=ini, options=craton_options)
        assert broken.returncode == 0, broken.stderr
        # another deploy host writes meanwhile: it completes the stopped write first
        other = run("hosts", "remove", "compute00003", ini=ini, options=craton_options)
        assert other.returncode == 0, other.stderr
        assert "completed the write of version 2" in other.stderr
        time.sleep(5.5)  # longer than the writer's lock check interval
    finally:
        os.kill(writer.pid, signal.SIGCONT)
    _, stderr = writer.communicate(timeout=120)
    assert writer.returncode == 3, stderr
    assert "lost the store lock" in stderr or "another writer" in stderr, stderr
    expected = copy_inventory(new)
    del expected["_meta"]["hostvars"]["compute00003"]
    for group in expected.values():
        if isinstance(group, dict) and "compute00003" in group.get("hosts", []):
            group["hosts"].remove("compute00003")
    assert craton(craton_options).load() == expected
    assert [v.version for v in craton(craton_options).list_versions()] == [1, 2, 3]


def test_a_reader_never_breaks_a_live_writer_whose_clock_is_behind(
    craton_options: dict[str, Any], tmp_path: Path
) -> None:
    """The holder record of a live writer says it started a day ago and expired an hour
    ago (its host's clock is behind): a reader serves the previous version, breaks
    nothing; once the writer is gone, 'lock break ID' lets the next run complete it."""
    writer, ini, old, new = _stopped_writer(tmp_path, craton_options)
    backend = craton(craton_options)
    backend.places.ensure()
    cell_id, variables = backend.places.cell(LOCK_CELL)
    holder = dict(variables[HOLDER_VAR])
    now = time.time()
    holder.update(host="clock-behind.invalid", since=now - 86400, expires=now - 3600)
    backend.client.put(f"/cells/{cell_id}/variables", {HOLDER_VAR: holder})
    try:
        mid = run("export", ini=ini, options=craton_options)
        assert mid.returncode == 0, mid.stderr
        assert json.loads(mid.stdout) == old, "a live writer's lock was broken"
        assert "breaking" not in mid.stderr and writing_marker(craton_options) is not None
        status = craton(craton_options).lock_status()
        assert status is not None and status.lock_id == holder["lock_id"]
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    broken = run("lock", "break", holder["lock_id"], ini=ini, options=craton_options)
    assert broken.returncode == 0, broken.stderr
    after = run("export", ini=ini, options=craton_options)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == new
    assert "completed the write of version 2" in after.stderr


def _holder_elsewhere(lock_id: str) -> LockHolder:
    """A holder on another deploy host whose record is a day old and long expired."""
    now = time.time()
    return LockHolder(
        lock_id, "someone", "elsewhere.invalid", 4242, now - 86400, "osa-inventory", now - 3600
    )


def test_a_live_holder_elsewhere_is_waited_for_however_old_its_record(
    craton_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(craton_lock, "BEAT_EVERY", 0.5)
    monkeypatch.setattr(craton_lock, "STALE_AFTER", 4.0)
    holder_backend = craton(craton_options)
    holder = _holder_elsewhere("elsewhere0live")
    assert holder_backend.acquire_lock(holder) is None
    waiter = Store(craton(craton_options), label="waiter", lock_timeout=8)
    try:
        with pytest.raises(LockTimeout, match="'osa-inventory lock break elsewhere0live'"):
            waiter.update(lambda _: sample_inventory())
        status = waiter.lock_status()
        assert status is not None and status.lock_id == holder.lock_id, "a live lock was broken"
        holder_backend.places.ensure()
        _, variables = holder_backend.places.cell(LOCK_CELL)
        assert variables[BEAT_VAR]["count"] >= 2, variables  # its heartbeat ran
    finally:
        holder_backend.release_lock(holder)
        holder_backend.close()
    assert waiter.update(lambda _: sample_inventory()).changed


def test_a_dead_holder_elsewhere_is_taken_over_once_its_beat_stood_still(
    craton_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder's host died (its heartbeat stopped, the cell stays): a waiter that saw
    the beat stand still for STALE_AFTER seconds of its own clock breaks the lock."""
    monkeypatch.setattr(craton_lock, "STALE_AFTER", 2.0)
    dead = craton(craton_options)
    holder = _holder_elsewhere("elsewhere0dead")
    assert dead.acquire_lock(holder) is None
    dead.close()  # the heartbeat stops; nobody removes the cell
    warnings: list[str] = []
    waiter = Store(craton(craton_options), label="waiter", lock_timeout=60, warn=warnings.append)
    started = time.monotonic()
    assert waiter.update(lambda _: sample_inventory()).changed
    assert 2.0 <= time.monotonic() - started < 60
    assert any("someone@elsewhere.invalid" in w and "elsewhere0dead" in w for w in warnings), (
        warnings
    )
    assert waiter.lock_status() is None


def test_doctor_finds_a_recorded_secret_and_history_redact_masks_it(
    craton_server: Any, craton_options: dict[str, Any], tmp_path: Path
) -> None:
    secret = "s3cr3t-Pa55w0rd"
    backend = craton(craton_options)
    backend.write(sample_inventory())
    # version 1 as an older osa-inventory recorded it: the command line as typed
    command = f"osa-inventory --list --backend-option password={secret}"
    history_id, history = backend.places.cell(HISTORY_CELL)
    record = {**history["v:1"], "command": command, "message": f"from http://u:{secret}@h"}
    backend.client.put(f"/cells/{history_id}/variables", {"v:1": record})
    _, head = backend._head_record()
    backend._put_head({**head, "command": command})

    def stored_variables() -> str:
        with contextlib.closing(sqlite3.connect(craton_server.base / "craton.sqlite")) as db:
            return repr(db.execute("SELECT value_ FROM variables").fetchall())

    def secrets_row() -> dict[str, str]:
        doctor = run("doctor", "--format", "json", ini=ini, options=craton_options)
        assert doctor.returncode in (0, 1), doctor.stderr
        return next(r for r in json.loads(doctor.stdout)["checks"] if r["check"] == "secrets")

    assert secret in stored_variables()
    ini = write_ini(tmp_path / "osa.ini", craton_options)
    row = secrets_row()
    assert row["status"] == "FAIL" and "version 1" in row["detail"], row
    fix = row["detail"].rsplit("with: ", 1)[1].split()
    redacted = run(*fix[1:], ini=ini, options=craton_options)  # the command doctor names
    assert redacted.returncode == 0, redacted.stderr
    assert "masked the secrets recorded with versions 1" in redacted.stdout
    assert secret not in stored_variables()
    assert secrets_row()["status"] == "ok"
    listed = run("history", "--format", "json", ini=ini, options=craton_options)
    assert (
        json.loads(listed.stdout)[0]["command"]
        == f"osa-inventory --list --backend-option password={MASK}"
    )
    again = craton(craton_options)
    assert [v.version for v in again.list_versions()] == [1]
    assert again.load() == sample_inventory() and again.read_version(1) == sample_inventory()


def test_changes_made_in_craton_are_refused_until_adopted(
    craton_options: dict[str, Any], tmp_path: Path
) -> None:
    craton(craton_options).write(sample_inventory())
    backend = craton(craton_options)
    place = backend.places.ensure()
    host = backend.client.get("/hosts", region_id=place.region_id, name="infra2")["hosts"][0]
    backend.client.put(f"/hosts/{host['id']}/variables", {"edited_in_craton": True})
    ini = write_ini(tmp_path / "osa.ini", craton_options)
    refused = run("export", ini=ini, options=craton_options)
    line = one_line_error(refused, "changed outside osa-inventory", "not version 1")
    assert refused.returncode == 3
    fix = line.split("run '", 1)[1].split("'", 1)[0].split()
    assert fix[0] == "osa-inventory"
    fixed = run(*fix[1:], ini=ini, options=craton_options)
    assert "recorded as version 2" in fixed.stderr, fixed.stderr
    served = run("export", ini=ini, options=craton_options)
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout)["_meta"]["hostvars"]["infra2"]["edited_in_craton"] is True
    history = craton(craton_options).list_versions()
    assert history[-1].version == 2 and "adopted" in history[-1].message
    with pytest.raises(Exception, match="cannot be rebuilt"):
        craton(craton_options).read_version(1)


def test_stale_writer_is_refused(craton_options: dict[str, Any]) -> None:
    first = store_of(craton_options)
    first.update(lambda _: sample_inventory())
    base = first.read()
    store_of(craton_options).update(lambda inv: {**copy_inventory(inv), "extra": {"hosts": []}})
    with pytest.raises(StaleWrite):
        craton(craton_options).write_version(sample_inventory(), _meta(), base.version)
    assert "extra" in craton(craton_options).load()


def test_history_keeps_retention_versions_and_rolls_back(
    craton_options: dict[str, Any], tmp_path: Path
) -> None:
    store = Store(craton(craton_options, retention="2"), label="retention", lock_timeout=30)
    for step in range(1, 5):
        store.update(lambda _, n=step: {**sample_inventory(), "step": {"hosts": [], "n": n}})
    backend = craton(craton_options, retention="2")
    assert [v.version for v in backend.list_versions()] == [3, 4]
    assert backend.read_version(3)["step"]["n"] == 3
    with pytest.raises(StoreError, match="not retained"):
        backend.read_version(2)
    kept = sorted(k for k in backend._history() if k.startswith("v:"))
    assert kept == ["v:3", "v:4"], kept  # older records are deleted, the pending change too
    ini = write_ini(tmp_path / "osa.ini", craton_options, retention="2")
    shown = run("retention", "show", "--format", "json", ini=ini, options=craton_options)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) | {"store": "", "source": ""} == {
        "store": "",
        "option": "retention",
        "value": 2,
        "source": "",
        "versions_kept_at_most": 2,
        "versions_kept_now": 2,
        "oldest": 3,
        "current": 4,
    }
    back = run("rollback", "3", "-m", "back to 3", ini=ini, options=craton_options)
    assert back.returncode == 0, back.stderr
    assert craton(craton_options).load()["step"]["n"] == 3
    assert craton(craton_options).head().version == 5


def _meta() -> Any:
    from osa_inventory.store.backend import WriteMeta

    return WriteMeta.for_this_process(message="stale")


# -- secrets, progress, the other commands ----------------------------------------------------


def test_the_key_is_never_recorded(
    craton_server: Any, craton_options: dict[str, Any], tmp_path: Path
) -> None:
    key = craton_options["key"]
    flags = ["--backend", "craton"]
    for name, value in craton_options.items():
        flags += ["--backend-option", f"{name}={value}"]  # the key on the command line
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    environment = require_shared_dir() / "inventory"
    config = copy_example("aio", tmp_path / "config")
    proc = run("--config", config, "--environment", environment, *flags, env=env)
    assert proc.returncode == 0, proc.stderr
    assert key not in proc.stderr
    history = run("history", "--format", "json", *flags, env=env)
    assert history.returncode == 0 and key not in history.stdout
    assert f"key={MASK}" in history.stdout  # the command line is kept, the key masked
    with contextlib.closing(sqlite3.connect(craton_server.base / "craton.sqlite")) as db:
        stored = [str(v) for (v,) in db.execute("SELECT value_ FROM variables")]
    assert stored and not any(key in value for value in stored)
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes()
    wrong = run("export", *flags[:-2], "--backend-option", "key=not-the-key", env=env)
    line = one_line_error(wrong, "refused user", "check the user, key and project_id")
    assert wrong.returncode == 2 and "not-the-key" not in line


def test_first_write_shows_progress_on_a_terminal(
    craton_options: dict[str, Any], tmp_path: Path
) -> None:
    ini = write_ini(tmp_path / "osa.ini", craton_options)
    source = tmp_path / "big.json"
    source.write_text(dumps_inventory(synthetic(60)))
    shown = run("import", source, ini=ini, options=craton_options, env={"FORCE_COLOR": "1"})
    assert shown.returncode == 0, shown.stderr
    assert "craton: writing default" in shown.stderr
    source.write_text(dumps_inventory(synthetic(60, "again")))
    quiet = run("import", source, ini=ini, options=craton_options)
    assert quiet.returncode == 0 and "craton: writing" not in quiet.stderr


def test_manage_and_doctor_on_craton(
    craton_server: Any, craton_options: dict[str, Any], tmp_path: Path
) -> None:
    on_file = copy_example("prod", tmp_path / "file")
    (on_file / INVENTORY_FILE).write_bytes(reference_path("prod").read_bytes())
    ini = write_ini(tmp_path / "osa.ini", craton_options)
    moved = run("migrate", "--from", f"file://{on_file / INVENTORY_FILE}", "--to", "craton",
                ini=ini, options=craton_options)  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    for flags in (["-l"], ["-g"], ["-G"], ["-e"], ["-l", "-s", "physical_host"]):
        by_file = run("--config", on_file, *flags, program=MANAGE)
        by_craton = run(*flags, ini=ini, options=craton_options, program=MANAGE)
        assert by_craton.returncode == 0, by_craton.stderr
        assert by_craton.stdout == by_file.stdout, flags
    removed = run("-r", "infra2", "-m", "retire infra2", ini=ini, options=craton_options,
                  program=MANAGE)  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    assert "infra2" not in craton(craton_options).load()["_meta"]["hostvars"]

    doctor = run("doctor", "--format", "json", ini=ini, options=craton_options)
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["craton user"]["status"] == "ok"
    assert checks["craton write"]["status"] == "ok"
    assert checks["craton labels"]["status"] == "ok", checks["craton labels"]
    assert checks["history"]["detail"].startswith("2 versions")
    backend = craton(craton_options)
    place = backend.places.ensure()
    host = backend.client.get("/hosts", region_id=place.region_id, name="infra1")["hosts"][0]
    backend.client.delete(f"/hosts/{host['id']}/labels", {"labels": ["shared_infra_hosts"]})
    doctor = run("doctor", "--format", "json", ini=ini, options=craton_options)
    labels = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}["craton labels"]
    assert labels["status"] == "warn" and "infra1" in labels["detail"]

    admin = craton_server.new_project(prefix="admin", admin=True)
    try:
        admin_ini = write_ini(tmp_path / "admin.ini", admin)
        doctor = run("doctor", "--format", "json", ini=admin_ini, options=admin)
        user = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}["craton user"]
        assert user["status"] == "warn" and "admin" in user["detail"]
    finally:
        craton_server.delete_project(admin["project_id"])


def test_backends_lists_craton() -> None:
    proc = run("backends")
    assert proc.returncode == 0
    row = next(line for line in proc.stdout.splitlines() if line.startswith("craton "))
    assert " yes " in row and "osa_inventory.backends.craton:CratonBackend" in row


def test_reads_of_an_empty_project_create_nothing(
    craton_options: dict[str, Any],
) -> None:
    backend = craton(craton_options)
    assert backend.load() == {"_meta": {"hostvars": {}}}
    assert backend.lock_status() is None
    assert set(backend.client.counts) == {"GET"}
    assert not requests.get(
        f"{craton_options['url']}/clouds",
        headers={
            "X-Auth-Project": craton_options["project_id"],
            "X-Auth-User": craton_options["user"],
            "X-Auth-Token": craton_options["key"],
        },
        timeout=30,
    ).json()["clouds"], "a read created something"
