"""Tables and numbers for people: a rich table on a terminal, aligned plain text in a pipe."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"


def print_table(console: Console, title: str, columns: Sequence[Column],
                rows: Sequence[Sequence[str]]) -> None:
    """Prints ``rows`` under ``title``; plain text when stdout is not a terminal, so that logs
    and ``grep`` get one line per row with no box characters. On a terminal, headers of
    several words take a line per word, to keep tables within 80 columns."""
    if console.is_terminal:
        table = Table(title=title, title_justify="left", title_style="bold", box=None,
                      pad_edge=False, header_style="bold underline")
        for column in columns:
            table.add_column(column.header.replace(" ", "\n"), justify=column.justify)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max([len(column.header), *(len(row[i]) for row in rows)])
              for i, column in enumerate(columns)]
    print_line(console, title)
    for cells in ([column.header for column in columns], *rows):
        print_line(console, "  ".join(
            cell.rjust(width) if column.justify == "right" else cell.ljust(width)
            for cell, width, column in zip(cells, widths, columns, strict=True)).rstrip())


def format_ns(ns: float) -> str:
    """A latency with two or three significant digits; "-" when nothing was measured."""
    if ns <= 0:
        return "-"
    if ns < 1e3:
        return f"{ns:.0f}ns"
    if ns < 1e6:
        return f"{ns / 1e3:.0f}µs" if ns >= 1e4 else f"{ns / 1e3:.1f}µs"
    if ns < 1e9:
        return f"{ns / 1e6:.1f}ms"
    return f"{ns / 1e9:.2f}s"


def format_count(value: float) -> str:
    return f"{value:,.0f}"


def decimals_of(value: Decimal) -> int:
    """Decimal places ``value`` needs to be written exactly (trailing zeros dropped)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def print_line(console: Console, text: str, style: str = "") -> None:
    """One line, never wrapped or marked up, flushed at once (a pipe must see it now)."""
    console.print(text, style=style or None, soft_wrap=True, markup=False, highlight=False)
