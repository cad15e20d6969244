"""``osa-inventory ansible-setup`` on a scratch deploy host, judged by the real ansible-inventory.

A scratch ``$OSA_ROOT`` holds a copy of OSA's inventory folder (env.d,
group_vars, host_vars, inventory.ini) and a config dir holds an example's
``reference/run3.json`` as the stored inventory, its openstack_user_config.yml,
and a deployer's own group_vars applied through ``$OSA_CONFIG_DIR/inventory.ini``
as OSA's wrapper creates it. ``ANSIBLE_INVENTORY`` is what OSA's wrapper would
export: the default line of OSA's ``openstack-ansible.rc``, then ``user.rc``
sourced in bash. Source A is OSA's setup, with a ``dynamic_inventory.py`` that
prints run3.json as OSA's script would; source B is what ansible-setup made.
Ansible must give both the same hosts, groups and variables.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    CLI,
    INVENTORY_FILE,
    REPO_DIR,
    copy_example,
    example_params,
    load_reference,
    one_line_error,
    reference_path,
    require_shared_dir,
)
from osa_inventory.ansible.setup import PLUGIN, SCRIPT, Layout, rc_line
from osa_inventory.defaults import DEFAULT_CONFIG_DIR, DEFAULT_OSA_ROOT
from osa_inventory.testing.deployment import write_config
from test_ansible import ansible, ansible_env, ok, tree_view

BIN = CLI.parent
ACCEPTANCE_EXAMPLES = ["aio", "prod", "prod-ceph"]
DEPLOYER_VAR = {"deployer_marker": "from the config dir's group_vars"}
SETUP_MARK = "# added by osa-inventory ansible-setup"
PLUGIN_NAME = "the osa_inventory.store.inventory plugin"


# -- a scratch deploy host --------------------------------------------------------------------


def make_host(base: Path, example: str) -> dict[str, Path]:
    """$OSA_ROOT with OSA's inventory folder and a config dir adopting ``example``'s run3.json."""
    shared = require_shared_dir()
    root = base / "openstack-ansible"
    shutil.copytree(shared / "inventory", root / "inventory", copy_function=shutil.copyfile)
    script = root / "inventory" / "dynamic_inventory.py"  # prints what OSA's script would
    script.write_text(f"#!/bin/sh\nexec cat '{reference_path(example)}'\n")
    script.chmod(0o755)
    config = copy_example(example, base / "openstack_deploy")
    shutil.copyfile(reference_path(example), config / INVENTORY_FILE)
    (config / "group_vars" / "all").mkdir(parents=True)
    (config / "group_vars" / "all" / "deployer.yml").write_text(json.dumps(DEPLOYER_VAR))
    (config / "inventory.ini").write_text("[all]\n")  # as OSA's wrapper creates it
    return {"root": root, "config": config}


def osa_rc_default() -> str:
    """The line of OSA's openstack-ansible.rc that sets ANSIBLE_INVENTORY unless already set."""
    rc = require_shared_dir() / "scripts" / "openstack-ansible.rc"
    (line,) = [x for x in rc.read_text().splitlines() if x.startswith("export ANSIBLE_INVENTORY=")]
    return line


def wrapper_inventory(host: Mapping[str, Path]) -> str:
    """ANSIBLE_INVENTORY as OSA's wrapper leaves it: its .rc's default, then user.rc."""
    line = osa_rc_default().replace("OSA_INVENTORY_PATH", str(host["root"] / "inventory"))
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_INVENTORY"}
    env.update(OSA_CONFIG_DIR=str(host["config"]), OSA_RC_LINE=line)
    proc = subprocess.run(
        [
            "bash",
            "-c",
            'eval "$OSA_RC_LINE"; rc="$OSA_CONFIG_DIR/user.rc"; if [ -f "$rc" ]; then . "$rc"; fi; '
            'printf %s "$ANSIBLE_INVENTORY"',
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    return proc.stdout


def host_env(base: Path, **extra: str) -> dict[str, str]:
    """Ansible isolated in ``base``; no plugin dir: the plugin must come from the collection."""
    env = ansible_env(base, **extra)
    del env["ANSIBLE_INVENTORY_PLUGINS"]
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def ansible_list(host: Mapping[str, Path], env: Mapping[str, str]) -> dict[str, Any]:
    inventory = wrapper_inventory(host)
    proc = ansible("ansible-inventory", "--list", env={**env, "ANSIBLE_INVENTORY": inventory})
    return json.loads(ok(proc))


def setup_cli(
    host: Mapping[str, Path], *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    command = [str(CLI), "ansible-setup", "--osa-root", str(host["root"])]
    command += ["--config", str(host["config"]), *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=dict(env or host_env(host["config"].parent)),
        timeout=120,
        check=False,
    )


def memberships(listed: Mapping[str, Any]) -> dict[str, set[str]]:
    """Every host's groups, through children, as Ansible resolved them."""
    groups = {
        name: (set(content.get("hosts") or ()), set(content.get("children") or ()))
        for name, content in listed.items()
        if name != "_meta"
    }
    found: dict[str, set[str]] = {}

    def visit(group: str, hosts: set[str], seen: set[str]) -> None:
        if group in seen:
            return
        seen.add(group)
        for host in hosts:
            found.setdefault(host, set()).add(group)
        for parent, (_, children) in groups.items():
            if group in children:
                visit(parent, hosts, seen)

    for name, (hosts, _) in groups.items():
        for host in hosts:
            visit(name, {host}, set())
    return found


# -- the acceptance test ----------------------------------------------------------------------


@pytest.fixture(scope="module", params=ACCEPTANCE_EXAMPLES)
def deploy_host(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One example's deploy host and what Ansible lists with OSA's own setup (source A)."""
    example = request.param
    base = tmp_path_factory.mktemp(f"host-{example}")
    host = make_host(base, example)
    env = host_env(base)
    osa = ansible_list(host, env)
    return example, host, env, osa


@pytest.mark.parametrize("mode", ["script", "plugin"])
def test_ansible_sees_what_osas_setup_gives(deploy_host: Any, mode: str) -> None:
    example, host, env, osa = deploy_host
    done = setup_cli(host, f"--{mode}", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # in plugin mode: Ansible's Python finds the plugin
    inventory = wrapper_inventory(host)
    assert inventory.split(",") == [
        str(host["root"] / "inventory" / f"osa_inventory.{'sh' if mode == 'script' else 'yml'}"),
        str(host["root"] / "inventory" / "inventory.ini"),
        str(host["config"] / "inventory.ini"),
    ]

    ours = ansible_list(host, env)

    assert ours["_meta"]["hostvars"] == osa["_meta"]["hostvars"]
    assert memberships(ours) == memberships(osa)
    assert tree_view(ours) == tree_view(osa)
    reference = load_reference(example)
    assert set(osa["_meta"]["hostvars"]) >= set(reference["_meta"]["hostvars"])
    for host_vars in ours["_meta"]["hostvars"].values():
        assert host_vars["deployer_marker"] == DEPLOYER_VAR["deployer_marker"]
    # OSA's inventory.ini and its group_vars/all are applied too
    assert "localhost" in ours["_meta"]["hostvars"]
    assert all("openstack_release" in v for v in ours["_meta"]["hostvars"].values())
    # adopting OSA's store kept it as it was
    stored = json.loads((host["config"] / INVENTORY_FILE).read_text())
    assert stored == reference
    assert setup_cli(host, "--check", env=env).returncode == 0


GENERATED = "generated-100"  # osa_inventory.testing.deployment, 100 computes


def generated_host(base: Path, computes: int) -> dict[str, Path]:
    """A deploy host like :func:`make_host`'s, its config a generated deployment (no store yet)."""
    root = base / "openstack-ansible"
    shutil.copytree(
        require_shared_dir() / "inventory", root / "inventory", copy_function=shutil.copyfile
    )
    config = base / "openstack_deploy"
    write_config(computes, config)
    (config / "group_vars" / "all").mkdir(parents=True)
    (config / "group_vars" / "all" / "deployer.yml").write_text(json.dumps(DEPLOYER_VAR))
    (config / "inventory.ini").write_text("[all]\n")
    return {"root": root, "config": config}


def osa_warnings(stderr: str) -> list[str]:
    """osa-inventory's warnings as Ansible showed them: the script's stderr lines, or the
    plugin's through Ansible's display."""
    marks = ("osa-inventory: warning: ", "[WARNING]: osa-inventory: ")
    return [
        line.split(mark, 1)[1] for line in stderr.splitlines() for mark in marks if mark in line
    ]


@pytest.mark.parametrize("example", [*example_params(), GENERATED])
def test_the_plugin_and_the_script_give_ansible_the_same_inventory(
    example: str, tmp_path: Path
) -> None:
    """``ansible-inventory --list`` prints the same bytes through either setup (OSA's
    inventory folder with its group_vars, and the deployer's, applied alike). The
    plugin setup's config generates: it goes first and brings the store up to date
    (the generated deployment has no store yet; an example's adopted store gets the
    inputs' fingerprint), then the script serves what it stored, then the plugin again."""
    host = generated_host(tmp_path, 100) if example == GENERATED else make_host(tmp_path, example)
    env = host_env(tmp_path)
    store = host["config"] / INVENTORY_FILE
    assert (example == GENERATED) != store.exists()
    printed: dict[str, list[str]] = {"script": [], "plugin": []}
    warned: dict[str, list[list[str]]] = {"script": [], "plugin": []}
    for mode in ("plugin", "script", "plugin"):
        done = setup_cli(host, f"--{mode}", env=env)
        assert done.returncode == 0, done.stderr
        listed = ansible(
            "ansible-inventory", "--list", env={**env, "ANSIBLE_INVENTORY": wrapper_inventory(host)}
        )
        printed[mode].append(ok(listed))
        warned[mode].append(osa_warnings(listed.stderr))
        assert store.is_file()
    script, plugin = printed["script"][0], printed["plugin"][0]
    assert printed["plugin"][1] == plugin  # nothing changed in between
    # the generator's warnings, shown alike whether generating or served as stored
    assert warned["plugin"][0] == warned["script"][0] == warned["plugin"][1]
    hostvars = json.loads(plugin)["_meta"]["hostvars"]
    assert len(hostvars) > 1 and all("openstack_release" in v for v in hostvars.values())
    assert all(v["deployer_marker"] == DEPLOYER_VAR["deployer_marker"] for v in hostvars.values())
    assert plugin == script


def plugin_host(tmp_path: Path, computes: int) -> tuple[dict[str, Path], dict[str, str]]:
    """A generated deploy host set up with the plugin, and Ansible's environment on it."""
    host = generated_host(tmp_path, computes)
    env = host_env(tmp_path)
    done = setup_cli(host, "--plugin", env=env)
    assert done.returncode == 0, done.stderr
    return host, {**env, "ANSIBLE_INVENTORY": wrapper_inventory(host)}


def test_the_plugin_setup_picks_up_a_changed_user_config(tmp_path: Path) -> None:
    """Like dynamic_inventory.py: a compute added to openstack_user_config.yml is in the
    next playbook's inventory, and stored, without running osa-inventory by hand."""
    host, env = plugin_host(tmp_path, 3)
    before = json.loads(ok(ansible("ansible-inventory", "--list", env=env)))
    write_config(4, host["config"])
    after = json.loads(ok(ansible("ansible-inventory", "--list", env=env)))
    added = set(after["_meta"]["hostvars"]) - set(before["_meta"]["hostvars"])
    assert added and all(name.startswith("compute") for name in added), added
    assert set(after["compute_hosts"]["hosts"]) - set(before["compute_hosts"]["hosts"]) == added
    stored = json.loads((host["config"] / INVENTORY_FILE).read_text())
    assert added <= set(stored["_meta"]["hostvars"])
    history = subprocess.run(
        [str(CLI), "--config", str(host["config"]), "history"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    assert "ansible inventory plugin osa_inventory" in history


def test_a_bad_user_config_is_a_one_line_error_through_the_plugin(tmp_path: Path) -> None:
    """The error osa-inventory --list gives, once per line Ansible shows, no traceback;
    the store left as it was."""
    host, env = plugin_host(tmp_path, 3)
    ok(ansible("ansible-inventory", "--list", env=env))
    store = host["config"] / INVENTORY_FILE
    stored = store.read_bytes()
    user_config = host["config"] / "openstack_user_config.yml"
    user_config.write_text(user_config.read_text() + "compute_hosts: [unclosed\n")
    script = subprocess.run(
        [
            str(CLI),
            "--config",
            str(host["config"]),
            "--environment",
            str(host["root"] / "inventory"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    message = one_line_error(script).removeprefix("osa-inventory: error: ")
    proc = ansible("ansible-inventory", "--list", env=env)
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if message in line]
    assert ours, proc.stderr
    for line in ours:
        assert line.endswith(f"osa_inventory ({source(host, 'plugin')}): {message}"), line
    assert "Traceback" not in proc.stderr
    assert store.read_bytes() == stored


def test_the_script_alone_loses_osas_variables(tmp_path: Path) -> None:
    """What the acceptance test guards against: ``ANSIBLE_INVENTORY=$(which osa-inventory)``.

    Ansible reads group_vars/ next to each source: with the script in a venv's bin/
    and OSA's inventory.ini files no longer listed, none of OSA's variables apply.
    The figures are those the README and docs/ansible.md give.
    """
    host = make_host(tmp_path, "prod-ceph")
    env = host_env(tmp_path)
    osa = ansible_list(host, env)
    alone = {
        **env,
        "ANSIBLE_INVENTORY": str(CLI),
        "OSA_CONFIG_DIR": str(host["config"]),
        "OSA_ROOT": str(host["root"]),
    }
    listed = json.loads(ok(ansible("ansible-inventory", "--list", env=alone)))
    assert len(osa["_meta"]["hostvars"]["infra1"]) - len(DEPLOYER_VAR) == 286
    assert len(listed["_meta"]["hostvars"]["infra1"]) == 18
    for name in ("deployer_marker", "openstack_release"):
        assert name not in listed["_meta"]["hostvars"]["infra1"]
    assert "localhost" not in listed["_meta"]["hostvars"]


# -- the command's contract -------------------------------------------------------------------


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    return make_host(tmp_path, "aio")


def files_of(host: Mapping[str, Path]) -> dict[str, tuple[bytes, int, int]]:
    """Every file of the host's inventory folder and config dir: bytes, mode, mtime."""
    found = {}
    for top in (host["root"] / "inventory", host["config"]):
        for path in sorted(top.rglob("*")):
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                found[str(path)] = (path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_mtime_ns)
    return found


def source(host: Mapping[str, Path], mode: str) -> Path:
    return (
        host["root"]
        / "inventory"
        / ("osa_inventory.sh" if mode == "script" else "osa_inventory.yml")
    )


def test_running_it_twice_changes_nothing_and_keeps_the_deployers_lines(
    host: dict[str, Path],
) -> None:
    rc = host["config"] / "user.rc"
    rc.write_text("# my settings\nexport ANSIBLE_FORKS=20\nexport FOO=bar")  # no final newline
    rc.chmod(0o640)
    first = setup_cli(host)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [  # the plugin: Ansible's Python finds it
        f"wrote {source(host, 'plugin')} (a config of {PLUGIN_NAME} that generates)",
        f"set ANSIBLE_INVENTORY={wrapper_inventory(host)} in {rc}",
    ]
    lines = rc.read_text().splitlines()
    assert lines[:3] == ["# my settings", "export ANSIBLE_FORKS=20", "export FOO=bar"]
    assert lines[3].startswith("export ANSIBLE_INVENTORY=") and lines[3].endswith(SETUP_MARK)
    assert len(lines) == 4
    assert stat.S_IMODE(rc.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert stat.S_IMODE(source(host, "plugin").stat().st_mode) == 0o600
    before = files_of(host)
    again = setup_cli(host)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("nothing changed:")
    assert files_of(host) == before


def test_files_it_creates_are_private(host: dict[str, Path]) -> None:
    assert setup_cli(host, "--plugin").returncode == 0
    assert stat.S_IMODE((host["config"] / "user.rc").stat().st_mode) == 0o600
    assert stat.S_IMODE(source(host, "plugin").stat().st_mode) == 0o600
    assert not list(host["root"].rglob(".*.tmp"))


def test_the_script_runs_this_osa_inventory_from_anywhere(host: dict[str, Path]) -> None:
    assert setup_cli(host, "--script").returncode == 0
    bare = {"OSA_INVENTORY_CONFIG": str(host["config"] / "no-osa.ini")}  # no PATH, no OSA_*
    proc = subprocess.run(
        [str(source(host, "script")), "--list"],
        capture_output=True,
        text=True,
        env=bare,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == load_reference("aio")


def test_check_lists_each_problem_and_its_fix_works(host: dict[str, Path]) -> None:
    proc = setup_cli(host, "--check")
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"{source(host, 'plugin')} is missing",
        f"{host['config'] / 'user.rc'} does not set ANSIBLE_INVENTORY to osa-inventory's source",
    ]
    hint = proc.stderr.strip()
    assert hint.startswith("osa-inventory: to fix: osa-inventory ansible-setup --plugin ")
    fix = shlex.split(hint.partition("to fix: ")[2])
    done = subprocess.run(
        [str(CLI), *fix[1:]], capture_output=True, text=True, env=host_env(host["config"].parent)
    )
    assert done.returncode == 0, done.stderr
    checked = setup_cli(host, "--check")
    assert checked.returncode == 0, checked.stdout
    rc = host["config"] / "user.rc"
    assert checked.stdout == f"complete: ANSIBLE_INVENTORY={wrapper_inventory(host)} (from {rc})\n"


def test_check_notices_a_changed_script(host: dict[str, Path]) -> None:
    assert setup_cli(host, "--script").returncode == 0
    script = source(host, "script")
    script.chmod(0o644)
    assert setup_cli(host, "--check").stdout == f"{script} has mode 0644, not 0700\n"
    script.write_text(script.read_text().replace("--config", "--config /elsewhere --x"))
    proc = setup_cli(host, "--check")
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{script} differs from what osa-inventory ansible-setup writes")
    assert setup_cli(host).returncode == 0
    assert setup_cli(host, "--check").returncode == 0


@pytest.mark.parametrize("had_user_rc", [True, False])
def test_undo_restores_osas_own_setup(host: dict[str, Path], had_user_rc: bool) -> None:
    rc = host["config"] / "user.rc"
    if had_user_rc:
        rc.write_text("export ANSIBLE_FORKS=20\n")
    osa_default = wrapper_inventory(host)
    assert osa_default.startswith(str(host["root"] / "inventory" / "dynamic_inventory.py,"))
    before = files_of(host)
    assert setup_cli(host, "--script").returncode == 0
    assert setup_cli(host, "--plugin").returncode == 0
    undone = setup_cli(host, "--undo")
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.splitlines()[0].startswith(
        f"removed the ANSIBLE_INVENTORY line from {rc}; OSA's default applies again"
    )
    assert f"removed {source(host, 'plugin')}" in undone.stdout.splitlines()
    assert wrapper_inventory(host) == osa_default
    after = files_of(host)
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}
    again = setup_cli(host, "--undo")
    assert again.returncode == 0 and again.stdout.startswith("nothing to undo:")


def test_switching_modes_keeps_one_source(host: dict[str, Path]) -> None:
    assert setup_cli(host, "--plugin").returncode == 0
    switched = setup_cli(host, "--script")
    assert f"removed {source(host, 'plugin')}" in switched.stdout.splitlines()
    assert source(host, "script").is_file() and not source(host, "plugin").exists()
    # without --script/--plugin it keeps the mode the host is set up with
    assert setup_cli(host, "--plugin").returncode == 0
    assert setup_cli(host).stdout.startswith("nothing changed:")
    assert setup_cli(host, "--check").returncode == 0


def test_a_host_set_up_with_the_script_keeps_it(host: dict[str, Path]) -> None:
    """Set up before the plugin was the default: no flag keeps the script, --check is
    complete, --plugin switches explicitly and --undo restores OSA's setup."""
    assert setup_cli(host, "--script").returncode == 0
    before = files_of(host)
    again = setup_cli(host)
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        f"nothing changed: {host['config'] / 'user.rc'} already uses {source(host, 'script')}\n"
    )
    assert files_of(host) == before
    assert setup_cli(host, "--check").returncode == 0
    switched = setup_cli(host, "--plugin")
    assert f"removed {source(host, 'script')}" in switched.stdout.splitlines()
    assert setup_cli(host, "--undo").returncode == 0
    assert not source(host, "plugin").exists() and not (host["config"] / "user.rc").exists()


def test_an_earlier_read_only_plugin_config_is_reported_and_rewritten(
    host: dict[str, Path],
) -> None:
    """A host set up with --plugin when its config only read the store keeps the plugin,
    and the config is brought to the generating one (--check names the difference)."""
    assert setup_cli(host, "--plugin").returncode == 0
    config = source(host, "plugin")
    text = config.read_text()
    earlier = "\n".join(
        line for line in text.splitlines() if not line.startswith(("environment:", "generate:"))
    )
    config.write_text(earlier + "\n")
    checked = setup_cli(host, "--check")
    assert checked.returncode == 1
    assert checked.stdout == (
        f"{config} differs from what osa-inventory ansible-setup writes now "
        f"(a config of {PLUGIN_NAME} that generates)\n"
    )
    fixed = setup_cli(host)
    assert fixed.stdout.splitlines() == [
        f"wrote {config} (a config of {PLUGIN_NAME} that generates)"
    ]
    assert config.read_text() == text
    assert setup_cli(host, "--check").returncode == 0


def test_a_deployer_line_after_ours_is_reported_then_overridden(host: dict[str, Path]) -> None:
    rc = host["config"] / "user.rc"
    assert setup_cli(host).returncode == 0
    ours = wrapper_inventory(host)
    with rc.open("a") as f:
        f.write("export ANSIBLE_INVENTORY=/srv/mine.ini\n")
    assert wrapper_inventory(host) == "/srv/mine.ini"
    proc = setup_cli(host, "--check")
    assert proc.returncode == 1
    assert proc.stdout == (
        f"{rc}:2 sets ANSIBLE_INVENTORY after the line osa-inventory ansible-setup wrote\n"
    )
    fixed = setup_cli(host)
    assert fixed.returncode == 0
    assert (
        f"note: {rc}:1 also sets ANSIBLE_INVENTORY; the line osa-inventory ansible-setup "
        "wrote comes after it and wins" in fixed.stdout.splitlines()
    )
    assert rc.read_text().splitlines()[0] == "export ANSIBLE_INVENTORY=/srv/mine.ini"
    assert wrapper_inventory(host) == ours
    assert setup_cli(host, "--check").returncode == 0


def test_environment_variables_give_the_defaults(host: dict[str, Path]) -> None:
    env = host_env(
        host["config"].parent, OSA_ROOT=str(host["root"]), OSA_CONFIG_DIR=str(host["config"])
    )
    proc = subprocess.run(
        [str(CLI), "ansible-setup"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert source(host, "plugin").is_file()


def test_it_never_replaces_what_it_did_not_write(host: dict[str, Path], tmp_path: Path) -> None:
    script = source(host, "script")
    target = tmp_path / "elsewhere.sh"
    target.write_text("mine\n")
    script.symlink_to(target)
    before = files_of(host)
    proc = setup_cli(host, "--script")
    assert proc.returncode == 2
    one_line_error(proc, str(script), "is a symlink", "move it away")
    assert files_of(host) == before and target.read_text() == "mine\n"
    assert str(script) in setup_cli(host, "--script", "--check").stdout
    script.unlink()
    script.write_text("#!/bin/sh\necho mine\n")
    written_by = "was not written by osa-inventory ansible-setup"
    one_line_error(setup_cli(host, "--script"), str(script), written_by)
    assert script.read_text() == "#!/bin/sh\necho mine\n"
    undone = setup_cli(host, "--undo")  # not ours: left alone
    assert undone.returncode == 0 and script.exists()
    script.unlink()
    rc = host["config"] / "user.rc"
    os.mkfifo(rc)
    one_line_error(setup_cli(host, "--script"), str(rc), "not a regular file")
    assert stat.S_ISFIFO(rc.lstat().st_mode)
    assert not script.exists()  # nothing written when anything is refused


@pytest.mark.parametrize(
    ("root", "config", "words"),
    [
        ("missing", "config", ["is not a directory", "--osa-root"]),
        ("bare", "config", ["has no inventory/ folder", "--osa-root"]),
        ("root", "missing", ["is not a directory", "--config"]),
    ],
)
def test_bad_directories_are_one_line_errors(
    tmp_path: Path, root: str, config: str, words: list[str]
) -> None:
    (tmp_path / "bare").mkdir()
    (tmp_path / "root" / "inventory").mkdir(parents=True)
    (tmp_path / "config").mkdir()
    env = host_env(tmp_path / "env")
    proc = setup_cli({"root": tmp_path / root, "config": tmp_path / config}, env=env)
    assert proc.returncode == 2
    one_line_error(proc, *words)
    made = sorted(p.name for p in tmp_path.glob("*/*") if p.parent.name != "env")
    assert made == ["inventory"]


def test_plugin_mode_checks_that_ansibles_python_finds_the_plugin(
    host: dict[str, Path], tmp_path: Path
) -> None:
    """An ansible-playbook whose Python lacks osa-inventory: a warning, and a --check problem."""
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    lacking = subprocess.run([str(base_python), "-c", "import osa_inventory"], capture_output=True)
    if lacking.returncode == 0:
        pytest.skip(f"{base_python} has osa_inventory installed")
    fake_bin = tmp_path / "runtime-bin"
    fake_bin.mkdir()
    playbook = fake_bin / "ansible-playbook"
    playbook.write_text(f"#!{base_python}\n")
    playbook.chmod(0o755)
    env = host_env(host["config"].parent)
    env["PATH"] = f"{fake_bin}{os.pathsep}{env['PATH']}"
    proc = setup_cli(host, "--plugin", env=env)
    assert proc.returncode == 0
    expected = (
        f"{base_python} (the Python of {playbook}) does not find the osa_inventory.store.inventory "
        "plugin: install osa-inventory into it (docs/install.md)"
    )
    assert proc.stderr == f"osa-inventory: warning: {expected}\n"
    checked = setup_cli(host, "--check", env=env)
    assert (checked.returncode, checked.stdout) == (1, f"{expected}\n")
    assert setup_cli(host, "--check").returncode == 0  # the venv's ansible-playbook finds it
    # a host set up afresh without a flag gets the script where the plugin would not load
    assert setup_cli(host, "--undo").returncode == 0
    fresh = setup_cli(host, env=env)
    assert fresh.returncode == 0 and fresh.stderr == ""
    assert (
        f"note: the script, not the plugin: {expected}, then run osa-inventory ansible-setup "
        "--plugin" in fresh.stdout.splitlines()
    )
    assert source(host, "script").is_file() and not source(host, "plugin").exists()
    assert setup_cli(host, "--check", env=env).returncode == 0


def test_the_documented_user_rc_line_is_the_one_it_writes() -> None:
    layout = Layout(Path(DEFAULT_OSA_ROOT), Path(DEFAULT_CONFIG_DIR))
    for mode, docs in ((PLUGIN, ("README.md", "docs/ansible.md")), (SCRIPT, ("docs/ansible.md",))):
        line = rc_line(layout.ansible_inventory(mode)).rstrip("\n")
        for doc in docs:
            assert line in (REPO_DIR / doc).read_text().splitlines(), (doc, mode)


def test_a_hand_broken_line_of_ours_is_rewritten(host: dict[str, Path]) -> None:
    rc = host["config"] / "user.rc"
    rc.write_text(f"export ANSIBLE_INVENTORY='/srv/x.sh,  {SETUP_MARK}\nexport FOO=1\n")
    assert setup_cli(host, "--check").returncode == 1
    fixed = setup_cli(host)
    assert fixed.returncode == 0, fixed.stderr
    assert rc.read_text().splitlines()[1:] == ["export FOO=1"]
    assert wrapper_inventory(host).startswith(str(source(host, "plugin")))
