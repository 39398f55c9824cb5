"""FeedHandler end to end against the simulated OKX v5: every channel (candles over the
business endpoint, the rest over public), books equal to the simulator's true book, a bad
checksum, a skipped seqId and a dropped connection each withdraw the book and heal it, and the
text ping keeps an otherwise silent connection open past OKX's idle limit."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from feedhandler import BookStatus, BookUpdate, Candle, FeedHandler, Ticker, Trade
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.market import BookSnapshot, Market
from feedhandler.sim.okx import BUSINESS_PATH, PUBLIC_PATH
from feedhandler.sim.okx import OkxVenue as SimOkx
from feedhandler.sim.testing import (
    assert_nothing_served_while_invalid,
    books_equal_the_true_books,
    healed,
    pumping,
    record_books,
    synced,
    until,
)

SYMBOLS = ("BTC-USDT", "ETH-USDT")
PAIRS = {symbol: symbol for symbol in SYMBOLS}   # OKX symbols are the instrument ids


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(SimOkx(symbols=SYMBOLS), seed=11, rate=None) as exchange:
        yield exchange


def handler(sim: SimulatedExchange, **options: object) -> FeedHandler:
    return FeedHandler(endpoints={"okx": {"ws_url": sim.ws_url, "rest_url": sim.http_url,
                                         "requests_per_second": 50.0,
                                         **options}},
                       backoff_base=0.05, backoff_cap=0.2)


async def test_every_channel_delivers_and_the_books_equal_the_true_books(sim) -> None:
    fh = handler(sim)
    got: dict[type, list] = {Trade: [], Ticker: [], Candle: []}
    fh.subscribe_trades("okx", "BTC-USDT", got[Trade].append)
    fh.subscribe_ticker("okx", "BTC-USDT", got[Ticker].append)
    fh.subscribe_ohlcv("okx", "BTC-USDT", "1s", got[Candle].append)
    books = record_books(fh, "okx", SYMBOLS)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(v) >= 3 for v in (*got.values(), *books.values())))
        await books_equal_the_true_books(fh, sim, "okx", PAIRS)
        paths = sorted(conn.path for conn in sim.connections)
    assert paths == [BUSINESS_PATH, PUBLIC_PATH]
    assert {trade.symbol for trade in got[Trade]} == {"BTC-USDT"}
    assert all(t.bid < t.ask for t in got[Ticker])
    assert any(c.closed for c in got[Candle]) and any(not c.closed for c in got[Candle])
    for updates in books.values():
        assert updates[0].status is BookStatus.LIVE and updates[0].resynced
        assert all(u.best_bid < u.best_ask for u in updates if u.status is BookStatus.LIVE)


@pytest.mark.parametrize("depth", [1, 5])
async def test_shallow_book_channels_equal_the_true_top(sim, depth) -> None:
    fh = handler(sim)
    books = record_books(fh, "okx", SYMBOLS, depth)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(updates) >= 5 for updates in books.values()))
        await books_equal_the_true_books(fh, sim, "okx", PAIRS)
        sizes = [(fh.book("okx", symbol).bid_count, fh.book("okx", symbol).ask_count)
                 for symbol in SYMBOLS]
    assert sizes == [(depth, depth)] * len(SYMBOLS)


@pytest.mark.parametrize("fault", ["corrupt_checksum", "gap"])
async def test_a_bad_book_message_withdraws_the_book_and_it_resyncs(sim, fault) -> None:
    fh = handler(sim)
    books = record_books(fh, "okx", SYMBOLS)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            getattr(sim, fault)("BTC-USDT")
            await until(lambda: healed(books["BTC-USDT"]))
        await books_equal_the_true_books(fh, sim, "okx", PAIRS)
        served = {symbol: list(updates) for symbol, updates in books.items()}
    invalid = [u for u in served["BTC-USDT"] if u.status is BookStatus.INVALID]
    assert invalid and ("checksum" if fault == "corrupt_checksum" else "prevSeqId") \
        in invalid[0].reason
    assert_nothing_served_while_invalid(served["BTC-USDT"])
    assert not any(u.status is BookStatus.INVALID for u in served["ETH-USDT"])


async def test_a_dropped_connection_is_renewed_and_every_book_resynced(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "okx", SYMBOLS)
    trades: list[Trade] = []
    fh.subscribe_trades("okx", "ETH-USDT", trades.append)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.drop()
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
            seen = len(trades)
            await until(lambda: len(trades) > seen)
        await books_equal_the_true_books(fh, sim, "okx", PAIRS)
        served = [list(updates) for updates in books.values()]
    for updates in served:
        assert_nothing_served_while_invalid(updates)


async def test_the_text_ping_keeps_a_quiet_connection_past_the_idle_limit() -> None:
    venue = SimOkx(symbols=SYMBOLS, idle_timeout=0.4)
    async with SimulatedExchange(venue, rate=None) as sim:
        fh = handler(sim, ping_interval=0.1)
        trades: list[Trade] = []
        fh.subscribe_trades("okx", "BTC-USDT", trades.append)
        async with fh:
            await until(lambda: sim.connections and sim.connections[0].received["subscribe"])
            await asyncio.sleep(1.2)
            conn = sim.connections[0]
            assert len(sim.history) == 1 and sim.stats["idle_disconnects"] == 0
            assert conn.received["ping"] >= 3


async def test_a_refused_book_subscribe_fails_the_sync_at_once_and_is_retried(sim) -> None:
    fh = handler(sim, snapshot_timeout=30.0)
    updates: list[BookUpdate] = []
    fh.subscribe_order_book("okx", "BTC-USDT", updates.append)
    async with fh:
        async with pumping(sim):
            await until(lambda: bool(updates) and updates[0].resynced)
            sim.reject_subscribe("Invalid request: try again")
            sim.gap("BTC-USDT")
            await until(lambda: healed(updates), timeout=5.0)
        [connection] = fh.venues["okx"].pool.connections
        assert connection.sync_failures == 1
        assert any(u.reason.startswith("sync failed") for u in updates
                   if u.status is BookStatus.INVALID)
        assert fh.venues["okx"].adapter.errors == ["60012 Invalid request: try again (id 3)"]
        await books_equal_the_true_books(fh, sim, "okx", {"BTC-USDT": "BTC-USDT"})
    received = sim.history[0].received
    assert (received["subscribe"], received["unsubscribe"]) == (3, 2)


@pytest.mark.parametrize("in_band, checksum", [
    (True, "zero"), (True, "absent"), (False, "real"), (False, "zero"), (False, "absent")])
async def test_books_sync_with_or_without_the_in_band_snapshot_and_checksum(
        in_band: bool, checksum: str) -> None:
    """Without the in-band snapshot (OKX's announced protocol) the books sync from
    ``GET /api/v5/market/books`` as soon as updates follow the subscribe's ack without one
    (long before ``snapshot_timeout``); a checksum of 0, or none, is not checked and no
    error."""
    venue = SimOkx(symbols=SYMBOLS, in_band_snapshot=in_band, checksum=checksum)
    async with SimulatedExchange(venue, seed=5, rate=None) as sim:
        fh = handler(sim, rest_url=sim.http_url, snapshot_timeout=60.0)
        books = record_books(fh, "okx", SYMBOLS)
        async with fh:
            async with pumping(sim):
                await until(lambda: synced(books) and all(len(u) >= 5 for u in books.values()))
            await books_equal_the_true_books(fh, sim, "okx", PAIRS)
            [connection] = fh.venues["okx"].pool.connections
            assert connection.decoder.errors == 0 and connection.sync_failures == 0
        # the instrument catalog, then one REST snapshot per book where none came in-band
        assert sim.stats["http_requests"] == 1 + (0 if in_band else len(SYMBOLS))
        for updates in books.values():
            assert not any(u.status is BookStatus.INVALID for u in updates[:-1])


async def test_a_gap_resyncs_a_book_from_the_rest_snapshot() -> None:
    venue = SimOkx(symbols=SYMBOLS, in_band_snapshot=False, checksum="zero")
    async with SimulatedExchange(venue, seed=7, rate=None) as sim:
        fh = handler(sim, rest_url=sim.http_url, snapshot_timeout=60.0)
        books = record_books(fh, "okx", SYMBOLS)
        async with fh:
            async with pumping(sim):
                await until(lambda: synced(books))
                fetched = sim.stats["http_requests"]
                sim.gap("BTC-USDT")
                await until(lambda: healed(books["BTC-USDT"]))
            await books_equal_the_true_books(fh, sim, "okx", PAIRS)
        served = list(books["BTC-USDT"])
        assert sim.stats["http_requests"] > fetched
    invalid = [u for u in served if u.status is BookStatus.INVALID]
    assert "prevSeqId" in invalid[0].reason
    assert_nothing_served_while_invalid(served)


class LaggingRest(SimOkx):
    """Its first REST answer per instrument comes from a replica 40 updates behind the stream,
    older than the updates the client holds: OKX's procedure fetches the snapshot again."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)   # type: ignore[arg-type]
        self.answered: set[str] = set()

    def rest_snapshot(self, market: Market, symbol: str) -> BookSnapshot:
        if symbol in self.answered:
            return super().rest_snapshot(market, symbol)
        self.answered.add(symbol)
        return market.book_at(symbol, market.book(symbol).update_id - 40)


async def test_a_rest_snapshot_older_than_the_held_updates_is_fetched_again() -> None:
    venue = LaggingRest(symbols=SYMBOLS, in_band_snapshot=False, checksum="zero")
    async with SimulatedExchange(venue, seed=3, rate=None) as sim:
        sim.advance(200)
        fh = handler(sim, rest_url=sim.http_url, snapshot_timeout=60.0)
        books = record_books(fh, "okx", SYMBOLS)
        async with fh:
            async with pumping(sim):
                await until(lambda: synced(books))
            await books_equal_the_true_books(fh, sim, "okx", PAIRS)
            [connection] = fh.venues["okx"].pool.connections
            assert connection.sync_failures == 0 and connection.decoder.gaps == 0
        assert sim.stats["http_requests"] == 1 + 2 * len(SYMBOLS)     # the catalog, 2 per book
