"""``feedhandler venues``: what the exchange registry offers, before anyone subscribes."""

from __future__ import annotations

import argparse

from rich.console import Console

from feedhandler.cli.base import EXIT_OK, Command
from feedhandler.cli.output import Column, print_table
from feedhandler.exchanges import venues

COLUMNS = (Column("venue"), Column("market"), Column("channels"), Column("private"),
           Column("timeframes"), Column("native book depths"), Column("book integrity"))


def configure(parser: argparse.ArgumentParser) -> None:
    """No options: the registry is the whole answer."""


def run(args: argparse.Namespace, console: Console) -> int:
    rows = [(info.name, info.market, ", ".join(channel.value for channel in info.channels),
             ", ".join(channel.value for channel in info.private_channels) or "-",
             ", ".join(info.timeframes) or "-", ", ".join(map(str, info.book_depths)) or "-",
             info.book_integrity or "-")
            for info in venues()]
    print_table(console, f"{len(rows)} venues", COLUMNS, rows)
    return EXIT_OK


COMMAND = Command(
    "venues", "list the implemented venues and what each supports",
    "List every venue in the exchange registry: market, channels, private channels, candle "
    "timeframes, native book depths (any depth up to the deepest is served "
    "from the next one up, cut) and how its books are kept verifiably in sync.",
    configure, run)
