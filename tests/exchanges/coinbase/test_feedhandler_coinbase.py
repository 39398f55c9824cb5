"""FeedHandler end to end against the simulated Coinbase: every channel, books equal to the
simulator's true book, and each fault (gap, drop, close, refused subscribe, garbage) healed."""

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from feedhandler import BookStatus, BookUpdate, Candle, FeedHandler, Ticker, Trade
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.coinbase import CoinbaseVenue as SimCoinbase
from feedhandler.sim.testing import (
    assert_nothing_served_while_invalid,
    healed,
    pumping,
    record_books,
    synced,
    until,
)

PRODUCTS = ("BTC-USD", "ETH-USD")


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(SimCoinbase(symbols=PRODUCTS), seed=5, rate=None) as exchange:
        yield exchange


def handler(sim: SimulatedExchange, **options) -> FeedHandler:
    return FeedHandler(endpoints={"coinbase": {"ws_url": sim.ws_url, "rest_url": sim.http_url,
                                               **options}},
                       backoff_base=0.05, backoff_cap=0.2)


def book_levels(book, side: int) -> dict[Decimal, Decimal]:
    prices, sizes = book.levels(side)
    scale_p, scale_s = Decimal(10) ** -book.price_scale, Decimal(10) ** -book.size_scale
    return {int(p) * scale_p: int(s) * scale_s for p, s in zip(prices, sizes, strict=True)}


def true_levels(sim: SimulatedExchange, symbol: str) -> tuple[dict, dict]:
    spec = sim.market.instrument(symbol)
    tick, lot = Decimal(spec.tick_size), Decimal(spec.lot_size)
    snap = sim.market.book(symbol).snapshot()
    return ({p * tick: s * lot for p, s in snap.bids.items()},
            {p * tick: s * lot for p, s in snap.asks.items()})


async def settled(fh: FeedHandler, sim: SimulatedExchange, products=PRODUCTS) -> None:
    """With publishing stopped: once the client has decoded every message the simulator sent,
    its books must be the simulator's current books."""
    [connection] = fh.venues["coinbase"].pool.connections
    session = sim.connections[-1].state
    await until(lambda: connection.decoder.sequence == session.next_sequence - 1)
    for product in products:
        book = fh.book("coinbase", product)
        assert book.valid, product
        bids, asks = true_levels(sim, product)
        assert book_levels(book, 0) == bids and book_levels(book, 1) == asks, product


async def test_every_channel_delivers_and_the_books_equal_the_true_books(sim) -> None:
    fh = handler(sim)
    got: dict[type, list] = {Trade: [], Ticker: [], Candle: []}
    fh.subscribe_trades("coinbase", "BTC-USD", got[Trade].append)
    fh.subscribe_ticker("coinbase", "BTC-USD", got[Ticker].append)
    fh.subscribe_ohlcv("coinbase", "BTC-USD", "5m", got[Candle].append)
    books = record_books(fh, "coinbase", PRODUCTS)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(v) >= 3 for v in (*got.values(), *books.values())))
        await settled(fh, sim)
        served = [list(updates) for updates in books.values()]
    for updates in served:
        assert updates[0].resynced
        assert all(u.status is BookStatus.LIVE for u in updates)
    trade = got[Trade][0]
    assert trade.symbol == "BTC-USD" and trade.exchange == "coinbase"
    assert trade.price > 0 and trade.size > 0 and trade.ts_receive >= trade.ts_exchange > 0
    assert all(t.side != 0 for t in got[Trade])
    assert all(0 < t.bid < t.ask for t in got[Ticker])
    candle = got[Candle][-1]
    assert candle.timeframe_seconds == 300 and candle.low <= candle.close <= candle.high
    assert fh.stats()["overruns"] == 0


async def test_a_gap_withdraws_every_book_then_both_are_rebuilt(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "coinbase", PRODUCTS)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.gap("ETH-USD")
            await until(lambda: all(healed(updates) for updates in books.values()))
        await settled(fh, sim)
        adapter = fh.venues["coinbase"].adapter
        [connection] = fh.venues["coinbase"].pool.connections
        assert connection.decoder.gaps == 2 and connection.reconnects == 0
    for updates in books.values():
        reason = next(u.reason for u in updates if u.status is BookStatus.INVALID)
        assert reason.startswith("sequence_num") and "1 message(s) lost" in reason
        assert_nothing_served_while_invalid(updates)
    # one unsubscribe and one subscribe carried both books
    received = sim.history[0].received
    assert received["unsubscribe"] == 1 and adapter.errors == []


async def test_a_dropped_connection_is_renewed_resubscribed_and_resynced(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "coinbase", PRODUCTS)
    trades: list[Trade] = []
    fh.subscribe_trades("coinbase", "BTC-USD", trades.append)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.drop()
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
            seen = len(trades)
            await until(lambda: len(trades) > seen)
        await settled(fh, sim)
        [connection] = fh.venues["coinbase"].pool.connections
        assert connection.reconnects == 1 and connection.decoder.restarts == 1
    # heartbeats, market_trades, level2 with both products; the snapshots need nothing more
    assert sim.history[1].received["subscribe"] == 3
    assert sim.history[1].received["unsubscribe"] == 0
    assert sim.history[1].topics.keys() >= {"heartbeats", "market_trades:BTC-USD",
                                            "level2:BTC-USD", "level2:ETH-USD"}
    for updates in books.values():
        assert "disconnected" in next(u.reason for u in updates
                                      if u.status is BookStatus.INVALID)
        assert_nothing_served_while_invalid(updates)


async def test_a_full_depth_snapshot_of_megabytes_loads_exactly() -> None:
    venue = SimCoinbase(symbols=["BTC-USD"])
    async with SimulatedExchange(venue, seed=2, rate=None, depth=20_000) as sim:
        fh = handler(sim)
        updates: list[BookUpdate] = []
        fh.subscribe_order_book("coinbase", "BTC-USD", updates.append)
        async with fh:
            async with pumping(sim):
                await until(lambda: bool(updates) and updates[0].resynced)
            await settled(fh, sim, ["BTC-USD"])
            book = fh.book("coinbase", "BTC-USD")
            assert book.bid_count > 19_000 and book.ask_count > 19_000
        assert sim.history[0].bytes_sent > 4_000_000


async def test_a_refused_level2_subscribe_is_retried_by_resubscribing(sim) -> None:
    fh = handler(sim, snapshot_timeout=0.5)
    updates: list[BookUpdate] = []
    fh.subscribe_order_book("coinbase", "BTC-USD", updates.append)
    async with fh:
        # the heartbeats subscribe goes first; the level2 one follows at the paced rate
        await until(lambda: bool(sim.connections)
                    and sim.connections[0].received["subscribe"] == 1)
        sim.reject_subscribe("Failed to subscribe: try again")
        async with pumping(sim):
            await until(lambda: any(update.resynced for update in updates))
        # the failed sync is reported before the book is first served
        assert updates[0].status is BookStatus.INVALID
        assert updates[0].reason.startswith("sync failed")
        [connection] = fh.venues["coinbase"].pool.connections
        assert connection.sync_failures == 1
        assert fh.venues["coinbase"].adapter.errors == ["Failed to subscribe: try again"]
        await settled(fh, sim, ["BTC-USD"])
    received = sim.history[0].received
    assert (received["subscribe"], received["unsubscribe"]) == (3, 1)


async def test_garbage_is_counted_and_a_close_by_the_venue_renews_the_connection(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "coinbase", PRODUCTS)
    async with fh:
        [connection] = fh.venues["coinbase"].pool.connections
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.malformed()
            await until(lambda: connection.decoder.errors == 1)
            assert all(fh.book("coinbase", product).valid for product in PRODUCTS)
            sim.close(1013, "maintenance")
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
        await settled(fh, sim)
        assert connection.disconnect_reasons["closed_by_venue"] == 1
    for updates in books.values():
        assert_nothing_served_while_invalid(updates)
