"""``osa-inventory-manage``: OSA's inventory-manage.py flags, on the file backend.

Each test adopts an OSA reference inventory (``run3.json`` of an example) as
``openstack_inventory.json`` in a temporary config dir, runs the installed
command in a subprocess, and checks the result against the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    BACKUP_FILE,
    INVENTORY_FILE,
    address_problems,
    containers_on,
    copy_example,
    dir_snapshot,
    example_params,
    group_memberships,
    load_reference,
    read_config,
    reference_path,
    require_shared_dir,
    structural_view,
)

MANAGE = Path(sys.executable).parent / "osa-inventory-manage"
INVENTORY = Path(sys.executable).parent / "osa-inventory"
SCRUBBED = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS")


def run(*args: Any, program: Path = MANAGE, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_") and k not in SCRUBBED}
    env["OSA_INVENTORY_CONFIG"] = "/nonexistent/osa.ini"
    return subprocess.run(
        [str(program), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def adopted(tmp_path: Path, example: str = "prod") -> Path:
    """A config dir holding ``example``'s config and its run3.json as the stored inventory."""
    require_shared_dir()
    config = copy_example(example, tmp_path / "config")
    (config / INVENTORY_FILE).write_bytes(reference_path(example).read_bytes())
    return config


def stored(config: Path) -> dict[str, Any]:
    return json.loads((config / INVENTORY_FILE).read_text())


def history(config: Path) -> list[dict[str, Any]]:
    return json.loads((config / "openstack_inventory.history.json").read_text())["versions"]


def error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout[-300:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("osa-inventory-manage: error: ")
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return adopted(tmp_path)


# -- listing -------------------------------------------------------------------------------


MANAGE_REFERENCES = {
    "manage-list.txt": ["-l"],
    "manage-list-sort-physical_host.txt": ["-l", "-s", "physical_host"],
    "manage-g.txt": ["-g"],
    "manage-G.txt": ["-G"],
}


@pytest.mark.parametrize("reference_file", sorted(MANAGE_REFERENCES))
@pytest.mark.parametrize("example", example_params())
def test_listings_are_osas_bytes(example: str, reference_file: str, tmp_path: Path) -> None:
    """-l, -l -s KEY, -g and -G print what OSA's inventory-manage.py printed on run3.json."""
    expected = require_shared_dir() / "examples" / example / "reference" / reference_file
    if not reference_path(example).is_file() or not expected.is_file():
        pytest.skip(f"{example} has no run3.json or {reference_file}")
    config = adopted(tmp_path, example)
    proc = run("--config", config, *MANAGE_REFERENCES[reference_file])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.encode() == expected.read_bytes()


def test_osas_long_flags_mean_the_short_ones(config: Path) -> None:
    """Every flag of OSA's inventory-manage.py, long and short, with its meaning."""
    pairs = [
        (["-l", "-s", "physical_host"], ["--list-host", "--sort", "physical_host"]),
        (["-g"], ["--list-groups"]),
        (["-G"], ["--list-containers"]),
        (["-e"], ["--export"]),
        (["-f", INVENTORY_FILE, "-l"], ["--file", INVENTORY_FILE, "--list-host"]),
    ]
    for short, long in pairs:
        one, two = run("--config", config, *short), run("--config", config, *long)
        assert one.returncode == 0 and one.stdout == two.stdout, (short, two.stderr)
    for short, long in ((["-d", "nova_compute"], ["--remove-group", "nova_compute"]),):
        assert (
            run("--config", config, *short, "--dry-run").stdout
            == run("--config", config, *long, "--dry-run").stdout
        )
    assert run("--config", config, "--remove-item", "compute2").stdout == "Success. . .\n"
    assert run("--config", config, "--clear-ips").stdout == "Success. . .\n"


def test_list_hosts_as_data_holds_the_tables_values(config: Path) -> None:
    reference = load_reference("prod")
    hostvars = reference["_meta"]["hostvars"]
    proc = run("--config", config, "-l", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["container_name"] for r in rows] == [
        line.split("|")[1].strip()
        for line in run("--config", config, "-l").stdout.splitlines()[3:-1]
    ]
    components = [r["component"] for r in rows]
    assert components == sorted(components)
    for row in rows:
        host = hostvars[row["container_name"]]
        assert row["is_metal"] is host.get("is_metal")  # None for a container, as OSA shows
        assert row["physical_host"] == host.get("physical_host")
        assert row["ansible_host"] == host.get("ansible_host")
        assert row["tunnel_address"] is None  # OSA reads a top-level hostvar that is never set
        assert row["container_types"] == host.get("container_types")


def test_sort_key_orders_the_host_list(config: Path) -> None:
    rows = json.loads(
        run("--config", config, "-l", "-s", "ansible_host", "--format", "json").stdout
    )
    keys = [(r["ansible_host"], r["container_name"]) for r in rows]
    assert keys == sorted(keys)


def test_sort_key_must_be_a_column(config: Path) -> None:
    line = error_line(run("--config", config, "-l", "-s", "container_tech"))
    assert "-s container_tech" in line and "physical_host" in line
    assert run("--config", config, "-l", "-s", "physical_host").returncode == 0


def test_g_lists_hosts_with_groups_and_G_groups_with_hosts(config: Path, tmp_path: Path) -> None:
    """As OSA's code does (its --help says the reverse): scripts rely on the output."""
    reference = load_reference("prod")
    per_host = json.loads(run("--config", config, "-g", "--format", "json").stdout)
    memberships = group_memberships(reference)
    assert per_host == {h: sorted(memberships.get(h, ())) for h in reference["_meta"]["hostvars"]}
    per_group = json.loads(run("--config", config, "-G", "--format", "json").stdout)
    expected = {
        name: group["hosts"]
        for name, group in reference.items()
        if name != "_meta"
        and group.get("hosts")
        and (len(group["hosts"]) > 1 or "_" in group["hosts"][0])
    }
    assert per_group == expected
    assert "nova_compute" in per_group and "compute_hosts" in per_group
    assert "aodh_all" not in per_group  # no hosts of its own
    one = adopted(tmp_path / "test", "test")
    single = json.loads(run("--config", one, "-G", "--format", "json").stdout)
    assert "keystone" not in single  # one container: OSA leaves such groups out
    assert "compute_hosts" not in single and "lxc_hosts" not in single


def _osa_export_text(path: Path) -> str:
    """What OSA's ``inventory-manage.py -e`` prints for the file at ``path``.

    Built here the way OSA's code builds it, walking the file in its own order.
    """
    inventory = json.loads(path.read_text())
    hosts: dict[str, Any] = {}
    for name, hostvars in inventory["_meta"]["hostvars"].items():
        hosts[name] = {"hostvars": hostvars}
    for group, value in inventory.items():
        if group in ("_meta", "all"):
            continue
        for host in value["hosts"]:
            hosts[host].setdefault("groups", []).append(group)
    return json.dumps({"hosts": hosts, "all": inventory["all"]["vars"]}, indent=2) + "\n"


@pytest.mark.parametrize("example", example_params())
def test_export_is_osas_bytes(example: str, tmp_path: Path) -> None:
    config = adopted(tmp_path, example)
    proc = run("--config", config, "-e")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _osa_export_text(reference_path(example))
    exported = json.loads(proc.stdout)
    assert exported["all"] == load_reference(example)["all"]["vars"]


def test_file_flag_is_found_in_the_config_dir_then_as_given(config: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    by_name = run("--config", config, "-f", INVENTORY_FILE, "-g", "--format", "json", cwd=elsewhere)
    assert by_name.returncode == 0, by_name.stderr
    other = elsewhere / "mine.json"
    other.write_text(reference_path("test").read_text())
    relative = run("--config", config, "-f", "mine.json", "-g", "--format", "json", cwd=elsewhere)
    assert set(json.loads(relative.stdout)) == set(load_reference("test")["_meta"]["hostvars"])
    absolute = run("-f", other, "-l", "--format", "json")
    assert absolute.returncode == 0, absolute.stderr
    assert "not found" in error_line(run("--config", config, "-f", "nope.json", "-l"))


def test_an_empty_store_is_a_clear_error(tmp_path: Path) -> None:
    assert "holds no inventory" in error_line(run("--config", tmp_path, "-l"))


def test_one_action_is_required() -> None:
    proc = run("--config", "/nonexistent")
    assert proc.returncode == 2 and "one of the arguments" in proc.stderr
    proc = run("-l", "-g")
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


# -- changes -------------------------------------------------------------------------------


def test_remove_physical_host_takes_its_containers(config: Path) -> None:
    reference = load_reference("prod")
    gone = {"infra2", *containers_on(reference, "infra2")}
    proc = run("--config", config, "-r", "infra2", "-m", "retire infra2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Success. . .\n"  # OSA's words
    after = stored(config)
    assert set(after["_meta"]["hostvars"]) == set(reference["_meta"]["hostvars"]) - gone
    for name, group in after.items():
        if name != "_meta":
            assert not gone & set(group.get("hosts", [])), name
    assert "infra2_host_containers" not in after
    entry = history(config)[-1]
    assert entry["message"] == "retire infra2"
    assert entry["command"].startswith("osa-inventory-manage ") and "-r infra2" in entry["command"]
    with tarfile.open(config / BACKUP_FILE) as tar:  # the previous version, then this one
        previous, current = tar.getmembers()[-2:]
        assert json.loads(tar.extractfile(previous).read()) == reference
        assert json.loads(tar.extractfile(current).read()) == after


def test_remove_containers_and_several_items(config: Path) -> None:
    reference = load_reference("prod")
    one, two = sorted(containers_on(reference, "infra1"))[:2]
    proc = run("--config", config, "-r", one, "-r", two)
    assert proc.returncode == 0, proc.stderr
    hostvars = stored(config)["_meta"]["hostvars"]
    assert one not in hostvars and two not in hostvars and "infra1" in hostvars
    assert len(hostvars) == len(reference["_meta"]["hostvars"]) - 2


def test_removing_an_unknown_host_changes_nothing(config: Path) -> None:
    before = dir_snapshot(config)
    line = error_line(run("--config", config, "-r", "compute1", "-r", "compute9"))
    assert "compute9" in line and "not in the inventory" in line
    assert dir_snapshot(config) == before


def test_remove_group(config: Path) -> None:
    """Only the group goes: its parents keep naming it in children, as with OSA's -d."""
    reference = load_reference("prod")
    proc = run("--config", config, "-d", "nova_compute")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Success. . .\n"
    after = stored(config)
    assert "nova_compute" not in after
    assert after["nova_all"]["children"] == reference["nova_all"]["children"]
    assert "nova_compute" in after["nova_all"]["children"]
    assert after["_meta"] == reference["_meta"]
    assert {k: v for k, v in after.items() if k != "nova_compute"} == {
        k: v for k, v in reference.items() if k != "nova_compute"
    }
    before = dir_snapshot(config)
    assert "nova_compute" in error_line(run("--config", config, "-d", "nova_compute"))
    assert dir_snapshot(config) == before


def test_clear_ips_then_a_run_assigns_new_addresses(config: Path) -> None:
    reference = load_reference("prod")
    proc = run("--config", config, "--clear-ips")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Success. . .\n"
    cleared = stored(config)["_meta"]["hostvars"]
    for name, hostvars in cleared.items():
        if hostvars.get("is_metal"):
            assert hostvars == reference["_meta"]["hostvars"][name]
        else:
            assert "ansible_host" not in hostvars and "container_networks" not in hostvars
    environment = require_shared_dir() / "inventory"
    proc = run("--config", config, "--environment", environment, "--list", program=INVENTORY)
    assert proc.returncode == 0, proc.stderr
    regenerated = stored(config)
    assert structural_view(regenerated) == structural_view(reference)
    assert address_problems(regenerated, read_config(config)) == []
    moved = [
        name
        for name, hostvars in regenerated["_meta"]["hostvars"].items()
        if hostvars["ansible_host"] != reference["_meta"]["hostvars"][name]["ansible_host"]
    ]
    assert moved  # new addresses, not the old ones back


def test_dry_run_and_message(config: Path) -> None:
    before = dir_snapshot(config)
    for action in (["-r", "infra1"], ["-d", "nova_compute"], ["--clear-ips"]):
        proc = run("--config", config, *action, "--dry-run")
        assert proc.returncode == 0 and "Dry run" in proc.stdout, proc.stderr
    assert dir_snapshot(config) == before


def test_removed_host_warning_names_this_command(config: Path) -> None:
    import yaml

    data = yaml.safe_load((config / "openstack_user_config.yml").read_text())
    for group in data.values():
        if isinstance(group, dict):
            group.pop("compute2", None)
    (config / "openstack_user_config.yml").write_text(yaml.safe_dump(data))
    environment = require_shared_dir() / "inventory"
    proc = run("--config", config, "--environment", environment, "--list", program=INVENTORY)
    assert proc.returncode == 0, proc.stderr
    assert "osa-inventory-manage -r compute2" in proc.stderr
    assert run("--config", config, "-r", "compute2").returncode == 0
    proc = run("--config", config, "--environment", environment, "--list", program=INVENTORY)
    assert proc.returncode == 0 and "compute2" not in proc.stderr
    assert "compute2" not in stored(config)["_meta"]["hostvars"]


@pytest.mark.parametrize("example", ["aio", "test"])
def test_other_examples_list_and_export(example: str, tmp_path: Path) -> None:
    config = adopted(tmp_path, example)
    reference = load_reference(example)
    rows = json.loads(run("--config", config, "-l", "--format", "json").stdout)
    assert len(rows) == len(reference["_meta"]["hostvars"])
    exported = json.loads(run("--config", config, "-e").stdout)
    assert set(exported["hosts"]) == set(reference["_meta"]["hostvars"])
