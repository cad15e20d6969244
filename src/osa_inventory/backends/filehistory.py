"""The file backend's history document, checked before anything trusts it.

``openstack_inventory.history.json`` is plain JSON that an editor, a bad
restore or a disk fault may leave in any shape. :func:`parse_history` accepts
only what the file backend writes and turns anything else into one
:class:`~osa_inventory.errors.HistoryCorrupt` naming the key, so no command
ends in a traceback and readers can still serve the (intact) inventory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from osa_inventory.errors import HistoryCorrupt

#: optional entry keys and the JSON types they must have
_ENTRY_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "time": ((int, float), "a number"),
    "user": ((str,), "a string"),
    "host": ((str,), "a string"),
    "command": ((str,), "a string"),
    "message": ((str,), "a string"),
    "member": ((str, type(None)), "a string"),
    "canonical": ((bool,), "true or false"),
    "fingerprint": ((str,), "a string"),
}


def parse_history(data: bytes, path: Path) -> dict[str, Any]:
    """The history document in ``data``; HistoryCorrupt when it is not one."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise _corrupt(path, str(exc) or type(exc).__name__) from exc
    problem = _problem(document)
    if problem:
        raise _corrupt(path, problem)
    return document


def _corrupt(path: Path, problem: str) -> HistoryCorrupt:
    return HistoryCorrupt(f"{path} is unreadable ({problem}); move it aside to start a new history")


def _problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "not a JSON object"
    if not isinstance(document.get("lineage", ""), str | None):
        return "lineage is not a string"
    versions = document.get("versions", [])
    if not isinstance(versions, list):
        return "versions is not a list"
    previous = 0
    for index, entry in enumerate(versions):
        problem = _entry_problem(entry)
        if problem is None and entry["version"] <= previous:
            problem = "versions out of order"
        if problem:
            return f"versions[{index}]: {problem}"
        previous = entry["version"]
    return None


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    version = entry.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return "version is not a number of 1 or more"
    sha = entry.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        return "sha256 is missing or not a SHA-256 digest"
    for key, (kinds, what) in _ENTRY_TYPES.items():
        if key in entry and not _is(entry[key], kinds):
            return f"{key} is not {what}"
    warnings = entry.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        return "warnings is not a list of strings"
    replaces = entry.get("replaces")
    if replaces is not None and not (
        isinstance(replaces, list)
        and len(replaces) == 2
        and all(_is(number, (int,)) for number in replaces)
    ):
        return "replaces is not a pair of numbers"
    return None


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    """isinstance, except that true/false is not a number."""
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)
