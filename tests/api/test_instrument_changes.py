"""A venue that changes the tick or lot size of a live instrument: on the catalog's refresh
the FeedHandler withdraws the book once, naming the change, and resyncs every stream of the
instrument at the new scales."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

import pytest

from feedhandler import FeedHandler
from feedhandler.cli.demo import compare_book
from feedhandler.events import BookStatus, BookUpdate, Trade
from feedhandler.exchanges.base import Status
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.market import Trade as SimTrade
from feedhandler.sim.testing import until
from feedhandler.sim.venues import create_venue

CASES = {
    # venue: (venue symbol, unified symbol, new tick size, new lot size, the change named,
    #         refreshed on schedule rather than on demand)
    # Binance spot prints 8 decimals in all: its tick and lot decimals may not exceed 8 together
    "binance": ("BTCUSDT", "BTC-USDT", "0.001", "0.00001", "tick 0.01 -> 0.001", False),
    "okx": ("BTC-USDT", "BTC-USDT", "0.01", "0.000000001",
            "tick 0.1 -> 0.01, lot 0.00000001 -> 0.000000001", True),
}


@pytest.mark.parametrize("name", CASES)
async def test_a_changed_tick_or_lot_resyncs_the_book_at_the_new_scales(name: str) -> None:
    venue_symbol, symbol, tick, lot, change, scheduled = CASES[name]
    async with SimulatedExchange(create_venue(name, "spot", [venue_symbol]), seed=5,
                                 rate=None) as sim:
        fh = FeedHandler(endpoints={name: {"ws_url": sim.ws_url, "rest_url": sim.http_url}},
                         backoff_base=0.05, backoff_cap=0.2,
                         instruments_refresh=0.2 if scheduled else 3600)
        updates: list[BookUpdate] = []
        trades: list[Trade] = []
        fh.subscribe_order_book(name, symbol, updates.append)
        fh.subscribe_trades(name, symbol, trades.append)
        async with fh:
            await until(lambda: fh.book(name, symbol).valid, 10)
            sim.advance(20)
            await until(lambda: not compare_book(fh.book(name, symbol), sim, venue_symbol), 10)
            before = fh.instrument(name, symbol)
            ring_id = fh.venues[name].instruments[before.symbol].id
            seen = len(updates)

            sim.relist(venue_symbol, tick, lot)
            if not scheduled:
                await fh.load_instruments(name, refresh=True)
            await until(lambda: any(u.status is BookStatus.INVALID for u in updates[seen:]), 5)
            await until(lambda: fh.book(name, symbol).valid, 10)
            published: list[SimTrade] = []
            for _ in range(20):
                published += [e for e in sim.advance(5) if isinstance(e, SimTrade)]
                await until(lambda: not compare_book(fh.book(name, symbol), sim, venue_symbol),
                            10)

            withdrawn = [u for u in updates[seen:] if u.status is BookStatus.INVALID]
            assert [u.reason for u in withdrawn] == [f"instrument changed: {change}"]
            assert updates[-1].status is BookStatus.LIVE
            after = fh.instrument(name, symbol)
            assert (after.tick_size, after.lot_size) == (Decimal(tick), Decimal(lot))
            assert after.price_scale == before.price_scale + 1
            book = fh.book(name, symbol)
            assert (book.price_scale, book.size_scale) == (after.price_scale, after.size_scale)
            assert updates[-1].instrument.price_scale == after.price_scale

            # the trades printed at the new precision decode exactly at the new scales
            spec = sim.market.instrument(venue_symbol)
            await until(lambda: {t.trade_id for t in trades} >= {t.trade_id for t in published},
                        10)
            assert published
            by_id = {t.trade_id: t for t in trades}
            for printed in published:
                trade = by_id[printed.trade_id]
                assert not trade.inexact
                assert trade.instrument.price_scale == after.price_scale
                assert trade.price == printed.price * Decimal(spec.tick_size)
                assert trade.size == printed.size * Decimal(spec.lot_size)
            [connection] = fh.stats()["connections"][name]
            assert connection["decoder"]["errors"] == 0
            assert fh.venues[name].instruments[after.symbol].id == ring_id
            assert fh.by_id[ring_id].tick_size == Decimal(tick)


async def test_a_halted_instrument_is_logged_once_and_nothing_is_torn_down(
        caplog: pytest.LogCaptureFixture) -> None:
    async with SimulatedExchange(create_venue("binance", "spot", ["BTCUSDT"]), seed=5,
                                 rate=None) as sim:
        fh = FeedHandler(endpoints={"binance": {"ws_url": sim.ws_url,
                                                "rest_url": sim.http_url}},
                         instruments_refresh=3600)
        updates: list[BookUpdate] = []
        trades: list[Trade] = []
        fh.subscribe_order_book("binance", "BTC-USDT", updates.append)
        fh.subscribe_trades("binance", "BTC-USDT", trades.append)
        async with fh:
            await until(lambda: fh.book("binance", "BTC-USDT").valid, 10)
            seen = len(updates)
            sim.venue.catalog = [replace(listing, status="halted")
                                 if listing.symbol == "BTCUSDT" else listing
                                 for listing in sim.venue.catalog]
            with caplog.at_level(logging.WARNING, logger="feedhandler.api"):
                await fh.load_instruments("binance", refresh=True)
                await fh.load_instruments("binance", refresh=True)
            assert [r.getMessage() for r in caplog.records
                    if r.name == "feedhandler.api"] == ["binance BTC-USDT: now halted"]
            assert fh.venues["binance"].instruments["BTC-USDT"].status is Status.HALTED
            sim.advance(50)
            await until(lambda: len(trades) > 0, 10)
            assert all(u.status is not BookStatus.INVALID for u in updates[seen:])
            assert fh.book("binance", "BTC-USDT").valid
