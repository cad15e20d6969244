"""Changing a backend's retention in osa.ini.

Each backend says which option sets its retention and what it means
(``Store.retention()``: ``backup_keep`` for the file backend, ``retention`` for
the others that keep versions). :func:`set_ini_option` edits one line of
osa.ini and keeps the rest of the file (comments included) as it was.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from osa_inventory.errors import ConfigError
from osa_inventory.fileio import NotRegularFile, atomic_write

_SECTION_RE = re.compile(r"^\s*\[(?P<name>[^\]]+)\]")


def set_ini_option(path: Path, section: str, key: str, value: str) -> None:
    """Set ``key = value`` in ``[section]`` of an INI file, creating what is missing."""
    try:
        text = path.read_text(encoding="utf-8")
        like: os.stat_result | None = path.stat()
    except FileNotFoundError:
        text, like = "", None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    lines = text.splitlines()
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE)
    start = next((i for i, line in enumerate(lines) if _is_section(line, section)), None)
    new_line = f"{key} = {value}"
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{section}]", new_line]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if _SECTION_RE.match(lines[i])), len(lines)
        )
        found = next((i for i in range(start + 1, end) if key_re.match(lines[i])), None)
        if found is not None:
            lines[found] = new_line
        else:
            last = max((i for i in range(start, end) if lines[i].strip()), default=start)
            lines.insert(last + 1, new_line)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if not path.parent.is_dir():
        raise ConfigError(
            f"{path.parent} does not exist; create it, or point OSA_INVENTORY_CONFIG at "
            "another osa.ini"
        )
    try:  # a link to osa.ini is written through; /dev/null and the like are refused
        atomic_write(path, lambda f: f.write(data), like)
    except NotRegularFile as exc:
        raise ConfigError(
            f"{path} is {exc.strerror}; point OSA_INVENTORY_CONFIG at an osa.ini file to "
            "change settings"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _is_section(line: str, section: str) -> bool:
    match = _SECTION_RE.match(line)
    return match is not None and match.group("name").strip() == section
