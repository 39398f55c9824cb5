"""A fake venue for the connection manager: a picows server speaking a tiny JSON protocol with
fault injection, a proxy that delays handshakes, and the venue adapter that talks to them.

Protocol: ``{"op":"subscribe","args":[...]}`` is acked with ``{"event":"subscribed","args":...}``
(likewise unsubscribe); ``{"op":"ping"}`` gets ``{"op":"pong"}``; any other message is recorded.
``publish(arg, n)`` pushes ``{"arg":..., "data":n}`` to every session subscribed to ``arg``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from http import HTTPStatus
from typing import Any

import pytest
import uvloop
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from feedhandler.core.decoder import Decoder, PassthroughDecoder
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges.base import (
    Channel,
    ConnectionLimits,
    Heartbeat,
    Instrument,
    Link,
    Rings,
    Subscription,
    VenueAdapter,
)
from feedhandler.net import Backoff, Connection, StatusEvent, StatusKind


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """The feed handler runs on uvloop, so its tests do too."""
    return {"uvloop": uvloop.new_event_loop}


# ---- the server ------------------------------------------------------------------------------

class Session(WSListener):
    """The server's side of one client connection."""

    def __init__(self, venue: VenueServer) -> None:
        self.venue = venue
        self.transport: WSTransport | None = None
        self.received: list[dict[str, Any]] = []   # every JSON message from the client, in order
        self.args: set[str] = set()                # currently subscribed
        self.stalled = False                       # ignores everything, answers nothing
        self.pings = 0
        self.last_sent = 0.0                       # monotonic time of our last message
        self.close_code: int | None = None         # what the client's CLOSE frame said
        self.closed = asyncio.Event()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.last_sent = time.monotonic()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed.set()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if self.stalled:
            return
        if kind == WSMsgType.CLOSE:
            self.close_code = frame.get_close_code().value
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if kind == WSMsgType.PING:
            self.pings += 1
            if self.venue.answer_pings:
                transport.send_pong(frame.get_payload_as_bytes())
                self.last_sent = time.monotonic()
            return
        if kind != WSMsgType.TEXT:
            return
        message = json.loads(frame.get_payload_as_utf8_text())
        self.received.append(message)
        op = message.get("op")
        if op == "ping":
            self.pings += 1
            if self.venue.answer_pings:
                self.send({"op": "pong"})
        elif op == "subscribe":
            self.args.update(message["args"])
            self.send({"event": "subscribed", "args": message["args"]})
            if self.venue.ping_on_subscribe:
                self.send({"op": "server_ping"})
        elif op == "unsubscribe":
            self.args.difference_update(message["args"])
            self.send({"event": "unsubscribed", "args": message["args"]})

    def send(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, json.dumps(message).encode())
        self.last_sent = time.monotonic()

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.closed.is_set()

    def requests(self, op: str) -> list[list[str]]:
        """The args of each ``op`` request received, in order."""
        return [m["args"] for m in self.received if m.get("op") == op]

    def subscribed(self) -> list[str]:
        return [arg for args in self.requests("subscribe") for arg in args]


class SlowHandshakeProxy:
    """Holds each client's upgrade request for ``delay`` seconds before passing it on to the
    venue: a venue slow to answer. Clients that gave up meanwhile are not passed on."""

    def __init__(self, backend_port: int, delay: float) -> None:
        self.backend_port = backend_port
        self.delay = delay
        self.accepted = 0
        self.forwarded = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())   # type: ignore[arg-type]
        self.accepted += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delay
        request = b""
        try:
            while (remaining := deadline - loop.time()) > 0:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), remaining)
                except TimeoutError:
                    break
                if not chunk:
                    return                         # the client gave up
                request += chunk
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
            self.forwarded += 1
            up_writer.write(request)
            await asyncio.gather(self.pipe(reader, up_writer), self.pipe(up_reader, writer))
        finally:
            writer.close()
            self.tasks.discard(asyncio.current_task())   # type: ignore[arg-type]

    @staticmethod
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


class VenueServer:
    def __init__(self, scheme: str = "ws") -> None:
        self.scheme = scheme                  # "wss" when started with an ssl context
        self.sessions: list[Session] = []
        self.attempts: list[float] = []       # monotonic time of every upgrade request
        self.answer_pings = True
        self.ping_on_subscribe = False        # sends {"op":"server_ping"} after each ack
        self.reject_handshakes = 0            # the next N upgrade requests get HTTP 503
        self.slow_dials = 0                   # the next N dials go through the slow proxy
        self.proxy: SlowHandshakeProxy | None = None

    async def start(self, **server_options: Any) -> None:
        self.server = await ws_create_server(self.accept, "127.0.0.1", 0,
                                             enable_auto_pong=False, **server_options)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for session in self.sessions:
            if session.transport is not None:
                session.transport.disconnect(graceful=False)
        if self.proxy is not None:
            await self.proxy.stop()
        self.server.close()
        await self.server.wait_closed()

    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/ws"

    async def slow_handshakes(self, dials: int, delay: float) -> SlowHandshakeProxy:
        if self.proxy is None:
            self.proxy = SlowHandshakeProxy(self.port, delay)
            await self.proxy.start()
        self.proxy.delay = delay
        self.slow_dials = dials
        return self.proxy

    def dial_url(self) -> str:
        if self.slow_dials > 0 and self.proxy is not None:
            self.slow_dials -= 1
            return f"ws://127.0.0.1:{self.proxy.port}/ws"
        return self.url()

    def accept(self, request: WSUpgradeRequest) -> Session | WSUpgradeResponseWithListener:
        self.attempts.append(time.monotonic())
        if self.reject_handshakes > 0:
            self.reject_handshakes -= 1
            response = WSUpgradeResponse.create_error_response(HTTPStatus.SERVICE_UNAVAILABLE)
            return WSUpgradeResponseWithListener(response, None)
        session = Session(self)
        self.sessions.append(session)
        return session

    def live(self) -> list[Session]:
        return [s for s in self.sessions if s.is_open]

    def publish(self, arg: str, n: int) -> int:
        """Sends data on ``arg`` to every session subscribed to it; returns how many."""
        targets = [s for s in self.live() if arg in s.args and not s.stalled]
        for session in targets:
            session.send({"arg": arg, "data": n})
        return len(targets)

    def drop(self) -> None:
        """Every connection vanishes without a CLOSE frame."""
        for session in self.live():
            assert session.transport is not None
            session.transport.disconnect(graceful=False)

    def close(self, code: int, reason: str = "") -> None:
        for session in self.live():
            assert session.transport is not None
            session.transport.send_close(WSCloseCode(code) if code in _CLOSE_CODES else code,
                                         reason.encode())
            session.transport.disconnect()

    def stall(self) -> None:
        """Connections stay open but the venue stops sending and answering anything."""
        for session in self.live():
            session.stalled = True


_CLOSE_CODES = {c.value for c in WSCloseCode}


@pytest.fixture
async def venue() -> AsyncIterator[VenueServer]:
    server = VenueServer()
    await server.start()
    yield server
    await server.stop()


# ---- the adapter -------------------------------------------------------------------------------

class ScriptedDecoder(PassthroughDecoder):
    """Passes every message to the adapter as control; tests inject the book resyncs that
    real decoders report from gaps and checksum failures."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.injected_resyncs: list[tuple[int, str]] = []

    def take_resync(self) -> list[tuple[int, str]]:
        out, self.injected_resyncs = self.injected_resyncs, []
        return out


def arg_of(sub: Subscription) -> str:
    return f"{sub.channel.value}{sub.timeframe or ''}:{sub.instrument.venue_symbol}"


class FakeAdapter(VenueAdapter):
    name = "fake"

    def __init__(self, venue: VenueServer, *, streams_per_connection: int = 10,
                 args_per_request: int = 2, requests_per_second: float = 200.0,
                 max_connections: int = 4, heartbeat: Heartbeat | None = None,
                 max_message_size: int = 1 << 16) -> None:
        self.venue = venue
        self.limits = ConnectionLimits(streams_per_connection, args_per_request,
                                       requests_per_second, max_connections)
        self.heartbeat = heartbeat or Heartbeat(ping_interval=5.0, pong_timeout=2.0)
        self.max_message_size = max_message_size
        self.urls: list[str] = []               # dialled first, before the venue's own URL
        self.controls: list[dict[str, Any]] = []
        self.data: list[tuple[str, int]] = []   # (arg, n) of every data message received
        self.syncs: list[tuple[str, int]] = []  # (venue symbol, slot) of every sync_book call
        self.sync_failures = 0                  # the next N sync_book calls raise
        self.sync_delay = 0.01                  # a snapshot round trip

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.urls.pop(0) if self.urls else self.venue.dial_url()

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("-", "")

    def new_decoder(self, rings: Rings) -> Decoder:
        return ScriptedDecoder(rings.trades, rings.tickers, rings.candles)

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return [json.dumps({"op": "subscribe", "args": [arg_of(s) for s in subscriptions]})
                .encode()]

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return [json.dumps({"op": "unsubscribe", "args": [arg_of(s) for s in subscriptions]})
                .encode()]

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if "data" in message:
            self.data.append((message["arg"], message["data"]))
            return
        self.controls.append(message)
        if message.get("op") == "server_ping":
            link.send(b'{"op":"server_pong"}')

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        self.syncs.append((subscription.instrument.venue_symbol, slot))
        await asyncio.sleep(self.sync_delay)
        if self.sync_failures > 0:
            self.sync_failures -= 1
            raise ConnectionError("snapshot endpoint unavailable")
        link.decoder.take_pending(slot)
        link.decoder.mark_live(slot)


# ---- helpers ---------------------------------------------------------------------------------

SYMBOLS = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "DOGE-USDT",
           "LTC-USDT", "DOT-USDT", "AVAX-USDT", "LINK-USDT", "TRX-USDT", "BNB-USDT"]


class MaxRandom(random.Random):
    """``uniform`` returns its upper bound: backoff delays become their ceilings exactly."""

    def uniform(self, a: float, b: float) -> float:
        return b


class StatusLog:
    """Records status events: when, from which connection, and whether the event's book was
    valid at that moment."""

    def __init__(self) -> None:
        self.events: list[tuple[float, Connection, StatusEvent, bool | None]] = []

    def __call__(self, connection: Connection, event: StatusEvent) -> None:
        book = (connection.book(event.subscription)
                if event.subscription is not None
                and event.subscription.key in connection.subscriptions else None)
        valid = None if book is None else bool(book.valid)
        self.events.append((time.monotonic(), connection, event, valid))

    def of(self, kind: StatusKind) -> list[StatusEvent]:
        return [e for _, _, e, _ in self.events if e.kind is kind]

    def times(self, kind: StatusKind) -> list[float]:
        return [t for t, _, e, _ in self.events if e.kind is kind]

    def sources(self, kind: StatusKind) -> list[Connection]:
        return [c for _, c, e, _ in self.events if e.kind is kind]

    def validity(self, kind: StatusKind) -> list[bool | None]:
        """Whether the event's book was valid when each ``kind`` event was delivered."""
        return [valid for _, _, e, valid in self.events if e.kind is kind]


class Kit:
    """Helpers for the tests (importlib import mode: test modules cannot import siblings)."""

    FakeAdapter = FakeAdapter
    VenueServer = VenueServer
    MaxRandom = MaxRandom
    StatusLog = StatusLog
    arg_of = staticmethod(arg_of)

    @staticmethod
    def instrument(symbol: str) -> Instrument:
        return Instrument(id=SYMBOLS.index(symbol) + 1, venue="fake", symbol=symbol,
                          venue_symbol=symbol.replace("-", ""), price_scale=2, size_scale=4)

    @staticmethod
    def sub(channel: Channel, symbol: str) -> Subscription:
        return Subscription(channel, Kit.instrument(symbol))

    @staticmethod
    def rings() -> Rings:
        return Rings(TradeRing(1024), TickerRing(1024), CandleRing(1024))

    @staticmethod
    def fast_backoff() -> Backoff:
        return Backoff(base=0.02, cap=0.05, reset_after=60.0)

    @staticmethod
    async def wait_until(predicate: Callable[[], object], timeout: float = 3.0,
                         what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.005)

    @staticmethod
    def pending_tasks() -> set[asyncio.Task[Any]]:
        current = asyncio.current_task()
        return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
async def make_connection() -> AsyncIterator[Callable[..., Connection]]:
    """Makes and starts connections with fast reconnects; stops them at teardown."""
    connections: list[Connection] = []

    def make(adapter: VenueAdapter, subscriptions: Sequence[Subscription] = (),
             **options: Any) -> Connection:
        options.setdefault("backoff", Kit.fast_backoff())
        options.setdefault("handshake_timeout", 2.0)
        connection = Connection(adapter, Kit.rings(), subscriptions, **options)
        connection.start()
        connections.append(connection)
        return connection

    yield make
    await asyncio.gather(*(c.stop() for c in connections))
