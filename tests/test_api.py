"""The public Python API of docs/api.md, used through ``from osa_inventory import ...`` alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import osa_inventory
from conftest import copy_example, read_config, write_config
from osa_inventory import (
    ConfigError,
    GenerationError,
    Inputs,
    LockTimeout,
    OsaInventoryError,
    StoreCorrupt,
    StoreError,
    YamlError,
    diff_inventories,
    dumps_inventory,
    generate_inventory,
    host_vars,
    open_store,
    refresh,
    resolve_settings,
)


def no_ini(tmp_path: Path) -> dict[str, str]:
    """An environment without osa.ini or OSA_INVENTORY_* settings."""
    return {"OSA_INVENTORY_CONFIG": str(tmp_path / "no-osa.ini")}


def test_generate_refresh_read_and_diff(tmp_path: Path, env_dir: Path) -> None:
    config = copy_example("test", tmp_path / "config")
    # generating touches no store
    generated = generate_inventory(config, env_dir)
    assert generated.inventory["_meta"]["hostvars"]
    assert list(tmp_path.rglob("openstack_inventory*")) == []

    store = open_store(resolve_settings(config, env=no_ini(tmp_path)))
    try:
        first = refresh(store, Inputs(config, env_dir), message="first run")
        assert first.changed and first.version is not None
        assert (config / "openstack_inventory.json").read_text() == first.text()
        assert first.text() == dumps_inventory(first.inventory)

        data = read_config(config)
        data["global_overrides"]["api_marker"] = "second"
        write_config(config, data)
        second = refresh(store, Inputs(config, env_dir), message="second run")
        assert second.version is not None and second.version.version == first.version.version + 1
        unchanged = refresh(store, Inputs(config, env_dir))
        assert not unchanged.generated and unchanged.version == second.version

        old = store.read_version(first.version.version)
        assert old == first.inventory
        assert [v.message for v in store.history()][-2:] == ["first run", "second run"]
        diff = diff_inventories(old, store.read().inventory)
        assert diff.summary()["hosts"] == {"add": 0, "change": 0, "remove": 0}
        assert [(v.path, v.action, v.new) for v in diff.vars] == [("api_marker", "add", "second")]
        name = next(iter(second.inventory["_meta"]["hostvars"]))
        hostvars = second.inventory["_meta"]["hostvars"][name]
        assert host_vars(store, Inputs(config, env_dir), name) == hostvars
    finally:
        store.close()


def test_a_store_opened_by_url(tmp_path: Path, env_dir: Path) -> None:
    config = copy_example("test", tmp_path / "config")
    path = tmp_path / "elsewhere" / "inventory.json"
    path.parent.mkdir()
    store = open_store(f"file://{path}?backup_keep=3")
    try:
        result = refresh(store, Inputs(config, env_dir))
        assert json.loads(path.read_text()) == result.inventory
        assert store.label == f"file:{path}"
        assert store.retention().versions == 3
    finally:
        store.close()


def test_errors_come_from_one_tree(tmp_path: Path, env_dir: Path) -> None:
    config = copy_example("test", tmp_path / "config")
    (config / "conf.d").mkdir(exist_ok=True)
    (config / "conf.d" / "broken.yml").write_text("a: [unclosed\n")
    with pytest.raises(YamlError) as raised:
        generate_inventory(config, env_dir)
    assert isinstance(raised.value, ConfigError) and raised.value.exit_code == 2
    (config / "conf.d" / "broken.yml").unlink()

    data = read_config(config)
    del data["cidr_networks"]
    write_config(config, data)
    with pytest.raises((ConfigError, GenerationError)) as bad:
        generate_inventory(config, env_dir)
    assert isinstance(bad.value, OsaInventoryError) and "\n" not in str(bad.value)

    with pytest.raises(ConfigError, match="unknown URL scheme"):
        open_store("gopher://nowhere/inventory")

    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    store = open_store(f"file://{corrupt}")
    with pytest.raises(StoreCorrupt) as broken:
        store.read()
    assert isinstance(broken.value, StoreError) and broken.value.exit_code == 3

    store = open_store(f"file://{tmp_path / 'locked.json'}")
    store.lock_timeout = 0.2
    holder = open_store(f"file://{tmp_path / 'locked.json'}")
    with holder.locked():
        copy_example("test", tmp_path / "other")
        with pytest.raises(LockTimeout):
            refresh(store, Inputs(tmp_path / "other", env_dir))


def test_every_documented_name_is_importable() -> None:
    documented = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    for name in osa_inventory.__all__:
        assert getattr(osa_inventory, name) is not None
        assert f"`{name}" in documented, f"{name} is not in docs/api.md"
    with pytest.raises(AttributeError):
        _ = osa_inventory.no_such_name


def test_importing_the_package_is_cheap() -> None:
    code = (
        "import sys, osa_inventory; "
        "print(sorted(m for m in sys.modules if m.startswith('osa_inventory')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['osa_inventory', 'osa_inventory._version']"
