"""Any depth: ``depth=N`` subscribes the venue's smallest native stream of at least N levels and
shows the book cut to N per side, on every venue against its simulator; a depth deeper than
every native one is refused up front, naming the native depths."""

from __future__ import annotations

import pytest
import uvloop

from feedhandler.api import FeedHandler
from feedhandler.cli.demo import SimulatedVenue, compare_book
from feedhandler.core.book import OrderBook
from feedhandler.events import BookStatus, BookUpdate
from feedhandler.exchanges.registry import UnsupportedError, venue, venues
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.matrix import Settings, endpoint_options, venue_plans
from feedhandler.sim.testing import pumping, until

DEPTHS = {"BTC-USDT": 10, "ETH-USDT": 7}


async def depth_run(plan: SimulatedVenue) -> list[str]:
    """Subscribes each symbol at its odd depth, moves the market, and returns what is wrong."""
    settings = Settings()
    simulator = create_venue(plan.simulator, plan.market,
                             [plan.venue_symbols[s] for s in DEPTHS])
    problems: list[str] = []
    async with SimulatedExchange(simulator, rate=None, keepalive=None) as sim:
        fh = FeedHandler(endpoints={plan.info.name: endpoint_options(plan, sim, settings)})
        updates: dict[str, list[BookUpdate]] = {symbol: [] for symbol in DEPTHS}
        for symbol, depth in DEPTHS.items():
            fh.subscribe_order_book(plan.info.name, symbol, updates[symbol].append, depth=depth)
        async with fh:
            await until(lambda: all(u and u[-1].status is BookStatus.LIVE
                                    for u in updates.values()), settings.wait)
            async with pumping(sim):
                await until(lambda: all(len(u) > 20 for u in updates.values()), settings.wait)
            for symbol, depth in DEPTHS.items():
                book = fh.book(plan.info.name, symbol)
                venue_symbol = fh.venues[plan.info.name].adapter.venue_symbol(symbol)

                def true(book: OrderBook = book, venue_symbol: str = venue_symbol) -> bool:
                    return not compare_book(book, sim, venue_symbol)

                try:
                    await until(true, settings.wait)
                except TimeoutError:
                    problems.append(f"{symbol}: {compare_book(book, sim, venue_symbol)}")
                for side in (0, 1):
                    prices, _ = book.levels(side)
                    true_levels = sim.market.book(venue_symbol).snapshot().top(None)[side]
                    if len(prices) != min(depth, len(true_levels)):
                        problems.append(f"{symbol} side {side}: {len(prices)} levels shown "
                                        f"of depth {depth}")
                    if len(true_levels) <= depth:
                        problems.append(f"{symbol}: the true book is too shallow to test a cut")
                if book.depth_limit and book.depth_limit < depth:
                    problems.append(f"{symbol}: holds {book.depth_limit} < {depth} levels")
                if len(updates[symbol][-1].book.top(0, 1000)[0]) > depth:
                    problems.append(f"{symbol}: a BookUpdate shows more than {depth} levels")
    return problems


@pytest.mark.parametrize("name", [info.name for info in venues()])
def test_odd_depths_go_live_cut_to_the_true_top(name: str) -> None:
    [plan] = uvloop.run(venue_plans([name]))
    assert uvloop.run(depth_run(plan)) == []


def test_native_depth_is_the_smallest_stream_at_or_above() -> None:
    assert venue("binance").native_depth(10) == 1000
    assert venue("kraken").native_depth(7) == 10 and venue("kraken").native_depth(25) == 25
    assert venue("okx").native_depth(7) == 400 and venue("okx").native_depth(5) == 5
    assert venue("bybit-linear").native_depth(500) == 1000
    assert venue("coinbase").native_depth(10) is None           # level2 is the full book
    assert venue("binance").native_depth(None) is None


def test_depth_beyond_every_native_stream_is_refused_naming_them() -> None:
    with pytest.raises(UnsupportedError, match=r"htx has no book of depth 401: its native "
                                               r"depths are 5, 20, 150, 400"):
        FeedHandler().subscribe_order_book("htx", "BTC-USDT", print, depth=401)
    with pytest.raises(UnsupportedError, match="must be >= 1"):
        venue("kraken").native_depth(0)


async def test_one_book_per_instrument_whatever_depth() -> None:
    """Checked once the catalog is at hand (it says which spellings are one instrument)."""
    async with SimulatedExchange(create_venue("kraken", "spot", ["BTC/USD"]), rate=None) as sim:
        fh = FeedHandler(endpoints={"kraken": {"ws_url": sim.ws_url, "rest_url": sim.http_url}})
        await fh.load_instruments("kraken")
        fh.subscribe_order_book("kraken", "BTC-USD", print, depth=7)
        fh.subscribe_order_book("kraken", "XBT/USD", print, depth=7)
        with pytest.raises(ValueError, match="already subscribed with depth 7"):
            fh.subscribe_order_book("kraken", "BTC-USD", print, depth=9)
