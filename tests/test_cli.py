"""The shape of the ``osa-inventory`` command line, through the real command.

Store flags go before or after the command (``osa-inventory --config DIR
plan``), misspelt commands and backends get "did you mean", a command group
alone prints its help, every command and argument says what it is for, and
flags that would do nothing are not offered. With no command the program is
still Ansible's inventory script, and its ``--list`` path imports no command
module.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    CLI,
    INVENTORY_FILE,
    PLAN_CHANGES_EXIT,
    copy_example,
    reference_path,
    require_shared_dir,
)
from osa_inventory.cli.main import SUBCOMMANDS, _admin_parser
from test_operations import clean_env, cli

EXAMPLE = "prod"
READ_ONLY = {
    ("hosts", "list"),
    ("hosts", "show"),
    ("groups", "list"),
    ("groups", "show"),
    ("plan",),
    ("diff",),
    ("retention", "show"),
    ("retention", "set"),  # writes osa.ini, never takes the store lock
    ("export",),
    ("doctor",),
    ("lock", "status"),
    ("lock", "break"),
    ("db", "current"),
    ("db", "upgrade"),
}
WRITERS = {
    ("history",),  # history redact
    ("hosts", "remove"),
    ("groups", "remove"),
    ("clear-ips",),
    ("rollback",),
    ("import",),
    ("migrate",),
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    require_shared_dir()
    config = copy_example(EXAMPLE, tmp_path / "config")
    (config / INVENTORY_FILE).write_bytes(reference_path(EXAMPLE).read_bytes())
    return config


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """(command path, its parser, its help) of every command of the tree, groups included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                found.append(((*path, name), child, helps[name]))
                found += leaves(child, (*path, name))
    return found


def test_store_flags_go_before_or_after_the_command(config: Path, tmp_path: Path) -> None:
    after = cli("hosts", "list", "--format", "json", "--config", config)
    before = cli("--config", config, "hosts", "list", "--format", "json")
    assert after.returncode == before.returncode == 0, before.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)
    # a value that looks like a command is still a value; --opt=value and -m TEXT too
    proc = cli(f"--config={config}", "--inventory-name", "default", "-m", "why", "clear-ips")
    assert proc.returncode == 0, proc.stderr
    history = json.loads(cli("--config", config, "history", "--format", "json").stdout)
    assert history[-1]["message"] == "why"
    # a flag the command does not take is refused by that command, wherever it is
    for argv in (["--lock-timeout", "5", "export"], ["export", "--lock-timeout", "5"]):
        proc = cli(*argv, "--config", config)
        assert proc.returncode == 2
        assert proc.stderr == (
            "osa-inventory: error: export: unrecognized arguments: --lock-timeout 5; "
            "see 'osa-inventory export --help'\n"
        )


def test_unknown_commands_and_backends_get_did_you_mean(config: Path) -> None:
    proc = cli("--config", config, "plna")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "osa-inventory: error: unknown command 'plna'; did you mean 'plan'?\n"
    proc = cli("hosts", "lst")
    assert proc.returncode == 2 and "did you mean 'list'?" in proc.stderr
    proc = cli("frobnicate")
    assert proc.returncode == 2 and "see 'osa-inventory --help'" in proc.stderr
    proc = cli("hosts", "list", "--config", config, "--backend", "postgress")
    assert proc.returncode == 2 and "did you mean 'postgresql'?" in proc.stderr


@pytest.mark.parametrize("group", ["hosts", "groups", "config", "lock", "retention", "db"])
def test_a_command_group_alone_prints_its_commands(group: str) -> None:
    proc = cli(group)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "required" not in proc.stderr
    assert proc.stderr.startswith(f"usage: osa-inventory {group} ")
    parser = dict((path, p) for path, p, _ in leaves(_admin_parser()))[(group,)]
    for (name,), _, text in leaves(parser):
        assert name in proc.stderr and text in proc.stderr


def test_top_help_shows_the_command_word_and_every_command() -> None:
    proc = cli("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: osa-inventory [STORE FLAGS] COMMAND [ARGS...]\n")
    for command in SUBCOMMANDS:
        assert f"\n  {command} " in proc.stdout, command
    assert "--list" in proc.stdout and "--host NAME" in proc.stdout


def test_every_command_and_argument_says_what_it_is_for() -> None:
    missing = []
    for path, parser, text in leaves(_admin_parser()):
        if not text:
            missing.append(" ".join(path))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                name = "/".join(action.option_strings) or action.metavar or action.dest
                missing.append(f"{' '.join(path)} {name}")
    assert not missing


def test_flags_that_do_nothing_are_not_offered() -> None:
    commands = {path: parser for path, parser, _ in leaves(_admin_parser())}
    for path in READ_ONLY | WRITERS:
        options = commands[path]._option_string_actions
        assert ("--lock-timeout" in options) == (path in WRITERS), path
        assert "--config" in options, path
    assert "--cache-ttl" not in commands[("migrate",)]._option_string_actions  # never local
    assert "--cache-ttl" not in commands[("doctor",)]._option_string_actions
    assert set(commands[("backends",)]._option_string_actions) == {
        "-h",
        "--help",
        "--debug",
        "--format",
    }


def test_the_inventory_script_is_unchanged(config: Path) -> None:
    env_dir = require_shared_dir() / "inventory"
    listed = cli("--config", config, "-e", env_dir, "--list")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == json.loads(reference_path(EXAMPLE).read_text())
    host = subprocess.run(  # -d logs to inventory.log in the working directory
        [str(CLI), f"-e{env_dir}", "--host", "infra1", "--config", str(config), "-d"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=config,
        timeout=120,
        check=False,
    )
    assert host.returncode == 0 and json.loads(host.stdout)["physical_host"] == "infra1"
    assert (config / "inventory.log").is_file()
    check = cli("--config", config, "--environment", env_dir, "--check")
    assert check.stdout == "Configuration ok!\n", check.stderr


def test_list_imports_no_command_module(config: Path) -> None:
    """``--list`` pays for no command: the modules it imports are those it always did,
    and the everyday line builds no parser (argparse and gettext stay unimported)."""
    env_dir = require_shared_dir() / "inventory"
    code = (
        "import sys; from osa_inventory.cli.main import main; "
        f"code = main(['--config', {str(config)!r}, '-e', {str(env_dir)!r}, '--list']); "
        "import json; json.dump(sorted(sys.modules), sys.stderr); sys.exit(code)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    commands = {"admin", "hosts", "plan", "history", "transfer", "doctor", "db", "commandparser"}
    assert not {f"osa_inventory.cli.{name}" for name in commands} & modules
    assert not {m for m in modules if m.startswith("rich")}
    assert not {"argparse", "gettext"} & modules


SCRIPT_LINES_READ_DIRECTLY = [
    [],
    ["--list"],
    ["--config", "/c", "--environment", "/e", "--list"],
    ["--config=/c", "-e", "/e", "--list", "-d"],
    ["--host", "infra1", "--config", "/c", "--debug"],
    ["--list", "--host", "plan"],  # a value that is a command word is still a value
    ["--check", "--list", "--config", ""],
    ["--config", "/a", "--config", "/b", "--message", "a b=c", "-m", "why"],
    ["--regenerate", "--allow-foreign-store", "--backend", "sqlite", "--inventory-name", "x"],
    ["--backend-option", "path=/p", "--backend-option=password=s", "--host=a=b"],
    ["--encryption-key-file", "/k", "--list"],
]
SCRIPT_LINES_LEFT_TO_ARGPARSE = [
    ["plan"],
    ["--config", "/c", "hosts", "list"],
    ["--help"],
    ["-h"],
    ["--version"],
    ["--conf", "/c"],  # argparse's abbreviation
    ["-e/e"],
    ["-e=/e"],
    ["-de", "/e"],
    ["--config"],
    ["--config", "-x"],
    ["--config=-x"],
    ["--host", "a", "--check"],
    ["--list=yes"],
    ["--lock-timeout", "5"],
    ["--cache-ttl=0"],
    ["--", "--list"],
    [""],
]


@pytest.mark.parametrize("argv", SCRIPT_LINES_READ_DIRECTLY, ids=" ".join)
def test_everyday_script_lines_are_read_as_argparse_reads_them(argv: list[str]) -> None:
    """The namespace read without argparse is the one the script's parser gives, every
    destination included (a flag added to the parser and not to the reader fails here)."""
    from osa_inventory.cli.inventory import build_parser
    from osa_inventory.cli.main import find_command
    from osa_inventory.cli.scriptargs import read_script_args

    parser = build_parser()
    assert find_command(parser, argv) is None
    read = read_script_args(argv)
    assert read is not None
    assert vars(read) == vars(parser.parse_args(argv))


@pytest.mark.parametrize("argv", SCRIPT_LINES_LEFT_TO_ARGPARSE, ids=" ".join)
def test_other_command_lines_are_left_to_argparse(argv: list[str]) -> None:
    from osa_inventory.cli.scriptargs import read_script_args

    assert read_script_args(argv) is None


# -- tables on a narrow terminal ---------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIME_WITH_ZONE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"
MANAGE = Path(sys.executable).parent / "osa-inventory-manage"
TERMINAL_COMMANDS = [
    ["hosts", "list"],
    ["hosts", "list", "--sort", "component"],
    ["groups", "list"],
    ["history"],
    ["doctor"],
    [MANAGE, "-l"],
    [MANAGE, "-g"],
    [MANAGE, "-G"],
]


@pytest.mark.parametrize("columns", ["80", "100", "120"])
@pytest.mark.parametrize("command", TERMINAL_COMMANDS, ids=lambda c: "-".join(map(str, c))[-20:])
def test_names_never_wrap_on_a_terminal(config: Path, command: list[Any], columns: str) -> None:
    """Forced colour at 80, 100 and 120 columns: every name on one line, whole."""
    if command[0] == "history":  # a version with an actor and a long command
        assert cli("clear-ips", "-m", "renumber the containers", "--config", config).returncode == 0
    if command[0] == MANAGE:
        proc = cli(*command[1:], "--config", config, program=MANAGE, env=_terminal(columns))
    else:
        proc = cli(*command, "--config", config, env=_terminal(columns))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" in proc.stdout or command[0] == MANAGE  # rich drew it (OSA's tables are plain)
    lines = ANSI.sub("", proc.stdout).splitlines()
    words = {word for line in lines for word in re.split(r"[\s|│,]+", line)}
    expected = _names_shown(json.loads((config / INVENTORY_FILE).read_text()), command)
    assert expected <= words, sorted(expected - words)[:5]
    if command[0] == "history":  # times whole, with their zone
        stamps = [line for line in lines if re.search(TIME_WITH_ZONE, line)]
        assert len(stamps) == 2, lines


def _names_shown(inventory: dict[str, Any], command: list[Any]) -> set[str]:
    """The names, versions and addresses that ``command`` shows in full."""
    hostvars = inventory["_meta"]["hostvars"]
    hosts = set(hostvars)
    addresses = {v["management_address"] for v in hostvars.values() if v.get("management_address")}
    groups = {group for group in inventory if group != "_meta"}
    if command[0] == MANAGE:  # -G: groups that hold hosts, and their hosts
        held = {g for g in groups if len(inventory[g].get("hosts") or []) > 1}
        return {"-l": hosts | addresses, "-g": hosts, "-G": hosts | held}[command[1]]
    if command[0] == "hosts":
        return hosts | addresses
    if command[0] == "groups":
        return groups
    if command[0] == "history":
        return {"1", "2", f"{getpass.getuser()}@{os.uname().nodename}"}
    return {"CIDRs", "physical", "unique", "reachable"}  # doctor's checks


def _terminal(columns: str) -> dict[str, str]:
    return {"FORCE_COLOR": "1", "COLUMNS": columns}


# -- formats and exit codes ----------------------------------------------------------------------


def data_commands(config: Path, tmp_path: Path) -> list[list[Any]]:
    """Every command that prints data, with arguments that make it succeed."""
    env_dir = require_shared_dir() / "inventory"
    sqlite = f"sqlite:///{tmp_path / 'formats.db'}"
    export = tmp_path / "export.json"
    export.write_bytes(reference_path(EXAMPLE).read_bytes())
    with_store = [
        ["config", "show"],
        ["lock", "status"],
        ["hosts", "list"],
        ["hosts", "show", "infra1"],
        ["groups", "list"],
        ["groups", "show", "compute_hosts"],
        ["plan", "-e", env_dir],
        ["history"],
        ["diff", "1"],
        ["retention", "show"],
        ["retention", "set", "9"],
        ["export"],
        ["export", "--osa"],
        ["doctor"],
        ["hosts", "remove", "compute1", "--dry-run"],
        ["groups", "remove", "compute_hosts", "--dry-run"],
        ["clear-ips", "--dry-run"],
        ["rollback", "1", "--dry-run"],
        ["import", export, "--dry-run"],
        ["migrate", "--to", sqlite, "--dry-run"],
        ["db", "upgrade", "--backend", "sqlite", "--backend-option", f"url={sqlite}"],
        ["db", "current", "--backend", "sqlite", "--backend-option", f"url={sqlite}"],
    ]
    return [["backends"], *([*command, "--config", config] for command in with_store)]


def test_json_and_yaml_for_every_data_command(config: Path, tmp_path: Path) -> None:
    env = {"OSA_INVENTORY_CONFIG": str(tmp_path / "osa.ini")}
    for command in data_commands(config, tmp_path):
        if command[:2] == ["db", "upgrade"]:  # once first: both formats then report the same
            assert cli(*command, env=env).returncode == 0
        outputs = {}
        for fmt in ("json", "yaml"):
            proc = cli(*command, "--format", fmt, env=env)
            assert proc.returncode in (0, PLAN_CHANGES_EXIT), (command, proc.stderr)
            outputs[fmt] = proc.stdout
        as_json = json.loads(outputs["json"])
        if list(command[:2]) == ["db", "upgrade"]:  # the json run upgrades, the yaml run finds
            assert set(yaml.safe_load(outputs["yaml"])) == set(as_json), command  # it done
            continue
        assert yaml.safe_load(outputs["yaml"]) == as_json, command
    shown = json.loads(
        cli("config", "show", "--config", config, "--format", "json", env=env).stdout
    )
    assert shown["lock_timeout"]["value"] == 60 and shown["option backup_keep"]["value"] == 9
    doctor = json.loads(cli("doctor", "--config", config, "--format", "json", env=env).stdout)
    assert {"setting": "lock_timeout", "value": 60, "source": "default"} in doctor["settings"]


def test_diff_exit_codes_and_versions_that_never_existed(config: Path, tmp_path: Path) -> None:
    flags = ["--config", config, "--backend-option", "backup_keep=2"]
    assert cli("diff", "1", "--exit-code", *flags).returncode == 0  # the same
    for host in ("compute1", "compute2", "infra1"):
        assert cli("hosts", "remove", host, *flags).returncode == 0
    assert cli("diff", "3", "--exit-code", *flags).returncode == 1  # differs
    assert cli("diff", "3", *flags).returncode == 0  # without --exit-code: 0
    assert cli("diff", "3", "--exit-code", "--format", "json", *flags).returncode == 1
    never = cli("diff", "9", *flags)
    assert never.returncode == 2 and "version 9 does not exist" in never.stderr
    assert "at version 4" in never.stderr
    assert cli("export", "--version", "9", *flags).returncode == 2
    assert cli("rollback", "9", *flags).returncode == 2
    dropped = cli("diff", "1", *flags)  # existed, dropped by backup_keep=2
    assert dropped.returncode == 3 and "not retained" in dropped.stderr


def test_export_to_stdout_is_the_file_byte_for_byte(config: Path, tmp_path: Path) -> None:
    assert cli("hosts", "remove", "compute1", "--config", config).returncode == 0  # written by us
    assert cli("export", "-o", tmp_path / "out.json", "--config", config).returncode == 0
    proc = subprocess.run(
        [str(CLI), "export", "--config", str(config)],
        capture_output=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout
        == (config / INVENTORY_FILE).read_bytes()
        == (tmp_path / "out.json").read_bytes()
    )


# -- where a bad value came from -----------------------------------------------------------------


def one_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("osa-inventory: error: "), proc.stderr
    return lines[0]


def test_option_errors_name_their_source(config: Path, tmp_path: Path) -> None:
    ini = tmp_path / "osa.ini"
    ini.write_text("# site\n[inventory]\nbackend = etcd\n\n[backend:etcd]\ntimeout = soon\n")
    env = {"OSA_INVENTORY_CONFIG": str(ini)}
    message = one_error(cli("hosts", "list", "--config", config, env=env))
    assert f"timeout from {ini} [backend:etcd], line 6" in message
    message = one_error(
        cli("hosts", "list", "--config", config, env={**env, "OSA_INVENTORY_OPT_TIMEOUT": "x"})
    )
    assert "timeout from env OSA_INVENTORY_OPT_TIMEOUT" in message
    flag = ["--backend", "file", "--backend-option", "backup_keep=0"]
    message = one_error(cli("hosts", "list", "--config", config, *flag, env=env))
    assert "backup_keep from --backend-option" in message
    ini.write_text("[inventory]\n\nlock_timeout = later\n")
    message = one_error(cli("hosts", "remove", "x", "--config", config, env=env))
    assert f"({ini} [inventory], line 3)" in message


def test_a_password_in_the_url_and_in_an_option_is_refused(config: Path, tmp_path: Path) -> None:
    ini = tmp_path / "osa.ini"
    ini.write_text(
        "[inventory]\nbackend = postgresql\n\n[backend:postgresql]\n"
        "url = postgresql+psycopg://osa:inline@db1.example.org/osa\n"
    )
    env = {"OSA_INVENTORY_CONFIG": str(ini), "OSA_INVENTORY_OPT_PASSWORD_ENV": "DB_PASSWORD"}
    message = one_error(cli("hosts", "list", "--config", config, env={**env, "DB_PASSWORD": "p"}))
    assert f"option url ({ini} [backend:postgresql], line 5) is a URL with a password" in message
    assert "env DB_PASSWORD via password_env" in message and "one way only" in message
    assert "inline" not in message and ":p@" not in message
    target = "etcds://bob:inline@127.0.0.1:2379/x"
    proc = cli("migrate", "--config", config, "--to", target, "--to-option", "password=other")
    message = one_error(proc)
    assert "option password is given by the URL and by --to-option" in message


def test_migrate_targets_take_options_by_reference(
    config: Path, tmp_path: Path, pg_server: Any
) -> None:
    from osa_inventory.testing import servers as services

    database = f"ref_{tmp_path.name[-12:].replace('-', '_').lower()}"
    services.create_database(pg_server, database)
    owner = ["--backend", "postgresql", "--backend-option", f"url={pg_server.url(database)}"]
    assert cli("db", "upgrade", *owner, "--config", config).returncode == 0
    services.grant_writer(pg_server, database)
    secret = tmp_path / "writer.password"
    secret.write_text(services.WRITER[1] + "\n")
    secret.chmod(0o600)
    writer = pg_server.url(database, services.WRITER[0])
    proc = cli(
        "migrate", "--config", config, "--to", writer, "--to-option", f"password_file={secret}"
    )
    assert proc.returncode == 0, proc.stderr
    assert services.WRITER[1] not in proc.stdout + proc.stderr
    proc = cli(
        "migrate",
        "--config",
        config,
        "--to",
        writer,
        "--to-option",
        "password_env=WRITER_PASSWORD",
        "--force",
        env={"WRITER_PASSWORD": services.WRITER[1]},
    )
    assert proc.returncode == 0, proc.stderr


# -- words ---------------------------------------------------------------------------------------


def test_counts_are_worded_right_and_retention_is_exact(config: Path, tmp_path: Path) -> None:
    env = {"OSA_INVENTORY_CONFIG": str(tmp_path / "osa.ini")}
    doctor = cli("doctor", "--config", config, env=env)
    assert doctor.returncode == 0, doctor.stderr
    assert "read version 1: 62 hosts" in doctor.stdout
    assert "1 version, 1 to 1; keeps at most 15 versions, the current one included" in (
        doctor.stdout
    )
    proc = cli("retention", "set", "3", "--config", config, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "keeps at most 3 versions, the current one included." in proc.stdout
    for host in ("compute1", "compute2", "infra1", "infra2"):
        assert cli("hosts", "remove", host, "--config", config, env=env).returncode == 0
    history = json.loads(cli("history", "--config", config, "--format", "json", env=env).stdout)
    assert [v["version"] for v in history] == [3, 4, 5]  # exactly the 3 it said
    shown = cli("retention", "show", "--config", config, env=env).stdout
    assert "now: 3 versions, 3 to 5" in shown
    # one problem is "1 problem"
    inventory = json.loads((config / INVENTORY_FILE).read_text())
    container = next(n for n, v in inventory["_meta"]["hostvars"].items() if "container" in n)
    inventory["_meta"]["hostvars"][container]["physical_host"] = "nowhere"
    (config / INVENTORY_FILE).write_text(json.dumps(inventory))
    doctor = cli("doctor", "--config", config, env=env)
    assert doctor.returncode == 1
    assert "1 problem found: physical hosts" in doctor.stdout
    for proc in (doctor, cli("retention", "show", "--config", config, env=env)):
        assert not re.search(r"\b1 (versions|hosts|problems|groups)\b", proc.stdout)
