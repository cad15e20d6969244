"""Settings: which backend, with which options, from where.

Precedence, lowest first: built-in defaults, ``/etc/ansible/osa.ini`` (path
overridable by ``OSA_INVENTORY_CONFIG``), environment variables
(``OSA_INVENTORY_BACKEND``, ``OSA_INVENTORY_NAME``, ``OSA_INVENTORY_LOCK_TIMEOUT``,
``OSA_INVENTORY_OPT_<OPTION>``), then command-line flags (``--backend``,
``--backend-option key=value``, ``--inventory-name``, ``--lock-timeout``).

An option ``X_env = VAR`` takes the value of X from the environment variable
VAR, and ``X_file = PATH`` from the file PATH, so that secrets need not sit in
osa.ini. Every value remembers where it came from, for ``config show``.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osa_inventory.errors import ConfigError

DEFAULT_INI = "/etc/ansible/osa.ini"
INI_ENV = "OSA_INVENTORY_CONFIG"
OPTION_ENV_PREFIX = "OSA_INVENTORY_OPT_"
DEFAULT_BACKEND = "file"
DEFAULT_NAME = "default"
DEFAULT_LOCK_TIMEOUT = 60.0
INVENTORY_FILE = "openstack_inventory.json"
SECRET_WORDS = ("password", "secret", "token", "key")
MASK = "********"


@dataclass(frozen=True)
class Value:
    value: Any
    source: str


@dataclass
class Settings:
    backend: Value
    name: Value
    lock_timeout: Value
    options: dict[str, Value] = field(default_factory=dict)
    ini_path: Path | None = None

    def backend_options(self) -> dict[str, Any]:
        return {key: item.value for key, item in self.options.items()}

    def rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) for display, secrets masked."""
        rows = [
            ("backend", str(self.backend.value), self.backend.source),
            ("name", str(self.name.value), self.name.source),
            ("lock_timeout", f"{self.lock_timeout.value:g}", self.lock_timeout.source),
        ]
        for key in sorted(self.options):
            item = self.options[key]
            shown = MASK if is_secret(key) else str(item.value)
            rows.append((f"option {key}", shown, item.source))
        return rows


def is_secret(option: str) -> bool:
    return any(word in option.lower() for word in SECRET_WORDS)


def ini_path() -> Path:
    return Path(os.environ.get(INI_ENV) or DEFAULT_INI)


def _read_ini(path: Path) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(
        inline_comment_prefixes=(";", "#"), interpolation=None, default_section="__none__"
    )
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return None
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: {first_line}; fix the file (INI format)") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    unknown = [s for s in parser.sections() if s != "inventory" and not s.startswith("backend:")]
    if unknown:
        raise ConfigError(
            f"{path}: unknown section [{unknown[0]}]; use [inventory] and [backend:NAME]"
        )
    known_keys = {"backend", "name", "lock_timeout"}
    if parser.has_section("inventory"):
        extra = sorted(set(parser["inventory"]) - known_keys)
        if extra:
            raise ConfigError(
                f"{path}: unknown key {extra[0]} in [inventory]; known: "
                f"{', '.join(sorted(known_keys))} (backend options go in [backend:NAME])"
            )
    return parser


def _parse_flag_options(pairs: Sequence[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--backend-option {pair!r}: write it as key=value")
        result[key.strip()] = value
    return result


def _resolve_references(options: dict[str, Value], env: Mapping[str, str]) -> dict[str, Value]:
    """Turn ``X_env``/``X_file`` options into X, read from the environment or a file."""
    resolved = dict(options)
    for key, item in options.items():
        for suffix in ("_env", "_file"):
            if not key.endswith(suffix) or len(key) == len(suffix):
                continue
            target = key[: -len(suffix)]
            del resolved[key]
            if suffix == "_env":
                if str(item.value) not in env:
                    raise ConfigError(
                        f"option {key} ({item.source}) names environment variable "
                        f"{item.value}, which is not set; export it"
                    )
                resolved[target] = Value(env[str(item.value)], f"env {item.value} via {key}")
            else:
                try:
                    text = Path(str(item.value)).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(
                        f"option {key} ({item.source}): cannot read {item.value} "
                        f"({exc.strerror}); fix the path or its permissions"
                    ) from exc
                resolved[target] = Value(text, f"file {item.value} via {key}")
    return resolved


def resolve_settings(
    config_dir: str | os.PathLike[str] | None = None,
    *,
    backend: str | None = None,
    backend_options: Sequence[str] = (),
    name: str | None = None,
    lock_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the settings for one command run."""
    env = os.environ if env is None else env
    path = Path(env.get(INI_ENV) or DEFAULT_INI)
    ini = _read_ini(path)
    where = f"{path}"

    def pick(key: str, env_key: str, flag: Any, default: Any) -> Value:
        if flag is not None:
            return Value(flag, f"--{key.replace('_', '-')}")
        if env.get(env_key):
            return Value(env[env_key], f"env {env_key}")
        if ini is not None and ini.has_option("inventory", key):
            return Value(ini.get("inventory", key), f"{where} [inventory]")
        return Value(default, "default")

    chosen = pick("backend", "OSA_INVENTORY_BACKEND", backend, DEFAULT_BACKEND)
    chosen_name = pick("name", "OSA_INVENTORY_NAME", name, DEFAULT_NAME)
    timeout = pick("lock_timeout", "OSA_INVENTORY_LOCK_TIMEOUT", lock_timeout, DEFAULT_LOCK_TIMEOUT)
    try:
        timeout = Value(float(timeout.value), timeout.source)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"lock_timeout {timeout.value!r} ({timeout.source}) is not a number of seconds"
        ) from exc

    options: dict[str, Value] = {}
    section = f"backend:{chosen.value}"
    if ini is not None and ini.has_section(section):
        for key, value in ini[section].items():
            options[key] = Value(value, f"{where} [{section}]")
    for key, value in env.items():
        if key.startswith(OPTION_ENV_PREFIX) and len(key) > len(OPTION_ENV_PREFIX):
            options[key[len(OPTION_ENV_PREFIX) :].lower()] = Value(value, f"env {key}")
    for key, value in _parse_flag_options(backend_options).items():
        options[key] = Value(value, "--backend-option")
    options = _resolve_references(options, env)

    if chosen.value == DEFAULT_BACKEND and "path" not in options and config_dir is not None:
        file_name = INVENTORY_FILE
        if chosen_name.value != DEFAULT_NAME:
            file_name = f"openstack_inventory.{chosen_name.value}.json"
        options["path"] = Value(str(Path(config_dir) / file_name), "default (--config)")
    return Settings(
        backend=Value(str(chosen.value), chosen.source),
        name=chosen_name,
        lock_timeout=timeout,
        options=options,
        ini_path=path if ini is not None else None,
    )
