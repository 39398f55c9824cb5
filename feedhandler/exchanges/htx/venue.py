"""HTX (Huobi) spot, WebSocket market data: URLs, limits, topics, pongs, mbp book sync;
one account's orders and balances on ``/ws/v2``.

Facts and their sources are in docs/venues/htx.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from itertools import count
from typing import Any
from urllib.parse import urlsplit

from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.core.decoder import Decoder
from feedhandler.exchanges.base import (
    Channel,
    ConnectionLimits,
    Heartbeat,
    Link,
    PrivateVenue,
    Rings,
    SubscribeRequests,
    Subscription,
    VenueAdapter,
    wait_for_snapshot,
)
from feedhandler.exchanges.htx import auth
from feedhandler.exchanges.htx.decoder import HtxDecoder
from feedhandler.exchanges.htx.private import HtxPrivateDecoder
from feedhandler.net.clock import ServerClock
from feedhandler.net.ratelimit import RateLimiter
from feedhandler.net.rest import RestClient

log = logging.getLogger(__name__)

WS_BASE = "wss://api.huobi.pro"
MARKET_ENDPOINT = "ws"          # tickers, trades, klines
BOOK_ENDPOINT = "feed"          # mbp incremental books and their snapshots

TIMEFRAMES: dict[str, str] = {
    # unified timeframe: HTX kline period
    "1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "60min", "4h": "4hour",
    "1d": "1day", "1w": "1week", "1M": "1mon", "1y": "1year",
}
BOOK_DEPTHS = (5, 20, 150, 400)
DEFAULT_DEPTH = 150


REST_BASE = "https://api.huobi.pro"
TIMESTAMP_PATH = "/v1/common/timestamp"
PRIVATE_CHANNELS = (Channel.ORDERS, Channel.BALANCE)
ACCOUNTS_TOPIC = "accounts.update#2"     # balance and available together on every change


class HtxVenue(VenueAdapter):
    """HTX spot. One topic per ``sub`` request; books live on ``/feed``, the rest on ``/ws``.

    Every server frame is gzip'd BINARY. The venue pings every 5 s and drops a client that
    leaves two unanswered, so ``handle_control`` echoes each ping; our own WebSocket pings only
    go out when the venue has been silent for three of its ping periods.
    """

    name = "htx"
    market = "spot"
    compression = "gzip"
    timeframes = tuple(TIMEFRAMES)
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)

    def __init__(self, *, ws_url: str | None = None, rest_url: str | None = None,
                 requests_per_second: float = 10.0, snapshot_timeout: float = 10.0,
                 verify_tls: bool = True) -> None:
        """``ws_url`` is the base both endpoints hang off (``/ws``, ``/feed``); ``rest_url``
        the REST base (instruments; the server time for the private stream), which
        ``verify_tls`` applies to. The decimals kept per symbol are its instrument's scales
        (the catalog's ``pp`` / ``ap``): a size with more decimals is rounded half-even and
        flagged inexact, a book price refused (the book resyncs)."""
        self.base = (ws_url or WS_BASE).rstrip("/")
        self.rest_base = (rest_url or REST_BASE).rstrip("/")
        self.verify_tls = verify_tls
        self.snapshot_timeout = snapshot_timeout
        self.limits = ConnectionLimits(streams_per_connection=100, args_per_request=1,
                                       requests_per_second=requests_per_second,
                                       max_connections=20)
        self.heartbeat = Heartbeat(ping_interval=15.0, pong_timeout=5.0)
        # snapshot requests leave from sync_book tasks, outside the connection's pacing
        self.book_pacer = RateLimiter(requests_per_second, burst=1)
        self.request_ids = count(1)
        self.errors: list[str] = []
        self.subscribes = SubscribeRequests()          # sub requests not yet answered
        self.snapshot_requests: dict[str, str] = {}  # req id in flight -> refusal, "" if none

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        endpoint = self.endpoint_key(subscriptions[0]) if subscriptions else MARKET_ENDPOINT
        return f"{self.base}/{endpoint}"

    def endpoint_key(self, subscription: Subscription) -> str:
        return BOOK_ENDPOINT if subscription.channel is Channel.BOOK else MARKET_ENDPOINT

    def venue_symbol(self, symbol: str) -> str:
        """``BTC-USDT`` -> ``btcusdt``."""
        return symbol.replace("-", "").replace("/", "").lower()

    def new_decoder(self, rings: Rings) -> Decoder:
        return HtxDecoder(rings.trades, rings.tickers, rings.candles)

    # ---- requests --------------------------------------------------------------------------

    @staticmethod
    def topic(subscription: Subscription) -> str:
        symbol = subscription.instrument.venue_symbol
        channel = subscription.channel
        if channel is Channel.TICKER:
            return f"market.{symbol}.bbo"
        if channel is Channel.TRADES:
            return f"market.{symbol}.trade.detail"
        if channel is Channel.BOOK:
            return f"market.{symbol}.mbp.{subscription.depth or DEFAULT_DEPTH}"
        assert subscription.timeframe is not None
        return f"market.{symbol}.kline.{TIMEFRAMES[subscription.timeframe]}"

    def request(self, verb: str, topic: str) -> tuple[str, bytes]:
        request_id = f"id{next(self.request_ids)}"
        return request_id, json.dumps({verb: topic, "id": request_id},
                                      separators=(",", ":")).encode()

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        payloads = []
        for subscription in subscriptions:
            request_id, payload = self.request("sub", self.topic(subscription))
            self.subscribes.sent(request_id, [subscription])
            payloads.append(payload)
        return payloads

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return [self.request("unsub", self.topic(s))[1] for s in subscriptions]

    # ---- control messages ------------------------------------------------------------------

    def handle_control(self, link: Link, raw: bytes) -> None:
        """A ``sub`` refused as an invalid topic goes to the connection (dropped for good);
        another refused ``sub`` renews the connection: a book loaded from its ``req`` snapshot
        must not stay live with no update stream behind it."""
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        if "ping" in message:
            link.send(json.dumps({"pong": message["ping"]}, separators=(",", ":")))
            return
        request_id = str(message.get("id"))
        carried = self.subscribes.answered(request_id)
        if message.get("status") == "error":
            text = (f"{message.get('err-code')}: {message.get('err-msg')} "
                    f"(id {message.get('id')})")
            self.errors.append(text)
            if request_id in self.snapshot_requests:
                self.snapshot_requests[request_id] = text
            log.warning("htx rejected %s", text)
            if carried and str(message.get("err-msg")).startswith("invalid topic"):
                link.refuse(carried, text)
            elif carried:
                link.reconnect(f"subscribe refused: {text}")

    # ---- books -------------------------------------------------------------------------------

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """HTX's procedure: the updates since subscribing are held by the decoder; ``req`` a
        snapshot on the same socket, and once the decoder has loaded it make the book live and
        replay what was held (stale ones are dropped, a snapshot older than the first held
        update shows as a gap and starts another sync)."""
        decoder = link.decoder
        assert isinstance(decoder, HtxDecoder)
        before = decoder.snapshot_count(slot)
        request_id, payload = self.request("req", self.topic(subscription))
        self.snapshot_requests[request_id] = ""

        def refusal() -> Exception | None:
            error = self.snapshot_requests[request_id]
            return LookupError(f"htx refused the {self.topic(subscription)} snapshot: "
                               f"{error}") if error else None

        try:
            await self.book_pacer.acquire()
            link.send(payload)
            await wait_for_snapshot(
                lambda: decoder.snapshot_count(slot) != before, self.snapshot_timeout,
                f"htx: no {subscription.instrument.venue_symbol} mbp snapshot", refusal)
        finally:
            del self.snapshot_requests[request_id]
        decoder.mark_live(slot)
        decoder.replay_pending(slot)

    private_channels = PRIVATE_CHANNELS

    def private(self, credentials: Credentials) -> HtxPrivateStream:
        return HtxPrivateStream(self, credentials)


class HtxPrivateStream(PrivateVenue):
    """One account's ``orders#`` and ``accounts.update#2`` on ``/ws/v2`` (plain text, not
    gzip'd). Every socket starts with ``req auth`` (signature v2.1 over the host dialled,
    timestamped with the venue's clock learnt from ``/v1/common/timestamp``); subscribes wait
    for its code-200 answer, any other code is the venue refusing the credentials. The
    server pings with ``{"action":"ping"}``; ``handle_control`` echoes the ``ts``.
    ``accounts.update`` opens with every asset's value, so a reconnect restores balances;
    ``orders#`` has no snapshot (docs/venues/htx.md)."""

    name = "htx"
    market = "spot"
    channels = PRIVATE_CHANNELS
    private_channels = PRIVATE_CHANNELS

    def __init__(self, venue: HtxVenue, credentials: Credentials) -> None:
        self.credentials = credentials
        self.clock = ServerClock()
        self.url = f"{venue.base}{auth.PRIVATE_PATH}"
        self.host = urlsplit(self.url).hostname or auth.PRIVATE_HOST
        self.time_url = venue.rest_base + TIMESTAMP_PATH
        self.limits = ConnectionLimits(streams_per_connection=100, args_per_request=1,
                                       requests_per_second=venue.limits.requests_per_second)
        self.heartbeat = Heartbeat(ping_interval=30.0, pong_timeout=10.0)
        self.rest = RestClient(verify_tls=venue.verify_tls)
        self.errors: list[str] = []

    async def authenticate(self, link: Link) -> None:
        """Learns the venue's clock (best effort: HTX refuses a timestamp 5 min off)."""
        sent = self.clock.local_ms()
        try:
            body: Any = json.loads(await self.rest.get(self.time_url))
            server_ms = int(body["data"])
        except Exception as exc:
            log.warning("htx: server time unavailable (%s); signing with the local clock",
                        type(exc).__name__)
            return
        self.clock.learn(server_ms, sent, self.clock.local_ms())

    def login_requests(self) -> list[bytes]:
        stamp = auth.timestamp(self.clock.now_ms() // 1000)
        return [auth.auth_message(self.credentials.key, self.credentials.secret, stamp,
                                  self.host).encode()]

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("-", "").replace("/", "").lower()

    def new_decoder(self, rings: Rings) -> Decoder:
        return HtxPrivateDecoder(rings.orders, rings.balances, rings.positions)

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        """``orders#<symbol>`` (``orders#*`` for an account-wide subscription, instrument id
        -1) and ``accounts.update#2``."""
        topics: list[str] = []
        for sub in subscriptions:
            if sub.channel is Channel.BALANCE:
                topic = ACCOUNTS_TOPIC
            else:
                symbol = "*" if sub.instrument.id < 0 else sub.instrument.venue_symbol
                topic = auth.orders_channel(symbol)
            if topic not in topics:
                topics.append(topic)
        return [auth.sub_message(topic).encode() for topic in topics]

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        action = message.get("action")
        if action == "ping":
            data = message.get("data")
            link.send(json.dumps({"action": "pong", "data": data}, separators=(",", ":")))
            return
        code = message.get("code")
        if action == "req" and message.get("ch") == "auth":
            if code == 200:
                link.authenticated()
            else:
                link.reject_auth(AuthError("htx", str(message.get("message", ""))[:200], code))
            return
        if code != 200:
            text = f"{action} {message.get('ch')}: {code} {message.get('message')}"
            self.errors.append(text)
            log.warning("htx private stream rejected %s", text)

    async def release(self) -> None:
        await self.rest.close()
