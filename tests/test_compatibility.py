"""Compatibility with OpenStack-Ansible on every example config OSA ships.

A fresh run can only match OSA's fixed point (``reference/run3.json``) structurally,
as suffixes and container addresses are random in OSA. Adopting a store that OSA
wrote must leave it exactly as it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import (
    BACKUP_FILE,
    INVENTORY_FILE,
    address_problems,
    copy_example,
    example_params,
    generate_cli,
    load_reference,
    read_config,
    reference_path,
    require_shared_dir,
    structural_view,
    with_host_sets,
)

EXAMPLES = example_params()


def _diff_keys(ours: dict, theirs: dict) -> list[str]:
    return sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))


@pytest.fixture(params=EXAMPLES)
def example(request, shared_dir: Path) -> str:
    return request.param


UNKNOWN = "was found in configuration but not the environment"


def _known_groups(config_dir: Path) -> set[str]:
    """Every group OSA's env.d (and the example's own) names: keys and parents."""
    from osa_inventory.sources import load_environment

    environment = load_environment(require_shared_dir() / "inventory", config_dir)
    known = set()
    for section in ("physical_skel", "component_skel", "container_skel"):
        for key, spec in (environment.get(section) or {}).items():
            known.add(key)
            known.update((spec or {}).get("belongs_to") or [])
    return known


@pytest.fixture(scope="module", params=EXAMPLES)
def fresh(request, tmp_path_factory):
    """(example, config dir, stored inventory, process) after one run on an empty store.

    Module-scoped: every example is generated once for the tests that inspect it.
    """
    example = request.param
    shared = require_shared_dir()
    config_dir = copy_example(example, tmp_path_factory.mktemp(f"fresh-{example}") / "config")
    proc = generate_cli(config_dir, shared / "inventory")
    assert proc.returncode == 0, proc.stderr
    # the only messages: OSA's warning for config keys env.d does not know (az's own
    # host groups, prod-ceph's YAML anchor holder _infrastructure_hosts)
    config = read_config(config_dir)
    settings = ("cidr_networks", "used_ips", "global_overrides")
    unknown = [k for k in config if k not in settings and k not in _known_groups(config_dir)]
    assert [line.split()[3] for line in proc.stderr.splitlines()] == unknown, proc.stderr
    assert all(UNKNOWN in line for line in proc.stderr.splitlines())
    inventory = json.loads((config_dir / INVENTORY_FILE).read_text())
    return example, config_dir, inventory, proc


def test_fresh_run_matches_reference_structurally(fresh) -> None:
    example, _config_dir, inventory, proc = fresh
    reference = load_reference(example)
    ours, theirs = structural_view(inventory), structural_view(reference)
    assert sorted(ours["groups"]) == sorted(theirs["groups"]), "group names differ"
    assert _diff_keys(ours["groups"], theirs["groups"]) == []
    assert sorted(ours["hostvars"]) == sorted(theirs["hostvars"]), "host names differ"
    assert _diff_keys(ours["hostvars"], theirs["hostvars"]) == []
    assert ours == theirs
    # --list prints the same inventory that was stored
    assert json.loads(proc.stdout) == inventory


def test_fresh_run_container_addresses_are_valid(fresh) -> None:
    _example, config_dir, inventory, _proc = fresh
    assert address_problems(inventory, read_config(config_dir)) == []


def test_fresh_run_gives_every_container_a_management_address(fresh) -> None:
    _example, _config_dir, inventory, _proc = fresh
    hostvars = inventory["_meta"]["hostvars"]
    containers = [n for n, v in hostvars.items() if v.get("physical_host") not in (None, n)]
    assert containers
    for name in containers:
        assert hostvars[name]["ansible_host"], name
        assert hostvars[name]["management_address"] == hostvars[name]["ansible_host"]


@pytest.mark.parametrize("run", ["run3", "run3-unsorted"])
def test_adopting_osa_store_keeps_it_exactly(
    example: str, run: str, env_dir: Path, tmp_path: Path
) -> None:
    config_dir = copy_example(example, tmp_path / "config")
    shutil.copyfile(reference_path(example, run), config_dir / INVENTORY_FILE)
    proc = generate_cli(config_dir, env_dir)
    assert proc.returncode == 0, proc.stderr
    stored = json.loads((config_dir / INVENTORY_FILE).read_text())
    reference = load_reference(example, run)
    ours, theirs = with_host_sets(stored), with_host_sets(reference)
    assert _diff_keys(ours, theirs) == []
    ours_hv, theirs_hv = stored["_meta"]["hostvars"], reference["_meta"]["hostvars"]
    assert _diff_keys(ours_hv, theirs_hv) == []
    assert ours == theirs
    # nothing changed, so nothing was backed up
    assert not (config_dir / BACKUP_FILE).exists()
    assert json.loads(proc.stdout) == stored


def test_adopting_osa_first_run_reaches_osa_fixed_point(
    example: str, env_dir: Path, tmp_path: Path
) -> None:
    """OSA's run1.json, run once more, gives OSA's run3.json exactly (same store lineage)."""
    config_dir = copy_example(example, tmp_path / "config")
    shutil.copyfile(reference_path(example, "run1"), config_dir / INVENTORY_FILE)
    proc = generate_cli(config_dir, env_dir)
    assert proc.returncode == 0, proc.stderr
    stored = json.loads((config_dir / INVENTORY_FILE).read_text())
    run1, run3 = load_reference(example, "run1"), load_reference(example, "run3")
    ours, theirs = with_host_sets(stored), with_host_sets(run3)
    assert _diff_keys(ours, theirs) == []
    assert _diff_keys(stored["_meta"]["hostvars"], run3["_meta"]["hostvars"]) == []
    assert ours == theirs
    # the run changed the store, so the previous version was backed up
    if with_host_sets(run1) != theirs:
        assert (config_dir / BACKUP_FILE).exists()
