"""Operator commands through the real ``osa-inventory`` command, on real backends.

The same workflow (inspect, remove, dry run, plan, history, diff, rollback,
export, clear-ips, doctor) runs on the file, SQLite, PostgreSQL and etcd
backends; the finer points (import sources, bad input, output formats,
retention, locking) run on file and SQLite. Each deployment starts from OSA's
own ``prod`` example and its reference inventory. PostgreSQL and etcd are
started from the binaries on this machine; without them (or without their
backend modules) those cases are skipped, and fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    CLI,
    INVENTORY_FILE,
    PLAN_CHANGES_EXIT,
    address_problems,
    containers_on,
    copy_example,
    group_memberships,
    load_reference,
    mask_suffix,
    one_line_error,
    read_config,
    reference_path,
    require_module,
    require_shared_dir,
    structural_view,
)
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store

EXAMPLE = "prod"
BACKENDS = ("file", "sqlite", "postgresql", "etcd")
TESTS_DIR = Path(__file__).resolve().parent
SCRUBBED = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "COLUMNS", "PYTHONPATH")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a command: no osa.ini, no OSA_* settings, no forced colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_") and k not in SCRUBBED}
    env["OSA_INVENTORY_CONFIG"] = "/nonexistent/osa.ini"
    env.update(extra or {})
    return env


def cli(
    *args: Any, env: dict[str, str] | None = None, program: Path = CLI, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run a command of this package in a subprocess."""
    return subprocess.run(
        [str(program), *map(str, args)],
        capture_output=True,
        text=True,
        env=clean_env(env),
        input=stdin,
        timeout=120,
        check=False,
    )


@contextlib.contextmanager
def process_state(env: dict[str, str], argv: list[str]) -> Iterator[None]:
    """Run in this process with ``env`` as os.environ and ``argv`` as sys.argv."""
    saved_env, saved_argv = dict(os.environ), sys.argv
    os.environ.clear()
    os.environ.update(env)
    sys.argv = argv
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv


def cli_in_process(*args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``osa-inventory`` run by calling its main() here: the same code without the start-up cost
    (importing SQLAlchemy or etcd3gw takes most of a second per process)."""
    from inprocess import run_main

    run = run_main(*args, env=env)
    argv = [str(a) for a in args]
    return subprocess.CompletedProcess(argv, run.code, run.stdout.decode(), run.stderr)


# -- servers, once per module ------------------------------------------------------------------


# -- a deployment: config dir plus a store holding OSA's reference inventory --------------------


@dataclass
class Deployment:
    kind: str
    config: Path
    flags: list[str]
    options: dict[str, str]
    in_process: bool = False

    def run(self, *args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        runner = cli_in_process if self.in_process else cli
        return runner(*args, "--config", self.config, *self.flags, env=env)

    def json(self, *args: Any) -> Any:
        proc = self.run(*args, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def store(self) -> Store:
        backend = open_backend(self.kind, self.options)
        return Store(backend, label=self.kind, lock_timeout=5)

    def inventory(self) -> dict[str, Any]:
        store = self.store()
        try:
            return store.read().inventory
        finally:
            store.close()

    def history(self) -> list[Any]:
        store = self.store()
        try:
            return store.history()
        finally:
            store.close()


def make_deployment(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, in_process: bool = False
) -> Deployment:
    example = EXAMPLE
    config = copy_example(example, tmp_path / "config")
    if kind == "file":
        (config / INVENTORY_FILE).write_bytes(reference_path(example).read_bytes())
        return Deployment(kind, config, [], {"path": str(config / INVENTORY_FILE)})
    if kind == "sqlite":
        require_module("osa_inventory.backends.sql")
        options = {"url": f"sqlite:///{tmp_path / 'inventory.db'}"}
    elif kind == "postgresql":
        from osa_inventory.testing import servers as services

        server = request.getfixturevalue("pg_server")
        database = f"ops_{uuid.uuid4().hex[:10]}"
        services.create_database(server, database)
        options = {"url": server.url(database)}
    else:
        endpoints = request.getfixturevalue("etcd_endpoints")
        options = {"endpoints": endpoints, "prefix": f"/ops-{uuid.uuid4().hex[:10]}"}
    flags = ["--backend", kind]
    for key, value in options.items():
        flags += ["--backend-option", f"{key}={value}"]
    deployment = Deployment(kind, config, flags, options, in_process)
    proc = deployment.run("import", reference_path(example), "-m", "adopt OSA's inventory")
    assert proc.returncode == 0, proc.stderr
    return deployment


@pytest.fixture(params=BACKENDS)
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Deployment:
    """File and SQLite run the command in subprocesses; the server backends in this process."""
    require_shared_dir()
    in_process = request.param in ("postgresql", "etcd")
    return make_deployment(request.param, tmp_path, request, in_process)


@pytest.fixture(params=("file", "sqlite"))
def local(request: pytest.FixtureRequest, tmp_path: Path) -> Deployment:
    """A deployment on a backend that needs no server (SQLite's commands run in this process)."""
    require_shared_dir()
    return make_deployment(request.param, tmp_path, request, request.param == "sqlite")


@pytest.fixture
def file_deployment(tmp_path: Path, request: pytest.FixtureRequest) -> Deployment:
    require_shared_dir()
    return make_deployment("file", tmp_path, request)


def env_dir() -> Path:
    return require_shared_dir() / "inventory"


def names_on(inventory: dict[str, Any], host: str) -> set[str]:
    return {host, *containers_on(inventory, host)}


# -- the workflow on every backend ----------------------------------------------------------------


def test_operator_workflow(deployment: Deployment) -> None:
    d = deployment
    reference = load_reference(EXAMPLE)
    hostvars = reference["_meta"]["hostvars"]

    # inspect
    hosts = {row["name"]: row for row in d.json("hosts", "list")}
    assert set(hosts) == set(hostvars)
    assert hosts["infra1"]["type"] == "metal"
    container = next(iter(containers_on(reference, "infra1")))
    assert hosts[container]["type"] == "container"
    assert hosts[container]["physical_host"] == "infra1"
    assert hosts[container]["management_address"] == hostvars[container]["management_address"]
    shown = d.json("hosts", "show", "infra1")
    assert shown["vars"] == hostvars["infra1"]
    assert set(shown["groups"]) == group_memberships(reference)["infra1"]
    assert set(shown["containers"]) == set(containers_on(reference, "infra1"))
    one_line_error(d.run("hosts", "show", "infra9"), "infra9", "not in the inventory")

    # change: a dry run writes nothing, a removal takes the containers along
    versions = len(d.history())
    proc = d.run("hosts", "remove", "infra3", "--dry-run")
    assert proc.returncode == 0 and "Dry run" in proc.stdout, proc.stderr
    assert d.inventory() == reference and len(d.history()) == versions
    proc = d.run("hosts", "remove", "infra3", "-m", "decommission infra3")
    assert proc.returncode == 0, proc.stderr
    removed = names_on(reference, "infra3")
    after = d.inventory()
    assert not removed & set(after["_meta"]["hostvars"])
    assert not any(set(g.get("hosts", [])) & removed for k, g in after.items() if k != "_meta")
    assert "infra3_host_containers" not in after
    history = d.history()
    assert len(history) == versions + 1
    assert history[-1].message == "decommission infra3"
    assert "hosts remove infra3" in history[-1].command

    # plan: the config still has infra3, so a run would add it back
    proc = d.run("plan", "--environment", env_dir(), "--format", "json")
    assert proc.returncode == PLAN_CHANGES_EXIT, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["changed"] and plan["summary"]["hosts"] == {"add": 19, "change": 0, "remove": 0}
    assert {mask_suffix(h["name"]) for h in plan["hosts"]} == {mask_suffix(n) for n in removed}

    # history, diff and rollback
    old, new = history[-2].version, history[-1].version
    diff = d.json("diff", old, new)
    assert {h["name"] for h in diff["hosts"] if h["action"] == "remove"} == removed
    listed = d.json("history")
    assert [v["version"] for v in listed] == [v.version for v in history]
    assert listed[-1]["message"] == "decommission infra3" and listed[-1]["current"]
    proc = d.run("rollback", old)
    assert proc.returncode == 0, proc.stderr
    assert d.inventory() == reference
    assert d.history()[-1].message == f"rollback to version {old}"
    assert len(d.history()) == versions + 2
    proc = d.run("plan", "--environment", env_dir())
    assert proc.returncode == 0 and "No changes" in proc.stdout, proc.stdout + proc.stderr

    proc = d.run("export")
    assert proc.returncode == 0 and json.loads(proc.stdout) == reference

    # clear-ips: containers lose their addresses; the next run gives new valid ones
    proc = d.run("clear-ips", "-m", "renumber")
    assert proc.returncode == 0, proc.stderr
    cleared = d.inventory()["_meta"]["hostvars"]
    assert "ansible_host" not in cleared[container] and cleared["infra1"] == hostvars["infra1"]
    proc = d.run("--environment", env_dir(), "--list")
    assert proc.returncode == 0, proc.stderr
    regenerated = d.inventory()
    assert structural_view(regenerated) == structural_view(reference)
    assert address_problems(regenerated, read_config(d.config)) == []
    proc = d.run("doctor")
    assert proc.returncode == 0 and "No problems found" in proc.stdout, proc.stdout


# -- finer points on the local backends -----------------------------------------------------------


def test_group_removal_and_its_errors(local: Deployment) -> None:
    reference = load_reference(EXAMPLE)
    parents = [k for k, g in reference.items() if "nova_compute" in g.get("children", [])]
    assert parents
    proc = local.run("groups", "remove", "nova_compute", "-m", "no more nova")
    assert proc.returncode == 0, proc.stderr
    after = local.inventory()
    assert "nova_compute" not in after
    assert all("nova_compute" not in after[p].get("children", []) for p in parents)
    assert after["_meta"] == reference["_meta"]  # hosts stay
    versions = len(local.history())
    one_line_error(local.run("groups", "remove", "nova_compute"), "nova_compute", "not in")
    one_line_error(local.run("groups", "remove", "all"), "all")
    assert len(local.history()) == versions
    shown = local.json("groups", "show", "compute_hosts")
    assert set(shown["hosts"]) == {"compute1", "compute2"}


def test_removing_one_container_keeps_its_host(local: Deployment) -> None:
    reference = load_reference(EXAMPLE)
    container = sorted(containers_on(reference, "infra2"))[0]
    proc = local.run("hosts", "remove", container, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["changed"] and not result["dry_run"]
    assert [h["name"] for h in result["diff"]["hosts"]] == [container]
    hostvars = local.inventory()["_meta"]["hostvars"]
    assert container not in hostvars and "infra2" in hostvars
    assert len(hostvars) == len(reference["_meta"]["hostvars"]) - 1


def test_every_mutating_command_has_a_dry_run(file_deployment: Deployment, tmp_path: Path) -> None:
    from conftest import dir_snapshot

    d = file_deployment
    assert d.run("hosts", "remove", "compute1").returncode == 0
    before = dir_snapshot(d.config)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(load_reference("test")))
    for command in (
        ["hosts", "remove", "infra1"],
        ["groups", "remove", "nova_compute"],
        ["clear-ips"],
        ["rollback", "1"],
        ["import", other],
    ):
        proc = d.run(*command, "--dry-run")
        assert proc.returncode == 0, (command, proc.stderr)
        assert "Dry run" in proc.stdout, command
        assert dir_snapshot(d.config) == before, command
    data = d.json("rollback", "1", "--dry-run")
    assert data["dry_run"] and data["diff"]["summary"]["hosts"]["add"] == 1


def test_import_from_files_tar_members_and_stdin(local: Deployment, tmp_path: Path) -> None:
    small = load_reference("test")
    path = tmp_path / "small.json"
    path.write_text(json.dumps(small))
    proc = local.run("import", path, "-m", "small one")
    assert proc.returncode == 0, proc.stderr
    assert local.inventory() == small
    assert local.history()[-1].message == "small one"
    again = local.run("import", path)
    assert again.returncode == 0 and "nothing to change" in again.stdout
    proc = cli(
        "import",
        "-",
        "--config",
        local.config,
        *local.flags,
        stdin=reference_path(EXAMPLE).read_text(),
    )
    assert proc.returncode == 0, proc.stderr
    assert local.inventory() == load_reference(EXAMPLE)

    # one member of OSA's backup tar (made here like OSA's: name-YYYYmmdd_HHMMSS.json)
    tar_path = tmp_path / "backup_openstack_inventory.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name, source in (("20250101_000000", "test"), ("20250102_000000", "aio")):
            tar.add(reference_path(source), arcname=f"openstack_inventory.json-{name}.json")
    older = "openstack_inventory.json-20250101_000000.json"
    assert local.run("import", tar_path, "--member", older).returncode == 0
    assert local.inventory() == small
    assert local.run("import", tar_path, "--member", "latest").returncode == 0
    assert local.inventory() == load_reference("aio")
    history = local.history()
    assert f"{tar_path}:{older}" in history[-2].message


def test_bad_import_input_changes_nothing(local: Deployment, tmp_path: Path) -> None:
    before, versions = local.inventory(), len(local.history())
    broken = tmp_path / "broken.json"
    broken.write_text('{"_meta": {"hostvars": {}}, ')
    exported = tmp_path / "export.json"
    exported.write_text(local.run("export", "--osa").stdout)
    not_inventory = tmp_path / "list.json"
    not_inventory.write_text("[1, 2]")
    tar_path = tmp_path / "backups.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(reference_path("test"), arcname="openstack_inventory.json-20250101_000000.json")
    cases = [
        ([tmp_path / "missing.json"], "no such file"),
        ([broken], "invalid JSON"),
        ([exported], "per-host export format"),
        ([not_inventory], "not an object"),
        ([tar_path], "--member"),
        ([tar_path, "--member", "nope.json"], "no member named"),
        ([broken, "--member", "x"], "not a tar"),
    ]
    for args, words in cases:
        proc = local.run("import", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        one_line_error(proc, words)
    assert local.inventory() == before and len(local.history()) == versions


@pytest.mark.parametrize(
    "command",
    [
        ["hosts", "list"],
        ["hosts", "show", "compute1"],
        ["groups", "list"],
        ["groups", "show", "compute_hosts"],
        ["history"],
        ["diff", "1"],
        ["retention", "show"],
        ["doctor"],
    ],
    ids=lambda c: "-".join(c),
)
def test_formats_on_read_commands(file_deployment: Deployment, command: list[str]) -> None:
    as_json = file_deployment.json(*command)
    proc = file_deployment.run(*command, "--format", "yaml")
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout) == json.loads(json.dumps(as_json))
    table = file_deployment.run(*command)
    assert table.returncode == 0 and table.stdout.strip(), table.stderr
    assert "\x1b[" not in table.stdout  # plain text in a pipe


def test_terminal_output_uses_colour_and_tables(file_deployment: Deployment) -> None:
    d = file_deployment
    assert d.run("hosts", "remove", "compute2").returncode == 0
    colour = {"FORCE_COLOR": "1", "COLUMNS": "200"}
    proc = d.run("plan", "--environment", env_dir(), env=colour)
    assert proc.returncode == PLAN_CHANGES_EXIT, proc.stderr
    assert "\x1b[32m+ host compute2" in proc.stdout  # green addition
    assert "Plan: hosts: 1 to add" in proc.stdout
    plain = d.run("plan", "--environment", env_dir())
    assert "\x1b[" not in plain.stdout and "+ host compute2 (metal" in plain.stdout
    table = d.run("hosts", "list", env=colour)
    assert "─" in table.stdout and "\x1b[" in table.stdout  # a rich table


def test_history_needs_a_backend_with_versions(tmp_path: Path) -> None:
    require_shared_dir()
    path = tmp_path / "plain.json"
    path.write_text(reference_path(EXAMPLE).read_text())
    flags = ["--backend", "minimal_plugin:MinimalPlugin", "--backend-option", f"path={path}"]
    env = {"PYTHONPATH": str(TESTS_DIR)}
    one_line_error(cli("history", *flags, env=env), "keeps no versions")
    one_line_error(cli("retention", "show", *flags, env=env), "no retention setting")
    proc = cli("hosts", "remove", "compute1", *flags, env=env)  # changes work, through a local lock
    assert proc.returncode == 0, proc.stderr
    assert "compute1" not in json.loads(path.read_text())["_meta"]["hostvars"]


def test_a_held_lock_stops_a_change(local: Deployment) -> None:
    before = local.inventory()
    store = local.store()
    try:
        with store.locked():
            proc = local.run("hosts", "remove", "compute1", "--lock-timeout", "0.2")
    finally:
        store.close()
    assert proc.returncode == 3
    one_line_error(proc, "locked by")
    assert local.inventory() == before


def test_diff_defaults_to_the_current_version(file_deployment: Deployment) -> None:
    assert file_deployment.run("hosts", "remove", "compute1").returncode == 0
    assert file_deployment.json("diff", "1") == file_deployment.json("diff", "1", "head")
    exported = json.loads(file_deployment.run("export", "--osa").stdout)
    assert "compute1" not in exported["hosts"]
    assert exported["all"] == load_reference(EXAMPLE)["all"]["vars"]


def test_bad_versions_are_clear_errors(local: Deployment) -> None:
    one_line_error(local.run("diff", "x"), "not a number")
    one_line_error(local.run("diff", "0"), "numbered from 1")
    one_line_error(local.run("rollback", "99"), "99")
    one_line_error(local.run("history", "--limit", "0"), "--limit")


def test_retention_show_and_set(local: Deployment, tmp_path: Path) -> None:
    ini = tmp_path / "osa.ini"
    ini.write_text("# site settings\n[inventory]\nlock_timeout = 30 ; seconds\n")
    env = {"OSA_INVENTORY_CONFIG": str(ini)}
    option = "backup_keep" if local.kind == "file" else "retention"
    shown = json.loads(local.run("retention", "show", "--format", "json", env=env).stdout)
    assert shown["option"] == option and shown["source"] == "default"
    assert shown["versions_kept_now"] == len(local.history())
    proc = local.run("retention", "set", "7", env=env)
    assert proc.returncode == 0, proc.stderr
    text = ini.read_text()
    assert "# site settings" in text and "lock_timeout = 30 ; seconds" in text
    assert f"[backend:{local.kind}]\n{option} = 7\n" in text
    assert local.run("retention", "set", "9", env=env).returncode == 0
    assert ini.read_text().count(f"{option} = ") == 1
    shown = json.loads(local.run("retention", "show", "--format", "json", env=env).stdout)
    assert shown["value"] == 9 and str(ini) in shown["source"]
    before = ini.read_text()
    one_line_error(local.run("retention", "set", "0", env=env), "1 or more")
    assert ini.read_text() == before


def test_doctor_finds_each_kind_of_problem(local: Deployment, tmp_path: Path) -> None:
    broken = load_reference(EXAMPLE)
    hostvars = broken["_meta"]["hostvars"]
    containers = sorted(containers_on(broken, "infra1"))
    first, second = hostvars[containers[0]], hostvars[containers[1]]
    second["container_networks"]["management_address"]["address"] = first["management_address"]
    first_storage = next(
        n for n in containers if "storage_address" in hostvars[n]["container_networks"]
    )
    hostvars[first_storage]["container_networks"]["storage_address"]["address"] = "10.9.9.9"
    hostvars["ghost-container-1"] = {"physical_host": "ghost", "container_name": "ghost-1"}
    broken["nova_compute"]["hosts"].append("nobody")
    broken["nova_compute"]["children"].append("nova_all")  # nova_all has nova_compute
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert local.run("import", path).returncode == 0
    proc = local.run("doctor", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    failed = {c["check"]: c["detail"] for c in report["checks"] if c["status"] == "FAIL"}
    assert "ghost" in failed["physical hosts"]
    assert first["management_address"] in failed["unique addresses"]
    assert "10.9.9.9" in failed["addresses in CIDRs"]
    assert "nobody" in failed["group members"]
    assert "ghost-container-1 is in no group" in failed["host groups"]
    assert "cycle" in failed["group cycles"]
    assert not report["ok"]
    table = local.run("doctor")
    assert table.returncode == 1 and "6 problems found" in table.stdout
    settings = {row["setting"] for row in report["settings"]}
    assert {"backend", "name", "lock_timeout"} <= settings


def test_doctor_reports_an_unreachable_store(tmp_path: Path) -> None:
    require_module("osa_inventory.backends.sql")
    missing = tmp_path / "no" / "such" / "dir" / "inventory.db"
    proc = cli("doctor", "--backend", "sqlite", "--backend-option", f"url=sqlite:///{missing}")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_export_to_a_file_is_byte_identical(file_deployment: Deployment, tmp_path: Path) -> None:
    target = tmp_path / "copy.json"
    proc = file_deployment.run("export", "--output", target)
    assert proc.returncode == 0, proc.stderr
    from osa_inventory.jsonio import dumps_inventory

    assert target.read_text() == dumps_inventory(load_reference(EXAMPLE))  # OSA's layout
    yaml_text = file_deployment.run("export", "--format", "yaml").stdout
    assert yaml.safe_load(yaml_text) == load_reference(EXAMPLE)
    first = json.loads(file_deployment.run("export", "--version", "1").stdout)
    assert first == load_reference(EXAMPLE)


def test_subcommands_are_listed_in_help() -> None:
    proc = cli("plan", "--help")
    assert proc.returncode == 0 and "--environment" in proc.stdout
    proc = cli("hosts", "--help")
    assert all(word in proc.stdout for word in ("list", "show", "remove"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


# -- the pieces under the commands, in this process ---------------------------------------------


ETCD = {"endpoints": "h1:2379,h2:2379", "prefix": "/osa", "name": "site1"}
ETCDS = {"endpoints": "h1:2379", "protocol": "https", "user": "bob", "password": "s@cret"}


@pytest.mark.parametrize(
    ("url", "backend", "options"),
    [
        ("sqlite:////var/lib/x.db", "sqlite", None),
        ("postgres://u@db/osa", "postgresql", None),
        ("postgresql+psycopg://u@db/osa?sslmode=require", "postgresql", None),
        ("mariadb://u@db/osa", "mysql", None),
        (
            "file:///etc/o/inv.json?backup_keep=3",
            "file",
            {"path": "/etc/o/inv.json", "backup_keep": "3"},
        ),
        ("etcd://h1:2379,h2:2379/osa?name=site1", "etcd", ETCD),
        ("etcds://bob:s%40cret@h1:2379", "etcd", ETCDS),
    ],
)
def test_locations(url: str, backend: str, options: dict[str, str] | None) -> None:
    from osa_inventory.store.registry import parse_url

    found_backend, found = parse_url(url)
    assert found_backend == backend
    assert found == (options if options is not None else {"url": url})


def test_a_url_location_resolves_option_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``migrate --to URL --to-option password_env=VAR``: X_env/X_file work as in osa.ini."""
    from osa_inventory.errors import ConfigError
    from osa_inventory.store import url_settings

    monkeypatch.setenv("OSA_TEST_URL_PASSWORD", "s3cret")
    (tmp_path / "user").write_text("bob\n")
    settings = url_settings(
        f"etcds://h1:2379/osa?user_file={tmp_path / 'user'}",
        options=["password_env=OSA_TEST_URL_PASSWORD"],
        flag="--to-option",
    )
    options = settings.backend_options()
    assert (options["user"], options["password"]) == ("bob", "s3cret")
    assert "password_env" not in options and "user_file" not in options
    assert settings.options["password"].source == "env OSA_TEST_URL_PASSWORD via password_env"
    monkeypatch.delenv("OSA_TEST_URL_PASSWORD")
    with pytest.raises(ConfigError, match="OSA_TEST_URL_PASSWORD, which is not set"):
        url_settings("etcd://h1:2379", options=["password_env=OSA_TEST_URL_PASSWORD"])


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://x/y", "unknown URL scheme"),
        ("file://host/x", "local path"),
        ("etcd:///p", "endpoints"),
    ],
)
def test_bad_locations(url: str, words: str) -> None:
    from osa_inventory.errors import ConfigError
    from osa_inventory.store.registry import parse_url

    with pytest.raises(ConfigError, match=words):
        parse_url(url)


def test_diff_reports_paths_orders_and_group_vars() -> None:
    from osa_inventory.ops.diff import diff_inventories

    old = {
        "_meta": {"hostvars": {"a": {"n": {"x": 1, "y": [1]}, "gone": 1}, "b": {}}},
        "all": {"vars": {"cidr": "10.0.0.0/8"}},
        "g": {"hosts": ["a", "b"], "vars": {"v": 1}},
        "h": {"hosts": ["a", "b"]},
    }
    new = {
        "_meta": {"hostvars": {"a": {"n": {"x": 2, "y": [1]}, "new": True}, "c": {}}},
        "all": {"vars": {"cidr": "10.0.0.0/16"}},
        "g": {"hosts": ["a", "c"], "vars": {"v": 2}},
        "h": {"hosts": ["b", "a"]},
    }
    diff = diff_inventories(old, new).to_dict()
    assert diff["summary"]["hosts"] == {"add": 1, "change": 1, "remove": 1}
    changed = next(h for h in diff["hosts"] if h["action"] == "change")
    assert [(c["path"], c["action"]) for c in changed["changes"]] == [
        ("gone", "remove"),
        ("n.x", "change"),
        ("new", "add"),
    ]
    groups = {g["name"]: g for g in diff["groups"]}
    assert groups["g"]["hosts_added"] == ["c"] and groups["g"]["hosts_removed"] == ["b"]
    assert groups["g"]["other"] == [{"path": "vars.v", "action": "change", "old": 1, "new": 2}]
    assert groups["h"] == {"name": "h", "action": "change", "reordered": True}
    assert diff["vars"][0]["path"] == "cidr"
    assert diff_inventories(new, json.loads(json.dumps(new))).empty


def test_ini_option_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    from osa_inventory.ops.retention import set_ini_option

    ini = tmp_path / "osa.ini"
    ini.write_text("; top\n[backend:file]\npath = /x ; here\n\n[backend:etcd]\nretention = 3\n")
    set_ini_option(ini, "backend:file", "backup_keep", "9")
    set_ini_option(ini, "backend:etcd", "retention", "20")
    set_ini_option(ini, "backend:sqlite", "retention", "50")
    assert ini.read_text() == (
        "; top\n[backend:file]\npath = /x ; here\nbackup_keep = 9\n\n"
        "[backend:etcd]\nretention = 20\n\n[backend:sqlite]\nretention = 50\n"
    )


def test_removing_any_hosts_leaves_a_consistent_inventory() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from osa_inventory.ops.consistency import check_inventory
    from osa_inventory.ops.edit import remove_hosts

    require_shared_dir()
    reference = load_reference(EXAMPLE)
    names = sorted(reference["_meta"]["hostvars"])

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.sampled_from(names), min_size=1, max_size=6))
    def check(chosen: list[str]) -> None:
        result = remove_hosts(reference, chosen)
        assert set(chosen) <= set(result.hosts)
        problems = [r for r in check_inventory(result.inventory, None) if r.status == "FAIL"]
        assert problems == []
        assert reference == load_reference(EXAMPLE)  # the argument is never modified

    check()
