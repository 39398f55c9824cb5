"""Gate.io spot, WebSocket API v4: URLs, limits, subscribe payloads, keepalive, book sync,
and one account's private channels (spot.orders, spot.balances).

Facts and their sources are in docs/venues/gateio.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
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
from feedhandler.exchanges.gateio import auth
from feedhandler.exchanges.gateio.decoder import GateioDecoder
from feedhandler.exchanges.gateio.private import GateioPrivateDecoder
from feedhandler.net.clock import ServerClock
from feedhandler.net.ratelimit import RateLimiter
from feedhandler.net.rest import RestClient

log = logging.getLogger(__name__)

WS_URL = "wss://api.gateio.ws/ws/v4/"
REST_URL = "https://api.gateio.ws"
ORDER_BOOK_PATH = "/api/v4/spot/order_book"

TIMEFRAMES = ("10s", "1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "7d", "30d")
OBU_DEPTHS = (50, 400)         # spot.obu levels; a book of one of these depths uses spot.obu
BOOK_DEPTHS = (50, 100, 400)
SNAPSHOT_LIMIT = 100          # the depth of the REST snapshot Gate's sync procedure asks for
UPDATE_SPEED = "100ms"        # spot.order_book_update push interval
OBU_CHANNEL = "spot.obu"

SERVER_TIME_PATH = "/api/v4/spot/time"
PRIVATE_CHANNELS = (Channel.ORDERS, Channel.BALANCE)
PRIVATE_CHANNEL_NAMES = {Channel.ORDERS: "spot.orders", Channel.BALANCE: "spot.balances"}
ALL_PAIRS = "!all"             # spot.orders payload for every pair
AUTH_FAIL = 4                  # the v4 error code "authentication fail"
# Balances and fees are kept at 9 decimals: Gate's own spot.balances example carries 9
# ("1032951.325075926"); int64 then holds up to 9.2 billion units of an asset.
ASSET_SCALE = 9

CHANNEL_NAMES = {
    Channel.TICKER: "spot.book_ticker",
    Channel.TRADES: "spot.trades",
    Channel.BOOK: "spot.order_book_update",
    Channel.OHLCV: "spot.candlesticks",
}


def uses_obu(subscription: Subscription) -> bool:
    return subscription.channel is Channel.BOOK and subscription.depth in OBU_DEPTHS


class GateioVenue(InBandBookVenue):
    """Gate.io spot. Every channel is subscribed by JSON request on one ``/ws/v4/`` socket;
    the ticker channel is ``spot.book_ticker`` (best bid and ask with their sizes).

    Books of the default depth (or 100) use ``spot.order_book_update`` synchronised from the
    REST snapshot like Binance spot (buffer, snapshot with ``id``, replay). Books of depth 50
    or 400 use ``spot.obu``, whose full push arrives in-band after the subscribe: those are
    subscribed by ``sync_book`` rather than by ``subscribe_requests``, so the request is sent
    only once the book is held, and a resync is an unsubscribe followed by a subscribe.
    """

    name = "gateio"
    market = "spot"
    timeframes = TIMEFRAMES
    book_depths = BOOK_DEPTHS
    channels = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)

    def __init__(self, *, ws_url: str | None = None, rest_url: str | None = None,
                 verify_tls: bool = True, requests_per_second: float = 5.0,
                 full_push_timeout: float = 10.0) -> None:
        self.url = ws_url or WS_URL
        self.rest_base = (rest_url or REST_URL).rstrip("/")
        self.limits = ConnectionLimits(streams_per_connection=200, args_per_request=20,
                                       requests_per_second=requests_per_second,
                                       max_connections=20)
        # WebSocket PING frames, as Gate's own demo client sends: the listener's text ping is
        # one constant payload, while a spot.ping request is expected to carry the current time
        self.heartbeat = Heartbeat(ping_interval=10.0, pong_timeout=5.0)
        self.rest = RestClient(verify_tls=verify_tls)
        self.full_push_timeout = full_push_timeout
        # spot.obu requests leave from sync_book tasks, outside the connection's pacing
        self.book_pacer = RateLimiter(requests_per_second, burst=1)
        self.unsent_books: set[tuple[Any, ...]] = set()
        self.request_ids = count(1)
        self.subscribes = SubscribeRequests()     # subscribe requests not yet answered
        self.errors: list[str] = []

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        """``BTC-USDT`` (or ``BTC/USDT``) -> ``BTC_USDT``."""
        return symbol.upper().replace("-", "_").replace("/", "_")

    @staticmethod
    def unified_symbol(venue_symbol: str) -> str:
        """``BTC_USDT`` -> ``BTC-USDT``."""
        return venue_symbol.upper().replace("_", "-")

    def new_decoder(self, rings: Rings) -> Decoder:
        return GateioDecoder(rings.trades, rings.tickers, rings.candles)

    # ---- requests --------------------------------------------------------------------------

    def request(self, event: str, channel: str, payload: Sequence[str],
                carried: Sequence[Subscription] = ()) -> bytes:
        request_id = next(self.request_ids)
        if event == "subscribe":
            self.subscribes.sent(request_id, carried)
        body = {"time": int(time.time()), "id": request_id, "channel": channel,
                "event": event, "payload": list(payload)}
        return json.dumps(body, separators=(",", ":")).encode()

    def requests(self, event: str, subscriptions: Sequence[Subscription]) -> list[bytes]:
        """One request per channel: trades and book tickers take many pairs in one payload,
        a book or a candle series takes one pair and its parameter."""
        grouped: dict[str, tuple[str, list[str], list[Subscription]]] = {}
        single: list[tuple[str, list[str], list[Subscription]]] = []
        for sub in subscriptions:
            channel = CHANNEL_NAMES[sub.channel]
            pair = sub.instrument.venue_symbol
            if uses_obu(sub):
                single.append((*self.obu_payload(sub), [sub]))
            elif sub.channel is Channel.BOOK:
                single.append((channel, [pair, UPDATE_SPEED], [sub]))
            elif sub.channel is Channel.OHLCV:
                assert sub.timeframe is not None
                single.append((channel, [sub.timeframe, pair], [sub]))
            else:
                _, pairs, carried = grouped.setdefault(channel, (channel, [], []))
                pairs.append(pair)
                carried.append(sub)
        return [self.request(event, channel, payload, carried)
                for channel, payload, carried in [*grouped.values(), *single]]

    @staticmethod
    def obu_payload(subscription: Subscription) -> tuple[str, list[str]]:
        return OBU_CHANNEL, [f"ob.{subscription.instrument.venue_symbol}.{subscription.depth}"]

    def in_band_book(self, subscription: Subscription) -> bool:
        """Only spot.obu books get their full push in-band; the others sync from REST."""
        return uses_obu(subscription)

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.requests("subscribe", self.hold_back_books(subscriptions))

    def unsubscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return self.requests("unsubscribe", self.sent_subscriptions(subscriptions))

    # ---- control messages ------------------------------------------------------------------

    def handle_control(self, link: Link, raw: bytes) -> None:
        """A subscribe refused for an unknown pair or channel goes to the connection with
        what it carried (dropped for good); another refused subscribe renews the connection:
        a book synced from its REST snapshot must not stay live with no update stream."""
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        carried = self.subscribes.answered(message.get("id")) \
            if message.get("event") == "subscribe" else ()
        error = message.get("error")
        if error:
            text = (f"{message.get('event')} {message.get('channel')} "
                    f"(id {message.get('id')}): {error}")
            self.errors.append(text)
            log.warning("gateio rejected %s", text)
            reason = str(error.get("message", error) if isinstance(error, dict) else error)
            if carried and reason.lower().startswith("unknown"):
                link.refuse(carried, reason)
            elif message.get("event") == "subscribe":
                link.reconnect(f"subscribe refused: {text}")

    # ---- books -------------------------------------------------------------------------------

    async def sync_book(self, link: Link, subscription: Subscription, slot: int) -> None:
        """Gate's "how to maintain local order book": the decoder holds the updates since
        subscribing; fetch the snapshot with its ``id``, load it and replay what was held
        (stale updates are dropped, a snapshot older than the first held update is a gap).
        A spot.obu book is (re)subscribed instead and goes live on its next full push."""
        if uses_obu(subscription):
            await self.sync_obu(link, subscription, slot)
            return
        body = await self.rest.get(
            self.rest_base + ORDER_BOOK_PATH,
            {"currency_pair": subscription.instrument.venue_symbol,
             "limit": subscription.depth or SNAPSHOT_LIMIT, "with_id": "true"})
        decoder = link.decoder
        assert isinstance(decoder, GateioDecoder)
        decoder.apply_snapshot(slot, body)
        decoder.replay_pending(slot)

    async def sync_obu(self, link: Link, subscription: Subscription, slot: int) -> None:
        decoder = link.decoder
        assert isinstance(decoder, GateioDecoder)
        channel, payload = self.obu_payload(subscription)
        before = decoder.snapshot_count(slot)
        await self.resubscribe_book(link, subscription,
                                    lambda: [self.request("unsubscribe", channel, payload)],
                                    lambda: [self.request("subscribe", channel, payload,
                                                          [subscription])])
        await wait_for_snapshot(lambda: decoder.snapshot_count(slot) != before,
                                    self.full_push_timeout, f"gateio: no {payload[0]} full push")
        decoder.mark_live(slot)
        decoder.replay_pending(slot)

    async def close(self) -> None:
        await self.rest.close()

    private_channels = PRIVATE_CHANNELS

    def private(self, credentials: Credentials) -> GateioPrivateStream:
        return GateioPrivateStream(self, credentials)


class GateioPrivateStream(PrivateVenue):
    """One account's spot.orders and spot.balances on ``/ws/v4/``. Gate has no login: every
    subscribe carries its own ``auth`` (HMAC-SHA512 over channel, event and ``time``), signed
    when sent with the venue's clock, learnt from ``GET /api/v4/spot/time`` before each dial
    (Gate refuses a ``time`` more than 60 s off). A refusal is the subscribe's error reply
    with code 4: ``handle_control`` turns it into ``AuthError``. Orders without a symbol
    subscribe ``!all``; Gate sends no snapshot on subscribe (docs/venues/gateio.md)."""

    name = "gateio"
    market = "spot"
    channels = PRIVATE_CHANNELS
    private_channels = PRIVATE_CHANNELS

    def __init__(self, venue: GateioVenue, credentials: Credentials) -> None:
        self.credentials = credentials
        self.clock = ServerClock()
        self.url = venue.url
        self.time_url = venue.rest_base + SERVER_TIME_PATH
        self.limits = ConnectionLimits(streams_per_connection=200, args_per_request=100,
                                       requests_per_second=venue.limits.requests_per_second)
        self.heartbeat = venue.heartbeat
        self.rest = RestClient(verify_tls=venue.rest.verify_tls)
        self.request_ids = count(1)
        self.errors: list[str] = []

    async def authenticate(self, link: Link) -> None:
        """Learns the venue's clock; without it the local clock signs (a failure here is
        logged, not fatal: Gate itself answers a bad ``time`` with the auth error)."""
        sent = self.clock.local_ms()
        try:
            body: Any = json.loads(await self.rest.get(self.time_url))
            server_ms = int(body["server_time"])
        except Exception as exc:
            log.warning("gateio: server time unavailable (%s); signing with the local clock",
                        type(exc).__name__)
            return
        self.clock.learn(server_ms, sent, self.clock.local_ms())

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.url

    def venue_symbol(self, symbol: str) -> str:
        return symbol.upper().replace("-", "_").replace("/", "_")

    def new_decoder(self, rings: Rings) -> Decoder:
        return GateioPrivateDecoder(rings.orders, rings.balances, rings.positions,
                                    asset_scale=ASSET_SCALE)

    def signed(self, event: str, channel: str, payload: list[str]) -> bytes:
        now_s = self.clock.now_ms() // 1000
        credentials = self.credentials
        return json.dumps({
            "time": now_s, "id": next(self.request_ids), "channel": channel, "event": event,
            "payload": payload,
            "auth": auth.auth_object(credentials.key, credentials.secret, channel, event, now_s),
        }, separators=(",", ":")).encode()

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        """One signed subscribe per channel; an account-wide order subscription (instrument
        id -1) asks for every pair."""
        out = []
        orders = [s.instrument for s in subscriptions if s.channel is Channel.ORDERS]
        if orders:
            pairs = [ALL_PAIRS] if any(i.id < 0 for i in orders) \
                else sorted({i.venue_symbol for i in orders})
            out.append(self.signed("subscribe", PRIVATE_CHANNEL_NAMES[Channel.ORDERS], pairs))
        if any(s.channel is Channel.BALANCE for s in subscriptions):
            out.append(self.signed("subscribe", PRIVATE_CHANNEL_NAMES[Channel.BALANCE], []))
        return out

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if not isinstance(message, dict):
            return
        error = message.get("error")
        if not error:
            return                          # subscribe acks, spot.pong
        code = error.get("code") if isinstance(error, dict) else None
        text = str(error.get("message", "") if isinstance(error, dict) else error)[:200]
        if code == AUTH_FAIL:
            link.reject_auth(AuthError("gateio", f"{message.get('channel')}: {text}", code))
            return
        self.errors.append(f"{message.get('event')} {message.get('channel')}: {text}")
        log.warning("gateio private channel rejected: %s", self.errors[-1])

    async def release(self) -> None:
        await self.rest.close()
