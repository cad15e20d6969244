"""The plugin as the ``osa_inventory.store`` collection, found by ansible-core with no setup.

The distribution installs ``ansible_collections/osa_inventory/store`` next to the
``osa_inventory`` package; ansible-core scans ``sys.path`` for
``ansible_collections``. The project's editable venv reaches it through ``src/``
on ``sys.path``; a regular install is checked from a wheel built here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import INVENTORY_FILE, REPO_DIR, load_reference, reference_path
from test_ansible import ANSIBLE_TIMEOUT, ansible, ansible_env, inventory_list, ok, write_config

FQCN = "osa_inventory.store.inventory"
COLLECTION_FILES = {
    "ansible_collections/osa_inventory/store/meta/runtime.yml",
    "ansible_collections/osa_inventory/store/plugins/inventory/inventory.py",
    "ansible_collections/osa_inventory/store/plugins/doc_fragments/inventory.py",
}


def no_plugin_dir(base: Path) -> dict[str, str]:
    env = ansible_env(base)
    del env["ANSIBLE_INVENTORY_PLUGINS"]
    return env


def stored(base: Path, example: str = "aio") -> Path:
    store = base / INVENTORY_FILE
    shutil.copyfile(reference_path(example), store)
    return store


def test_the_collection_name_needs_no_plugin_dir(tmp_path: Path) -> None:
    store = stored(tmp_path)
    settings = {"backend": "file", "options": {"path": str(store)}}
    by_fqcn = write_config(tmp_path / "fqcn.osa.yml", **settings)
    by_fqcn.write_text(by_fqcn.read_text().replace("plugin: osa_inventory\n", f"plugin: {FQCN}\n"))
    assert f"plugin: {FQCN}\n" in by_fqcn.read_text()
    by_name = write_config(tmp_path / "name.osa.yml", **settings)
    listed = inventory_list(by_fqcn, no_plugin_dir(tmp_path), "--export")
    assert listed == inventory_list(by_name, ansible_env(tmp_path), "--export")
    assert set(listed["_meta"]["hostvars"]) == set(load_reference("aio")["_meta"]["hostvars"])
    # without the plugin dir the short name is unknown; with it, both names work in one run
    short = ansible("ansible-inventory", "-i", by_name, "--list", env=no_plugin_dir(tmp_path))
    assert short.returncode != 0
    both = ansible(
        "ansible-inventory", "-i", by_fqcn, "-i", by_name, "--list", env=ansible_env(tmp_path)
    )
    assert json.loads(ok(both))["_meta"]["hostvars"].keys() == listed["_meta"]["hostvars"].keys()


def test_ansible_doc_documents_the_collection_plugin(tmp_path: Path) -> None:
    doc = ansible("ansible-doc", "-t", "inventory", FQCN, env=no_plugin_dir(tmp_path))
    text = ok(doc)
    for word in (FQCN, "backend", "inventory_name", "config_dir", "cache_plugin", "keyed_groups"):
        assert word in text
    assert str(REPO_DIR / "src" / "ansible_collections") in text


def test_the_doc_fragment_is_the_plugins_documentation_less_its_own_keys() -> None:
    import yaml

    from osa_inventory.ansible import collection_doc_fragment
    from osa_inventory.ansible.plugins.inventory.osa_inventory import DOCUMENTATION

    whole = yaml.safe_load(DOCUMENTATION)
    assert {"name", "extends_documentation_fragment", "options"} <= whole.keys()
    fragment = yaml.safe_load(collection_doc_fragment())
    assert fragment == {
        k: v for k, v in whole.items() if k not in ("name", "extends_documentation_fragment")
    }


def _build_wheel(dest: Path) -> Path:
    """A wheel of this checkout, built from a copy (setuptools writes build/ beside its input)."""
    source = dest / "source"
    shutil.copytree(REPO_DIR / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO_DIR / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dest), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dest.glob("osa_inventory-*.whl")
    return wheel


def test_a_regular_install_brings_the_collection(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    assert set(zipfile.ZipFile(wheel).namelist()) >= COLLECTION_FILES
    # a plain venv holding the wheel; the dependencies (ansible-core...) from this venv's
    # site-packages, added by a .pth line, which leaves out this checkout's editable src/
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    (Path(site) / "zz-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    source = tmp_path / "prod.osa.yml"
    source.write_text(f"plugin: {FQCN}\nbackend: file\noptions: {{path: {stored(tmp_path)}}}\n")
    env = {**no_plugin_dir(tmp_path), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    def run(tool: str, *args: str) -> str:
        code = f"import sys; from ansible.cli.{tool} import main; sys.argv[0] = {tool!r}; main()"
        proc = subprocess.run(
            [str(python), "-c", code, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=ANSIBLE_TIMEOUT,
            check=False,
        )
        return ok(proc)

    listed = json.loads(run("inventory", "-i", str(source), "--list", "--export"))
    assert set(listed["_meta"]["hostvars"]) == set(load_reference("aio")["_meta"]["hostvars"])
    doc = run("doc", "-t", "inventory", FQCN)
    assert str(Path(site) / "ansible_collections") in doc  # the wheel's copy, not src/


@pytest.mark.parametrize("name", ["osa_inventory", FQCN])
def test_both_names_report_the_plugins_own_errors(tmp_path: Path, name: str) -> None:
    store = stored(tmp_path)
    config = tmp_path / "x.osa.yml"
    config.write_text(f"plugin: {name}\nbackend: nosuch\noptions: {{path: {store}}}\n")
    proc = ansible("ansible-inventory", "-i", config, "--list", env=ansible_env(tmp_path))
    assert proc.returncode != 0
    assert "nosuch" in proc.stderr
