"""Every validation error, through the command: one line on stderr, non-zero exit,
the offending key or file named, no traceback and nothing written."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import (
    BACKUP_FILE,
    INVENTORY_FILE,
    USER_CONFIG,
    copy_example,
    dir_snapshot,
    generate_cli,
    read_config,
    require_shared_dir,
    tar_members,
    write_config,
)

# -- building bad configs --------------------------------------------------------------------


def _edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    """A mutation of the parsed openstack_user_config.yml."""

    def mutate(config_dir: Path) -> None:
        config = read_config(config_dir)
        change(config)
        write_config(config_dir, config)

    return mutate


def _network(config: dict, queue_or_interface: str) -> dict:
    for item in config["global_overrides"]["provider_networks"]:
        spec = item["network"]
        if queue_or_interface in (spec.get("ip_from_q"), spec.get("container_interface")):
            return spec
    raise KeyError(queue_or_interface)


def _no_management(config: dict) -> None:
    cidrs = config["cidr_networks"]
    cidrs["mgmt"] = cidrs.pop("management")
    spec = _network(config, "management")
    spec["ip_from_q"] = "mgmt"
    del spec["is_management_address"]
    del config["global_overrides"]["management_bridge"]


def _set(path: list[str], value) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(*path: str) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        target = config
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _network_change(queue: str, key: str, value) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        spec = _network(config, queue)
        if value is None:
            del spec[key]
        else:
            spec[key] = value

    return change


def _insert_line(relative: str, line_number: int, line: str) -> Callable[[Path], None]:
    def mutate(config_dir: Path) -> None:
        path = config_dir / relative
        lines = path.read_text().splitlines() if path.exists() else []
        lines.insert(line_number - 1, line)
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(lines) + "\n")

    return mutate


def _write_file(relative: str, text: str) -> Callable[[Path], None]:
    def mutate(config_dir: Path) -> None:
        path = config_dir / relative
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)

    return mutate


def _exhaust_management(config: dict) -> None:
    config["cidr_networks"]["management"] = "10.9.8.0/30"
    config["shared_infra_hosts"]["infra2"] = {"ip": "172.29.236.14"}


def _remove_user_config(config_dir: Path) -> None:
    (config_dir / USER_CONFIG).unlink()


def _group_conflict_custom(config_dir: Path) -> None:
    _write_file(
        "env.d/racks.yml",
        yaml.safe_dump({"physical_skel": {"rack1_hosts": {"belongs_to": ["datacentre_hosts"]}}}),
    )(config_dir)
    _edit(_set(["datacentre_hosts"], {"compute1": {"ip": "172.29.236.12"}}))(config_dir)


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Path], None]
    expect: tuple[str, ...]  # regexes the error message must match
    missing_env: bool = False


CASES = [
    Case("no-cidr-networks", _edit(_delete("cidr_networks")), (r"cidr_networks",)),
    Case("no-management-network", _edit(_no_management), (r"management",)),
    Case("missing-global-overrides", _edit(_delete("global_overrides")), (r"global_overrides",)),
    Case(
        "missing-provider-networks",
        _edit(_delete("global_overrides", "provider_networks")),
        (r"provider_networks",),
    ),
    Case(
        "unknown-ip-from-q",
        _edit(_network_change("tunnel", "ip_from_q", "tunnel_nowhere")),
        (r"tunnel_nowhere", r"ip_from_q"),
    ),
    Case(
        "management-bridge-without-is-management-address",
        _edit(_network_change("management", "is_management_address", None)),
        (r"is_management_address", r"br-mgmt"),
    ),
    Case(
        "one-ip-on-two-hosts",
        _edit(_set(["compute_hosts", "compute1", "ip"], "172.29.236.13")),
        (r"\bcompute1\b", r"\bstorage1\b", r"172\.29\.236\.13"),
    ),
    Case(
        "two-ips-for-one-host",
        _edit(_set(["identity_hosts", "infra1", "ip"], "172.29.236.99")),
        (r"\binfra1\b", r"172\.29\.236\.99", r"172\.29\.236\.11\b"),
    ),
    Case(
        "lxc-hosts-in-config",
        _edit(_set(["lxc_hosts"], {"infra1": {"ip": "172.29.236.11"}})),
        (r"lxc_hosts",),
    ),
    Case(
        "lxc-hosts-in-conf-d",
        _write_file("conf.d/extra-hosts.yml", "lxc_hosts:\n  infra1:\n    ip: 172.29.236.11\n"),
        (r"lxc_hosts", r"extra-hosts\.yml"),
    ),
    Case(
        "group-conflict-hosts",
        _edit(_set(["hosts"], {"compute1": {"ip": "172.29.236.12"}})),
        (r"\bhosts\b", r"group"),
    ),
    Case("group-conflict-custom", _group_conflict_custom, (r"datacentre_hosts",)),
    Case(
        "static-route-without-gateway",
        _edit(_network_change("storage", "static_routes", [{"cidr": "10.176.0.0/12"}])),
        (r"static", r"gateway"),
    ),
    Case(
        "static-route-without-cidr",
        _edit(_network_change("storage", "static_routes", [{"gateway": "172.29.244.1"}])),
        (r"static", r"cidr"),
    ),
    Case(
        "container-name-too-long",
        _edit(_set(["dashboard_hosts", "h" * 35], {"ip": "172.29.236.70"})),
        ("h" * 35,),
    ),
    Case(
        "metal-name-too-long",
        _edit(_set(["compute_hosts", "c" * 64], {"ip": "172.29.236.71"})),
        ("c" * 64,),
    ),
    Case(
        # a new host needs new addresses: the stored containers keep theirs
        "address-pool-exhausted",
        _edit(_exhaust_management),
        (r"management", r"10\.9\.8\.0/30"),
    ),
    Case(
        "host-without-ip",
        _edit(_set(["compute_hosts", "compute1"], {"host_vars": {"x": 1}})),
        (r"\bcompute1\b", r"\bip\b"),
    ),
    Case(
        "host-entry-empty",
        _edit(_set(["compute_hosts", "compute1"], None)),
        (r"\bcompute1\b", r"\bip\b"),
    ),
    Case(
        "malformed-yaml",
        _insert_line(USER_CONFIG, 2, "broken: key: value"),
        (re.escape(USER_CONFIG), r"(:|line )2\b"),
    ),
    Case(
        "malformed-yaml-conf-d",
        _write_file("conf.d/extra.yml", "---\nglobal_overrides:\n  a: [1, 2\n  b: 3\nc: d: e\n"),
        (r"conf\.d/extra\.yml",),
    ),
    Case(
        "malformed-yaml-conf-d-line",
        _write_file("conf.d/other.yml", "---\nglobal_overrides:\n  a: 1\nc: d: e\n"),
        (r"conf\.d/other\.yml", r"(:|line )4\b"),
    ),
    Case(
        "malformed-yaml-config-env-d",
        _write_file("env.d/bad.yml", "container_skel:\n  x: y: z\n"),
        (r"env\.d/bad\.yml", r"(:|line )2\b"),
    ),
    Case(
        "invalid-cidr",
        _edit(_set(["cidr_networks", "storage"], "172.29.244.0/33")),
        (r"storage", r"172\.29\.244\.0/33"),
    ),
    Case(
        "invalid-cidr-text",
        _edit(_set(["cidr_networks", "tunnel"], "not-a-network")),
        (r"tunnel", r"not-a-network"),
    ),
    Case(
        "bad-used-ip",
        _edit(_set(["used_ips"], ["172.29.236.1,172.29.236.50", "172.29.236.300"])),
        (r"used_ips", r"172\.29\.236\.300"),
    ),
    Case(
        "bad-used-ip-range",
        _edit(_set(["used_ips"], ["172.29.236.1,bogus"])),
        (r"used_ips", r"bogus"),
    ),
    Case(
        "unknown-reference-group",
        _edit(_network_change("storage", "reference_group", "no_such_group")),
        (r"reference_group", r"no_such_group"),
    ),
    Case(
        "affinity-not-a-number",
        _edit(_set(["shared_infra_hosts", "infra1", "affinity"], {"galera_container": "two"})),
        (r"affinity", r"\binfra1\b"),
    ),
    Case(
        "affinity-not-a-mapping",
        _edit(_set(["shared_infra_hosts", "infra1", "affinity"], ["galera_container"])),
        (r"affinity", r"\binfra1\b"),
    ),
    Case("missing-user-config", _remove_user_config, (re.escape(USER_CONFIG),)),
    Case("missing-env-d", lambda _config_dir: None, (r"env\.d",), missing_env=True),
]


# -- a valid store to protect ------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_store(tmp_path_factory) -> dict[str, bytes]:
    """The store files of a valid deployment that has been written twice (so a tar exists)."""
    shared = require_shared_dir()
    env_dir = shared / "inventory"
    config_dir = copy_example("test", tmp_path_factory.mktemp("valid") / "config")
    assert generate_cli(config_dir, env_dir).returncode == 0
    config = read_config(config_dir)
    config["global_overrides"]["store_version"] = 2
    write_config(config_dir, config)
    assert generate_cli(config_dir, env_dir).returncode == 0
    assert len(tar_members(config_dir)) == 2
    return {
        INVENTORY_FILE: (config_dir / INVENTORY_FILE).read_bytes(),
        BACKUP_FILE: (config_dir / BACKUP_FILE).read_bytes(),
        USER_CONFIG: (config_dir / USER_CONFIG).read_bytes(),
    }


def _check_error(proc, expect: tuple[str, ...]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("osa-inventory: error: "), lines[0]
    message = lines[0]
    for pattern in expect:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"
    assert proc.stdout == ""
    return message


@pytest.mark.parametrize("with_store", [False, True], ids=["empty-store", "valid-store"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validation_error(
    case: Case,
    with_store: bool,
    valid_store: dict[str, bytes],
    tmp_path: Path,
    env_dir: Path,
) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    if with_store:
        for name, data in valid_store.items():
            (config_dir / name).write_bytes(data)
    case.mutate(config_dir)
    before = dir_snapshot(config_dir)
    environment = tmp_path / "no-environment" if case.missing_env else env_dir
    if case.missing_env:
        environment.mkdir()
    proc = generate_cli(config_dir, environment)
    _check_error(proc, case.expect)
    assert dir_snapshot(config_dir) == before
    if with_store:
        assert (config_dir / INVENTORY_FILE).read_bytes() == valid_store[INVENTORY_FILE]
        assert (config_dir / BACKUP_FILE).read_bytes() == valid_store[BACKUP_FILE]
    else:
        assert not (config_dir / INVENTORY_FILE).exists()
        assert not (config_dir / BACKUP_FILE).exists()


# --check takes the same path as --list up to the write; a few cases show it
CHECK_CASES = [
    c
    for c in CASES
    if c.id in ("no-cidr-networks", "unknown-ip-from-q", "malformed-yaml", "group-conflict-hosts")
]


@pytest.mark.parametrize("case", CHECK_CASES, ids=[c.id for c in CHECK_CASES])
def test_check_reports_the_error_and_writes_nothing(
    case: Case, valid_store: dict[str, bytes], tmp_path: Path, env_dir: Path
) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    for name, data in valid_store.items():
        (config_dir / name).write_bytes(data)
    case.mutate(config_dir)
    before = dir_snapshot(config_dir)
    _check_error(generate_cli(config_dir, env_dir, "--check"), case.expect)
    assert dir_snapshot(config_dir) == before


def test_missing_config_dir_is_an_error(tmp_path: Path, env_dir: Path) -> None:
    missing = tmp_path / "nowhere"
    proc = generate_cli(missing, env_dir)
    _check_error(proc, (re.escape(USER_CONFIG),))
    assert not missing.exists()


# -- the limits themselves are allowed -------------------------------------------------------


def test_names_at_the_length_limits_are_accepted(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    container_host = "h" * 34  # h...h-horizon-container is exactly 52 characters
    metal_host = "c" * 63
    config = read_config(config_dir)
    config["dashboard_hosts"][container_host] = {"ip": "172.29.236.70"}
    config["compute_hosts"][metal_host] = {"ip": "172.29.236.71"}
    write_config(config_dir, config)
    proc = generate_cli(config_dir, env_dir)
    assert proc.returncode == 0, proc.stderr
    listed = yaml.safe_load(proc.stdout)
    horizon = [n for n in listed["horizon_container"]["hosts"] if n.startswith(container_host)]
    assert len(horizon) == 1
    assert len(horizon[0]) == 52 + 9
    assert metal_host in listed["compute_hosts"]["hosts"]


def test_group_names_with_dashes_are_merged(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    config = read_config(config_dir)
    config["compute-hosts"] = {"compute2": {"ip": "172.29.236.72"}}
    write_config(config_dir, config)
    proc = generate_cli(config_dir, env_dir)
    assert proc.returncode == 0, proc.stderr
    listed = yaml.safe_load(proc.stdout)
    assert set(listed["compute_hosts"]["hosts"]) == {"compute1", "compute2"}
    assert "compute-hosts" not in listed


@pytest.mark.parametrize(
    "stored",
    [
        '{"_meta": "not a mapping"}',
        '{"_meta": {"hostvars": "not a mapping"}}',
        '{"_meta": {"hostvars": {"compute1": ["not", "a", "mapping"]}}}',
    ],
    ids=["meta", "hostvars", "one-host"],
)
def test_stored_inventory_of_the_wrong_shape_is_an_error(
    stored: str, tmp_path: Path, env_dir: Path
) -> None:
    """Valid JSON of the wrong shape in the store: one-line error, store left as it is."""
    config_dir = copy_example("test", tmp_path / "config")
    (config_dir / INVENTORY_FILE).write_text(stored)
    before = dir_snapshot(config_dir)
    proc = generate_cli(config_dir, env_dir)
    _check_error(proc, (re.escape(INVENTORY_FILE),))
    assert dir_snapshot(config_dir) == before


def test_affinity_without_a_value_does_not_crash(tmp_path: Path, env_dir: Path) -> None:
    """`galera_container:` with no value under affinity reads as null: either the default
    count or a one-line error naming affinity, never a traceback."""
    config_dir = copy_example("test", tmp_path / "config")
    _edit(_set(["shared_infra_hosts", "infra1", "affinity"], {"galera_container": None}))(
        config_dir
    )
    proc = generate_cli(config_dir, env_dir)
    assert "Traceback" not in proc.stderr
    if proc.returncode != 0:
        _check_error(proc, (r"affinity", r"\binfra1\b"))
        assert not (config_dir / INVENTORY_FILE).exists()
