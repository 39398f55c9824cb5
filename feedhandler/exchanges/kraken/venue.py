"""Kraken spot, WebSocket API v2: URL, limits, subscribe payloads, keepalive, book sync;
and the private stream (executions, balances) on a REST ``GetWebSocketsToken`` token.

Facts and their sources are in docs/venues/kraken.md.
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
from feedhandler.exchanges.kraken import auth
from feedhandler.exchanges.kraken.decoder import KrakenDecoder
from feedhandler.exchanges.kraken.private import KrakenPrivateDecoder
from feedhandler.net.clock import ServerClock
from feedhandler.net.ratelimit import RateLimiter
from feedhandler.net.rest import RestClient, RestError

log = logging.getLogger(__name__)

WS_URL = "wss://ws.kraken.com/v2"

TIMEFRAMES: dict[str, int] = {
    # unified timeframe: Kraken ohlc interval in minutes
    "1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440, "1w": 10080,
    "15d": 21600,
}
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
DEFAULT_DEPTH = 10

UNKNOWN_PAIR = "Currency pair not supported"   # a subscribe refused for a pair Kraken lacks
PRIVATE_CHANNELS = (Channel.ORDERS, Channel.BALANCE)     # spot: no positions channel
REFUSED_PREFIXES = ("EAPI:", "EGeneral:Permission denied", "EAccount:", "ESession:")
"""Errors that are the credentials (or their permissions) refused; any other is retried."""


class KrakenVenue(InBandBookVenue):
    """Kraken spot. Every channel is subscribed by JSON request on one ``/v2`` socket.

    Books are subscribed by ``sync_book`` rather than by ``subscribe_requests``: the snapshot
    arrives in-band after the subscribe, so the request that asks for it is sent only once the
    book is held, and a resync is an unsubscribe followed by a subscribe with a snapshot.
    """

    name = "kraken"
    market = "spot"
    timeframes = tuple(TIMEFRAMES)
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)

    private_channels = PRIVATE_CHANNELS

    def __init__(self, *, ws_url: str | None = None, private_ws_url: str | None = None,
                 rest_url: str | None = None,
                 requests_per_second: float = 5.0, snapshot_timeout: float = 10.0,
                 ping_interval: float = 10.0, verify_tls: bool = True) -> None:
        """``private_ws_url`` and ``rest_url`` (the base of the instruments and token
        requests) replace the venue's endpoints; tests point them at a simulator.
        ``verify_tls`` applies to the token request.
        ``ping_interval`` is the idle time before a ``{"method":"ping"}``, public and
        private sockets alike."""
        self.url = ws_url or WS_URL
        self.private_url = private_ws_url or auth.PRIVATE_WS_URL
        self.rest_base = (rest_url or auth.REST_BASE_URL).rstrip("/")
        self.verify_tls = verify_tls
        self.snapshot_timeout = snapshot_timeout
        self.limits = ConnectionLimits(streams_per_connection=100, args_per_request=20,
                                       requests_per_second=requests_per_second,
                                       max_connections=20)
        self.heartbeat = Heartbeat(ping_interval=ping_interval,
                                   pong_timeout=min(5.0, ping_interval),
                                   text_ping=b'{"method":"ping"}', pong_marker=b'"pong"')
        # book requests leave from sync_book tasks, outside the connection's pacing
        self.book_pacer = RateLimiter(requests_per_second, burst=1)
        self.request_ids = count(1)
        self.unsent_books: set[tuple[Any, ...]] = set()
        self.subscribes = SubscribeRequests()     # what each subscribe request carried
        self.errors: list[str] = []
        self.system_status = ""

    def private(self, credentials: Credentials) -> KrakenPrivateStream:
        return KrakenPrivateStream(self, credentials)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        """``BTC-USD`` -> ``BTC/USD``; v2 names bitcoin BTC, so a legacy XBT is renamed."""
        base, _, quote = symbol.upper().replace("/", "-").partition("-")
        base = "BTC" if base == "XBT" else base
        quote = "BTC" if quote == "XBT" else quote
        return f"{base}/{quote}"

    def new_decoder(self, rings: Rings) -> Decoder:
        return KrakenDecoder(rings.trades, rings.tickers, rings.candles)

    # ---- requests --------------------------------------------------------------------------

    def request(self, method: str, channel: str, subscriptions: Sequence[Subscription],
                **params: object) -> bytes:
        """One request; a subscribe remembers which subscriptions it carried."""
        req_id = next(self.request_ids)
        if method == "subscribe":
            self.subscribes.sent(req_id, subscriptions)
        body = {"method": method,
                "params": {"channel": channel,
                           "symbol": [s.instrument.venue_symbol for s in subscriptions],
                           **params},
                "req_id": req_id}
        return json.dumps(body, separators=(",", ":")).encode()

    def grouped(self, method: str, subscriptions: Iterable[Subscription]) -> list[bytes]:
        """One request per channel and parameter set, in first-seen order."""
        groups: dict[tuple[str, tuple[tuple[str, object], ...]], list[Subscription]] = {}
        for sub in subscriptions:
            channel, params = self.channel_params(sub, method)
            groups.setdefault((channel, tuple(params.items())), []).append(sub)
        return [self.request(method, channel, subs, **dict(params))
                for (channel, params), subs in groups.items()]

    @staticmethod
    def channel_params(sub: Subscription, method: str) -> tuple[str, dict[str, object]]:
        subscribing = method == "subscribe"
        if sub.channel is Channel.TICKER:
            # top of book on every change of the best bid or offer, the current one at once
            return "ticker", ({"event_trigger": "bbo", "snapshot": True} if subscribing
                              else {"event_trigger": "bbo"})
        if sub.channel is Channel.TRADES:
            return "trade", {"snapshot": False} if subscribing else {}
        if sub.channel is Channel.OHLCV:
            assert sub.timeframe is not None
            interval = TIMEFRAMES[sub.timeframe]
            return "ohlc", ({"interval": interval, "snapshot": False} if subscribing
                            else {"interval": interval})
        depth = sub.depth or DEFAULT_DEPTH
        return "book", {"depth": depth, "snapshot": True} if subscribing else {"depth": depth}

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.grouped("subscribe", self.hold_back_books(subscriptions))

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.grouped("unsubscribe", self.sent_subscriptions(subscriptions))

    # ---- control messages ------------------------------------------------------------------

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        if message.get("channel") == "status":
            for status in message.get("data") or ():
                self.system_status = str(status.get("system", ""))
                log.info("kraken: system %s (api %s)", self.system_status,
                         status.get("api_version"))
            return
        error = message.get("error") or message.get("Error")
        if error or message.get("success") is False:
            text = (f"{message.get('method', 'request')} {message.get('symbol', '')} "
                    f"(req_id {message.get('req_id')}): {error}")
            self.errors.append(text)
            log.warning("kraken rejected %s", text)
            if message.get("method") == "subscribe" and \
                    str(error).startswith(UNKNOWN_PAIR):
                # the request's other symbols go again one by one (one Kraken subscribed
                # already answers "Already subscribed", which drops nothing)
                carried = self.subscribes.answered(message.get("req_id"))
                if carried:
                    link.refuse(carried, str(error))

    # ---- books -------------------------------------------------------------------------------

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """Kraken's procedure: (re)subscribe the book with a snapshot; once the decoder has
        loaded and verified a snapshot newer than the request, make the book live and replay
        the updates it held since."""
        decoder = link.decoder
        assert isinstance(decoder, KrakenDecoder)
        instrument = subscription.instrument
        symbol = instrument.venue_symbol
        depth = subscription.depth or DEFAULT_DEPTH
        # the checksum formats prices and quantities with the pair's precisions, which the
        # catalog keeps as the instrument's scales (pair_decimals, lot_decimals)
        decoder.configure_book(slot, depth, instrument.price_scale, instrument.size_scale)
        before = decoder.snapshot_count(slot)
        await self.resubscribe_book(
            link, subscription,
            lambda: [self.request("unsubscribe", "book", [subscription], depth=depth)],
            lambda: [self.request("subscribe", "book", [subscription], depth=depth,
                                  snapshot=True)])
        await wait_for_snapshot(
            lambda: decoder.snapshot_count(slot) != before and decoder.snapshot_loaded(slot),
            self.snapshot_timeout, f"kraken: no {symbol} book snapshot")
        decoder.mark_live(slot)
        decoder.replay_pending(slot)


class KrakenPrivateStream(PrivateVenue):
    """One account's ``ws-auth`` v2 stream: before every dial a fresh token is fetched
    (signed ``POST /0/private/GetWebSocketsToken``, nonce strictly increasing); every
    subscribe carries it. No login message: a refused token comes back as the subscribe's
    ``success: false``, which is the typed error, as is an ``EAPI:`` error on the token
    request; no reconnect follows either. On (re)subscribe Kraken sends snapshots (open
    orders, balances), so after a reconnect the state is whole again, although the events
    missed while disconnected are not replayed one by one."""

    name = "kraken"
    market = "spot"
    private_channels = PRIVATE_CHANNELS
    subscribe_authenticates = True

    def __init__(self, venue: KrakenVenue, credentials: Credentials) -> None:
        self.venue = venue
        self.credentials = credentials
        self.clock = ServerClock()         # the nonce is a counter: no time window to meet
        self.url = venue.private_url
        self.token_url = venue.rest_base + auth.TOKEN_PATH
        # no REST retries: a retried POST would resend a spent nonce; the connection
        # manager's backoff retries the whole token request with a fresh one
        self.rest = RestClient(verify_tls=venue.verify_tls, retries=0)
        self.limits = ConnectionLimits(streams_per_connection=8, args_per_request=1,
                                       requests_per_second=5.0, max_connections=1)
        self.heartbeat = venue.heartbeat
        self.token: str | None = None
        self.last_nonce = 0
        self.request_ids = count(1)
        self.subscribed: set[str] = set()      # channels sent on the current socket
        self.errors: list[str] = []

    def refusal(self, errors: object) -> AuthError | None:
        texts = [str(e)[:200] for e in errors] if isinstance(errors, list) else []
        refused = [t for t in texts if t.startswith(REFUSED_PREFIXES)]
        return AuthError("kraken", "; ".join(refused)) if refused else None

    async def authenticate(self, link: Link) -> None:
        self.token = None
        self.subscribed = set()
        nonce = self.last_nonce = max(self.last_nonce + 1, self.clock.local_ms())
        try:
            _, headers, body = auth.token_request(self.credentials.key,
                                                  self.credentials.secret, nonce)
        except ValueError:
            raise AuthError("kraken", "the API secret is not base64 (Kraken's are)") from None
        try:
            raw = await self.rest.request("POST", self.token_url, headers=headers, data=body)
        except RestError as exc:
            try:
                answer: Any = json.loads(exc.body)
            except ValueError:
                raise exc from None
            refused = self.refusal(answer.get("error") if isinstance(answer, dict) else None)
            if refused is not None:
                raise refused from None
            raise
        answer = json.loads(raw)
        if not isinstance(answer, dict):
            raise ValueError("kraken token answer is not an object")
        refused = self.refusal(answer.get("error"))
        if refused is not None:
            raise refused
        result = answer.get("result")
        token = result.get("token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise ValueError(f"kraken token answer without a token: {answer.get('error')}")
        self.token = token

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        return self.venue.venue_symbol(symbol)

    def new_decoder(self, rings: Rings) -> Decoder:
        return KrakenPrivateDecoder(rings.orders, rings.balances, rings.positions)

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        if self.token is None:
            raise RuntimeError("kraken private stream subscribed before authenticate")
        out = []
        for channel in dict.fromkeys(s.channel for s in subscriptions):
            name = "executions" if channel is Channel.ORDERS else "balances"
            if name in self.subscribed:
                continue
            self.subscribed.add(name)
            params: dict[str, bool] = ({"snap_orders": True, "snap_trades": False}
                                       if name == "executions" else {"snapshot": True})
            out.append(auth.subscribe_message(name, self.token,
                                              req_id=next(self.request_ids),
                                              **params).encode())
        return out

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        if message.get("success") is True and message.get("method") == "subscribe":
            link.authenticated()               # the token was accepted
            return
        if message.get("success") is not False:
            return
        error = str(message.get("error", ""))[:200]
        if message.get("method") in ("subscribe", "unsubscribe") \
                and error.startswith(REFUSED_PREFIXES):
            link.reject_auth(AuthError("kraken", error))
            return
        text = f"{message.get('method', 'request')} (req_id {message.get('req_id')}): {error}"
        self.errors.append(text)
        log.warning("kraken private stream refused %s", text)

    async def release(self) -> None:
        self.token = None
        await self.rest.close()
