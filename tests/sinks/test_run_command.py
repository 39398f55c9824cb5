"""``feedhandler run`` from a TOML config into a real Redis and a Parquet directory at once."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pandas as pd

from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sinks.redis_streams import StreamConsumer
from feedhandler.sinks.testing import RedisServer

REPO = Path(__file__).resolve().parents[2]


async def test_run_from_a_config_file_fills_redis_and_parquet_alike(
        redis_server: RedisServer, tmp_path: Path) -> None:
    venue = SimBinance("spot", symbols=["BTCUSDT", "ETHUSDT"])
    async with SimulatedExchange(venue, seed=9, rate=300) as exchange:
        config = tmp_path / "feed.toml"
        config.write_text(f'''
out = ["{redis_server.url}", "parquet:{tmp_path / 'data'}"]
duration = 2.5
book_depth = 4
book_interval = 0.2

[[subscribe]]
venue = "binance"
symbols = ["BTC-USDT", "ETH-USDT"]
channels = ["trades", "book"]

[endpoints.binance]
ws_url = "{exchange.ws_url}"
rest_url = "{exchange.http_url}"

[redis]
prefix = "md"
maxlen = 100000
''')
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "feedhandler", "run", "--config", str(config), cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out == b"", "nothing on stdout without --out stdout"
    done = err.decode().splitlines()[-1]
    counts = {sink: int(count.replace(",", "")) for sink, count in re.findall(
        r"(redis|parquet): ([\d,]+) rows written, 0 dropped, 0 failed", done)}
    assert counts["redis"] > 0 and counts["parquet"] > 0, done

    async with StreamConsumer(redis_server.url, prefix="md") as consumer:
        assert await consumer.stream_names() == [
            "md:binance:book:BTC-USDT", "md:binance:book:ETH-USDT",
            "md:binance:trades:BTC-USDT", "md:binance:trades:ETH-USDT"]
        entries = []
        while batch := await consumer.read(count=10_000):
            entries += batch
    assert len(entries) == counts["redis"]
    trades = pd.read_parquet(tmp_path / "data" / "trades")
    books = pd.read_parquet(tmp_path / "data" / "book")
    assert len(trades) + len(books) == counts["parquet"]
    assert len(books) > 0 and any(e.stream.startswith("md:binance:book:") for e in entries)
    assert "bid_price_4" in books.columns and "bid_price_5" not in books.columns
    # each sink snapshots books on its own clock; trades are the same rows in both
    from_redis = sorted((e.event.symbol, e.event.trade_id, e.event.price) for e in entries
                        if e.stream.startswith("md:binance:trades:"))
    assert from_redis == sorted(zip(trades["symbol"], trades["trade_id"], trades["price"],
                                    strict=True))
