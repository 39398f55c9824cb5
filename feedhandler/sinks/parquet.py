"""Parquet files: trades, tickers, candles and top-N book snapshots, a schema per channel,
written on the sink's own thread in row groups by pyarrow.

Layout: ``<directory>/<channel>/<UTC start>-<pid>-<n>.parquet`` (channel ``trades``,
``ticker``, ``ohlcv`` or ``book``). A file is written under a ``.tmp`` name and renamed when it
is complete (``rows_per_file`` rows, ``seconds_per_file`` seconds, or ``close``), so anything
reading the directory (``pandas.read_parquet(dir)``, ``polars.read_parquet(dir + "/*.parquet")``)
only ever sees whole files; shards writing to one directory never collide (the pid).

Rows wait in memory until a channel has ``rows_per_group`` of them, or its oldest is
``seconds_per_file`` old at a write, then go out as one row group; a file's age counts from
its oldest row, so a quiet channel's rows reach a whole file in about ``seconds_per_file`` too.

Prices and sizes are exact: ``decimal128(38, decimal_scale)`` (default 18 decimals: every
instrument's int64 fixed point fits, whatever its own scale), which pandas reads as
``decimal.Decimal`` and polars as ``Decimal``. Times are ``timestamp[ns, UTC]``
(``ts_exchange`` null where the venue stamps none).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from feedhandler.exchanges.base import Channel
from feedhandler.sinks.base import Batch, BlockingSink
from feedhandler.sinks.records import SIDE_NAMES

DECIMAL_SCALE = 18
ROWS_PER_GROUP = 100_000
ROWS_PER_FILE = 1_000_000
SECONDS_PER_FILE = 300.0
LOW32 = np.uint64(0xFFFFFFFF)
THIRTY_TWO = np.uint64(32)
TIMESTAMP = pa.timestamp("ns", tz="UTC")


def decimal_array(ticks: np.ndarray, scales: np.ndarray, target: int,
                  valid: np.ndarray | None = None) -> pa.Array:
    """int64 ``ticks`` at per-row ``scales`` as exact ``decimal128(38, target)``: the
    128-bit products ``ticks * 10**(target - scale)`` computed in 32-bit limbs with numpy, so
    no row goes through Python or a float."""
    if np.any(scales > target):
        raise ValueError(f"an instrument keeps more than {target} decimals")
    negative = ticks < 0
    magnitude = ticks.astype(np.uint64)
    magnitude[negative] = ~magnitude[negative] + np.uint64(1)
    multiplier = (np.uint64(10) ** (target - scales).astype(np.uint64)).astype(np.uint64)
    a_lo, a_hi = magnitude & LOW32, magnitude >> THIRTY_TWO
    b_lo, b_hi = multiplier & LOW32, multiplier >> THIRTY_TWO
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    middle = (p0 >> THIRTY_TWO) + (p1 & LOW32) + (p2 & LOW32)
    low = (p0 & LOW32) | (middle << THIRTY_TWO)
    high = p3 + (p1 >> THIRTY_TWO) + (p2 >> THIRTY_TWO) + (middle >> THIRTY_TWO)
    low_negated = ~low + np.uint64(1)
    high[negative] = ~high[negative] + (low_negated[negative] == 0).astype(np.uint64)
    low[negative] = low_negated[negative]
    words = np.empty((len(ticks), 2), dtype=np.uint64)
    words[:, 0], words[:, 1] = low, high
    validity = None
    if valid is not None and not valid.all():
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.decimal128(38, target), len(ticks),
                                 [validity, pa.py_buffer(words)])


class ParquetSink(BlockingSink):
    name = "parquet"

    def __init__(self, directory: str | os.PathLike[str], *,
                 decimal_scale: int = DECIMAL_SCALE, rows_per_group: int = ROWS_PER_GROUP,
                 rows_per_file: int = ROWS_PER_FILE,
                 seconds_per_file: float = SECONDS_PER_FILE, compression: str = "zstd") -> None:
        super().__init__()
        if not 0 <= decimal_scale <= 18:
            raise ValueError(f"decimal_scale must be within 0..18, got {decimal_scale}")
        if rows_per_group < 1 or rows_per_file < 1 or seconds_per_file <= 0:
            raise ValueError("rows_per_group, rows_per_file and seconds_per_file must be positive")
        self.directory = Path(directory)
        self.decimal_scale = decimal_scale
        self.rows_per_group = rows_per_group
        self.rows_per_file = rows_per_file
        self.seconds_per_file = seconds_per_file
        self.compression = compression
        self.files: dict[Channel, ChannelFile] = {}
        self.pending: dict[Channel, list[pa.RecordBatch]] = {}
        self.pending_rows: dict[Channel, int] = {}
        self.pending_since: dict[Channel, float] = {}      # monotonic, of the oldest row
        self.completed: list[Path] = []
        self.file_count = 0

    def open_blocking(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def write_blocking(self, batches: list[Batch]) -> None:
        now = time.monotonic()
        for batch in batches:
            if not len(batch):
                continue
            record_batch = self.record_batch(batch)
            self.pending.setdefault(batch.channel, []).append(record_batch)
            self.pending_rows[batch.channel] = self.pending_rows.get(batch.channel, 0) \
                + len(batch)
            self.pending_since.setdefault(batch.channel, now)
        for channel in list(self.pending):
            if (self.pending_rows[channel] >= self.rows_per_group
                    or now - self.pending_since[channel] >= self.seconds_per_file):
                self.flush(channel)

    def close_blocking(self) -> None:
        for channel in list(self.pending):
            self.flush(channel)
        for channel in list(self.files):
            self.finish(channel)

    def stats(self) -> dict[str, Any]:
        return {"files": len(self.completed), "open_files": len(self.files),
                "buffered_rows": sum(self.pending_rows.values())}

    # ---- files -----------------------------------------------------------------------------

    def flush(self, channel: Channel) -> None:
        """The channel's buffered rows as one row group; the file rolled when full or old."""
        batches = self.pending.pop(channel, [])
        rows = self.pending_rows.pop(channel, 0)
        oldest = self.pending_since.pop(channel, time.monotonic())
        if not batches:
            return
        file = self.files.get(channel)
        if file is None:
            file = self.files[channel] = self.new_file(channel, batches[0].schema, oldest)
        file.writer.write_table(pa.Table.from_batches(batches, batches[0].schema))
        file.rows += rows
        if file.rows >= self.rows_per_file or time.monotonic() - file.oldest >= \
                self.seconds_per_file:
            self.finish(channel)

    def new_file(self, channel: Channel, schema: pa.Schema, oldest: float) -> ChannelFile:
        folder = self.directory / channel.value
        folder.mkdir(parents=True, exist_ok=True)
        self.file_count += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = folder / f"{stamp}-{os.getpid()}-{self.file_count}.parquet"
        temporary = path.with_name(path.name + ".tmp")
        return ChannelFile(path, temporary, pq.ParquetWriter(temporary, schema,
                                                             compression=self.compression),
                           oldest)

    def finish(self, channel: Channel) -> None:
        file = self.files.pop(channel)
        file.writer.close()
        file.temporary.rename(file.path)
        self.completed.append(file.path)

    # ---- rows -> Arrow ---------------------------------------------------------------------

    def record_batch(self, batch: Batch) -> pa.RecordBatch:
        columns = batch.columns
        instruments = [self.instruments[i] for i in range(len(self.instruments))]
        ids = pa.array(columns["instrument"])
        price_scales = np.array([i.price_scale for i in instruments], dtype=np.int64)
        size_scales = np.array([i.size_scale for i in instruments], dtype=np.int64)
        row_price = price_scales[columns["instrument"]]
        row_size = size_scales[columns["instrument"]]
        target = self.decimal_scale

        def price(name: str, valid: np.ndarray | None = None) -> pa.Array:
            return decimal_array(columns[name], row_price, target, valid)

        def size(name: str) -> pa.Array:
            return decimal_array(columns[name], row_size, target)

        def timestamp(name: str) -> pa.Array:
            return pa.array(columns[name]).cast(TIMESTAMP)

        def venue_time(name: str) -> pa.Array:     # 0: the venue gave none, so null
            return pa.array(columns[name], mask=columns[name] == 0).cast(TIMESTAMP)

        arrays: dict[str, pa.Array] = {
            "venue": pa.array([i.venue for i in instruments], pa.string()).take(ids),
            "symbol": pa.array([i.symbol for i in instruments], pa.string()).take(ids),
            "ts_exchange": venue_time("ts_exchange"), "ts_receive": timestamp("ts_receive")}
        match batch.channel:
            case Channel.TRADES:
                sides = pa.array([SIDE_NAMES[-1], SIDE_NAMES[0], SIDE_NAMES[1]], pa.string())
                arrays |= {"price": price("price"), "size": size("size"),
                           "side": sides.take(pa.array(columns["side"].astype(np.int64) + 1)),
                           "trade_id": pa.array(columns["trade_id"])}
            case Channel.TICKER:
                arrays |= {"bid_price": price("bid_price"), "bid_size": size("bid_size"),
                           "ask_price": price("ask_price"), "ask_size": size("ask_size"),
                           "last_price": price("last_price", columns["last_price"] != 0)}
            case Channel.OHLCV:
                arrays |= {"open_time": timestamp("open_time"),
                           "interval_s": pa.array(columns["interval"]),
                           "open": price("open"), "high": price("high"), "low": price("low"),
                           "close": price("close"), "volume": size("volume"),
                           "closed": pa.array(columns["closed"].astype(bool))}
            case Channel.BOOK:
                arrays["sequence"] = pa.array(columns["sequence"])
                for side in ("bid", "ask"):
                    counts = columns[f"{side}_count"]
                    depth = columns[f"{side}_price"].shape[1]
                    for level in range(depth):
                        valid = counts > level
                        arrays[f"{side}_price_{level + 1}"] = decimal_array(
                            columns[f"{side}_price"][:, level], row_price, target, valid)
                        arrays[f"{side}_size_{level + 1}"] = decimal_array(
                            columns[f"{side}_size"][:, level], row_size, target, valid)
        metadata = {"feedhandler.channel": batch.channel.value,
                    "feedhandler.decimal_scale": str(target)}
        return pa.RecordBatch.from_pydict(arrays, metadata=metadata)


class ChannelFile:
    """One channel's file being written."""

    def __init__(self, path: Path, temporary: Path, writer: pq.ParquetWriter,
                 oldest: float) -> None:
        self.path = path
        self.temporary = temporary
        self.writer = writer
        self.rows = 0
        self.oldest = oldest     # monotonic time its first row arrived: the file's age
