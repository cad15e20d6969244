"""How many floats this process's parsers have built: the proof that data holds none.

Python's ``json`` and ``orjson`` write every JSON value alike but floats
(``1e-07`` against ``1e-7``, ``NaN`` against ``null``), so an inventory known to
hold no float can be written by ``orjson`` without checking its bytes against
``json``'s (see :mod:`osa_inventory.jsonio`). An inventory is known to hold none
when it was built, by the generator, from data parsed here (the YAML inputs and
the stored JSON) while this count did not move: every parser that feeds the
generator counts the floats it builds (YAML ``1.5``, ``.nan``, ``.inf``; JSON
``1.5``, ``NaN``, ``Infinity``), and the parsed-input cache keeps, beside a
parse, whether it held any. The generator itself builds strings, integers,
booleans, lists and mappings only.

The count only grows, and any thread may add to it, so a float parsed anywhere
in the process while data was being read only ever costs the check.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["built", "count", "json_constant", "json_float", "watch"]

_built = 0

_JSON_CONSTANTS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def count() -> int:
    """Floats built by this process's parsers so far."""
    return _built


def built(number: int = 1) -> None:
    """A parser built ``number`` floats (or restored a parse that held some)."""
    global _built
    _built += number


def json_float(text: str) -> float:
    """``parse_float`` for :func:`json.loads`: the float, counted."""
    built()
    return float(text)


def json_constant(name: str) -> float:
    """``parse_constant`` for :func:`json.loads` (``NaN``, ``Infinity``), counted."""
    built()
    return _JSON_CONSTANTS[name]


class Watch:
    """Whether any float was built while a :func:`watch` block ran."""

    def __init__(self) -> None:
        self.start = _built
        self.end: int | None = None

    @property
    def none_built(self) -> bool:
        """No float was built (in any thread) between the start and the end of the block."""
        return self.end is not None and self.end == self.start


@contextmanager
def watch() -> Iterator[Watch]:
    """Watch the count while the block runs: ``with watch() as seen: ...; seen.none_built``."""
    seen = Watch()
    yield seen
    seen.end = _built
