"""``--simulated``: a network command (``run``, ``record``, ``instruments``) against the
embedded simulators instead of the venues, as ``demo`` runs: one simulator per venue on
127.0.0.1, trading the symbols asked for, serving the venue's instrument metadata."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping

from feedhandler.cli.base import CommandError
from feedhandler.cli.demo import endpoint_options
from feedhandler.exchanges.registry import venue
from feedhandler.instruments.catalog import compact
from feedhandler.sim import VENUES as SIMULATORS
from feedhandler.sim import SimulatedExchange, create_venue

RATE = 200.0         # market events per second from each simulator


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--simulated", action="store_true",
                        help="run against the embedded simulators on 127.0.0.1, not the "
                        "venues (--endpoint is then not needed)")


def simulator_of(name: str) -> tuple[str, str]:
    """(simulator, market) speaking the registry venue ``name``'s protocol."""
    adapter = venue(name).create()      # no session is opened until it is used
    entry = SIMULATORS.get(adapter.name)
    if entry is None or adapter.market not in entry.markets:
        raise CommandError(f"{name} has no simulator")
    return adapter.name, adapter.market


def venue_symbols(simulator: str, market: str, symbols: Iterable[str]) -> list[str]:
    """The simulator's spelling of each unified symbol it lists (its catalog's); a symbol it
    does not list is left out (the command then refuses it as unknown)."""
    listed = create_venue(simulator, market).catalog
    by_key = {compact(f"{listing.base}-{listing.quote}"): listing.symbol for listing in listed}
    found = [by_key[compact(symbol)] for symbol in symbols if compact(symbol) in by_key]
    return found or [listed[0].symbol]


@contextlib.asynccontextmanager
async def simulators(wanted: Mapping[str, Iterable[str]],
                     rate: float | None = RATE) -> AsyncIterator[dict[str, dict[str, str]]]:
    """Starts a simulator per venue of ``wanted`` (venue -> unified symbols to trade) and
    yields the FeedHandler endpoint options pointing at them."""
    async with contextlib.AsyncExitStack() as stack:
        endpoints = {}
        for index, (name, symbols) in enumerate(wanted.items()):
            simulator, market = simulator_of(name)
            exchange = await stack.enter_async_context(SimulatedExchange(
                create_venue(simulator, market, venue_symbols(simulator, market, symbols)),
                seed=index, rate=rate))
            endpoints[name] = endpoint_options(venue(name), exchange)
        yield endpoints
