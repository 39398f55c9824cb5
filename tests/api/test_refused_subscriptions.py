"""A subscription the venue refuses (a symbol its catalog lists but its streams do not serve)
is dropped for good and the user told once, typed, while the other subscriptions keep flowing
on the same connection: no renewal loop, no retry storm. Every venue of the registry, against
its simulator. (A symbol the catalog does not list never gets this far: tests/api/
test_instruments.py.)"""

from __future__ import annotations

import asyncio

import pytest

from feedhandler import BookStatus, BookUpdate, FeedHandler, SubscriptionRefused, Trade
from feedhandler.exchanges.base import Channel
from feedhandler.exchanges.registry import venues
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.matrix import SYMBOLS, Settings, endpoint_options, venue_plans
from feedhandler.sim.testing import until
from feedhandler.sim.venues import create_venue

REFUSED: dict[str, set[Channel]] = {
    # Binance's streams accept any well-formed name (an unknown symbol's stays silent): the
    # book shows it, through the REST snapshot's -1121
    "binance": {Channel.BOOK},
    "binance-usdm": {Channel.BOOK},
}
"""Channels of the unknown symbol each venue refuses; the others refuse both."""


def unserved(sim: SimulatedExchange) -> str:
    """A symbol the simulator lists as trading in its metadata but whose market it does not
    generate: its subscribes are refused like a symbol the venue lacks."""
    listing = next(listing for listing in sim.venue.catalog
                   if not listing.traded and listing.status == "trading")
    return f"{listing.base}-{listing.quote}"


@pytest.mark.parametrize("name", [info.name for info in venues()])
async def test_an_unknown_symbol_is_refused_and_the_rest_flows(name: str) -> None:
    [plan] = await venue_plans([name])
    expected = REFUSED.get(name, {Channel.BOOK, Channel.TRADES})
    async with SimulatedExchange(
            create_venue(plan.simulator, plan.market, [*plan.venue_symbols.values()]),
            seed=1, rate=200) as sim:
        unknown = unserved(sim)
        fh = FeedHandler(endpoints={name: endpoint_options(plan, sim, Settings())},
                         backoff_base=0.05, backoff_cap=0.25)
        books: list[BookUpdate] = []
        trades: list[Trade] = []
        unknown_book = fh.subscribe_order_book(name, unknown, books.append)
        unknown_trades = fh.subscribe_trades(name, unknown, trades.append)
        fh.subscribe_trades(name, SYMBOLS[0], trades.append)
        handles = {Channel.BOOK: unknown_book, Channel.TRADES: unknown_trades}
        async with fh:
            await until(lambda: len(trades) >= 5
                        and all(handles[c].refused is not None for c in expected), 15.0)
            await asyncio.sleep(1.0)      # a renewal loop or a retried sync would show here
            connections = fh.stats()["connections"][name]
    assert {trade.symbol for trade in trades} == {fh.instrument(name, SYMBOLS[0]).symbol}
    assert sorted(e.subscription.channel for e in fh.refusals) == sorted(expected)
    for channel, handle in handles.items():
        if channel in expected:
            assert isinstance(handle.refused, SubscriptionRefused) and not handle.active
            assert handle.refused in fh.refusals
            assert handle.refused.subscription.instrument.symbol.startswith(unknown)
        else:
            assert handle.refused is None and handle.active
    assert books and all(update.status is BookStatus.INVALID for update in books)
    if Channel.BOOK in expected:
        assert len(books) == 1 and books[0].reason.startswith("refused"), books
    assert sim.accepted <= 2, "no renewal loop (HTX keeps books on an endpoint of their own)"
    assert all(c["reconnects"] == 0 and c["sync_failures"] <= 1 for c in connections)
