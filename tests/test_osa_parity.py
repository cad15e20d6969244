"""Parity with OSA where scripts and people notice it.

Group member order on a fresh store, host names with a dash (fresh and
adopted), OSA's command-line flags, and the warning for top-level config keys
that env.d does not know.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    INVENTORY_FILE,
    SUFFIX_RE,
    USER_CONFIG,
    base_environment,
    copy_example,
    example_config,
    example_params,
    generate_cli,
    generate_from,
    load_reference,
    read_config,
    run_cli,
    structural_view,
    warnings_of,
    write_config,
)

UNKNOWN_WARNING = "was found in configuration but not the environment"


def _unsuffixed(names: list[Any]) -> list[str]:
    return [SUFFIX_RE.sub("", str(name)) for name in names]


# -- group member order ------------------------------------------------------------------


@pytest.mark.parametrize("example", example_params())
def test_fresh_group_order_equals_osas(example: str, shared_dir: Path) -> None:
    """Every group's hosts and children in run3.json's order (suffixes aside)."""
    from osa_inventory.generate import generate
    from osa_inventory.sources import load_environment, load_user_config

    config_dir = shared_dir / "examples" / example
    inventory = generate(
        load_user_config(config_dir),
        load_environment(shared_dir / "inventory", config_dir),
        None,
    ).inventory
    reference = load_reference(example)
    assert set(inventory) == set(reference)
    mismatches = []
    for group, value in reference.items():
        if group == "_meta" or not isinstance(value, dict):
            continue
        for part in ("hosts", "children"):
            ours = _unsuffixed(inventory[group].get(part, []))
            if ours != _unsuffixed(value.get(part, [])):
                mismatches.append(f"{group}.{part}: {ours} != {_unsuffixed(value.get(part, []))}")
    assert mismatches == []


def _osa_metal_order(config: dict[str, Any], environment: dict[str, Any], component: str) -> list:
    """The hosts OSA puts in metal component group ``component``, in OSA's order.

    OSA walks container_skel (type, then its components, then its container
    groups) and, for each, the hosts of the matching config group in config order;
    a host on metal joins the component's group at the first such step.
    """
    order: dict[str, None] = {}
    for spec in environment["container_skel"].values():
        if component not in spec.get("contains", []):
            continue
        for container_group in spec.get("belongs_to", []):
            host_group = container_group.rpartition("_")[0] + "_hosts"
            order.update(dict.fromkeys(config.get(host_group) or {}))
    return list(order)


def test_metal_component_groups_fed_by_several_host_groups() -> None:
    """On an all-metal deployment the first host of neutron_server is OSA's (serial plays)."""
    config = example_config("prod")
    config["global_overrides"]["no_containers"] = True
    # network_hosts feeds neutron_server too, before network_infra_hosts in env.d; its
    # host appears in no group before that, so a host-by-host walk would put it last
    config["network_hosts"] = {"net9": {"ip": "172.29.236.49"}}
    environment = base_environment()
    inventory = generate_from(config).inventory
    for component in ("neutron_server", "neutron_ovn_controller", "nova_compute", "galera"):
        assert inventory[component]["hosts"] == _osa_metal_order(config, environment, component)
    assert inventory["neutron_server"]["hosts"] == ["net9", "infra1", "infra2", "infra3"]


# -- host names with a dash --------------------------------------------------------------

_HOSTS = re.compile(r"(?<![A-Za-z0-9_])(infra|compute|storage)1(?![0-9])")


def _dashed(value: Any) -> Any:
    """``value`` with the test example's hosts renamed infra-1, compute-1, storage-1."""
    if isinstance(value, str):
        return _HOSTS.sub(r"\1-1", value)
    if isinstance(value, list):
        return [_dashed(v) for v in value]
    if isinstance(value, dict):
        return {_dashed(k): _dashed(v) for k, v in value.items()}
    return value


def test_dashed_host_name_fresh() -> None:
    config = _dashed(example_config("test"))
    inventory = generate_from(config).inventory
    hostvars = inventory["_meta"]["hostvars"]
    assert hostvars["infra-1"]["container_types"] == "infra-1_host_containers"
    assert hostvars["compute-1"]["container_types"] == "compute-1_host_containers"
    group = inventory["infra-1_host_containers"]["hosts"]
    assert group and all(name.startswith("infra-1-") for name in group)
    assert not [key for key in inventory if key.startswith(("infra_1", "compute_1"))]
    assert structural_view(inventory) == structural_view(_dashed(load_reference("test")))


def test_dashed_host_name_adopted_in_osas_naming() -> None:
    """A store OSA wrote for dashed host names comes out exactly as it went in."""
    config = _dashed(example_config("test"))
    stored = _dashed(load_reference("test"))
    assert "infra-1_host_containers" in stored
    assert generate_from(config, stored).inventory == stored


def test_dashed_host_in_is_nest_and_group_binds(tmp_path: Path, env_dir: Path) -> None:
    """is_nest links and a provider network bound to a dashed host's group use its name."""
    config_dir = copy_example("test", tmp_path / "config")
    (config_dir / "env.d").mkdir()
    (config_dir / "env.d" / "rack.yml").write_text(
        "component_skel:\n"
        "  rack1_containers: {belongs_to: [rack1_all]}\n"
        "  rack1_hosts: {belongs_to: [rack1_all]}\n"
        "container_skel:\n"
        "  rack1_containers: {properties: {is_nest: true}}\n"
    )
    config = _dashed(read_config(config_dir))
    config["rack1_hosts"] = {"infra-1": {"ip": "172.29.236.11"}}
    config["global_overrides"]["provider_networks"].append(
        {
            "network": {
                "container_bridge": "br-extra",
                "container_type": "veth",
                "container_interface": "eth99",
                "type": "raw",
                "group_binds": ["infra-1_host_containers"],
            }
        }
    )
    write_config(config_dir, config)
    proc = generate_cli(config_dir, env_dir)
    assert proc.returncode == 0, proc.stderr
    inventory = json.loads(proc.stdout)
    assert inventory["rack1_containers"]["children"] == ["infra-1_host_containers"]
    hostvars = inventory["_meta"]["hostvars"]
    for name in inventory["infra-1_host_containers"]["hosts"]:
        assert hostvars[name]["container_networks"]["eth99_address"]["bridge"] == "br-extra"


def test_ansible_targets_a_dashed_hosts_container_group(tmp_path: Path, env_dir: Path) -> None:
    """`ansible 'infra-1_host_containers' --list-hosts` finds the containers, as under OSA."""
    from conftest import CLI
    from test_ansible import ansible, ansible_env, ok

    config_dir = copy_example("test", tmp_path / "config")
    write_config(config_dir, _dashed(read_config(config_dir)))
    script = tmp_path / "inventory.sh"
    script.write_text(f'#!/bin/sh\nexec "{CLI}" --config "{config_dir}" -e "{env_dir}" "$@"\n')
    script.chmod(0o755)
    env = ansible_env(tmp_path)
    listed = ok(
        ansible("ansible", "-i", script, "infra-1_host_containers", "--list-hosts", env=env)
    )
    hosts = [line.strip() for line in listed.splitlines()[1:]]
    stored = json.loads((config_dir / INVENTORY_FILE).read_text())
    assert hosts and sorted(hosts) == sorted(stored["infra-1_host_containers"]["hosts"])


# -- OSA's flags -------------------------------------------------------------------------


def test_osas_short_flags(tmp_path: Path, env_dir: Path) -> None:
    """dynamic_inventory.py's -e DIR (--environment) and -d (--debug), same meaning."""
    config_dir = copy_example("test", tmp_path / "config").resolve()
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli("--config", config_dir, "-e", env_dir, "-d", "--list", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads((config_dir / INVENTORY_FILE).read_text())
    log = work / "inventory.log"  # OSA's log name, in the current directory
    assert log.is_file() and log.stat().st_size > 0
    assert not (config_dir / "inventory.log").exists()
    long = run_cli("--config", config_dir, "--environment", env_dir, "--debug", cwd=work)
    assert long.returncode == 0 and long.stdout == proc.stdout
    wrong = run_cli("--config", config_dir, "-e", tmp_path / "nowhere", cwd=work)
    assert wrong.returncode == 2 and "env.d" in wrong.stderr


def test_check_may_come_with_list(tmp_path: Path, env_dir: Path) -> None:
    """OSA's --check and --list are not exclusive; --check wins and writes nothing."""
    config_dir = copy_example("test", tmp_path / "config")
    proc = generate_cli(config_dir, env_dir, "--list", "--check")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Configuration ok!\n"
    assert sorted(p.name for p in config_dir.iterdir()) == [USER_CONFIG]


# -- top-level keys env.d does not know ---------------------------------------------------


def _with_unknown_keys(tmp_path: Path) -> Path:
    config_dir = copy_example("test", tmp_path / "config")
    config = read_config(config_dir)
    config["compute_host"] = {"compute2": {"ip": "172.29.236.72"}}  # missing "s"
    config["frobnicator_hosts"] = {"infra1": {"ip": "172.29.236.11"}}
    write_config(config_dir, config)
    return config_dir


def _unknown_warnings(stderr_lines: list[str]) -> list[str]:
    return [line for line in stderr_lines if UNKNOWN_WARNING in line]


def test_unknown_keys_warn_in_check(tmp_path: Path, env_dir: Path) -> None:
    """As OSA: warn per key, print the inventory instead of 'Configuration ok!', exit 0;
    unlike OSA nothing is written."""
    config_dir = _with_unknown_keys(tmp_path)
    proc = generate_cli(config_dir, env_dir, "--check")
    assert proc.returncode == 0, proc.stderr
    warned = _unknown_warnings(warnings_of(proc))
    assert len(warned) == 2, proc.stderr
    assert "Group compute_host was found in configuration but not the environment" in warned[0]
    assert "did you mean compute_hosts?" in warned[0] and "ignored" in warned[0]
    assert "Group frobnicator_hosts" in warned[1] and USER_CONFIG in warned[1]
    assert "Configuration ok!" not in proc.stdout
    assert "compute2" not in json.loads(proc.stdout)["_meta"]["hostvars"]
    assert sorted(p.name for p in config_dir.iterdir()) == [USER_CONFIG]


def test_unknown_keys_warn_in_a_writing_run_and_plan(tmp_path: Path, env_dir: Path) -> None:
    config_dir = _with_unknown_keys(tmp_path)
    plan = run_cli("plan", "--config", config_dir, "--environment", env_dir)
    assert plan.returncode == 4, plan.stderr
    assert len(_unknown_warnings(warnings_of(plan))) == 2
    data = run_cli("plan", "--config", config_dir, "--environment", env_dir, "--format", "json")
    planned = json.loads(data.stdout)
    assert planned["unknown_groups"] == ["compute_host", "frobnicator_hosts"]
    assert len(_unknown_warnings(planned["warnings"])) == 2
    written = generate_cli(config_dir, env_dir)
    assert written.returncode == 0, written.stderr
    assert len(_unknown_warnings(warnings_of(written))) == 2
    assert (config_dir / INVENTORY_FILE).exists()
    again = generate_cli(config_dir, env_dir)  # served as stored: the warnings still show
    assert len(_unknown_warnings(warnings_of(again))) == 2
