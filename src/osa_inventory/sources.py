"""Read the generator's inputs from disk: user config, conf.d and env.d.

Everything here is I/O; the generator itself (:mod:`osa_inventory.generate`) only
sees the merged dictionaries. Files are read in sorted order so that the result
never depends on the file system's directory order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osa_inventory.defaults import (  # noqa: F401 - re-exported
    DEFAULT_CONFIG_DIR,
    DEFAULT_OSA_ROOT,
    default_config_dir,
    default_environment_dir,
)
from osa_inventory.errors import ConfigError, YamlError
from osa_inventory.fingerprint import USER_CONFIG_NAME, yaml_files

if TYPE_CHECKING:
    from osa_inventory.parsecache import ParsedCache


@dataclass
class UserConfig:
    """The merged user configuration and, per top-level key, the file that set it."""

    data: dict[str, Any]
    origin: dict[str, str] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """Name the file a top-level key came from, for error messages."""
        return self.origin.get(key, USER_CONFIG_NAME)


def read_source(path: Path) -> bytes:
    """The bytes of one input file; a one-line ConfigError when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc


def parse_yaml(path: Path, data: bytes) -> Any:
    """Parse the bytes of one YAML file (UTF-8, any line ends, as a text file reads).

    A syntax error names the file, line and column. PyYAML is imported here, so
    that a run whose parse comes from the cache never imports it.
    """
    import yaml

    loader = _counting_loader()
    try:
        text = data.decode("utf-8")
        if "\r" in text:  # universal newlines, as open() in text mode
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise YamlError(
            f"{path}{position}: invalid YAML ({problem}); fix the syntax at that line"
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlError(f"{path}: invalid YAML ({exc}); fix the file") from exc
    except UnicodeDecodeError as exc:
        raise YamlError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc


_loader: type | None = None


def _counting_loader() -> type:
    """PyYAML's safe loader (libyaml's when built with it, several times faster) that
    counts the floats it builds (see :mod:`osa_inventory.floatcount`)."""
    global _loader
    if _loader is None:
        import yaml

        from osa_inventory.floatcount import built

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        def construct_float(loader: Any, node: Any) -> float:
            built()
            return float(yaml.constructor.SafeConstructor.construct_yaml_float(loader, node))

        counting: Any = type("FloatCountingLoader", (base,), {})
        counting.add_constructor("tag:yaml.org,2002:float", construct_float)
        _loader = counting
    return _loader


def load_yaml_file(path: Path) -> Any:
    """Parse one YAML file; a syntax error names the file, line and column."""
    return parse_yaml(path, read_source(path))


def parse_yaml_mapping(path: Path, data: bytes) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping (an empty file counts as ``{}``)."""
    parsed = parse_yaml(path, data)
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys to values, "
            f"not a {type(parsed).__name__}"
        )
    return parsed


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping (an empty file counts as ``{}``)."""
    return parse_yaml_mapping(path, read_source(path))


def merge_into(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into ``base`` with OSA's rules and return ``base``.

    A mapping merges key by key; anything else (list, scalar) replaces, and so
    does an empty mapping, which lets an override clear a section.
    """
    for key, value in update.items():
        current = base.get(key)
        if isinstance(value, dict) and value and isinstance(current, dict):
            merge_into(current, value)
        else:
            base[key] = value
    return base


def load_user_config(
    config_dir: str | os.PathLike[str], cache: ParsedCache | None = None
) -> UserConfig:
    """Read ``openstack_user_config.yml`` and merge ``conf.d/*.yml`` over it.

    With a ``cache`` a file whose bytes were parsed before is not parsed again
    (see :mod:`osa_inventory.parsecache`); file by file, so that editing one
    conf.d file costs the parse of that file alone.
    """
    root = Path(config_dir)
    main_file = root / USER_CONFIG_NAME
    if not main_file.is_file():
        raise ConfigError(
            f"{main_file} not found: point --config (or OSA_CONFIG_DIR) at the directory "
            f"that holds {USER_CONFIG_NAME}"
        )
    data: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for index, path in enumerate([main_file, *yaml_files(root / "conf.d")]):
        raw = read_source(path)
        if cache is None:
            part = parse_yaml_mapping(path, raw)
        else:  # a parse depends on the bytes alone: the same file anywhere shares it
            parse = partial(parse_yaml_mapping, path, raw)
            part = cache.load("file", [("", raw)], parse, dict)
        if index == 0:
            data = part
        else:
            merge_into(data, part)
        origin.update(dict.fromkeys(part, str(path)))
    return UserConfig(data=data, origin=origin)


def load_environment(
    environment_dir: str | os.PathLike[str] | None,
    config_dir: str | os.PathLike[str] | None = None,
    cache: ParsedCache | None = None,
) -> dict[str, Any]:
    """Merge the base ``env.d`` and then the config dir's own ``env.d`` over it.

    ``environment_dir`` is the folder that holds ``env.d`` (OSA's ``inventory``
    directory); a missing base env.d is an error because nothing could be built.
    With a ``cache`` an unchanged set of files is not parsed again.
    """
    base_dirs = []
    if environment_dir is not None:
        base = Path(environment_dir) / "env.d"
        if not base.is_dir():
            raise ConfigError(
                f"{base} not found: point --environment (or OSA_ROOT) at the directory "
                "that holds OSA's env.d (e.g. /opt/openstack-ansible/inventory)"
            )
        base_dirs.append(base)
    if config_dir is not None:
        base_dirs.append(Path(config_dir) / "env.d")
    seen: set[Path] = set()
    files: list[Path] = []
    sources: list[tuple[str, bytes]] = []  # named by folder (0: base) and relative path
    for number, directory in enumerate(base_dirs):
        resolved = directory.resolve()
        if resolved in seen:  # the same folder twice adds nothing
            continue
        seen.add(resolved)
        found = yaml_files(directory)
        files += found
        sources += [
            (f"{number}/{path.relative_to(directory)}", read_source(path)) for path in found
        ]

    def parse() -> dict[str, Any]:
        environment: dict[str, Any] = {}
        for path, (_, raw) in zip(files, sources, strict=True):
            merge_into(environment, parse_yaml_mapping(path, raw))
        return environment

    return parse() if cache is None else cache.load("env.d", sources, parse, dict)
