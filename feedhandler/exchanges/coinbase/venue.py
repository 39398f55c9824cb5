"""Coinbase Advanced Trade market data: URL, limits, subscribe payloads, book resync.

Facts and their sources are in docs/venues/coinbase.md. The level2 snapshot comes over the
WebSocket right after subscribing; a book is rebuilt by unsubscribing and subscribing its level2
channel again, which sends a fresh snapshot. The private stream is the ``user`` channel
(orders) with a fresh ES256 JWT in every subscribe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Sequence
from itertools import count
from typing import Any, cast

from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.core.decoder import BookSyncState, Decoder
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
)
from feedhandler.exchanges.coinbase import auth
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder
from feedhandler.exchanges.coinbase.private import CoinbasePrivateDecoder
from feedhandler.net.clock import ServerClock
from feedhandler.net.ratelimit import RateLimiter
from feedhandler.net.rest import RestClient

log = logging.getLogger(__name__)

WS_URL = "wss://advanced-trade-ws.coinbase.com"
TIMEFRAMES = ("5m",)                   # the candles channel has five-minute buckets only
BOOK_DEPTHS: tuple[int, ...] = ()      # level2 is the full book; no depth can be chosen
PRICE_SCALE = 10
SIZE_SCALE = 8
"""Decimals kept for the private orders of products no subscription names (an account-wide
orders stream); a subscribed product's are its instrument's (the catalog's increments)."""
REST_BASE = "https://api.coinbase.com"
PRODUCT_ID = re.compile(r"\b[A-Z0-9]+-[A-Z0-9]+\b")   # as a refusal names a product
SERVER_TIME_PATH = "/api/v3/brokerage/time"
PRIVATE_CHANNELS = (Channel.ORDERS,)
JWT_SLACK_MS = 1000
"""The user channel carries orders (and futures positions); spot balances are REST-only."""

CHANNEL_NAMES = {Channel.TICKER: "ticker", Channel.TRADES: "market_trades",
                 Channel.OHLCV: "candles", Channel.BOOK: "level2"}
# level2 goes last: its snapshot can then only arrive after the book's sync has started
SUBSCRIBE_ORDER = (Channel.TICKER, Channel.TRADES, Channel.OHLCV, Channel.BOOK)

USDC_PRODUCTS = frozenset({"USDT-USDC", "EURC-USDC"})
"""The only "-USDC" products with market data of their own; the others alias "-USD"."""


class CoinbaseVenue(VenueAdapter):
    """Coinbase Advanced Trade public market data (no authentication)."""

    name = "coinbase"
    timeframes = TIMEFRAMES
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)
    max_message_size = 32 << 20         # a level2 snapshot of a deep book is several MB

    private_channels = PRIVATE_CHANNELS

    def __init__(self, *, ws_url: str | None = None, private_ws_url: str | None = None,
                 rest_url: str | None = None, verify_tls: bool = True,
                 snapshot_timeout: float = 10.0) -> None:
        """``private_ws_url`` replaces the user-channel endpoint and ``rest_url`` the REST
        base (server time, read by the private stream); tests point them at a simulator.
        ``verify_tls`` applies to that REST call (market data needs no REST)."""
        self.url = ws_url or WS_URL
        self.private_url = private_ws_url or auth.PRIVATE_WS_URL
        self.rest_base = (rest_url or REST_BASE).rstrip("/")
        self.verify_tls = verify_tls
        self.snapshot_timeout = snapshot_timeout
        # the venue allows 8 unauthenticated messages per second per IP: stay well below
        self.limits = ConnectionLimits(streams_per_connection=60, args_per_request=60,
                                       requests_per_second=3.0, max_connections=8)
        self.heartbeat = Heartbeat(ping_interval=10.0, pong_timeout=5.0)
        # an unsubscribe and its subscribe go out together; further pairs at the paced rate
        self.resubscribe_limiter = RateLimiter(self.limits.requests_per_second, burst=2)
        self.awaiting_snapshot: set[str] = set()         # level2 subscribed, sync not yet begun
        self.resubscribing: dict[Link, set[str]] = {}    # products of a resync being gathered
        self.errors: list[str] = []
        self.request_ids = count(1)
        self.subscribes = SubscribeRequests()     # what each subscribe request carried
        self.heartbeats = 0
        self.subscriptions: dict[str, list[str]] = {}    # as the venue last acknowledged them
        self.product_status: dict[str, str] = {}

    def private(self, credentials: Credentials) -> CoinbasePrivateStream:
        return CoinbasePrivateStream(self, credentials)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        product = symbol.upper().replace("/", "-")
        if product.endswith("-USDC") and product not in USDC_PRODUCTS:
            return product[:-1]     # the venue serves "-USDC" market data as "-USD"
        return product

    def new_decoder(self, rings: Rings) -> Decoder:
        return CoinbaseDecoder(rings.trades, rings.tickers, rings.candles)

    @staticmethod
    def request(kind: str, channel: str, products: Sequence[str] = ()) -> bytes:
        message: dict[str, Any] = {"type": kind}
        if products:
            message["product_ids"] = list(products)
        message["channel"] = channel
        return json.dumps(message, separators=(",", ":")).encode()

    @staticmethod
    def products_by_channel(subscriptions: Sequence[Subscription]) -> dict[Channel, list[str]]:
        grouped: dict[Channel, list[str]] = {channel: [] for channel in SUBSCRIBE_ORDER}
        for sub in subscriptions:
            product = sub.instrument.venue_symbol
            if product not in grouped[sub.channel]:
                grouped[sub.channel].append(product)
        return grouped

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        """One message per channel (the venue takes one channel per message), heartbeats
        first: they keep the connection open when the other channels are quiet."""
        grouped = self.products_by_channel(subscriptions)
        self.awaiting_snapshot.update(grouped[Channel.BOOK])
        for channel, products in grouped.items():
            if products:
                self.subscribes.sent(next(self.request_ids),
                                     [s for s in subscriptions if s.channel is channel])
        return [self.request("subscribe", "heartbeats")] + [
            self.request("subscribe", CHANNEL_NAMES[channel], products)
            for channel, products in grouped.items() if products]

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        grouped = self.products_by_channel(subscriptions)
        self.awaiting_snapshot.difference_update(grouped[Channel.BOOK])
        return [self.request("unsubscribe", CHANNEL_NAMES[channel], products)
                for channel, products in grouped.items() if products]

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if message.get("type") == "error":
            text = " ".join(str(message[key]) for key in ("message", "reason") if key in message)
            self.errors.append(text)
            log.warning("coinbase refused a request: %s", text)
            # the error names no request, only the product ("FOO-BAR is not a valid product"):
            # the latest subscribe that carried it was refused whole
            carried = self.subscribes.carrying(PRODUCT_ID.findall(text))
            if carried:
                link.refuse(carried, text)
            return
        channel = message.get("channel")
        for event in message.get("events", ()):
            if channel == "heartbeats":
                self.heartbeats += 1
            elif channel == "subscriptions":
                self.subscriptions = event.get("subscriptions", {})
            elif channel == "status":
                for product in event.get("products", ()):
                    self.product_status[product.get("id")] = product.get("status")

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """Waits for the level2 snapshot the subscription itself brings; when the book was
        withdrawn later (a gap), resubscribes its level2 channel first to get a new one."""
        product = subscription.instrument.venue_symbol
        decoder = cast(CoinbaseDecoder, link.decoder)
        if product in self.awaiting_snapshot:
            self.awaiting_snapshot.discard(product)
        else:
            await self.resubscribe(link, product)
        async with asyncio.timeout(self.snapshot_timeout):
            while decoder.sync_state(slot) != BookSyncState.LIVE:
                await asyncio.sleep(0.01)
        decoder.announce(slot)

    async def resubscribe(self, link: Link, product: str) -> None:
        """A gap withdraws every book of the connection at once: their resubscriptions are
        gathered into one unsubscribe and one subscribe message."""
        batch = self.resubscribing.get(link)
        if batch is not None:
            batch.add(product)
            return
        batch = self.resubscribing[link] = {product}
        try:
            await asyncio.sleep(0)      # the syncs started in the same pass join the batch
        finally:
            del self.resubscribing[link]
        products = sorted(batch)
        await self.resubscribe_limiter.acquire()
        link.send(self.request("unsubscribe", "level2", products))
        await self.resubscribe_limiter.acquire()
        link.send(self.request("subscribe", "level2", products))


class CoinbasePrivateStream(PrivateVenue):
    """One account's ``user`` channel on the user-order-data endpoint. Before every dial the
    server time is read (``/api/v3/brokerage/time``) so each JWT's ``nbf``/``exp`` are on
    Coinbase's clock; every subscribe (``user``, and ``heartbeats`` to keep the socket busy)
    carries a JWT made for it (a JWT lives 120 s). ``{"type": "error", "message":
    "authentication failure"}`` is the key refused: the typed error, no reconnect. The
    subscribe brings a snapshot of the open orders, so after a reconnect the orders' state
    is whole again; fills made while disconnected show in the snapshot's cumulative figures,
    not as fills."""

    name = "coinbase"
    market = "spot"
    private_channels = PRIVATE_CHANNELS
    subscribe_authenticates = True

    def __init__(self, venue: CoinbaseVenue, credentials: Credentials) -> None:
        self.venue = venue
        self.credentials = credentials
        self.clock = ServerClock()
        self.url = venue.private_url
        self.time_url = venue.rest_base + SERVER_TIME_PATH
        self.rest = RestClient(verify_tls=venue.verify_tls)
        self.limits = ConnectionLimits(streams_per_connection=8, args_per_request=1,
                                       requests_per_second=3.0, max_connections=1)
        self.heartbeat = venue.heartbeat
        self.subscribed = False
        self.errors: list[str] = []

    async def authenticate(self, link: Link) -> None:
        try:
            auth.load_private_key(self.credentials.secret)
        except (auth.JwtRejected, ValueError, TypeError):
            raise AuthError("coinbase", "the secret is not a CDP EC P-256 PEM or Ed25519 "
                            "key") from None
        self.subscribed = False
        sent = self.clock.local_ms()
        body: Any = json.loads(await self.rest.get(self.time_url))
        received = self.clock.local_ms()
        millis = body.get("epochMillis") if isinstance(body, dict) else None
        if not isinstance(millis, (str, int)) or not str(millis).isdigit():
            raise ValueError("coinbase server time answer without epochMillis")
        self.clock.learn(int(millis), sent, received)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        return self.venue.venue_symbol(symbol)

    def new_decoder(self, rings: Rings) -> Decoder:
        return CoinbasePrivateDecoder(rings.orders, rings.balances, rings.positions,
                                      default_price_scale=PRICE_SCALE,
                                      default_size_scale=SIZE_SCALE)

    def jwt(self) -> str:
        """``nbf`` a second before the server's now as estimated: the estimate can be a few
        ms ahead, and a JWT not yet valid is refused like a bad signature."""
        return auth.build_ws_jwt(self.credentials.key, self.credentials.secret,
                                 (self.clock.now_ms() - JWT_SLACK_MS) // 1000,
                                 secrets.token_hex())

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        """All products' orders (a symbol filter is applied on this side), one JWT each."""
        if self.subscribed or not subscriptions:
            return []
        self.subscribed = True
        heartbeats = json.dumps({"type": "subscribe", "channel": "heartbeats",
                                 "jwt": self.jwt()}, separators=(",", ":"))
        return [auth.subscribe_message(self.jwt()).encode(), heartbeats.encode()]

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        if message.get("channel") == "subscriptions":
            if any(isinstance(event, dict) and isinstance(event.get("subscriptions"), dict)
                   and auth.USER_CHANNEL in event["subscriptions"]
                   for event in message.get("events") or ()):
                link.authenticated()           # the JWT was accepted
            return
        if message.get("type") != "error":
            return
        text = str(message.get("message", ""))[:200]
        if "authentication" in text.lower():
            link.reject_auth(AuthError("coinbase", text))
            return
        self.errors.append(text)
        log.warning("coinbase private stream refused a request: %s", text)

    async def release(self) -> None:
        await self.rest.close()
