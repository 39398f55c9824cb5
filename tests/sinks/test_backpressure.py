"""A slow or failing sink never holds up the feed: the event loop keeps its pace, books stay
exact, and every row is accounted for as written, dropped (counted, reported) or failed."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from feedhandler.exchanges.base import Channel
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until
from feedhandler.sinks.base import Batch, BlockingSink, Sink, SinkRunner
from feedhandler.sinks.testing import SYMBOLS, VENUE, subscribed_handler

STALL = 0.8     # seconds per write of the slow sinks: a loop it blocked would lag as long


class SleepingSink(BlockingSink):
    """Blocks its thread: a disk that cannot keep up."""

    name = "sleeping"

    def write_blocking(self, batches: list[Batch]) -> None:
        time.sleep(STALL)


class AwaitingSink(Sink):
    """Awaits: a remote store that answers late."""

    name = "awaiting"

    async def write(self, batches: list[Batch]) -> None:
        await asyncio.sleep(STALL)


class FailingSink(Sink):
    name = "failing"

    async def write(self, batches: list[Batch]) -> None:
        raise OSError("disk full")


async def loop_lag(stop: asyncio.Event) -> float:
    """The longest the event loop was late for a 10 ms timer."""
    worst = 0.0
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(0.01)
        worst = max(worst, time.monotonic() - started - 0.01)
    return worst


def true_levels(exchange: SimulatedExchange, venue_symbol: str, sequence: int,
                side: int) -> dict[Decimal, Decimal]:
    spec = exchange.market.instrument(venue_symbol)
    snapshot = exchange.market.book_at(venue_symbol, sequence)
    levels = snapshot.bids if side == 0 else snapshot.asks
    return {p * Decimal(spec.tick_size): s * Decimal(spec.lot_size) for p, s in levels.items()}


@pytest.mark.parametrize("sink_type", [SleepingSink, AwaitingSink])
async def test_a_slow_sink_drops_counted_rows_and_never_blocks_the_loop_or_a_book(
        sink_type: type[Sink], caplog: pytest.LogCaptureFixture) -> None:
    venue = SimBinance("spot", symbols=list(SYMBOLS.values()))
    async with SimulatedExchange(venue, seed=11, rate=3000, trade_probability=0.6) as exchange:
        fh = subscribed_handler(exchange, ring_capacity=256)
        first_rows = {channel: ring.write_count for channel, ring in
                      ((Channel.TRADES, fh.trades), (Channel.TICKER, fh.tickers),
                       (Channel.OHLCV, fh.candles))}
        trades = []
        fh.subscribe_trades(VENUE, "BTC-USDT", trades.append)
        runner = SinkRunner(fh, sink_type(), book_interval=0.0, report_interval=0.0)
        stop = asyncio.Event()
        with caplog.at_level(logging.WARNING, logger="feedhandler.sinks.base"):
            async with runner, fh:
                lag = asyncio.create_task(loop_lag(stop))
                await until(lambda: runner.stats.writes >= 3
                            and runner.stats.dropped[Channel.TRADES] > 0)
                delivered = len(trades)
                await until(lambda: len(trades) > delivered + 100)   # the feed goes on
                for symbol, venue_symbol in SYMBOLS.items():
                    book = fh.book(VENUE, symbol)
                    await until(lambda book=book: book.valid)
                    for side in (0, 1):
                        prices, sizes = book.levels(side)
                        scale_p = Decimal(10) ** -book.price_scale
                        scale_s = Decimal(10) ** -book.size_scale
                        ours = {int(p) * scale_p: int(s) * scale_s
                                for p, s in zip(prices, sizes, strict=True)}
                        assert ours == true_levels(exchange, venue_symbol, book.sequence, side)
                stop.set()
                worst_lag = await lag
    assert worst_lag < STALL, f"the event loop stalled {worst_lag:.3f} s"
    stats = runner.stats
    for channel, ring in ((Channel.TRADES, fh.trades), (Channel.TICKER, fh.tickers),
                          (Channel.OHLCV, fh.candles)):
        produced = ring.write_count - first_rows[channel]
        accounted = stats.written[channel] + stats.dropped[channel] + stats.failed[channel]
        assert accounted == produced, (channel, stats, produced)
    assert runner.report()["dropped"]["trades"] == stats.dropped[Channel.TRADES] > 0
    assert any("fell behind" in record.getMessage() and "rows dropped" in record.getMessage()
               for record in caplog.records)
    assert fh.stats()["overruns"] == 0, "the FeedHandler's own delivery lost nothing"
    assert "dropped" in runner.status_line()


async def test_a_failing_sink_counts_the_rows_it_lost_and_the_runner_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    venue = SimBinance("spot", symbols=list(SYMBOLS.values()))
    async with SimulatedExchange(venue, seed=12, rate=1000) as exchange:
        fh = subscribed_handler(exchange, channels=(Channel.TRADES, Channel.TICKER))
        runner = SinkRunner(fh, FailingSink(), channels=(Channel.TRADES, Channel.TICKER),
                            report_interval=60.0)
        with caplog.at_level(logging.ERROR, logger="feedhandler.sinks.base"):
            async with runner, fh:
                await until(lambda: runner.stats.failed_writes >= 3)
    assert runner.stats.failed[Channel.TICKER] > 0 and not runner.stats.written
    assert "a write of" in caplog.text and "OSError: disk full" in caplog.text
    failures = [r for r in caplog.records if "a write of" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info, "one report, with its traceback"
