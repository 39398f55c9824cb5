"""Parquet files: trades, tickers, candles and top-N book snapshots, a schema per channel,
written on the sink's own thread by pyarrow.

Layout: ``<directory>/<channel>/<UTC time>-<pid>-<n>.parquet`` (channel ``trades``,
``ticker``, ``ohlcv`` or ``book``); shards writing to one directory never collide (the pid).

A row is written when its file is complete and in place, and only then: the file is written
whole under a hidden name (``.<name>.parquet.tmp``, which pyarrow datasets, ``pandas.read_parquet``
and ``*.parquet`` globs ignore), fsynced, renamed to its final name and the directory fsynced.
Rows wait in memory for at most ``durability_window`` seconds (or until a channel has
``rows_per_file``): that is what a crash can lose. A file that cannot be written (a full disk)
is removed and its rows kept and tried again with backoff, each for up to ``retry_for`` seconds
from its first failure, then counted lost. Hidden leftovers of a writer that died are removed
at the next open.

Prices and sizes are exact: ``decimal128(38, decimal_scale)`` (default 18 decimals: every
instrument's int64 fixed point fits, whatever its own scale), which pandas reads as
``decimal.Decimal`` and polars as ``Decimal``. Times are ``timestamp[ns, UTC]``
(``ts_exchange`` null where the venue stamps none).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from feedhandler.exchanges.base import Channel
from feedhandler.net.backoff import Backoff
from feedhandler.sinks.base import (
    DURABILITY_WINDOW,
    REPORT_INTERVAL,
    RETRY_FOR,
    Batch,
    BlockingSink,
)
from feedhandler.sinks.records import SIDE_NAMES

log = logging.getLogger(__name__)

DECIMAL_SCALE = 18
ROWS_PER_GROUP = 100_000
ROWS_PER_FILE = 1_000_000
IN_PROGRESS_SUFFIX = ".parquet.tmp"
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
    """Files under ``directory``, each completed within ``durability_window`` seconds of its
    oldest row (or at ``rows_per_file``), in row groups of ``rows_per_group``; a file that
    fails is tried again with backoff (``retry_base``..``retry_cap`` seconds) for up to
    ``retry_for`` seconds, then its rows are counted lost (``ledger.failed``)."""

    name = "parquet"
    settles_rows = True

    def __init__(self, directory: str | os.PathLike[str], *,
                 decimal_scale: int = DECIMAL_SCALE, rows_per_group: int = ROWS_PER_GROUP,
                 rows_per_file: int = ROWS_PER_FILE,
                 durability_window: float = DURABILITY_WINDOW, retry_for: float = RETRY_FOR,
                 retry_base: float = 0.05, retry_cap: float = 2.0,
                 compression: str = "zstd") -> None:
        super().__init__()
        if not 0 <= decimal_scale <= 18:
            raise ValueError(f"decimal_scale must be within 0..18, got {decimal_scale}")
        if rows_per_group < 1 or rows_per_file < 1 or durability_window <= 0:
            raise ValueError("rows_per_group, rows_per_file and durability_window must be "
                             "positive")
        if retry_for < 0:
            raise ValueError(f"retry_for must be >= 0, got {retry_for}")
        self.directory = Path(directory)
        self.decimal_scale = decimal_scale
        self.rows_per_group = rows_per_group
        self.rows_per_file = rows_per_file
        self.durability_window = durability_window
        self.retry_for = retry_for
        self.compression = compression
        self.backoff = Backoff(retry_base, retry_cap, reset_after=0.0)
        self.filling: dict[Channel, FileRows] = {}      # rows waiting for their file
        self.queued: deque[FileRows] = deque()          # due, or failed and to be tried again
        self.next_attempt = -float("inf")               # monotonic: backoff after a failure
        self.due = float("inf")                         # monotonic: read by the runner's loop
        self.completed: list[Path] = []
        self.failed_files = 0
        self.file_count = 0
        self.buffered_rows = 0       # an int: stats() reads it from the event loop's thread
        self.unreported_lost = 0
        self.last_error = ""
        self.last_report = -float("inf")

    def open_blocking(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob(f"*/*{IN_PROGRESS_SUFFIX}"):
            if not writer_alive(leftover):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def due_at(self) -> float | None:
        return None if self.due == float("inf") else self.due

    def write_blocking(self, batches: list[Batch]) -> None:
        now = time.monotonic()
        for batch in batches:
            if len(batch):
                rows = self.filling.get(batch.channel)
                if rows is None:
                    rows = self.filling[batch.channel] = FileRows(batch.channel, now)
                rows.add(self.record_batch(batch))
                self.buffered_rows += len(batch)
        for channel, rows in list(self.filling.items()):
            if rows.rows >= self.rows_per_file or now - rows.oldest >= self.durability_window:
                self.queued.append(self.filling.pop(channel))
        self.complete_files(now)

    def close_blocking(self) -> None:
        """Every row into a file, retrying (a full disk) for up to ``retry_for`` seconds."""
        self.queued.extend(self.filling.values())
        self.filling.clear()
        while self.queued:
            now = time.monotonic()
            if now < self.next_attempt:
                time.sleep(self.next_attempt - now)
            self.complete_files(time.monotonic())
        self.report(time.monotonic(), final=True)

    def stats(self) -> dict[str, Any]:
        return {"files": len(self.completed), "failed_files": self.failed_files,
                "buffered_rows": self.buffered_rows}

    # ---- files -----------------------------------------------------------------------------

    def complete_files(self, now: float) -> None:
        """The queued files written in order until one fails; then every queued file waits
        for the backoff, and those failing for ``retry_for`` seconds are lost."""
        if now >= self.next_attempt:
            while self.queued:
                rows = self.queued[0]
                try:
                    path = self.write_file(rows)
                except (OSError, pa.ArrowException) as error:
                    self.failed(now, error)
                    break
                self.queued.popleft()
                self.completed.append(path)
                self.ledger.written[rows.channel] += rows.rows
                self.buffered_rows -= rows.rows
                self.backoff.reset()
                self.next_attempt = -float("inf")
        oldest = min((rows.oldest for rows in self.filling.values()), default=float("inf"))
        self.due = min(oldest + self.durability_window,
                       self.next_attempt if self.queued else float("inf"))

    def failed(self, now: float, error: BaseException) -> None:
        self.failed_files += 1
        for rows in self.queued:
            if rows.failing_since is None:
                rows.failing_since = now
                self.ledger.retried[rows.channel] += rows.rows
        lost = [rows for rows in self.queued
                if rows.failing_since is not None and now - rows.failing_since >= self.retry_for]
        for rows in lost:
            self.queued.remove(rows)
            self.ledger.failed[rows.channel] += rows.rows
            self.buffered_rows -= rows.rows
            self.unreported_lost += rows.rows
        self.next_attempt = now + self.backoff.next_delay()
        self.last_error = f"{type(error).__name__}: {error}"
        self.report(now)

    def report(self, now: float, final: bool = False) -> None:
        """At most one line per ``REPORT_INTERVAL``: rows lost since the last, or rows kept."""
        if not final and now - self.last_report < REPORT_INTERVAL:
            return
        if self.unreported_lost:
            log.error("parquet sink: %d rows lost: their files failed for %g s (%s)",
                      self.unreported_lost, self.retry_for, self.last_error)
            self.unreported_lost = 0
        elif self.queued and not final:
            log.warning("parquet sink: a file could not be written (%s); %d rows kept and "
                        "retried for up to %g s", self.last_error, self.buffered_rows,
                        self.retry_for)
        else:
            return
        self.last_report = now

    def write_file(self, rows: FileRows) -> Path:
        """``rows`` as one complete, synced file in place; nothing left behind on failure."""
        folder = self.directory / rows.channel.value
        folder.mkdir(parents=True, exist_ok=True)
        self.file_count += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = folder / f"{stamp}-{os.getpid()}-{self.file_count}.parquet"
        temporary = folder / f".{path.stem}{IN_PROGRESS_SUFFIX}"
        try:
            pq.write_table(pa.Table.from_batches(rows.batches), temporary,
                           row_group_size=self.rows_per_group, compression=self.compression)
            fsync(temporary)
            temporary.rename(path)
            fsync(folder)
        except BaseException:
            for leftover in (temporary, path):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise
        return path

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


class FileRows:
    """One file's rows, kept until the file is complete and in place."""

    def __init__(self, channel: Channel, oldest: float) -> None:
        self.channel = channel
        self.batches: list[pa.RecordBatch] = []
        self.rows = 0
        self.oldest = oldest                        # monotonic time its first row came
        self.failing_since: float | None = None     # monotonic time of its first failure

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)
        self.rows += batch.num_rows


def fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def writer_alive(leftover: Path) -> bool:
    """Whether the process that named this in-progress file (``.<time>-<pid>-<n>...``) still
    runs here: its file may still become complete."""
    try:
        pid = int(leftover.name.lstrip(".").split("-")[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
