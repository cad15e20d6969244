"""Generation behaviour: reruns, determinism, removed hosts, the OSA defects we fix,
and the host options (affinity, is_nest, host_vars) and command actions."""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    BACKUP_FILE,
    CLI,
    INVENTORY_FILE,
    USER_CONFIG,
    address_problems,
    api_generate,
    containers_on,
    copy_example,
    dir_snapshot,
    example_config,
    generate_cli,
    generate_from,
    group_memberships,
    host_groups,
    read_config,
    tar_members,
    warnings_of,
    write_config,
)

pytestmark = pytest.mark.usefixtures("shared_dir")


def _stored(config_dir: Path) -> dict[str, Any]:
    return json.loads((config_dir / INVENTORY_FILE).read_text())


def _hostvars(inventory: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return inventory["_meta"]["hostvars"]


def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def _fresh(name: str, tmp_path: Path, env_dir: Path, sub: str = "config") -> Path:
    config_dir = copy_example(name, tmp_path / sub)
    _ok(generate_cli(config_dir, env_dir))
    return config_dir


# -- reruns and determinism ---------------------------------------------------------------


@pytest.mark.parametrize("example", ["test", "prod"])
def test_second_run_changes_nothing(example: str, tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh(example, tmp_path, env_dir)
    first = (config_dir / INVENTORY_FILE).read_bytes()
    first_mtime = (config_dir / INVENTORY_FILE).stat().st_mtime_ns
    members = tar_members(config_dir)
    assert len(members) == 1  # the version written, kept from the start
    proc = generate_cli(config_dir, env_dir)
    _ok(proc)
    assert proc.stderr == ""
    assert (config_dir / INVENTORY_FILE).read_bytes() == first
    assert (config_dir / INVENTORY_FILE).stat().st_mtime_ns == first_mtime
    assert tar_members(config_dir) == members
    assert json.loads(proc.stdout) == json.loads(first)


def test_rerun_after_a_change_adds_one_backup_then_none(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh("test", tmp_path, env_dir)
    before = (config_dir / INVENTORY_FILE).read_bytes()
    config = read_config(config_dir)
    config["global_overrides"]["my_new_override"] = "x"
    write_config(config_dir, config)
    _ok(generate_cli(config_dir, env_dir))
    assert _stored(config_dir)["all"]["vars"]["my_new_override"] == "x"
    members = tar_members(config_dir)
    assert len(members) == 2  # the first version and the changed one
    for member in members:
        assert re.fullmatch(r"openstack_inventory\.json-\d{8}_\d{6}-\d+\.json", member)
    changed = (config_dir / INVENTORY_FILE).read_bytes()
    _ok(generate_cli(config_dir, env_dir))
    assert tar_members(config_dir) == members
    assert (config_dir / INVENTORY_FILE).read_bytes() == changed
    # an override removed from the config disappears on the next run
    del config["global_overrides"]["my_new_override"]
    write_config(config_dir, config)
    _ok(generate_cli(config_dir, env_dir))
    assert "my_new_override" not in _stored(config_dir)["all"]["vars"]
    assert (config_dir / INVENTORY_FILE).read_bytes() == before


@pytest.mark.parametrize("example", ["test", "prod", "aio"])
def test_fresh_runs_are_byte_identical(example: str, tmp_path: Path, env_dir: Path) -> None:
    one = _fresh(example, tmp_path, env_dir, "one")
    two = _fresh(example, tmp_path, env_dir, "two")
    data = (one / INVENTORY_FILE).read_bytes()
    assert data == (two / INVENTORY_FILE).read_bytes()
    # a lost store is regenerated exactly
    (one / INVENTORY_FILE).unlink()
    _ok(generate_cli(one, env_dir))
    assert (one / INVENTORY_FILE).read_bytes() == data


def test_stored_file_uses_osa_layout(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh("test", tmp_path, env_dir)
    data = (config_dir / INVENTORY_FILE).read_text()
    expected = json.dumps(json.loads(data), indent=4, separators=(",", ": "), sort_keys=True)
    assert data == expected


# -- removed hosts -------------------------------------------------------------------------


def _remove_host(config_dir: Path, host: str) -> None:
    config = read_config(config_dir)
    groups = host_groups(config, host)
    assert groups
    for group in groups:
        del config[group][host]
    write_config(config_dir, config)


def _check_removed_host_kept(config_dir: Path, env_dir: Path, host: str) -> None:
    before = _stored(config_dir)
    host_containers = set(containers_on(before, host))
    proc = generate_cli(config_dir, env_dir)
    _ok(proc)
    warnings = [w for w in warnings_of(proc) if host in w]
    assert len(warnings) == 1, proc.stderr
    assert re.search(rf"\b{host}\b", warnings[0])
    assert re.search(rf"(\s-r\s+|--remove-host[ =]){host}\b", warnings[0]), warnings[0]
    after = _stored(config_dir)
    assert host in _hostvars(after)
    assert set(containers_on(after, host)) == host_containers
    for name, hostvars in _hostvars(before).items():
        if name != host and name not in host_containers:
            assert _hostvars(after)[name] == hostvars, name
    assert group_memberships(after) == group_memberships(before)
    assert json.loads(proc.stdout) == after
    # and the next run is stable, still warning
    stored = (config_dir / INVENTORY_FILE).read_bytes()
    again = generate_cli(config_dir, env_dir)
    _ok(again)
    assert any(host in w for w in warnings_of(again))
    assert (config_dir / INVENTORY_FILE).read_bytes() == stored


def test_removed_compute_host_is_kept_with_warning(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh("prod", tmp_path, env_dir)
    _remove_host(config_dir, "compute2")
    _check_removed_host_kept(config_dir, env_dir, "compute2")


def test_removed_infra_host_is_kept_with_warning(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh("prod", tmp_path, env_dir)
    assert containers_on(_stored(config_dir), "infra3")
    _remove_host(config_dir, "infra3")
    _check_removed_host_kept(config_dir, env_dir, "infra3")


# -- OSA defects ---------------------------------------------------------------------------


def test_container_vars_reach_every_container_in_one_run() -> None:
    config = example_config("test")
    config["shared_infra_hosts"]["infra1"]["container_vars"] = {"my_container_var": "yes"}
    config["storage_infra_hosts"]["infra1"]["container_vars"] = {
        "limited_var": {"limit_container_types": "cinder_api", "size": 3}
    }
    inventory = generate_from(config).inventory
    containers = containers_on(inventory, "infra1")
    assert len(containers) > 5
    for name, hostvars in containers.items():
        assert hostvars.get("my_container_var") == "yes", name
        if "cinder_api" in hostvars["component"]:
            assert hostvars.get("limited_var") == {"size": 3}, name
        else:
            assert "limited_var" not in hostvars, name
    assert any("cinder_api" in v["component"] for v in containers.values())
    # one run is the fixed point
    assert generate_from(config, inventory).inventory == inventory


def test_no_containers_does_not_leak_to_later_hosts() -> None:
    config = example_config("prod")
    config["shared_infra_hosts"]["infra1"]["no_containers"] = True
    inventory = generate_from(config).inventory
    galera = inventory["galera_container"]["hosts"]
    on_infra1 = [n for n in galera if n.startswith("infra1-")]
    assert on_infra1 == []
    assert "infra1" in inventory["galera"]["hosts"]
    for host in ("infra2", "infra3"):
        assert [n for n in galera if n.startswith(f"{host}-")], host
        assert host not in inventory["galera"]["hosts"]
        for name in containers_on(inventory, host):
            assert _hostvars(inventory)[name]["properties"].get("is_metal") is not True, name
    # other groups of infra1 still get containers
    assert any(n.startswith("infra1-keystone") for n in inventory["keystone_container"]["hosts"])


def test_container_vars_of_infra1_do_not_land_on_infra10() -> None:
    config = example_config("test")
    config["shared_infra_hosts"]["infra10"] = {"ip": "172.29.236.60"}
    config["shared_infra_hosts"]["infra1"]["container_vars"] = {"only_infra1": True}
    inventory = generate_from(config).inventory
    infra10 = containers_on(inventory, "infra10")
    assert infra10
    for name, hostvars in infra10.items():
        assert "only_infra1" not in hostvars, name
    assert "only_infra1" not in _hostvars(inventory)["infra10"]
    for name, hostvars in containers_on(inventory, "infra1").items():
        assert hostvars.get("only_infra1") is True, name
    # a rerun keeps every container with its own host
    again = generate_from(config, inventory).inventory
    assert again == inventory


def test_check_never_writes_with_unknown_groups(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    config = read_config(config_dir)
    config["frobnicator_hosts"] = {"infra1": {"ip": "172.29.236.11"}}
    write_config(config_dir, config)
    proc = generate_cli(config_dir, env_dir, "--check")
    assert proc.returncode == 0  # as OSA: warnings, and the inventory instead of "ok"
    assert "Configuration ok!" not in proc.stdout
    assert "Traceback" not in proc.stderr
    assert any("frobnicator_hosts" in w for w in warnings_of(proc)), proc.stderr
    assert not (config_dir / INVENTORY_FILE).exists()
    assert not (config_dir / BACKUP_FILE).exists()
    assert sorted(p.name for p in config_dir.iterdir()) == [USER_CONFIG]


def test_check_with_a_stored_inventory_writes_nothing(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh("test", tmp_path, env_dir)
    config = read_config(config_dir)
    config["global_overrides"]["changed"] = 1
    config["frobnicator_hosts"] = {"infra1": {"ip": "172.29.236.11"}}
    write_config(config_dir, config)
    before = dir_snapshot(config_dir)
    proc = generate_cli(config_dir, env_dir, "--check")
    _ok(proc)
    assert "Configuration ok!" not in proc.stdout
    assert json.loads(proc.stdout)["all"]["vars"]["changed"] == 1  # what a run would write
    assert dir_snapshot(config_dir) == before
    # a valid changed config: ok, and still nothing written
    del config["frobnicator_hosts"]
    write_config(config_dir, config)
    before = dir_snapshot(config_dir)
    proc = generate_cli(config_dir, env_dir, "--check")
    _ok(proc)
    assert proc.stdout == "Configuration ok!\n"
    assert dir_snapshot(config_dir) == before


def test_management_ip_is_reserved() -> None:
    config = example_config("test")
    # how many containers need a management address
    probe = generate_from(config).inventory
    count = sum(1 for n, v in _hostvars(probe).items() if v.get("physical_host") not in (None, n))
    assert count > 5
    # a management pool with exactly count + 1 free addresses, one of them infra1's
    # management_ip: the containers must take exactly the other ones
    net = ipaddress.ip_network("172.29.236.0/24")
    hosts = list(net.hosts())
    free = hosts[-(count + 1) :]
    management_ip = str(free[-1])
    config["cidr_networks"]["management"] = str(net)
    config["used_ips"] = [f"{hosts[0]},{hosts[-(count + 2)]}", *config["used_ips"][1:]]
    for group in host_groups(config, "infra1"):
        config[group]["infra1"]["management_ip"] = management_ip
    inventory = generate_from(config).inventory
    addresses = {
        v["container_networks"]["management_address"]["address"]
        for n, v in _hostvars(inventory).items()
        if v.get("physical_host") not in (None, n)
    }
    assert management_ip not in addresses
    assert addresses == {str(a) for a in free[:-1]}
    assert _hostvars(inventory)["infra1"]["management_address"] == management_ip


def test_empty_host_group_does_not_crash(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    text = (config_dir / USER_CONFIG).read_text()
    text += "\nswift_hosts:\n\nfoo_hosts:\n"
    (config_dir / USER_CONFIG).write_text(text)
    proc = generate_cli(config_dir, env_dir)
    _ok(proc)
    inventory = _stored(config_dir)
    assert inventory["swift_hosts"]["hosts"] == []
    assert not [n for n in _hostvars(inventory) if "swift" in n]


def test_conf_d_files_merge_in_sorted_order(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    conf_d = config_dir / "conf.d"
    conf_d.mkdir()
    # written in reverse order so that directory order is unlikely to be sorted
    (conf_d / "20-later.yml").write_text(
        "global_overrides:\n  who_wins: later\ncompute_hosts:\n  compute3:\n    ip: 172.29.236.14\n"
    )
    (conf_d / "10-earlier.yml").write_text(
        "global_overrides:\n  who_wins: earlier\n  only_earlier: 1\ncompute_hosts:\n"
        "  compute2:\n    ip: 172.29.236.15\n"
    )
    (conf_d / "30-ignored.txt").write_text("global_overrides: {who_wins: txt}\n")
    inventory = api_generate(config_dir, env_dir).inventory
    all_vars = inventory["all"]["vars"]
    assert all_vars["who_wins"] == "later"
    assert all_vars["only_earlier"] == 1
    assert "provider_networks" in all_vars  # deep merge kept the main file's keys
    assert set(inventory["compute_hosts"]["hosts"]) == {"compute1", "compute2", "compute3"}


def test_config_env_d_merges_over_base(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    env_d = config_dir / "env.d"
    env_d.mkdir()
    (env_d / "20-galera.yml").write_text(
        "container_skel:\n  galera_container:\n    properties:\n      is_metal: true\n"
    )
    (env_d / "10-galera.yml").write_text(
        "container_skel:\n  galera_container:\n    properties:\n      is_metal: false\n"
        "      service_name: galera-test\n"
    )
    inventory = api_generate(config_dir, env_dir).inventory
    # 20- wins over 10-; belongs_to/contains from the base survive the deep merge
    assert inventory["galera_container"]["hosts"] == []
    assert "infra1" in inventory["galera"]["hosts"]
    assert not [n for n in _hostvars(inventory) if "galera-container" in n]
    # other services still in containers
    assert [n for n in inventory["keystone_container"]["hosts"] if n.startswith("infra1-")]


def test_config_env_d_later_file_wins(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    env_d = config_dir / "env.d"
    env_d.mkdir()
    (env_d / "b.yml").write_text(
        "container_skel:\n  galera_container:\n    properties:\n      is_metal: false\n"
    )
    (env_d / "a.yml").write_text(
        "container_skel:\n  galera_container:\n    properties:\n      is_metal: true\n"
    )
    inventory = api_generate(config_dir, env_dir).inventory
    assert [n for n in inventory["galera_container"]["hosts"] if n.startswith("infra1-")]
    assert "infra1" not in inventory["galera"]["hosts"]


# -- host options --------------------------------------------------------------------------


def test_affinity_two_and_zero() -> None:
    config = example_config("test")
    config["shared_infra_hosts"]["infra1"]["affinity"] = {
        "galera_container": 2,
        "rabbit_mq_container": 0,
    }
    inventory = generate_from(config).inventory
    galera = [n for n in inventory["galera_container"]["hosts"] if n.startswith("infra1-")]
    assert len(galera) == 2
    assert len(set(galera)) == 2
    for name in galera:
        assert re.fullmatch(r"infra1-galera-container-[0-9a-f]{8}", name)
        assert name in inventory["galera"]["hosts"]
        assert name in inventory["infra1_host_containers"]["hosts"]
    assert [n for n in inventory["rabbit_mq_container"]["hosts"] if n.startswith("infra1")] == []
    assert not [n for n in _hostvars(inventory) if "rabbit-mq" in n]
    assert address_problems(inventory, config) == []
    assert generate_from(config, inventory).inventory == inventory


def test_is_nest_links_host_containers_groups(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    env_d = config_dir / "env.d"
    env_d.mkdir()
    (env_d / "rack.yml").write_text(
        yaml.safe_dump(
            {
                "component_skel": {
                    "rack1_containers": {"belongs_to": ["rack1_all"]},
                    "rack1_hosts": {"belongs_to": ["rack1_all"]},
                },
                "container_skel": {"rack1_containers": {"properties": {"is_nest": True}}},
            }
        )
    )
    config = read_config(config_dir)
    config["rack1_hosts"] = {
        "infra1": {"ip": "172.29.236.11"},
        "compute1": {"ip": "172.29.236.12"},
    }
    write_config(config_dir, config)
    inventory = api_generate(config_dir, env_dir).inventory
    children = inventory["rack1_containers"]["children"]
    assert "infra1_host_containers" in children
    for child in children:
        assert child in ("infra1_host_containers", "compute1_host_containers")
        assert child in inventory
    assert set(inventory["rack1_all"]["children"]) == {"rack1_containers", "rack1_hosts"}
    assert set(inventory["rack1_hosts"]["hosts"]) == {"infra1", "compute1"}


def test_host_vars_land_on_the_physical_host() -> None:
    config = example_config("test")
    config["compute_hosts"]["compute1"]["host_vars"] = {"my_host_var": {"a": 1}}
    config["shared_infra_hosts"]["infra1"]["host_vars"] = {"infra_var": "x"}
    inventory = generate_from(config).inventory
    assert _hostvars(inventory)["compute1"]["my_host_var"] == {"a": 1}
    assert _hostvars(inventory)["infra1"]["infra_var"] == "x"
    for name, hostvars in containers_on(inventory, "infra1").items():
        assert "infra_var" not in hostvars, name
    for name, hostvars in _hostvars(inventory).items():
        if name != "compute1":
            assert "my_host_var" not in hostvars, name


# -- command actions -------------------------------------------------------------------------


def test_host_prints_exactly_its_hostvars(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh("test", tmp_path, env_dir)
    hostvars = _hostvars(_stored(config_dir))
    container = next(n for n, v in hostvars.items() if v.get("physical_host") not in (None, n))
    for name in ("infra1", container):
        proc = generate_cli(config_dir, env_dir, "--host", name)
        _ok(proc)
        assert json.loads(proc.stdout) == hostvars[name]
    proc = generate_cli(config_dir, env_dir, "--host", "no-such-host")
    _ok(proc)
    assert json.loads(proc.stdout) == {}


def test_no_action_is_list(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _fresh("test", tmp_path, env_dir)
    listed = generate_cli(config_dir, env_dir, "--list")
    default = generate_cli(config_dir, env_dir)
    _ok(listed)
    _ok(default)
    assert default.stdout == listed.stdout
    assert json.loads(listed.stdout) == _stored(config_dir)


def test_debug_writes_log_in_cwd(tmp_path: Path, env_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    work = tmp_path / "work"
    work.mkdir()
    proc = generate_cli(config_dir.resolve(), env_dir, "--debug", cwd=work)
    _ok(proc)
    log = work / "inventory.log"
    assert log.is_file()
    assert log.stat().st_size > 0
    assert not (config_dir / "inventory.log").exists()
    # without --debug no log is written
    other = tmp_path / "other"
    other.mkdir()
    _ok(generate_cli(config_dir.resolve(), env_dir, cwd=other))
    assert not (other / "inventory.log").exists()


def test_generate_never_modifies_previous() -> None:
    config = example_config("test")
    first = generate_from(config).inventory
    previous = copy.deepcopy(first)
    config["compute_hosts"]["compute2"] = {"ip": "172.29.236.20"}
    config["global_overrides"]["new_var"] = 1
    second = generate_from(config, previous).inventory
    assert previous == first
    assert "compute2" in _hostvars(second)


def test_global_no_containers_puts_everything_on_metal() -> None:
    config = example_config("test")
    config["global_overrides"]["no_containers"] = True
    inventory = generate_from(config).inventory
    hostvars = _hostvars(inventory)
    assert sorted(hostvars) == ["compute1", "infra1", "storage1"]
    assert inventory["lxc_hosts"]["hosts"] == []
    assert "infra1" in inventory["galera"]["hosts"]
    assert "infra1" in inventory["keystone"]["hosts"]
    # provider networks are not needed when nothing runs in a container
    del config["global_overrides"]["provider_networks"]
    assert sorted(_hostvars(generate_from(config).inventory)) == sorted(hostvars)


def test_changed_host_ip_updates_host_and_containers() -> None:
    config = example_config("test")
    before = generate_from(config).inventory
    for group in host_groups(config, "infra1"):
        config[group]["infra1"]["ip"] = "172.29.236.60"
    after = generate_from(config, before).inventory
    infra1 = _hostvars(after)["infra1"]
    assert infra1["ansible_host"] == infra1["management_address"] == "172.29.236.60"
    assert infra1["container_networks"]["management_address"]["address"] == "172.29.236.60"
    containers = containers_on(after, "infra1")
    assert set(containers) == set(containers_on(before, "infra1"))
    for name, hostvars in containers.items():
        assert hostvars["physical_host_addr"] == "172.29.236.60", name
        # containers keep their own addresses
        assert hostvars["ansible_host"] == _hostvars(before)[name]["ansible_host"], name


def test_environment_variables_give_the_defaults(tmp_path: Path, shared_dir: Path) -> None:
    config_dir = copy_example("test", tmp_path / "config")
    env = {**os.environ, "OSA_CONFIG_DIR": str(config_dir), "OSA_ROOT": str(shared_dir)}
    proc = subprocess.run(
        [str(CLI)], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
    )
    _ok(proc)
    assert json.loads(proc.stdout) == _stored(config_dir)


def test_conf_d_subdirectories_are_read(tmp_path: Path, env_dir: Path) -> None:
    """OSA reads every *.yml under conf.d/, subdirectories included (os.walk)."""
    config_dir = copy_example("test", tmp_path / "config")
    nested = config_dir / "conf.d" / "computes"
    nested.mkdir(parents=True)
    (nested / "compute2.yml").write_text("compute_hosts:\n  compute2:\n    ip: 172.29.236.15\n")
    inventory = api_generate(config_dir, env_dir).inventory
    assert "compute2" in inventory["compute_hosts"]["hosts"]


def test_config_env_d_subdirectories_are_read(tmp_path: Path, env_dir: Path) -> None:
    """OSA reads every *.yml under the config dir's env.d/, subdirectories included."""
    config_dir = copy_example("test", tmp_path / "config")
    nested = config_dir / "env.d" / "overrides"
    nested.mkdir(parents=True)
    (nested / "galera.yml").write_text(
        "container_skel:\n  galera_container:\n    properties:\n      is_metal: true\n"
    )
    inventory = api_generate(config_dir, env_dir).inventory
    assert inventory["galera_container"]["hosts"] == []
    assert "infra1" in inventory["galera"]["hosts"]


def test_check_accepts_groups_defined_in_component_skel(tmp_path: Path, env_dir: Path) -> None:
    """A host group that the config dir's env.d defines (here in component_skel, as
    examples/az does for az1_hosts) is known to env.d: --check must not call it unknown."""
    config_dir = copy_example("test", tmp_path / "config")
    env_d = config_dir / "env.d"
    env_d.mkdir()
    (env_d / "rack.yml").write_text(
        "component_skel:\n  rack1_containers:\n    belongs_to: [rack1_all]\n"
        "  rack1_hosts:\n    belongs_to: [rack1_all]\n"
        "container_skel:\n  rack1_containers:\n    properties:\n      is_nest: true\n"
    )
    config = read_config(config_dir)
    config["rack1_hosts"] = {"infra1": {"ip": "172.29.236.11"}}
    write_config(config_dir, config)
    proc = generate_cli(config_dir, env_dir, "--check")
    assert not any("rack1_hosts" in w for w in warnings_of(proc)), proc.stderr
    _ok(proc)
    assert "Configuration ok!" in proc.stdout
    assert not (config_dir / INVENTORY_FILE).exists()
