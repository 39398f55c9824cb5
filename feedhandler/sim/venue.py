"""The plugin interface between the simulated-exchange framework and one venue's wire format.

The framework (``server.py``) owns sockets, subscriptions, pacing, keepalive and fault
injection; a ``Venue`` only translates: client text → ``ClientRequest``, market events and
replies → frame payloads, HTTP requests → responses. A new venue subclasses ``Venue`` and
registers itself in ``venues.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import ClassVar

from feedhandler.sim.catalog import Listing
from feedhandler.sim.market import InstrumentSpec, Market, MarketEvent, Regrid


class RequestKind(Enum):
    """What a client text message asks for; the value is the key counted per connection."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    LIST = "list"
    PING = "ping"
    PONG = "pong"
    QUERY = "query"
    OTHER = "other"
    INVALID = "invalid"


class ErrorReason(Enum):
    """Why a request is refused; the venue maps each to its own error code and wording."""

    INVALID_JSON = "invalid_json"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_TOPIC = "unknown_topic"
    TOO_MANY_TOPICS = "too_many_topics"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ClientRequest:
    kind: RequestKind
    request_id: object = None
    topics: tuple[str, ...] = ()
    error: ErrorReason | None = None
    detail: str = ""
    body: object = None
    """The decoded message, for venue-specific requests (``RequestKind.OTHER``, ``QUERY``);
    for a ``PONG``, the echoed ping payload as bytes when the venue's pong carries one."""


@dataclass(frozen=True)
class Session:
    """How a new WebSocket connection starts: topics chosen by its URL and venue state."""

    topics: tuple[str, ...] = ()
    state: object = None
    compression: str | None = None
    """This connection's frame compression when it differs from the venue's (HTX /ws/v2)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""          # served on aiohttp only (``rest_writes``)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


@dataclass(frozen=True)
class Keepalive:
    """Server-initiated heartbeat: ping every ``interval`` s, disconnect after ``timeout`` s."""

    interval: float
    timeout: float
    text: bool = False
    """Ping with a venue text message (``Venue.render_ping``) instead of a WebSocket ping."""
    pong_must_echo: bool = False
    """Only a pong echoing an outstanding ping's payload counts (unsolicited pongs don't)."""


@dataclass(frozen=True)
class IncomingLimit:
    """At most ``messages`` client frames (text, ping, pong) per ``seconds``, else closed."""

    messages: int
    seconds: float = 1.0
    close_code: int = 1008
    close_reason: str = "Too many requests"


class Venue(ABC):
    """One exchange's wire format, plugged into ``SimulatedExchange``.

    Constructors take ``market`` (the venue's segment, e.g. ``"spot"``) and ``symbols`` so that
    ``venues.create_venue`` can build any registered venue from command-line options.
    """

    name: ClassVar[str]
    ws_path: str = ""
    """The path of the venue's public WebSocket endpoint, part of ``SimulatedExchange.ws_url``
    (an instance may set its own when the path depends on the market)."""
    private_ws_path: str | None = None
    """Where account streams are served when that is not ``ws_path`` (Bybit's /v5/private)."""
    has_checksum: ClassVar[bool] = False
    has_server_shutdown: bool = False
    """The venue announces a server shutdown in-band (``render_server_shutdown``)."""
    compression: ClassVar[str] = "none"
    """"gzip": every server data frame is sent gzip-compressed as BINARY instead of TEXT."""
    keepalive: Keepalive | None = None
    incoming_limit: IncomingLimit | None = None
    max_topics: int | None = None
    idle_timeout: float | None = None
    """Close a connection on which no frame went either way for this many seconds."""
    idle_close: tuple[int, str] = (1000, "idle")
    """The close code and reason of such a close."""
    update_id_step: tuple[int, int] = (1, 1)
    catalog: list[Listing]
    """Every instrument the venue lists in its metadata endpoint, the traded ones first."""
    rest_writes: bool = False
    """The venue serves POST/PUT/DELETE (private-stream tokens, listen keys): picows serves
    GET only, so ``SimulatedExchange`` then answers REST on an aiohttp server instead, and
    ``http_url`` points there."""

    @abstractmethod
    def instruments(self) -> tuple[InstrumentSpec, ...]:
        """The instruments this venue lists; the market generates exactly these."""

    def relist(self, spec: InstrumentSpec, regrid: Regrid) -> None:
        """The venue lists ``spec.symbol`` at ``spec``'s tick and lot size from now on: its
        metadata says so and its messages print at them (``relist_listing``)."""
        self.relist_listing(spec, regrid)
        self.catalog = [replace(listing, tick_size=spec.tick_size, lot_size=spec.lot_size,
                                min_size=spec.lot_size)
                        if listing.symbol == spec.symbol else listing
                        for listing in self.catalog]

    def relist_listing(self, spec: InstrumentSpec, regrid: Regrid) -> None:
        """Prints ``spec.symbol`` at ``spec``'s precision; running state kept in ticks and
        lots is re-expressed by ``regrid``."""
        raise NotImplementedError(f"the {self.name} simulator cannot relist an instrument")

    @abstractmethod
    def candle_intervals_ms(self) -> tuple[int, ...]:
        """Candle intervals the venue publishes; the market generates exactly these."""

    @abstractmethod
    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        """Accept a WebSocket upgrade on ``path`` (a ``Session``), refuse it with an HTTP
        response, or return None for 404."""

    @abstractmethod
    def parse(self, state: object, payload: bytes) -> ClientRequest:
        """Decode one client text message."""

    @abstractmethod
    def is_topic(self, topic: str) -> bool:
        """Whether ``topic`` names a stream this venue would publish."""

    @abstractmethod
    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        """Every topic on which ``event`` is published."""

    @abstractmethod
    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        """The payload of ``event`` on ``topic``; ``market`` is already in its post-event state."""

    def envelope(self, state: object, topic: str, payload: bytes) -> bytes:
        """Wrap a rendered payload for one connection (e.g. a combined-stream wrapper)."""
        return payload

    @abstractmethod
    def render_ack(self, request: ClientRequest) -> list[bytes]:
        """Replies to a successful subscribe or unsubscribe."""

    @abstractmethod
    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        """Reply to a request listing the connection's subscriptions."""

    @abstractmethod
    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        """Replies refusing ``request``."""

    def render_pong(self, request: ClientRequest) -> list[bytes]:
        """Replies to a client's text ping."""
        return []

    def render_ping(self, payload: bytes) -> bytes:
        """A server text ping, for venues whose ``Keepalive.text`` is set."""
        raise NotImplementedError(f"{self.name} has no text ping")

    def render_session_ping(self, state: object, payload: bytes) -> bytes:
        """The text ping for one connection (a venue whose endpoints ping differently)."""
        return self.render_ping(payload)

    def handle_other(self, state: object, request: ClientRequest) -> list[bytes]:
        """Handle a venue-specific request (``RequestKind.OTHER``); return the replies."""
        return []

    def handle_query(self, state: object, request: ClientRequest,
                     market: Market) -> list[bytes]:
        """Answer a request for market state over the WebSocket (``RequestKind.QUERY``, e.g. a
        book snapshot asked for by message)."""
        return []

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        """Frames sent right after subscribing to ``topic``, such as a book snapshot."""
        return []

    @abstractmethod
    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        """Serve a plain HTTP request (REST); None for 404."""

    def render_server_shutdown(self, state: object, now_ms: int) -> bytes:
        """The in-band notice that the server is about to shut down (``has_server_shutdown``)."""
        raise NotImplementedError(f"{self.name} announces no server shutdown")

    def render_malformed(self) -> bytes:
        """A frame payload that is not valid JSON: a message cut short."""
        return b'{"e":"depthUpdate","b":[["1.00",'

    def render_oversize(self, nbytes: int) -> bytes:
        """A syntactically valid JSON payload of exactly ``nbytes`` bytes."""
        filler = max(0, nbytes - len(b'{"pad":""}'))
        return b'{"pad":"' + b"x" * filler + b'"}'
