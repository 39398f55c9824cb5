"""SimulatedExchange: a picows WebSocket + HTTP server on 127.0.0.1 that publishes a seeded
``Market`` in one ``Venue``'s wire format, with per-connection bookkeeping and fault injection.

Server frames are built here as raw bytes (unmasked, FIN set) and written to the TCP transport in
batches, so that a flood is limited by the generator rather than by per-frame overhead.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import socket
import struct
from collections import Counter, deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qsl

from aiohttp import web
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from feedhandler.sim.market import BookUpdate, Market, MarketConfig, MarketEvent
from feedhandler.sim.venue import (
    ClientRequest,
    ErrorReason,
    HttpRequest,
    HttpResponse,
    Keepalive,
    RequestKind,
    Session,
    Venue,
)

FLOOD = math.inf
"""``rate`` value meaning: publish as fast as the clients read."""

OPCODE_TEXT = 0x81
OPCODE_BINARY = 0x82
OPCODE_CLOSE = 0x88
OPCODE_PING = 0x89
OPCODE_PONG = 0x8A

_SHORT_TEXT_HEADERS = [bytes((OPCODE_TEXT, length)) for length in range(126)]


def frame_header(first_byte: int, length: int) -> bytes:
    """Header of an unmasked server frame; ``first_byte`` is FIN | opcode."""
    if length < 126:
        return bytes((first_byte, length))
    if length < 65536:
        return struct.pack("!BBH", first_byte, 126, length)
    return struct.pack("!BBQ", first_byte, 127, length)


class UnsupportedFault(ValueError):
    """The venue has nothing the fault could act on (e.g. a checksum on a venue without one)."""


class SimConnection(WSListener):
    """One client connection as the exchange sees it: subscriptions, counters and fault state."""

    def __init__(self, exchange: SimulatedExchange, conn_id: int, path: str,
                 session: Session) -> None:
        super().__init__()
        self.id = conn_id
        self.path = path
        self.state = session.state
        self.topics: dict[str, None] = {}
        """Subscribed topics in subscription order."""
        self.received: Counter[str] = Counter()
        """Client messages by kind: frame types ("text", "ping", "pong", "close", "binary") and
        request kinds ("subscribe", "unsubscribe", "list", "invalid", ...)."""
        self.faults: Counter[str] = Counter()
        self.frames_sent = 0
        self.bytes_sent = 0
        self.refuse_pings = False
        self.disconnected = asyncio.Event()
        self.pending_gaps: set[str] = set()
        self.pending_corruptions: set[str] = set()
        self.reject_next_subscribe: str | None = None
        self._exchange = exchange
        self._gzip = (session.compression or exchange.venue.compression) == "gzip"
        self._initial_topics = session.topics
        self._transport: WSTransport | None = None
        self._raw: asyncio.Transport | None = None
        self._out = bytearray()
        self._out_frames = 0
        self._paused = False
        self._stalled = False
        self._closing = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._incoming: deque[float] = deque()
        self._ping_payloads: set[bytes] = set()
        self._ping_outstanding_since: float | None = None
        self._last_ping_at = 0.0
        self.last_activity = 0.0
        """Loop time of the last frame either way (a venue's ``idle_timeout`` reads it)."""
        self.opened_at = 0.0
        """Loop time of the handshake (``connection_lifetime`` reads it)."""

    def __repr__(self) -> str:
        return f"<SimConnection #{self.id} {self.path} topics={list(self.topics)}>"

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self.disconnected.is_set()

    @property
    def paused(self) -> bool:
        """The client is not reading fast enough: the kernel and transport buffers are full."""
        return self._paused

    @property
    def closing(self) -> bool:
        """The server has started closing or aborting this connection."""
        return self._closing

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self._raw = transport.underlying_transport
        self._last_ping_at = self.last_activity = asyncio.get_running_loop().time()
        self.opened_at = self.last_activity
        self._exchange._attach(self, self._initial_topics)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        self.last_activity = asyncio.get_running_loop().time()
        self._exchange._on_frame(self, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._exchange._detach(self)
        self.disconnected.set()
        self._writable.set()
        # ``history`` keeps this connection for its counters: not its socket, picows state
        # or the frames it never sent
        self._transport = None
        self._raw = None
        self._out = bytearray()
        self._out_frames = 0
        self._incoming.clear()
        self._ping_payloads.clear()

    def pause_writing(self) -> None:
        self._paused = True
        self._writable.clear()

    def resume_writing(self) -> None:
        self._paused = False
        self._writable.set()
        self.flush()

    def send_text(self, payload: bytes) -> None:
        """Queue one text frame (gzip'd BINARY for a venue whose ``compression`` is "gzip");
        written once ``frames_per_write`` frames are queued or on flush."""
        out = self._out
        if self._gzip:
            payload = self.encoded(payload)
            out += frame_header(OPCODE_BINARY, len(payload))
        else:
            length = len(payload)
            out += _SHORT_TEXT_HEADERS[length] if length < 126 \
                else frame_header(OPCODE_TEXT, length)
        out += payload
        self._out_frames += 1
        if self._out_frames >= self._exchange.frames_per_write:
            self.flush()

    def encoded(self, payload: bytes) -> bytes:
        """A data frame's payload as it goes on the wire (compressed for a gzip venue)."""
        return gzip.compress(payload, compresslevel=1, mtime=0) if self._gzip else payload

    def send_control(self, first_byte: int, payload: bytes) -> None:
        """Queue a control frame (ping or pong) behind the data already queued and flush."""
        self._out += frame_header(first_byte, len(payload)) + payload
        self._out_frames += 1
        self.flush()

    def flush(self) -> None:
        if not self._out or self._paused or self._stalled or self._raw is None or self._closing:
            if len(self._out) > self._exchange.max_pending_bytes:
                self._exchange.stats["slow_consumer_drops"] += 1
                self.abort()
            return
        out, self._out = self._out, bytearray()
        self.frames_sent += self._out_frames
        self.bytes_sent += len(out)
        self._out_frames = 0
        self._raw.write(out)
        self.last_activity = asyncio.get_running_loop().time()

    async def wait_writable(self) -> None:
        await self._writable.wait()

    def abort(self) -> None:
        """Drop the TCP connection at once, without a close frame."""
        self._closing = True
        if self._raw is not None:
            self._raw.abort()

    def close(self, code: int, reason: str = "") -> None:
        """Send what is queued, then a close frame, then close the TCP connection."""
        if self._transport is None or self._closing:
            return
        self._stalled = False
        self._paused = False
        self.flush()
        self._closing = True
        payload = struct.pack("!H", code) + reason.encode()
        assert self._raw is not None
        self._raw.write(frame_header(OPCODE_CLOSE, len(payload)) + payload)
        self._transport.disconnect(graceful=True)

    def count_incoming(self, now: float, window: float) -> int:
        """Record one client message at ``now``; return how many arrived in the last window."""
        arrivals = self._incoming
        arrivals.append(now)
        while arrivals[0] <= now - window:
            arrivals.popleft()
        return len(arrivals)

    def ping_due(self, now: float, interval: float) -> bool:
        return now - self._last_ping_at >= interval

    def pong_overdue(self, now: float, timeout: float) -> bool:
        """A ping has gone unanswered for longer than ``timeout``."""
        since = self._ping_outstanding_since
        return since is not None and now - since > timeout

    def note_ping(self, payload: bytes, now: float) -> None:
        self._last_ping_at = now
        self._ping_payloads.add(payload)
        if self._ping_outstanding_since is None:
            self._ping_outstanding_since = now

    def note_pong(self, payload: bytes | None, must_echo: bool) -> None:
        """A pong (``payload`` None for a venue text pong) answers the outstanding pings."""
        if must_echo and payload is not None and payload not in self._ping_payloads:
            return
        self._ping_payloads.clear()
        self._ping_outstanding_since = None

    def stall(self, seconds: float) -> None:
        """Hold back every outgoing frame for ``seconds``, then send them in order."""
        self._stalled = True
        asyncio.get_running_loop().call_later(seconds, self._unstall)

    def _unstall(self) -> None:
        self._stalled = False
        self.flush()


class SimulatedExchange:
    """A simulated venue on 127.0.0.1: ``await start()`` or ``async with``, then connect to
    ``ws_url`` / ``http_url``. ``market`` holds the true book; fault methods act on one
    connection or, with ``conn=None``, on every live one."""

    def __init__(self, venue: Venue, *, seed: int = 0, rate: float | None = 1000.0,
                 frames_per_write: int = 1, depth: int = 50,
                 changes_per_step: tuple[int, int] = (1, 3), trade_probability: float = 0.3,
                 keepalive: Keepalive | Literal["venue"] | None = "venue",
                 host: str = "127.0.0.1", port: int = 0,
                 max_pending_bytes: int = 64 * 1024 * 1024,
                 slow_consumer_timeout: float = 5.0,
                 max_client_frame_size: int = 1024 * 1024,
                 history: int = MarketConfig.history,
                 keep_connections: int | None = None,
                 connection_lifetime: float | None = None) -> None:
        """``rate`` is market events per second, ``FLOOD`` for as fast as clients read, or None
        to publish only through ``advance``. ``frames_per_write`` caps the frames batched into
        one socket write; ``depth``, ``changes_per_step`` and ``trade_probability`` shape the
        market (``MarketConfig``); ``history`` bounds the level changes kept per symbol for
        past snapshots (a long soak keeps it small, so the simulator's memory settles early);
        ``keep_connections`` bounds ``history`` to the latest ones (None: all of them);
        ``connection_lifetime`` closes every connection (1001 "connection lifetime") that many
        seconds after its handshake, as Binance does at 24 h (None: never)."""
        if frames_per_write < 1:
            raise ValueError("frames_per_write must be at least 1")
        self.venue = venue
        self.market = Market(venue.instruments(), MarketConfig(
            seed=seed, depth=depth, candle_intervals_ms=venue.candle_intervals_ms(),
            update_id_step=venue.update_id_step, changes_per_step=changes_per_step,
            trade_probability=trade_probability, history=history))
        self.rate = rate
        self.frames_per_write = frames_per_write
        self.keepalive = venue.keepalive if keepalive == "venue" else keepalive
        self.host = host
        self.port = port
        self.max_pending_bytes = max_pending_bytes
        self.slow_consumer_timeout = slow_consumer_timeout
        self.max_client_frame_size = max_client_frame_size
        self.connection_lifetime = connection_lifetime
        self.faults: Counter[str] = Counter()
        """Injected faults by name, one count per connection affected."""
        self.stats: Counter[str] = Counter()
        """Published "events", "http_requests", "idle_disconnects", "lifetime_disconnects",
        "pong_timeouts", "rate_limit_disconnects", "slow_consumer_drops"."""
        self.history: deque[SimConnection] = deque(maxlen=keep_connections)
        """The connections accepted, in order (the latest ``keep_connections``);
        ``connections`` has the live ones."""
        self.accepted = 0
        """WebSocket connections accepted so far."""
        self.muted: Callable[[str], bool] | None = None
        """Topics (the venue's names) that publish nothing, not even on subscribe: ``mute``."""
        self._live: dict[int, SimConnection] = {}
        self._subscribers: dict[str, set[SimConnection]] = {}
        self._book_faults: set[SimConnection] = set()
        self._listen_sock: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self._accept_resume_at = 0.0
        self._accept_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.rest_port = 0
        self._rest_runner: web.AppRunner | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.venue.ws_path}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.rest_port or self.port}"

    @property
    def connections(self) -> list[SimConnection]:
        return list(self._live.values())

    async def start(self) -> SimulatedExchange:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(1024)
        sock.setblocking(False)
        self._listen_sock = sock
        self.port = sock.getsockname()[1]
        self._server = await self._serve()
        if self.venue.rest_writes:
            await self._serve_rest()
        if self.rate is not None:
            self._tasks.append(asyncio.create_task(
                self._flood() if self.rate == FLOOD else self._pace(self.rate)))
        if self.keepalive is not None:
            self._tasks.append(asyncio.create_task(self._heartbeat(self.keepalive)))
        if self.venue.idle_timeout is not None:
            self._tasks.append(asyncio.create_task(self._close_idle(self.venue.idle_timeout)))
        if self.connection_lifetime is not None:
            self._tasks.append(asyncio.create_task(self._end_lifetimes(self.connection_lifetime)))
        return self

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._accept_task] if self._accept_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for conn in self.connections:
            conn.abort()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._listen_sock is not None:
            self._listen_sock.close()
            self._listen_sock = None
        if self._rest_runner is not None:
            await self._rest_runner.cleanup()
            self._rest_runner = None
        await asyncio.sleep(0)

    async def _serve_rest(self) -> None:
        """Every HTTP method, on a port of its own, answered by ``venue.http``."""

        async def handle(request: web.Request) -> web.Response:
            self.stats["http_requests"] += 1
            headers = {key.lower(): value for key, value in request.headers.items()}
            response = self.venue.http(HttpRequest(request.method, request.path,
                                                   dict(request.query), headers,
                                                   await request.read()), self.market)
            response = response or HttpResponse(404, b'{"error":"not found"}')
            return web.Response(status=response.status, body=response.body,
                                headers=response.headers)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self._rest_runner = web.AppRunner(app, access_log=None)
        await self._rest_runner.setup()
        site = web.TCPSite(self._rest_runner, self.host, 0)
        await site.start()
        self.rest_port = self._rest_runner.addresses[0][1]

    async def __aenter__(self) -> SimulatedExchange:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def relist(self, symbol: str, tick_size: str, lot_size: str) -> None:
        """The venue cuts ``symbol``'s tick and lot size (each dividing the old one): its
        metadata lists the new ones and everything it prints from the next step on is at
        their precision, the true book keeping its values."""
        self.venue.relist(*self.market.relist(symbol, tick_size, lot_size))

    def advance(self, steps: int = 1) -> list[MarketEvent]:
        """Generate and publish ``steps`` market steps now; return the events published."""
        published: list[MarketEvent] = []
        for events in self.market.steps(steps):
            self._publish(events)
            published.extend(events)
        self._flush_all()
        return published

    def capture(self, conn: SimConnection, steps: int) -> list[tuple[MarketEvent, bytes]]:
        """Moves the market ``steps`` steps and returns each event ``conn`` would have been
        sent, with its frame payload as on the wire, without sending: benchmarks feed a
        client these offline, then compare its book with ``market``. Other connections miss
        these events."""
        venue, market = self.venue, self.market
        captured: list[tuple[MarketEvent, bytes]] = []
        for events in market.steps(steps):
            for event in events:
                for topic in venue.topics(event):
                    if topic in conn.topics:
                        captured.append((event, conn.encoded(venue.envelope(
                            conn.state, topic, venue.render(event, topic, market)))))
            self.stats["events"] += len(events)
        return captured

    # Faults ------------------------------------------------------------------------------

    def drop(self, conn: SimConnection | None = None) -> int:
        """Abort the TCP connection, without a close frame."""
        return self._inject("drop", conn, SimConnection.abort)

    def stall(self, seconds: float, conn: SimConnection | None = None) -> int:
        """Send nothing for ``seconds`` (socket kept open); held frames follow in order."""
        return self._inject("stall", conn, lambda c: c.stall(seconds))

    def close(self, code: int = 1000, reason: str = "", conn: SimConnection | None = None) -> int:
        """Send a close frame with ``code`` and ``reason`` and close the connection."""
        return self._inject("close", conn, lambda c: c.close(code, reason))

    def gap(self, symbol: str, conn: SimConnection | None = None) -> int:
        """Lose the next book message of ``symbol``: the following one skips update ids."""
        self.market.book(symbol)
        return self._inject("gap", conn, lambda c: self._arm(c, c.pending_gaps, symbol))

    def corrupt_checksum(self, symbol: str, conn: SimConnection | None = None) -> int:
        """Send the next book message of ``symbol`` with a wrong checksum."""
        if not self.venue.has_checksum:
            raise UnsupportedFault(f"{self.venue.name} book messages carry no checksum")
        self.market.book(symbol)
        return self._inject("corrupt_checksum", conn,
                            lambda c: self._arm(c, c.pending_corruptions, symbol))

    def malformed(self, conn: SimConnection | None = None) -> int:
        """Send a text frame that is not valid JSON."""
        payload = self.venue.render_malformed()
        return self._inject("malformed", conn, lambda c: self._send_now(c, payload))

    def oversize(self, nbytes: int, conn: SimConnection | None = None) -> int:
        """Send one text frame whose payload is ``nbytes`` long."""
        payload = self.venue.render_oversize(nbytes)
        return self._inject("oversize", conn, lambda c: self._send_now(c, payload))

    def server_shutdown(self, conn: SimConnection | None = None) -> int:
        """Announce that the server is about to shut down (Binance ``serverShutdown``): the
        client should move to a new connection now; this one stays open."""
        if not self.venue.has_server_shutdown:
            raise UnsupportedFault(f"{self.venue.name} announces no server shutdown")
        return self._inject("server_shutdown", conn, lambda c: self._send_now(
            c, self.venue.render_server_shutdown(c.state, self.market.now_ms)))

    def end_topic(self, topic: str, payloads: list[bytes]) -> int:
        """The venue ends ``topic`` for every connection on it (Binance's
        ``eventStreamTerminated``): ``payloads`` are sent, then the connections are
        unsubscribed; the sockets stay open."""
        targets = [c for c in self._subscribers.get(topic, ()) if not c.closing]
        for conn in targets:
            conn.faults["end_topic"] += 1
            self.faults["end_topic"] += 1
            for payload in payloads:
                conn.send_text(self.venue.envelope(conn.state, topic, payload))
            conn.flush()
            self._unsubscribe(conn, topic)
        return len(targets)

    def refuse_pings(self, refuse: bool = True, conn: SimConnection | None = None) -> int:
        """Stop (or resume) answering WebSocket pings and venue text pings."""
        def apply(c: SimConnection) -> None:
            c.refuse_pings = refuse
        return self._inject("refuse_pings", conn, apply)

    def mute(self, topics: Callable[[str], bool]) -> None:
        """From now on, the topics ``topics(name)`` holds for stay silent (subscribes are still
        acknowledged): a channel a venue stopped serving on this URL."""
        self.muted = topics

    def reject_subscribe(self, reason: str, conn: SimConnection | None = None) -> int:
        """Refuse the next subscribe request with the venue's error carrying ``reason``."""
        def apply(c: SimConnection) -> None:
            c.reject_next_subscribe = reason
        return self._inject("reject_subscribe", conn, apply)

    def slow_handshake(self, seconds: float) -> None:
        """Stop accepting for ``seconds``: new connections wait in the kernel's backlog, so
        their upgrade (and REST) responses arrive that much later."""
        self.faults["slow_handshake"] += 1
        loop = asyncio.get_running_loop()
        self._accept_resume_at = max(self._accept_resume_at, loop.time() + seconds)
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._accept_task is None:
            self._accept_task = asyncio.create_task(self._resume_accepting())

    def _inject(self, name: str, conn: SimConnection | None,
                apply: Callable[[SimConnection], None]) -> int:
        targets = [conn] if conn is not None else self.connections
        for target in targets:
            target.faults[name] += 1
            self.faults[name] += 1
            apply(target)
        return len(targets)

    def _arm(self, conn: SimConnection, pending: set[str], symbol: str) -> None:
        pending.add(symbol)
        self._book_faults.add(conn)

    @staticmethod
    def _send_now(conn: SimConnection, payload: bytes) -> None:
        conn.send_text(payload)
        conn.flush()

    # Serving -----------------------------------------------------------------------------

    async def _serve(self) -> asyncio.Server:
        assert self._listen_sock is not None
        return await ws_create_server(
            self._route, sock=self._listen_sock.dup(), enable_auto_pong=False,
            max_frame_size=self.max_client_frame_size)

    async def _resume_accepting(self) -> None:
        loop = asyncio.get_running_loop()
        while (delay := self._accept_resume_at - loop.time()) > 0:
            await asyncio.sleep(delay)
        self._server = await self._serve()
        self._accept_task = None

    def _route(self, request: WSUpgradeRequest) -> SimConnection | WSUpgradeResponseWithListener \
            | None:
        path, _, query_string = request.path.decode("latin-1").partition("?")
        query = dict(parse_qsl(query_string))
        if request.headers.get("Upgrade", "").lower() != "websocket":
            self.stats["http_requests"] += 1
            headers = {key.lower(): value for key, value in request.headers.items()}
            response = self.venue.http(
                HttpRequest(request.method.decode("latin-1"), path, query, headers), self.market)
            return _http_response(response or HttpResponse(404, b'{"error":"not found"}'))
        opened = self.venue.open_session(path, query)
        if opened is None or isinstance(opened, HttpResponse):
            return opened if opened is None else _http_response(opened)
        return SimConnection(self, self.accepted + 1, request.path.decode("latin-1"), opened)

    def _attach(self, conn: SimConnection, topics: Iterable[str]) -> None:
        self.accepted += 1
        self.history.append(conn)
        self._live[conn.id] = conn
        for topic in topics:
            self._subscribe(conn, topic)
        conn.flush()

    def _detach(self, conn: SimConnection) -> None:
        self._live.pop(conn.id, None)
        self._book_faults.discard(conn)
        for topic in conn.topics:
            self._subscribers.get(topic, set()).discard(conn)

    def _subscribe(self, conn: SimConnection, topic: str) -> None:
        if topic in conn.topics:
            return
        conn.topics[topic] = None
        self._subscribers.setdefault(topic, set()).add(conn)
        if self.muted is not None and self.muted(topic):
            return
        for frame in self.venue.initial_frames(conn.state, topic, self.market):
            conn.send_text(frame)

    def _unsubscribe(self, conn: SimConnection, topic: str) -> None:
        if conn.topics.pop(topic, 0) is None:
            self._subscribers[topic].discard(conn)

    # Client messages ---------------------------------------------------------------------

    def _on_frame(self, conn: SimConnection, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        conn.received[msg_type.name.lower()] += 1
        if conn.closing:
            return
        if msg_type is WSMsgType.CLOSE:
            conn.close(1000)
            return
        if self._over_incoming_limit(conn):
            return
        if msg_type is WSMsgType.TEXT:
            request = self.venue.parse(conn.state, frame.get_payload_as_bytes())
            conn.received[request.kind.value] += 1
            for reply in self._handle(conn, request):
                conn.send_text(reply)
            conn.flush()
        elif msg_type is WSMsgType.PING:
            if not conn.refuse_pings:
                conn.send_control(OPCODE_PONG, frame.get_payload_as_bytes())
        elif msg_type is WSMsgType.PONG:
            self._on_pong(conn, frame.get_payload_as_bytes())

    def _over_incoming_limit(self, conn: SimConnection) -> bool:
        limit = self.venue.incoming_limit
        if limit is None:
            return False
        if conn.count_incoming(asyncio.get_running_loop().time(), limit.seconds) \
                <= limit.messages:
            return False
        self.stats["rate_limit_disconnects"] += 1
        conn.close(limit.close_code, limit.close_reason)
        return True

    def _handle(self, conn: SimConnection, request: ClientRequest) -> list[bytes]:
        venue = self.venue
        kind = request.kind
        if kind is RequestKind.SUBSCRIBE:
            return self._handle_subscribe(conn, request)
        if kind is RequestKind.UNSUBSCRIBE:
            for topic in request.topics:
                self._unsubscribe(conn, topic)
            return venue.render_ack(request)
        if kind is RequestKind.LIST:
            return venue.render_list(request, list(conn.topics))
        if kind is RequestKind.PING:
            return [] if conn.refuse_pings else venue.render_pong(request)
        if kind is RequestKind.PONG:
            self._on_pong(conn, request.body if isinstance(request.body, bytes) else None)
            return []
        if kind is RequestKind.QUERY:
            return venue.handle_query(conn.state, request, self.market)
        if kind is RequestKind.OTHER:
            return venue.handle_other(conn.state, request)
        return venue.render_error(request, request.error or ErrorReason.INVALID_REQUEST,
                                  request.detail)

    def _handle_subscribe(self, conn: SimConnection, request: ClientRequest) -> list[bytes]:
        venue = self.venue
        if conn.reject_next_subscribe is not None:
            reason, conn.reject_next_subscribe = conn.reject_next_subscribe, None
            return venue.render_error(request, ErrorReason.REJECTED, reason)
        unknown = [topic for topic in request.topics if not venue.is_topic(topic)]
        if unknown:
            return venue.render_error(request, ErrorReason.UNKNOWN_TOPIC, unknown[0])
        if venue.max_topics is not None and \
                len(conn.topics.keys() | set(request.topics)) > venue.max_topics:
            return venue.render_error(request, ErrorReason.TOO_MANY_TOPICS,
                                      f"at most {venue.max_topics} streams per connection")
        replies = venue.render_ack(request)
        for reply in replies:
            conn.send_text(reply)
        for topic in request.topics:
            self._subscribe(conn, topic)
        return []

    # Keepalive ---------------------------------------------------------------------------

    async def _heartbeat(self, keepalive: Keepalive) -> None:
        loop = asyncio.get_running_loop()
        tick = min(keepalive.interval, keepalive.timeout) / 4
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for conn in self.connections:
                if conn.pong_overdue(now, keepalive.timeout):
                    self.stats["pong_timeouts"] += 1
                    conn.close(1008, "Pong timeout")
                elif conn.ping_due(now, keepalive.interval):
                    self._ping(conn, keepalive, now)

    async def _close_idle(self, timeout: float) -> None:
        """Closes connections on which no frame went either way for ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(timeout / 4)
            now = loop.time()
            for conn in self.connections:
                if now - conn.last_activity > timeout and not conn.closing:
                    self.stats["idle_disconnects"] += 1
                    code, reason = self.venue.idle_close
                    conn.close(code, reason)

    async def _end_lifetimes(self, lifetime: float) -> None:
        """Closes each connection ``lifetime`` seconds after its handshake."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(lifetime / 20, 0.05))
            now = loop.time()
            for conn in self.connections:
                if now - conn.opened_at >= lifetime and not conn.closing:
                    self.stats["lifetime_disconnects"] += 1
                    conn.close(1001, "connection lifetime")

    def _ping(self, conn: SimConnection, keepalive: Keepalive, now: float) -> None:
        payload = str(self.market.now_ms).encode()
        conn.note_ping(payload, now)
        if keepalive.text:
            conn.send_text(self.venue.render_session_ping(conn.state, payload))
            conn.flush()
        else:
            conn.send_control(OPCODE_PING, payload)

    def _on_pong(self, conn: SimConnection, payload: bytes | None) -> None:
        if self.keepalive is not None:
            conn.note_pong(payload, self.keepalive.pong_must_echo)

    # Publishing --------------------------------------------------------------------------

    def _publish(self, events: list[MarketEvent]) -> None:
        venue, market, index = self.venue, self.market, self._subscribers
        for event in events:
            faulted = self._book_faults if self._book_faults and type(event) is BookUpdate \
                else None
            touched: list[SimConnection] = []
            for topic in venue.topics(event):
                subscribers = index.get(topic)
                if not subscribers or (self.muted is not None and self.muted(topic)):
                    continue
                payload = venue.render(event, topic, market)
                for conn in subscribers:
                    if faulted and conn in faulted:
                        touched.append(conn)
                        if event.symbol in conn.pending_gaps:
                            continue
                        if event.symbol in conn.pending_corruptions:
                            conn.send_text(venue.envelope(conn.state, topic, venue.render(
                                event, topic, market, corrupt_checksum=True)))
                            continue
                    conn.send_text(venue.envelope(conn.state, topic, payload))
            if faulted:
                self._settle_book_faults(event.symbol, touched)
        self.stats["events"] += len(events)

    def push(self, topic: str, payloads: list[bytes]) -> int:
        """Sends venue-rendered frames (private streams) to the connections on ``topic`` now,
        each through ``venue.envelope`` (Coinbase numbers every message per connection);
        returns how many connections got them (0: nobody connected, the frames are gone)."""
        subscribers = [c for c in self._subscribers.get(topic, ()) if not c.closing]
        for conn in subscribers:
            for payload in payloads:
                conn.send_text(self.venue.envelope(conn.state, topic, payload))
            conn.flush()
        return len(subscribers)

    def _settle_book_faults(self, symbol: str, touched: list[SimConnection]) -> None:
        for conn in touched:
            if symbol in conn.pending_gaps:
                conn.pending_gaps.discard(symbol)
            else:
                conn.pending_corruptions.discard(symbol)
            if not conn.pending_gaps and not conn.pending_corruptions:
                self._book_faults.discard(conn)

    def _flush_all(self) -> None:
        for conn in self._live.values():
            conn.flush()

    async def _pace(self, rate: float) -> None:
        """Publish ``rate`` events per second, in small bursts every few milliseconds."""
        loop = asyncio.get_running_loop()
        period = min(0.01, max(0.001, 1.0 / rate))
        started = loop.time()
        published = 0
        while True:
            await asyncio.sleep(period)
            due = int((loop.time() - started) * rate)
            if due - published > rate:
                published = due - int(rate * period)  # a stalled loop skips, never bursts
            while published < due:
                events = self.market.step()
                self._publish(events)
                published += len(events)
            self._flush_all()

    async def _flood(self, steps_per_round: int = 256) -> None:
        """Publish as fast as possible, waiting whenever a client's socket is full."""
        while True:
            for _ in range(steps_per_round):
                self._publish(self.market.step())
            self._flush_all()
            for conn in self.connections:
                if conn.paused:
                    try:
                        await asyncio.wait_for(conn.wait_writable(), self.slow_consumer_timeout)
                    except TimeoutError:
                        self.stats["slow_consumer_drops"] += 1
                        conn.abort()
            await asyncio.sleep(0)


def _http_response(response: HttpResponse) -> WSUpgradeResponseWithListener:
    """A plain HTTP response served on the WebSocket port (picows then closes the connection)."""
    if response.status == 200:
        upgrade = WSUpgradeResponse.create_ok_response(response.body, response.headers)
    elif response.status >= 400:
        upgrade = WSUpgradeResponse.create_error_response(response.status, response.body,
                                                          response.headers)
    else:
        raise ValueError(f"unsupported HTTP status {response.status}")
    return WSUpgradeResponseWithListener(upgrade, None)

