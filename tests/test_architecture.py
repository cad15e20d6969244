"""The layering rules of docs (architecture): checked on the source, by its imports.

* nothing outside ``backends/`` imports a backend module (only the registry names
  them, as entry points);
* ``generate/`` touches no store, command line or file-writing code;
* ``store/`` and ``ops/`` never import ``cli/``;
* ``settings.py`` knows no backend: it asks the registry's public functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "osa_inventory"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def offenders(inside: str, forbidden: str) -> dict[str, list[str]]:
    return {
        name: sorted(i for i in imports if i == forbidden or i.startswith(forbidden + "."))
        for name, imports in MODULES.items()
        if (name == inside or name.startswith(inside + "."))
        and any(i == forbidden or i.startswith(forbidden + ".") for i in imports)
    }


def test_the_source_was_found() -> None:
    assert {"osa_inventory.store.factory", "osa_inventory.cli.main"} <= set(MODULES)
    assert "osa_inventory.store.store" in MODULES["osa_inventory.store.factory"]


def test_nothing_outside_backends_imports_a_backend() -> None:
    found = {
        name: sorted(i for i in imports if i.startswith("osa_inventory.backends."))
        for name, imports in MODULES.items()
        if not name.startswith("osa_inventory.backends")
        and any(i.startswith("osa_inventory.backends.") for i in imports)
    }
    assert found == {}, f"import a backend only through the registry: {found}"


@pytest.mark.parametrize(
    ("inside", "forbidden"),
    [
        ("osa_inventory.generate", "osa_inventory.store"),
        ("osa_inventory.generate", "osa_inventory.backends"),
        ("osa_inventory.generate", "osa_inventory.cli"),
        ("osa_inventory.generate", "osa_inventory.fileio"),
        ("osa_inventory.store", "osa_inventory.cli"),
        ("osa_inventory.ops", "osa_inventory.cli"),
        ("osa_inventory.run", "osa_inventory.cli"),
        ("osa_inventory.settings", "osa_inventory.store.store"),
        ("osa_inventory.settings", "osa_inventory.store.factory"),
    ],
)
def test_layers(inside: str, forbidden: str) -> None:
    assert offenders(inside, forbidden) == {}


def test_settings_use_only_the_registrys_public_functions() -> None:
    tree = ast.parse((PACKAGE / "settings.py").read_text(encoding="utf-8"))
    private = [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "registry"
        and node.attr.startswith("_")
    ]
    private += [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("registry")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []
