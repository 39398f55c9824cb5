"""Record a FeedHandler running against the simulators (with gaps, drops and checksum faults, so
books resync and connections renew), replay the recording, and get the very same books, ring
rows and callbacks back; the books also equal the simulators' true books."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from feedhandler import BookUpdate, FeedHandler
from feedhandler.cli.demo import compare_book, endpoint_options
from feedhandler.core.book import OrderBook
from feedhandler.exchanges.base import Channel
from feedhandler.exchanges.registry import VenueInfo, venue
from feedhandler.record import Recorder, Replay
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.server import UnsupportedFault
from feedhandler.sim.testing import healed, pumping, until

SYMBOL = "BTC-USDT"
VENUES = ("binance", "binance-usdm", "kraken", "okx", "htx", "gateio", "bybit", "coinbase")
# Kraken books carry no sequence: a lost message is seen only when it changed the checksummed
# top of the book, which the simulator's next book message need not do (the book stays right)
CHECKSUM_ONLY = {"kraken"}
WAIT = 60.0      # generous: 8 venues' resyncs on a loaded 2-core machine


@dataclass
class Feed:
    info: VenueInfo
    sim: SimulatedExchange
    venue_symbol: str
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    updates: list[BookUpdate] = field(default_factory=list)

    def on_event(self, event: object) -> None:
        if isinstance(event, BookUpdate):
            self.updates.append(event)
            self.events[("book", f"{event.status.value}:{event.resynced}")] += 1
        else:
            self.events[(type(event).__name__, "")] += 1


def subscribe(fh: FeedHandler, feed: Feed) -> None:
    """Every channel the venue has, for SYMBOL, delivering into ``feed``."""
    name = feed.info.name
    fh.subscribe_order_book(name, SYMBOL, feed.on_event)
    fh.subscribe_trades(name, SYMBOL, feed.on_event)
    fh.subscribe_ticker(name, SYMBOL, feed.on_event)
    timeframe = "1m" if "1m" in feed.info.timeframes else feed.info.timeframes[0]
    fh.subscribe_ohlcv(name, SYMBOL, timeframe, feed.on_event)


@contextlib.asynccontextmanager
async def simulators() -> AsyncIterator[list[Feed]]:
    async with contextlib.AsyncExitStack() as stack:
        feeds = []
        for name in VENUES:
            info = venue(name)
            adapter = info.create()
            venue_symbol = adapter.venue_symbol(SYMBOL)
            await adapter.close()
            sim = create_venue(adapter.name, adapter.market, [venue_symbol])
            exchange = await stack.enter_async_context(SimulatedExchange(sim, seed=11,
                                                                         rate=None))
            feeds.append(Feed(info, exchange, venue_symbol))
        yield feeds


def rows(fh: FeedHandler) -> dict[str, dict[str, np.ndarray]]:
    """Every row the three rings hold, by ring and column."""
    out = {}
    for name, ring in (("trades", fh.trades), ("tickers", fh.tickers), ("candles", fh.candles)):
        assert ring.write_count <= ring.capacity, f"{name} ring wrapped: the test needs more room"
        out[name] = ring.reader(from_start=True).read().copy()
    return out


def levels(book: OrderBook) -> tuple[list[int], ...]:
    bids, asks = book.levels(0), book.levels(1)
    return (bids[0].tolist(), bids[1].tolist(), asks[0].tolist(), asks[1].tolist())


def inject(feed: Feed, fault: str) -> bool:
    try:
        if fault == "gap" and feed.info.name in CHECKSUM_ONLY:
            return False
        if fault == "gap":
            feed.sim.gap(feed.venue_symbol)
        elif fault == "checksum":
            feed.sim.corrupt_checksum(feed.venue_symbol)
        else:
            feed.sim.drop()
    except UnsupportedFault:
        return False
    return True


async def record_run(directory: Path) -> tuple[list[Feed], Recorder, dict, dict]:
    """Runs the FeedHandler with faults; returns the feeds, the recorder, the final books'
    levels (and sequences) and the rings' rows."""
    async with simulators() as feeds:
        recorder = Recorder(directory, rotate_bytes=64 << 10)
        recorder.writer.block_bytes = 64 << 10      # small blocks: several files, each restating
        fh = FeedHandler(endpoints={f.info.name: endpoint_options(f.info, f.sim) for f in feeds},
                         backoff_base=0.05, backoff_cap=0.2, recorder=recorder)
        for feed in feeds:
            subscribe(fh, feed)
        books: dict[str, OrderBook] = {}
        async with fh:
            async with pumping_all(feeds):
                await until(lambda: all(fh.book(f.info.name, SYMBOL).valid for f in feeds),
                            WAIT)
                for fault in ("gap", "checksum", "drop"):
                    hit = [f for f in feeds if inject(f, fault)]
                    try:
                        await until(lambda hit=hit: all(healed(f.updates) and
                                                        fh.book(f.info.name, SYMBOL).valid
                                                        for f in hit), WAIT)
                    except TimeoutError:
                        pending = [f.info.name for f in hit if not healed(f.updates)
                                   or not fh.book(f.info.name, SYMBOL).valid]
                        raise AssertionError(f"{fault}: not healed: {pending}") from None
                    for f in hit:
                        f.updates.clear()   # the next fault must heal afresh
            for feed in feeds:
                await until(lambda feed=feed: compare_book(fh.book(feed.info.name, SYMBOL),
                                                           feed.sim, feed.venue_symbol) == "",
                            WAIT)
                books[feed.info.name] = fh.book(feed.info.name, SYMBOL)
        final = {name: (levels(book), book.sequence) for name, book in books.items()}
        return feeds, recorder, final, rows(fh)


@contextlib.asynccontextmanager
async def pumping_all(feeds: list[Feed]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for feed in feeds:
            await stack.enter_async_context(pumping(feed.sim, steps=2, period=0.01))
        yield


async def test_replay_rebuilds_the_recorded_books_rings_and_callbacks(tmp_path: Path) -> None:
    feeds, recorder, live_books, live_rows = await record_run(tmp_path)
    assert recorder.errors == 0
    assert len(recorder.files) > 2, "rotation at 64 KiB should have started several files"
    assert all(f.events[("book", "invalid:False")] for f in feeds), "every book was withdrawn"

    replay = Replay(recorder.files)
    replayed = {f.info.name: Feed(f.info, f.sim, f.venue_symbol) for f in feeds}
    for feed in replayed.values():
        subscribe(replay.fh, feed)
    stats = replay.run()

    assert stats.cut == [] and stats.fatal == 0
    assert stats.frames == recorder.frames
    for name, (book_levels, sequence) in live_books.items():
        book = replay.book(name, SYMBOL)
        assert levels(book) == book_levels, name
        assert book.sequence == sequence, name
        assert len(book_levels[0]) > 0, name
    replayed_rows = rows(replay.fh)
    for ring, columns in live_rows.items():
        assert len(columns["instrument"]) > 0, ring
        for column, values in columns.items():
            np.testing.assert_array_equal(replayed_rows[ring][column], values,
                                          err_msg=f"{ring}.{column}")
    for feed in feeds:
        assert replayed[feed.info.name].events == feed.events, feed.info.name
    assert {channel for feed in feeds for channel, _ in feed.events} >= \
        {"book", "Trade", "Ticker", "Candle"}
    assert Channel.BOOK in feeds[0].info.channels


async def test_subscription_changes_while_recording_replay_the_same(tmp_path: Path) -> None:
    """Subscribing after start and unsubscribing a book mid-run: both are in the recording."""
    info = venue("binance")
    sim_venue = create_venue("binance", "spot", ["BTCUSDT", "ETHUSDT"])
    async with SimulatedExchange(sim_venue, seed=5, rate=None) as sim:
        recorder = Recorder(tmp_path)
        fh = FeedHandler(endpoints={"binance": endpoint_options(info, sim)}, recorder=recorder,
                         backoff_base=0.05, backoff_cap=0.2)
        live = Feed(info, sim, "BTCUSDT")
        eth_book = fh.subscribe_order_book("binance", "ETH-USDT", live.on_event)
        fh.subscribe_order_book("binance", SYMBOL, live.on_event)
        async with fh, pumping(sim, steps=2, period=0.01):
            await until(lambda: fh.book("binance", SYMBOL).valid
                        and fh.book("binance", "ETH-USDT").valid, WAIT)
            fh.subscribe_trades("binance", "ETH-USDT", live.on_event)
            await until(lambda: live.events[("Trade", "")] >= 5, WAIT)
            fh.unsubscribe(eth_book)
            await until(lambda: fh.connection(eth_book) is None, WAIT)
            trades_then = live.events[("Trade", "")]
            await until(lambda: live.events[("Trade", "")] >= trades_then + 5, WAIT)
            btc = fh.book("binance", SYMBOL)
        final = levels(btc)
    live_rows = rows(fh)

    replay = Replay(recorder.files)
    replayed = Feed(info, sim, "BTCUSDT")
    replay.fh.subscribe_order_book("binance", "ETH-USDT", replayed.on_event)
    replay.fh.subscribe_order_book("binance", SYMBOL, replayed.on_event)
    replay.fh.subscribe_trades("binance", "ETH-USDT", replayed.on_event)
    replay.run()
    assert levels(replay.book("binance", SYMBOL)) == final
    with pytest.raises(KeyError):
        replay.book("binance", "ETH-USDT")          # unsubscribed: its book is gone here too
    assert replayed.events == live.events
    for ring, columns in rows(replay.fh).items():
        for column, values in columns.items():
            np.testing.assert_array_equal(values, live_rows[ring][column], f"{ring}.{column}")
