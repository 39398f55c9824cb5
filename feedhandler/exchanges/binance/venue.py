"""Binance spot and USD-M futures: URLs, limits, stream names, snapshot sync, user data
streams (spot: the WebSocket API subscription; USD-M: a listen key).

Facts and their sources are in docs/venues/binance.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from itertools import count
from typing import Any

from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.auth.redact import forget_secret, redact, register_secret
from feedhandler.core.decoder import Decoder
from feedhandler.exchanges.base import (
    Channel,
    ConnectionLimits,
    Heartbeat,
    Link,
    PrivateVenue,
    Rings,
    Subscription,
    SubscriptionRefused,
    VenueAdapter,
)
from feedhandler.exchanges.binance import auth
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.binance.private import BinancePrivateDecoder
from feedhandler.net.clock import ServerClock
from feedhandler.net.rest import RestClient, RestError

log = logging.getLogger(__name__)

TIMEFRAMES = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d",
              "3d", "1w", "1M")
BOOK_DEPTHS = (1000,)

MARKETS = {
    # market: (websocket base, REST base, depth path, subscribe requests per second)
    "spot": ("wss://stream.binance.com:9443", "https://api.binance.com", "/api/v3/depth", 5),
    "usdm": ("wss://fstream.binance.com", "https://fapi.binance.com", "/fapi/v1/depth", 10),
}
# market-data endpoints by endpoint key: the combined-stream path under the WebSocket base.
# USD-M split its URLs on 2026-03-06 (the single /stream retired 2026-04-23): books and book
# tickers on /public, trades and klines on /market.
STREAM_PATHS = {"spot": {"": "/stream"},
                "usdm": {"public": "/public/stream", "market": "/market/stream"}}
USDM_PUBLIC_CHANNELS = (Channel.BOOK, Channel.TICKER)
PRIVATE_CHANNELS = {"spot": (Channel.ORDERS, Channel.BALANCE),
                    "usdm": (Channel.ORDERS, Channel.BALANCE, Channel.POSITIONS)}
# spot user data: subscribed on the WebSocket API (listen keys retired 2026-02-20)
WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
WS_API_PATH = "/ws-api/v3"
SERVER_TIME_PATH = "/api/v3/time"
# USD-M user data: a listen key (USER_STREAM security: API key, no signature) on /private;
# the events filter is strict, so listenKeyExpired is asked for too
LISTEN_KEY_PATH = "/fapi/v1/listenKey"
USDM_PRIVATE_PATH = "/private/ws"
USDM_PRIVATE_EVENTS = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/listenKeyExpired"
KEEPALIVE_INTERVAL = 30 * 60.0     # Binance: a listen key lives 60 min, PUT about every 30
# error codes that mean the key itself is refused (never retried): API-key format invalid,
# invalid key / IP / permissions, bad signature, timestamp outside recvWindow
AUTH_ERROR_CODES = {-2014, -2015, -1022, -1021}
LISTEN_KEY_GONE = -1125            # "This listenKey does not exist."
INVALID_SYMBOL = -1121             # "Invalid symbol."
SERVER_SHUTDOWN = "serverShutdown"


def rest_error_body(error: RestError) -> dict[str, Any]:
    """Binance's JSON error body (``{"code": -1121, "msg": ...}``), empty when it is none."""
    try:
        body: Any = json.loads(error.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class BinanceVenue(VenueAdapter):
    """One Binance market. Streams are combined (``/stream``) and subscribed by message; USD-M
    has two market-data endpoints, kept apart by ``endpoint_key``."""

    name = "binance"
    timeframes = TIMEFRAMES
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)
    connection_lifetime = 24 * 3600.0    # docs/venues/binance.md: "only valid for 24 hours"

    def __init__(self, market: str = "spot", *, ws_url: str | None = None,
                 public_ws_url: str | None = None, market_ws_url: str | None = None,
                 ws_api_url: str | None = None, rest_url: str | None = None,
                 verify_tls: bool = True, snapshot_limit: int = 1000,
                 listen_key_keepalive: float = KEEPALIVE_INTERVAL) -> None:
        """``ws_url`` is the WebSocket base every endpoint hangs off (``/stream``; USD-M
        ``/public/stream``, ``/market/stream``, ``/private/ws``; the spot WebSocket API at
        ``/ws-api/v3`` when ``ws_url`` is given, else Binance's own host), so a simulator
        serving every path needs one URL. ``public_ws_url`` / ``market_ws_url`` (USD-M) and
        ``ws_api_url`` (spot) override one endpoint's whole URL. ``listen_key_keepalive``:
        seconds between the USD-M listen-key PUTs."""
        if market not in MARKETS:
            raise ValueError(f"binance market must be one of {sorted(MARKETS)}, got {market!r}")
        ws_base, rest_base, self.depth_path, rate = MARKETS[market]
        self.market = market
        self.futures = market == "usdm"
        self.ws_base = (ws_url or ws_base).rstrip("/")
        self.rest_base = (rest_url or rest_base).rstrip("/")
        self.stream_urls = {key: self.ws_base + path
                            for key, path in STREAM_PATHS[market].items()}
        overrides = {"public": public_ws_url, "market": market_ws_url}
        for key, url in overrides.items():
            if url is not None:
                if key not in self.stream_urls:
                    raise ValueError(f"binance {market} has no {key} endpoint")
                self.stream_urls[key] = url
        if ws_api_url is not None and self.futures:
            raise ValueError("ws_api_url is the spot WebSocket API; USD-M takes no such URL")
        self.ws_api_url = ws_api_url or (WS_API_URL if ws_url is None
                                         else self.ws_base + WS_API_PATH)
        self.snapshot_limit = snapshot_limit
        self.listen_key_keepalive = listen_key_keepalive
        # the venue counts pings, pongs and control messages against the rate: keep headroom
        self.limits = ConnectionLimits(streams_per_connection=1024, args_per_request=100,
                                       requests_per_second=rate - 1, max_connections=32)
        self.heartbeat = Heartbeat(ping_interval=30.0, pong_timeout=10.0)
        self.rest = RestClient(verify_tls=verify_tls)
        self.request_ids = count(1)
        self.subscribe_ids: set[int] = set()     # SUBSCRIBE requests not yet answered
        self.errors: list[str] = []

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        key = self.endpoint_key(subscriptions[0]) if subscriptions else next(
            iter(self.stream_urls))
        return self.stream_urls[key]

    def endpoint_key(self, subscription: Subscription) -> str:
        if not self.futures:
            return ""
        return "public" if subscription.channel in USDM_PUBLIC_CHANNELS else "market"

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
        snapshots that no update stream would ever follow, so they must not stay live.
        ``serverShutdown`` (raw or combined) asks for a new connection now."""
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        data = message.get("data")
        event = data if isinstance(data, dict) else message
        if event.get("e") == SERVER_SHUTDOWN:
            link.rotate(SERVER_SHUTDOWN)
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
        snapshot older than the first held update is detected as a gap). Binance's streams
        accept a symbol it does not list (and stay silent); its REST answer ``-1121`` is
        where an unknown symbol shows: that book can never sync."""
        try:
            body = await self.rest.get(
                self.rest_base + self.depth_path,
                {"symbol": subscription.instrument.venue_symbol, "limit": self.snapshot_limit})
        except RestError as exc:
            if rest_error_body(exc).get("code") == INVALID_SYMBOL:
                raise SubscriptionRefused(subscription, exc.body[:200]) from exc
            raise
        decoder = link.decoder
        assert isinstance(decoder, BinanceDecoder)
        decoder.apply_snapshot(slot, body)
        decoder.replay_pending(slot)

    async def close(self) -> None:
        await self.rest.close()

    @property
    def private_channels(self) -> Sequence[Channel]:  # type: ignore[override]
        return PRIVATE_CHANNELS[self.market]

    def private(self, credentials: Credentials) -> BinanceUserStream:
        if self.futures:
            return BinanceListenKeyStream(self, credentials,
                                          keepalive_interval=self.listen_key_keepalive)
        return BinanceWsApiStream(self, credentials)


class BinanceUserStream(PrivateVenue):
    """One account's user data stream: what spot and USD-M share (the decoder, the channels,
    no subscribe: the stream carries every private event of the account)."""

    name = "binance"

    def __init__(self, venue: BinanceVenue, credentials: Credentials) -> None:
        self.market = venue.market
        self.futures = venue.futures
        self.channels = PRIVATE_CHANNELS[venue.market]
        self.private_channels = self.channels
        self.credentials = credentials
        self.clock = ServerClock()
        self.ws_base = venue.ws_base
        self.limits = ConnectionLimits(streams_per_connection=8, args_per_request=8,
                                       requests_per_second=4)
        self.heartbeat = venue.heartbeat
        self.rest = RestClient(verify_tls=venue.rest.verify_tls)
        self.errors: list[str] = []

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("-", "").replace("/", "").upper()

    def new_decoder(self, rings: Rings) -> Decoder:
        return BinancePrivateDecoder(rings.orders, rings.balances, rings.positions,
                                     futures=self.futures)

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return []

    def unexpected(self, raw: bytes) -> None:
        self.errors.append(redact(raw[:200].decode("utf-8", "replace")))
        log.warning("binance %s user data stream: unexpected message %s", self.market,
                    redact(repr(raw[:200])))

    async def release(self) -> None:
        await self.rest.close()


class BinanceWsApiStream(BinanceUserStream):
    """Spot: the account's events on the WebSocket API. Before every dial the server time is
    read (``/api/v3/time``); every connection sends ``userDataStream.subscribe.signature``
    signed afresh on that clock and goes live on ``status`` 200. No listen key, no
    keepalive: the subscription lives as long as the socket. A refusal whose code is in
    ``AUTH_ERROR_CODES`` is the key refused (never retried); ``eventStreamTerminated``
    subscribes again on the same socket; ``serverShutdown`` rotates the connection."""

    def __init__(self, venue: BinanceVenue, credentials: Credentials) -> None:
        super().__init__(venue, credentials)
        try:
            self.sign = auth.signer(credentials.secret)
        except auth.UnusableKey as exc:
            raise AuthError("binance spot", str(exc)) from None
        self.url = venue.ws_api_url
        self.time_url = venue.rest_base + SERVER_TIME_PATH
        self.request_ids = count(1)
        self.subscribes: set[str] = set()        # subscribe requests not yet answered
        self.subscription_id: int | None = None
        self.terminations = 0

    async def authenticate(self, link: Link) -> None:
        sent = self.clock.local_ms()
        body: Any = json.loads(await self.rest.get(self.time_url))
        received = self.clock.local_ms()
        server_ms = body.get("serverTime") if isinstance(body, dict) else None
        if not isinstance(server_ms, int):
            raise ValueError("binance server time answer without serverTime")
        self.clock.learn(server_ms, sent, received)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def subscribe_request(self) -> bytes:
        request_id = f"uds-{next(self.request_ids)}"
        self.subscribes.add(request_id)
        return auth.subscribe_message(request_id, self.credentials.key, self.clock.now_ms(),
                                      self.sign)

    def login_requests(self) -> list[bytes]:
        self.subscribes.clear()
        self.subscription_id = None
        return [self.subscribe_request()]

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return self.unexpected(raw)
        event = message.get("event")
        if isinstance(event, dict):
            kind = event.get("e")
            if kind == SERVER_SHUTDOWN:
                link.rotate(SERVER_SHUTDOWN)
            elif kind == "eventStreamTerminated":
                # the subscription ended but the socket lives: subscribe again, signed now
                self.terminations += 1
                self.subscription_id = None
                link.send(self.subscribe_request())
            else:
                self.unexpected(raw)
            return
        request_id = message.get("id")
        if not isinstance(request_id, str) or request_id not in self.subscribes:
            return self.unexpected(raw)
        self.subscribes.discard(request_id)
        result = message.get("result")
        if message.get("status") == 200 and isinstance(result, dict):
            self.subscription_id = result.get("subscriptionId")
            link.authenticated()
            return
        error = message.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        reason = str(error.get("msg", "") if isinstance(error, dict) else error)[:200]
        if code in AUTH_ERROR_CODES or message.get("status") in (401, 403):
            link.reject_auth(AuthError("binance spot", reason, code))
            return
        self.errors.append(redact(f"{message.get('status')} {code} {reason}"))
        link.reconnect(redact(f"user data subscribe failed: {message.get('status')} {code} "
                              f"{reason}"))


class BinanceListenKeyStream(BinanceUserStream):
    """USD-M: POST a listen key before every dial (Binance returns the active key, or a new
    one once it expired), dial ``/private/ws?listenKey=<key>&events=...``, PUT it every
    ``keepalive_interval`` s, DELETE it at stop."""

    def __init__(self, venue: BinanceVenue, credentials: Credentials, *,
                 keepalive_interval: float = KEEPALIVE_INTERVAL) -> None:
        super().__init__(venue, credentials)
        self.listen_key_url = venue.rest_base + LISTEN_KEY_PATH
        self.keepalive_interval = keepalive_interval
        self.listen_key: str | None = None
        self.keepalives = 0

    def auth_error(self, error: RestError) -> AuthError | None:
        """The AuthError a REST failure means, None when it is transient (or the key gone)."""
        body = rest_error_body(error)
        code = body.get("code")
        if code in AUTH_ERROR_CODES or (error.status in (401, 403) and code != LISTEN_KEY_GONE):
            return AuthError(f"binance {self.market}", str(body.get("msg", error.body))[:200],
                             code)
        return None

    async def call(self, method: str, listen_key: str | None = None) -> bytes:
        params = {"listenKey": listen_key} if listen_key is not None else None
        try:
            return await self.rest.request(method, self.listen_key_url, params,
                                           {"X-MBX-APIKEY": self.credentials.key})
        except RestError as exc:
            refused = self.auth_error(exc)
            if refused is not None:
                raise refused from None
            raise

    async def authenticate(self, link: Link) -> None:
        body = json.loads(await self.call("POST"))
        key = body.get("listenKey") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            raise ValueError("listen key answer without listenKey")
        register_secret(key)     # a bearer secret in the WebSocket URL
        self.listen_key = key

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        if self.listen_key is None:
            raise RuntimeError("binance user data stream dialled before authenticate")
        return (f"{self.ws_base}{USDM_PRIVATE_PATH}?listenKey={self.listen_key}"
                f"&events={USDM_PRIVATE_EVENTS}")

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if isinstance(message, dict) and message.get("e") == "listenKeyExpired":
            # no event follows on this key: a fresh one and a fresh socket
            self.listen_key = None
            link.reconnect("listen key expired")
            return
        self.unexpected(raw)

    async def keepalive(self, link: Link) -> None:
        while True:
            await asyncio.sleep(self.keepalive_interval)
            key = self.listen_key
            if key is None:
                continue
            try:
                await self.call("PUT", key)
                self.keepalives += 1
            except AuthError as exc:
                link.reject_auth(exc)
                return
            except RestError as exc:
                log.warning("binance %s listen key keepalive failed (%d); renewing the stream",
                            self.market, exc.status)
                self.listen_key = None
                link.reconnect("listen key keepalive failed")

    async def release(self) -> None:
        key, self.listen_key = self.listen_key, None
        try:
            if key is not None:
                await self.call("DELETE", key)
        finally:
            await super().release()
            if key is not None:
                forget_secret(key)
