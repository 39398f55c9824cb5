"""What every sink is made of, and the runner that feeds one without slowing the feed.

A ``SinkRunner`` owns one reader per ring and a writer task. The FeedHandler's batch callback
only sets an event; the task then copies every row written since its last pass (one numpy copy
per column per pass, however many socket reads that covers), adds top-N snapshots of the books
that changed, and awaits ``sink.write``. While a write is slow, rows simply wait in the rings,
so the ring is the bounded buffer: a sink that falls a whole ring behind loses the oldest rows,
and ``RingOverrun`` says exactly how many. They are counted per channel, logged (at most once
per ``report_interval``) and shown in ``stats()``. Nothing here blocks the event loop, and
books are only ever read.

Every row handed to a sink ends up counted once: ``written`` when its destination holds it,
``failed`` when the sink gave up on it (``dropped`` and ``failed`` rows are the lost ones).
A sink that ``settles_rows`` counts its own rows into its ``ledger`` (Redis per entry
acknowledged, Parquet when a file is complete), possibly well after ``write`` returned; for any
other sink a ``write`` that returns wrote its rows and one that raises lost them. Rows still
unsettled when the runner stops are counted failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from feedhandler.core.decoder import Decoded
from feedhandler.core.rings import Ring, RingOverrun
from feedhandler.exchanges.base import Channel, Instrument

if TYPE_CHECKING:
    from feedhandler.api import FeedHandler

log = logging.getLogger(__name__)

BOOK_DEPTH = 10          # levels per side in a book snapshot
BOOK_INTERVAL = 1.0      # seconds between snapshots of a book that keeps changing
REPORT_INTERVAL = 5.0    # at most one "rows dropped" warning this often
STOP_TIMEOUT = 10.0      # for the last write at stop, on top of the sink's retry_for
RETRY_FOR = 30.0         # seconds a sink retries a row its destination refused before it is lost
DURABILITY_WINDOW = 5.0  # seconds a sink may hold a row before it is written (Parquet's files)
BOOKS_FLAG = int(Decoded.BOOKS)


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows of one channel, detached from the ring.

    ``start`` numbers the first row: its position in the ring's write order for trades,
    tickers and candles (so a row keeps its number however often a write is retried), the
    runner's snapshot count for books. Book columns ``bid_price`` etc. are ``(rows, depth)``
    arrays, zero past ``bid_count`` / ``ask_count``.
    """

    channel: Channel
    start: int
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["instrument"])


class SinkClosed(Exception):
    """The sink's destination went away for good (its reader closed the pipe): the rows are
    counted as failed, and nothing more is logged; the sink says so once itself."""


class Sink(ABC):
    """Somewhere batches go. ``write`` may take its time (it runs in the runner's task, never
    in the FeedHandler's callbacks) and must not keep a reference to a batch it has not
    finished with once it returns.

    ``settles_rows``: the sink counts every row it is handed into ``ledger`` itself, as
    ``written`` once its destination holds it and ``failed`` once it gives up on it (after
    ``retry_for`` seconds of retries); otherwise the runner counts a write's rows by whether
    ``write`` returned or raised (a settling sink that raises keeps them held until they
    settle or the runner stops). ``due_at`` asks for a ``write`` (with no rows, if none came)
    by a time: a file to complete, a retry to make."""

    name = "sink"
    settles_rows = False
    retry_for = 0.0

    def __init__(self) -> None:
        self.instruments: Sequence[Instrument] = ()
        self.ledger = SinkStats()

    async def open(self, instruments: Sequence[Instrument]) -> None:
        """``instruments`` is the FeedHandler's list (row ``instrument`` indexes it); it grows
        as subscriptions are added."""
        self.instruments = instruments

    @abstractmethod
    async def write(self, batches: list[Batch]) -> None:
        """Writes every batch, or raises: the runner counts the rows of a failed write."""

    async def close(self) -> None:  # noqa: B027 (a hook: most sinks hold nothing to release)
        """Flushes and releases whatever the sink holds."""

    def due_at(self) -> float | None:
        """The ``time.monotonic()`` by which the sink wants ``write`` called, or None."""
        return None

    def stats(self) -> dict[str, Any]:
        return {}


class BlockingSink(Sink):
    """A sink whose writer blocks (files, compression): ``write_blocking`` runs on a thread of
    its own, one write at a time and in order, so the event loop never waits on it."""

    def __init__(self) -> None:
        super().__init__()
        self.executor: ThreadPoolExecutor | None = None

    async def open(self, instruments: Sequence[Instrument]) -> None:
        await super().open(instruments)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"feedhandler-{self.name}")
        await self._in_thread(self.open_blocking)

    async def write(self, batches: list[Batch]) -> None:
        await self._in_thread(self.write_blocking, batches)

    async def close(self) -> None:
        if self.executor is None:
            return
        try:
            await self._in_thread(self.close_blocking)
        finally:
            self.executor.shutdown(wait=True)
            self.executor = None

    def open_blocking(self) -> None:
        """Runs on the sink's thread before the first write."""

    @abstractmethod
    def write_blocking(self, batches: list[Batch]) -> None: ...

    def close_blocking(self) -> None:
        """Runs on the sink's thread after the last write."""

    async def _in_thread(self, function: Any, *args: Any) -> Any:
        if self.executor is None:
            raise RuntimeError(f"{self.name} sink is not open")
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)


@dataclass
class SinkStats:
    """What became of every row, per channel: ``handed`` to the sink, then ``written`` (its
    destination holds it: Redis acknowledged it, its Parquet file is complete and in place) or
    ``failed`` (lost: refused or failing past the sink's retry bound, or unsettled at stop);
    ``dropped`` (lost) when the sink fell a whole ring behind and never got it. ``retried``
    counts rows whose first attempt failed, whatever became of them. Rows handed but neither
    written nor failed yet are ``held()`` by the sink."""

    handed: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    failed_writes: int = 0
    book_snapshots: int = 0

    def held(self) -> int:
        return sum(self.handed.values()) - sum(self.written.values()) - sum(self.failed.values())

    def lost(self) -> int:
        return sum(self.dropped.values()) + sum(self.failed.values())

    def fail_held(self) -> int:
        """Every row still held counted failed (the sink is closed: nothing more will land)."""
        held = 0
        for channel, handed in self.handed.items():
            rest = handed - self.written[channel] - self.failed[channel]
            if rest > 0:
                self.failed[channel] += rest
                held += rest
        return held

    def as_dict(self) -> dict[str, Any]:
        counters = {name: {str(k): v for k, v in getattr(self, name).items()}
                    for name in ("handed", "written", "failed", "dropped", "retried")}
        return {**counters, "held": self.held(), "writes": self.writes,
                "failed_writes": self.failed_writes, "book_snapshots": self.book_snapshots}


RING_CHANNELS = (Channel.TRADES, Channel.TICKER, Channel.OHLCV)
MARKET_CHANNELS = (*RING_CHANNELS, Channel.BOOK)    # what sinks write (no private channel)


class SinkRunner:
    """Feeds ``sink`` from ``fh``'s rings (the channels in ``channels``) and, when
    ``Channel.BOOK`` is among them, a top-``book_depth`` snapshot of every live book that
    changed, at most every ``book_interval`` seconds. ``start`` before or after ``fh.start``;
    ``stop`` after ``fh.stop`` writes everything the rings still hold."""

    def __init__(self, fh: FeedHandler, sink: Sink, *,
                 channels: Iterable[Channel] = MARKET_CHANNELS, book_depth: int = BOOK_DEPTH,
                 book_interval: float = BOOK_INTERVAL,
                 report_interval: float = REPORT_INTERVAL) -> None:
        if book_depth < 1:
            raise ValueError(f"book_depth must be at least 1, got {book_depth}")
        if book_interval < 0:
            raise ValueError(f"book_interval must be >= 0, got {book_interval}")
        self.fh = fh
        self.sink = sink
        self.channels = frozenset(channels)
        self.book_depth = book_depth
        self.book_interval = book_interval
        self.report_interval = report_interval
        self.stats = sink.ledger
        self.rings: dict[Channel, Ring] = {Channel.TRADES: fh.trades, Channel.TICKER: fh.tickers,
                                           Channel.OHLCV: fh.candles}
        self.readers = {channel: self.rings[channel].reader()
                        for channel in RING_CHANNELS if channel in self.channels}
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.closing = False
        self.books_changed = False
        self.last_snapshot = -float("inf")
        self.snapshot_count = 0
        self.snapshotted: dict[int, tuple[int, int, int]] = {}   # instrument -> book state
        self.reported_drops = 0
        self.last_report = -float("inf")
        self.last_failure = -float("inf")

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.sink.open(self.fh.by_id)
        self.fh.subscribe_batches(self._on_batch)
        self.task = asyncio.get_running_loop().create_task(self._run(),
                                                           name=f"sink {self.sink.name}")

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """The last rows written, then the sink closed; a write still stuck after ``timeout``
        seconds (plus the sink's ``retry_for``) is abandoned, and every row the sink has not
        settled by then is counted as failed."""
        if self.task is None:
            return
        with contextlib.suppress(ValueError):
            self.fh.unsubscribe_batches(self._on_batch)
        self.closing = True
        self.wakeup.set()
        timeout += self.sink.retry_for
        try:
            await asyncio.wait_for(self.task, timeout)
        except TimeoutError:
            log.error("%s sink: the last write did not finish within %g s", self.sink.name,
                      timeout)
        finally:
            self.task = None
            try:
                await self.sink.close()
            finally:
                unsettled = self.stats.fail_held()
                if unsettled:
                    log.error("%s sink: %d rows never written by the time it closed: lost",
                              self.sink.name, unsettled)
                self._report_drops(final=True)

    async def __aenter__(self) -> SinkRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- the writer task -------------------------------------------------------------------

    def _on_batch(self, flags: int) -> None:
        """In the FeedHandler's read path: as little as possible."""
        if flags & BOOKS_FLAG:
            self.books_changed = True
        self.wakeup.set()

    async def _run(self) -> None:
        books = Channel.BOOK in self.channels
        while not self.closing:
            timeout = self.book_interval if books and self.books_changed else None
            due = self.sink.due_at()
            if due is not None:
                until_due = max(0.0, due - time.monotonic())
                timeout = until_due if timeout is None else min(timeout, until_due)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout)
            self.wakeup.clear()
            await self._write(self.collect())
        await self._write(self.collect(final=True))

    def collect(self, final: bool = False) -> list[Batch]:
        """Copies of every row written since the last pass, then the book snapshots due."""
        batches = []
        for channel, reader in self.readers.items():
            while reader.pending:
                try:
                    rows = reader.read()
                except RingOverrun as overrun:
                    self.stats.dropped[channel] += overrun.lost
                    continue
                batches.append(Batch(channel, rows.start, rows.copy()))
        self._report_drops()
        now = time.monotonic()
        if (Channel.BOOK in self.channels and self.books_changed
                and (final or now - self.last_snapshot >= self.book_interval)):
            self.last_snapshot = now
            self.books_changed = False
            snapshots = self.book_snapshots()
            if snapshots is not None:
                batches.append(snapshots)
        return batches

    async def _write(self, batches: list[Batch]) -> None:
        due = self.sink.due_at()
        if not batches and (due is None or due > time.monotonic()):
            return
        self._count(self.stats.handed, batches)
        settles = self.sink.settles_rows
        try:
            await self.sink.write(batches)
        except SinkClosed:
            if not settles:
                self._count(self.stats.failed, batches)
            self.stats.failed_writes += 1
        except Exception as error:
            if not settles:
                self._count(self.stats.failed, batches)
            self.stats.failed_writes += 1
            now = time.monotonic()
            if self.stats.failed_writes == 1 or now - self.last_failure >= self.report_interval:
                self.last_failure = now   # a sink failing on every pass: a line now and then
                log.error("%s sink: a write of %d rows failed (%d failed writes, %d rows, so "
                          "far): %s: %s", self.sink.name, sum(map(len, batches)),
                          self.stats.failed_writes, sum(self.stats.failed.values()),
                          type(error).__name__, error,
                          exc_info=error if self.stats.failed_writes == 1 else None)
        except asyncio.CancelledError:
            if not settles:
                self._count(self.stats.failed, batches)
            self.stats.failed_writes += 1
            raise
        else:
            if not settles:
                self._count(self.stats.written, batches)
            self.stats.writes += 1

    @staticmethod
    def _count(counter: Counter[str], batches: list[Batch]) -> None:
        for batch in batches:
            counter[batch.channel] += len(batch)

    def _report_drops(self, final: bool = False) -> None:
        dropped = sum(self.stats.dropped.values())
        now = time.monotonic()
        if dropped > self.reported_drops and (final or
                                              now - self.last_report >= self.report_interval):
            log.warning("%s sink fell behind: %d rows dropped (%s) since it started",
                        self.sink.name, dropped,
                        ", ".join(f"{channel} {count}"
                                  for channel, count in sorted(self.stats.dropped.items())))
            self.reported_drops = dropped
            self.last_report = now

    # ---- books -----------------------------------------------------------------------------

    def book_snapshots(self) -> Batch | None:
        """The best ``book_depth`` levels of every live book whose state moved since its last
        snapshot; a withdrawn book is never snapshotted."""
        depth = self.book_depth
        rows: list[tuple[int, int, int, int, tuple[Any, Any], tuple[Any, Any]]] = []
        for handles in list(self.fh.handles.values()):
            subscription = handles[0].subscription
            if subscription.channel is not Channel.BOOK:
                continue
            instrument = subscription.instrument
            connection = self.fh.connection(handles[0])
            book = connection.book(subscription) if connection is not None else None
            if book is None:
                continue
            state = (book.update_count, book.sequence, book.ts_receive)
            if not book.valid or self.snapshotted.get(instrument.id) == state:
                continue
            self.snapshotted[instrument.id] = state
            rows.append((instrument.id, book.ts_exchange, book.ts_receive, book.sequence,
                         book.top(0, depth), book.top(1, depth)))
        if not rows:
            return None
        n = len(rows)
        columns: dict[str, np.ndarray] = {
            "instrument": np.array([row[0] for row in rows], dtype=np.int32),
            "ts_exchange": np.array([row[1] for row in rows], dtype=np.int64),
            "ts_receive": np.array([row[2] for row in rows], dtype=np.int64),
            "sequence": np.array([row[3] for row in rows], dtype=np.int64),
            "bid_count": np.zeros(n, dtype=np.int32), "ask_count": np.zeros(n, dtype=np.int32),
        }
        for side in ("bid", "ask"):
            for name in ("price", "size"):
                columns[f"{side}_{name}"] = np.zeros((n, depth), dtype=np.int64)
        for i, (*_, bids, asks) in enumerate(rows):
            for side, (prices, sizes) in (("bid", bids), ("ask", asks)):
                count = len(prices)
                columns[f"{side}_count"][i] = count
                columns[f"{side}_price"][i, :count] = prices
                columns[f"{side}_size"][i, :count] = sizes
        start = self.snapshot_count
        self.snapshot_count += n
        self.stats.book_snapshots += n
        return Batch(Channel.BOOK, start, columns)

    # ---- read-outs -------------------------------------------------------------------------

    def pending(self) -> int:
        """Rows in the rings this runner has not taken yet."""
        return sum(reader.pending for reader in self.readers.values())

    def report(self) -> dict[str, Any]:
        return {"sink": self.sink.name, **self.stats.as_dict(), "pending": self.pending(),
                **self.sink.stats()}

    def status_line(self) -> str:
        """Written, then the lost rows (dropped behind, failed past the retry bound), the rows
        that needed a retry, the rows the sink holds and those still in the rings."""
        stats = self.stats
        return (f"{self.sink.name}: {sum(stats.written.values()):,} rows written, "
                f"{sum(stats.dropped.values()):,} dropped, {sum(stats.failed.values()):,} "
                f"failed, {sum(stats.retried.values()):,} retried, {stats.held():,} held, "
                f"{self.pending():,} pending")
