"""Recording a live FeedHandler: every message as received, and everything else books depend on.

A book is not a function of the frames alone: Binance and Gate.io books start from a REST
snapshot, every book waits for the moment the adapter marks it live, held updates are replayed
then, reconnects and resyncs withdraw books. All of that reaches the book through calls on the
connection's decoder, made by the connection and its venue adapter. So a ``ConnectionTap``
stands between them and the decoder (``RecordingDecoder``) and writes each state-changing call,
with its arguments (a REST snapshot body included), in order with the frames the listener hands
it. Replaying the same calls and frames in the same order through the same decoders rebuilds
exactly the same books and ring rows; nothing venue-specific is needed here.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedhandler.core.book import OrderBook
from feedhandler.core.listener import wall_clock_ns
from feedhandler.exchanges.base import Subscription
from feedhandler.record.format import (
    FLAG_BINARY,
    VERSION,
    Kind,
    pack_json,
)
from feedhandler.record.writer import RecordingWriter

if TYPE_CHECKING:
    from feedhandler.core.decoder import Decoder
    from feedhandler.net.connection import Connection, StatusKind

log = logging.getLogger(__name__)

# decoder calls that change what later messages do to books and rings; every other attribute
# (slot_of, book, sync_state, take_dirty, take_control, stats, ...) only reads or drains queues
RECORDED_CALLS = frozenset({
    "add_instrument", "set_scales", "set_book", "configure_book", "mark_waiting", "mark_live",
    "apply_snapshot", "take_pending", "replay_pending", "announce", "feed", "feed_many",
})
# the calls that configure a slot rather than move its state: restated in each file's header
SETUP_CALLS = frozenset({"add_instrument", "set_scales", "set_book", "configure_book"})
BOOK_PARAMETERS = ("price_scale", "size_scale", "tick", "depth_limit", "view_depth",
                   "max_levels", "ladder_width")
MAX_CONNECTIONS = 1 << 16


def encode_call(name: str, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> tuple[list[Any], bytes]:
    """``[name, arg...]`` as JSON plus the raw bytes arguments carry (snapshot bodies, messages).

    Bytes become ``{"raw": n}`` (the next n raw bytes), a list of them ``{"raws": [n...]}``, an
    OrderBook ``{"book": {parameters}}``; ints, strings and None stay as they are. Keyword
    arguments (ints and strings) follow as a last ``{"kwargs": {...}}``.
    """
    raw: list[bytes] = []
    encoded: list[Any] = [name]
    for arg in args:
        if isinstance(arg, OrderBook):
            encoded.append({"book": {p: getattr(arg, p) for p in BOOK_PARAMETERS}})
        elif isinstance(arg, bytes | bytearray | memoryview):
            raw.append(bytes(arg))
            encoded.append({"raw": len(raw[-1])})
        elif isinstance(arg, list | tuple):
            parts = [bytes(item) for item in arg]
            raw.extend(parts)
            encoded.append({"raws": [len(part) for part in parts]})
        elif arg is None or isinstance(arg, int | str):
            encoded.append(arg)
        else:
            raise TypeError(f"cannot record a {type(arg).__name__} argument of {name}")
    if kwargs:
        if not all(isinstance(v, int | str) for v in kwargs.values()):
            raise TypeError(f"cannot record the keyword arguments of {name}: {sorted(kwargs)}")
        encoded.append({"kwargs": kwargs})
    return encoded, b"".join(raw)


def subscription_record(subscription: Subscription) -> dict[str, Any]:
    instrument = subscription.instrument
    return {"channel": subscription.channel.value, "timeframe": subscription.timeframe,
            "depth": subscription.depth, "instrument": instrument.id, "venue": instrument.venue,
            "symbol": instrument.symbol, "venue_symbol": instrument.venue_symbol,
            "market": instrument.market, "price_scale": instrument.price_scale,
            "size_scale": instrument.size_scale, "tick": instrument.tick}


class Recorder:
    """Records every connection it is given (``FeedHandler(recorder=Recorder(dir))``) into
    rotating zstd files; ``close()`` (or the FeedHandler's stop) writes what is buffered.

    A failure to write is counted in ``errors`` and logged once; the feed itself carries on.
    zstd ``level`` 1 by default: on feed messages it compresses about as well as 3 (within 2%)
    at 60% of the cost, and compression is most of what recording adds per message.
    """

    def __init__(self, directory: str | Path, *, prefix: str = "feed",
                 rotate_bytes: int | None = None, rotate_seconds: float | None = None,
                 level: int = 1) -> None:
        self.writer = RecordingWriter(directory, self.header, prefix=prefix,
                                      rotate_bytes=rotate_bytes, rotate_seconds=rotate_seconds,
                                      level=level)
        self.append = self.writer.append
        self.taps: list[ConnectionTap] = []
        self.frames = 0
        self.records = 0
        self.errors = 0
        self.last_error = ""

    @property
    def files(self) -> list[Path]:
        return list(self.writer.files)

    def tap(self, connection: Connection) -> ConnectionTap:
        """A tap for a new connection (called by ``Connection`` before it registers anything)."""
        if len(self.taps) >= MAX_CONNECTIONS:
            raise ValueError(f"a recording holds at most {MAX_CONNECTIONS} connections")
        tap = ConnectionTap(self, len(self.taps), connection)
        self.taps.append(tap)
        return tap

    def header(self) -> dict[str, Any]:
        return {"format": "feedhandler-recording", "version": VERSION,
                "created_ns": time.time_ns(),
                "connections": [tap.definition() for tap in self.taps]}

    def write(self, kind: Kind, flags: int, connection: int, ts_ns: int, payload: bytes) -> None:
        try:
            self.append(kind, flags, connection, ts_ns, payload)
        except Exception as exc:
            self.failed(exc)
        else:
            self.records += 1

    def failed(self, exc: Exception) -> None:
        self.errors += 1
        if not self.last_error:
            log.error("recording to %s failed: %s (further failures are only counted)",
                      self.writer.directory, exc)
        self.last_error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self.writer.close()

    def stats(self) -> dict[str, Any]:
        return {"files": len(self.writer.files), "records": self.records,
                "frames": self.frames, "raw_bytes": self.writer.raw_bytes + len(self.writer.block),
                "compressed_bytes": self.writer.compressed_bytes, "errors": self.errors}


class ConnectionTap:
    """What one connection's listener and decoder calls go through while it is recorded."""

    def __init__(self, recorder: Recorder, connection_id: int, connection: Connection) -> None:
        self.recorder = recorder
        self.id = connection_id
        self.decoder: Decoder = connection.decoder
        self.proxy = RecordingDecoder(self.decoder, self)
        adapter = connection.adapter
        self.identity = {"id": connection_id, "name": connection.name, "venue": adapter.name,
                         "market": adapter.market}
        self.setup: list[list[Any]] = []
        self.subscriptions: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.unread = False          # frames written since the last READ_END
        self.write_json(Kind.CONNECTION, self.identity)

    def definition(self) -> dict[str, Any]:
        """This connection as a new file's header restates it."""
        return self.identity | {"setup": self.setup,
                                "subscriptions": list(self.subscriptions.values())}

    def write_json(self, kind: Kind, value: Any, raw: bytes = b"") -> None:
        self.recorder.write(kind, 0, self.id, wall_clock_ns(), pack_json(value, raw))

    # ---- what the listener and the connection hand over ------------------------------------

    def frame(self, payload: bytes, binary: bool, ts_receive: int) -> None:
        self.recorder.frames += 1
        self.unread = True
        self.recorder.write(Kind.FRAME, FLAG_BINARY if binary else 0, self.id, ts_receive,
                            payload)

    def read_end(self, ts_receive: int) -> None:
        """The socket read ended: live delivery happened here (reads of control frames only
        are not marked)."""
        if self.unread:
            self.unread = False
            self.recorder.write(Kind.READ_END, 0, self.id, ts_receive, b"")

    def call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Records the call, then makes it: replay makes the same call at the same point, and
        gets the same outcome, an exception included. A call that cannot be recorded is
        counted as a recording error and still made: the live feed comes first."""
        try:
            encoded, raw = encode_call(name, args, kwargs)
        except TypeError as exc:
            self.recorder.failed(exc)
        else:
            self.write_json(Kind.CALL, encoded, raw)
            if name in SETUP_CALLS:
                self.setup.append(encoded)
        return method(*args, **kwargs)

    def subscribed(self, subscriptions: Iterable[Subscription]) -> None:
        records = []
        for sub in subscriptions:
            self.subscriptions[sub.key] = record = subscription_record(sub)
            records.append(record)
        if records:
            self.write_json(Kind.SUBSCRIBED, records)

    def unsubscribed(self, subscriptions: Iterable[Subscription]) -> None:
        records = [self.subscriptions.pop(sub.key, subscription_record(sub))
                   for sub in subscriptions]
        if records:
            self.write_json(Kind.UNSUBSCRIBED, records)

    def status(self, kind: StatusKind, reason: str, slot: int) -> None:
        self.write_json(Kind.STATUS, {"kind": kind.value, "reason": reason, "slot": slot})


class RecordingDecoder:
    """Stands in for a connection's decoder: state-changing calls go through the tap first."""

    __slots__ = ("_decoder", "_tap")

    def __init__(self, decoder: Decoder, tap: ConnectionTap) -> None:
        object.__setattr__(self, "_decoder", decoder)
        object.__setattr__(self, "_tap", tap)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """The decoder's class, so that adapters' ``isinstance`` checks see the decoder."""
        return type(self._decoder)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._decoder, name)
        if name in RECORDED_CALLS:
            return functools.partial(self._tap.call, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._decoder, name, value)

    def __repr__(self) -> str:
        return f"RecordingDecoder({self._decoder!r})"
