"""``feedhandler instruments VENUE``: the venue's instrument catalog, from its own metadata
(cached; see ``feedhandler.instruments``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import uvloop
from rich.console import Console

from feedhandler.cli import simulated
from feedhandler.cli.base import EXIT_OK, Command, CommandError
from feedhandler.cli.output import Column, print_table
from feedhandler.exchanges.base import Instrument
from feedhandler.exchanges.registry import UnsupportedError, venue
from feedhandler.instruments import Catalog, CatalogUnavailableError, load_catalog

COLUMNS = (Column("symbol"), Column("venue symbol"), Column("kind"), Column("tick", "right"),
           Column("lot", "right"), Column("min size", "right"),
           Column("min notional", "right"), Column("status"))
JSON_FIELDS = ("symbol", "venue_symbol", "base", "quote", "kind", "status", "tick_size",
               "lot_size", "min_size", "min_notional", "contract_size", "price_scale",
               "size_scale")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("venue", help="a venue as `feedhandler venues` names it")
    parser.add_argument("--search", metavar="TEXT",
                        help="only symbols containing TEXT, in any spelling (btc, XBT/USD)")
    parser.add_argument("--json", action="store_true",
                        help="a JSON list of objects (decimals as strings) instead of a table")
    parser.add_argument("--refresh", action="store_true",
                        help="ask the venue even when a fresh cached catalog exists")
    parser.add_argument("--rest-url", metavar="URL", help="the venue's REST base instead of "
                        "its real one (a simulator's)")
    simulated.add_option(parser)


@contextlib.asynccontextmanager
async def endpoints_for(args: argparse.Namespace) -> AsyncIterator[dict[str, Any]]:
    if args.simulated:
        async with simulated.simulators({args.venue: ()}, rate=None) as endpoints:
            yield endpoints[args.venue]
    else:
        yield {"rest_url": args.rest_url} if args.rest_url else {}


async def load(args: argparse.Namespace) -> Catalog:
    async with endpoints_for(args) as endpoints:
        return await load_catalog(args.venue, endpoints=endpoints, refresh=args.refresh)


def described(instrument: Instrument) -> dict[str, Any]:
    fields = instrument.to_dict()
    return {name: fields[name] for name in JSON_FIELDS}


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        venue(args.venue)
        catalog = uvloop.run(load(args))
    except (UnsupportedError, CatalogUnavailableError) as error:
        raise CommandError(str(error)) from None
    listed = catalog.search(args.search) if args.search else list(catalog)
    if args.json:
        json.dump([described(i) for i in listed], sys.stdout, indent=None)
        sys.stdout.write("\n")
        return EXIT_OK
    rows = [(i.symbol, i.venue_symbol, str(i.kind), *(
        "-" if value is None else format(value, "f")
        for value in (i.tick_size, i.lot_size, i.min_size, i.min_notional)), str(i.status))
        for i in listed]
    stale = " (stale cache: the venue could not be reached)" if catalog.stale else ""
    print_table(console, f"{args.venue}: {len(rows)} of {len(catalog)} instruments{stale}",
                COLUMNS, rows)
    return EXIT_OK


COMMAND = Command(
    "instruments", "list a venue's instruments (symbols, ticks, lots, status)",
    "List the instruments a venue lists, read from its own metadata endpoint (cached on disk; "
    "a stale cache is used with a warning when the venue cannot be reached): unified and "
    "venue symbols, kind, tick and lot sizes, minimums and status. --json prints a JSON list.",
    configure, run)
