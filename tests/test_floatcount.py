"""Writing an inventory known to hold no float skips the check against json's bytes, and
only such an inventory: every parser that feeds the generator counts its floats.

The written bytes must be json's (``1e-07``, ``NaN``) whatever the inventory holds, so
each test that puts a float somewhere checks the stored file against ``json.dumps``;
orjson alone would write ``1e-7`` and ``null``. The suite itself proves every
float-free claim (conftest sets ``OSA_INVENTORY_VERIFY_FLOAT_FREE``); the test of the
skipped proof turns that off.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_example, read_config, write_config
from osa_inventory import floatcount, jsonio
from osa_inventory.jsonio import json_dumps_inventory, loads_inventory
from osa_inventory.parsecache import ParsedCache
from osa_inventory.run import Inputs, refresh
from osa_inventory.sources import load_user_config, parse_yaml
from osa_inventory.store import Store, open_backend

pytest.importorskip("orjson")


class JsonSpy:
    """Stands in for jsonio's ``json`` module and counts the compact encodings (the check)."""

    def __init__(self) -> None:
        self.checks = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)

    def dumps(self, value: Any, **options: Any) -> str:
        if options.get("separators") == (",", ":") and options.get("sort_keys"):
            self.checks += 1
        return json.dumps(value, **options)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> JsonSpy:
    spy = JsonSpy()
    monkeypatch.setattr(jsonio, "json", spy)
    return spy


def file_store(path: Path) -> Store:
    return Store(open_backend("file", {"path": str(path)}))


def as_json_writes_it(path: Path) -> bool:
    data = path.read_bytes()
    return data == json_dumps_inventory(json.loads(data)).encode("ascii")


def set_var(config_dir: Path, name: str, value: Any) -> None:
    data = read_config(config_dir)
    data.setdefault("global_overrides", {})[name] = value
    write_config(config_dir, data)


def test_yaml_and_json_parses_count_their_floats() -> None:
    before = floatcount.count()
    assert parse_yaml(Path("x.yml"), b"a: 1\nb: [x, true, null]\n") == {
        "a": 1,
        "b": ["x", True, None],
    }
    assert floatcount.count() == before
    parsed = parse_yaml(Path("x.yml"), b"a: 1.5\nb: .nan\nc: [.inf, !!float 3]\n")
    assert parsed["a"] == 1.5 and parsed["c"] == [float("inf"), 3.0]
    assert floatcount.count() == before + 4
    loaded = loads_inventory('{"a": 1e+16, "b": NaN, "c": -Infinity, "d": 2}', "test")
    assert loaded["a"] == 1e16 and loaded["d"] == 2
    assert floatcount.count() == before + 7


def test_a_cached_parse_counts_the_floats_it_held(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "openstack_user_config.yml").write_text("global_overrides:\n  ratio: 1.5\n")
    cache = ParsedCache(tmp_path / "cache")
    first = floatcount.count()
    load_user_config(config, cache)  # parsed: one float
    assert floatcount.count() == first + 1
    again = load_user_config(config, ParsedCache(tmp_path / "cache"))  # from the cache
    assert again.data == {"global_overrides": {"ratio": 1.5}}
    assert floatcount.count() == first + 2, "a cached parse with a float is no proof"

    (config / "openstack_user_config.yml").write_text("global_overrides:\n  ratio: 2\n")
    load_user_config(config, cache)
    before = floatcount.count()
    load_user_config(config, ParsedCache(tmp_path / "cache"))
    assert floatcount.count() == before


def test_a_float_free_write_skips_the_check(
    tmp_path: Path, env_dir: Path, spy: JsonSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(jsonio.VERIFY_CLAIMS_ENV)  # the suite's own proof of every claim
    config = copy_example("test", tmp_path / "config")
    path = tmp_path / "openstack_inventory.json"
    refresh(file_store(path), Inputs(config, env_dir))  # empty store: a fresh write
    set_var(config, "marker", "second")
    second = refresh(file_store(path), Inputs(config, env_dir))
    assert second.changed
    assert spy.checks == 0
    assert as_json_writes_it(path)
    assert second.data == path.read_bytes()


@pytest.mark.parametrize("value", [1e20, 1e-7, float("nan"), float("-inf")])
def test_a_float_in_the_inputs_is_written_as_json_writes_it(
    tmp_path: Path, env_dir: Path, spy: JsonSpy, value: float
) -> None:
    config = copy_example("test", tmp_path / "config")
    set_var(config, "ratio", value)
    path = tmp_path / "openstack_inventory.json"
    refresh(file_store(path), Inputs(config, env_dir))
    assert spy.checks >= 1
    assert as_json_writes_it(path)
    stored = path.read_text()
    assert f'"ratio": {json.dumps(value)}' in stored


def test_a_float_only_in_the_stored_inventory_is_written_as_json_writes_it(
    tmp_path: Path, env_dir: Path, spy: JsonSpy
) -> None:
    """Edited into the store by hand: the inputs hold no float, the stored version does."""
    config = copy_example("test", tmp_path / "config")
    path = tmp_path / "openstack_inventory.json"
    refresh(file_store(path), Inputs(config, env_dir))
    inventory = json.loads(path.read_bytes())
    host = sorted(inventory["_meta"]["hostvars"])[0]
    inventory["_meta"]["hostvars"][host]["weight"] = 1e-7
    path.write_text(json_dumps_inventory(inventory))  # an outside change
    set_var(config, "marker", "after the edit")
    refresh(file_store(path), Inputs(config, env_dir))
    written = json.loads(path.read_bytes())
    assert written["_meta"]["hostvars"][host]["weight"] == 1e-7, "the generator kept it"
    assert spy.checks >= 1
    assert as_json_writes_it(path)
    assert '"weight": 1e-07' in path.read_text()


def test_a_wrong_claim_fails_loudly_under_the_test_suite() -> None:
    """The suite proves every float-free claim (conftest sets the variable): a claim
    on an inventory that holds a float raises instead of writing orjson's spelling."""
    assert os.environ.get(jsonio.VERIFY_CLAIMS_ENV)
    with pytest.raises(RuntimeError, match="claimed to hold no float"):
        jsonio.dumps_inventory_bytes({"weight": 1e-7}, float_free=True)
    assert jsonio.dumps_inventory_bytes({"weight": 1e-7}) == b'{\n    "weight": 1e-07\n}'
