"""OKX v5 WebSocket (spot): URLs, limits, subscribe payloads, keepalive, book sync; and the
private stream (orders, account balances) with its ``login``.

Facts and their sources are in docs/venues/okx.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.core.decoder import Decoder
from feedhandler.exchanges.base import (
    Channel,
    ConnectionLimits,
    Heartbeat,
    InBandBookVenue,
    Link,
    PrivateVenue,
    Rings,
    SubscribeRequests,
    Subscription,
    wait_for_snapshot,
)
from feedhandler.exchanges.okx import auth
from feedhandler.exchanges.okx.decoder import OkxDecoder
from feedhandler.exchanges.okx.private import OkxPrivateDecoder
from feedhandler.net.clock import ServerClock
from feedhandler.net.ratelimit import RateLimiter
from feedhandler.net.rest import RestClient

log = logging.getLogger(__name__)

PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public"
BUSINESS_URL = "wss://ws.okx.com:8443/ws/v5/business"
PUBLIC, BUSINESS = "public", "business"
REST_BASE = "https://www.okx.com"
BOOKS_PATH = "/api/v5/market/books"     # the REST book snapshot (sz up to 400)
REST_SYNC_UPDATES = 2          # updates held before a REST sync: the procedure reads the 2nd's
REST_SNAPSHOT_ATTEMPTS = 5     # REST snapshots fetched before a sync fails for a stale one
REST_SNAPSHOT_RETRY = 0.2      # seconds between them
SERVER_TIME_PATH = "/api/v5/public/time"
PRIVATE_CHANNELS = (Channel.ORDERS, Channel.BALANCE)     # spot: no positions
# login replies that refuse the credentials (docs/venues/okx.md, "Error replies"): invalid
# timestamp, invalid apiKey, timestamp expired, invalid sign, login failure, wrong
# passphrase, API key doesn't exist; 63999 (internal error) is retried
LOGIN_REFUSED = {"60004", "60005", "60006", "60007", "60009", "60024", "60031"}

TIMEFRAMES: dict[str, str] = {
    # unified timeframe: OKX bar; 6h and longer use OKX's UTC-aligned bars (the plain ones
    # are aligned to Hong Kong time)
    "1s": "1s", "1m": "1m", "3m": "3m", "5m": "5m", "15m": "15m", "30m": "30m",
    "1h": "1H", "2h": "2H", "4h": "4H", "6h": "6Hutc", "12h": "12Hutc", "1d": "1Dutc",
    "1w": "1Wutc",
}
BOOK_CHANNELS: dict[int, str] = {
    # depth: the public channel that serves it (books50-l2-tbt and books-l2-tbt need a
    # VIP4/VIP5 login, which this adapter does not do; the decoder reads them all the same)
    1: "bbo-tbt", 5: "books5", 400: "books",
}
BOOK_DEPTHS = tuple(BOOK_CHANNELS)
DEFAULT_DEPTH = 400

UPGRADE_NOTICE = "64008"       # event "notice": the connection closes soon for an upgrade
NO_SUCH_CHANNEL = "60018"      # event "error": the channel or instId does not exist


class OkxVenue(InBandBookVenue):
    """OKX spot. Candles live on the business endpoint, everything else on public; the
    pool keeps the two apart through ``endpoint_key``.

    Books are subscribed by ``sync_book`` rather than by ``subscribe_requests``: the snapshot
    arrives in-band after the subscribe, so the request that asks for it is sent only once the
    book is held, and a resync is an unsubscribe followed by a subscribe. Where OKX sends no
    in-band snapshot, ``sync_book`` takes the REST one instead (docs/venues/okx.md).
    """

    name = "okx"
    market = "spot"
    timeframes = tuple(TIMEFRAMES)
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)

    def __init__(self, *, ws_url: str | None = None, business_ws_url: str | None = None,
                 private_ws_url: str | None = None, rest_url: str | None = None,
                 requests_per_second: float = 2.0, snapshot_timeout: float = 10.0,
                 ping_interval: float = 20.0, verify_tls: bool = True) -> None:
        """``ws_url`` is the public endpoint; the business and private ones default to it
        with its last path segment renamed, so a simulator serving every path needs one URL.
        ``rest_url`` is the REST base (instruments; book snapshots where OKX sends none
        in-band; server time, for the private login). ``verify_tls`` applies to those REST
        calls."""
        self.public_url = ws_url or PUBLIC_URL
        self.business_url = business_ws_url or business_of(self.public_url)
        self.private_url = private_ws_url or (auth.PRIVATE_WS_URL if ws_url is None else
                                              self.public_url.rsplit("/", 1)[0] + "/private")
        self.rest_base = (rest_url or REST_BASE).rstrip("/")
        self.verify_tls = verify_tls
        self.ping_interval = ping_interval
        self.private_channels = PRIVATE_CHANNELS
        self.snapshot_timeout = snapshot_timeout
        # 480 subscribe/unsubscribe/login requests an hour per connection: bursts are fine,
        # a sustained rate is not
        self.limits = ConnectionLimits(streams_per_connection=200, args_per_request=20,
                                       requests_per_second=requests_per_second,
                                       max_connections=20)
        # OKX drops a connection idle for 30 s: ping well before, expect the pong within
        self.heartbeat = Heartbeat(ping_interval=ping_interval,
                                   pong_timeout=min(10.0, ping_interval),
                                   text_ping=b"ping", pong_marker=b"pong")
        # book requests leave from sync_book tasks, outside the connection's pacing; a resync
        # is two requests and goes out at once
        self.book_pacer = RateLimiter(requests_per_second, burst=2)
        self.request_ids = count(1)
        self.unsent_books: set[tuple[Any, ...]] = set()
        self.errors: list[str] = []
        # ids of the book subscribes sync_book tasks wait on
        self.book_requests: dict[str, BookRequest] = {}
        self.rest = RestClient(verify_tls=verify_tls)
        self.subscribes = SubscribeRequests()     # subscribe requests not yet answered

    def private(self, credentials: Credentials) -> OkxPrivateStream:
        return OkxPrivateStream(self, credentials)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        if subscriptions and self.endpoint_key(subscriptions[0]) == BUSINESS:
            return self.business_url
        return self.public_url

    def endpoint_key(self, subscription: Subscription) -> str:
        return BUSINESS if subscription.channel is Channel.OHLCV else PUBLIC

    def venue_symbol(self, symbol: str) -> str:
        """``btc/usdt`` or ``BTC-USDT`` -> ``BTC-USDT`` (OKX spot instIds are the unified form)."""
        return symbol.upper().replace("/", "-")

    def new_decoder(self, rings: Rings) -> Decoder:
        return OkxDecoder(rings.trades, rings.tickers, rings.candles)

    # ---- requests --------------------------------------------------------------------------

    def request(self, op: str, subscriptions: Sequence[Subscription],
                request_id: str | None = None) -> bytes:
        """One request; a subscribe remembers which subscriptions it carried."""
        request_id = request_id or str(next(self.request_ids))
        if op == "subscribe":
            self.subscribes.sent(request_id, subscriptions)
        body = {"id": request_id, "op": op, "args": [self.arg(s) for s in subscriptions]}
        return json.dumps(body, separators=(",", ":")).encode()

    @staticmethod
    def arg(subscription: Subscription) -> dict[str, str]:
        """The ``{"channel", "instId"}`` that names one subscription on the wire."""
        channel = subscription.channel
        if channel is Channel.TICKER:
            name = "tickers"
        elif channel is Channel.TRADES:
            name = "trades"
        elif channel is Channel.OHLCV:
            assert subscription.timeframe is not None
            name = "candle" + TIMEFRAMES[subscription.timeframe]
        else:
            name = BOOK_CHANNELS[subscription.depth or DEFAULT_DEPTH]
        return {"channel": name, "instId": subscription.instrument.venue_symbol}

    def requests(self, op: str, subscriptions: Iterable[Subscription]) -> list[bytes]:
        subs = list(subscriptions)
        step = self.limits.args_per_request
        return [self.request(op, subs[i:i + step]) for i in range(0, len(subs), step)]

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.requests("subscribe", self.hold_back_books(subscriptions))

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.requests("unsubscribe", self.sent_subscriptions(subscriptions))

    # ---- control messages ------------------------------------------------------------------

    def handle_control(self, link: Link, raw: bytes) -> None:
        """Errors are kept and logged: what a subscribe refused for good (``60018``, no such
        channel or instrument) goes to the connection, another refused book subscribe fails
        its ``sync_book`` at once (and is retried); an upgrade notice renews the connection
        before OKX closes it."""
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        event = message.get("event")
        carried = self.subscribes.answered(message.get("id")) \
            if event in ("error", "subscribe") else ()
        if event == "error":
            text = f"{message.get('code')} {message.get('msg')} (id {message.get('id')})"
            self.errors.append(text)
            log.warning("okx rejected a request: %s", text)
            if carried and str(message.get("code")) == NO_SUCH_CHANNEL:
                link.refuse(carried, f"{message.get('code')} {message.get('msg')}")
                return
            book_request = self.book_requests.get(str(message.get("id")))
            if book_request is not None:
                book_request.refused = text
        elif event == "notice":
            log.warning("okx notice %s: %s", message.get("code"), message.get("msg"))
            if str(message.get("code")) == UPGRADE_NOTICE:
                link.reconnect(f"okx notice {UPGRADE_NOTICE}: service upgrade")
        elif event in ("subscribe", "unsubscribe"):
            log.debug("okx %s %s", event, message.get("arg"))
            book_request = self.book_requests.get(str(message.get("id")))
            if event == "subscribe" and book_request is not None:
                book_request.held_at_ack = len(held_updates(link.decoder, book_request.slot))

    # ---- books -------------------------------------------------------------------------------

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """OKX's procedure: (re)subscribe the book, holding its updates. Once the decoder has
        loaded and verified an in-band snapshot newer than the request, make the book live and
        replay the updates held since. Where none comes (OKX announced their removal): once
        updates arrive after the subscribe's ack without one, or ``snapshot_timeout`` passed
        with updates held, sync from the REST snapshot (``rest_sync``)."""
        decoder = link.decoder
        assert isinstance(decoder, OkxDecoder)
        decoder.configure_book(slot, subscription.depth or DEFAULT_DEPTH)
        before = decoder.snapshot_count(slot)
        arg = self.arg(subscription)
        request = BookRequest(slot)

        def subscribe() -> list[bytes]:
            request.id = str(next(self.request_ids))    # after the unsubscribe's: in order
            self.book_requests[request.id] = request
            return [self.request("subscribe", [subscription], request.id)]

        def in_band() -> bool:
            return decoder.snapshot_count(slot) != before and decoder.snapshot_loaded(slot)

        def without_snapshot() -> bool:
            return request.held_at_ack is not None and \
                len(held_updates(decoder, slot)) >= request.held_at_ack + REST_SYNC_UPDATES

        def refusal() -> Exception | None:
            return None if request.refused is None else RuntimeError(
                f"okx refused the {arg['instId']} {arg['channel']} subscribe: {request.refused}")

        try:
            await self.resubscribe_book(
                link, subscription, lambda: [self.request("unsubscribe", [subscription])],
                subscribe)
            with contextlib.suppress(TimeoutError):
                await wait_for_snapshot(lambda: in_band() or without_snapshot(),
                                        self.snapshot_timeout, "", refusal)
        finally:
            self.book_requests.pop(request.id, None)
        if in_band():
            decoder.mark_live(slot)
        else:
            # OKX acknowledges a subscribe before its first update: what was held until then
            # belongs to the subscription just dropped (its seqIds need not chain to these)
            drop_held(decoder, slot, request.held_at_ack or 0)
            if len(held_updates(decoder, slot)) < REST_SYNC_UPDATES:
                raise TimeoutError(f"okx: no {arg['instId']} {arg['channel']} snapshot within "
                                   f"{self.snapshot_timeout} s, nor the {REST_SYNC_UPDATES} "
                                   "updates a REST sync needs")
            await self.rest_sync(decoder, subscription, slot)
        decoder.replay_pending(slot)

    async def rest_sync(self, decoder: OkxDecoder, subscription: Subscription,
                        slot: int) -> None:
        """Loads the REST snapshot (``GET /api/v5/market/books``) into the waiting book,
        refetched while its ``seqId`` is below the second held update's ``prevSeqId`` (the
        snapshot must not be older than the stream held); the caller replays the held updates,
        of which the decoder drops those the snapshot covers."""
        second = int(json.loads(held_updates(decoder, slot)[1])["data"][0]["prevSeqId"])
        inst_id = subscription.instrument.venue_symbol
        params: dict[str, str | int] = {"instId": inst_id,
                                        "sz": subscription.depth or DEFAULT_DEPTH}
        seq = -1
        for attempt in range(REST_SNAPSHOT_ATTEMPTS):
            if attempt:
                await asyncio.sleep(REST_SNAPSHOT_RETRY)
            decoder.apply_snapshot(slot, await self.rest.get(self.rest_base + BOOKS_PATH,
                                                             params))
            book = decoder.book(slot)
            assert book is not None            # apply_snapshot refuses a slot without one
            seq = book.sequence
            if seq >= second:
                return
            decoder.mark_waiting(slot)
        raise RuntimeError(f"okx: the {inst_id} REST snapshot stayed older than the stream "
                           f"(seqId {seq} < prevSeqId {second})")

    async def close(self) -> None:
        await self.rest.close()


@dataclass(slots=True)
class BookRequest:
    """A book subscribe a ``sync_book`` waits on: OKX's error text once refused, and how many
    updates the book held when OKX acknowledged it (None before the ack)."""

    slot: int
    id: str = ""                      # set once the subscribe is built
    refused: str | None = None
    held_at_ack: int | None = None


def held_updates(decoder: Decoder, slot: int) -> list[bytes]:
    """The raw updates the decoder holds for ``slot``, oldest first."""
    return [raw for held_slot, raw in decoder.pending if held_slot == slot]


def drop_held(decoder: Decoder, slot: int, count: int) -> None:
    """Forgets the oldest ``count`` updates held for ``slot``."""
    if count:
        kept = decoder.take_pending(slot)[count:]     # take_pending replaces decoder.pending
        decoder.pending.extend((slot, raw) for raw in kept)


def business_of(public_url: str) -> str:
    """``.../ws/v5/public`` -> ``.../ws/v5/business`` (query string kept)."""
    path, mark, query = public_url.partition("?")
    head, _, last = path.rstrip("/").rpartition("/")
    if last != PUBLIC:
        raise ValueError(f"okx: cannot derive the business endpoint from {public_url!r}; "
                         "pass business_ws_url")
    return f"{head}/{BUSINESS}{mark}{query}"


class OkxPrivateStream(PrivateVenue):
    """One account's ``/ws/v5/private`` stream: before every dial the server time is read
    (``/api/v5/public/time``), since OKX refuses a login timestamp 30 s off its clock; the
    socket then sends ``login`` (signed afresh), waits for ``event: login`` and subscribes
    ``orders`` (instType SPOT) and ``account``. A login error in ``LOGIN_REFUSED`` is the
    credentials refused: the typed error, no reconnect. ``account`` sends a snapshot on
    subscribe, so balances are current again after a reconnect; ``orders`` replays nothing."""

    name = "okx"
    market = "spot"

    def __init__(self, venue: OkxVenue, credentials: Credentials) -> None:
        if not credentials.passphrase:
            raise AuthError("okx", "OKX API keys need the passphrase set when the key was "
                                   "made (Credentials(passphrase=...) or "
                                   "FEEDHANDLER_OKX_API_PASSPHRASE)")
        self.private_channels = PRIVATE_CHANNELS
        self.credentials = credentials
        self.clock = ServerClock()
        self.url = venue.private_url
        self.time_url = venue.rest_base + SERVER_TIME_PATH
        self.rest = RestClient(verify_tls=venue.verify_tls)
        self.limits = ConnectionLimits(streams_per_connection=16, args_per_request=20,
                                       requests_per_second=2.0, max_connections=1)
        self.heartbeat = Heartbeat(ping_interval=venue.ping_interval,
                                   pong_timeout=min(10.0, venue.ping_interval),
                                   text_ping=b"ping", pong_marker=b"pong")
        self.subscribed: set[str] = set()      # channels sent on the current socket
        self.logged_in = False
        self.errors: list[str] = []

    async def authenticate(self, link: Link) -> None:
        sent = self.clock.local_ms()
        body: Any = json.loads(await self.rest.get(self.time_url))
        received = self.clock.local_ms()
        data = body.get("data") if isinstance(body, dict) else None
        ts = data[0].get("ts") if isinstance(data, list) and data and isinstance(
            data[0], dict) else None
        if not isinstance(ts, str) or not ts.isdigit():
            raise ValueError("okx server time answer without data[0].ts")
        self.clock.learn(int(ts), sent, received)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        return symbol.upper().replace("/", "-")

    def new_decoder(self, rings: Rings) -> Decoder:
        return OkxPrivateDecoder(rings.orders, rings.balances, rings.positions)

    def login_requests(self) -> list[bytes]:
        self.subscribed = set()
        self.logged_in = False
        credentials = self.credentials
        assert credentials.passphrase is not None
        return [auth.login_message(credentials.key, credentials.secret, credentials.passphrase,
                                   self.clock.now_ms() // 1000).encode()]

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        args = []
        for sub in subscriptions:
            channel = "orders" if sub.channel is Channel.ORDERS else "account"
            if channel not in self.subscribed:
                self.subscribed.add(channel)
                args.append({"channel": "orders", "instType": "SPOT"} if channel == "orders"
                            else {"channel": "account"})
        return [auth.subscribe_message(args).encode()] if args else []

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        event = message.get("event")
        code = str(message.get("code", ""))
        if event == "login":
            if code == "0":
                self.logged_in = True
                link.authenticated()
            else:
                link.reject_auth(AuthError("okx", str(message.get("msg", ""))[:200], code))
            return
        if event == "error":
            text = f"{code} {str(message.get('msg'))[:200]}"
            if not self.logged_in and code in LOGIN_REFUSED:
                link.reject_auth(AuthError("okx", str(message.get("msg", ""))[:200], code))
                return
            self.errors.append(text)
            log.warning("okx private stream refused a request: %s", text)
            if not self.logged_in:
                link.reconnect(f"okx login failed: {text}")
        elif event == "notice" and code == UPGRADE_NOTICE:
            link.reconnect(f"okx notice {UPGRADE_NOTICE}: service upgrade")

    async def release(self) -> None:
        await self.rest.close()
