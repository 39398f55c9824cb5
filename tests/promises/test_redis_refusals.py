"""Promise: a row Redis refuses is never counted written. Error replies (OOM past maxmemory,
READONLY from a replica, any other) and lost connections are retried within the sink's bound,
so refusals that end within it lose nothing; past it, the rows are counted lost, logged, and
``feedhandler run`` exits 1. Against a real redis-server, refusing for real: ``CONFIG SET
maxmemory 1`` (OOM) and ``REPLICAOF`` an address nothing listens on (READONLY)."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from feedhandler.core.rings import TradeRing
from feedhandler.events import Trade
from feedhandler.exchanges.base import Channel
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until
from feedhandler.sinks.base import SinkRunner
from feedhandler.sinks.redis_streams import RedisStreamSink, StreamConsumer
from feedhandler.sinks.testing import (
    INSTRUMENTS,
    SYMBOLS,
    RedisServer,
    free_port,
    subscribed_handler,
    trade_batch,
)

REPO = Path(__file__).resolve().parents[2]
WINDOW = 1.5          # seconds each refusal lasts
SUMMARY = re.compile(r"redis: ([\d,]+) rows written, ([\d,]+) dropped, ([\d,]+) failed")


async def refusing(url: str, kind: str, seconds: float) -> None:
    """Redis refuses every write for ``seconds``: OOM (maxmemory 1 byte, no eviction) or
    READONLY (a replica of a master that is not there, so it never syncs nor flushes)."""
    control = aioredis.from_url(url)
    try:
        if kind == "OOM":
            await control.config_set("maxmemory", 1)
        else:
            await control.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
        await asyncio.sleep(seconds)
        if kind == "OOM":
            await control.config_set("maxmemory", 0)
        else:
            await control.execute_command("REPLICAOF", "NO", "ONE")
    finally:
        await control.aclose()


async def stored_trades(url: str) -> list[tuple[str, int]]:
    entries = []
    async with StreamConsumer(url, match="fh:*:trades:*") as consumer:
        while batch := await consumer.read(count=10_000):
            entries += batch
    trades = [entry.event for entry in entries]
    assert all(isinstance(trade, Trade) for trade in trades)
    return [(trade.symbol, trade.trade_id) for trade in trades if isinstance(trade, Trade)]


def produced_trades(reader: object) -> list[tuple[str, int]]:
    symbols = list(SYMBOLS)
    rows = []
    while reader.pending:    # type: ignore[attr-defined]
        batch = reader.read().copy()    # type: ignore[attr-defined]
        rows += [(symbols[i], int(t)) for i, t in zip(batch["instrument"], batch["trade_id"],
                                                       strict=True)]
    return rows


@pytest.fixture
async def exchange() -> AsyncIterator[SimulatedExchange]:
    venue = SimBinance("spot", symbols=list(SYMBOLS.values()))
    async with SimulatedExchange(venue, seed=17, rate=1500, trade_probability=0.6) as running:
        yield running


@pytest.mark.parametrize("packed", [True, False], ids=["hiredis-packed", "redis-py-pipeline"])
async def test_oom_and_readonly_windows_within_the_bound_lose_no_row(
        redis_server: RedisServer, exchange: SimulatedExchange,
        caplog: pytest.LogCaptureFixture, packed: bool) -> None:
    fh = subscribed_handler(exchange, channels=(Channel.TRADES,))
    produced = fh.trades.reader()
    sink = RedisStreamSink(redis_server.url, retry_base=0.02, retry_cap=0.2, packed=packed)
    runner = SinkRunner(fh, sink, channels=(Channel.TRADES,))
    with caplog.at_level(logging.WARNING, logger="feedhandler.sinks"):
        async with runner:
            async with fh:
                await until(lambda: sum(runner.stats.written.values()) >= 300)
                await refusing(redis_server.url, "OOM", WINDOW)
                await refusing(redis_server.url, "READONLY", WINDOW)
                after = fh.trades.write_count
                await until(lambda: fh.trades.write_count >= after + 300)
            await until(lambda: runner.pending() == 0)
    stored = await stored_trades(redis_server.url)
    expected = produced_trades(produced)
    missing = set(expected) - set(stored)
    assert not missing, f"{len(missing)} of {len(expected)} trades missing from Redis"
    assert len(stored) == len(set(stored)) == len(expected), "a trade is in Redis twice"
    stats = runner.stats
    assert sum(stats.written.values()) == len(stored), "written is what Redis holds"
    assert not stats.failed and not stats.dropped and stats.held() == 0
    assert stats.retried[Channel.TRADES] > 0, "the windows refused rows, which were retried"
    logged = caplog.text
    assert "OOM" in logged and "READONLY" in logged, "each kind of refusal is logged"


async def test_refusals_past_the_bound_are_counted_lost_never_written(
        redis_server: RedisServer, exchange: SimulatedExchange,
        caplog: pytest.LogCaptureFixture) -> None:
    fh = subscribed_handler(exchange, channels=(Channel.TRADES,))
    produced = fh.trades.reader()
    sink = RedisStreamSink(redis_server.url, retry_base=0.02, retry_cap=0.1, retry_for=0.3)
    runner = SinkRunner(fh, sink, channels=(Channel.TRADES,))
    with caplog.at_level(logging.WARNING, logger="feedhandler.sinks"):
        async with runner:
            async with fh:
                await until(lambda: sum(runner.stats.written.values()) >= 300)
                await refusing(redis_server.url, "OOM", WINDOW)
                await refusing(redis_server.url, "READONLY", WINDOW)
                after = fh.trades.write_count
                await until(lambda: fh.trades.write_count >= after + 300)
            await until(lambda: runner.pending() == 0)
    stored = await stored_trades(redis_server.url)
    expected = produced_trades(produced)
    stats = runner.stats
    written, failed = sum(stats.written.values()), sum(stats.failed.values())
    assert written == len(stored) == len(set(stored)), "written is exactly what Redis holds"
    assert failed > 0 and stats.retried[Channel.TRADES] >= failed
    assert written + failed + sum(stats.dropped.values()) == len(expected)
    assert len(set(expected) - set(stored)) == failed, "every missing row is counted lost"
    assert stats.held() == 0
    lost_lines = [r for r in caplog.records if "rows lost" in r.getMessage()]
    assert lost_lines and all(r.levelno == logging.ERROR for r in lost_lines)
    assert "OOM" in caplog.text and "READONLY" in caplog.text


async def feedhandler_run_with_windows(redis_server: RedisServer, exchange: SimulatedExchange,
                                       *flags: str) -> tuple[int, str]:
    """``feedhandler run`` into Redis, refused OOM, then READONLY, each once rows flow, then
    ended with SIGTERM as Ctrl-C would; its exit status and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "feedhandler", "run", "--venue", "binance",
        "--symbol", ",".join(SYMBOLS), "--channel", "trades",
        "--endpoint", f"binance={exchange.ws_url},{exchange.http_url}",
        "--out", redis_server.url, "--status-interval", "0.5", *flags, cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        client = aioredis.from_url(redis_server.url)
        try:
            async def landed() -> int:
                return sum([await client.xlen(key)
                            async for key in client.scan_iter("fh:*:trades:*")])
            async def until_landed(count: int) -> None:
                while await landed() < count and process.returncode is None:
                    await asyncio.sleep(0.01)

            await asyncio.wait_for(until_landed(300), 30)
            for kind in ("OOM", "READONLY"):   # rows flow in between: each kind is met
                await refusing(redis_server.url, kind, WINDOW)
                await asyncio.wait_for(until_landed(await landed() + 300), 30)
        finally:
            await client.aclose()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, err.decode()


def summary_counts(err: str) -> tuple[int, int, int]:
    """Written, dropped and failed rows from the run's last line but the problems."""
    done = next(line for line in reversed(err.splitlines()) if "done after" in line)
    found = SUMMARY.search(done)
    assert found is not None, done
    written, dropped, failed = (int(n.replace(",", "")) for n in found.groups())
    return written, dropped, failed


def assert_no_holes(stored: list[tuple[str, int]]) -> None:
    """The simulator numbers each symbol's trades one by one: what Redis holds of a symbol runs
    from its first to its last trade without a gap."""
    for symbol in SYMBOLS:
        ids = sorted(trade_id for stored_symbol, trade_id in stored if stored_symbol == symbol)
        assert ids, symbol
        holes = (ids[-1] - ids[0] + 1) - len(ids)
        assert holes == 0, f"{symbol}: {holes} trades missing between {ids[0]} and {ids[-1]}"


async def test_feedhandler_run_through_both_windows_exits_0_with_every_trade_in_redis(
        redis_server: RedisServer, exchange: SimulatedExchange) -> None:
    status, err = await feedhandler_run_with_windows(redis_server, exchange)
    stored = await stored_trades(redis_server.url)
    assert_no_holes(stored)
    assert len(stored) == len(set(stored))
    assert summary_counts(err) == (len(stored), 0, 0), err
    assert status == 0, err
    assert "OOM" in err and "READONLY" in err, "each kind of refusal is logged"


async def test_feedhandler_run_past_the_bound_counts_rows_lost_and_exits_1(
        redis_server: RedisServer, exchange: SimulatedExchange) -> None:
    status, err = await feedhandler_run_with_windows(redis_server, exchange,
                                                     "--retry-for", "0.3")
    stored = await stored_trades(redis_server.url)
    written, _, failed = summary_counts(err)
    assert written == len(stored) == len(set(stored)), err
    assert failed > 0, err
    assert status == 1, err
    assert "rows lost" in err.splitlines()[-1], err


@pytest.mark.parametrize("packed", [True, False], ids=["hiredis-packed", "redis-py-pipeline"])
async def test_an_entry_refused_while_a_later_one_landed_is_written_not_taken_for_a_duplicate(
        redis_server: RedisServer, packed: bool) -> None:
    """A refusal that ends mid-pipeline: Redis refused a stream's entry, then took the next one.
    The retry of the first is answered "equal or smaller", as a retry of an entry that landed
    is; it must be found missing and written at a new id, not counted as a duplicate."""
    sink = RedisStreamSink(redis_server.url, packed=packed)
    await sink.open(INSTRUMENTS)
    try:
        entries = await sink.entries([trade_batch(TradeRing(1 << 10), 4)])
        await sink.send(entries[2:])     # the later entry of each stream landed...
        await sink.send(entries)         # ...and the pass is retried
    finally:
        await sink.close()
    stored = await stored_trades(redis_server.url)
    assert sorted(stored) == [("BTC-USDT", 1), ("BTC-USDT", 3), ("ETH-USDT", 2),
                              ("ETH-USDT", 4)]
    assert sink.stats()["duplicates"] == 2 and sink.stats()["displaced"] == 2
    assert sink.stats()["added"] == 4 and sink.stats()["lost"] == 0


async def test_rows_whose_instrument_redis_refuses_to_describe_are_counted_lost(
        redis_server: RedisServer) -> None:
    """The first row of an instrument also writes its description (HSET), which OOM refuses
    as it refuses XADDs: retried within the bound, then the pass is lost, not written."""
    control = aioredis.from_url(redis_server.url)
    await control.config_set("maxmemory", 1)
    sink = RedisStreamSink(redis_server.url, retry_base=0.01, retry_cap=0.05, retry_for=0.3)
    await sink.open(INSTRUMENTS)
    try:
        await sink.write([trade_batch(TradeRing(1 << 10), 6)])
    finally:
        await sink.close()
        await control.config_set("maxmemory", 0)
        await control.aclose()
    assert sink.ledger.failed[Channel.TRADES] == 6 and not sink.ledger.written
    assert sink.stats()["retries"] > 0 and await stored_trades(redis_server.url) == []
