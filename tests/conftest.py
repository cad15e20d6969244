"""Shared fixtures and helpers for the osa-inventory test suite.

OSA's data (base env.d, example configs and reference outputs) lives in a shared
directory next to the repository: ``<repo>/../shared/osa``, or wherever
``OSA_SHARED_DIR`` points. It is read-only, so every test copies what it needs to
``tmp_path`` first. When the directory is missing the tests that need it are
skipped, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "osa"
INVENTORY_FILE = "openstack_inventory.json"
BACKUP_FILE = "backup_openstack_inventory.tar"
USER_CONFIG = "openstack_user_config.yml"
CLI = Path(sys.executable).parent / "osa-inventory"

SUFFIX_RE = re.compile(r"-[0-9a-f]{8}$")
SUFFIX_MASK = "-<suffix>"
ADDRESS_MASK = "<container-address>"


# -- the shared data directory ----------------------------------------------------------


def shared_dir_path() -> Path:
    """Where OSA's shared data should be (it may not exist)."""
    override = os.environ.get("OSA_SHARED_DIR")
    return Path(override) if override else DEFAULT_SHARED_DIR


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_shared_dir() -> Path:
    """The shared dir; skip the test when it is missing (fail in CI)."""
    path = shared_dir_path()
    if not (path / "inventory" / "env.d").is_dir() or not (path / "examples").is_dir():
        message = (
            f"OSA shared data not found at {path} (set OSA_SHARED_DIR to the folder "
            "holding inventory/env.d and examples/)"
        )
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def example_names() -> list[str]:
    """Names of the example configs in the shared dir, sorted (empty if it is missing)."""
    examples = shared_dir_path() / "examples"
    if not examples.is_dir():
        return []
    return sorted(p.name for p in examples.iterdir() if (p / USER_CONFIG).is_file())


def example_params() -> list[str]:
    """Parameters for tests over every example.

    When the shared dir is missing a single placeholder keeps the test in the run,
    so that ``shared_dir`` can skip it (or fail it in CI) with a clear message.
    """
    return example_names() or ["<shared dir missing>"]


@pytest.fixture(autouse=True, scope="session")
def _float_free_claims_verified() -> Iterable[None]:
    """Every inventory written as float-free is also proven so (jsonio raises if not),
    in this process and in the commands it starts."""
    from osa_inventory.jsonio import VERIFY_CLAIMS_ENV

    os.environ[VERIFY_CLAIMS_ENV] = "1"
    yield
    os.environ.pop(VERIFY_CLAIMS_ENV, None)


@pytest.fixture(autouse=True, scope="session")
def _private_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterable[None]:
    """Keep every test run's caches (local store copies, stevedore, Ansible) out of $HOME.

    Subprocesses inherit the environment, so the CLI under test uses them too.
    """
    cache = tmp_path_factory.mktemp("xdg-cache")
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture
def shared_dir() -> Path:
    return require_shared_dir()


@pytest.fixture
def env_dir(shared_dir: Path) -> Path:
    """The folder holding OSA's base env.d, for ``--environment``."""
    return shared_dir / "inventory"


def copy_example(name: str, dest: Path) -> Path:
    """Copy example ``name``'s config (and env.d/ if any, not reference/) to ``dest``.

    Files are copied without their (read-only) mode so that tests can edit them.
    Returns ``dest``.
    """
    source = require_shared_dir() / "examples" / name
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / USER_CONFIG, dest / USER_CONFIG)
    for sub in ("env.d", "conf.d"):
        if (source / sub).is_dir():
            (dest / sub).mkdir(exist_ok=True)
            for item in sorted((source / sub).iterdir()):
                if item.is_file():
                    shutil.copyfile(item, dest / sub / item.name)
    return dest


def reference_path(name: str, run: str = "run3") -> Path:
    return require_shared_dir() / "examples" / name / "reference" / f"{run}.json"


def load_reference(name: str, run: str = "run3") -> dict[str, Any]:
    return json.loads(reference_path(name, run).read_text())


# -- config files --------------------------------------------------------------------


def read_config(config_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((config_dir / USER_CONFIG).read_text())


def write_config(config_dir: Path, data: Mapping[str, Any]) -> None:
    (config_dir / USER_CONFIG).write_text(yaml.safe_dump(dict(data), sort_keys=False))


# -- the command ---------------------------------------------------------------------


def run_cli(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``osa-inventory`` (next to this interpreter) and capture output."""
    env = {k: v for k, v in os.environ.items() if k not in ("OSA_CONFIG_DIR", "OSA_ROOT")}
    return subprocess.run(
        [str(CLI), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def generate_cli(
    config_dir: Path, env_dir: Path, *extra: str, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return run_cli("--config", config_dir, "--environment", env_dir, *extra, cwd=cwd)


def warnings_of(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("osa-inventory: warning:")]


def dir_snapshot(path: Path) -> dict[str, bytes]:
    """Every file below ``path`` (relative name -> bytes)."""
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def tar_members(config_dir: Path) -> list[str]:
    import tarfile

    tar_path = config_dir / BACKUP_FILE
    if not tar_path.exists():
        return []
    with tarfile.open(tar_path) as tar:
        return tar.getnames()


# -- what OSA's own tools do to the files (simulated, for outside-change tests) -----


def osa_backup(directory: Path, second: str | None = None) -> str:
    """What OSA's tools do before they write: append the file as it is to the tar, under
    ``openstack_inventory.json-YYYYmmdd_HHMMSS.json`` (UTC now, or ``second``)."""
    from datetime import UTC, datetime

    name = f"{INVENTORY_FILE}-{second or datetime.now(UTC).strftime('%Y%m%d_%H%M%S')}.json"
    with tarfile.open(directory / BACKUP_FILE, "a") as tar:
        tar.add(directory / INVENTORY_FILE, arcname=name)
    return name


def osa_write_in_place(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """OSA's inventory-manage.py: back up, then rewrite the file in place (indent=2)."""
    osa_backup(directory)
    path = directory / INVENTORY_FILE
    inventory = json.loads(path.read_text())
    change(inventory)
    with open(path, "w") as f:  # same inode, as OSA's open(..., "wb")
        f.write(json.dumps(inventory, indent=2, separators=(",", ": ")))


# -- the Python API ------------------------------------------------------------------


def api_generate(config_dir: Path, env_dir: Path, previous: Mapping[str, Any] | None = None):
    from osa_inventory.generate import generate
    from osa_inventory.sources import load_environment, load_user_config

    return generate(load_user_config(config_dir), load_environment(env_dir, config_dir), previous)


# -- inventory views -----------------------------------------------------------------


def mask_suffix(value: Any) -> Any:
    """Replace a trailing ``-<8 hex>`` in every string inside ``value``."""
    if isinstance(value, str):
        return SUFFIX_RE.sub(SUFFIX_MASK, value)
    if isinstance(value, list):
        return [mask_suffix(v) for v in value]
    if isinstance(value, dict):
        return {mask_suffix(k): mask_suffix(v) for k, v in value.items()}
    return value


def is_container(name: str, hostvars: Mapping[str, Any]) -> bool:
    """A real (non-metal) container: it lives on another host."""
    physical = hostvars.get("physical_host")
    return bool(physical) and physical != name


def _mask_addresses(hostvars: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(hostvars)
    for key in ("ansible_host", "management_address"):
        if result.get(key):
            result[key] = ADDRESS_MASK
    for network in (result.get("container_networks") or {}).values():
        if isinstance(network, dict) and network.get("address"):
            network["address"] = ADDRESS_MASK
    return result


def structural_view(inventory: Mapping[str, Any]) -> dict[str, Any]:
    """What a fresh run must share with OSA's output, whatever the random parts.

    Container suffixes and container addresses are masked; group ``hosts`` and
    ``children`` lists become sorted lists (order is irrelevant; duplicates, as
    from ``affinity`` > 1, still count). Hostvars are keyed by masked name, each
    a sorted list of the JSON of the masked vars of the hosts that share it.
    """
    view: dict[str, Any] = {"groups": {}, "hostvars": {}}
    for key, value in inventory.items():
        if key == "_meta":
            continue
        if not isinstance(value, dict):
            view["groups"][key] = value
            continue
        group = {}
        for field, content in value.items():
            if field in ("hosts", "children") and isinstance(content, list):
                group[field] = sorted(mask_suffix(content))
            else:
                group[field] = mask_suffix(content)
        view["groups"][key] = group
    by_name: dict[str, list[str]] = {}
    for name, hostvars in inventory["_meta"]["hostvars"].items():
        masked = _mask_addresses(hostvars) if is_container(name, hostvars) else hostvars
        by_name.setdefault(mask_suffix(name), []).append(
            json.dumps(mask_suffix(masked), sort_keys=True)
        )
    view["hostvars"] = {name: sorted(v) for name, v in sorted(by_name.items())}
    return view


def with_host_sets(inventory: Mapping[str, Any]) -> dict[str, Any]:
    """``inventory`` with every group's ``hosts`` list turned into a set."""
    result = {}
    for key, value in inventory.items():
        if key != "_meta" and isinstance(value, dict) and isinstance(value.get("hosts"), list):
            value = {**value, "hosts": set(value["hosts"])}
        result[key] = value
    return result


def group_memberships(inventory: Mapping[str, Any]) -> dict[str, set[str]]:
    """Host -> names of the groups whose ``hosts`` list it."""
    result: dict[str, set[str]] = {}
    for key, value in inventory.items():
        if key == "_meta" or not isinstance(value, dict):
            continue
        for host in value.get("hosts") or []:
            result.setdefault(host, set()).add(key)
    return result


# -- address checks ------------------------------------------------------------------


def address_key(spec: Mapping[str, Any]) -> str:
    prefix = spec.get("address_prefix") or spec.get("ip_from_q") or spec.get("container_interface")
    return f"{prefix}_address"


def _used_ip_ranges(entries: Iterable[Any] | None) -> list[tuple[int, int]]:
    ranges = []
    for entry in entries or []:
        parts = [p.strip() for p in str(entry).split(",") if p.strip()]
        first = int(ipaddress.ip_address(parts[0]))
        last = int(ipaddress.ip_address(parts[-1]))
        ranges.append((min(first, last), max(first, last)))
    return ranges


def config_host_ips(config: Mapping[str, Any]) -> set[str]:
    """Every ``ip`` and ``management_ip`` of the hosts in a user config."""
    ips = set()
    for key, group in config.items():
        if not key.endswith("hosts") or not isinstance(group, dict):
            continue
        for entry in group.values():
            ips.add(str(entry["ip"]))
            if entry.get("management_ip"):
                ips.add(str(entry["management_ip"]))
    return ips


def address_problems(inventory: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Why the container addresses of ``inventory`` break the rules (empty: they are fine).

    Every container address must lie in the CIDR of its network (found via the
    provider network whose address key it is), outside ``used_ips``, differ from
    every host IP, and be unique.
    """
    cidrs = config["cidr_networks"]
    queue_of = {
        address_key(item["network"]): item["network"].get("ip_from_q")
        for item in config["global_overrides"]["provider_networks"]
    }
    used = _used_ip_ranges(config.get("used_ips"))
    host_ips = config_host_ips(config)
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name, hostvars in inventory["_meta"]["hostvars"].items():
        if not is_container(name, hostvars):
            continue
        for key, network in (hostvars.get("container_networks") or {}).items():
            address = network.get("address") if isinstance(network, dict) else None
            if not address:
                continue
            where = f"{name} {key} {address}"
            queue = queue_of.get(key)
            if queue is None or queue not in cidrs:
                problems.append(f"{where}: no cidr network for this key")
                continue
            cidr = ipaddress.ip_network(cidrs[queue])
            ip = ipaddress.ip_address(address)
            if ip not in cidr:
                problems.append(f"{where}: not in {queue} ({cidr})")
            if ip == cidr.network_address or (cidr.version == 4 and ip == cidr.broadcast_address):
                problems.append(f"{where}: network or broadcast address of {cidr}")
            if any(first <= int(ip) <= last for first, last in used):
                problems.append(f"{where}: in used_ips")
            if address in host_ips:
                problems.append(f"{where}: a host IP")
            if address in seen:
                problems.append(f"{where}: also used by {seen[address]}")
            seen[address] = where
    return problems


# -- configs built in tests ------------------------------------------------------------


def example_config(name: str) -> dict[str, Any]:
    """The parsed ``openstack_user_config.yml`` of example ``name`` (a fresh copy)."""
    path = require_shared_dir() / "examples" / name / USER_CONFIG
    return yaml.safe_load(path.read_text())


_ENVIRONMENT_CACHE: dict[str, dict[str, Any]] = {}


def base_environment() -> dict[str, Any]:
    """OSA's merged base env.d (a fresh deep copy; parsed once per session)."""
    from osa_inventory.sources import load_environment

    env_dir = str(require_shared_dir() / "inventory")
    if env_dir not in _ENVIRONMENT_CACHE:
        _ENVIRONMENT_CACHE[env_dir] = load_environment(env_dir, None)
    return copy.deepcopy(_ENVIRONMENT_CACHE[env_dir])


def generate_from(config: Mapping[str, Any], previous: Mapping[str, Any] | None = None):
    """Generate from a config dict and OSA's base env.d via the Python API."""
    from osa_inventory.generate import generate

    return generate(copy.deepcopy(dict(config)), base_environment(), previous)


def containers_on(inventory: Mapping[str, Any], host: str) -> dict[str, dict[str, Any]]:
    """The (non-metal) containers whose physical host is ``host``."""
    return {
        name: hostvars
        for name, hostvars in inventory["_meta"]["hostvars"].items()
        if hostvars.get("physical_host") == host and name != host
    }


def host_groups(config: Mapping[str, Any], host: str) -> list[str]:
    """The config groups (keys ending in ``hosts``) that list ``host``."""
    return [
        key
        for key, value in config.items()
        if key.endswith("hosts") and isinstance(value, dict) and host in value
    ]


# -- things a test may need but the machine may lack; servers shared by the CLI tests ----------

#: exit status of `osa-inventory plan` when changes are pending (not an error)
PLAN_CHANGES_EXIT = 4


def unavailable(message: str) -> None:
    """Skip (or, under CI=true, fail) a test that needs something missing."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def require_module(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        unavailable(f"{module} cannot be imported; install osa-inventory with its extras")


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The command failed with a single error line (no traceback) holding ``words``."""
    assert proc.returncode not in (0, PLAN_CHANGES_EXIT), proc.stdout[-500:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def start_server(kind: str) -> Any:
    """A database server ("postgresql" or "mariadb") started for tests, or a skip."""
    require_module("osa_inventory.backends.sql")
    require_module("psycopg" if kind == "postgresql" else "pymysql")
    from osa_inventory.testing import servers as services

    missing = services.missing_message(kind)
    if missing:
        unavailable(missing)
    return services.start_postgres() if kind == "postgresql" else services.start_mariadb()


@pytest.fixture(scope="session")
def pg_server() -> Iterable[Any]:
    """One PostgreSQL server for the run (osa_inventory.testing.servers); tests make their
    own databases in it."""
    server = start_server("postgresql")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterable[Any]:
    """One MariaDB server for the run; tests make their own databases in it."""
    server = start_server("mariadb")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def etcd_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterable[str]:
    """One one-member etcd for the run (osa_inventory.testing.etcd_cluster); tests use
    prefixes of their own."""
    require_module("osa_inventory.backends.etcd")
    from osa_inventory.testing.etcd_cluster import EtcdCluster, etcd_binary

    binary = etcd_binary()
    if binary is None:
        unavailable("etcd not found on PATH; install it with: apt-get install etcd-server")
    cluster = EtcdCluster(tmp_path_factory.mktemp("etcd"), size=1, binary=binary).start()
    yield cluster.endpoints
    cluster.stop()


@pytest.fixture(scope="session")
def craton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterable[Any]:
    """One Craton server for the whole run (osa_inventory.testing.craton_server; CRATON_DIR
    reuses a built virtualenv)."""
    require_module("osa_inventory.backends.craton")
    from osa_inventory.testing.craton_server import ServiceError, start_server

    try:
        server = start_server(tmp_path_factory.mktemp("craton"))
    except ServiceError as exc:
        unavailable(f"no Craton server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def craton_options(craton_server: Any) -> Iterable[dict[str, str]]:
    """Backend options for a new, empty Craton project of this test's own (a plain user)."""
    options = craton_server.new_project()
    yield options
    craton_server.delete_project(options["project_id"])
