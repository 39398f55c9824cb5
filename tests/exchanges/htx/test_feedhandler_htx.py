"""FeedHandler end to end against the simulated HTX: gzip'd frames, books on /feed and the rest
on /ws, books equal to the simulator's true books, a lost mbp update and a dropped connection
each withdraw the book and heal it, and the venue's pings are answered."""

from collections.abc import AsyncIterator

import pytest

from feedhandler import BookStatus, BookUpdate, Candle, FeedHandler, Ticker, Trade
from feedhandler.sim import Keepalive, SimulatedExchange
from feedhandler.sim.htx import HtxVenue as SimHtx
from feedhandler.sim.testing import (
    assert_nothing_served_while_invalid,
    books_equal_the_true_books,
    healed,
    pumping,
    record_books,
    synced,
    until,
)

PAIRS = {"BTC-USDT": "btcusdt", "ETH-USDT": "ethusdt"}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(SimHtx(symbols=tuple(PAIRS.values())), seed=7,
                                 rate=None) as exchange:
        yield exchange


def handler(sim: SimulatedExchange) -> FeedHandler:
    return FeedHandler(endpoints={"htx": {"ws_url": sim.ws_url, "rest_url": sim.http_url}},
                       backoff_base=0.05, backoff_cap=0.2)


async def test_every_channel_delivers_and_the_books_equal_the_true_books(sim) -> None:
    fh = handler(sim)
    got: dict[type, list] = {Trade: [], Ticker: [], Candle: []}
    fh.subscribe_trades("htx", "BTC-USDT", got[Trade].append)
    fh.subscribe_ticker("htx", "BTC-USDT", got[Ticker].append)
    fh.subscribe_ohlcv("htx", "BTC-USDT", "1m", got[Candle].append)
    books = record_books(fh, "htx", PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(v) >= 3 for v in (*got.values(), *books.values())))
        await books_equal_the_true_books(fh, sim, "htx", PAIRS)
    assert sorted(conn.path for conn in sim.history) == ["/feed", "/ws"]
    assert {trade.symbol for trade in got[Trade]} == {"BTC-USDT"}
    assert all(t.bid < t.ask for t in got[Ticker])
    assert all(c.timeframe_seconds == 60 and c.low_ticks <= c.high_ticks for c in got[Candle])
    for updates in books.values():
        assert updates[0].status is BookStatus.LIVE and updates[0].resynced
        assert all(u.best_bid < u.best_ask for u in updates if u.status is BookStatus.LIVE)


async def test_a_lost_mbp_update_withdraws_the_book_and_it_resyncs(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "htx", PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.gap("btcusdt")
            await until(lambda: healed(books["BTC-USDT"]))
        await books_equal_the_true_books(fh, sim, "htx", PAIRS)
        served = {symbol: list(updates) for symbol, updates in books.items()}
    invalid = [u for u in served["BTC-USDT"] if u.status is BookStatus.INVALID]
    assert invalid and "prevSeqNum" in invalid[0].reason
    assert_nothing_served_while_invalid(served["BTC-USDT"])
    assert not any(u.status is BookStatus.INVALID for u in served["ETH-USDT"])
    assert len(sim.history) == 1, "a gap resyncs on the same connection"


async def test_top_5_and_top_20_books_equal_the_true_top_of_book_across_a_gap(sim) -> None:
    fh = handler(sim)
    books: dict[str, list[BookUpdate]] = {symbol: [] for symbol in PAIRS}
    for symbol, depth in zip(PAIRS, (5, 20), strict=True):
        fh.subscribe_order_book("htx", symbol, books[symbol].append, depth=depth)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(updates) >= 5 for updates in books.values()))
            sim.gap("ethusdt")
            await until(lambda: healed(books["ETH-USDT"]))
        await books_equal_the_true_books(fh, sim, "htx", PAIRS)
        assert [fh.book("htx", symbol).depth_limit for symbol in PAIRS] == [5, 20]
    assert_nothing_served_while_invalid(books["ETH-USDT"])


async def test_a_dropped_connection_is_renewed_and_every_book_resynced(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "htx", PAIRS)
    trades: list[Trade] = []
    fh.subscribe_trades("htx", "ETH-USDT", trades.append)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books) and trades)
            feed = next(conn for conn in sim.connections if conn.path == "/feed")
            sim.drop(feed)
            await until(lambda: len(sim.history) == 3
                        and all(healed(updates) for updates in books.values()))
            seen = len(trades)
            await until(lambda: len(trades) > seen)
        await books_equal_the_true_books(fh, sim, "htx", PAIRS)
        served = [list(updates) for updates in books.values()]
    for updates in served:
        assert_nothing_served_while_invalid(updates)
    assert [conn.path for conn in sim.history].count("/feed") == 2


async def test_malformed_frames_are_counted_and_the_books_stay_exact(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "htx", PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.malformed()
            await until(lambda: all(c["decoder"]["errors"] == 1
                                    for c in fh.stats()["connections"]["htx"]))
        await books_equal_the_true_books(fh, sim, "htx", PAIRS)


async def test_venue_pings_are_echoed_so_the_connections_survive() -> None:
    keepalive = Keepalive(interval=0.1, timeout=0.3, text=True, pong_must_echo=True)
    async with SimulatedExchange(SimHtx(symbols=("btcusdt",)), seed=3, rate=None,
                                 keepalive=keepalive) as sim:
        fh = handler(sim)
        trades: list[Trade] = []
        fh.subscribe_trades("htx", "BTC-USDT", trades.append)
        async with fh:
            async with pumping(sim):
                await until(lambda: trades and sim.history[0].received["pong"] >= 8)
        assert len(sim.history) == 1 and sim.stats["pong_timeouts"] == 0
