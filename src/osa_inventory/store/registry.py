"""Find backends: stevedore entry points in ``osa_inventory.backends``, or an import path.

The built-in backends are declared as entry points in pyproject.toml exactly as
a third-party plugin declares its own. They are also listed in
:data:`BUILTIN_BACKENDS` so that the hot ``--list`` path can import the one it
needs without scanning every installed distribution's metadata; a test keeps
the two lists equal.

What only a backend knows, the registry asks its class: which URL schemes name
it (:func:`parse_url`), its default options (:func:`default_options`) and its
option schema (:func:`option_schema`), which says which options are secret.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from osa_inventory.errors import ConfigError, OsaInventoryError, StoreUnavailable
from osa_inventory.store.backend import DefaultOptions, URLBackend

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


class BackendInfo(NamedTuple):
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
    except (Exception, SystemExit) as exc:  # a broken plugin may raise anything, even exit
        raise plugin_failure(target, f"importing {module_name}", exc) from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"backend {target}: {module_name} has no attribute {attribute}") from exc


def plugin_failure(backend: str, action: str, exc: BaseException) -> StoreUnavailable:
    """The one-line error for a backend whose own code failed in ``action``."""
    if isinstance(exc, SystemExit):
        what = f"called sys.exit({exc.code!r})"
    else:
        detail = str(exc).strip().splitlines()
        what = f"raised {type(exc).__name__}" + (f": {detail[0]}" if detail else "")
    return StoreUnavailable(
        f"backend {backend}: {action} {what}; fix or reinstall the plugin that provides it"
    )


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


def _find_class(name: str) -> Any:
    from osa_inventory.redact import learn_schema

    if ":" in name:
        found = _import_target(name)
    elif name in BUILTIN_BACKENDS:
        found = _import_target(BUILTIN_BACKENDS[name])
    else:
        found = _load_plugin(name)
    learn_schema(found)  # its secret options are masked in every text from now on
    return found


def load_backend_class(name: str) -> Any:
    """The class for a backend name or a ``package.module:Class`` import path."""
    backend_class = _find_class(name)
    check_contract(backend_class, name)
    problem = missing_requirements(backend_class)
    if problem:
        raise StoreUnavailable(f"backend {name}: {problem}")
    return backend_class


def _load_plugin(name: str) -> Any:
    from stevedore import driver
    from stevedore.exception import NoMatches

    failures: list[str] = []

    def on_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        failures.append(f"{entrypoint.value}: {exc}")

    try:
        manager: driver.DriverManager[Any] = driver.DriverManager(
            NAMESPACE, name, invoke_on_load=False, on_load_failure_callback=on_failure
        )
    except SystemExit as exc:  # stevedore reports exceptions, not an exit on import
        raise plugin_failure(name, "importing it", exc) from exc
    except NoMatches:
        if failures:
            raise StoreUnavailable(
                f"backend {name} failed to load ({failures[0]}); install its dependencies"
            ) from None
        import difflib

        names = [info.name for info in list_backends()]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown backend {name!r}; {hint}available backends: {', '.join(names) or 'none'} "
            "(or give an import path 'package.module:Class')"
        ) from None
    return manager.driver


def find_backend_class(name: str) -> Any:
    """The class of a backend, or None when it cannot be loaded (no contract or dependency check).

    For what must work even when the backend does not, such as ``config show``.
    """
    try:
        return _find_class(name)
    except (Exception, SystemExit):  # a broken plugin may raise anything on import
        return None


def default_options(backend: str, config_dir: str | None, name: str) -> dict[str, str]:
    """The options a backend uses when they are not given (e.g. the file backend's path)."""
    backend_class = find_backend_class(backend)
    if not isinstance(backend_class, DefaultOptions):
        return {}
    return dict(backend_class.default_options(config_dir, name))


def option_schema(backend: Any) -> Mapping[str, Any] | None:
    """A backend's (name, class or instance) option schema; None when it has none or
    cannot be loaded (then :mod:`osa_inventory.redact` judges options by name)."""
    declared = getattr(
        find_backend_class(backend) if isinstance(backend, str) else backend, "options", None
    )
    return declared if isinstance(declared, Mapping) and declared else None


def is_network(backend: str) -> bool:
    """Whether a backend declares ``network = True`` (the local copy applies to it)."""
    return bool(getattr(find_backend_class(backend), "network", False))


#: a URL's scheme (compiled by re on first use: the ``--list`` path names no URL)
_SCHEME = r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://"


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL (``scheme://...``) rather than a backend name."""
    return bool(re.match(_SCHEME, text))


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """(backend name, options) for a store named by a URL, parsed by the backend it names.

    A backend claims the schemes in its ``url_schemes``; ``postgresql+psycopg``
    counts as ``postgresql``.
    """
    match = re.match(_SCHEME, url)
    if match is None:
        raise ConfigError(f"{url!r} is not a URL; write it like sqlite:////path/inventory.db")
    scheme = match.group("scheme").lower()
    known: list[str] = []
    failures: list[str] = []
    for name, backend_class in _url_backends(failures):
        schemes = backend_class.url_schemes
        if scheme in schemes or scheme.partition("+")[0] in schemes:
            return name, backend_class.options_from_url(url)
        known += [s for s in schemes if s not in known]
    hint = f" ({failures[0]})" if failures else ""
    raise ConfigError(f"{url}: unknown URL scheme {scheme!r}; known: {', '.join(known)}{hint}")


def _url_backends(failures: list[str]) -> Iterator[tuple[str, Any]]:
    """(name, class) of every backend that can be named by a URL: built-ins first."""
    for name in BUILTIN_BACKENDS:
        try:
            backend_class = _find_class(name)
        except OsaInventoryError as exc:
            failures.append(str(exc))
            continue
        if isinstance(backend_class, URLBackend):
            yield name, backend_class
    # importlib.metadata, not stevedore: stevedore keeps a namespace's entry points for
    # the life of the process, and a URL's lookup must not freeze them for later ones
    from importlib.metadata import entry_points

    for entry in entry_points(group=NAMESPACE):
        if entry.name in BUILTIN_BACKENDS:
            continue
        try:
            backend_class = entry.load()
        except (Exception, SystemExit) as exc:  # a broken plugin may raise anything on import
            failures.append(f"backend {entry.name} failed to load ({entry.value}: {exc})")
            continue
        if isinstance(backend_class, URLBackend):
            yield entry.name, backend_class


def list_backends() -> list[BackendInfo]:
    """Every backend installed in the entry-point namespace, usable or not."""
    from stevedore import extension

    broken: dict[str, BackendInfo] = {}

    def on_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        broken[entrypoint.name] = BackendInfo(
            name=entrypoint.name,
            target=entrypoint.value,
            usable=False,
            reason=f"cannot load: {exc}",
            distribution=_distribution(entrypoint),
        )

    manager: extension.ExtensionManager[Any] = extension.ExtensionManager(
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
