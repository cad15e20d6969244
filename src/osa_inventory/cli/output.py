"""Command output: rich tables and colour on a terminal, plain text in a pipe, JSON or YAML.

Every operator command takes ``--format table|json|yaml``. ``table`` is for
people: a rich table when stdout is a terminal (or ``FORCE_COLOR`` is set),
aligned plain text otherwise, so that pipes and logs get no escape codes.
``json`` and ``yaml`` print the same data for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import IO, Any

from osa_inventory.words import plural

__all__ = ["FORMATS", "Output", "add_format_flag", "dumps", "plain_data", "plural"]
FORMATS = ("table", "json", "yaml")
UNBOUNDED = 1_000_000  # columns: to measure a table's own width


def add_format_flag(
    parser: argparse.ArgumentParser, choices: Sequence[str] = FORMATS, default: str = "table"
) -> None:
    parser.add_argument(
        "--format",
        choices=choices,
        default=default,
        help=f"output format (default: {default})",
    )


def plain_data(value: Any) -> Any:
    """``value`` as plain JSON types (tuples to lists, anything else to str)."""
    return json.loads(json.dumps(value, default=str))


def dumps(value: Any, fmt: str) -> str:
    """``value`` as JSON (indented) or YAML text, ending with a newline."""
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(
            plain_data(value), sort_keys=False, default_flow_style=False, allow_unicode=True
        )
    return json.dumps(value, indent=2, default=str) + "\n"


class Output:
    """Where and how one command prints."""

    def __init__(self, fmt: str = "table", file: IO[str] | None = None) -> None:
        self.format = fmt
        self.file = file if file is not None else sys.stdout
        self._console: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.file, highlight=False)
        return self._console

    @property
    def terminal(self) -> bool:
        """Whether rich may draw (a terminal, or colour forced by the environment)."""
        return bool(self.console.is_terminal)

    @property
    def structured(self) -> bool:
        return self.format in ("json", "yaml")

    def data(self, value: Any) -> None:
        """Print ``value`` as JSON or YAML (JSON when the format is ``table``)."""
        self.file.write(dumps(value, "yaml" if self.format == "yaml" else "json"))

    def line(self, text: str = "", style: str | None = None) -> None:
        """One line of text, in ``style`` (a rich style such as "green") on a terminal."""
        if style and self.terminal:
            from rich.text import Text

            self.console.print(Text(text, style=style), soft_wrap=True)
        else:
            self.file.write(text + "\n")

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str | None = None,
        data: Any = None,
        wrap: Sequence[str] = (),
        droppable: Sequence[str] = (),
    ) -> None:
        """A table; with ``--format json|yaml``, ``data`` (default: one object per row).

        On a terminal, cells are never cut or broken across lines, except in the
        ``wrap`` columns (free text such as messages): names, versions and
        addresses are copied from here. When the table is wider than the
        terminal, the ``droppable`` columns are left out, in that order, until it
        fits; if it still does not, it is printed wider than the terminal.
        """
        if self.structured:
            if data is None:
                keys = [h.lower().replace(" ", "_") for h in headers]
                data = [dict(zip(keys, row, strict=True)) for row in rows]
            self.data(data)
            return
        cells = [["" if c is None else str(c) for c in row] for row in rows]
        if self.terminal:
            self._rich_table(headers, cells, title, wrap, droppable)
            return
        if title:
            self.file.write(title + "\n")
        widths = [len(h) for h in headers]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        for row in [list(headers), ["-" * w for w in widths], *cells]:
            text = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            self.file.write(text.rstrip() + "\n")

    def _rich_table(
        self,
        headers: Sequence[str],
        rows: list[list[str]],
        title: str | None,
        wrap: Sequence[str],
        droppable: Sequence[str],
    ) -> None:
        from rich import box
        from rich.cells import cell_len
        from rich.measure import Measurement
        from rich.table import Table
        from rich.text import Text

        def build(columns: list[int]) -> Table:
            table = Table(box=box.SIMPLE_HEAD, header_style="bold")
            for index in columns:
                header = headers[index]
                whole = header not in wrap
                table.add_column(
                    header,
                    no_wrap=whole,
                    overflow="ignore" if whole else "fold",
                    min_width=cell_len(header) if whole else None,
                )
            for row in rows:
                table.add_row(*(Text(row[index]) for index in columns))
            return table

        def needed(table: Table) -> int:
            unbounded = self.console.options.update_width(UNBOUNDED)
            return Measurement.get(self.console, unbounded, table).minimum

        if title:
            self.line(title, "italic")
        columns = list(range(len(headers)))
        table, left_out = build(columns), []
        width = self.console.width
        for header in droppable:
            if needed(table) <= width:
                break
            columns.remove(list(headers).index(header))
            left_out.append(header)
            table = build(columns)
        self.console.width = max(width, needed(table))  # too wide: overflow, never cut
        try:
            self.console.print(table)
        finally:
            self.console.width = width
        if left_out:
            self.line(
                f"({', '.join(left_out)} left out to fit {width} columns; "
                "a wider terminal or --format json shows them)",
                "dim",
            )
