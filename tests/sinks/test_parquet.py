"""The Parquet sink: a schema per channel, exact decimals, whole files only, read back as-is by
pandas and polars."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feedhandler.core.rings import TradeRing
from feedhandler.events import Trade
from feedhandler.exchanges.base import Channel
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until
from feedhandler.sinks.base import SinkRunner
from feedhandler.sinks.parquet import ParquetSink, decimal_array
from feedhandler.sinks.testing import (
    INSTRUMENTS,
    SYMBOLS,
    VENUE,
    subscribed_handler,
    trade_batch,
    true_top,
)

DEPTH = 5


def test_decimal_array_is_exact_for_every_int64_and_scale() -> None:
    rng = np.random.default_rng(1)
    ticks = np.concatenate([rng.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64,
                                         endpoint=True),
                            np.array([0, -1, 1, -2**63, 2**63 - 1], dtype=np.int64)])
    scales = rng.integers(0, 19, len(ticks)).astype(np.int64)
    array = decimal_array(ticks, scales, 18, valid=ticks != 0)
    assert array.type == pa.decimal128(38, 18)
    for value, tick, scale in zip(array.to_pylist(), ticks.tolist(), scales.tolist(),
                                  strict=True):
        assert value == (None if tick == 0 else Decimal(tick).scaleb(-scale))
    with pytest.raises(ValueError, match="more than 4 decimals"):
        decimal_array(ticks[:3], scales[:3] * 0 + 5, 4)


async def test_every_channel_is_written_exact_and_pandas_and_polars_read_it(
        tmp_path: Path) -> None:
    venue = SimBinance("spot", symbols=list(SYMBOLS.values()))
    async with SimulatedExchange(venue, seed=4, rate=400) as exchange:
        fh = subscribed_handler(exchange)
        trades: list[Trade] = []
        fh.subscribe_trades(VENUE, "ETH-USDT", trades.append)
        sink = ParquetSink(tmp_path)
        runner = SinkRunner(fh, sink, book_depth=DEPTH, book_interval=0.05)
        async with runner, fh:
            await until(lambda: runner.stats.book_snapshots >= 6 and len(trades) >= 20
                        and runner.stats.written[Channel.OHLCV] >= 4)
    assert not list(tmp_path.rglob("*.tmp")), "a file was left unfinished"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "ohlcv", "ticker", "trades"]
    for channel in ("book", "ohlcv", "ticker", "trades"):
        frame = pd.read_parquet(tmp_path / channel)
        assert len(frame) == runner.stats.written[Channel(channel)], channel
        assert str(frame["ts_receive"].dtype) == "datetime64[ns, UTC]"
        assert set(frame["venue"]) == {VENUE} and set(frame["symbol"]) == set(SYMBOLS)

    frame = pd.read_parquet(tmp_path / "trades")
    eth = frame[frame["symbol"] == "ETH-USDT"]
    assert list(eth["price"]) == [trade.price for trade in trades]
    assert list(eth["size"]) == [trade.size for trade in trades]
    assert list(eth["trade_id"]) == [trade.trade_id for trade in trades]
    assert list(eth["side"]) == [trade.side.name.lower() for trade in trades]
    assert all(isinstance(price, Decimal) for price in eth["price"])
    schema = pq.read_schema(next((tmp_path / "trades").iterdir()))
    assert schema.field("price").type == pa.decimal128(38, 18)
    assert schema.metadata[b"feedhandler.channel"] == b"trades"

    polars_trades = pl.read_parquet(str(tmp_path / "trades" / "*.parquet"))
    assert polars_trades.schema["price"] == pl.Decimal(38, 18)
    assert polars_trades.filter(pl.col("symbol") == "ETH-USDT")["price"].to_list() == \
        [trade.price for trade in trades]

    tickers = pd.read_parquet(tmp_path / "ticker")
    assert (tickers["bid_price"] < tickers["ask_price"]).all()
    assert tickers["ts_exchange"].isna().all(), "Binance's bookTicker carries no time"
    assert frame["ts_exchange"].notna().all()
    candles = pl.read_parquet(str(tmp_path / "ohlcv" / "*.parquet"))
    assert set(candles["interval_s"].to_list()) == {60}
    assert (candles["low"] <= candles["high"]).all()

    books = pd.read_parquet(tmp_path / "book")
    compared = 0
    for row in books.itertuples():
        try:
            bids, asks = true_top(exchange, SYMBOLS[row.symbol], row.sequence, DEPTH)
        except (KeyError, ValueError, IndexError):
            continue     # older than the simulator's history
        ours_bids = [(getattr(row, f"bid_price_{k}"), getattr(row, f"bid_size_{k}"))
                     for k in range(1, DEPTH + 1)]
        ours_asks = [(getattr(row, f"ask_price_{k}"), getattr(row, f"ask_size_{k}"))
                     for k in range(1, DEPTH + 1)]
        assert ours_bids == bids and ours_asks == asks
        compared += 1
    assert compared >= 2


async def test_a_slow_trickle_reaches_a_file_within_the_durability_window(
        tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path, durability_window=0.2)
    await sink.open(INSTRUMENTS)
    ring = TradeRing(1 << 10)
    try:
        await sink.write([trade_batch(ring, 3)])
        assert sink.stats() == {"files": 0, "failed_files": 0, "buffered_rows": 3}
        assert not sink.ledger.written, "rows in memory are not written yet"
        due = sink.due_at()
        assert due is not None and 0.1 < due - time.monotonic() <= 0.2
        await asyncio.sleep(0.25)
        await sink.write([])        # the runner's call when due, rows or not
        assert sink.stats()["files"] == 1 and sink.stats()["buffered_rows"] == 0
        assert sink.ledger.written[Channel.TRADES] == 3 and sink.due_at() is None
        assert len(pd.read_parquet(tmp_path / "trades")) == 3
    finally:
        await sink.close()


async def test_files_roll_and_each_is_complete(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path, rows_per_group=50, rows_per_file=120)
    await sink.open(INSTRUMENTS)
    ring = TradeRing(1 << 12)
    try:
        for k in range(10):
            await sink.write([trade_batch(ring, 40, first_id=1 + 40 * k)])
        assert sink.stats()["files"] >= 2
    finally:
        await sink.close()
    files = sorted((tmp_path / "trades").iterdir())
    assert len(files) == sink.stats()["files"] >= 3 and all(f.suffix == ".parquet" for f in files)
    frame = pd.read_parquet(tmp_path / "trades")
    assert sorted(frame["trade_id"]) == list(range(1, 401))
    first = frame[frame["trade_id"] == 1].iloc[0]
    assert first["price"] == Decimal("67000.12") and first["size"] == Decimal("0.0015")
    assert first["side"] == "sell" and first["symbol"] == "BTC-USDT"
