"""Coinbase Advanced Trade market data: URL, limits, subscribe payloads, book resync.

Facts and their sources are in docs/venues/coinbase.md. The level2 snapshot comes over the
WebSocket right after subscribing; a book is rebuilt by unsubscribing and subscribing its level2
channel again, which sends a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from feedhandler.core.decoder import BookSyncState, Decoder
from feedhandler.exchanges.base import (
    Channel,
    ConnectionLimits,
    Heartbeat,
    Link,
    Rings,
    Subscription,
    VenueAdapter,
)
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder
from feedhandler.net.ratelimit import RateLimiter

log = logging.getLogger(__name__)

WS_URL = "wss://advanced-trade-ws.coinbase.com"
TIMEFRAMES = ("5m",)                   # the candles channel has five-minute buckets only
BOOK_DEPTHS: tuple[int, ...] = ()      # level2 is the full book; no depth can be chosen
PRICE_SCALE = 10
SIZE_SCALE = 8

CHANNEL_NAMES = {Channel.TICKER: "ticker", Channel.TRADES: "market_trades",
                 Channel.OHLCV: "candles", Channel.BOOK: "level2"}
# level2 goes last: its snapshot can then only arrive after the book's sync has started
SUBSCRIBE_ORDER = (Channel.TICKER, Channel.TRADES, Channel.OHLCV, Channel.BOOK)

QUOTE_INCREMENTS = {
    "BTC-USD": "0.01", "ETH-USD": "0.01", "SOL-USD": "0.01", "LTC-USD": "0.01",
    "BTC-EUR": "0.01", "ETH-EUR": "0.01", "ETH-BTC": "0.00001", "DOGE-USD": "0.00001",
    "XRP-USD": "0.0001", "ADA-USD": "0.0001",
}
"""Price steps of a few large products: they only size the book's dense window (a price off
this grid is still kept exactly); unknown products get a step of one unit."""

USDC_PRODUCTS = frozenset({"USDT-USDC", "EURC-USDC"})
"""The only "-USDC" products with market data of their own; the others alias "-USD"."""


class CoinbaseVenue(VenueAdapter):
    """Coinbase Advanced Trade public market data (no authentication)."""

    name = "coinbase"
    timeframes = TIMEFRAMES
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)
    max_message_size = 32 << 20         # a level2 snapshot of a deep book is several MB

    def __init__(self, *, ws_url: str | None = None, verify_tls: bool = True,
                 snapshot_timeout: float = 10.0) -> None:
        """``verify_tls`` is accepted like every venue's options; Coinbase needs no REST
        session here (the WebSocket's TLS belongs to the connection)."""
        self.url = ws_url or WS_URL
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
        self.heartbeats = 0
        self.subscriptions: dict[str, list[str]] = {}    # as the venue last acknowledged them
        self.product_status: dict[str, str] = {}

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        product = symbol.upper().replace("/", "-")
        if product.endswith("-USDC") and product not in USDC_PRODUCTS:
            return product[:-1]     # the venue serves "-USDC" market data as "-USD"
        return product

    def scales(self, symbol: str) -> tuple[int, int, int]:
        increment = QUOTE_INCREMENTS.get(self.venue_symbol(symbol))
        tick = int(Decimal(increment).scaleb(PRICE_SCALE)) if increment else 1
        return PRICE_SCALE, SIZE_SCALE, tick

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
