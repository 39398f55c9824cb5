"""Binance spot and USD-M futures: URLs, limits, stream names, snapshot sync.

Facts and their sources are in docs/venues/binance.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from itertools import count

from feedhandler.core.decoder import Decoder
from feedhandler.exchanges.base import (
    Channel,
    ConnectionLimits,
    Heartbeat,
    Link,
    Rings,
    Subscription,
    VenueAdapter,
)
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.net.rest import RestClient

log = logging.getLogger(__name__)

TIMEFRAMES = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d",
              "3d", "1w", "1M")
BOOK_DEPTHS = (1000,)

MARKETS = {
    # market: (websocket base, REST base, depth path, subscribe requests per second)
    "spot": ("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth", 5),
    "usdm": ("wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1/depth", 10),
}


class BinanceVenue(VenueAdapter):
    """One Binance market. Streams are combined (``/stream``) and subscribed by message."""

    name = "binance"
    timeframes = TIMEFRAMES
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)

    def __init__(self, market: str = "spot", *, ws_url: str | None = None,
                 rest_url: str | None = None, verify_tls: bool = True,
                 snapshot_limit: int = 1000) -> None:
        if market not in MARKETS:
            raise ValueError(f"binance market must be one of {sorted(MARKETS)}, got {market!r}")
        ws_base, rest_base, self.depth_path, rate = MARKETS[market]
        self.market = market
        self.futures = market == "usdm"
        self.ws_base = (ws_url or ws_base).rstrip("/")
        self.rest_base = (rest_url or rest_base).rstrip("/")
        self.snapshot_limit = snapshot_limit
        # the venue counts pings, pongs and control messages against the rate: keep headroom
        self.limits = ConnectionLimits(streams_per_connection=1024, args_per_request=100,
                                       requests_per_second=rate - 1, max_connections=32)
        self.heartbeat = Heartbeat(ping_interval=30.0, pong_timeout=10.0)
        self.rest = RestClient(verify_tls=verify_tls)
        self.request_ids = count(1)
        self.subscribe_ids: set[int] = set()     # SUBSCRIBE requests not yet answered
        self.errors: list[str] = []

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return f"{self.ws_base}/stream"

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("-", "").replace("/", "").upper()

    def stream_name(self, subscription: Subscription) -> str:
        symbol = subscription.instrument.venue_symbol.lower()
        channel = subscription.channel
        if channel is Channel.TICKER:
            return f"{symbol}@bookTicker"
        if channel is Channel.TRADES:
            return f"{symbol}@{'aggTrade' if self.futures else 'trade'}"
        if channel is Channel.BOOK:
            return f"{symbol}@depth@100ms"
        return f"{symbol}@kline_{subscription.timeframe}"

    def new_decoder(self, rings: Rings) -> Decoder:
        return BinanceDecoder(rings.trades, rings.tickers, rings.candles, futures=self.futures)

    def _request(self, method: str, subscriptions: Sequence[Subscription]) -> bytes:
        request_id = next(self.request_ids)
        if method == "SUBSCRIBE":
            self.subscribe_ids.add(request_id)
        return json.dumps({"method": method,
                           "params": [self.stream_name(s) for s in subscriptions],
                           "id": request_id}).encode()

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return [self._request("SUBSCRIBE", subscriptions)]

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return [self._request("UNSUBSCRIBE", subscriptions)]

    def handle_control(self, link: Link, raw: bytes) -> None:
        """A refused SUBSCRIBE renews the connection: its books were synced from REST
        snapshots that no update stream would ever follow, so they must not stay live."""
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        request_id = message.get("id")
        refused_subscribe = isinstance(request_id, int) and request_id in self.subscribe_ids
        if refused_subscribe:
            self.subscribe_ids.discard(request_id)
        error = message.get("error")
        if error:
            text = f"request {request_id}: {error}"
            self.errors.append(text)
            log.warning("binance %s rejected %s", self.market, text)
            if refused_subscribe:
                link.reconnect(f"subscribe refused: {text}")

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """Binance's documented procedure: the updates since subscribing are held by the
        decoder; fetch a snapshot, load it, replay what was held (stale ones are dropped and a
        snapshot older than the first held update is detected as a gap)."""
        body = await self.rest.get(
            self.rest_base + self.depth_path,
            {"symbol": subscription.instrument.venue_symbol, "limit": self.snapshot_limit})
        decoder = link.decoder
        assert isinstance(decoder, BinanceDecoder)
        decoder.apply_snapshot(slot, body)
        decoder.replay_pending(slot)

    async def close(self) -> None:
        await self.rest.close()
