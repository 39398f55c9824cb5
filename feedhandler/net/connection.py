"""One venue connection that stays up: dial, replay, heartbeat, reconnect.

A ``Connection`` owns one decoder for its whole life and the subscriptions it carries. Its
supervisor task (for a private stream: authenticates first, then logs in on the new socket, see
``PrivateVenue``) dials, replays every subscription (paced to the venue's request rate), starts
book synchronisation, flushes what the user sent meanwhile, then waits for the socket to end and
dials again after a jittered backoff. Whenever the stream can no longer be trusted (socket lost,
a message thrown away, a gap) its books are withdrawn first, so a stale book is never served.
A planned replacement (``rotate``: a venue's announced shutdown, or the venue's documented
connection lifetime ending) is made before the old socket is let go, with no gap: see
``feedhandler.net.rotation``.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from picows import WSCloseCode, WSError, WSMsgType, WSParsedURL, WSTransport, ws_connect

from feedhandler.auth.credentials import AuthError
from feedhandler.auth.redact import redact
from feedhandler.core.book import ASK, BID, OrderBook
from feedhandler.core.decoder import BookSyncState, Decoded
from feedhandler.core.listener import FeedListener
from feedhandler.exchanges.base import (
    Channel,
    Instrument,
    Link,
    PrivateVenue,
    Rings,
    Subscription,
    SubscriptionRefused,
    VenueAdapter,
)
from feedhandler.net.backoff import Backoff
from feedhandler.net.outbox import Outbox
from feedhandler.net.ratelimit import RateLimiter
from feedhandler.net.rotation import Replacement, RotationFailed, hand_over

if TYPE_CHECKING:
    from feedhandler.core.decoder import Decoder
    from feedhandler.record.tap import ConnectionTap, Recorder

log = logging.getLogger(__name__)

# plain ints for the per-read tests: an IntFlag ``&`` costs about 0.7 us, an int one 12 ns
CONTROL = int(Decoded.CONTROL)
RESYNC = int(Decoded.RESYNC)
HANDED_OVER = int(Decoded.TRADES | Decoded.TICKERS | Decoded.CANDLES | Decoded.BOOKS)

ROTATION_MARGIN = 300.0
"""Seconds before a documented connection lifetime ends at which the connection rotates
(a quarter of the lifetime when that is shorter)."""

class CapacityError(RuntimeError):
    """More subscriptions than the venue lets a connection (or a pool) carry."""


class StatusKind(enum.StrEnum):
    CONNECTED = "connected"                # subscriptions replayed and outbox flushed
    DISCONNECTED = "disconnected"          # the socket ended; ``reason`` says why
    CONNECT_FAILED = "connect_failed"      # a dial failed; another follows after the backoff
    BOOK_INVALID = "book_invalid"          # the book at ``slot`` is withdrawn: do not serve it
    BOOK_RESYNCED = "book_resynced"        # the book at ``slot`` is live again
    BOOK_SYNC_FAILED = "book_sync_failed"  # sync_book failed; it is retried after a delay
    AUTH_FAILED = "auth_failed"            # the venue refused the credentials: stopped for good
    SUBSCRIPTION_REFUSED = "subscription_refused"  # the venue refused it: dropped for good


@dataclass(frozen=True, slots=True)
class StatusEvent:
    kind: StatusKind
    reason: str = ""
    slot: int = -1                          # book events only
    subscription: Subscription | None = None


BatchCallback = Callable[["Connection", int], None]
StatusCallback = Callable[["Connection", StatusEvent], None]
BookFactory = Callable[[Subscription], OrderBook]


def default_book(subscription: Subscription) -> OrderBook:
    instrument = subscription.instrument
    return OrderBook(price_scale=instrument.price_scale, size_scale=instrument.size_scale,
                     tick=instrument.tick, depth_limit=subscription.depth or 0,
                     view_depth=subscription.levels or 0)


class Dial:
    """One dial: the socket it opened, its transport and listener, and the listener's callbacks.

    The connection ignores callbacks from a socket it has moved on from, so a late event from
    an abandoned dial cannot touch the current one.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.sock: socket.socket | None = None
        self.transport: WSTransport | None = None
        self.listener: FeedListener | None = None
        self.closed = asyncio.Event()
        self.closing_reason: tuple[str, str] | None = None   # (category, detail) when we close
        self.pending: list[Subscription] | None = None       # not yet subscribed; None: no replay
        self.sent: set[tuple[Any, ...]] = set()              # keys subscribed on this socket
        self.live = False                                    # replayed and flushed
        self.opened_at = 0.0                                 # monotonic time of the handshake
        self.login_answered = asyncio.Event()                # private: the venue answered login
        self.auth_error: AuthError | None = None

    @property
    def is_open(self) -> bool:
        t = self.transport
        return (t is not None and self.closing_reason is None and not t.is_disconnected
                and not t.is_close_frame_sent)

    async def open_socket(self, url: WSParsedURL) -> socket.socket:
        """picows' socket factory: we connect the socket ourselves to be able to abort a dial
        that is cancelled half-way (see ``abort``)."""
        loop = asyncio.get_running_loop()
        error: OSError = OSError(f"no address for {url.host}")
        addresses = await loop.getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM)
        # IPv4 first: venues all serve it, and a black-holed IPv6 route would otherwise spend
        # the whole handshake timeout of every dial
        addresses.sort(key=lambda info: info[0] != socket.AF_INET)
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            self.sock = sock
            try:
                await loop.sock_connect(sock, address)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
            except BaseException:
                sock.close()
                raise
        raise error

    def abort(self) -> None:
        """Ends a dial that failed or was cancelled before it returned, leaving nothing open."""
        if self.transport is not None:
            self.transport.disconnect(graceful=False)
        elif self.sock is not None and self.sock.fileno() >= 0:
            # the transport picows built around it is not reachable yet: a shutdown makes it see
            # EOF and close itself through its normal path
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # FeedListener handler interface
    def on_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if not self.connection.serves(self):
            transport.disconnect(graceful=False)

    def on_batch(self, flags: int) -> None:
        self.connection.handle_batch(self, flags)

    def on_fatal(self, reason: str) -> None:
        self.connection.handle_fatal(self, reason)

    def on_disconnected(self) -> None:
        self.login_answered.set()   # a login still waiting learns the socket is gone
        try:
            self.connection.handle_disconnected(self)
        finally:
            self.closed.set()


# The socket a control reply or a book sync belongs to: what they send only means something on
# that socket, so it skips the replay queue while the socket is open and is dropped once it is
# gone (queueing it for the next socket would send a stale pong or snapshot request).
BOUND_DIAL: contextvars.ContextVar[Dial | None] = contextvars.ContextVar(
    "feedhandler_bound_dial", default=None)


class Connection:
    """A self-healing connection carrying up to ``limits.streams_per_connection`` subscriptions.

    Implements the ``Link`` protocol for the venue adapter. Call ``start()`` inside a running
    loop, ``await stop()`` to end it.
    """

    def __init__(
        self,
        adapter: VenueAdapter,
        rings: Rings,
        subscriptions: Iterable[Subscription] = (),
        *,
        on_batch: BatchCallback | None = None,
        on_status: StatusCallback | None = None,
        backoff: Backoff | None = None,
        rate_limiter: RateLimiter | None = None,
        outbox_capacity: int = 1024,
        handshake_timeout: float = 10.0,
        verify_tls: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        book_factory: BookFactory = default_book,
        name: str = "",
        recorder: Recorder | None = None,
        rotation_timeout: float = 30.0,
    ) -> None:
        """``handshake_timeout`` bounds a whole dial (TCP, TLS, WebSocket upgrade);
        ``rotation_timeout`` a whole rotation (dial, subscribes, book syncs) before it gives
        up and reconnects instead.
        ``wss://`` is verified against the system's CAs unless ``ssl_context`` is given or
        ``verify_tls=False``. ``book_factory`` makes the book of each BOOK subscription.
        ``recorder`` (feedhandler.record) records every message and decoder call, for replay."""
        heartbeat = adapter.heartbeat
        if not 0 < heartbeat.pong_timeout <= heartbeat.ping_interval:
            raise ValueError(f"{adapter.name}: heartbeat needs 0 < pong_timeout <= ping_interval "
                             f"(picows waits for the pong within the idle interval)")
        self.adapter = adapter
        self.name = name or adapter.name
        self.decoder: Decoder = adapter.new_decoder(rings)
        self.tap: ConnectionTap | None = None
        if recorder is not None:
            self.tap = recorder.tap(self)
            self.decoder = cast("Decoder", self.tap.proxy)   # records the calls that change it
        self.capacity = adapter.limits.streams_per_connection
        self.on_batch = on_batch
        self.on_status = on_status
        self.backoff = backoff if backoff is not None else Backoff()
        # no burst by default: venues count requests over sliding windows, where a full bucket
        # refilled within the same second would exceed their rate
        self.rate_limiter = (rate_limiter if rate_limiter is not None
                             else RateLimiter(adapter.limits.requests_per_second, burst=1))
        self.outbox = Outbox(outbox_capacity)
        self.handshake_timeout = handshake_timeout
        self.verify_tls = verify_tls
        self.ssl_context = ssl_context
        self.book_factory = book_factory
        self.subscriptions: dict[tuple[Any, ...], Subscription] = {}
        self.book_subscriptions: dict[int, Subscription] = {}   # slot -> its BOOK subscription
        self.slot_instruments: list[Instrument] = []            # the decoder's slots, in order
        self.current: Dial | None = None
        self.rotation: Replacement | None = None                # a replacement being made
        self.lifetime_timer: asyncio.Task[None] | None = None    # the current socket's
        self.rotation_timeout = rotation_timeout
        self.supervisor: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.sync_tasks: dict[int, asyncio.Task[None]] = {}
        self.stopping = False
        self.ready = asyncio.Event()
        self.connected_at = 0.0
        # counters
        self.connects = 0
        self.reconnects = 0
        self.rotations = 0                # planned replacements made without a gap
        self.retired_stats: Counter[str] = Counter()        # decoders a rotation replaced
        self.retired_kinds: dict[str, tuple[int, int]] = {}
        self.retired_inexact: Counter[str] = Counter()
        self.rotation_failures = 0        # planned replacements that fell back to a reconnect
        self.last_rotation_failure = ""
        self.disconnects = 0
        self.disconnect_reasons: Counter[str] = Counter()
        self.last_disconnect_reason = ""
        self.connect_failures = 0
        self.connect_failure_reasons: Counter[str] = Counter()
        self.last_connect_failure = ""
        self.fatal_errors = 0
        self.last_fatal_reason = ""
        self.books_synced = 0
        self.sync_failures = 0
        self.refused_subscriptions = 0
        self.control_errors = 0
        self.callback_errors = 0
        self.stale_sends = 0
        self.closed_messages = 0          # listener counters of the sockets that have ended
        self.closed_bytes = 0
        self.private = isinstance(adapter, PrivateVenue)
        self.auth_error: AuthError | None = None   # set once: the connection has stopped
        self.failed = asyncio.Event()
        self.authentications = 0
        self.keepalive_task: asyncio.Task[None] | None = None
        self.register(subscriptions)

    # ---- public API ------------------------------------------------------------------------

    def start(self) -> None:
        if self.supervisor is not None:
            raise RuntimeError(f"{self.name}: already started")
        self.supervisor = asyncio.get_running_loop().create_task(
            self.supervise(), name=f"feedhandler:{self.name}:supervisor")

    async def stop(self) -> None:
        """Closes the socket (the venue gets a CLOSE frame) and awaits every task started."""
        self.stopping = True
        dial = self.current
        if dial is not None and dial.transport is not None and not dial.closed.is_set():
            if dial.closing_reason is None:
                dial.closing_reason = ("stopped", "stopped")
                dial.transport.send_close(WSCloseCode.OK)
                dial.transport.disconnect()
            try:
                async with asyncio.timeout(self.handshake_timeout):
                    await dial.closed.wait()
            except TimeoutError:
                dial.transport.disconnect(graceful=False)
        # a dial still in progress aborts itself when cancelled (see ``connect``)
        tasks = [t for t in (self.supervisor, *self.tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.ready.clear()
        if isinstance(self.adapter, PrivateVenue):
            try:
                await self.adapter.release()
            except Exception as exc:
                log.warning("%s: releasing the private session failed: %s", self.name,
                            type(exc).__name__)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Returns once subscriptions are replayed and the outbox flushed; raises the
        ``AuthError`` when the venue refused the credentials."""
        async with asyncio.timeout(timeout):
            while not self.ready.is_set():
                if self.auth_error is not None:
                    raise self.auth_error
                waits = [asyncio.ensure_future(self.ready.wait()),
                         asyncio.ensure_future(self.failed.wait())]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiting in waits:
                        waiting.cancel()
        if self.auth_error is not None:
            raise self.auth_error

    def authenticated(self) -> None:
        """The adapter saw the venue accept the login sent on this socket."""
        dial = BOUND_DIAL.get() or self.current
        if dial is not None:
            dial.login_answered.set()

    def reject_auth(self, error: AuthError) -> None:
        """The adapter saw the venue refuse the credentials (at login or later)."""
        dial = BOUND_DIAL.get() or self.current
        if dial is None:
            return
        dial.auth_error = error
        dial.login_answered.set()
        if dial.live:
            self.auth_failed(dial, error)

    @property
    def connected(self) -> bool:
        return self.current is not None and self.current.live and self.current.is_open

    @property
    def listener(self) -> FeedListener | None:
        return self.current.listener if self.current is not None else None

    def send(self, message: bytes | str) -> None:
        """Sends now when connected and replayed, else queues in order (``OutboxFull`` when the
        queue is full). A message written to a socket that then dies is lost, as on any
        WebSocket: callers that need delivery must watch for the venue's answer."""
        payload = message.encode() if isinstance(message, str) else message
        bound = BOUND_DIAL.get()
        if bound is not None and bound.connection is self:
            if not self.write(bound, payload):
                self.stale_sends += 1
                log.debug("%s: dropped a reply meant for a closed socket", self.name)
            return
        dial = self.current
        if dial is not None and dial.live and self.write(dial, payload):
            return
        self.outbox.put(payload)

    def reconnect(self, reason: str) -> None:
        """Renews the socket (the adapter asks when the venue's stream is no longer usable)."""
        dial = self.current
        if dial is not None and dial.is_open:
            self.close(dial, "requested", reason)

    def rotate(self, reason: str) -> None:
        """A planned replacement (the venue announced a shutdown, or its documented connection
        lifetime is ending), made before the old socket is let go: books stay live and every
        trade is delivered once (``feedhandler.net.rotation``). A second call while one runs is
        ignored (one announced on the replacement socket itself follows the switch). What cannot
        be made so (a private stream, a recorded connection, a socket not yet live, a
        replacement that fails) falls back to ``reconnect``."""
        dial = self.current
        if self.rotation is not None or self.stopping:
            return
        if dial is None or not dial.live or not dial.is_open or self.private \
                or self.tap is not None:
            self.reconnect(reason)
            return
        replacement = Replacement(self, Dial(self), reason)
        self.rotation = replacement
        log.info("%s: rotating (%s)", self.name, reason)
        self.track(asyncio.get_running_loop().create_task(
            self.run_rotation(dial, replacement), name=f"feedhandler:{self.name}:rotation"))

    def refuse(self, subscriptions: Sequence[Subscription], reason: str) -> None:
        """The venue refused the subscribe request that carried ``subscriptions``. One alone
        is dropped for good (the user is told, nothing retries it); several are sent again one
        per request, so that the venue's answers say which one it refuses, and the books among
        them are withdrawn until their sync after that subscribe."""
        dial = self.current
        held = [s for s in subscriptions if s.key in self.subscriptions]
        if dial is None or dial.pending is None or not held:
            return
        alone = len(held) == 1
        for sub in held:
            dial.sent.discard(sub.key)
            if sub.channel is Channel.BOOK:
                self.withdraw_book(sub, f"refused by the venue: {reason}" if alone
                                   else f"subscribe refused, sent again alone: {reason}")
        if not alone:
            dial.pending.extend(held)
            self.track(asyncio.get_running_loop().create_task(
                self.send_subscribes(dial, one_per_request=True)))
            return
        sub = held[0]
        del self.subscriptions[sub.key]
        dial.pending = [s for s in dial.pending if s.key != sub.key]
        if sub.channel is Channel.BOOK:
            self.drop_book(sub)
        self.refused_subscriptions += 1
        log.warning("%s: %s %s refused by the venue: %s", self.name, sub.instrument.symbol,
                    sub.channel, reason)
        self.notify(StatusKind.SUBSCRIPTION_REFUSED, reason, -1, sub)

    async def add(self, subscriptions: Iterable[Subscription]) -> None:
        """Carries more subscriptions; subscribes at once when connected, else on connect
        (after a rotation in progress, which carries the subscriptions it started with)."""
        await self.rotation_ended()
        new = self.register(subscriptions)
        dial = self.current
        if new and dial is not None and dial.pending is not None:
            dial.pending.extend(new)
            if dial.live:
                await self.send_subscribes(dial)

    async def remove(self, subscriptions: Iterable[Subscription]) -> None:
        """Stops carrying these; the venue gets unsubscribe requests for what it was sent."""
        await self.rotation_ended()
        removed = [self.subscriptions.pop(s.key) for s in subscriptions
                   if s.key in self.subscriptions]
        if self.tap is not None:
            self.tap.unsubscribed(removed)
        for sub in removed:
            if sub.channel is Channel.BOOK:
                self.drop_book(sub)
        dial = self.current
        if dial is None or not removed:
            return
        keys = {s.key for s in removed}
        if dial.pending is not None:
            dial.pending = [s for s in dial.pending if s.key not in keys]
        sent = [s for s in removed if s.key in dial.sent]
        dial.sent -= keys
        for chunk in self.chunks(sent):
            for payload in self.adapter.unsubscribe_requests(chunk):
                await self.rate_limiter.acquire()
                if not self.write(dial, payload):
                    return

    async def replace(self, subscriptions: Iterable[Subscription], reason: str) -> None:
        """Carries these subscriptions (keys it carries) with their instrument's new record,
        the venue having changed its tick or lot size: the decoder parses the instrument at
        the new scales from the next message on, and each book is withdrawn (the user is told
        ``reason``) and synced again in a new book at the new scales."""
        await self.rotation_ended()
        dial = self.current
        for sub in subscriptions:
            if sub.key not in self.subscriptions:
                continue
            instrument = sub.instrument
            slot = self.slot_of(sub)
            self.decoder.set_scales(slot, instrument.price_scale, instrument.size_scale)
            self.slot_instruments[slot] = instrument
            self.subscriptions[sub.key] = sub
            if sub.channel is not Channel.BOOK:
                continue
            self.book_subscriptions[slot] = sub
            self.decoder.set_book(slot, self.book_factory(sub))
            self.withdraw_book(sub, reason)
            if dial is not None and dial.is_open and sub.key in dial.sent:
                self.start_sync(dial, slot)

    def slot_of(self, subscription: Subscription) -> int:
        return int(self.decoder.slot_of(subscription.instrument.venue_symbol))

    def book(self, subscription: Subscription) -> OrderBook | None:
        """The book of a BOOK subscription; check ``book.valid`` before serving it."""
        slot = self.slot_of(subscription)
        return self.decoder.book(slot) if slot in self.book_subscriptions else None

    def stats(self) -> dict[str, Any]:
        listener = self.listener
        return {
            "connected": self.connected,
            "subscriptions": len(self.subscriptions),
            "connects": self.connects,
            "reconnects": self.reconnects,
            "rotations": self.rotations,
            "rotation_failures": self.rotation_failures,
            "last_rotation_failure": self.last_rotation_failure,
            "disconnects": self.disconnects,
            "disconnect_reasons": dict(self.disconnect_reasons),
            "last_disconnect_reason": self.last_disconnect_reason,
            "connect_failures": self.connect_failures,
            "connect_failure_reasons": dict(self.connect_failure_reasons),
            "last_connect_failure": self.last_connect_failure,
            "fatal_errors": self.fatal_errors,
            "last_fatal_reason": self.last_fatal_reason,
            "messages": self.closed_messages + (listener.messages if listener else 0),
            "bytes": self.closed_bytes + (listener.bytes_received if listener else 0),
            "outbox_size": len(self.outbox),
            "outbox_high_water": self.outbox.high_water,
            "books_synced": self.books_synced,
            "sync_failures": self.sync_failures,
            "refused_subscriptions": self.refused_subscriptions,
            "control_errors": self.control_errors,
            "callback_errors": self.callback_errors,
            "stale_sends": self.stale_sends,
            "authentications": self.authentications,
            "backoff_attempt": self.backoff.attempt,
            "decoder": self.decoder_stats(),
        }

    def decoder_stats(self) -> dict[str, Any]:
        """The decoder's counters over the connection's life: a rotation's switch hands the
        stream to a new decoder, and the counters of those it replaced are kept here."""
        return {name: value + self.retired_stats[name] if isinstance(value, int) else value
                for name, value in self.decoder.stats().items()}

    def message_kinds(self) -> dict[str, tuple[int, int]]:
        """``Decoder.message_kinds`` over the connection's life (see ``decoder_stats``)."""
        kinds = self.decoder.message_kinds()
        for name, (messages, size) in self.retired_kinds.items():
            current = kinds.get(name, (0, 0))
            kinds[name] = (current[0] + messages, current[1] + size)
        return kinds

    def inexact_kinds(self) -> dict[str, int]:
        """``Decoder.inexact_kinds`` over the connection's life (see ``decoder_stats``)."""
        return {name: count + self.retired_inexact[name]
                for name, count in self.decoder.inexact_kinds().items()}

    def retire_decoder(self, decoder: Decoder) -> None:
        self.retired_inexact.update(decoder.inexact_kinds())
        self.retired_stats.update({name: value for name, value in decoder.stats().items()
                                   if isinstance(value, int)})
        for name, (messages, size) in decoder.message_kinds().items():
            before = self.retired_kinds.get(name, (0, 0))
            self.retired_kinds[name] = (before[0] + messages, before[1] + size)

    # ---- subscriptions and books -----------------------------------------------------------

    def register(self, subscriptions: Iterable[Subscription]) -> list[Subscription]:
        """Registers instruments and books in the decoder; returns the subscriptions new here.

        Validates everything before changing anything, so a refused call leaves no trace.
        """
        new: dict[tuple[Any, ...], Subscription] = {}
        for sub in subscriptions:
            if sub.key not in self.subscriptions:
                new.setdefault(sub.key, sub)
        if len(self.subscriptions) + len(new) > self.capacity:
            raise CapacityError(
                f"{self.name}: {len(self.subscriptions)} + {len(new)} subscriptions exceed the "
                f"venue's {self.capacity} streams per connection")
        books = {s.instrument.venue_symbol for s in self.book_subscriptions.values()}
        for sub in new.values():
            if sub.channel is Channel.BOOK:
                if sub.instrument.venue_symbol in books:
                    raise ValueError(f"{self.name}: {sub.instrument.venue_symbol} already has a "
                                     "book on this connection (one book per instrument)")
                books.add(sub.instrument.venue_symbol)
        if self.tap is not None:
            self.tap.subscribed(new.values())
        for sub in new.values():
            instrument = sub.instrument
            slot = self.decoder.slot_of(instrument.venue_symbol)
            if slot < 0:
                slot = self.decoder.add_instrument(instrument.venue_symbol, instrument.id,
                                                   instrument.price_scale, instrument.size_scale)
                self.slot_instruments.append(instrument)
            if sub.channel is Channel.BOOK:
                self.decoder.set_book(slot, self.book_factory(sub))
                self.book_subscriptions[slot] = sub
            self.subscriptions[sub.key] = sub
        return list(new.values())

    def hold_book(self, slot: int) -> None:
        """Holds one book (never served) and forgets what was held for it: only a sync can
        bring it back."""
        self.cancel_sync(slot)
        self.decoder.mark_waiting(slot)
        self.decoder.take_pending(slot)

    def withdraw_book(self, subscription: Subscription, reason: str) -> None:
        """Holds one book until a sync brings it back; the user is told."""
        slot = self.slot_of(subscription)
        self.hold_book(slot)
        self.notify(StatusKind.BOOK_INVALID, reason, slot, subscription)

    def drop_book(self, subscription: Subscription) -> None:
        slot = self.slot_of(subscription)
        self.hold_book(slot)
        self.decoder.set_book(slot, None)
        del self.book_subscriptions[slot]
        self.notify(StatusKind.BOOK_INVALID, "unsubscribed", slot, subscription)

    def chunks(self, subscriptions: list[Subscription]) -> Iterable[list[Subscription]]:
        step = self.adapter.limits.args_per_request
        return (subscriptions[i:i + step] for i in range(0, len(subscriptions), step))

    def withdraw_books(self) -> None:
        """The stream is no longer trustworthy: hold every book (never served) and forget what
        was held or flagged for it, since only a fresh snapshot can bring it back."""
        for slot in list(self.sync_tasks):
            self.cancel_sync(slot)
        for slot in self.book_subscriptions:
            self.decoder.mark_waiting(slot)
            self.decoder.take_pending(slot)
        self.decoder.take_resync()

    def start_sync(self, dial: Dial, slot: int) -> None:
        self.cancel_sync(slot)
        self.decoder.mark_waiting(slot)
        task = asyncio.get_running_loop().create_task(
            self.sync_book(dial, slot), name=f"feedhandler:{self.name}:sync:{slot}")
        self.sync_tasks[slot] = task
        self.track(task)

    def cancel_sync(self, slot: int) -> None:
        task = self.sync_tasks.pop(slot, None)
        if task is not None:
            task.cancel()

    async def sync_book(self, dial: Dial, slot: int) -> None:
        """Runs the adapter's book sync until the book is live, retrying with backoff."""
        BOUND_DIAL.set(dial)   # this task runs in its own copy of the context
        subscription = self.book_subscriptions[slot]
        retry = Backoff(self.backoff.base, self.backoff.cap)
        try:
            while True:
                try:
                    await self.adapter.sync_book(self, subscription, slot)
                except SubscriptionRefused as exc:
                    self.refuse([subscription], exc.reason)
                    return
                except Exception as exc:
                    reason = redact(f"{type(exc).__name__}: {exc}")
                else:
                    if self.decoder.sync_state(slot) == BookSyncState.LIVE:
                        self.books_synced += 1
                        self.notify(StatusKind.BOOK_RESYNCED, "", slot, subscription)
                        return
                    reason = "sync_book returned without marking the book live"
                self.sync_failures += 1
                self.decoder.mark_waiting(slot)
                log.warning("%s: book sync of %s failed: %s", self.name,
                            subscription.instrument.symbol, reason)
                self.notify(StatusKind.BOOK_SYNC_FAILED, reason, slot, subscription)
                await asyncio.sleep(retry.next_delay())
        finally:
            if self.sync_tasks.get(slot) is asyncio.current_task():
                del self.sync_tasks[slot]

    # ---- supervisor ------------------------------------------------------------------------

    async def supervise(self) -> None:
        delay = 0.0
        while not self.stopping:
            if delay:
                await asyncio.sleep(delay)
            dial = Dial(self)
            self.current = dial
            try:
                if isinstance(self.adapter, PrivateVenue):
                    await self.adapter.authenticate(self)
                await self.connect(dial)
                await self.login(dial)
            except AuthError as exc:
                self.auth_failed(dial, exc)
                return
            except Exception as exc:
                self.connect_failed(exc)
                if dial.transport is not None and not dial.closed.is_set():
                    self.close(dial, "login_failed", f"{type(exc).__name__}: {exc}")
                    await dial.closed.wait()
                delay = self.backoff.next_delay()
                continue
            self.backoff.connected()
            self.connected_at = time.monotonic()
            self.connects += 1
            if self.connects > 1:
                self.reconnects += 1
            try:
                await self.replay(dial)
            except Exception as exc:
                log.exception("%s: replay failed", self.name)
                self.close(dial, "replay_failed", f"{type(exc).__name__}: {exc}")
            while True:
                await dial.closed.wait()
                await self.collect_disconnect_error(dial)
                if self.current is dial or self.current is None:
                    break
                dial = self.current     # a rotation moved delivery to its replacement
            if self.auth_error is not None:
                return
            delay = self.backoff.next_delay()

    async def collect_disconnect_error(self, dial: Dial) -> None:
        """picows keeps the error that ended a socket (e.g. an oversize frame) in a future;
        the reason is already counted from the close handshake, so it is only logged here,
        instead of asyncio reporting an exception that was never retrieved."""
        if dial.transport is None:
            return
        try:
            async with asyncio.timeout(self.handshake_timeout):
                await dial.transport.wait_disconnected()
        except Exception as exc:
            log.debug("%s: socket ended with %s", self.name, redact(f"{type(exc).__name__}: {exc}"))

    async def connect(self, dial: Dial, decoder: Decoder | None = None) -> None:
        """Dials ``dial``'s socket, its listener feeding ``decoder`` (the connection's own
        unless a rotation's replacement brings its own)."""
        url = self.adapter.ws_url(list(self.subscriptions.values()))
        heartbeat = self.adapter.heartbeat
        if decoder is None:
            decoder = self.decoder if self.tap is None else self.tap.decoder

        def listener_factory() -> FeedListener:
            dial.listener = FeedListener(
                decoder, dial,
                max_message_size=self.adapter.max_message_size,
                compression=self.adapter.compression, ping_payload=heartbeat.text_ping,
                pong_marker=heartbeat.pong_marker)
            dial.listener.recorder = self.tap
            return dial.listener

        try:
            async with asyncio.timeout(self.handshake_timeout):
                await ws_connect(
                    listener_factory, url, ssl_context=self.tls_context(url),
                    websocket_handshake_timeout=self.handshake_timeout,
                    enable_auto_ping=True, auto_ping_idle_timeout=heartbeat.ping_interval,
                    auto_ping_reply_timeout=heartbeat.pong_timeout,
                    max_frame_size=self.adapter.max_message_size,
                    socket_factory=dial.open_socket)
        except BaseException:
            dial.abort()
            raise
        if dial.transport is None:
            # picows returns normally when the peer hung up mid-handshake
            raise ConnectionResetError("connection closed during the WebSocket handshake")
        dial.opened_at = time.monotonic()

    async def login(self, dial: Dial) -> None:
        """A private stream's login on the new socket: sends the adapter's login requests and
        waits for the venue's answer before anything is subscribed; then starts the
        adapter's keepalive once for the connection's life."""
        adapter = self.adapter
        if not isinstance(adapter, PrivateVenue):
            return
        requests = adapter.login_requests()
        for payload in requests:
            await self.rate_limiter.acquire()
            if not self.write(dial, payload):
                raise ConnectionResetError("socket closed during login")
        if requests:
            async with asyncio.timeout(adapter.login_timeout):
                await dial.login_answered.wait()
            if dial.auth_error is not None:
                raise dial.auth_error
            if not dial.is_open:
                raise ConnectionResetError("socket closed during login")
        self.authentications += 1
        if self.keepalive_task is None:
            self.keepalive_task = asyncio.get_running_loop().create_task(
                adapter.keepalive(self), name=f"feedhandler:{self.name}:keepalive")
            self.track(self.keepalive_task)

    def auth_failed(self, dial: Dial, error: AuthError) -> None:
        """The venue refused the credentials: no more dials, the user gets ``error`` (from
        ``wait_connected`` and an AUTH_FAILED status event)."""
        if self.auth_error is not None:
            return
        self.auth_error = error
        self.stopping = True
        self.ready.clear()
        self.failed.set()
        log.error("%s: %s; not reconnecting", self.name, error)
        self.notify(StatusKind.AUTH_FAILED, str(error))
        if dial.transport is not None and not dial.closed.is_set():
            self.close(dial, "auth_failed", str(error))

    def tls_context(self, url: str) -> ssl.SSLContext | None:
        if urlsplit(url).scheme.lower() != "wss":
            return None
        if self.ssl_context is None:
            context = ssl.create_default_context()
            if not self.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self.ssl_context = context
        return self.ssl_context

    async def replay(self, dial: Dial) -> None:
        """Subscribes everything again, then flushes the outbox. Books are already held: a new
        book starts waiting (``set_book``) and a lost socket withdrew the others."""
        dial.pending = list(self.subscriptions.values())
        await self.send_subscribes(dial)
        if not dial.is_open:
            return
        adapter = self.adapter
        if isinstance(adapter, PrivateVenue) and adapter.subscribe_authenticates \
                and self.subscriptions:
            # the venue answers the credentials in its reply to the subscribe
            async with asyncio.timeout(adapter.login_timeout):
                await dial.login_answered.wait()
            if dial.auth_error is not None:
                self.auth_failed(dial, dial.auth_error)
                return
        self.outbox.flush(lambda payload: self.write(dial, payload))
        if not dial.is_open:
            return
        if dial.auth_error is not None:     # refused a signed subscribe (Gate.io) already
            self.auth_failed(dial, dial.auth_error)
            return
        dial.live = True
        self.ready.set()
        log.info("%s: connected, %d subscriptions", self.name, len(self.subscriptions))
        self.notify(StatusKind.CONNECTED)
        self.schedule_rotation(dial)

    async def send_subscribes(self, dial: Dial, one_per_request: bool = False) -> None:
        """Drains ``dial.pending`` in chunks of ``args_per_request`` (or one by one) at the
        venue's rate; a book's sync starts once its subscribe is out, so its updates are
        already held."""
        step = 1 if one_per_request else self.adapter.limits.args_per_request
        while dial.pending and dial.is_open:
            chunk = dial.pending[:step]
            del dial.pending[:step]
            dial.sent.update(s.key for s in chunk)   # before sending: remove() must see them
            for payload in self.adapter.subscribe_requests(chunk):
                await self.rate_limiter.acquire()
                if not self.write(dial, payload):
                    return
            for sub in chunk:
                if sub.channel is Channel.BOOK and sub.key in self.subscriptions:
                    self.start_sync(dial, self.slot_of(sub))

    def serves(self, dial: Dial) -> bool:
        """Whether ``dial`` is the socket delivering, or the replacement being made for it."""
        return dial is self.current or (self.rotation is not None and dial is self.rotation.dial)

    def write(self, dial: Dial, payload: bytes) -> bool:
        if not self.serves(dial) or not dial.is_open:
            return False
        assert dial.transport is not None
        dial.transport.send(WSMsgType.TEXT, payload)
        return True

    def close(self, dial: Dial, category: str, reason: str) -> None:
        """Ends a socket whose stream we no longer trust; the supervisor dials again."""
        if dial.closing_reason is not None or dial.transport is None:
            return
        dial.closing_reason = (category, redact(reason))
        self.withdraw_books()
        dial.transport.send_close(WSCloseCode.GOING_AWAY)
        dial.transport.disconnect(graceful=False)

    def connect_failed(self, exc: BaseException) -> None:
        if isinstance(exc, TimeoutError):
            category = "timeout"
        elif isinstance(exc, ssl.SSLError):
            category = "tls"
        elif isinstance(exc, WSError):
            category = "handshake"
        elif isinstance(exc, OSError):
            category = "network"
        else:
            category = "error"
        detail = redact(f"{type(exc).__name__}: {exc}") if str(exc) else type(exc).__name__
        self.connect_failures += 1
        self.connect_failure_reasons[category] += 1
        self.last_connect_failure = detail
        log.warning("%s: connect failed (%s): %s", self.name, category, detail)
        self.notify(StatusKind.CONNECT_FAILED, detail)

    # ---- rotation (make before break) ---------------------------------------------------------

    def schedule_rotation(self, dial: Dial) -> None:
        """Rotates ``dial`` a margin before the venue's documented lifetime ends (one timer
        per connection: the previous socket's is cancelled)."""
        lifetime = self.adapter.connection_lifetime
        if self.lifetime_timer is not None:
            self.lifetime_timer.cancel()
            self.lifetime_timer = None
        if lifetime is None:
            return
        due = dial.opened_at + lifetime - min(ROTATION_MARGIN, lifetime / 4)
        self.lifetime_timer = asyncio.get_running_loop().create_task(
            self.rotate_when_due(dial, due - time.monotonic()),
            name=f"feedhandler:{self.name}:lifetime")
        self.track(self.lifetime_timer)

    async def rotate_when_due(self, dial: Dial, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))
        if self.current is dial and dial.is_open:
            self.rotate("connection lifetime ending")

    async def rotation_ended(self) -> None:
        rotation = self.rotation
        if rotation is not None:
            await rotation.ended.wait()

    async def run_rotation(self, old: Dial, replacement: Replacement) -> None:
        """Makes the replacement, then switches to it; any failure ends the replacement and
        falls back to a reconnect of ``old`` (withdraw and resync), within
        ``rotation_timeout``."""
        try:
            async with asyncio.timeout(self.rotation_timeout):
                await self.connect(replacement.dial, replacement.decoder)
                await self.bring_up(replacement)
            self.switch(old, replacement)
        except asyncio.CancelledError:
            self.end_rotation(replacement, "cancelled")
            raise
        except Exception as exc:
            failure = replacement.failure or redact(
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            self.end_rotation(replacement, failure)
            self.rotation_failures += 1
            self.last_rotation_failure = failure
            log.warning("%s: rotation failed (%s); reconnecting instead", self.name, failure)
            if self.current is old:
                self.reconnect(f"{replacement.reason}; rotation failed: {failure}")

    async def bring_up(self, replacement: Replacement) -> None:
        """Subscribes everything on the replacement and syncs each book there, as a reconnect's
        replay would, while the old socket keeps delivering."""
        dial = replacement.dial
        syncs: list[asyncio.Future[Any]] = []
        failed: asyncio.Future[Any] = asyncio.ensure_future(replacement.failed.wait())
        try:
            for chunk in self.chunks(list(self.subscriptions.values())):
                dial.sent.update(s.key for s in chunk)
                for payload in self.adapter.subscribe_requests(chunk):
                    await self.rate_limiter.acquire()
                    if replacement.failure is not None or not self.write(dial, payload):
                        raise RotationFailed(replacement.failure or "the replacement closed")
                syncs.extend(asyncio.ensure_future(self.sync_replacement_book(replacement, sub))
                             for sub in chunk if sub.channel is Channel.BOOK)
            pending: set[asyncio.Future[Any]] = set(syncs)
            while pending and not failed.done():
                done, pending = await asyncio.wait({*pending, failed},
                                                   return_when=asyncio.FIRST_COMPLETED)
                pending.discard(failed)
                for task in done - {failed}:
                    task.result()       # a sync that raised ends the rotation
        finally:
            for task in (*syncs, failed):
                task.cancel()
            await asyncio.gather(*syncs, failed, return_exceptions=True)
        if replacement.failure is not None:
            raise RotationFailed(replacement.failure)
        for slot in self.book_subscriptions:
            if replacement.decoder.sync_state(slot) != BookSyncState.LIVE:
                raise RotationFailed("a book did not go live on the replacement")

    async def sync_replacement_book(self, replacement: Replacement,
                                    subscription: Subscription) -> None:
        BOUND_DIAL.set(replacement.dial)   # this task runs in its own copy of the context
        await self.adapter.sync_book(replacement, subscription, self.slot_of(subscription))

    def switch(self, old: Dial, replacement: Replacement) -> None:
        """Moves delivery to the replacement in one step of the loop: held rows handed over
        (``Replacement.hand_over``), the replacement's books copied into the books the user
        holds, its decoder made the connection's, the old socket closed."""
        if self.current is not old or not old.live or not old.is_open:
            raise RotationFailed("the socket it replaces ended first")
        decoder = replacement.decoder
        if replacement.carried != frozenset(self.subscriptions) \
                or decoder.slot_count != len(self.slot_instruments):
            raise RotationFailed("the subscriptions changed meanwhile")
        if not replacement.dial.is_open:
            raise RotationFailed("the replacement closed")
        shared = self.decoder
        handed = hand_over(replacement.rings, Rings(shared.trades, shared.tickers, shared.candles),
                           [i.id for i in self.slot_instruments])
        withdrawn = []
        for slot, subscription in self.book_subscriptions.items():
            book, synced = shared.book(slot), decoder.book(slot)
            assert book is not None and synced is not None
            if not book.valid:
                withdrawn.append((slot, subscription))
            book.replace(*synced.levels(BID), *synced.levels(ASK))
            book.sequence = synced.sequence
            book.ts_exchange, book.ts_receive = synced.ts_exchange, synced.ts_receive
            shared.set_book(slot, None)      # the old socket's decoder lets go of it
            decoder.set_book(slot, book)
            decoder.mark_live(slot)
        for slot in list(self.sync_tasks):
            self.cancel_sync(slot)
        # whatever the old socket still decodes goes into the replacement's discarded rings
        decoder.trades, shared.trades = shared.trades, decoder.trades
        decoder.tickers, shared.tickers = shared.tickers, decoder.tickers
        decoder.candles, shared.candles = shared.candles, decoder.candles
        self.retire_decoder(shared)
        self.decoder = decoder
        new = replacement.dial
        new.pending = []
        new.live = True
        self.current = new
        self.end_rotation(replacement, "")
        self.rotations += 1
        self.connected_at = new.opened_at
        if old.listener is not None:
            self.closed_messages += old.listener.messages
            self.closed_bytes += old.listener.bytes_received
            old.listener = None
        old.live = False
        if old.transport is not None:
            old.closing_reason = ("rotated", redact(replacement.reason))
            old.transport.send_close(WSCloseCode.OK)
            old.transport.disconnect()
        log.info("%s: rotated to a new socket (%s); %d trades it held handed over", self.name,
                 replacement.reason, handed)
        for slot, subscription in withdrawn:
            self.books_synced += 1
            self.notify(StatusKind.BOOK_RESYNCED, "", slot, subscription)
        if self.on_batch is not None:
            try:
                self.on_batch(self, HANDED_OVER)
            except Exception:
                self.callback_errors += 1
                log.exception("%s: on_batch callback failed", self.name)
        self.schedule_rotation(new)
        if replacement.announced is not None:
            self.rotate(replacement.announced)

    def end_rotation(self, replacement: Replacement, failure: str) -> None:
        """The rotation is over: switched (``failure`` empty), or given up, which closes the
        replacement socket and leaves the books to the old one."""
        if self.rotation is replacement:
            self.rotation = None
        replacement.ended.set()
        dial = replacement.dial
        if failure and dial is not self.current:
            if dial.transport is not None and dial.closing_reason is None:
                dial.closing_reason = ("rotation_failed", failure)
                dial.transport.send_close(WSCloseCode.GOING_AWAY)
                dial.transport.disconnect(graceful=False)
            elif dial.transport is None:
                dial.abort()

    # ---- listener events ---------------------------------------------------------------------

    def handle_batch(self, dial: Dial, flags: int) -> None:
        if dial is not self.current:
            rotation = self.rotation
            if rotation is not None and dial is rotation.dial:
                # the replacement's reads reach the adapter only: nothing goes to the user
                if flags & CONTROL:
                    self.handle_control(dial, rotation, rotation.decoder.take_control())
                if flags & RESYNC and (lost := rotation.decoder.take_resync()):
                    rotation.fail(f"a book lost sync on the replacement: {lost[0][1]}")
            return
        decoder = self.decoder
        if flags & CONTROL:
            self.handle_control(dial, self, decoder.take_control())
        if flags & RESYNC:
            for slot, reason in decoder.take_resync():
                subscription = self.book_subscriptions.get(slot)
                if subscription is None:
                    continue
                self.notify(StatusKind.BOOK_INVALID, reason, slot, subscription)
                if dial.is_open:
                    self.start_sync(dial, slot)
        if self.on_batch is not None:
            try:
                self.on_batch(self, flags)
            except Exception:
                self.callback_errors += 1
                log.exception("%s: on_batch callback failed", self.name)

    def handle_control(self, dial: Dial, link: Link, messages: list[bytes]) -> None:
        """Passes the control messages read on ``dial`` to the adapter, with ``link`` (the
        connection, or a rotation's replacement) to answer through."""
        token = BOUND_DIAL.set(dial)
        try:
            for raw in messages:
                try:
                    self.adapter.handle_control(link, raw)
                except Exception as exc:
                    # no traceback: its message may quote the venue's text unredacted
                    self.control_errors += 1
                    log.error("%s: handle_control failed on %s: %s", self.name,
                              redact(repr(raw[:200])), redact(f"{type(exc).__name__}: {exc}"))
        finally:
            BOUND_DIAL.reset(token)

    def handle_fatal(self, dial: Dial, reason: str) -> None:
        rotation = self.rotation
        if rotation is not None and dial is rotation.dial:
            rotation.fail(reason)
            return
        if dial is not self.current:
            return
        self.fatal_errors += 1
        self.last_fatal_reason = reason
        log.warning("%s: %s; renewing the connection", self.name, reason)
        self.close(dial, "fatal", reason)

    def handle_disconnected(self, dial: Dial) -> None:
        rotation = self.rotation
        if rotation is not None:
            if dial is rotation.dial:
                rotation.fail("the replacement socket ended")
            elif dial is self.current:
                rotation.fail("the socket it replaces ended first")
        if dial is not self.current:
            return
        if dial.listener is not None:
            self.closed_messages += dial.listener.messages
            self.closed_bytes += dial.listener.bytes_received
            dial.listener = None   # counted once: stats() must not add the dead socket again
        category, reason = dial.closing_reason or self.close_reason(dial)
        dial.live = False
        self.ready.clear()
        self.disconnects += 1
        self.disconnect_reasons[category] += 1
        self.last_disconnect_reason = reason
        self.withdraw_books()
        log.info("%s: disconnected after %.1f s (%s)", self.name,
                 time.monotonic() - self.connected_at, reason)
        self.notify(StatusKind.DISCONNECTED, reason)
        for slot, subscription in self.book_subscriptions.items():
            self.notify(StatusKind.BOOK_INVALID, f"disconnected: {reason}", slot, subscription)

    @staticmethod
    def close_reason(dial: Dial) -> tuple[str, str]:
        """Why a socket we did not close ended, from its close handshake."""
        handshake = dial.transport.close_handshake if dial.transport is not None else None
        if handshake is None:
            return "dropped", "connection lost"
        received, sent = handshake.recv, handshake.sent
        if received is not None and (sent is None or handshake.recv_then_sent):
            code = getattr(received.code, "value", received.code)
            return "closed_by_venue", redact(
                f"venue closed with code {code} {received.reason or ''!r}")
        assert sent is not None
        if sent.code == WSCloseCode.GOING_AWAY:   # picows' ping watchdog is its only such close
            return "heartbeat", f"heartbeat: {sent.reason}"
        return "protocol_error", f"protocol error: {sent.reason}"

    # ---- helpers ---------------------------------------------------------------------------

    def notify(self, kind: StatusKind, reason: str = "", slot: int = -1,
               subscription: Subscription | None = None) -> None:
        if self.tap is not None:
            self.tap.status(kind, reason, slot)
        if self.on_status is None:
            return
        try:
            self.on_status(self, StatusEvent(kind, reason, slot, subscription))
        except Exception:
            self.callback_errors += 1
            log.exception("%s: on_status callback failed", self.name)

    def track(self, task: asyncio.Task[None]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
