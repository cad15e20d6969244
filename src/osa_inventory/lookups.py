"""Inventory values that Ansible would execute.

Ansible renders the Jinja in every inventory value it uses, on every machine
that reads the inventory (with ``compose:`` even during ``ansible-inventory
--list``). osa-inventory never renders anything, but a value such as
``{{ lookup('pipe', 'id') }}`` stored once runs on every reader of a shared
store. This module finds such values: Jinja (``{{ }}`` or ``{% %}``) that calls
a lookup (``lookup``, ``query``, ``q``, which include ``pipe``), names the
``pipe`` plugin, or reaches Python internals (``__class__`` and friends, the
way out of any Jinja environment).

The front end refuses to write a new value like that unless
``allow_jinja_lookups`` is set (docs/security.md); ``doctor`` reports those
already stored. Only values that changed are scanned, and a text without
``{{``/``{%`` costs one substring search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["MARKERS", "Finding", "executable_values", "marked", "may_execute"]

MARKERS = ("{{", "{%")
#: either marker, as bytes (one regular-expression pass finds both, several times faster
#: on a large text than two substring searches: ``{`` is common in JSON)
_MARKER_BYTES_RE = re.compile(rb"\{[{%]")
_BLOCK_RE = re.compile(r"\{\{.*?(?:\}\}|$)|\{%.*?(?:%\}|$)", re.DOTALL)
_EXECUTES_RE = re.compile(r"\b(?:lookup|query|q)\s*\(|\bpipe\b|__")
SHOWN_CHARS = 80

Finding = tuple[str, str]  # (where, value)


def may_execute(text: str) -> bool:
    """Whether Ansible, rendering ``text``, would run a lookup or reach Python internals."""
    if "{{" not in text and "{%" not in text:
        return False
    return any(_EXECUTES_RE.search(block.group()) for block in _BLOCK_RE.finditer(text))


def marked(data: bytes) -> bool:
    """Whether serialised text ``data`` holds ``{{`` or ``{%`` anywhere."""
    return _MARKER_BYTES_RE.search(data) is not None


def _has_marker(value: Any) -> bool:
    """Whether any text in ``value`` holds ``{{`` or ``{%`` (serialised in C: fast).

    JSON puts ``{`` next to ``{`` or ``%`` only inside a string, so the serialisation
    holds a marker exactly when some key or value does.
    """
    from osa_inventory.jsonio import fast_encoder

    orjson = fast_encoder()
    if orjson is not None:
        try:
            data = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # integers beyond 64 bits, say: json below tells
            pass
        else:
            return marked(data)
    import json

    text = json.dumps(value, ensure_ascii=False, default=str)
    return "{{" in text or "{%" in text


def _strings(value: Any, where: str) -> Iterator[Finding]:
    if isinstance(value, str):
        if may_execute(value):
            yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and may_execute(key):
                yield where, key
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def executable_values(
    inventory: Mapping[str, Any], base: Mapping[str, Any] | None = None
) -> list[Finding]:
    """(where, value) of every value of ``inventory`` Ansible would execute.

    With ``base`` (the inventory it replaces) only the hosts, groups and keys
    that differ from it are scanned.
    """
    if not _has_marker(inventory):  # the common case: no Jinja at all, one pass in C
        return []
    base = base or {}
    found: list[Finding] = []
    meta = inventory.get("_meta")
    hostvars = meta.get("hostvars") if isinstance(meta, Mapping) else None
    base_meta = base.get("_meta")
    base_hostvars = base_meta.get("hostvars") if isinstance(base_meta, Mapping) else None
    if isinstance(hostvars, Mapping):
        old = base_hostvars if isinstance(base_hostvars, Mapping) else {}
        for host, variables in hostvars.items():
            if old.get(host) != variables and _has_marker(variables):
                found += _strings(variables, f"host {host}")
    for key, value in inventory.items():
        if key != "_meta" and base.get(key) != value and _has_marker(value):
            found += _strings(value, f"group {key}" if isinstance(value, Mapping) else key)
    return found


def describe(findings: list[Finding]) -> str:
    """The first finding, and how many more, for a one-line message."""
    where, value = findings[0]
    shown = value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 3] + "..."
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{where} = {shown!r}{more}"
