"""The Redis Streams sink against a real redis-server: what lands is exact and complete, retries
add nothing twice, a Redis restart mid-publishing loses nothing Redis acknowledged."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AuthenticationError

from feedhandler.core.rings import TradeRing
from feedhandler.events import BookUpdate, Candle, Side, Ticker, Trade
from feedhandler.exchanges.base import Channel
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until
from feedhandler.sinks.base import SinkRunner
from feedhandler.sinks.redis_streams import RedisStreamSink, StreamConsumer
from feedhandler.sinks.testing import (
    INSTRUMENTS,
    REDIS_SERVER,
    SYMBOLS,
    VENUE,
    RedisClusterServers,
    RedisServer,
    subscribed_handler,
    trade_batch,
    true_top,
)

DEPTH = 5


async def stream_lengths(url: str) -> dict[str, int]:
    client = aioredis.from_url(url, decode_responses=True)
    try:
        return {key: await client.xlen(key)
                async for key in client.scan_iter(match="fh:*", _type="stream")}
    finally:
        await client.aclose()


async def read_everything(consumer: StreamConsumer) -> list:
    entries = []
    while batch := await consumer.read(count=5000):
        entries += batch
    return entries


async def test_every_channel_lands_exact_and_reads_back_as_typed_events(
        redis_server: RedisServer) -> None:
    venue = SimBinance("spot", symbols=list(SYMBOLS.values()))
    async with SimulatedExchange(venue, seed=3, rate=400) as exchange:
        fh = subscribed_handler(exchange)
        trades: list[Trade] = []
        fh.subscribe_trades(VENUE, "BTC-USDT", trades.append)   # the reference
        runner = SinkRunner(fh, RedisStreamSink(redis_server.url), book_depth=DEPTH,
                            book_interval=0.05)
        async with runner, fh:
            await until(lambda: runner.stats.book_snapshots >= 6 and len(trades) >= 20
                        and runner.stats.written[Channel.OHLCV] >= 4)
        assert runner.stats.dropped == {} and runner.stats.failed == {}

        lengths = await stream_lengths(redis_server.url)
        for symbol in SYMBOLS:
            for channel in ("trades", "ticker", "ohlcv", "book"):
                assert lengths.get(f"fh:binance:{channel}:{symbol}", 0) > 0, (channel, lengths)
        assert sum(lengths.values()) == sum(runner.stats.written.values())

        async with StreamConsumer(redis_server.url) as consumer:
            entries = await read_everything(consumer)
        by_stream: dict[str, list] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.event)
        assert {key: len(events) for key, events in by_stream.items()} == lengths

        # trades come back equal to what the callback got, as exact decimals
        got = by_stream["fh:binance:trades:BTC-USDT"]
        assert all(isinstance(trade, Trade) for trade in got)
        assert [t[1:] for t in got] == [t[1:] for t in trades]
        assert [t.price for t in got] == [t.price for t in trades]
        assert all(isinstance(t.price, Decimal) and t.side in (Side.BUY, Side.SELL) for t in got)
        assert got[0].instrument.price_scale == trades[0].instrument.price_scale
        assert got[0].symbol == "BTC-USDT" and got[0].exchange == VENUE

        tickers = by_stream["fh:binance:ticker:ETH-USDT"]
        assert all(isinstance(t, Ticker) and t.bid < t.ask for t in tickers)
        candles = by_stream["fh:binance:ohlcv:BTC-USDT"]
        assert all(isinstance(c, Candle) and c.timeframe_seconds == 60 for c in candles)
        assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
                   for c in candles)

        # every book snapshot is the simulator's true top of book at its sequence
        compared = 0
        for symbol, venue_symbol in SYMBOLS.items():
            snapshots = by_stream[f"fh:binance:book:{symbol}"]
            assert all(isinstance(s, BookUpdate) for s in snapshots)
            assert [s.sequence for s in snapshots] == sorted({s.sequence for s in snapshots})
            for snapshot in snapshots:
                try:
                    bids, asks = true_top(exchange, venue_symbol, snapshot.sequence, DEPTH)
                except (KeyError, ValueError, IndexError):
                    continue    # older than the simulator's history
                prices, sizes = snapshot.book.levels(0)
                scale_p = Decimal(10) ** -snapshot.book.price_scale
                scale_s = Decimal(10) ** -snapshot.book.size_scale
                ours = sorted(((int(p) * scale_p, int(s) * scale_s)
                               for p, s in zip(prices, sizes, strict=True)), reverse=True)
                assert ours == bids
                prices, sizes = snapshot.book.levels(1)
                assert sorted((int(p) * scale_p, int(s) * scale_s)
                              for p, s in zip(prices, sizes, strict=True)) == asks
                compared += 1
        assert compared >= 2


async def test_a_retried_write_adds_nothing_twice_and_a_new_run_goes_on_above(
        redis_server: RedisServer) -> None:
    ring = TradeRing(1 << 10)
    batch = trade_batch(ring, 40)
    url = redis_server.url.replace("/0", "/3")    # the sink's own connection SELECTs it
    sink = RedisStreamSink(url)
    await sink.open(INSTRUMENTS)
    try:
        entries = await sink.entries([batch])
        await sink.send(entries)
        await sink.send(entries)          # as when a reply was lost with the connection
    finally:
        await sink.close()
    assert sink.stats()["added"] == 40 and sink.stats()["duplicates"] == 40
    assert await stream_lengths(redis_server.url) == {}
    assert await stream_lengths(url) == {"fh:binance:trades:BTC-USDT": 20,
                                         "fh:binance:trades:ETH-USDT": 20}

    # a restarted publisher numbers its rows from 0 again: its ids still go on above
    again = RedisStreamSink(url)
    await again.open(INSTRUMENTS)
    try:
        await again.write([trade_batch(TradeRing(1 << 10), 10, first_id=1000)])
    finally:
        await again.close()
    assert again.stats()["added"] == 10 and again.stats()["duplicates"] == 0
    async with StreamConsumer(url, ["fh:binance:trades:BTC-USDT"]) as consumer:
        entries = await read_everything(consumer)
    ids = [tuple(map(int, entry.id.split("-"))) for entry in entries]
    assert ids == sorted(ids) and len(set(ids)) == 25
    assert [e.event.trade_id for e in entries] == [*range(1, 41, 2), *range(1000, 1010, 2)]
    assert entries[0].event.price == Decimal("67000.12") and entries[0].event.side is Side.SELL


async def test_streams_are_trimmed_to_about_maxlen(redis_server: RedisServer) -> None:
    sink = RedisStreamSink(redis_server.url, maxlen=50)
    await sink.open(INSTRUMENTS)
    ring = TradeRing(1 << 12)
    try:
        for _ in range(10):
            await sink.write([trade_batch(ring, 200)])
    finally:
        await sink.close()
    for length in (await stream_lengths(redis_server.url)).values():
        assert 50 <= length < 1000     # "~": whole nodes of up to 100 entries go at once


@pytest.mark.parametrize("packed", [True, False], ids=["hiredis-packed", "redis-py-pipeline"])
async def test_a_retry_of_entries_trimmed_since_they_landed_adds_none_again(
        redis_server: RedisServer, packed: bool) -> None:
    """Entries MAXLEN trimmed away since they landed are answered "equal or smaller" and are
    not in the stream when read back: below the stream's first entry, they count as
    duplicates, not as refused entries to write again."""
    sink = RedisStreamSink(redis_server.url, maxlen=10, packed=packed)
    await sink.open(INSTRUMENTS)
    try:
        entries = await sink.entries([trade_batch(TradeRing(1 << 10), 600)])
        await sink.send(entries)
        lengths = await stream_lengths(redis_server.url)
        assert all(length < 300 for length in lengths.values()), lengths   # trimmed
        await sink.send(entries)
    finally:
        await sink.close()
    assert await stream_lengths(redis_server.url) == lengths
    assert sink.stats()["displaced"] == 0 and sink.stats()["duplicates"] == 600


async def test_a_consumer_group_shares_the_entries_and_acks_them(
        redis_server: RedisServer) -> None:
    sink = RedisStreamSink(redis_server.url)
    await sink.open(INSTRUMENTS)
    try:
        await sink.write([trade_batch(TradeRing(1 << 10), 30)])
    finally:
        await sink.close()
    first = StreamConsumer(redis_server.url, group="analytics", consumer="a")
    second = StreamConsumer(redis_server.url, group="analytics", consumer="b")
    async with first, second:
        got_a = await first.read(count=10)
        got_b = await second.read(count=100)
        assert len(got_a) == 20 and len(got_b) == 10     # 10 per stream, then the rest
        assert {e.id for e in got_a}.isdisjoint({e.id for e in got_b})
        assert await first.ack(got_a) == 20
        assert await second.ack(got_b) == 10
        client = first.client
        for stream in ("fh:binance:trades:BTC-USDT", "fh:binance:trades:ETH-USDT"):
            assert (await client.xpending(stream, "analytics"))["pending"] == 0
        assert await first.read() == []
    async with StreamConsumer(redis_server.url, match="fh:*:trades:ETH-*") as eth:
        assert await eth.stream_names() == ["fh:binance:trades:ETH-USDT"]
        assert {e.event.symbol for e in await eth.read()} == {"ETH-USDT"}
    with pytest.raises(ValueError, match="needs a consumer name"):
        StreamConsumer(redis_server.url, group="analytics")


@pytest.mark.parametrize("packed", [True, False], ids=["hiredis-packed", "redis-py-pipeline"])
async def test_a_redis_restart_mid_publishing_loses_nothing_acknowledged(
        redis_server: RedisServer, packed: bool) -> None:
    venue = SimBinance("spot", symbols=list(SYMBOLS.values()))
    async with SimulatedExchange(venue, seed=5, rate=3000, trade_probability=0.6) as exchange:
        fh = subscribed_handler(exchange, channels=(Channel.TRADES,))
        produced = fh.trades.reader()
        sink = RedisStreamSink(redis_server.url, packed=packed, retry_base=0.02, retry_cap=0.2)
        assert sink.packed is packed
        runner = SinkRunner(fh, sink, channels=(Channel.TRADES,))
        async with runner:
            async with fh:
                await until(lambda: sink.stats()["added"] >= 500)
                await asyncio.to_thread(redis_server.restart)
                before = sink.stats()["added"]
                await until(lambda: sink.stats()["added"] >= before + 500)
            await until(lambda: runner.pending() == 0)
    stats = sink.stats()
    assert stats["refused"] >= 1 and stats["retries"] >= 1, stats
    assert stats["lost"] == 0 and not runner.stats.failed, stats

    rows = []
    while produced.pending:
        rows.append(produced.read().copy())
    produced_ids = [int(i) for batch in rows for i in batch["trade_id"]]
    async with StreamConsumer(redis_server.url) as consumer:
        entries = await read_everything(consumer)
    stored = [(e.event.symbol, e.event.trade_id) for e in entries]
    assert len(stored) == len(set(stored)), "an entry is in Redis twice"
    # every row the runner saw written (Redis acknowledged it) is there, exactly once
    written = runner.stats.written[Channel.TRADES]
    assert len(stored) == written == stats["added"] + stats["duplicates"]
    assert written + runner.stats.dropped[Channel.TRADES] + runner.stats.failed[Channel.TRADES] \
        == len(produced_ids)
    assert {trade_id for _, trade_id in stored} <= set(produced_ids)


async def test_a_redis_cluster_takes_the_streams_across_its_slots(
        redis_cluster: RedisClusterServers) -> None:
    streams = ["fh:binance:trades:BTC-USDT", "fh:binance:trades:ETH-USDT"]
    url = f"redis://127.0.0.1:{redis_cluster.port}/0"
    sink = RedisStreamSink(url, cluster=True)
    await sink.open(INSTRUMENTS)
    try:
        assert isinstance(sink.client, RedisCluster)
        assert sink.client.keyslot(streams[0]) != sink.client.keyslot(streams[1])
        entries = await sink.entries([trade_batch(TradeRing(1 << 10), 40)])
        await sink.send(entries)      # one pipeline across slots
        await sink.send(entries)
    finally:
        await sink.close()
    assert sink.stats()["added"] == 40 and sink.stats()["duplicates"] == 40
    async with StreamConsumer(url, cluster=True) as consumer:
        assert await consumer.stream_names() == streams
        entries_read = await read_everything(consumer)
    reader = RedisCluster(host="127.0.0.1", port=redis_cluster.port, decode_responses=True)
    try:
        async with StreamConsumer(client=reader, group="g", consumer="c") as grouped:
            shared = await grouped.read()
            assert await grouped.ack(shared) == 40
    finally:
        await reader.aclose()
    assert sorted(e.event.trade_id for e in entries_read) == list(range(1, 41))
    assert len(shared) == 40


async def test_a_password_protected_redis_takes_the_url_password_and_never_shows_it(
        tmp_path: Path) -> None:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (CI installs it: .ci/run)")
    server = RedisServer(tmp_path, ("--requirepass", "s3cret-pw"))
    try:
        server.start()
        url = f"redis://:s3cret-pw@127.0.0.1:{server.port}/2"
        sink = RedisStreamSink(url)
        await sink.open(INSTRUMENTS)
        try:
            await sink.write([trade_batch(TradeRing(1 << 10), 6)])   # AUTH, SELECT, XADDs
        finally:
            await sink.close()
        assert sink.stats()["added"] == 6 and sink.packed
        async with StreamConsumer(url) as consumer:
            assert len(await read_everything(consumer)) == 6
        wrong = RedisStreamSink(f"redis://:not-it@127.0.0.1:{server.port}/2")
        with pytest.raises(AuthenticationError) as refused:
            await wrong.open(INSTRUMENTS)
        await wrong.close()
        assert "not-it" not in str(refused.value) and "not-it" not in repr(refused.value)
    finally:
        server.kill()
