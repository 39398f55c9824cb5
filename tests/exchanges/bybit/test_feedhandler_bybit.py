"""FeedHandler end to end against the simulated Bybit v5 (spot and linear): every channel,
books equal to the simulator's true top of book, and a lost delta and a dropped connection each
withdraw the book and heal it. Bybit books carry no checksum, so the simulator refuses that
fault."""

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from feedhandler import BookStatus, Candle, FeedHandler, Ticker, Trade
from feedhandler.events import Side
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.bybit import BybitVenue as SimBybit
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

PAIRS = {"BTC-USDT": "BTCUSDT", "ETH-USDT": "ETHUSDT"}
VENUES = {"spot": "bybit", "linear": "bybit-linear"}


@pytest.fixture(params=["spot", "linear"])
async def sim(request) -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(SimBybit(request.param, tuple(PAIRS.values())), seed=11,
                                 rate=None) as exchange:
        yield exchange


def venue_of(sim: SimulatedExchange) -> str:
    assert isinstance(sim.venue, SimBybit)
    return VENUES[sim.venue.market_type]


def handler(sim: SimulatedExchange) -> FeedHandler:
    return FeedHandler(endpoints={venue_of(sim): {"ws_url": sim.ws_url, "rest_url": sim.http_url}},
                       backoff_base=0.05, backoff_cap=0.2)


async def test_every_channel_delivers_and_the_books_equal_the_true_books(sim) -> None:
    venue = venue_of(sim)
    fh = handler(sim)
    got: dict[type, list] = {Trade: [], Ticker: [], Candle: []}
    fh.subscribe_trades(venue, "BTC-USDT", got[Trade].append)
    fh.subscribe_ticker(venue, "BTC-USDT", got[Ticker].append)
    fh.subscribe_ohlcv(venue, "BTC-USDT", "1m", got[Candle].append)
    books = record_books(fh, venue, PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: all(len(v) >= 3 for v in (*got.values(), *books.values()))
                        and len({t.side for t in got[Trade]}) == 2)
        await books_equal_the_true_books(fh, sim, venue, PAIRS)
        true_book = sim.market.book("BTCUSDT")
        best_bid, best_ask = true_book.best_bid(), true_book.best_ask()
    price = sim.market.instrument("BTCUSDT").price_formatter()
    # the unified symbol: "BTC-USDT" subscribed the perpetual on bybit-linear
    assert {trade.symbol for trade in got[Trade]} == {fh.instrument(venue, "BTC-USDT").symbol}
    if venue == "bybit-linear":
        assert fh.instrument(venue, "BTCUSDT").symbol == "BTC-USDT-PERP"
    assert {trade.side for trade in got[Trade]} == {Side.BUY, Side.SELL}
    assert all(t.bid < t.ask for t in got[Ticker])
    assert best_bid is not None and best_ask is not None
    assert (got[Ticker][-1].bid, got[Ticker][-1].ask) == (Decimal(price(best_bid[0])),
                                                          Decimal(price(best_ask[0])))
    assert {c.timeframe_seconds for c in got[Candle]} == {60}
    assert all(c.low_ticks <= min(c.open_ticks, c.close_ticks) <= c.high_ticks
               for c in got[Candle])
    for updates in books.values():
        assert updates[0].status is BookStatus.LIVE and updates[0].resynced
        assert all(u.best_bid < u.best_ask for u in updates if u.status is BookStatus.LIVE)


async def test_a_lost_delta_withdraws_the_book_and_it_resyncs(sim) -> None:
    venue = venue_of(sim)
    fh = handler(sim)
    books = record_books(fh, venue, PAIRS)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.gap("BTCUSDT")
            await until(lambda: healed(books["BTC-USDT"]))
        await books_equal_the_true_books(fh, sim, venue, PAIRS)
        served = {symbol: list(updates) for symbol, updates in books.items()}
    invalid = [u for u in served["BTC-USDT"] if u.status is BookStatus.INVALID]
    assert invalid and "update id" in invalid[0].reason
    assert_nothing_served_while_invalid(served["BTC-USDT"])
    assert not any(u.status is BookStatus.INVALID for u in served["ETH-USDT"])
    # the resync was an unsubscribe then a subscribe of the same topic on the same socket
    assert len(sim.history) == 1
    assert sim.history[0].received["unsubscribe"] == 1


async def test_a_book_service_restart_replaces_the_book_without_a_resync(sim) -> None:
    venue = venue_of(sim)
    fh = handler(sim)
    books = record_books(fh, venue, PAIRS)
    async with fh:
        [connection] = fh.venues[venue].pool.connections
        decoder = connection.decoder
        slot = decoder.slot_of("BTCUSDT")
        async with pumping(sim):
            await until(lambda: synced(books))
            assert isinstance(sim.venue, SimBybit)
            sim.venue.restart_books("BTCUSDT")
            await until(lambda: decoder.snapshot_count(slot) == 2
                        and decoder.last_update(slot) > 3)
        await books_equal_the_true_books(fh, sim, venue, PAIRS)
        served = list(books["BTC-USDT"])
        assert decoder.gaps == 0 and sim.history[0].received["unsubscribe"] == 0
    assert not any(u.status is BookStatus.INVALID for u in served)


async def test_bybit_books_have_no_checksum_to_corrupt(sim) -> None:
    with pytest.raises(UnsupportedFault):
        sim.corrupt_checksum("BTCUSDT")


async def test_a_dropped_connection_is_renewed_and_every_book_resynced(sim) -> None:
    venue = venue_of(sim)
    fh = handler(sim)
    books = record_books(fh, venue, PAIRS)
    trades: list[Trade] = []
    fh.subscribe_trades(venue, "ETH-USDT", trades.append)
    async with fh:
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.drop()
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
            seen = len(trades)
            await until(lambda: len(trades) > seen)
        await books_equal_the_true_books(fh, sim, venue, PAIRS)
        served = [list(updates) for updates in books.values()]
    for updates in served:
        assert_nothing_served_while_invalid(updates)


async def test_garbage_is_counted_and_a_close_by_the_venue_renews_the_connection(sim) -> None:
    venue = venue_of(sim)
    fh = handler(sim)
    books = record_books(fh, venue, PAIRS)
    async with fh:
        [connection] = fh.venues[venue].pool.connections
        async with pumping(sim):
            await until(lambda: synced(books))
            sim.malformed()
            await until(lambda: connection.decoder.errors == 1)
            assert all(fh.book(venue, symbol).valid for symbol in PAIRS)
            sim.close(1013, "maintenance")
            await until(lambda: len(sim.history) == 2
                        and all(healed(updates) for updates in books.values()))
        await books_equal_the_true_books(fh, sim, venue, PAIRS)
        assert connection.disconnect_reasons["closed_by_venue"] == 1
    for updates in books.values():
        assert_nothing_served_while_invalid(updates)
