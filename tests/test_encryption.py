"""Encryption at rest (issue 12, item 8): every backend, through the command line.

Each backend kind is a real store (files, SQLite, PostgreSQL, MariaDB, etcd,
Craton from tests/conftest.py). The tests look at the raw stored data (files,
rows, keys, variables, the local copy) for the deployment's host names, flip a
byte of it, and run every command an error message suggests.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CLI, REPO_DIR, USER_CONFIG
from osa_inventory.errors import ConfigError, StoreCorrupt
from osa_inventory.sealing import ENVELOPE_KEY, KeyRef, Keyring, Sealing, parse_keys
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store
from osa_inventory.testing import sample_inventory

DEMO = REPO_DIR / "examples" / "demo"
KINDS = ("file", "sqlite", "postgresql", "mysql", "etcd", "craton")
NETWORK = ("postgresql", "mysql", "etcd", "craton")


# -- helpers ---------------------------------------------------------------------------------


def run(tmp_path: Path, *args: Any, **env: str) -> subprocess.CompletedProcess:
    return run_program(tmp_path, [CLI, *args], **env)


def run_program(tmp_path: Path, argv: list[Any], **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    full["OSA_INVENTORY_CONFIG"] = str(tmp_path / "osa.ini")
    full["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    full.update(env)
    return subprocess.run(
        [str(word) for word in argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=full,
        timeout=300,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stderr
    return proc


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode != 0, proc.stdout[-300:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def suggested(line: str) -> list[str]:
    """The words of the command a message suggests in quotes ('osa-inventory ...')."""
    start = line.index("'osa-inventory ") + 1
    return line[start : line.index("'", start)].split()[1:]


class Deployment:
    """The demo deployment with host names of its own (found, or not, in raw data)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tag = f"h{uuid.uuid4().hex[:8]}"
        self.config = tmp_path / "config"
        self.config.mkdir()
        data = yaml.safe_load((DEMO / USER_CONFIG).read_text())
        for key, group in data.items():
            if key.endswith("hosts") and isinstance(group, dict):
                data[key] = {f"{self.tag}{name}": entry for name, entry in group.items()}
        (self.config / USER_CONFIG).write_text(yaml.safe_dump(data, sort_keys=False))

    def add_compute(self) -> None:
        path = self.config / USER_CONFIG
        data = yaml.safe_load(path.read_text())
        hosts = data["compute_hosts"]
        first = next(iter(hosts.values()))
        hosts[f"{self.tag}extra"] = {**first, "ip": "172.29.236.250"}
        path.write_text(yaml.safe_dump(data, sort_keys=False))


class Kind:
    """One backend kind: the flags that reach a fresh store, its raw data, a tamperer."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.request = request
        self.options: dict[str, str] = {}
        if kind == "file":
            self.options = {"path": str(tmp_path / "config" / "openstack_inventory.json")}
        elif kind == "sqlite":
            self.options = {"url": f"sqlite:///{tmp_path}/i.db"}
        elif kind == "etcd":
            endpoints = request.getfixturevalue("etcd_endpoints")
            self.options = {"endpoints": endpoints, "prefix": f"/enc-{uuid.uuid4().hex[:10]}"}
        elif kind == "craton":
            options = request.getfixturevalue("craton_options")
            self.options = dict(options)
        else:
            from test_security import fresh_database

            server = request.getfixturevalue(
                "pg_server" if kind == "postgresql" else "mariadb_server"
            )
            self.options = {"url": fresh_database(server)[1]}

    def flags(self) -> list[str]:
        words = ["--backend", self.kind]
        for key, value in self.options.items():
            words += ["--backend-option", f"{key}={value}"]
        return words

    def backend(self) -> Any:
        return open_backend(self.kind, self.options)

    # -- raw data --

    def raw(self) -> str:
        """Everything the store keeps, as text (files, rows, keys and values, variables)."""
        if self.kind == "file":
            folder = Path(self.options["path"]).parent
            return "".join(
                p.read_bytes().decode("latin-1")
                for p in sorted(folder.iterdir())
                if p.is_file() and p.name != USER_CONFIG
            )
        if self.kind == "sqlite":
            return "".join(
                p.read_bytes().decode("latin-1") for p in self.tmp_path.glob("i.db*") if p.is_file()
            )
        if self.kind in ("postgresql", "mysql"):
            return json.dumps(self._rows(), default=str)
        if self.kind == "etcd":
            return json.dumps(
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._etcd_items()]
            )
        return json.dumps(self._craton_objects(), default=str)

    def state(self) -> str:
        """What the store holds, to compare (SQLite's files change on a read: its rows)."""
        return json.dumps(self._rows(), default=str) if self.kind == "sqlite" else self.raw()

    def _rows(self) -> dict[str, list[Any]]:
        from sqlalchemy import create_engine, inspect, text

        engine = create_engine(self.options["url"])
        try:
            with engine.connect() as conn:
                return {
                    name: [list(r) for r in conn.execute(text(f"SELECT * FROM {name}"))]
                    for name in inspect(conn).get_table_names()
                }
        finally:
            engine.dispose()

    def _etcd_client(self) -> Any:
        import etcd3gw

        host, port = self.options["endpoints"].split(",")[0].split("//")[-1].split(":")
        return etcd3gw.client(host=host, port=int(port))

    def _etcd_items(self) -> list[tuple[bytes, bytes]]:
        client = self._etcd_client()
        found = client.get_prefix(self.options["prefix"])
        return [(meta["key"], value) for value, meta in found]

    def _craton_objects(self) -> list[Any]:
        backend = self.backend()
        place = backend.places.ensure()
        client = backend.client
        found: list[Any] = [client.get("/hosts", region_id=place.region_id, limit=100)]
        found.append(client.get(f"/regions/{place.region_id}/variables"))
        cells = client.get("/cells", region_id=place.region_id, limit=100)["cells"]
        for cell in cells:
            found.append(client.get(f"/cells/{cell['id']}/variables"))
        return found

    # -- tampering: one byte of the sealed value, where the backend keeps it --

    def tamper(self) -> None:
        if self.kind == "file":
            path = Path(self.options["path"])
            path.write_bytes(flip(path.read_bytes()))
        elif self.kind == "sqlite":
            with sqlite3.connect(self.tmp_path / "i.db") as db:
                (value,) = db.execute("SELECT value FROM osa_extras WHERE key='_meta'").fetchone()
                db.execute("UPDATE osa_extras SET value=? WHERE key='_meta'", (flip_text(value),))
        elif self.kind in ("postgresql", "mysql"):
            from sqlalchemy import create_engine, text

            engine = create_engine(self.options["url"])
            with engine.begin() as conn:
                quoted = "`key`" if self.kind == "mysql" else "key"
                where = f"WHERE {quoted}='_meta'"
                value = conn.execute(text(f"SELECT value FROM osa_extras {where}")).scalar_one()
                conn.execute(
                    text(f"UPDATE osa_extras SET value=:v {where}"), {"v": flip_text(value)}
                )
            engine.dispose()
        elif self.kind == "etcd":
            client = self._etcd_client()  # every sealed value: the current one among them
            found = [(k, v) for k, v in self._etcd_items() if b"osa-inventory-sealed" in v]
            assert found, "no sealed value in etcd"
            for key, value in found:
                client.put(key.decode(), flip(value).decode("latin-1"))
        else:
            backend = self.backend()  # every sealed value: the current one among them
            place = backend.places.ensure()
            flipped = 0
            for cell in backend.client.get("/cells", region_id=place.region_id)["cells"]:
                variables = backend.client.get(f"/cells/{cell['id']}/variables")["variables"]
                for name, value in variables.items():
                    if "osa-inventory-sealed" in json.dumps(value):
                        backend.client.put(
                            f"/cells/{cell['id']}/variables",
                            {name: json.loads(flip_text(json.dumps(value)))},
                        )
                        flipped += 1
            assert flipped, "no sealed value in Craton"


def flip(data: bytes) -> bytes:
    """One base64 character of the sealed payload changed (never the header)."""
    at = data.index(b"osa-inventory-sealed") + 60
    swapped = b"B" if data[at : at + 1] != b"B" else b"C"
    return data[:at] + swapped + data[at + 1 :]


def flip_text(text: str) -> str:
    return flip(text.encode("latin-1")).decode("latin-1")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    return Kind(request.param, request, tmp_path)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.key"
    ok(run(tmp_path, "key", "generate", path))
    return path


def inventory_run(kind: Kind, deployment: Deployment, *flags: Any) -> subprocess.CompletedProcess:
    return run(
        kind.tmp_path,
        "--config",
        deployment.config,
        "--environment",
        DEMO,
        *kind.flags(),
        *flags,
        "--list",
    )


def store_command(kind: Kind, deployment: Deployment, *args: Any) -> subprocess.CompletedProcess:
    return run(kind.tmp_path, *args, "--config", deployment.config, *kind.flags())


# -- every backend ---------------------------------------------------------------------------


def test_encrypted_store_round_trip_hides_every_host_name(
    kind: Kind, key_file: Path, tmp_path: Path
) -> None:
    deployment = Deployment(tmp_path)
    plain = ok(inventory_run(kind, deployment)).stdout
    assert deployment.tag in kind.raw()
    line = one_line_error(
        _changed_run(kind, deployment, key_file), "unencrypted", "osa-inventory rekey"
    )
    ok(store_command(kind, deployment, *suggested(line), "--encryption-key-file", key_file))
    deployment_back(deployment)
    served = ok(inventory_run(kind, deployment, "--encryption-key-file", key_file)).stdout
    assert served == plain  # the fast path opens the canonical bytes: byte for byte
    again = ok(inventory_run(kind, deployment, "--encryption-key-file", key_file)).stdout
    assert again == plain
    exported = ok(store_command(kind, deployment, "export", "--encryption-key-file", key_file))
    assert json.loads(exported.stdout) == json.loads(plain)
    raw = kind.raw()
    assert deployment.tag not in raw and "osa-inventory-sealed" in raw
    # the local copy is sealed too, and no parse of the user config stays in the cache
    cached = b"".join(p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert deployment.tag.encode() not in cached
    if kind.kind in NETWORK:
        assert b"osa-inventory-sealed" in cached
    # a change is written sealed, and history and diff open every version
    deployment.add_compute()
    ok(inventory_run(kind, deployment, "--encryption-key-file", key_file))
    assert deployment.tag not in kind.raw()
    history = ok(store_command(kind, deployment, "history", "--encryption-key-file", key_file))
    assert "version" in history.stdout
    diff = ok(store_command(kind, deployment, "diff", "1", "--encryption-key-file", key_file))
    assert f"{deployment.tag}extra" in diff.stdout
    doctor = ok(store_command(kind, deployment, "doctor", "--encryption-key-file", key_file))
    assert "encryption" in doctor.stdout and "open" in doctor.stdout


def _changed_run(kind: Kind, deployment: Deployment, key_file: Path) -> subprocess.CompletedProcess:
    """A run that must write (a new compute) with a key, on a plain store: refused."""
    deployment.add_compute()
    return inventory_run(kind, deployment, "--encryption-key-file", key_file)


def deployment_back(deployment: Deployment) -> None:
    """The deployment without the compute :func:`_changed_run` added."""
    path = deployment.config / USER_CONFIG
    data = yaml.safe_load(path.read_text())
    data["compute_hosts"].pop(f"{deployment.tag}extra")
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_missing_wrong_key_and_tampering_are_refused(
    kind: Kind, key_file: Path, tmp_path: Path
) -> None:
    deployment = Deployment(tmp_path)
    ok(inventory_run(kind, deployment, "--encryption-key-file", key_file))
    assert deployment.tag not in kind.raw()
    raw = kind.state()
    # no key: one line naming what to configure; nothing written, never an empty store
    line = one_line_error(inventory_run(kind, deployment), "encrypted", "--encryption-key-file")
    deployment.add_compute()
    one_line_error(inventory_run(kind, deployment), "encrypted")
    assert kind.state() == raw
    # a wrong key
    other = tmp_path / "other.key"
    ok(run(tmp_path, "key", "generate", other))
    one_line_error(
        inventory_run(kind, deployment, "--encryption-key-file", other), "not among the keys"
    )
    assert kind.state() == raw
    # the fix the first message named
    assert "--encryption-key-file" in line
    ok(inventory_run(kind, deployment, "--encryption-key-file", key_file))
    changed = kind.state()
    kind.tamper()
    tampered = kind.state()
    assert tampered != changed
    for args in (["--list"], ["export"]):
        proc = (
            run(
                tmp_path,
                *args,
                "--config",
                deployment.config,
                "--environment",
                DEMO,
                *kind.flags(),
                "--encryption-key-file",
                key_file,
                "--cache-ttl",  # the backend's own data, not the (intact) local copy
                "0",
            )
            if args == ["--list"]
            else store_command(kind, deployment, *args, "--encryption-key-file", key_file)
        )
        assert proc.returncode != 0 and deployment.tag not in proc.stdout, proc.stdout[-200:]
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert kind.state() == tampered  # refused, and nothing written


def test_rotation_and_decrypt(kind: Kind, key_file: Path, tmp_path: Path) -> None:
    """Every kept version is rewritten: after the old key is dropped history, diff and a
    rollback to the first version still work, and --decrypt opens them all."""
    deployment = Deployment(tmp_path)
    with_key = ["--encryption-key-file", key_file]
    ok(inventory_run(kind, deployment, *with_key))
    deployment.add_compute()
    ok(inventory_run(kind, deployment, *with_key))
    exported = ok(store_command(kind, deployment, "export", *with_key)).stdout
    first = ok(store_command(kind, deployment, "export", "--version", "1", *with_key)).stdout
    old_key = Keyring.load(KeyRef("file", str(key_file))).write_id
    assert old_key in kind.state()
    # a new key first in the file: the old one still reads
    ok(run(tmp_path, "key", "generate", "--force", key_file))
    keys = key_file.read_text().splitlines()
    assert len(keys) == 2 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    ok(store_command(kind, deployment, "rekey", *with_key))
    assert old_key not in kind.state()  # every version sealed anew
    key_file.write_text(keys[0] + "\n")  # the old key dropped
    assert ok(store_command(kind, deployment, "export", *with_key)).stdout == exported
    again = ok(store_command(kind, deployment, "export", "--version", "1", *with_key))
    assert again.stdout == first
    history = ok(store_command(kind, deployment, "history", "--format", "json", *with_key))
    assert [v["version"] for v in json.loads(history.stdout)] == [1, 2]
    diff = ok(store_command(kind, deployment, "diff", "1", *with_key))
    assert f"{deployment.tag}extra" in diff.stdout
    ok(store_command(kind, deployment, "rollback", "1", *with_key))
    assert ok(store_command(kind, deployment, "export", *with_key)).stdout == first
    # back to plain: readable without a key, and the key no longer needed
    ok(store_command(kind, deployment, "rekey", "--decrypt", *with_key))
    assert ok(store_command(kind, deployment, "export")).stdout == first
    assert deployment.tag in kind.raw() and "osa-inventory-sealed" not in kind.state()
    for number, content in ((1, first), (2, exported), (3, first)):
        shown = ok(store_command(kind, deployment, "export", "--version", number))
        assert shown.stdout == content


# -- keys ------------------------------------------------------------------------------------


def test_key_generate_modes(tmp_path: Path) -> None:
    path = tmp_path / "k"
    proc = ok(run(tmp_path, "key", "generate", path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.strip() not in proc.stdout + proc.stderr  # the key is never printed
    assert len(parse_keys(text, KeyRef("file", str(path)))) == 1
    line = one_line_error(run(tmp_path, "key", "generate", path), "exists", "--force")
    assert path.read_text() == text
    ok(run(tmp_path, "key", "generate", path, "--force"))
    assert path.read_text().endswith(text) and len(path.read_text().splitlines()) == 2
    assert "--force" in line
    # never a special file replaced, never a file that holds no keys
    one_line_error(run(tmp_path, "key", "generate", "/dev/null", "--force"))
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    junk = tmp_path / "junk"
    junk.write_text("not a key\n")
    one_line_error(run(tmp_path, "key", "generate", junk, "--force"), "not a key")
    assert junk.read_text() == "not a key\n"


def test_settings_sources_and_config_show_never_show_the_key(
    tmp_path: Path, key_file: Path
) -> None:
    key = key_file.read_text().strip()
    (tmp_path / "osa.ini").write_text(f"[inventory]\nencryption_key_file = {key_file}\n")
    shown = ok(run(tmp_path, "config", "show", "--config", tmp_path)).stdout
    assert "encryption_key_file" in shown and str(key_file) in shown and key not in shown
    os.unlink(tmp_path / "osa.ini")
    shown = ok(
        run(
            tmp_path, "config", "show", "--config", tmp_path,
            OSA_INVENTORY_ENCRYPTION_KEY_ENV="MY_KEY", MY_KEY=key,
        )
    ).stdout  # fmt: skip
    assert "encryption_key_env" in shown and "MY_KEY" in shown and key not in shown
    deployment = Deployment(tmp_path)
    flags = ["--config", deployment.config, "--environment", DEMO, "--list"]
    ok(run(tmp_path, *flags, OSA_INVENTORY_ENCRYPTION_KEY_ENV="MY_KEY", MY_KEY=key))
    stored = (deployment.config / "openstack_inventory.json").read_bytes()
    assert stored.startswith(b"osa-inventory-sealed:1:") and deployment.tag.encode() not in stored
    ok(run(tmp_path, *flags, OSA_INVENTORY_ENCRYPTION_KEY_FILE=str(key_file)))
    line = one_line_error(
        run(tmp_path, *flags, OSA_INVENTORY_ENCRYPTION_KEY_ENV="UNSET_VAR"), "UNSET_VAR"
    )
    assert key not in line
    missing = one_line_error(
        run(tmp_path, *flags, "--encryption-key-file", tmp_path / "nokey"), "key generate"
    )
    ok(run(tmp_path, *suggested(missing)))
    history = (deployment.config / "openstack_inventory.history.json").read_text()
    assert key not in history


def test_missing_cryptography_names_the_extra(tmp_path: Path, key_file: Path) -> None:
    blocker = tmp_path / "blocker" / "cryptography"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    deployment = Deployment(tmp_path)
    proc = run(
        tmp_path,
        "--config",
        deployment.config,
        "--environment",
        DEMO,
        "--encryption-key-file",
        key_file,
        "--list",
        PYTHONPATH=str(blocker.parent),
    )
    one_line_error(proc, "pip install 'osa-inventory[encryption]'")
    assert not (deployment.config / "openstack_inventory.json").exists()


def test_osa_cannot_read_the_encrypted_file(tmp_path: Path, key_file: Path) -> None:
    """The sealed file is no JSON: OSA's json.load fails instead of starting over."""
    deployment = Deployment(tmp_path)
    ok(run(tmp_path, "--config", deployment.config, "--environment", DEMO,
           "--encryption-key-file", key_file, "--list"))  # fmt: skip
    data = (deployment.config / "openstack_inventory.json").read_text()
    with pytest.raises(ValueError):
        json.loads(data)
    out = ok(
        run(tmp_path, "export", "--config", deployment.config, "--encryption-key-file", key_file,
            "-o", tmp_path / "osa.json")
    )  # fmt: skip
    assert "exported" in out.stderr
    exported = json.loads((tmp_path / "osa.json").read_text())  # OSA's plain file
    assert any(name.startswith(deployment.tag) for name in exported["_meta"]["hostvars"])


# -- the front end in process (memory backend) ----------------------------------------------


def memory_store(name: str, sealing: Sealing) -> Store:
    backend = open_backend("memory", {"name": name})
    return Store(backend, label=f"memory:{name}", sealing=sealing)


def keyring(tmp_path: Path, name: str = "k") -> Keyring:
    path = tmp_path / name
    ok(run(tmp_path, "key", "generate", path))
    return Keyring.load(KeyRef("file", str(path)))


def test_memory_store_seals_and_binds_to_the_inventory_name(tmp_path: Path) -> None:
    from osa_inventory.ops.rekey import rekey

    keys = keyring(tmp_path)
    name = f"enc-{uuid.uuid4().hex[:8]}"
    store = memory_store(name, Sealing(keys, "one"))
    inventory = sample_inventory()
    store.update(lambda _: inventory, message="first")
    stored = store.backend.read_version(1)  # type: ignore[attr-defined]
    assert set(stored["_meta"]) == {"hostvars", ENVELOPE_KEY} and not stored["_meta"]["hostvars"]
    assert store.read().inventory == inventory
    assert store.host(next(iter(inventory["_meta"]["hostvars"]))) is not None
    # the same keys, another inventory name: the value does not open there
    with pytest.raises(StoreCorrupt):
        memory_store(name, Sealing(keys, "two")).read()
    with pytest.raises(ConfigError):
        memory_store(name, Sealing(None, "one")).read()
    report = rekey(store, decrypt=True)
    assert report.rewritten == [1]
    assert memory_store(name, Sealing(None, "one")).read().inventory == inventory


def test_import_opens_a_sealed_backup_member(tmp_path: Path, key_file: Path) -> None:
    deployment = Deployment(tmp_path)
    flags = ["--config", deployment.config, "--encryption-key-file", key_file]
    ok(run(tmp_path, *flags, "--environment", DEMO, "--list"))
    deployment.add_compute()
    ok(run(tmp_path, *flags, "--environment", DEMO, "--list"))
    tar = deployment.config / "backup_openstack_inventory.tar"
    assert deployment.tag.encode() not in tar.read_bytes()
    member = json.loads(ok(run(tmp_path, "history", *flags, "--format", "json")).stdout)
    assert len(member) == 2
    one_line_error(
        run(tmp_path, "import", tar, "--member", "latest", "--config", deployment.config),
        "no encryption key is configured",
    )
    ok(run(tmp_path, "rollback", "1", *flags))
    import tarfile

    with tarfile.open(tar) as archive:
        second = archive.getnames()[1]  # version 2's
    ok(run(tmp_path, "import", tar, "--member", second, *flags))
    exported = json.loads(ok(run(tmp_path, "export", *flags)).stdout)
    assert f"{deployment.tag}extra" in exported["_meta"]["hostvars"]


# -- Craton: a rekey is completed after a crash, versions that cannot be read stay -----------

#: runs ``osa-inventory`` in process with the craton backend made to die (``os._exit``) at a
#: point of its rekey, after running the probe commands (readers) while it holds the lock
CRASHING_REKEY = """
import json, os, subprocess, sys
from pathlib import Path
from osa_inventory.backends.craton import backend as craton
from osa_inventory.cli.main import main

point, probe_file, probes = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])

def crash():
    seen = [subprocess.run(p, capture_output=True, text=True).__dict__ for p in probes]
    probe_file.write_text(json.dumps([{k: s[k] for k in ("returncode", "stdout", "stderr")}
                                      for s in seen]))
    os._exit(9)

real_apply, real_put_head = craton.apply, craton.CratonBackend._put_head

def apply(client, requests, place, on_step, created):
    sent = []
    def step():
        on_step()
        sent.append(1)
        if point == "hosts" and len(sent) == 3:
            crash()
    real_apply(client, requests, place, step, created)

def put_head(self, head):
    if point == "records" and "writing" not in head and getattr(self, "rekeying", False):
        crash()  # the records are new, the head still names the old content
    self.rekeying = bool((head.get("writing") or {}).get("rekey"))
    real_put_head(self, head)

craton.apply, craton.CratonBackend._put_head = apply, put_head
sys.exit(main(sys.argv[4:]))
"""


@pytest.mark.parametrize("point", ["hosts", "records"])
def test_craton_rekey_that_dies_is_never_served_half_done_and_is_completed(
    request: pytest.FixtureRequest, key_file: Path, tmp_path: Path, point: str
) -> None:
    """A rekey killed while it changes the hosts, or between the version records and the
    head: readers meanwhile serve every version as it was; the next run (a reader, or
    rekey again) completes it, and every version reads with the new key alone."""
    kind = Kind("craton", request, tmp_path)
    deployment = Deployment(tmp_path)
    ok(inventory_run(kind, deployment))
    deployment.add_compute()
    ok(inventory_run(kind, deployment))
    current = ok(store_command(kind, deployment, "export")).stdout
    first = ok(store_command(kind, deployment, "export", "--version", "1")).stdout
    readers = [
        [str(CLI), *args, "--config", str(deployment.config), *kind.flags(), "--cache-ttl", "0",
         "--encryption-key-file", str(key_file)]
        for args in (["export"], ["export", "--version", "1"])
    ]  # fmt: skip
    script = tmp_path / "crashing_rekey.py"
    script.write_text(CRASHING_REKEY)
    probe_file = tmp_path / "probes.json"
    rekey_args = ["rekey", "--config", deployment.config, *kind.flags(),
                  "--encryption-key-file", key_file]  # fmt: skip
    child = run_program(
        tmp_path, [sys.executable, script, point, probe_file, json.dumps(readers), *rekey_args]
    )
    assert child.returncode == 9, child.stderr
    probes = json.loads(probe_file.read_text())
    assert [p["returncode"] for p in probes] == [0, 0], probes
    assert [p["stdout"] for p in probes] == [current, first]  # the old versions, whole
    # the next run completes the rekey the dead process left
    recovery = ["export"] if point == "hosts" else ["rekey"]
    after = ok(store_command(kind, deployment, *recovery, "--encryption-key-file", key_file))
    assert "completed the rekey of version 2" in after.stderr, after.stderr
    assert "breaking abandoned lock" in after.stderr
    raw = kind.raw()
    assert deployment.tag not in raw and "osa-inventory-sealed" in raw
    for args, content in ((["export"], current), (["export", "--version", "1"], first)):
        shown = ok(store_command(kind, deployment, *args, "--encryption-key-file", key_file))
        assert shown.stdout == content
    doctor = ok(store_command(kind, deployment, "doctor", "--encryption-key-file", key_file))
    assert "no write under way" in doctor.stdout


def test_craton_rekey_and_decrypt_leave_versions_before_an_adopted_change(
    request: pytest.FixtureRequest, key_file: Path, tmp_path: Path
) -> None:
    kind = Kind("craton", request, tmp_path)
    deployment = Deployment(tmp_path)
    ok(inventory_run(kind, deployment))
    deployment.add_compute()
    ok(inventory_run(kind, deployment))
    backend = kind.backend()
    place = backend.places.ensure()
    host = backend.client.get("/hosts", region_id=place.region_id, limit=10)["hosts"][0]
    backend.client.put(f"/hosts/{host['id']}/variables", {"edited_in_craton": True})
    adopted = ok(store_command(kind, deployment, "doctor", "--backend-option",
                               "adopt_changes=true"))  # fmt: skip
    assert "recorded as version 3" in adopted.stderr
    ok(store_command(kind, deployment, "hosts", "remove", f"{deployment.tag}extra"))  # v4
    contents = {
        n: ok(store_command(kind, deployment, "export", "--version", n)).stdout for n in (3, 4)
    }
    for flags, sealed in (([], True), (["--decrypt"], False)):
        done = ok(store_command(kind, deployment, "rekey", *flags, "--encryption-key-file",
                                key_file, "--format", "json"))  # fmt: skip
        report = json.loads(done.stdout)
        assert report["rewritten_versions"] == [3, 4] and report["encrypted"] is sealed
        assert report["versions_left_as_they_were"] == [1, 2]
        for number, content in contents.items():
            shown = store_command(kind, deployment, "export", "--version", number,
                                  "--encryption-key-file", key_file)  # fmt: skip
            assert ok(shown).stdout == content
        one_line_error(
            store_command(kind, deployment, "export", "--version", "2", "--encryption-key-file",
                          key_file), "cannot be rebuilt", "adopted")  # fmt: skip
    text = ok(store_command(kind, deployment, "rekey", "--encryption-key-file", key_file)).stdout
    assert "versions 3-4 rewritten" in text
    assert "versions 1-2 stay as they were (they cannot be read" in text
    ok(store_command(kind, deployment, "rekey", "--decrypt", "--encryption-key-file", key_file))
    for number, content in contents.items():  # plain again: no key needed
        assert ok(store_command(kind, deployment, "export", "--version", number)).stdout == content
