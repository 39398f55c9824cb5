"""FeedHandler end to end against the simulated Kraken v2: every channel, books equal to the
simulator's true top of book, and a bad checksum, a lost update and a dropped connection each
withdraw the book and heal it."""

from collections.abc import AsyncIterator

import pytest

from feedhandler import BookStatus, Candle, FeedHandler, Ticker, Trade
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.kraken import KrakenVenue as SimKraken
from feedhandler.sim.testing import (
    assert_nothing_served_while_invalid,
    books_equal_the_true_books,
    healed,
    pumping,
    record_books,
    synced,
    until,
)

PAIRS = {"BTC-USD": "BTC/USD", "ETH-USD": "ETH/USD"}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(SimKraken(symbols=tuple(PAIRS.values())), seed=7,
                                 rate=None) as exchange:
        yield exchange


def handler(sim: SimulatedExchange) -> FeedHandler:
    return FeedHandler(endpoints={"kraken": {"ws_url": sim.ws_url, "rest_url": sim.http_url}},
                       backoff_base=0.05, backoff_cap=0.2)


async def test_every_channel_delivers_and_the_books_equal_the_true_books(sim) -> None:
    fh = handler(sim)
    got: dict[type, list] = {Trade: [], Ticker: [], Candle: []}
    fh.subscribe_trades("kraken", "BTC-USD", got[Trade].append)
    fh.subscribe_ticker("kraken", "BTC-USD", got[Ticker].append)
    fh.subscribe_ohlcv("kraken", "BTC-USD", "1m", got[Candle].append)
    books = record_books(fh, "kraken", PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(v) >= 3 for v in (*got.values(), *books.values())))
        await books_equal_the_true_books(fh, sim, "kraken", PAIRS)
    assert {trade.symbol for trade in got[Trade]} == {"BTC-USD"}
    assert all(t.bid < t.ask for t in got[Ticker])
    for updates in books.values():
        assert updates[0].status is BookStatus.LIVE and updates[0].resynced
        assert all(u.best_bid < u.best_ask for u in updates if u.status is BookStatus.LIVE)


@pytest.mark.parametrize("fault", ["corrupt_checksum", "gap"])
async def test_a_bad_book_message_withdraws_the_book_and_it_resyncs(sim, fault) -> None:
    fh = handler(sim)
    books = record_books(fh, "kraken", PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            getattr(sim, fault)("BTC/USD")
            await until(lambda: healed(books["BTC-USD"]))
        await books_equal_the_true_books(fh, sim, "kraken", PAIRS)
        served = {symbol: list(updates) for symbol, updates in books.items()}
    invalid = [u for u in served["BTC-USD"] if u.status is BookStatus.INVALID]
    assert invalid and invalid[0].reason
    assert_nothing_served_while_invalid(served["BTC-USD"])
    assert not any(u.status is BookStatus.INVALID for u in served["ETH-USD"])


async def test_a_dropped_connection_is_renewed_and_every_book_resynced(sim) -> None:
    fh = handler(sim)
    books = record_books(fh, "kraken", PAIRS)
    trades: list[Trade] = []
    fh.subscribe_trades("kraken", "ETH-USD", trades.append)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.drop()
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
            seen = len(trades)
            await until(lambda: len(trades) > seen)
        await books_equal_the_true_books(fh, sim, "kraken", PAIRS)
        served = [list(updates) for updates in books.values()]
    for updates in served:
        assert_nothing_served_while_invalid(updates)
