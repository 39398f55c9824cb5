"""Replay: a recording fed back through the same listeners and decoders, as if live.

Each recorded connection gets a ``Connection`` that is never started (nothing is dialled) with
its venue's own decoder, and a ``FeedListener`` on it; frames go through that listener with
their recorded receive times (so compressed ones are inflated again), decoder calls are made
again at the point they were made live, and status events are reported again. The books and
ring rows come out exactly as they were; the FeedHandler's callbacks (``replay.fh``, subscribed
as live) are delivered as live, once per run of frames rather than once per socket read.

Instruments get the replay FeedHandler's ids: the recorded ones unless that FeedHandler had
instruments of its own before the replay met them.
"""

from __future__ import annotations

import logging
import re
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedhandler.api import FeedHandler, VenueState
from feedhandler.core.book import OrderBook
from feedhandler.core.listener import FeedListener
from feedhandler.exchanges.base import Channel, Instrument, Subscription
from feedhandler.exchanges.registry import UnsupportedError, venues
from feedhandler.instruments.catalog import Catalog, compact
from feedhandler.net.connection import Connection, StatusKind
from feedhandler.net.pool import ConnectionPool
from feedhandler.record.codec import feed_frames
from feedhandler.record.format import RECORD_HEAD, SUFFIX, Kind, unpack_json
from feedhandler.record.reader import Block, RecordingFile, recording_files
from feedhandler.record.tap import SETUP_CALLS

log = logging.getLogger(__name__)

INT64_MAX = (1 << 63) - 1
# what a record or header that parses as JSON but does not say what it should raises
MALFORMED = (ValueError, KeyError, TypeError, IndexError, struct.error)
Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)`` of the files, called after each block."""
FILE_NAME_INDEX = re.compile(r"^(?P<stem>.*-)(?P<index>\d+)" + re.escape(SUFFIX) + "$")


@dataclass(frozen=True)
class RecordingGap:
    """Recording files missing between two given ones (by the ``file_index`` of each header)."""

    after: str                  # the file replayed before the gap
    before: str                 # the file replayed after it
    missing: tuple[int, ...]    # file indexes of the missing files
    names: tuple[str, ...]      # their names, as the recorder names files

    def __str__(self) -> str:
        files = ", ".join(self.names) if self.names else ", ".join(map(str, self.missing))
        return f"missing {files} (file index {format_indexes(self.missing)}) between " \
               f"{self.after} and {self.before}"


def format_indexes(indexes: tuple[int, ...]) -> str:
    if len(indexes) == 1:
        return str(indexes[0])
    return f"{indexes[0]}..{indexes[-1]}"


def missing_names(after: Path, missing: tuple[int, ...]) -> tuple[str, ...]:
    """The names the recorder gave the missing files (``<prefix>-<start>-<index>.fhrec``)."""
    match = FILE_NAME_INDEX.match(after.name)
    if match is None:
        return ()
    width = len(match["index"])
    return tuple(f"{match['stem']}{index:0{width}d}{SUFFIX}" for index in missing)


@dataclass
class ReplayStats:
    files: int = 0
    blocks: int = 0
    records: int = 0
    frames: int = 0
    calls: int = 0
    call_errors: int = 0        # calls that raised, as they did live (a refused snapshot, ...)
    statuses: int = 0
    fatal: int = 0              # messages the listener threw away, as it did live
    first_ts: int = 0
    last_ts: int = 0
    cut: list[str] = field(default_factory=list)   # "file at byte N" for a file cut short
    gaps: list[RecordingGap] = field(default_factory=list)   # missing files (allow_gaps)
    withdrawn: int = 0          # books withdrawn across those gaps
    seconds: float = 0.0        # wall time the replay took

    @property
    def recorded_seconds(self) -> float:
        return (self.last_ts - self.first_ts) / 1e9 if self.last_ts else 0.0


def registry_name(adapter_name: str, market: str) -> str:
    for info in venues():
        if info.market == market and (info.name == adapter_name
                                      or info.name.startswith(adapter_name + "-")):
            return info.name
    raise UnsupportedError(f"no registered venue for {adapter_name} {market}")


class ReplayLink:
    """The listener's handler during replay: delivers batches, drains what live code handled
    (control messages and resync lists: their consequences are recorded calls and statuses)."""

    def __init__(self, connection: Connection, stats: ReplayStats, deliver: bool) -> None:
        self.connection = connection
        self.stats = stats
        self.deliver = deliver

    def on_connected(self, transport: Any) -> None:
        """Never called: replay has no socket."""

    def on_disconnected(self) -> None:
        """Never called: replay has no socket."""

    def on_batch(self, flags: int) -> None:
        connection = self.connection
        connection.decoder.take_control()
        connection.decoder.take_resync()
        if self.deliver and connection.on_batch is not None:
            connection.on_batch(connection, flags)

    def on_fatal(self, reason: str) -> None:
        self.stats.fatal += 1


@dataclass
class ReplayConnection:
    connection: Connection
    listener: FeedListener
    pool: ConnectionPool
    setup_calls: int = 0        # setup calls made so far (a header restates them all)


class Replay:
    """``Replay(paths).run()``; subscribe on ``replay.fh`` first to get callbacks.

    ``paths`` are recording files in order, or directories (their files in name order). A
    recording replayed from its first file reproduces the books exactly; one started at a later
    file has the connections and books its header restates, waiting for their next resync.

    Each file's header carries its ``file_index``: a file missing between two given ones is a
    ``RecordingError`` naming it, unless ``allow_gaps``. Then the gap is logged and listed in
    ``stats.gaps``, and every book is withdrawn across it (BOOK_INVALID, as after a reconnect)
    until the recording's next resync of that book brings it back.
    """

    def __init__(self, paths: Sequence[str | Path], feedhandler: FeedHandler | None = None, *,
                 deliver: bool = True, allow_gaps: bool = False) -> None:
        """``deliver=False`` skips the FeedHandler's delivery (no callbacks, no event objects):
        decoding alone, for benchmarks; books and rings are the same."""
        self.files = recording_files(list(paths))
        if not self.files:
            raise ValueError("no recording files given")
        self.fh = feedhandler if feedhandler is not None else FeedHandler()
        self.connections: dict[int, ReplayConnection] = {}
        self.instrument_ids: dict[int, int] = {}    # recorded id -> the FeedHandler's
        self.catalogs: dict[str, list[Instrument]] = {}   # venue -> the recording's instruments
        self.stats = ReplayStats()
        self.deliver = deliver
        self.allow_gaps = allow_gaps
        # (connection, slot) of a book withdrawn across a gap -> its snapshot count then: a
        # recorded mark_live brings it back only once a snapshot after the gap is in
        self.gap_withdrawn: dict[tuple[int, int], int] = {}

    # ---- running -----------------------------------------------------------------------------

    def run(self, speed: float | None = None, progress: Progress | None = None) -> ReplayStats:
        """Replays every file: at full speed (``speed`` None) or paced by the recorded receive
        times (``speed`` 1.0 is real time, 2.0 twice as fast)."""
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        total = sum(path.stat().st_size for path in self.files if path.exists())
        done = 0
        started = time.perf_counter()
        clock = Clock(speed)
        previous: tuple[Path, int] | None = None
        for index, path in enumerate(self.files):
            with RecordingFile(path) as recording:
                self.stats.files += 1
                try:
                    gaps = len(self.stats.gaps)
                    file_index = self.follow(previous, recording)
                    self.restate(recording, after_gap=len(self.stats.gaps) > gaps)
                except MALFORMED as exc:
                    raise recording.error(0, f"header: {type(exc).__name__}: {exc}") from exc
                previous = None if file_index is None else (path, file_index)
                for block in recording.blocks(allow_cut=index == len(self.files) - 1):
                    self.stats.blocks += 1
                    self.replay_block(recording, block, clock)
                    if progress is not None:
                        progress(done + (recording.stream.tell()), total)
                if recording.cut is not None:
                    self.stats.cut.append(f"{path} at byte {recording.cut}")
                done += recording.size
        self.stats.seconds = time.perf_counter() - started
        if progress is not None:
            progress(total, total)
        return self.stats

    def replay_block(self, recording: RecordingFile, block: Block, clock: Clock) -> None:
        data = block.data
        position = 0
        stats = self.stats
        while position < len(data):
            head = recording.check_record(block, position)
            if head is None:
                return
            kind, _, owner, length, ts = head
            if not stats.first_ts:
                stats.first_ts = ts
            stats.last_ts = max(stats.last_ts, ts)
            if kind == Kind.FRAME:
                replayed = self.connections.get(owner)
                if replayed is None:
                    raise recording.error(block.offset, f"record at {position} of the block: "
                                                        f"frame of unknown connection {owner}")
                until = clock.wait(ts)
                position, fed, read_ended = feed_frames(replayed.listener, data, position, owner,
                                                        until, not self.deliver)
                stats.frames += fed
                stats.records += fed
                if read_ended or not self.deliver:
                    replayed.listener.flush()
                continue
            if kind == Kind.READ_END:
                replayed = self.connections.get(owner)
                if replayed is not None:
                    replayed.listener.flush()
                position += RECORD_HEAD.size + length
                continue
            clock.wait(ts)
            payload = data[position + RECORD_HEAD.size:position + RECORD_HEAD.size + length]
            try:
                self.apply(Kind(kind), owner, payload)
            except MALFORMED as exc:
                raise recording.error(block.offset, f"record at {position} of the block "
                                                    f"({Kind(kind).name}): {exc}") from exc
            stats.records += 1
            position += RECORD_HEAD.size + length

    # ---- files in sequence -------------------------------------------------------------------

    def follow(self, previous: tuple[Path, int] | None, recording: RecordingFile) -> int | None:
        """The file's index, checked to follow the previous file's; a gap raises, or with
        ``allow_gaps`` withdraws every book. None for a header without an index."""
        file_index = recording.header.get("file_index")
        if file_index is None:
            return None
        if type(file_index) is not int or file_index < 0:
            raise ValueError(f"file_index {file_index!r} is not a file index")
        if previous is None or file_index == previous[1] + 1:
            return file_index
        after, after_index = previous
        if file_index <= after_index:
            raise recording.error(0, f"file index {file_index} cannot follow {after} (file "
                                     f"index {after_index}): files out of order, or of "
                                     "another recording")
        missing = tuple(range(after_index + 1, file_index))
        gap = RecordingGap(str(after), recording.name, missing, missing_names(after, missing))
        if not self.allow_gaps:
            raise recording.error(0, f"recording file {gap}; replay with allow_gaps to "
                                     "continue across it, books withdrawn")
        log.warning("replay: recording file %s: books withdrawn until resynced", gap)
        self.stats.gaps.append(gap)
        self.withdraw_books(f"recording gap: {gap}")
        return file_index

    def withdraw_books(self, reason: str) -> None:
        """Every book is withdrawn as a live reconnect withdraws it: the recording's next resync
        of it (a snapshot, then its sync steps) brings it back."""
        for owner, replayed in self.connections.items():
            connection = replayed.connection
            for slot, sub in list(connection.book_subscriptions.items()):
                connection.withdraw_book(sub, reason)
                self.gap_withdrawn[(owner, slot)] = connection.decoder.snapshot_count(slot)
                self.stats.withdrawn += 1

    # ---- records -----------------------------------------------------------------------------

    def restate(self, recording: RecordingFile, after_gap: bool = False) -> None:
        """A file's header: connections this replay has not met yet are set up from it; after
        a gap, those it has met take on what the missing files changed (setup calls made,
        subscriptions taken on or let go)."""
        for definition in recording.header["connections"]:
            owner = definition["id"]
            replayed = self.connections.get(owner)
            if replayed is None:
                self.open(definition)
                self.subscribe(owner, definition["subscriptions"])
                for call in definition["setup"]:
                    self.call(owner, call, b"")
            elif after_gap:
                for call in definition["setup"][replayed.setup_calls:]:
                    self.call(owner, call, b"")
                for key in replayed.connection.subscriptions:
                    replayed.pool.owners.pop(key, None)
                replayed.connection.subscriptions.clear()
                self.subscribe(owner, definition["subscriptions"])

    def apply(self, kind: Kind, owner: int, payload: bytes) -> None:
        value, raw = unpack_json(payload)
        if kind is Kind.CONNECTION:
            if owner not in self.connections:
                self.open(value)
            return
        if owner not in self.connections:
            raise ValueError(f"record of unknown connection {owner}")
        if kind is Kind.CALL:
            self.call(owner, value, raw)
        elif kind is Kind.SUBSCRIBED:
            self.subscribe(owner, value)
        elif kind is Kind.UNSUBSCRIBED:
            self.unsubscribe(owner, value)
        elif kind is Kind.STATUS:
            self.stats.statuses += 1
            connection = self.connections[owner].connection
            slot = int(value["slot"])
            if value["kind"] == StatusKind.BOOK_RESYNCED and (owner, slot) in self.gap_withdrawn:
                return      # the resync it reports was skipped (see ``stale_after_gap``)
            connection.notify(StatusKind(value["kind"]), value["reason"], slot,
                              connection.book_subscriptions.get(slot))

    def open(self, definition: dict[str, Any]) -> None:
        exchange = registry_name(definition["venue"], definition["market"])
        state = self.fh._venue_state(exchange)
        if state.pool is None:
            state.pool = ConnectionPool(state.adapter, self.fh.rings)
        adapter = state.adapter
        connection = Connection(adapter, self.fh.rings, on_batch=self.fh._on_batch,
                                on_status=self.fh._on_status, name=definition["name"])
        heartbeat = adapter.heartbeat
        listener = FeedListener(connection.decoder,
                                ReplayLink(connection, self.stats, self.deliver),
                                max_message_size=adapter.max_message_size,
                                compression=adapter.compression,
                                ping_payload=heartbeat.text_ping, pong_marker=heartbeat.pong_marker)
        state.pool.connections.append(connection)
        self.connections[int(definition["id"])] = ReplayConnection(connection, listener,
                                                                   state.pool)

    def instrument(self, record: dict[str, Any]) -> Instrument:
        """The FeedHandler's instrument for a recorded one, created with the recorded scales."""
        recorded_id = int(record["instrument"])
        mapped = self.instrument_ids.get(recorded_id)
        if mapped is not None:
            return self.fh.by_id[mapped]
        exchange = record["venue"]
        state = self.fh._venue_state(exchange)
        instrument = state.instruments.get(record["symbol"])
        scales = (record["price_scale"], record["size_scale"], record["tick"])
        if instrument is None:
            instrument = Instrument(len(self.fh.by_id), exchange, record["symbol"],
                                    record["venue_symbol"], record["market"], *scales)
            self.fh.by_id.append(instrument)
            state.instruments[instrument.symbol] = instrument
        elif (instrument.price_scale, instrument.size_scale, instrument.tick) != scales:
            raise ValueError(f"{exchange} {instrument.symbol} was recorded at scales {scales}, "
                             "the replay's FeedHandler has others")
        self.instrument_ids[recorded_id] = instrument.id
        self.learn(exchange, state, instrument)
        return instrument

    def learn(self, exchange: str, state: VenueState, instrument: Instrument) -> None:
        """The recording's instruments are the replay's catalog (unless the FeedHandler
        loaded the venue's): subscriptions made on ``fh`` resolve as they appear."""
        learned = self.catalogs.setdefault(exchange, [])
        if (state.catalog is not None and not learned) or instrument in learned:
            return
        learned.append(instrument)
        state.catalog = Catalog(exchange, learned, time.time())
        self.fh._resolve_loaded(final=False)

    def subscribe(self, owner: int, records: list[dict[str, Any]]) -> None:
        replayed = self.connections[owner]
        for record in records:
            sub = Subscription(Channel(record["channel"]), self.instrument(record),
                               record["timeframe"], record["depth"])
            replayed.connection.subscriptions[sub.key] = sub
            replayed.pool.owners[sub.key] = replayed.connection

    def unsubscribe(self, owner: int, records: list[dict[str, Any]]) -> None:
        replayed = self.connections[owner]
        for record in records:
            sub = Subscription(Channel(record["channel"]), self.instrument(record),
                               record["timeframe"], record["depth"])
            replayed.connection.subscriptions.pop(sub.key, None)
            replayed.pool.owners.pop(sub.key, None)

    def call(self, owner: int, encoded: list[Any], raw: bytes) -> None:
        """Makes a recorded decoder call again; one that raised live raises again, counted."""
        connection = self.connections[owner].connection
        name, *encoded_args = encoded
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        offset = 0
        for arg in encoded_args:
            if isinstance(arg, dict) and "raw" in arg:
                args.append(raw[offset:offset + arg["raw"]])
                offset += arg["raw"]
            elif isinstance(arg, dict) and "raws" in arg:
                parts = []
                for length in arg["raws"]:
                    parts.append(raw[offset:offset + length])
                    offset += length
                args.append(parts)
            elif isinstance(arg, dict) and "book" in arg:
                args.append(OrderBook(**arg["book"]))
            elif isinstance(arg, dict) and "kwargs" in arg:
                kwargs = arg["kwargs"]
            else:
                args.append(arg)
        if name == "add_instrument":
            args[1] = self.instrument_ids.get(args[1], args[1])
        if not hasattr(connection.decoder, name) or name.startswith("_"):
            raise ValueError(f"recorded call of an unknown decoder method {name!r}")
        if name in SETUP_CALLS:
            self.connections[owner].setup_calls += 1
        if name == "mark_live" and self.stale_after_gap(owner, connection, int(args[0])):
            return
        self.stats.calls += 1
        try:
            getattr(connection.decoder, name)(*args, **kwargs)
        except Exception:
            self.stats.call_errors += 1
        else:
            if name == "apply_snapshot":
                self.gap_withdrawn.pop((owner, int(args[0])), None)
        if name == "set_book":
            self.book_changed(connection, int(args[0]), args[1])

    def stale_after_gap(self, owner: int, connection: Connection, slot: int) -> bool:
        """A ``mark_live`` of a book withdrawn across a gap whose snapshot was in the missing
        files: skipped, the book waits for its next resync. Any later snapshot (a REST one
        comes through ``apply_snapshot``) lifts the withdrawal."""
        withdrawn_at = self.gap_withdrawn.get((owner, slot))
        if withdrawn_at is None:
            return False
        if connection.decoder.snapshot_count(slot) == withdrawn_at:
            return True
        del self.gap_withdrawn[(owner, slot)]
        return False

    @staticmethod
    def book_changed(connection: Connection, slot: int, book: OrderBook | None) -> None:
        """Keeps ``book_subscriptions`` as ``register``/``drop_book`` kept them live."""
        if book is None:
            connection.book_subscriptions.pop(slot, None)
            return
        for sub in connection.subscriptions.values():
            if sub.channel is Channel.BOOK and connection.slot_of(sub) == slot:
                connection.book_subscriptions[slot] = sub

    # ---- reading the result ------------------------------------------------------------------

    def book(self, exchange: str, symbol: str) -> OrderBook:
        """The replayed book of ``exchange`` ``symbol`` (whether or not it was subscribed on
        ``fh``), in any spelling of its symbol; KeyError when the recording has none."""
        key = compact(symbol)
        for replayed in self.connections.values():
            connection = replayed.connection
            for sub in connection.book_subscriptions.values():
                if sub.instrument.venue == exchange and compact(sub.instrument.symbol) == key:
                    book = connection.book(sub)
                    if book is not None:
                        return book
        raise KeyError(f"no order book of {exchange} {symbol} in the recording")


class Clock:
    """Paces replay by the recorded receive times; full speed when ``speed`` is None."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self.origin_ts = 0
        self.origin = 0.0

    def wait(self, ts: int) -> int:
        """Sleeps until ``ts`` is due; returns the latest receive time due now."""
        if self.speed is None:
            return INT64_MAX
        now = time.perf_counter()
        if not self.origin_ts:
            self.origin_ts, self.origin = ts, now
        due = self.origin + (ts - self.origin_ts) / 1e9 / self.speed
        if due > now:
            time.sleep(due - now)
            now = due
        return self.origin_ts + int((now - self.origin) * self.speed * 1e9)
