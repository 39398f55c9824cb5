"""Bybit v5 market data, spot and linear (USDT perpetuals): URLs, limits, topics,
keepalive, book sync; and the private stream (orders, wallet, positions) with its ``auth``.

Facts and their sources are in docs/venues/bybit.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
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
from feedhandler.exchanges.bybit import auth
from feedhandler.exchanges.bybit.decoder import BybitDecoder
from feedhandler.exchanges.bybit.private import BybitPrivateDecoder
from feedhandler.net.clock import ServerClock
from feedhandler.net.ratelimit import RateLimiter
from feedhandler.net.rest import RestClient

log = logging.getLogger(__name__)

WS_BASE = "wss://stream.bybit.com/v5/public"
REST_BASE = "https://api.bybit.com"
SERVER_TIME_PATH = "/v5/market/time"

TIMEFRAMES: dict[str, str] = {
    # unified timeframe: Bybit kline interval
    "1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "2h": "120",
    "4h": "240", "6h": "360", "12h": "720", "1d": "D", "1w": "W", "1M": "M",
}
BOOK_DEPTHS: dict[str, tuple[int, ...]] = {
    # spot depth 1 is not offered as a book: the ticker channel uses orderbook.1 for spot's
    # best bid and offer, which its tickers topic does not carry
    "spot": (50, 200, 1000),
    # linear 500 was removed on 2025-09-11 (docs/venues/bybit.md): depth=500 is served by
    # 1000 cut to 500 levels
    "linear": (1, 50, 200, 1000),
}
DEFAULT_DEPTH = 50
PRIVATE_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "spot": (Channel.ORDERS, Channel.BALANCE),
    "linear": (Channel.ORDERS, Channel.BALANCE, Channel.POSITIONS),
}
AUTH_EXPIRY_MS = 10_000
"""How far past the server's clock the ``auth`` expiry is set (Bybit's window is one-sided;
the docs sign now + 1 s, which users report refused on slow links, now + 10 s works)."""

MARKETS = {
    # market: (args per subscribe request, topics per connection)
    "spot": (10, 200),
    "linear": (100, 500),
}


class BybitVenue(InBandBookVenue):
    """One Bybit market on its own ``/v5/public/<market>`` socket; topics are subscribed by
    ``{"op": "subscribe"}`` requests.

    Books are subscribed by ``sync_book`` rather than by ``subscribe_requests``: the snapshot
    arrives in-band after the subscribe, so the request is sent only once the book is held,
    and a resync is an unsubscribe followed by a subscribe, which brings a fresh snapshot.
    """

    name = "bybit"
    timeframes = tuple(TIMEFRAMES)
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)

    def __init__(self, market: str = "spot", *, ws_url: str | None = None,
                 private_ws_url: str | None = None, rest_url: str | None = None,
                 requests_per_second: float = 10.0, snapshot_timeout: float = 10.0,
                 ping_interval: float = 20.0, verify_tls: bool = True) -> None:
        """``ws_url`` replaces the whole public endpoint URL, ``private_ws_url`` the private
        one and ``rest_url`` the REST base (server time); tests point them at a simulator.
        ``verify_tls`` applies to that REST call (market data needs no REST). ``ping_interval``
        is the idle time before an ``op: ping``, on public and private sockets alike."""
        if market not in MARKETS:
            raise ValueError(f"bybit market must be one of {sorted(MARKETS)}, got {market!r}")
        self.market = market
        self.spot = market == "spot"
        self.url = ws_url or f"{WS_BASE}/{market}"
        self.private_url = private_ws_url or auth.PRIVATE_WS_URL
        self.rest_base = (rest_url or REST_BASE).rstrip("/")
        self.verify_tls = verify_tls
        self.private_channels = PRIVATE_CHANNELS[market]
        self.book_depths = BOOK_DEPTHS[market]
        self.snapshot_timeout = snapshot_timeout
        args, streams = MARKETS[market]
        self.limits = ConnectionLimits(streams_per_connection=streams, args_per_request=args,
                                       requests_per_second=requests_per_second,
                                       max_connections=32)
        # Bybit recommends a ping every 20 s
        self.heartbeat = Heartbeat(ping_interval=ping_interval,
                                   pong_timeout=min(10.0, ping_interval),
                                   text_ping=b'{"op":"ping"}', pong_marker=b'"pong"')
        # book requests leave from sync_book tasks, outside the connection's pacing
        self.book_pacer = RateLimiter(requests_per_second, burst=1)
        self.request_ids = count(1)
        self.unsent_books: set[tuple[Any, ...]] = set()
        self.subscribes = SubscribeRequests()     # subscribe requests not yet answered
        self.errors: list[str] = []

    def private(self, credentials: Credentials) -> BybitPrivateStream:
        return BybitPrivateStream(self, credentials)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        """``BTC-USDT`` -> ``BTCUSDT`` (the same form on spot and linear)."""
        return symbol.replace("-", "").replace("/", "").upper()

    def new_decoder(self, rings: Rings) -> Decoder:
        return BybitDecoder(rings.trades, rings.tickers, rings.candles, spot=self.spot)

    # ---- requests --------------------------------------------------------------------------

    def topics(self, subscription: Subscription) -> list[str]:
        """The topics that carry one subscription; a spot ticker needs two (see the decoder)."""
        symbol = subscription.instrument.venue_symbol
        channel = subscription.channel
        if channel is Channel.TICKER:
            return [f"tickers.{symbol}", f"orderbook.1.{symbol}"] if self.spot \
                else [f"tickers.{symbol}"]
        if channel is Channel.TRADES:
            return [f"publicTrade.{symbol}"]
        if channel is Channel.OHLCV:
            assert subscription.timeframe is not None
            return [f"kline.{TIMEFRAMES[subscription.timeframe]}.{symbol}"]
        return [f"orderbook.{subscription.depth or DEFAULT_DEPTH}.{symbol}"]

    def request(self, op: str, subscriptions: Iterable[Subscription]) -> list[bytes]:
        """``op`` requests for the subscriptions' topics, at most ``args_per_request`` each;
        a subscribe remembers which subscriptions it carried."""
        args = [(topic, s) for s in subscriptions for topic in self.topics(s)]
        step = self.limits.args_per_request
        payloads = []
        for i in range(0, len(args), step):
            chunk = args[i:i + step]
            req_id = str(next(self.request_ids))
            if op == "subscribe":
                self.subscribes.sent(req_id, list({s.key: s for _, s in chunk}.values()))
            payloads.append(json.dumps({"op": op, "req_id": req_id,
                                        "args": [topic for topic, _ in chunk]},
                                       separators=(",", ":")).encode())
        return payloads

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.request("subscribe", self.hold_back_books(subscriptions))

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.request("unsubscribe", self.sent_subscriptions(subscriptions))

    # ---- control messages ------------------------------------------------------------------

    def handle_control(self, link: Link, raw: bytes) -> None:
        """Subscribe and unsubscribe replies; a refused one is recorded and logged, and a
        subscribe refused for a topic Bybit does not have ("handler not found") goes to the
        connection with what it carried (dropped for good)."""
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        carried = self.subscribes.answered(message.get("req_id")) \
            if message.get("op") == "subscribe" else ()
        if message.get("success") is not False:
            return
        reason = str(message.get("ret_msg"))
        text = f"{message.get('op', 'request')} (req_id {message.get('req_id')}): {reason}"
        self.errors.append(text)
        log.warning("bybit %s rejected %s", self.market, text)
        if carried and "handler not found" in reason:
            link.refuse(carried, reason)

    # ---- books -------------------------------------------------------------------------------

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """Bybit's procedure: (re)subscribe the topic, which answers with a snapshot; once
        the decoder has loaded a snapshot newer than the request, make the book live and
        replay the deltas it held since."""
        decoder = link.decoder
        assert isinstance(decoder, BybitDecoder)
        depth = subscription.depth or DEFAULT_DEPTH
        decoder.configure_book(slot, depth)
        topics = self.topics(subscription)
        before = decoder.snapshot_count(slot)
        await self.resubscribe_book(link, subscription,
                                    lambda: self.request("unsubscribe", [subscription]),
                                    lambda: self.request("subscribe", [subscription]))
        await wait_for_snapshot(
            lambda: decoder.snapshot_count(slot) != before and decoder.snapshot_loaded(slot),
            self.snapshot_timeout, f"bybit {self.market}: no {topics[0]} snapshot")
        decoder.mark_live(slot)
        decoder.replay_pending(slot)


class BybitPrivateStream(PrivateVenue):
    """One account's ``/v5/private`` stream for one category: before every dial the server
    time is read (``/v5/market/time``) so the ``auth`` expiry is set on Bybit's clock; the
    socket then sends ``auth`` (signed afresh), waits for its reply, and subscribes the
    category's topics. ``success: false`` on ``auth`` is the credentials refused: the typed
    error, no reconnect. Bybit replays nothing after a reconnect (no sequence numbers on
    order/execution/wallet): what happened while disconnected is only on REST."""

    name = "bybit"

    def __init__(self, venue: BybitVenue, credentials: Credentials) -> None:
        self.market = venue.market
        self.category = venue.market
        self.private_channels = PRIVATE_CHANNELS[venue.market]
        self.credentials = credentials
        self.clock = ServerClock()
        self.url = venue.private_url
        self.time_url = venue.rest_base + SERVER_TIME_PATH
        self.rest = RestClient(verify_tls=venue.verify_tls)
        self.limits = ConnectionLimits(streams_per_connection=64, args_per_request=10,
                                       requests_per_second=10.0, max_connections=1)
        self.heartbeat = venue.heartbeat       # the private endpoint answers op "pong"
        self.request_ids = count(1)
        self.subscribed: set[str] = set()      # topics sent on the current socket
        self.errors: list[str] = []

    async def authenticate(self, link: Link) -> None:
        sent = self.clock.local_ms()
        body: Any = json.loads(await self.rest.get(self.time_url))
        received = self.clock.local_ms()
        server_ms = body.get("time") if isinstance(body, dict) else None
        if not isinstance(server_ms, int):
            raise ValueError("bybit server time answer without time")
        self.clock.learn(server_ms, sent, received)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("-", "").replace("/", "").upper()

    def new_decoder(self, rings: Rings) -> Decoder:
        return BybitPrivateDecoder(rings.orders, rings.balances, rings.positions)

    def login_requests(self) -> list[bytes]:
        self.subscribed = set()                # a new socket: nothing subscribed on it yet
        credentials = self.credentials
        return [auth.auth_message(credentials.key, credentials.secret,
                                  self.clock.now_ms() + AUTH_EXPIRY_MS,
                                  req_id=f"auth-{next(self.request_ids)}").encode()]

    def topics(self, channel: Channel) -> list[str]:
        """Fills come from ``execution``, every other order state from ``order``."""
        if channel is Channel.ORDERS:
            return [auth.topic("order", self.category), auth.topic("execution", self.category)]
        if channel is Channel.BALANCE:
            return [auth.topic("wallet")]
        return [auth.topic("position", self.category)]

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        new = [t for s in subscriptions for t in self.topics(s.channel)
               if t not in self.subscribed]
        new = list(dict.fromkeys(new))
        if not new:
            return []
        self.subscribed.update(new)
        return [auth.subscribe_message(new, req_id=str(next(self.request_ids))).encode()]

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        request = message.get("request")
        op = message.get("op") or (request.get("op") if isinstance(request, dict) else None)
        if op == "auth":
            if message.get("success") is True:
                link.authenticated()
            else:
                link.reject_auth(AuthError(f"bybit {self.market}",
                                           str(message.get("ret_msg", ""))[:200]))
            return
        if message.get("success") is False:
            text = f"{op or 'request'}: {str(message.get('ret_msg'))[:200]}"
            self.errors.append(text)
            log.warning("bybit %s private stream refused %s", self.market, text)

    async def release(self) -> None:
        await self.rest.close()
