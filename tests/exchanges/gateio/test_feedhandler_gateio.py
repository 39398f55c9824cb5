"""FeedHandler end to end against the simulated Gate.io spot v4: every channel, books equal to
the simulator's true books, and a lost update, a dropped connection and an oversize frame each
withdraw the books and heal them. Gate's books carry no checksum, so the checksum fault does
not apply (proven below)."""

from collections.abc import AsyncIterator

import pytest

from feedhandler import BookStatus, BookUpdate, Candle, FeedHandler, Ticker, Trade
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.gateio import GateioVenue as SimGateio
from feedhandler.sim.server import UnsupportedFault
from feedhandler.sim.testing import (
    assert_nothing_served_while_invalid,
    books_equal_the_true_books,
    healed,
    pumping,
    record_books,
    synced,
    until,
)

PAIRS = {"BTC-USDT": "BTC_USDT", "ETH-USDT": "ETH_USDT"}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(SimGateio(symbols=tuple(PAIRS.values())), seed=9,
                                 rate=None) as exchange:
        yield exchange


def handler(sim: SimulatedExchange) -> FeedHandler:
    return FeedHandler(endpoints={"gateio": {"ws_url": sim.ws_url, "rest_url": sim.http_url}},
                       backoff_base=0.05, backoff_cap=0.2)


async def test_every_channel_delivers_and_the_books_equal_the_true_books(sim) -> None:
    fh = handler(sim)
    got: dict[type, list] = {Trade: [], Ticker: [], Candle: []}
    fh.subscribe_trades("gateio", "BTC-USDT", got[Trade].append)
    fh.subscribe_ticker("gateio", "BTC-USDT", got[Ticker].append)
    fh.subscribe_ohlcv("gateio", "BTC-USDT", "10s", got[Candle].append)
    books = record_books(fh, "gateio", PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(v) >= 3 for v in (*got.values(), *books.values()))
                        and any(c.closed for c in got[Candle]))
        await books_equal_the_true_books(fh, sim, "gateio", PAIRS)
        assert fh.venues["gateio"].adapter.errors == []
        served = [list(updates) for updates in books.values()]
    trade = got[Trade][0]
    assert trade.symbol == "BTC-USDT" and trade.exchange == "gateio"
    assert trade.price > 0 and trade.size > 0 and trade.ts_receive >= trade.ts_exchange > 0
    assert {t.side for t in got[Trade]} <= {-1, 1}
    assert all(0 < t.bid < t.ask and t.bid_size > 0 for t in got[Ticker])
    candle = got[Candle][-1]
    assert candle.timeframe_seconds == 10 and candle.low <= candle.close <= candle.high
    for updates in served:
        assert updates[0].status is BookStatus.LIVE and updates[0].resynced
        assert all(u.status is BookStatus.LIVE for u in updates)
    assert fh.stats()["overruns"] == 0


async def test_a_lost_update_withdraws_the_book_and_it_resyncs_from_rest(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "gateio", PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            requests = sim.stats["http_requests"]
            sim.gap("BTC_USDT")
            await until(lambda: healed(books["BTC-USDT"]))
        await books_equal_the_true_books(fh, sim, "gateio", PAIRS)
        [connection] = fh.venues["gateio"].pool.connections
        assert connection.decoder.gaps == 1 and connection.reconnects == 0
        served = {symbol: list(updates) for symbol, updates in books.items()}
    assert sim.stats["http_requests"] == requests + 1, "one new REST snapshot"
    invalid = [u for u in served["BTC-USDT"] if u.status is BookStatus.INVALID]
    assert invalid and "!= previous u" in invalid[0].reason
    assert_nothing_served_while_invalid(served["BTC-USDT"])
    assert not any(u.status is BookStatus.INVALID for u in served["ETH-USDT"])


async def test_gate_books_have_no_checksum_to_corrupt(sim) -> None:
    with pytest.raises(UnsupportedFault):
        sim.corrupt_checksum("BTC_USDT")


async def test_a_dropped_connection_is_renewed_and_every_book_resynced(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "gateio", PAIRS)
    trades: list[Trade] = []
    fh.subscribe_trades("gateio", "ETH-USDT", trades.append)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.drop()
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
            seen = len(trades)
            await until(lambda: len(trades) > seen)
        await books_equal_the_true_books(fh, sim, "gateio", PAIRS)
        [connection] = fh.venues["gateio"].pool.connections
        assert connection.reconnects == 1
    assert set(sim.history[1].topics) == {"spot.order_book_update:BTC_USDT:100ms",
                                          "spot.order_book_update:ETH_USDT:100ms",
                                          "spot.trades:ETH_USDT"}
    for updates in books.values():
        assert "disconnected" in next(u.reason for u in updates
                                      if u.status is BookStatus.INVALID)
        assert_nothing_served_while_invalid(updates)


async def test_garbage_is_counted_and_an_oversize_frame_renews_the_connection(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "gateio", PAIRS)
    fh.venues["gateio"].adapter.max_message_size = 100_000
    async with fh:
        [connection] = fh.venues["gateio"].pool.connections
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.malformed()
            await until(lambda: connection.decoder.errors == 1)
            assert all(fh.book("gateio", symbol).valid for symbol in PAIRS)
            sim.oversize(200_000)
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
        await books_equal_the_true_books(fh, sim, "gateio", PAIRS)
        assert connection.disconnect_reasons["fatal"] == 1
    for updates in books.values():
        reason = next(u.reason for u in updates if u.status is BookStatus.INVALID)
        assert "exceeds max_message_size 100000" in reason
        assert_nothing_served_while_invalid(updates)


async def test_obu_books_sync_in_band_and_a_lost_push_resubscribes() -> None:
    """Depth 50 uses spot.obu: no REST call; a lost push withdraws the book until a new
    subscription's full push, and the book equals the simulator's true top 50 levels."""
    async with SimulatedExchange(SimGateio(symbols=tuple(PAIRS.values())), seed=4, rate=None,
                                 depth=80) as sim:
        fh = handler(sim)
        await fh.load_instruments("gateio")      # the one REST call: the instruments
        assert sim.stats["http_requests"] == 1
        books: dict[str, list[BookUpdate]] = {symbol: [] for symbol in PAIRS}
        for symbol in PAIRS:
            fh.subscribe_order_book("gateio", symbol, books[symbol].append, depth=50)
        async with fh:
            async with pumping(sim):
                await until(lambda: all(len(updates) >= 3 for updates in books.values()))
                sim.gap("ETH_USDT")
                await until(lambda: healed(books["ETH-USDT"]))
            await books_equal_the_true_books(fh, sim, "gateio", PAIRS)
            assert fh.book("gateio", "ETH-USDT").bid_count == 50
            served = {symbol: list(updates) for symbol, updates in books.items()}
        assert sim.stats["http_requests"] == 1, "no REST snapshot"
        received = sim.history[0].received
        assert (received["subscribe"], received["unsubscribe"]) == (3, 1)
    invalid = [u for u in served["ETH-USDT"] if u.status is BookStatus.INVALID]
    assert invalid and "!= previous u" in invalid[0].reason
    assert_nothing_served_while_invalid(served["ETH-USDT"])
    assert not any(u.status is BookStatus.INVALID for u in served["BTC-USDT"])
