"""``feedhandler venues``: what the exchange registry offers, before anyone subscribes."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from rich.console import Console

from feedhandler.cli.base import EXIT_OK, Command
from feedhandler.cli.output import Column, print_table
from feedhandler.exchanges import venues

COLUMNS = (Column("venue"), Column("market"), Column("channels"), Column("private"),
           Column("timeframes"), Column("native book depths"), Column("book integrity"))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list instead: per venue its channels with the "
                             "WebSocket URL each is carried on, its REST base, book depths, "
                             "private channels and the private stream's URL")


async def describe_all() -> list[dict[str, Any]]:
    """Every registered venue as ``VenueInfo.describe`` gives it."""
    return [await info.describe() for info in venues()]


def run(args: argparse.Namespace, console: Console) -> int:
    if args.json:
        print(json.dumps(asyncio.run(describe_all()), indent=2))
        return EXIT_OK
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
    "timeframes, native book depths (any depth up to the deepest is served from the next one "
    "up, cut) and how its books are kept verifiably in sync; with --json also the WebSocket URL "
    "of each channel, the REST base and the private stream's URL.",
    configure, run)
