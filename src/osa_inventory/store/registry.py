"""Find backends: stevedore entry points in ``osa_inventory.backends``, or an import path.

The built-in backends are declared as entry points in pyproject.toml exactly as
a third-party plugin declares its own. They are also listed in
:data:`BUILTIN_BACKENDS` so that the hot ``--list`` path can import the one it
needs without scanning every installed distribution's metadata; a test keeps
the two lists equal.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from osa_inventory.errors import ConfigError, StoreUnavailable

NAMESPACE = "osa_inventory.backends"

BUILTIN_BACKENDS: dict[str, str] = {
    "file": "osa_inventory.backends.file:FileBackend",
    "memory": "osa_inventory.backends.memory:MemoryBackend",
    "sqlite": "osa_inventory.backends.sql:SQLiteBackend",
    "postgresql": "osa_inventory.backends.sql:PostgreSQLBackend",
    "mysql": "osa_inventory.backends.sql:MySQLBackend",
    "etcd": "osa_inventory.backends.etcd:EtcdBackend",
    "craton": "osa_inventory.backends.craton:CratonBackend",
}

REQUIRED_METHODS = ("register", "load", "write")


@dataclass(frozen=True)
class BackendInfo:
    """One installed backend as ``osa-inventory backends`` shows it."""

    name: str
    target: str
    usable: bool
    reason: str = ""
    distribution: str = ""


def _import_target(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"backend {target!r}: an import path must look like 'package.module:Class'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StoreUnavailable(
            f"backend {target}: cannot import {module_name} ({exc}); install the package "
            "that provides it"
        ) from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"backend {target}: {module_name} has no attribute {attribute}") from exc


def missing_requirements(backend_class: Any) -> str:
    """An install hint when a backend's declared dependencies are missing, else ''."""
    import importlib.util

    missing = [
        module
        for module in getattr(backend_class, "requires", ()) or ()
        if importlib.util.find_spec(module) is None
    ]
    if not missing:
        return ""
    extra = getattr(backend_class, "extra", None)
    hint = f"pip install 'osa-inventory[{extra}]'" if extra else f"pip install {' '.join(missing)}"
    return f"missing {', '.join(missing)}; install with: {hint}"


def check_contract(backend_class: Any, label: str) -> None:
    lacking = [m for m in REQUIRED_METHODS if not callable(getattr(backend_class, m, None))]
    if lacking:
        raise ConfigError(
            f"backend {label}: {getattr(backend_class, '__name__', backend_class)} lacks "
            f"{', '.join(lacking)}; a backend needs register(options), load() and write(inventory)"
        )


def load_backend_class(name: str) -> Any:
    """The class for a backend name or a ``package.module:Class`` import path."""
    if ":" in name:
        backend_class = _import_target(name)
    elif name in BUILTIN_BACKENDS:
        backend_class = _import_target(BUILTIN_BACKENDS[name])
    else:
        backend_class = _load_plugin(name)
    check_contract(backend_class, name)
    problem = missing_requirements(backend_class)
    if problem:
        raise StoreUnavailable(f"backend {name}: {problem}")
    return backend_class


def _load_plugin(name: str) -> Any:
    from stevedore import driver
    from stevedore.exception import NoMatches

    failures: list[str] = []

    def on_failure(_manager: Any, entrypoint: Any, exc: Exception) -> None:
        failures.append(f"{entrypoint.value}: {exc}")

    try:
        manager = driver.DriverManager(
            NAMESPACE, name, invoke_on_load=False, on_load_failure_callback=on_failure
        )
    except NoMatches:
        if failures:
            raise StoreUnavailable(
                f"backend {name} failed to load ({failures[0]}); install its dependencies"
            ) from None
        known = ", ".join(info.name for info in list_backends()) or "none"
        raise ConfigError(
            f"unknown backend {name!r}; available backends: {known} "
            "(or give an import path 'package.module:Class')"
        ) from None
    return manager.driver


def create_backend(name: str, options: dict[str, Any]) -> Any:
    """Instantiate and register a backend."""
    backend = load_backend_class(name)()
    backend.register(dict(options))
    return backend


def list_backends() -> list[BackendInfo]:
    """Every backend installed in the entry-point namespace, usable or not."""
    from stevedore import extension

    broken: dict[str, BackendInfo] = {}

    def on_failure(_manager: Any, entrypoint: Any, exc: Exception) -> None:
        broken[entrypoint.name] = BackendInfo(
            name=entrypoint.name,
            target=entrypoint.value,
            usable=False,
            reason=f"cannot load: {exc}",
            distribution=_distribution(entrypoint),
        )

    manager = extension.ExtensionManager(
        NAMESPACE, invoke_on_load=False, on_load_failure_callback=on_failure
    )
    result = dict(broken)
    for ext in manager.extensions:
        try:
            check_contract(ext.plugin, ext.name)
            problem = missing_requirements(ext.plugin)
        except ConfigError as exc:
            problem = str(exc)
        result[ext.name] = BackendInfo(
            name=ext.name,
            target=ext.entry_point.value,
            usable=not problem,
            reason=problem,
            distribution=_distribution(ext.entry_point),
        )
    return [result[name] for name in sorted(result)]


def _distribution(entrypoint: Any) -> str:
    dist = getattr(entrypoint, "dist", None)
    return getattr(dist, "name", "") or ""
