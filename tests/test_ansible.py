"""The real ansible-core against osa-inventory: the inventory script and the ``osa_inventory``
plugin.

Ansible runs from this virtualenv (ansible-core from PyPI) with its home, temp
dir and config in ``tmp_path`` and no ansible.cfg from the working directory.
The script is a shell wrapper that execs ``osa-inventory --config ...
--environment ...``, as a deploy host would install it. Ansible reshapes what it
reads (empty groups vanish, ``all`` gains children, ``ungrouped`` appears), so
outputs are compared by meaning: direct hosts and children of every group
holding a host, group vars and host vars.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import (
    CLI,
    INVENTORY_FILE,
    copy_example,
    in_ci,
    require_module,
    require_shared_dir,
)
from osa_inventory.ansible import plugin_dir
from osa_inventory.inventory import copy_inventory
from osa_inventory.store import open_backend
from osa_inventory.store.store import Store

TESTS_DIR = Path(__file__).resolve().parent
BIN = CLI.parent
EXAMPLE = "prod"
ANSIBLE_TIMEOUT = 120


# -- running Ansible -------------------------------------------------------------------------


def ansible_env(base: Path, **extra: str) -> dict[str, str]:
    """An environment where Ansible reads no user or cwd config and finds our plugin."""
    home = base / "ansible-home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    config = home / "ansible.cfg"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "OSA_"))}
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_INVENTORY_PLUGINS=plugin_dir(),
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true",
        OSA_INVENTORY_CONFIG=str(base / "no-osa.ini"),
    )
    env.update(extra)
    return env


def ansible(
    tool: str, *args: str | os.PathLike[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / tool), *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=ANSIBLE_TIMEOUT,
        check=False,
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr}"
    return proc.stdout


def inventory_list(source: Path, env: Mapping[str, str], *extra: str) -> dict[str, Any]:
    return json.loads(ok(ansible("ansible-inventory", "-i", source, "--list", *extra, env=env)))


# -- what Ansible should make of our inventory ----------------------------------------------


def _members(inventory: Mapping[str, Any]) -> dict[str, Any]:
    """Group -> (direct hosts, children) as sets, for every group but ``_meta``."""
    groups = {}
    for name, content in inventory.items():
        if name == "_meta":
            continue
        content = content if isinstance(content, dict) else {}
        groups[name] = (set(content.get("hosts") or ()), set(content.get("children") or ()))
    return groups


def _holding_hosts(groups: Mapping[str, Any]) -> set[str]:
    """Groups that hold a host, directly or through their children."""
    holding: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, (hosts, children) in groups.items():
            if name not in holding and (hosts or children & holding):
                holding.add(name)
                changed = True
    return holding


def tree_view(inventory: Mapping[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    """Direct hosts and children of each group holding a host (``all``/``ungrouped`` aside)."""
    groups = _members(inventory)
    holding = _holding_hosts(groups)
    return {
        name: (sorted(hosts), sorted(children & holding))
        for name, (hosts, children) in groups.items()
        if name in holding and name not in ("all", "ungrouped")
    }


def graph_view(inventory: Mapping[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    """Direct hosts and children of every group, empty ones too, as ``--graph`` draws them."""
    return {
        name: (sorted(hosts), sorted(children))
        for name, (hosts, children) in _members(inventory).items()
        if name not in ("all", "ungrouped")
    }


def group_vars(inventory: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: content["vars"]
        for name, content in inventory.items()
        if name != "_meta" and isinstance(content, dict) and content.get("vars")
    }


def assert_same_meaning(ours: Mapping[str, Any], exported: Mapping[str, Any]) -> None:
    """``exported`` (``ansible-inventory --list --export``) means the same as ``ours``."""
    assert tree_view(exported) == tree_view(ours)
    assert group_vars(exported) == group_vars(ours)
    hosts = {h for hosts, _ in tree_view(ours).values() for h in hosts}
    assert exported["_meta"]["hostvars"] == {h: ours["_meta"]["hostvars"][h] for h in hosts}


def parse_graph(text: str) -> dict[str, tuple[list[str], list[str]]]:
    """``ansible-inventory --graph`` output as group -> (hosts, children)."""
    groups: dict[str, tuple[set[str], set[str]]] = {}
    stack: list[str] = []
    for line in text.splitlines():
        mark = line.find("|--")
        depth, entry = (mark // 3 + 1, line[mark + 3 :]) if mark >= 0 else (0, line)
        del stack[depth:]
        if entry.startswith("@"):
            name = entry[1:].rstrip(":")
            groups.setdefault(name, (set(), set()))
            if stack:
                groups[stack[-1]][1].add(name)
            stack.append(name)
        else:
            groups[stack[-1]][0].add(entry)
    return {
        name: (sorted(hosts), sorted(children))
        for name, (hosts, children) in groups.items()
        if name not in ("all", "ungrouped")
    }


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A deploy host: prod config, its stored inventory, our --list and a wrapper script."""
    shared = require_shared_dir()
    base = tmp_path_factory.mktemp("ansible")
    config = copy_example(EXAMPLE, base / "openstack_deploy")
    script = base / "inventory.sh"
    script.write_text(
        f'#!/bin/sh\nexec "{CLI}" --config "{config}" --environment "{shared / "inventory"}" "$@"\n'
    )
    script.chmod(0o755)
    env = ansible_env(base)
    first = subprocess.run(
        [str(script), "--list"], capture_output=True, text=True, env=env, timeout=120
    )
    assert first.returncode == 0, first.stderr
    return {
        "base": base,
        "config": config,
        "script": script,
        "env": env,
        "ours": json.loads(first.stdout),
    }


@pytest.fixture(scope="module")
def exported(deploy: dict[str, Any]) -> dict[str, Any]:
    """``ansible-inventory -i script --list --export``."""
    return inventory_list(deploy["script"], deploy["env"], "--export")


def write_config(path: Path, **settings: Any) -> Path:
    path.write_text(yaml.safe_dump({"plugin": "osa_inventory", **settings}, sort_keys=False))
    return path


def store_copy(backend: str, options: dict[str, Any], inventory: dict[str, Any]) -> None:
    """Store ``inventory`` in a backend through the Store front end."""
    store = Store(open_backend(backend, options))
    try:
        store.update(lambda _current: copy_inventory(inventory), message="test copy")
    finally:
        store.close()


# -- the inventory script ---------------------------------------------------------------------


def test_list_through_ansible_means_our_list(deploy: dict[str, Any], exported: dict) -> None:
    ours = deploy["ours"]
    assert_same_meaning(ours, exported)
    assert len(exported["_meta"]["hostvars"]) == len(ours["_meta"]["hostvars"])
    # without --export Ansible folds the group vars into every host's vars
    merged = inventory_list(deploy["script"], deploy["env"])
    all_vars = ours["all"]["vars"]
    for host, hostvars in ours["_meta"]["hostvars"].items():
        assert merged["_meta"]["hostvars"][host] == {**all_vars, **hostvars}
    assert tree_view(merged) == tree_view(ours)


def test_graph_through_ansible_matches_our_groups(deploy: dict[str, Any]) -> None:
    graph = ok(ansible("ansible-inventory", "-i", deploy["script"], "--graph", env=deploy["env"]))
    assert parse_graph(graph) == graph_view(deploy["ours"])


def test_ansible_sees_host_vars(deploy: dict[str, Any]) -> None:
    hostvars = deploy["ours"]["_meta"]["hostvars"]
    containers = sorted(h for h, v in hostvars.items() if v.get("physical_host") not in (None, h))
    metal = sorted(h for h, v in hostvars.items() if v.get("physical_host") in (None, h))
    chosen = [metal[0], containers[0], containers[-1]]
    proc = ansible(
        "ansible", "-i", deploy["script"], "all", "--limit", ",".join(chosen),
        "-m", "debug", "-a", "var=container_name", "-c", "local", "-f", "2", "--one-line",
        env=deploy["env"],
    )  # fmt: skip
    seen = {}
    for line in ok(proc).splitlines():  # host | SUCCESS => {"changed": false, ...}
        host, _, result = line.partition(" | SUCCESS => ")
        seen[host] = json.loads(result)["container_name"]
    assert seen == {host: hostvars[host]["container_name"] for host in chosen}


def test_host_agrees_with_meta(deploy: dict[str, Any]) -> None:
    ours = deploy["ours"]
    hostvars = ours["_meta"]["hostvars"]
    chosen = sorted(hostvars)[::15]
    for host in chosen:
        proc = subprocess.run(
            [str(deploy["script"]), "--host", host],
            capture_output=True,
            text=True,
            env=deploy["env"],
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == hostvars[host]
    missing = subprocess.run(
        [str(deploy["script"]), "--host", "no-such-host"],
        capture_output=True,
        text=True,
        env=deploy["env"],
        timeout=60,
    )
    assert json.loads(missing.stdout) == {}
    # ansible-inventory --host shows the host's vars with the group vars folded in
    shown = ansible(
        "ansible-inventory", "-i", deploy["script"], "--host", chosen[1], env=deploy["env"]
    )
    assert json.loads(ok(shown)) == {**ours["all"]["vars"], **hostvars[chosen[1]]}


# -- the plugin -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Any]:
    services = _services()
    missing = services.missing_message("postgresql")
    if missing:
        if in_ci():
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    server = services.start_postgres()
    yield server
    server.stop()


def _services() -> Any:
    """osa_inventory.testing.servers (the SQL fixtures' servers)."""
    from osa_inventory.testing import servers as services

    return services


def file_settings(deploy: dict[str, Any]) -> dict[str, Any]:
    return {"backend": "file", "options": {"path": str(deploy["config"] / INVENTORY_FILE)}}


def plugin_sources(
    kind: str, deploy: dict[str, Any], request: pytest.FixtureRequest
) -> tuple[dict[str, Any], dict[str, str]]:
    """(plugin settings, extra environment) for the same inventory stored in ``kind``."""
    base: Path = deploy["base"]
    ours = deploy["ours"]
    if kind == "file":
        return file_settings(deploy), {}
    if kind == "sqlite":
        url = f"sqlite:///{base / 'inventory.db'}"
        if not (base / "inventory.db").exists():
            store_copy("sqlite", {"url": url}, ours)
        return {"backend": "sqlite", "options": {"url": url}}, {}
    services = _services()
    server = request.getfixturevalue("pg_server")
    database = "osa_ansible"
    services.create_database(server, database)
    store_copy("postgresql", {"url": server.url(database)}, ours)
    services.grant_reader(server, database)
    user, password = services.READER
    settings = {
        "backend": "postgresql",
        "options": {"url": server.url(database, user), "password_env": "OSA_TEST_PG_PASSWORD"},
    }
    return settings, {"OSA_TEST_PG_PASSWORD": password}


@pytest.mark.parametrize("kind", ["file", "sqlite", "postgresql"])
def test_plugin_gives_the_same_inventory(
    kind: str, deploy: dict[str, Any], exported: dict, request: pytest.FixtureRequest
) -> None:
    settings, extra_env = plugin_sources(kind, deploy, request)
    source = write_config(deploy["base"] / f"{kind}.osa.yml", **settings)
    before = sorted(p.name for p in deploy["config"].iterdir())
    plugin = inventory_list(source, {**deploy["env"], **extra_env}, "--export")
    assert plugin == exported
    assert_same_meaning(deploy["ours"], plugin)
    assert sorted(p.name for p in deploy["config"].iterdir()) == before  # it wrote nothing


def test_plugin_honours_ansible_cache(deploy: dict[str, Any], exported: dict) -> None:
    base: Path = deploy["base"]
    store = base / "cached" / INVENTORY_FILE
    store.parent.mkdir()
    shutil.copyfile(deploy["config"] / INVENTORY_FILE, store)
    cache_dir = base / "ansible-cache"
    source = write_config(
        base / "cached.osa_inventory.yml",
        backend="file",
        options={"path": str(store)},
        cache=True,
        cache_plugin="ansible.builtin.jsonfile",
        cache_connection=str(cache_dir),
        cache_timeout=600,
    )
    env = deploy["env"]
    assert inventory_list(source, env, "--export") == exported
    assert len(list(cache_dir.iterdir())) == 1
    store.unlink()  # the store is gone: the cached copy is served, the store is not read
    assert inventory_list(source, env, "--export") == exported
    flushed = ansible("ansible-inventory", "-i", source, "--list", "--flush-cache", env=env)
    assert flushed.returncode != 0
    assert "holds no inventory yet" in flushed.stderr
    # without cache: true nothing is cached: the store is read every time
    plain = write_config(base / "plain.osa.yml", backend="file", options={"path": str(store)})
    assert ansible("ansible-inventory", "-i", plain, "--list", env=env).returncode != 0


def test_plugin_host_agrees_with_script(deploy: dict[str, Any]) -> None:
    source = write_config(deploy["base"] / "host.osa.yml", **file_settings(deploy))
    host = sorted(deploy["ours"]["_meta"]["hostvars"])[3]
    by_plugin = ansible("ansible-inventory", "-i", source, "--host", host, env=deploy["env"])
    by_script = ansible(
        "ansible-inventory", "-i", deploy["script"], "--host", host, env=deploy["env"]
    )
    assert json.loads(ok(by_plugin)) == json.loads(ok(by_script))


# -- odd names, templates, errors -----------------------------------------------------------------


ODD_INVENTORY = {
    "_meta": {
        "hostvars": {
            "rack-1-host": {"ansible_host": "10.0.0.1", "greeting": "{{ 'hel' ~ 'lo' }}"},
            "rack-2_host": {"ansible_host": "10.0.0.2", "dashed-var-value": "a-b"},
        }
    },
    "all": {"vars": {"site": "lab-1"}},
    "rack-1": {"hosts": ["rack-1-host"], "children": ["rack-1-sub"], "vars": {"rack": "r-1"}},
    "rack-1-sub": {"hosts": ["rack-2_host"]},
    "empty-group": {"hosts": [], "children": []},
}


def test_odd_names_and_templates_read_like_the_script(tmp_path: Path) -> None:
    store = tmp_path / "odd.json"
    store.write_text(json.dumps(ODD_INVENTORY))
    script = tmp_path / "odd.sh"  # a plain inventory script printing the same JSON
    script.write_text(f"#!/bin/sh\n[ \"$1\" = --list ] && exec cat '{store}'\necho '{{}}'\n")
    script.chmod(0o755)
    source = write_config(tmp_path / "odd.osa.yml", backend="file", options={"path": str(store)})
    env = ansible_env(tmp_path)
    assert inventory_list(source, env, "--export") == inventory_list(script, env, "--export")
    assert_same_meaning(ODD_INVENTORY, inventory_list(source, env, "--export"))
    proc = ansible(
        "ansible", "-i", source, "rack-1-host", "-m", "debug", "-a", "var=greeting",
        "-c", "local", "--one-line", env=env,
    )  # fmt: skip
    assert json.loads(ok(proc).partition(" => ")[2])["greeting"] == "hello"


CLASH_INVENTORY = {
    "_meta": {
        "hostvars": {
            "db": {"ansible_host": "10.0.0.3", "role": "database"},  # a group's name too
            "web1": {"deep": {"list": ["{{ 40 + 2 }}", {"k": "{{ 'o' ~ 'k' }}"}], "n": 7}},
        }
    },
    "db": {"hosts": ["db", "web1"]},
}


def test_host_variables_are_handed_over_like_the_scripts(tmp_path: Path) -> None:
    """The plugin gives host variables to Ansible its own way (trusted, straight to the
    host): what Ansible then holds is what it makes of the script's, templates deep in a
    value rendered, a host named like a group included."""
    store = tmp_path / "clash.json"
    store.write_text(json.dumps(CLASH_INVENTORY))
    script = tmp_path / "clash.sh"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = --list ] && exec cat '{store}'\necho '{{}}'\n")
    script.chmod(0o755)
    source = write_config(tmp_path / "clash.osa.yml", backend="file", options={"path": str(store)})
    env = ansible_env(tmp_path)
    for extra in ((), ("--export",)):
        assert inventory_list(source, env, *extra) == inventory_list(script, env, *extra)
    for inventory in (source, script):
        proc = ansible(
            "ansible", "-i", inventory, "web1", "-m", "debug", "-a", "var=deep",
            "-c", "local", "--one-line", env=env,
        )  # fmt: skip
        assert json.loads(ok(proc).partition(" => ")[2])["deep"] == {
            "list": [42, {"k": "ok"}],  # native types, as Ansible renders them
            "n": 7,
        }


def test_plugin_applies_constructed_options(tmp_path: Path) -> None:
    store = tmp_path / "odd.json"
    store.write_text(json.dumps(ODD_INVENTORY))
    source = write_config(
        tmp_path / "constructed.osa.yml",
        backend="file",
        options={"path": str(store)},
        groups={"greeters": "greeting is defined"},
        keyed_groups=[{"key": "ansible_host", "prefix": "addr"}],
        compose={"answer": "40 + 2"},
    )
    listed = inventory_list(source, ansible_env(tmp_path), "--export")
    assert listed["greeters"]["hosts"] == ["rack-1-host"]
    assert listed["addr_10_0_0_2"]["hosts"] == ["rack-2_host"]
    assert listed["_meta"]["hostvars"]["rack-2_host"]["answer"] == 42


def test_plugin_errors_are_clear(tmp_path: Path) -> None:
    env = ansible_env(tmp_path)
    empty = write_config(
        tmp_path / "empty.osa.yml", backend="file", options={"path": str(tmp_path / "none.json")}
    )
    proc = ansible("ansible-inventory", "-i", empty, "--list", env=env)
    assert proc.returncode != 0
    assert "holds no inventory yet; run osa-inventory on the deploy host" in proc.stderr
    unknown = write_config(tmp_path / "unknown.osa.yml", backend="nosuchbackend")
    proc = ansible("ansible-inventory", "-i", unknown, "--list", env=env)
    assert proc.returncode != 0
    assert "nosuchbackend" in proc.stderr
    wrong = write_config(
        tmp_path / "wrong.osa.yml", backend="file", options={"path": str(tmp_path), "bogus": 1}
    )
    proc = ansible("ansible-inventory", "-i", wrong, "--list", env=env)
    assert proc.returncode != 0
    assert "unknown option bogus" in proc.stderr


def test_plugin_dir_holds_the_plugin(tmp_path: Path) -> None:
    assert (Path(plugin_dir()) / "osa_inventory.py").is_file()
    doc = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", "inventory", "osa_inventory"],
        capture_output=True,
        text=True,
        env=ansible_env(tmp_path),
        timeout=ANSIBLE_TIMEOUT,
        check=False,
    )
    assert doc.returncode == 0, doc.stderr
    assert "osa_inventory" in doc.stdout and "cache_plugin" in doc.stdout


def test_a_store_error_reaches_ansible_as_the_products_one_line(tmp_path: Path) -> None:
    """No driver traceback text, no link, no message repeated inside itself."""
    from osa_inventory.testing.servers import free_port

    require_module("osa_inventory.backends.sql")
    url = f"postgresql+psycopg://deploy@127.0.0.1:{free_port()}/osa"  # nothing listens there
    source = write_config(tmp_path / "down.osa.yml", backend="postgresql", options={"url": url})
    proc = ansible("ansible-inventory", "-i", source, "--list", env=ansible_env(tmp_path))
    assert proc.returncode != 0
    ours = [line for line in proc.stderr.splitlines() if "reading the schema revision" in line]
    assert ours, proc.stderr
    for line in ours:  # each time Ansible shows it: our line, once, with the fix
        assert line.count("reading the schema revision failed") == 1, line
        assert line.endswith(
            "check that the database server is running and that the host and "
            "port in the url are right"
        ), line
    for noise in ("Background on this error", "sqlalche.me", "OperationalError", "Is the server"):
        assert noise not in proc.stderr
