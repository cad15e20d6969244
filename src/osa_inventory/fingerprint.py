"""A digest of everything the generator reads, to skip generation when nothing changed.

It covers ``openstack_user_config.yml``, ``conf.d/``, the base ``env.d/`` and the
config dir's ``env.d/`` (names and bytes, in sorted order) and the generator's
version. Reading and hashing a few hundred kilobytes costs milliseconds, much
less than parsing YAML and generating.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

from osa_inventory._version import __version__

if TYPE_CHECKING:
    from pathlib import Path

YAML_SUFFIXES = (".yml", ".yaml")
USER_CONFIG_NAME = "openstack_user_config.yml"
#: bump when the generator's output for the same input changes
GENERATOR_FORMAT = 1


def yaml_files(directory: Path) -> list[Path]:
    """The ``*.yml``/``*.yaml`` files in ``directory`` and below, sorted by relative path."""
    from pathlib import Path

    return [Path(directory, *parts) for parts in _yaml_parts(str(directory))]


def _yaml_parts(directory: str) -> list[tuple[str, ...]]:
    """Relative path parts of the YAML files under ``directory`` (os.scandir: no pathlib)."""
    found: list[tuple[str, ...]] = []
    pending: list[tuple[str, tuple[str, ...]]] = [(directory, ())]
    while pending:
        folder, prefix = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir():
                pending.append((entry.path, (*prefix, entry.name)))
            elif entry.name.endswith(YAML_SUFFIXES) and entry.is_file():
                found.append((*prefix, entry.name))
    return sorted(found)


def input_fingerprint(
    config_dir: str | os.PathLike[str], environment_dir: str | os.PathLike[str] | None
) -> str:
    """SHA-256 over the generator's inputs; '' when the user config is unreadable."""
    config = os.fspath(config_dir)
    digest = hashlib.sha256(f"osa-inventory {__version__} {GENERATOR_FORMAT}\0".encode())
    sources = [("config", os.path.join(config, USER_CONFIG_NAME))]
    folders = [("conf.d", os.path.join(config, "conf.d"))]
    if environment_dir is not None:
        folders.append(("env.d", os.path.join(os.fspath(environment_dir), "env.d")))
    folders.append(("config env.d", os.path.join(config, "env.d")))
    for label, folder in folders:
        sources += [(label, os.path.join(folder, *parts)) for parts in _yaml_parts(folder)]
    for label, path in sources:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return ""
        name = os.path.relpath(path, config) if label != "env.d" else os.path.basename(path)
        digest.update(f"{label}\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
