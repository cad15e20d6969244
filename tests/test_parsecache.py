"""The parsed-input cache: a run whose YAML did not change parses none, and never a wrong one.

Every test loads real YAML files through :mod:`osa_inventory.sources` with a
:class:`ParsedCache` in a temporary directory and compares what it gets with a
load that has no cache at all; the end-to-end tests run the real ``osa-inventory``.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import CLI, USER_CONFIG, copy_example, require_shared_dir
from osa_inventory.parsecache import MAGIC, MAX_ENTRIES, ParsedCache
from osa_inventory.sources import load_environment, load_user_config, parse_yaml


@pytest.fixture
def env_copy(tmp_path: Path) -> Path:
    """A private copy of OSA's base env.d (the folder that holds it)."""
    target = tmp_path / "inventory"
    shutil.copytree(require_shared_dir() / "inventory" / "env.d", target / "env.d")
    return target


@pytest.fixture
def cache(tmp_path: Path) -> ParsedCache:
    return ParsedCache(tmp_path / "cache")


def entries(cache: ParsedCache) -> list[Path]:
    return sorted(cache.directory.glob("parsed-*.marshal"))


def edit_same_size(path: Path, old: bytes, new: bytes) -> None:
    """Change a file without changing its size or (to the second) its modification time."""
    assert len(old) == len(new)
    info = path.stat()
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_a_second_load_comes_from_the_cache_and_equals_a_parse(
    env_copy: Path, cache: ParsedCache
) -> None:
    first = load_environment(env_copy, None, cache)
    [entry] = entries(cache)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    assert load_environment(env_copy, None, cache) == first == load_environment(env_copy, None)


def test_a_cached_run_does_not_import_yaml(tmp_path: Path, env_copy: Path) -> None:
    config = copy_example("prod", tmp_path / "deploy")
    code = (
        "import sys\n"
        "from osa_inventory.parsecache import ParsedCache\n"
        "from osa_inventory.sources import load_environment, load_user_config\n"
        "cache = ParsedCache(sys.argv[3])\n"
        "load_user_config(sys.argv[1], cache)\n"
        "load_environment(sys.argv[2], sys.argv[1], cache)\n"
        "print('yaml' in sys.modules)\n"
    )
    args = [sys.executable, "-c", code, str(config), str(env_copy), str(tmp_path / "cache")]
    runs = [subprocess.run(args, capture_output=True, text=True, check=True) for _ in range(2)]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]


def test_a_changed_env_d_file_is_parsed_again(env_copy: Path, cache: ParsedCache) -> None:
    before = load_environment(env_copy, None, cache)
    nova = env_copy / "env.d" / "nova.yml"
    edit_same_size(nova, b"nova_compute_container", b"nova_compute_containe_")
    after = load_environment(env_copy, None, cache)
    assert after != before
    assert after == load_environment(env_copy, None)
    assert "nova_compute_containe_" in after["container_skel"]
    assert len(entries(cache)) == 2  # one per content


def test_an_added_or_removed_env_d_file_is_parsed_again(env_copy: Path, cache: ParsedCache) -> None:
    base = load_environment(env_copy, None, cache)
    extra = env_copy / "env.d" / "zz_extra.yml"
    extra.write_text("component_skel:\n  extra_component:\n    belongs_to: [extra_all]\n")
    added = load_environment(env_copy, None, cache)
    assert added["component_skel"]["extra_component"] == {"belongs_to": ["extra_all"]}
    extra.unlink()
    assert load_environment(env_copy, None, cache) == base


def test_a_changed_conf_d_file_is_parsed_again(tmp_path: Path, cache: ParsedCache) -> None:
    config = copy_example("prod", tmp_path / "deploy")
    (config / "conf.d").mkdir(exist_ok=True)
    extra = config / "conf.d" / "extra.yml"
    extra.write_text("global_overrides:\n  cache_marker: one\n")
    assert load_user_config(config, cache).data["global_overrides"]["cache_marker"] == "one"
    edit_same_size(extra, b"one", b"two")
    loaded = load_user_config(config, cache)
    assert len(entries(cache)) == 3  # the main file's parse kept, one per conf.d content
    assert loaded.data["global_overrides"]["cache_marker"] == "two"
    assert loaded == load_user_config(config)
    assert loaded.where("global_overrides") == str(extra)


def test_the_same_files_elsewhere_share_the_parse_and_name_their_own_paths(
    tmp_path: Path, cache: ParsedCache
) -> None:
    """Error messages name the file a key came from: a copy never gets the original's path."""
    first = copy_example("prod", tmp_path / "one")
    (first / "conf.d").mkdir(exist_ok=True)
    (first / "conf.d" / "extra.yml").write_text("global_overrides:\n  cache_marker: one\n")
    second = tmp_path / "two"
    shutil.copytree(first, second)
    load_user_config(first, cache)
    copied = load_user_config(second, cache)
    assert len(entries(cache)) == 2  # one per file: the copy's parses came from the cache
    assert copied.where("cidr_networks") == str(second / USER_CONFIG)
    assert copied.where("global_overrides") == str(second / "conf.d" / "extra.yml")
    assert copied == load_user_config(second)


def test_a_damaged_entry_is_ignored_and_rewritten(env_copy: Path, cache: ParsedCache) -> None:
    expected = load_environment(env_copy, None, cache)
    [entry] = entries(cache)
    data = bytearray(entry.read_bytes())
    data[-10] ^= 0xFF  # inside the payload: its digest no longer matches
    entry.write_bytes(bytes(data))
    assert load_environment(env_copy, None, cache) == expected
    assert entry.read_bytes() != bytes(data)  # a sound entry again
    entry.write_bytes(b"truncated")
    assert load_environment(env_copy, None, cache) == expected


@pytest.mark.parametrize("target", ["file mode", "directory mode", "owner"])
def test_an_entry_others_could_write_is_ignored(
    env_copy: Path, cache: ParsedCache, target: str
) -> None:
    """A cached parse that someone else could have planted is never used."""
    load_environment(env_copy, None, cache)
    [entry] = entries(cache)
    forged = {"container_skel": {"planted": {}}}
    key = entry.read_bytes()[len(MAGIC) : len(MAGIC) + 32]  # the header's input digest
    cache._write(entry, key, (forged, 0))  # a parse that held no float
    assert load_environment(env_copy, None, cache) == forged  # the entry is what is served
    if target == "file mode":
        entry.chmod(0o644)
    elif target == "directory mode":
        cache.directory.chmod(0o755)
    else:
        if os.geteuid() != 0:
            pytest.skip("giving a file away needs root")
        os.chown(entry, 12345, 12345)
    assert load_environment(env_copy, None, cache) == load_environment(env_copy, None)


def test_a_symlink_in_place_of_an_entry_is_not_followed(
    tmp_path: Path, env_copy: Path, cache: ParsedCache
) -> None:
    expected = load_environment(env_copy, None, cache)
    [entry] = entries(cache)
    victim = tmp_path / "victim"
    victim.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(victim)
    before = victim.read_bytes()
    victim.chmod(0o600)
    assert load_environment(env_copy, None, cache) == expected
    assert entry.is_symlink() and victim.read_bytes() == before


def test_an_unwritable_cache_directory_costs_nothing_but_time(
    tmp_path: Path, env_copy: Path
) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    cache = ParsedCache(blocked / "cache")
    assert load_environment(env_copy, None, cache) == load_environment(env_copy, None)


def test_a_parse_marshal_cannot_keep_is_not_cached(tmp_path: Path, cache: ParsedCache) -> None:
    config = copy_example("prod", tmp_path / "deploy")
    (config / "conf.d").mkdir(exist_ok=True)
    (config / "conf.d" / "date.yml").write_text("global_overrides:\n  built: 2024-01-02\n")
    for _ in range(2):
        loaded = load_user_config(config, cache)
        assert str(loaded.data["global_overrides"]["built"]) == "2024-01-02"
    assert len(entries(cache)) == 1  # the main file's; the file with a date has none


def test_shared_objects_stay_shared(tmp_path: Path, cache: ParsedCache) -> None:
    """YAML anchors give one object in two places; the cached parse keeps that."""
    env = tmp_path / "inventory" / "env.d"
    env.mkdir(parents=True)
    (env / "a.yml").write_text("first: &shared {x: 1}\nsecond: *shared\n")
    cached = [load_environment(env.parent, None, cache) for _ in range(2)][1]
    assert cached["first"] is cached["second"]


def test_at_most_max_entries_are_kept(tmp_path: Path, cache: ParsedCache) -> None:
    for index in range(MAX_ENTRIES + 3):
        env = tmp_path / f"inventory{index}" / "env.d"
        env.mkdir(parents=True)
        (env / "a.yml").write_text(f"value: {index}\n")
        assert load_environment(env.parent, None, cache) == {"value": index}
    assert len(entries(cache)) == MAX_ENTRIES


def test_crlf_and_text_files_parse_as_an_opened_file_does(tmp_path: Path) -> None:
    text = "key: |\r\n  two\r\n  lines\r\nother: 'a\r\n  b'\rlast: x\r\n"
    path = tmp_path / "crlf.yml"
    path.write_bytes(text.encode())
    with open(path, encoding="utf-8") as handle:
        assert parse_yaml(path, path.read_bytes()) == yaml.safe_load(handle)


def test_the_command_sees_a_changed_env_d_file(tmp_path: Path, env_copy: Path) -> None:
    """End to end: the run after an env.d edit prints what a run without the cache prints."""
    config = copy_example("prod", tmp_path / "deploy")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}

    def run(config_dir: Path, environ: dict[str, str]) -> bytes:
        args = ["--config", str(config_dir), "--environment", str(env_copy), "--list"]
        return subprocess.run(
            [str(CLI), *args], env=environ, capture_output=True, check=True
        ).stdout

    first = run(config, env)
    assert list((tmp_path / "xdg" / "osa-inventory").glob("parsed-*"))
    twin = tmp_path / "twin"
    shutil.copytree(config, twin)  # the same stored inventory
    edit_same_size(
        env_copy / "env.d" / "nova.yml", b"nova_compute_container", b"nova_compute_containe_"
    )
    cached = run(config, env)
    assert cached != first and b"nova_compute_containe_" in cached
    assert cached == run(twin, {**env, "XDG_CACHE_HOME": str(tmp_path / "empty-xdg")})


def test_without_a_home_directory_nothing_is_cached(
    tmp_path: Path, env_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``~`` that cannot be expanded stays relative: no cache in the working directory."""
    monkeypatch.chdir(tmp_path)
    cache = ParsedCache("~/.cache/osa-inventory")
    assert load_environment(env_copy, None, cache) == load_environment(env_copy, None)
    assert not (tmp_path / "~").exists()
