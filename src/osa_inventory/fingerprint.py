"""A digest of everything the generator reads, to skip generation when nothing changed.

It covers ``openstack_user_config.yml``, ``conf.d/``, the base ``env.d/`` and the
config dir's ``env.d/`` (names and bytes, in sorted order) and the generator's
version. Reading and hashing a few hundred kilobytes costs milliseconds, much
less than parsing YAML and generating.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from osa_inventory import __version__

YAML_SUFFIXES = (".yml", ".yaml")
USER_CONFIG_NAME = "openstack_user_config.yml"
#: bump when the generator's output for the same input changes
GENERATOR_FORMAT = 1


def yaml_files(directory: Path) -> list[Path]:
    """The ``*.yml``/``*.yaml`` files in ``directory`` and below, sorted by relative path."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: p.relative_to(directory).parts)


def input_fingerprint(
    config_dir: str | os.PathLike[str], environment_dir: str | os.PathLike[str] | None
) -> str:
    """SHA-256 over the generator's inputs; '' when the user config is unreadable."""
    config = Path(config_dir)
    digest = hashlib.sha256(f"osa-inventory {__version__} {GENERATOR_FORMAT}\0".encode())
    sources = [("config", config / USER_CONFIG_NAME)]
    sources += [("conf.d", p) for p in yaml_files(config / "conf.d")]
    if environment_dir is not None:
        sources += [("env.d", p) for p in yaml_files(Path(environment_dir) / "env.d")]
    sources += [("config env.d", p) for p in yaml_files(config / "env.d")]
    for label, path in sources:
        try:
            data = path.read_bytes()
        except OSError:
            return ""
        digest.update(f"{label}\0{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
