"""Plain ASCII tables drawn exactly as OSA's ``inventory-manage.py`` prints them.

OSA draws with prettytable, every column left-aligned::

    +--------+----------+
    | groups | hosts    |
    +--------+----------+
    | a_all  | infra1   |
    |        | infra2   |
    +--------+----------+

A cell is ``str(value)`` (so ``None`` and ``True`` appear as such); a cell with
newlines spans several lines. Scripts parse this output, so the layout is kept
byte for byte; an empty table is its header followed by two rules, as there.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _lines(value: Any) -> list[str]:
    return str(value).split("\n")


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The table as text, without a final newline."""
    cells = [[_lines(value) for value in row] for row in rows]
    widths = [max(_width(line) for line in _lines(h)) for h in headers]
    for row in cells:
        for index, lines in enumerate(row):
            widths[index] = max(widths[index], *(_width(line) for line in lines))
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"

    def text_rows(row: list[list[str]]) -> list[str]:
        height = max((len(lines) for lines in row), default=1)
        out = []
        for y in range(height):
            parts = []
            for lines, width in zip(row, widths, strict=True):
                line = lines[y] if y < len(lines) else ""
                parts.append(" " + line + " " * (width - _width(line)) + " ")
            out.append("|" + "|".join(parts) + "|")
        return out

    result = [rule, *text_rows([_lines(h) for h in headers]), rule]
    for row in cells:
        result.extend(text_rows(row))
    result.append(rule)
    return "\n".join(result)
