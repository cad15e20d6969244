"""Settings: which backend, with which options, from where.

Precedence, lowest first: built-in defaults, ``/etc/ansible/osa.ini`` (path
overridable by ``OSA_INVENTORY_CONFIG``), environment variables
(``OSA_INVENTORY_BACKEND``, ``OSA_INVENTORY_NAME``, ``OSA_INVENTORY_LOCK_TIMEOUT``,
``OSA_INVENTORY_CACHE_TTL``, ``OSA_INVENTORY_ALLOW_JINJA_LOOKUPS``,
``OSA_INVENTORY_ENCRYPTION_KEY_FILE``/``_ENV``, ``OSA_INVENTORY_OPT_<OPTION>``),
then command-line flags (``--backend``, ``--backend-option key=value``,
``--inventory-name``, ``--lock-timeout``, ``--cache-ttl``, ``--encryption-key-file``).

An option ``X_env = VAR`` takes the value of X from the environment variable
VAR, and ``X_file = PATH`` from the file PATH, so that secrets need not sit in
osa.ini. Every value remembers where it came from, for ``config show``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from osa_inventory.defaults import DEFAULT_LOCK_TIMEOUT
from osa_inventory.errors import ConfigError
from osa_inventory.redact import MASK, SECRET_WORDS, looks_secret, mask_url_password, remember

__all__ = ["MASK", "SECRET_WORDS", "Settings", "Value", "is_secret", "mask_url_password"]

if TYPE_CHECKING:
    import configparser
    from pathlib import Path

DEFAULT_INI = "/etc/ansible/osa.ini"
INI_ENV = "OSA_INVENTORY_CONFIG"
OPTION_ENV_PREFIX = "OSA_INVENTORY_OPT_"
DEFAULT_BACKEND = "file"
DEFAULT_NAME = "default"
#: how old (seconds) the local copy of a network backend's inventory may be when served
#: because the backend is unreachable; 0 turns the local cache off (see store/cache.py)
DEFAULT_CACHE_TTL = 86400.0
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class Value(NamedTuple):
    value: Any
    source: str
    line: int | None = None  # where in osa.ini, for a value read from there

    @property
    def origin(self) -> str:
        """Where the value came from, for messages: its source and, in osa.ini, its line."""
        return f"{self.source}, line {self.line}" if self.line else self.source


@dataclass
class Settings:
    """The settings of one command run, each value with where it came from."""

    backend: Value
    name: Value
    lock_timeout: Value
    options: dict[str, Value] = field(default_factory=dict)
    ini_path: Path | None = None
    cache_ttl: Value = field(default_factory=lambda: Value(DEFAULT_CACHE_TTL, "default"))
    #: store values that make Ansible run lookups (see osa_inventory.lookups)
    allow_jinja_lookups: Value = field(default_factory=lambda: Value(False, "default"))
    #: where the encryption keys are (a :class:`~osa_inventory.sealing.KeyRef`), or None
    encryption_key: Value = field(default_factory=lambda: Value(None, "default"))

    def backend_options(self) -> dict[str, Any]:
        return {key: item.value for key, item in self.options.items()}

    def rows(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) for display, secrets masked."""
        rows = [
            ("backend", str(self.backend.value), self.backend.source),
            ("name", str(self.name.value), self.name.source),
            ("lock_timeout", f"{self.lock_timeout.value:g}", self.lock_timeout.source),
        ]
        from osa_inventory.store import registry  # what only the backend knows

        backend = str(self.backend.value)
        if self.cache_ttl.source != "default" or registry.is_network(backend):
            rows.append(("cache_ttl", f"{self.cache_ttl.value:g}", self.cache_ttl.source))
        if self.allow_jinja_lookups.source != "default":
            allowed = "true" if self.allow_jinja_lookups.value else "false"
            rows.append(("allow_jinja_lookups", allowed, self.allow_jinja_lookups.source))
        ref = self.encryption_key.value
        if ref is not None:  # where the key is, never the key
            rows.append((f"encryption_key_{ref.kind}", ref.where, self.encryption_key.source))
        from osa_inventory.redact import shown_option

        schema = registry.option_schema(backend) if self.options else None
        for key in sorted(self.options):
            shown = shown_option(key, self.options[key].value, schema)
            rows.append((f"option {key}", shown, self.options[key].source))
        return rows


def is_secret(option: str) -> bool:
    """Whether an option's name looks secret (for a backend whose schema is unknown)."""
    return looks_secret(option)


def remember_secrets(backend: str, options: Mapping[str, Value]) -> None:
    """Have every text this process shows or records mask the secret option values."""
    from osa_inventory.redact import option_is_secret
    from osa_inventory.store.registry import option_schema

    schema = option_schema(backend)
    for key, item in options.items():
        if option_is_secret(key, schema):
            remember(item.value)


def ini_path() -> Path:
    return _as_path(_ini_file(os.environ))


def _ini_file(env: Mapping[str, str]) -> str:
    return env.get(INI_ENV) or DEFAULT_INI


def _read_ini(path: str) -> configparser.ConfigParser | None:
    if not os.path.exists(path):  # the common case: skip importing configparser
        return None
    import configparser

    parser = configparser.ConfigParser(
        inline_comment_prefixes=(";", "#"), interpolation=None, default_section="__none__"
    )
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        return None
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(
            f"{path}: line {exc.lineno}: {exc.line.strip()!r} is outside any section; "
            "put settings under [inventory] or [backend:NAME]"
        ) from exc
    except configparser.ParsingError as exc:
        lineno, line = exc.errors[0]
        raise ConfigError(
            f"{path}: line {lineno}: cannot parse {line.strip()!r}; write key = value "
            "under a [section]"
        ) from exc
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: {first_line}; fix the file (INI format)") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    unknown = [s for s in parser.sections() if s != "inventory" and not s.startswith("backend:")]
    if unknown:
        raise ConfigError(
            f"{path}: unknown section [{unknown[0]}]; use [inventory] and [backend:NAME]"
        )
    known_keys = {"backend", "name", "lock_timeout", "cache_ttl", "allow_jinja_lookups"}
    known_keys |= set(ENCRYPTION_KEYS)
    if parser.has_section("inventory"):
        extra = sorted(set(parser["inventory"]) - known_keys)
        if extra:
            raise ConfigError(
                f"{path}: unknown key {extra[0]} in [inventory]; known: "
                f"{', '.join(sorted(known_keys))} (backend options go in [backend:NAME])"
            )
    return parser


def _ini_lines(path: str) -> dict[tuple[str, str], int]:
    """The line of every ``key = value`` in osa.ini, by (section, lower-case key)."""
    lines: dict[tuple[str, str], int] = {}
    section = ""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return lines
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or line[0].isspace():
            continue
        if stripped.startswith("[") and "]" in stripped:
            section = stripped[1 : stripped.index("]")].strip()
            continue
        key = re.split(r"[=:]", stripped, maxsplit=1)[0].strip().lower()
        lines.setdefault((section, key), number)
    return lines


def parse_pairs(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """``key=value`` strings as a dict; a one-line error naming ``flag`` otherwise."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {pair!r}: write it as key=value")
        result[key.strip()] = value
    return result


def resolve_references(
    options: dict[str, Value], env: Mapping[str, str] | None = None
) -> dict[str, Value]:
    """Options of one layer with every ``X_env``/``X_file`` turned into X (see below)."""
    return _resolve_references(options, os.environ if env is None else env)


def _resolve_references(options: dict[str, Value], env: Mapping[str, str]) -> dict[str, Value]:
    """Turn ``X_env``/``X_file`` options into X, read from the environment or a file.

    ``options`` are those of one layer (osa.ini, environment or flags), so that a
    higher layer's X, given directly or by reference, beats a lower layer's.
    """
    resolved = dict(options)
    for key, item in options.items():
        for suffix in ("_env", "_file"):
            if not key.endswith(suffix) or len(key) == len(suffix):
                continue
            target = key[: -len(suffix)]
            if target in resolved:
                other = target if target in options else f"another reference to {target}"
                raise ConfigError(
                    f"option {key} ({item.origin}) conflicts with {other} "
                    f"({resolved[target].origin}); give {target} one way only"
                )
            del resolved[key]
            if suffix == "_env":
                if str(item.value) not in env:
                    raise ConfigError(
                        f"option {key} ({item.origin}) names environment variable "
                        f"{item.value}, which is not set; export it"
                    )
                resolved[target] = Value(env[str(item.value)], f"env {item.value} via {key}")
            else:
                try:
                    with open(str(item.value), encoding="utf-8") as handle:
                        text = handle.read().strip()
                except OSError as exc:
                    raise ConfigError(
                        f"option {key} ({item.origin}): cannot read {item.value} "
                        f"({exc.strerror}); fix the path or its permissions"
                    ) from exc
                except UnicodeDecodeError as exc:
                    raise ConfigError(
                        f"option {key} ({item.source}): {item.value} is not UTF-8 text; "
                        "save it as UTF-8"
                    ) from exc
                resolved[target] = Value(text, f"file {item.value} via {key}")
    return resolved


def option_layer(options: Mapping[str, str], source: str) -> dict[str, Value]:
    """Options given together outside osa.ini (a URL, ``--to-option`` flags), from
    ``source``, with X_env/X_file resolved."""
    layer = {key: Value(value, source) for key, value in options.items()}
    return _resolve_references(layer, os.environ)


def resolve_settings(
    config_dir: str | os.PathLike[str] | None = None,
    *,
    backend: str | None = None,
    backend_options: Sequence[str] = (),
    name: str | None = None,
    lock_timeout: float | None = None,
    cache_ttl: float | None = None,
    env: Mapping[str, str] | None = None,
    option_flag: str = "--backend-option",
    encryption_key_file: str | None = None,
) -> Settings:
    """Resolve the settings for one command run.

    ``backend_options`` are ``key=value`` flags, named ``option_flag`` in messages.
    """
    env = os.environ if env is None else env
    path = _ini_file(env)
    ini = _read_ini(path)
    lines = _ini_lines(path) if ini is not None else {}
    where = f"{path}"

    def pick(key: str, env_key: str, flag: Any, default: Any, flag_name: str = "") -> Value:
        if flag is not None:
            return Value(flag, flag_name or f"--{key.replace('_', '-')}")
        if env.get(env_key):
            return Value(env[env_key], f"env {env_key}")
        if ini is not None and ini.has_option("inventory", key):
            line = lines.get(("inventory", key))
            return Value(ini.get("inventory", key), f"{where} [inventory]", line)
        return Value(default, "default")

    chosen = pick("backend", "OSA_INVENTORY_BACKEND", backend, DEFAULT_BACKEND)
    chosen_name = pick("name", "OSA_INVENTORY_NAME", name, DEFAULT_NAME, "--inventory-name")
    if not NAME_RE.fullmatch(str(chosen_name.value)):
        raise ConfigError(
            f"inventory name {chosen_name.value!r} ({chosen_name.origin}): use letters, digits, "
            "'.', '_' and '-', starting with a letter or digit"
        )
    timeout = _seconds(
        pick("lock_timeout", "OSA_INVENTORY_LOCK_TIMEOUT", lock_timeout, DEFAULT_LOCK_TIMEOUT),
        "lock_timeout",
    )
    ttl = _seconds(
        pick("cache_ttl", "OSA_INVENTORY_CACHE_TTL", cache_ttl, DEFAULT_CACHE_TTL), "cache_ttl"
    )
    lookups = _boolean(
        pick("allow_jinja_lookups", "OSA_INVENTORY_ALLOW_JINJA_LOOKUPS", None, False),
        "allow_jinja_lookups",
    )

    section = f"backend:{chosen.value}"
    from_ini: dict[str, Value] = {}
    if ini is not None and ini.has_section(section):
        for key, value in ini[section].items():
            from_ini[key] = Value(value, f"{where} [{section}]", lines.get((section, key)))
    from_env: dict[str, Value] = {}
    for key, value in env.items():
        if key.startswith(OPTION_ENV_PREFIX) and len(key) > len(OPTION_ENV_PREFIX):
            from_env[key[len(OPTION_ENV_PREFIX) :].lower()] = Value(value, f"env {key}")
    from_flags = {
        key: Value(value, option_flag)
        for key, value in parse_pairs(backend_options, option_flag).items()
    }
    options: dict[str, Value] = {}
    for layer in (from_ini, from_env, from_flags):
        options.update(_resolve_references(layer, env))

    from osa_inventory.store.registry import default_options  # what only the backend knows

    directory = None if config_dir is None else os.fspath(config_dir)
    for key, value in default_options(str(chosen.value), directory, str(chosen_name.value)).items():
        options.setdefault(key, Value(value, "default (--config)"))
    remember_secrets(str(chosen.value), options)
    return Settings(
        backend=Value(str(chosen.value), chosen.source, chosen.line),
        name=chosen_name,
        lock_timeout=timeout,
        options=options,
        ini_path=_as_path(path) if ini is not None else None,
        cache_ttl=ttl,
        allow_jinja_lookups=lookups,
        encryption_key=encryption_setting(env, encryption_key_file),
    )


def _as_path(path: str) -> Path:
    from pathlib import Path  # on first use: resolving settings needs no pathlib

    return Path(path)


def lookups_setting(env: Mapping[str, str] | None = None) -> Value:
    """``allow_jinja_lookups`` from the environment or osa.ini, for a store named by a URL
    (a policy of the host, not a part of the location)."""
    env = os.environ if env is None else env
    key, env_key = "allow_jinja_lookups", "OSA_INVENTORY_ALLOW_JINJA_LOOKUPS"
    if env.get(env_key):
        return _boolean(Value(env[env_key], f"env {env_key}"), key)
    path = _ini_file(env)
    ini = _read_ini(path)
    if ini is not None and ini.has_option("inventory", key):
        return _boolean(Value(ini.get("inventory", key), f"{path} [inventory]"), key)
    return Value(False, "default")


#: the [inventory] keys of osa.ini that say where the encryption keys are, by kind
ENCRYPTION_KEYS = {"encryption_key_file": "file", "encryption_key_env": "env"}


def encryption_setting(env: Mapping[str, str] | None = None, flag: str | None = None) -> Value:
    """Where the encryption keys are (a :class:`~osa_inventory.sealing.KeyRef` or None):
    ``--encryption-key-file``, else the environment, else osa.ini. Only the place is
    kept: the keys are read when the store is opened."""
    from osa_inventory.sealing import KeyRef

    env = os.environ if env is None else env
    if flag is not None:
        if not flag.strip():
            raise ConfigError("--encryption-key-file is empty; give the key file's path")
        return Value(KeyRef("file", flag), "--encryption-key-file")
    found = [
        Value(KeyRef(kind, env[variable]), f"env {variable}")
        for key, kind in ENCRYPTION_KEYS.items()
        if env.get(variable := f"OSA_INVENTORY_{key.upper()}")
    ]
    if not found:
        path = _ini_file(env)
        ini = _read_ini(path)
        if ini is not None:
            lines = _ini_lines(path)
            found = [
                Value(
                    KeyRef(kind, ini.get("inventory", key).strip()),
                    f"{path} [inventory]",
                    lines.get(("inventory", key)),
                )
                for key, kind in ENCRYPTION_KEYS.items()
                if ini.has_option("inventory", key) and ini.get("inventory", key).strip()
            ]
    if len(found) > 1:
        raise ConfigError(
            f"encryption_key_file ({found[0].origin}) and encryption_key_env "
            f"({found[1].origin}) are both set; give the keys one way only"
        )
    return found[0] if found else Value(None, "default")


def _boolean(item: Value, key: str) -> Value:
    """``item`` as a bool (true/false, yes/no, on/off, 1/0)."""
    if isinstance(item.value, bool):
        return item
    text = str(item.value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return Value(True, item.source)
    if text in ("0", "false", "no", "off"):
        return Value(False, item.source)
    raise ConfigError(f"{key} {item.value!r} ({item.source}) is not true or false")


def _seconds(item: Value, key: str) -> Value:
    """``item`` as a float of seconds, 0 or more."""
    try:
        seconds = float(item.value)
        if math.isnan(seconds) or seconds < 0:
            raise ValueError(item.value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{key} {item.value!r} ({item.origin}) is not a number of seconds (0 or more)"
        ) from exc
    return Value(seconds, item.source, item.line)
