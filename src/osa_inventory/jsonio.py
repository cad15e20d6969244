"""JSON serialisation of inventories, compatible with OpenStack-Ansible.

The stored file uses OSA's exact layout (``indent=4``, ``": "`` separators, sorted
keys, ASCII only, no trailing newline) so that diffs against files written by OSA
stay empty. ``--list`` prints the same layout, so the stored file and the output
are the same bytes on every backend (and the file backend can serve its bytes as
they are).

Python's ``json`` falls back to its pure-Python encoder when it indents, which
made encoding the largest cost of a run. When ``orjson`` is installed the layout
is built from its output instead (sorted keys, 2-space indent, re-indented to 4),
and used only when it is proven to be the same bytes: the compact encodings of
``orjson`` and of ``json``'s C encoder must be equal (same tokens: strings, escapes,
numbers, ``NaN``), and everything ``json`` would write differently (non-ASCII text,
DEL, integers beyond 64 bits, keys that are not strings, types ``json`` refuses)
sends the inventory to ``json`` itself.

Only floats are written differently by the two (``1e-07`` against ``1e-7``,
``NaN`` against ``null``); strings are escaped alike, which is checked once per
process on every ASCII character. So an inventory known to hold no float (see
:mod:`osa_inventory.floatcount`) skips the comparison with ``json``'s encoding,
the largest part of a changing write.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from osa_inventory.errors import StoreCorrupt

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["dumps_inventory", "dumps_inventory_bytes", "loads_inventory"]

_JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def dumps_inventory(inventory: dict[str, Any]) -> str:
    """Serialise ``inventory`` exactly as OSA writes ``openstack_inventory.json``."""
    return dumps_inventory_bytes(inventory).decode("ascii")


def dumps_inventory_bytes(inventory: Any, *, float_free: bool = False) -> bytes:
    """:func:`dumps_inventory` as the ASCII bytes that are written and printed.

    ``float_free``: the caller knows that ``inventory`` holds no float and
    nothing but JSON's own types (built from parsed data, see
    :mod:`osa_inventory.floatcount`); the fast encoder's output is then not
    compared with ``json``'s. Wrongly claimed, a float could be written as
    ``orjson`` writes it.
    """
    fast = _fast_dumps(inventory, float_free)
    if fast is not None:
        return fast
    return json_dumps_inventory(inventory).encode("ascii")


def json_dumps_inventory(inventory: Any) -> str:
    """The reference: OSA's layout from Python's own ``json``."""
    return json.dumps(inventory, indent=4, separators=(",", ": "), sort_keys=True)


#: two spaces (a regular expression finds them several times faster than ``in``)
_TWO_SPACES = re.compile(b"  ")

#: the fast encoder, imported on first use (reads never pay for it); None: not installed
orjson: ModuleType | bool | None = True


def fast_encoder() -> ModuleType | None:
    """orjson, imported on first use; None when it is not installed."""
    global orjson
    if orjson is True:
        try:
            import orjson as module
        except ImportError:  # pragma: no cover - a dependency; json alone still works
            orjson = None
        else:
            orjson = module
    return None if isinstance(orjson, bool) else orjson


def _fast_dumps(value: Any, float_free: bool = False) -> bytes | None:
    """OSA's layout from orjson, or None when it cannot be proven equal to ``json``'s."""
    orjson = fast_encoder()
    if orjson is None or not _escapes_agree(orjson):
        return None
    options = (
        orjson.OPT_SORT_KEYS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
    )
    try:
        compact = orjson.dumps(value, option=options)
    except TypeError:  # orjson.JSONEncodeError: big integers, non-string keys, other types
        return None
    if not compact.isascii() or b"\x7f" in compact:  # json escapes these (ensure_ascii)
        return None
    if not float_free or _verifying_claims():  # the proof: json's C encoder, the same tokens
        reference = json.dumps(value, separators=(",", ":"), sort_keys=True, check_circular=False)
        if compact != reference.encode("ascii"):
            if float_free:
                raise RuntimeError(
                    "internal error: an inventory claimed to hold no float encodes unlike json"
                )
            return None
        del reference
    indented = orjson.dumps(value, option=options | orjson.OPT_INDENT_2)
    if _TWO_SPACES.search(compact):  # in a string: only newlines mark the indentation
        return _double_indent_by_level(indented)
    del compact
    # No string holds two spaces, so every pair of spaces is one level of indentation
    # (the only other space is the single one after a colon): doubling pairs doubles it.
    return indented.replace(b"  ", b"    ")


#: set (to anything) to prove even a float-free inventory, failing loudly when the claim is
#: wrong: the test suite sets it, so that every inventory it writes checks the claim
VERIFY_CLAIMS_ENV = "OSA_INVENTORY_VERIFY_FLOAT_FREE"


def _verifying_claims() -> bool:
    import os

    return bool(os.environ.get(VERIFY_CLAIMS_ENV))


#: every ASCII character but DEL (which the caller refuses), in a key and in a value
_ALL_ASCII = "".join(map(chr, range(127)))
_escapes_checked: bool | None = None


def _escapes_agree(orjson: ModuleType) -> bool:
    """Whether orjson escapes every ASCII character as ``json`` does (checked once)."""
    global _escapes_checked
    if _escapes_checked is None:
        sample = {_ALL_ASCII: [_ALL_ASCII, ""]}
        ours = orjson.dumps(sample)
        _escapes_checked = ours == json.dumps(sample, separators=(",", ":")).encode("ascii")
    return _escapes_checked


def _double_indent_by_level(data: bytes) -> bytes:
    """Double the indentation of every line (JSON text: newlines occur only between tokens)."""
    widths = {len(m) for m in re.findall(rb"\n( +)", data)}
    for width in sorted(widths, reverse=True):  # deepest first; \0 marks a line done
        data = data.replace(b"\n" + b" " * width, b"\n\0" + b" " * (2 * width - 1))
    return data.replace(b"\n\0", b"\n ")


def loads_inventory(text: str, source: str) -> dict[str, Any]:
    """Parse an inventory read from ``source`` (a path or name, used in messages).

    Raises :class:`StoreCorrupt` when ``text`` is not JSON or not a JSON object.
    """
    hint = "restore a good copy, e.g. from backup_openstack_inventory.tar next to it"
    from osa_inventory.floatcount import json_constant, json_float

    try:
        data = json.loads(text, parse_float=json_float, parse_constant=json_constant)
    except json.JSONDecodeError as exc:
        raise StoreCorrupt(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); {hint}"
        ) from exc
    except RecursionError as exc:
        raise StoreCorrupt(f"{source}: invalid JSON (nested too deeply); {hint}") from exc
    if not isinstance(data, dict):
        raise StoreCorrupt(
            f"{source}: top-level JSON value is {_JSON_TYPES.get(type(data), 'null')}, "
            f"not an object; {hint}"
        )
    return data
