"""Importing a database driver without the modules one head query never uses.

The light ``--list`` (:mod:`osa_inventory.backends.sql.light`) imports a driver
for one ``SELECT``; these context managers keep the driver's import down to what
that query needs: modules made unimportable (the driver runs without them),
stand-ins for modules whose names the driver only binds, and modules loaded
lazily, on first use. Each undoes itself on the way out, so whatever imports the
same modules next in the process (the full road) gets them whole.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

__all__ = ["imported_lazily", "standing_in", "unimportable"]


@contextlib.contextmanager
def unimportable(*modules: str) -> Iterator[None]:
    """While a driver is imported, ``modules`` it would import for what the head query
    never needs raise ImportError, as if not installed (those imported already stay)."""
    hidden = [module for module in modules if module not in sys.modules]
    for module in hidden:
        sys.modules[module] = None  # type: ignore[assignment]  # the import system's "missing"
    try:
        yield
    finally:
        for module in hidden:
            if module in sys.modules and sys.modules[module] is None:
                del sys.modules[module]


@contextlib.contextmanager
def standing_in(modules: Mapping[str, tuple[str, ...]]) -> Iterator[None]:
    """While a driver is imported, each of ``modules`` (not imported yet) is a module
    whose names are classes that raise ImportError when used: the driver imports, and
    the one road that would use them fails (the full road then answers)."""
    placed = [name for name in modules if name not in sys.modules]
    for name in placed:
        module = ModuleType(name, "not imported for the light head query")
        for attribute in modules[name]:
            setattr(module, attribute, _not_imported(f"{name}.{attribute}"))
        sys.modules[name] = module
    try:
        yield
    finally:
        for name in placed:
            sys.modules.pop(name, None)


def _not_imported(qualified: str) -> type:
    class NotImported:
        def __init__(self, *_args: Any, **_kwargs: Any) -> None:
            raise ImportError(f"{qualified} is not imported for the light head query")

    return NotImported


@contextlib.contextmanager
def imported_lazily(*modules: str) -> Iterator[None]:
    """While inside, importing one of ``modules`` (not imported yet) binds a module that
    loads on its first attribute use (:class:`importlib.util.LazyLoader`); on the way
    out those never used are forgotten, as if never imported (the loaded ones stay)."""
    finder = _LazyFinder(frozenset(m for m in modules if m not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in finder.names:
            module = sys.modules.get(name)
            if module is not None and type(module) is not ModuleType:  # still lazy: unused
                del sys.modules[name]


class _LazyFinder:
    """A meta path finder giving ``names`` (top-level, found on ``sys.path``) lazy loaders."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.names:
            return None
        from importlib.machinery import PathFinder
        from importlib.util import LazyLoader

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None  # the usual finders decide
        spec.loader = LazyLoader(spec.loader)
        return spec
