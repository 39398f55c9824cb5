"""A venue's live session recorded once, so that every fuzz input starts from the same state.

A decoder is only interesting with live books: instruments registered, books attached,
snapshot loaded, sequence rules armed. How a venue gets there (REST or in-band snapshot,
``configure_book``, ``announce``) is the adapter's business, so the harness does not repeat
it: it runs the real path once (FeedHandler -> picows -> the venue's simulator on 127.0.0.1,
every channel of two symbols) with the decoder class and the listener swapped for recording
subclasses, and keeps the transcript: each Python call the adapter and the connection made on
the decoder and each frame the decoder was given, in order. ``Session.fresh()`` replays it on
a new decoder in microseconds. The simulator then renders the frames that would come next
(``SimulatedExchange.capture``): those are the seeds, valid against the replayed state.
"""

from __future__ import annotations

import asyncio
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import Decoder
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges.base import Rings, VenueAdapter
from feedhandler.exchanges.registry import VenueInfo

SYMBOLS = ("BTC-USDT", "ETH-USDT")
RING_CAPACITY = 64
# decoder methods that change nothing: recorded, not replayed
GETTERS = frozenset({"slot_of", "instrument_of", "book", "sync_state", "snapshot_loaded",
                     "snapshot_count", "stats", "book_checksum"})


def inflate(payload: bytes) -> bytes:
    """A whole gzip/zlib/raw-deflate message as the listener inflates it."""
    try:
        return zlib.decompress(payload, zlib.MAX_WBITS | 32)
    except zlib.error:
        return zlib.decompress(payload, -zlib.MAX_WBITS)


@cache
def new_rings() -> Rings:
    """Rings for the fuzzed decoders, shared: what lands in them is not checked, and new
    ones cost more than a whole decode."""
    return Rings(TradeRing(RING_CAPACITY), TickerRing(RING_CAPACITY), CandleRing(RING_CAPACITY))


@dataclass(frozen=True)
class BookSpec:
    """How to make an equal, empty OrderBook again (books are state, never shared)."""

    price_scale: int
    size_scale: int
    tick: int
    depth_limit: int
    max_levels: int
    ladder_width: int

    @classmethod
    def of(cls, book: OrderBook) -> BookSpec:
        return cls(book.price_scale, book.size_scale, book.tick, book.depth_limit,
                   book.max_levels, book.ladder_width)

    def create(self) -> OrderBook:
        return OrderBook(self.price_scale, self.size_scale, self.tick, self.depth_limit,
                         self.max_levels, self.ladder_width)


def _thaw(value: Any) -> Any:
    return value.create() if isinstance(value, BookSpec) else value


@dataclass
class Session:
    """One connection's transcript and the frames the venue would send next."""

    name: str
    adapter: VenueAdapter
    steps: list[tuple[str, Any, Any]] = field(default_factory=list)   # (call, args, kwargs)
    seeds: list[bytes] = field(default_factory=list)                  # plain JSON messages
    wire: list[bytes] = field(default_factory=list)     # compressed payloads, for inflate

    def fresh(self) -> Decoder:
        """A new decoder brought to the recorded live state."""
        decoder = self.adapter.new_decoder(new_rings())
        for name, args, kwargs in self.steps:
            if name in GETTERS:
                continue
            if name == "decode":
                decoder.feed(args)
            else:
                getattr(decoder, name)(*map(_thaw, args),
                                       **{k: _thaw(v) for k, v in kwargs.items()})
        return decoder


def _recording_class(cls: type, steps: list[tuple[Any, str, Any, Any]]) -> type:
    """A subclass of the decoder class logging every outermost public method call."""
    depth = [0]

    def wrap(name: str) -> Callable[..., Any]:
        method = getattr(cls, name)

        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:
                steps.append((self, name, tuple(BookSpec.of(a) if isinstance(a, OrderBook) else a
                                          for a in args),
                              {k: BookSpec.of(v) if isinstance(v, OrderBook) else v
                               for k, v in kwargs.items()}))
            depth[0] += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                depth[0] -= 1
        return recorded

    names = [n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))
             and not isinstance(getattr(cls, n), type)]
    return type(f"Recording{cls.__name__}", (cls,), {n: wrap(n) for n in names})


async def _record(info: VenueInfo, steps_after_live: int, seed: int) -> Session:
    from feedhandler import RINGS_ONLY, FeedHandler
    from feedhandler.cli.demo import endpoint_options
    from feedhandler.exchanges.base import Channel
    from feedhandler.net import connection as connection_module
    from feedhandler.sim import SimulatedExchange, create_venue
    from feedhandler.sim.testing import until

    probe = info.create()
    await probe.close()
    decoder_class = type(probe.new_decoder(new_rings()))
    venue_module = sys.modules[type(probe).__module__]
    names = [n for n, v in vars(venue_module).items() if v is decoder_class]
    steps: list[tuple[Any, str, Any, Any]] = []
    recording = _recording_class(decoder_class, steps)
    listener_class = connection_module.FeedListener

    class RecordingListener(listener_class):  # type: ignore[misc, valid-type]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type in (1, 2):          # TEXT, BINARY: what reaches the decoder
                if not frame.fin:
                    raise RuntimeError("fuzz.session: fragmented frame while recording")
                payload = frame.get_payload_as_bytes()
                binary = frame.msg_type == 2 and probe.compression != "none"
                steps.append((self.decoder, "decode",
                              inflate(payload) if binary else payload, {}))
            super().on_ws_frame(transport, frame)

    venue_symbols = [probe.venue_symbol(s) for s in SYMBOLS]
    simulator = create_venue(probe.name, probe.market, venue_symbols)
    for name in names:
        setattr(venue_module, name, recording)
    connection_module.FeedListener = RecordingListener
    try:
        async with SimulatedExchange(simulator, seed=seed, rate=None) as exchange:
            fh = FeedHandler(endpoints={info.name: endpoint_options(info, exchange)})
            book_handle = None
            for symbol in SYMBOLS:
                for channel in info.channels:
                    if channel is Channel.BOOK:
                        handle = fh.subscribe_order_book(info.name, symbol, lambda u: None)
                        book_handle = book_handle or handle
                    elif channel is Channel.TRADES:
                        fh.subscribe_trades(info.name, symbol, RINGS_ONLY)
                    elif channel is Channel.TICKER:
                        fh.subscribe_ticker(info.name, symbol, RINGS_ONLY)
                    elif channel is Channel.OHLCV:
                        fh.subscribe_ohlcv(info.name, symbol, info.timeframes[0], RINGS_ONLY)
            async with fh:
                def live() -> bool:
                    exchange.advance(1)
                    return all(fh.book(info.name, s).valid for s in SYMBOLS)

                await until(live, timeout=20.0)
                await asyncio.sleep(0.2)            # acks and first rows settle
                assert book_handle is not None
                connection = fh.connection(book_handle)
                assert connection is not None
                live_decoder = connection.decoder
                transcript = list(steps)
                sim_conns = list(exchange.connections)
                captured: list[bytes] = []
                for sim_conn in sim_conns:
                    captured += [frame for _event, frame in
                                 exchange.capture(sim_conn, steps_after_live)]
    finally:
        for name in names:
            setattr(venue_module, name, decoder_class)
        connection_module.FeedListener = listener_class
    own = [(name, args, kwargs) for owner, name, args, kwargs in transcript
           if owner is live_decoder]
    wire = captured if probe.compression != "none" else []
    seeds = [args for name, args, _ in own if name == "decode"]
    seeds += [inflate(f) if f[:2] == b"\x1f\x8b" else f for f in captured]
    return Session(info.name, info.create(), own, seeds, wire)


def record(info: VenueInfo, steps_after_live: int = 300, seed: int = 11) -> Session:
    """Runs the venue's real session once against its simulator and keeps the transcript."""
    import uvloop

    return uvloop.run(_record(info, steps_after_live, seed))
