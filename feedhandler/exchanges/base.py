"""What every venue adapter provides: the data and procedures the connection manager runs.

A venue is data (URLs, limits, heartbeat, symbol forms) plus a compiled decoder plus a few
procedures (request payloads, control-message handling, book synchronisation). The
connection manager in ``feedhandler.net`` knows nothing venue-specific beyond this interface.
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from feedhandler.auth.credentials import AuthError, Credentials
    from feedhandler.core.decoder import Decoder
    from feedhandler.core.rings import (
        BalanceRing,
        CandleRing,
        OrderRing,
        PositionRing,
        TickerRing,
        TradeRing,
    )
    from feedhandler.net.clock import ServerClock
    from feedhandler.net.ratelimit import RateLimiter

SNAPSHOT_POLL = 0.01           # seconds between looks at the decoder while a snapshot is due


class Channel(enum.StrEnum):
    TICKER = "ticker"
    BOOK = "book"
    TRADES = "trades"
    OHLCV = "ohlcv"
    ORDERS = "orders"          # private: the account's order updates
    BALANCE = "balance"        # private: the account's balances
    POSITIONS = "positions"    # private, futures only: the account's positions


PRIVATE_CHANNELS = (Channel.ORDERS, Channel.BALANCE, Channel.POSITIONS)


class Kind(enum.StrEnum):
    SPOT = "spot"
    PERPETUAL = "perpetual"


class Status(enum.StrEnum):
    TRADING = "trading"
    HALTED = "halted"          # listed, not trading now (suspended, pre-open, post-only...)
    DELISTED = "delisted"      # listed no more (or about to be): never subscribed


DECIMAL_FIELDS = ("tick_size", "lot_size", "min_size", "min_notional", "contract_size")


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable symbol on one venue, as the venue's own metadata lists it, with the exact
    scales its numbers are kept at: the one record the catalog, the decoders (``price_scale``,
    ``size_scale``, ``tick``), the checksums and the events all read.

    ``id`` is the FeedHandler-wide id written into every ring row (-1 for a catalog record no
    FeedHandler has taken yet). ``price_scale`` / ``size_scale`` are the decimals of
    ``tick_size`` / ``lot_size`` (or the venue's stated precision, which is also what Kraken's
    checksum formats with); ``tick`` is ``tick_size`` in ``10**-price_scale`` units.
    """

    id: int
    venue: str
    symbol: str             # unified: "BTC-USDT" (spot), "BTC-USDT-PERP" (perpetual)
    venue_symbol: str       # the venue's form, e.g. "BTCUSDT"
    market: str = "spot"    # the adapter's market: "spot", "usdm", "linear"
    price_scale: int = 8    # decimals kept for prices
    size_scale: int = 8     # decimals kept for sizes
    tick: int = 1           # price grid step in fixed-point units (1 when unknown)
    base: str = ""
    quote: str = ""
    kind: Kind = Kind.SPOT
    status: Status = Status.TRADING
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None
    min_size: Decimal | None = None
    min_notional: Decimal | None = None
    contract_size: Decimal | None = None    # perpetuals: base units per contract
    aliases: tuple[str, ...] = ()           # the venue's other spellings (Kraken XBT/USD)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, without the FeedHandler's ``id``."""
        out = {name: getattr(self, name) for name in self.__slots__ if name != "id"}
        for name in DECIMAL_FIELDS:
            value = out[name]
            out[name] = None if value is None else format(value, "f")
        out["kind"], out["status"] = str(self.kind), str(self.status)
        out["aliases"] = list(self.aliases)
        return out

    @classmethod
    def from_dict(cls, described: dict[str, Any], id: int = -1) -> Instrument:
        """The inverse of ``to_dict``; fields it lacks keep their defaults."""
        fields = dict(described)
        for name in DECIMAL_FIELDS:
            if fields.get(name) is not None:
                fields[name] = Decimal(fields[name])
        if "kind" in fields:
            fields["kind"] = Kind(fields["kind"])
        if "status" in fields:
            fields["status"] = Status(fields["status"])
        fields["aliases"] = tuple(fields.get("aliases", ()))
        return cls(id, **fields)


@dataclass(frozen=True, slots=True)
class Subscription:
    channel: Channel
    instrument: Instrument
    timeframe: str | None = None   # OHLCV only, unified form ("1m", "1h", ...)
    depth: int | None = None       # BOOK only: the native stream depth; None = the default
    levels: int | None = None      # BOOK only: levels per side the user sees (None: all held)

    @property
    def key(self) -> tuple[str, str, str, str | None, int | None]:
        i = self.instrument
        return (i.venue, i.market, i.venue_symbol, self.channel.value + (self.timeframe or ""),
                self.depth)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The venue's published limits, used to shard subscriptions across connections."""

    streams_per_connection: int
    args_per_request: int
    requests_per_second: float
    max_connections: int = 32


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Keepalive: idle seconds before we ping, seconds to wait for the answer.

    ``text_ping`` None means WebSocket PING control frames; otherwise the venue's own text
    ping, answered by a message containing ``pong_marker``.
    """

    ping_interval: float = 20.0
    pong_timeout: float = 10.0
    text_ping: bytes | None = None
    pong_marker: bytes | None = None


class Link(Protocol):
    """What a venue adapter may do to the connection it runs on."""

    @property
    def decoder(self) -> Decoder: ...
    def send(self, message: bytes | str) -> None: ...
    def reconnect(self, reason: str) -> None: ...
    def rotate(self, reason: str) -> None: ...
    def refuse(self, subscriptions: Sequence[Subscription], reason: str) -> None: ...
    def authenticated(self) -> None: ...
    def reject_auth(self, error: AuthError) -> None: ...


class SubscriptionRefused(Exception):
    """A subscription that cannot be served (the venue refused it: an unknown symbol, a
    channel it does not carry): it is dropped for good, with the reason in ``reason``. An
    adapter's ``sync_book`` raises it for a book that can never sync."""

    def __init__(self, subscription: Subscription, reason: str) -> None:
        instrument = subscription.instrument
        super().__init__(f"{instrument.venue} {instrument.symbol} {subscription.channel}: "
                         f"refused: {reason}")
        self.subscription = subscription
        self.reason = reason


class SubscribeRequests:
    """Which subscriptions each subscribe request carried, by request id, so that a venue's
    refusal (which names the request, not the streams) can be put on them. Bounded: the oldest
    unanswered requests are forgotten first."""

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self.carried: dict[str, tuple[Subscription, ...]] = {}

    def sent(self, request_id: object, subscriptions: Sequence[Subscription]) -> None:
        self.carried[str(request_id)] = tuple(subscriptions)
        while len(self.carried) > self.limit:
            del self.carried[next(iter(self.carried))]

    def answered(self, request_id: object) -> tuple[Subscription, ...]:
        """What the answered request carried (empty when it was no tracked subscribe)."""
        return self.carried.pop(str(request_id), ())

    def carrying(self, venue_symbols: Iterable[str]) -> tuple[Subscription, ...]:
        """The latest request that carried one of ``venue_symbols``, forgotten: for a venue
        whose refusal names the symbol and not the request (empty when none did)."""
        wanted = set(venue_symbols)
        for request_id, carried in reversed(self.carried.items()):
            if any(s.instrument.venue_symbol in wanted for s in carried):
                del self.carried[request_id]
                return carried
        return ()


@dataclass(slots=True)
class Rings:
    trades: TradeRing
    tickers: TickerRing
    candles: CandleRing
    orders: OrderRing | None = None
    balances: BalanceRing | None = None
    positions: PositionRing | None = None


class VenueAdapter(ABC):
    """One venue (and market): everything the connection manager needs to run its feeds."""

    name: str
    market: str = "spot"
    limits: ConnectionLimits
    heartbeat: Heartbeat = Heartbeat()
    compression: str = "none"          # BINARY frame compression: "none", "gzip", "deflate"
    max_message_size: int = 16 << 20
    timeframes: Sequence[str] = ()
    book_depths: Sequence[int] = ()
    channels: Sequence[Channel] = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)
    rest_base: str = ""    # REST base URL (book snapshots, server time, tokens); "" when unused
    connection_lifetime: float | None = None
    """Seconds a connection may live, where the venue documents a limit (None: unlimited).
    A connection rotates itself (``Link.rotate``, make before break) a margin before it ends;
    tests shorten it on the adapter instance."""

    @abstractmethod
    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        """The URL a connection carrying these subscriptions dials (tests point it at a sim)."""

    def endpoint_key(self, subscription: Subscription) -> str:
        """Which of the venue's WebSocket endpoints carries ``subscription``; connections only
        ever hold subscriptions of one endpoint (OKX candles live on a separate URL)."""
        return ""

    @abstractmethod
    def venue_symbol(self, symbol: str) -> str:
        """Unified ``BTC-USDT`` -> the venue's form."""

    @abstractmethod
    def new_decoder(self, rings: Rings) -> Decoder:
        """A decoder for one connection, writing into the FeedHandler's shared rings."""

    @abstractmethod
    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        """Payloads that subscribe these (already chunked to ``args_per_request``)."""

    @abstractmethod
    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]: ...

    @abstractmethod
    def handle_control(self, link: Link, raw: bytes) -> None:
        """Acks, errors and venue pings the decoder queued; may reply through ``link``."""

    @abstractmethod
    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """Brings the book at ``slot`` in sync (snapshot + held updates) and marks it live."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Releases what the adapter holds beyond connections (REST sessions)."""

    private_channels: Sequence[Channel] = ()

    def private(self, credentials: Credentials) -> PrivateVenue:
        """The adapter of one account's private stream on this venue (``private_channels``
        says which channels it carries)."""
        raise NotImplementedError(f"{self.name} {self.market} has no private streams yet")


class PrivateVenue(VenueAdapter):
    """One account's private stream. The connection manager runs, on every (re)connect:

    1. ``await authenticate(link)`` before dialling: REST calls that yield the URL or a
       token (Binance listen key, Kraken token), learning ``clock``'s offset where the venue
       serves its time. Raise ``AuthError`` when the venue refuses the credentials (the
       connection then stops for good and the user gets the error); any other exception is
       transient and retried with backoff.
    2. ``ws_url`` is dialled (it may use what ``authenticate`` learned).
    3. ``login_requests()`` are sent first (Bybit/OKX/HTX ``auth``/``login``, freshly signed
       each time); when there are any, subscribes wait until ``handle_control`` sees the
       venue's answer and calls ``link.authenticated()`` or ``link.reject_auth(error)``
       (or ``login_timeout`` passes: a transient failure).
    4. ``subscribe_requests`` are built at send time, so a venue that signs every request
       (Gate.io, Coinbase JWT) signs it there with ``clock.now_ms()``.
    5. ``keepalive(link)`` runs as a task for the connection's life (Binance: PUT the listen
       key every 30 minutes); ``release()`` runs at stop (Binance: DELETE the listen key).
    Outbound messages sent meanwhile wait in the connection's outbox, as for public streams.
    """

    credentials: Credentials
    clock: ServerClock
    login_timeout: float = 10.0
    futures: bool = False
    subscribe_authenticates: bool = False
    """The credentials ride on the subscribes (Kraken token, Coinbase JWT) and only their
    reply says whether they were accepted: the connection goes live once ``handle_control``
    calls ``link.authenticated()`` (or fails on ``link.reject_auth``) after the replayed
    subscribes, within ``login_timeout``."""

    async def authenticate(self, link: Link) -> None:
        """The pre-dial step; see the class docstring."""

    def login_requests(self) -> list[bytes]:
        return []

    async def keepalive(self, link: Link) -> None:
        """Runs for the connection's life; returns at once when the venue needs none."""

    async def release(self) -> None:
        """Ends the venue-side session (listen key) when the stream stops."""

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return []

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        raise NotImplementedError("private streams carry no books")


async def wait_for_snapshot(arrived: Callable[[], bool], timeout: float, missing: str,
                            refused: Callable[[], Exception | None] = lambda: None) -> None:
    """Polls the decoder until ``arrived()``; raises what ``refused()`` returns once the venue
    refused the request, and TimeoutError ``"<missing> within <timeout> s"`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not arrived():
        error = refused()
        if error is not None:
            raise error
        if loop.time() >= deadline:
            raise TimeoutError(f"{missing} within {timeout} s")
        await asyncio.sleep(SNAPSHOT_POLL)


class InBandBookVenue(VenueAdapter):
    """A venue whose book subscribe is answered in-band by the book's snapshot: such books are
    subscribed by ``sync_book`` (paced by ``book_pacer``) once their updates are held, not by
    ``subscribe_requests``, and a resync is an unsubscribe followed by a subscribe."""

    book_pacer: RateLimiter
    unsent_books: set[tuple[Any, ...]]      # keys of books sync_book has not subscribed yet

    def in_band_book(self, subscription: Subscription) -> bool:
        """Whether ``sync_book`` sends this subscription itself."""
        return subscription.channel is Channel.BOOK

    def hold_back_books(self, subscriptions: Sequence[Subscription]) -> list[Subscription]:
        """Notes the books ``sync_book`` will subscribe; returns the rest, to subscribe now."""
        self.unsent_books.update(s.key for s in subscriptions if self.in_band_book(s))
        return [s for s in subscriptions if not self.in_band_book(s)]

    def sent_subscriptions(self, subscriptions: Sequence[Subscription]) -> list[Subscription]:
        """The subscriptions to unsubscribe: a book never subscribed is only forgotten."""
        sent = []
        for sub in subscriptions:
            if self.in_band_book(sub) and sub.key in self.unsent_books:
                self.unsent_books.discard(sub.key)
            else:
                sent.append(sub)
        return sent

    async def resubscribe_book(self, link: Link, subscription: Subscription,
                               unsubscribe: Callable[[], Iterable[bytes]],
                               subscribe: Callable[[], Iterable[bytes]]) -> None:
        """Sends, paced, the book's unsubscribe (unless it was never subscribed), then its
        subscribe; the payloads are built only when sent, so request ids stay in order."""
        if subscription.key not in self.unsent_books:
            await self.book_pacer.acquire()
            for payload in unsubscribe():
                link.send(payload)
        await self.book_pacer.acquire()
        self.unsent_books.discard(subscription.key)
        for payload in subscribe():
            link.send(payload)
