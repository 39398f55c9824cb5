"""Gate.io spot WebSocket v4 wire format for the simulated exchange, plus the REST order book
snapshot the book sync needs.

Facts and their sources are in docs/venues/gateio.md. Topics are ``channel:payload`` with the
request's payload items joined by ``:`` in the venue's order, e.g.
``spot.order_book_update:BTC_USDT:100ms``, ``spot.candlesticks:1m:BTC_USDT`` or
``spot.obu:ob.BTC_USDT.50``; a trades or tickers request naming several pairs subscribes one
topic per pair. A ``spot.obu`` subscription starts with a full push of the top levels; its
updates carry what changed within them (levels that leave the top are deleted).

With ``account`` (a ``SimAccount``) and ``api_keys`` it also serves the private channels
spot.orders (topics ``spot.orders:<pair>``; ``!all`` subscribes every listed pair) and
spot.balances (topic ``spot.balances``): every such subscribe must carry Gate's ``auth``
object, checked as Gate does (known KEY, hex HMAC-SHA512 of ``channel=..&event=..&time=..``
with that key's secret, ``time`` within 60 s of the venue's ``clock``), else the error
reply with code 4. ``render_account`` renders the account's events (rejected orders are
never pushed: Gate refuses them on the order request); ``route_account`` names each
frame's topic. ``GET /api/v4/spot/time`` serves the venue clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from feedhandler.exchanges.gateio import auth
from feedhandler.sim import catalog
from feedhandler.sim.account import AccountEvent, BalanceEvent, Listing, OrderEvent, SimAccount
from feedhandler.sim.market import (
    BestBidOffer,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketConfig,
    MarketEvent,
    PriceLevel,
    Trade,
)
from feedhandler.sim.venue import (
    ClientRequest,
    ErrorReason,
    HttpRequest,
    HttpResponse,
    RequestKind,
    Session,
    Venue,
)

INTERVALS_MS = {
    "10s": 10_000, "1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "4h": 14_400_000, "8h": 28_800_000, "1d": 86_400_000,
    "7d": 604_800_000, "30d": 2_592_000_000,
}
UPDATE_SPEEDS = ("20ms", "100ms", "1000ms")
"""spot.order_book_update intervals accepted; every one publishes each book change here."""
PAIR_CHANNELS = ("spot.trades", "spot.book_ticker", "spot.tickers")
OBU_LEVELS = (50, 400)
ORDER_BOOK_PATH = "/api/v4/spot/order_book"
DEFAULT_SNAPSHOT_LIMIT = 10
MAX_SNAPSHOT_LIMIT = 100

# error codes of the v4 protocol: 1 invalid request body format, 2 invalid argument,
# 4 authentication fail (the message text is ours: unverified, docs/venues/gateio.md)
INVALID_BODY = 1
INVALID_ARGUMENT = 2
AUTH_FAIL = 4
AUTH_FAIL_MESSAGE = "Authentication fail"
ORDERS_CHANNEL = "spot.orders"
BALANCES_CHANNEL = "spot.balances"
SERVER_TIME_PATH = "/api/v4/spot/time"

_LISTINGS: dict[str, tuple[str, str, str]] = {
    "BTC_USDT": ("0.1", "0.000001", "60000.0"),
    "ETH_USDT": ("0.01", "0.0001", "3000.00"),
    "SOL_USDT": ("0.01", "0.001", "150.00"),
    "PEPE_USDT": catalog.FINE_TICK,
}
"""Price step, amount step and starting price; other pairs get their generated listing's
(``sim.catalog``), else ``_GENERIC_LISTING``."""
_GENERIC_LISTING = ("0.01", "0.001", "100.00")
_CATALOG_SEED = 701
CURRENCY_PAIRS_PATH = "/api/v4/spot/currency_pairs"
_TRADE_STATUSES = {"trading": "tradable", "halted": "untradable", "delisted": "untradable"}


@dataclass
class GateioSession:
    conn_id: str


@dataclass(frozen=True)
class GateioRequest:
    """What a reply needs of the request it answers: the connection and the decoded JSON."""

    session: GateioSession
    message: dict[str, object]
    code: int | None = None        # the error code a refusal carries, when not the default


@dataclass
class _TopView:
    """What a spot.obu topic has published: the top levels as last sent and the last ``u``."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    last: int = 0


class _Listing:
    """One pair's number formatters and the trade statistics spot.tickers repeats."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.pair = spec.symbol
        self.price = spec.price_formatter()
        self.size = spec.size_formatter()
        self.notional = spec.notional_formatter()
        self.last = self.high = self.low = 0
        self.base_volume = self.quote_volume = 0

    def levels(self, levels: Sequence[PriceLevel]) -> str:
        price, size = self.price, self.size
        return ",".join([f'["{price(p)}","{size(q)}"]' for p, q in levels])

    def record(self, trade: Trade) -> None:
        self.last = trade.price
        self.high = max(self.high, trade.price)
        self.low = min(self.low or trade.price, trade.price)
        self.base_volume += trade.size
        self.quote_volume += trade.price * trade.size


class GateioVenue(Venue):
    """Gate.io spot public channels on ``/ws/v4/`` and ``GET /api/v4/spot/order_book``."""

    name = "gateio"
    ws_path = "/ws/v4/"

    def __init__(self, market: Literal["spot"] = "spot",
                 symbols: Sequence[str] = ("BTC_USDT",), *, account: SimAccount | None = None,
                 api_keys: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock`` is the venue's wall clock (seconds) that signed ``time`` is checked
        against and ``/spot/time`` serves: a test skews it to prove the client learns it."""
        if market != "spot":
            raise ValueError(f"unknown Gate.io market {market!r}; use 'spot'")
        specs, self.catalog = catalog.catalog(
            _CATALOG_SEED, lambda base, quote: f"{base}_{quote}", symbols, _LISTINGS,
            _GENERIC_LISTING)
        self._listings = {symbol: _Listing(spec) for symbol, spec in specs.items()}
        self._interval_names = {ms: name for name, ms in INTERVALS_MS.items()}
        self._obu_topics = {symbol: tuple(f"spot.obu:ob.{symbol}.{levels}"
                                          for levels in OBU_LEVELS) for symbol in symbols}
        self._views: dict[str, _TopView] = {}
        self._connections = 0
        self._now_ms = MarketConfig.start_ms
        """Simulated time of the latest event, for replies that carry no event."""
        self.account = account
        self.api_keys = dict(api_keys or {})
        self.clock = clock
        self.auth_failures: list[str] = []     # why each refused private subscribe was refused
        self._order_fees: dict[int, Decimal] = {}
        self._account_listings: dict[str, Listing] = {
            listing.symbol: listing for listing in (account.listings if account else ())}

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(INTERVALS_MS.values())

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        if path.rstrip("/") != self.ws_path.rstrip("/"):
            return None
        self._connections += 1
        return Session((), GateioSession(conn_id=f"{self._connections:016x}"))

    def parse(self, state: object, payload: bytes) -> ClientRequest:
        assert isinstance(state, GateioSession)
        try:
            message = json.loads(payload)
        except ValueError:
            return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_JSON,
                                 detail="invalid request body format",
                                 body=GateioRequest(state, {}))
        if not isinstance(message, dict):
            return _invalid(GateioRequest(state, {}), "invalid request body format")
        request_id = message.get("id")
        channel = message.get("channel")
        event = message.get("event")
        body = GateioRequest(state, message)
        if channel == "spot.ping":
            return ClientRequest(RequestKind.PING, request_id, body=body)
        if not isinstance(channel, str) or event not in ("subscribe", "unsubscribe"):
            return _invalid(body, "invalid request body format")
        items = message.get("payload", [])
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items) \
                or (not items and channel != BALANCES_CHANNEL):
            return _invalid(body, "invalid argument: payload must list strings")
        if channel in (ORDERS_CHANNEL, BALANCES_CHANNEL) and self.account is not None:
            return self._private_request(body, channel, event, items)
        if channel in PAIR_CHANNELS:
            topics = tuple(f"{channel}:{pair}" for pair in items)
        else:
            topics = (":".join((channel, *items)),)
        kind = RequestKind.SUBSCRIBE if event == "subscribe" else RequestKind.UNSUBSCRIBE
        return ClientRequest(kind, request_id, topics, body=body)

    def _private_request(self, body: GateioRequest, channel: str, event: str,
                         items: list[str]) -> ClientRequest:
        """A private subscribe: its ``auth`` checked first, as Gate checks it."""
        refusal = self._auth_refusal(body.message, channel, event)
        request_id = body.message.get("id")
        if refusal is not None:
            self.auth_failures.append(refusal)
            return ClientRequest(RequestKind.INVALID, request_id, error=ErrorReason.REJECTED,
                                 detail=AUTH_FAIL_MESSAGE,
                                 body=GateioRequest(body.session, body.message, AUTH_FAIL))
        if channel == BALANCES_CHANNEL:
            topics: tuple[str, ...] = (BALANCES_CHANNEL,)
        elif items == ["!all"]:
            topics = tuple(f"{ORDERS_CHANNEL}:{pair}" for pair in self._account_listings)
        else:
            topics = tuple(f"{ORDERS_CHANNEL}:{pair}" for pair in items)
        kind = RequestKind.SUBSCRIBE if event == "subscribe" else RequestKind.UNSUBSCRIBE
        return ClientRequest(kind, request_id, topics, body=body)

    def _auth_refusal(self, message: dict[str, object], channel: str,
                      event: str) -> str | None:
        """Why Gate would refuse this request's ``auth`` (None: it is good)."""
        credentials = message.get("auth")
        stamp = message.get("time")
        if not isinstance(credentials, dict) or credentials.get("method") != "api_key":
            return "no api_key auth"
        secret = self.api_keys.get(str(credentials.get("KEY")))
        if secret is None:
            return "unknown key"
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            return "time is not an integer"
        if not auth.verify(secret, channel, event, stamp, str(credentials.get("SIGN")),
                           int(self.clock())):
            return "bad signature or time outside the window"
        return None

    def is_topic(self, topic: str) -> bool:
        if topic == BALANCES_CHANNEL:
            return self.account is not None
        if topic.startswith(ORDERS_CHANNEL + ":"):
            return self.account is not None and \
                topic.partition(":")[2] in self._account_listings
        channel, *items = topic.split(":")
        if channel in PAIR_CHANNELS:
            return len(items) == 1 and items[0] in self._listings
        if channel == "spot.order_book_update":
            return len(items) == 2 and items[0] in self._listings and items[1] in UPDATE_SPEEDS
        if channel == "spot.candlesticks":
            return len(items) == 2 and items[0] in INTERVALS_MS and items[1] in self._listings
        if channel == "spot.obu":
            return len(items) == 1 and any(topic in names for names in self._obu_topics.values())
        return False

    def _reply(self, request: ClientRequest, tail: str, channel: str | None = None,
               event: str | None = None) -> bytes:
        """``{"time", "time_ms", "id", "conn_id", "channel", "event", <tail>}``; channel and
        event repeat the request's unless given."""
        body = request.body
        assert isinstance(body, GateioRequest)
        now = self._now_ms
        head = {"time": now // 1000, "time_ms": now, "id": body.message.get("id"),
                "conn_id": body.session.conn_id,
                "channel": body.message.get("channel", "") if channel is None else channel,
                "event": body.message.get("event", "") if event is None else event}
        return (json.dumps(head, separators=(",", ":"))[:-1] + "," + tail + "}").encode()

    def render_ack(self, request: ClientRequest) -> list[bytes]:
        return [self._reply(request, '"error":null,"result":{"status":"success"}')]

    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        return []   # the venue has no request listing subscriptions

    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        code = INVALID_BODY if reason is ErrorReason.INVALID_JSON else INVALID_ARGUMENT
        if isinstance(request.body, GateioRequest) and request.body.code is not None:
            code = request.body.code
        if reason is ErrorReason.UNKNOWN_TOPIC:
            detail = f"unknown channel or currency pair {detail}"
        error = json.dumps({"code": code, "message": detail}, separators=(",", ":"))
        return [self._reply(request, f'"error":{error},"result":null')]

    def render_pong(self, request: ClientRequest) -> list[bytes]:
        return [self._reply(request, '"error":null,"result":null', "spot.pong", "")]

    def render_malformed(self) -> bytes:
        return (b'{"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update",'
                b'"event":"update","result":{"t":1606294781123,"s":"BTC_USDT","U":48776301,')

    # Market data -------------------------------------------------------------------------

    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        symbol = event.symbol
        self._now_ms = event.ts_ms
        if type(event) is BookUpdate:
            return (*(f"spot.order_book_update:{symbol}:{speed}" for speed in UPDATE_SPEEDS),
                    *self._obu_topics[symbol])
        if type(event) is Trade:
            # remembered whether subscribed or not: spot.tickers repeats the statistics
            self._listings[symbol].record(event)
            return (f"spot.trades:{symbol}",)
        if type(event) is BestBidOffer:
            return (f"spot.book_ticker:{symbol}", f"spot.tickers:{symbol}")
        assert isinstance(event, Candle)
        return (f"spot.candlesticks:{self._interval_names[event.interval_ms]}:{symbol}",)

    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        listing = self._listings[event.symbol]
        channel = topic.partition(":")[0]
        if channel == "spot.obu":
            assert isinstance(event, BookUpdate)
            return self._obu_update(listing, topic, event, market)
        if type(event) is BookUpdate:
            result = self._depth(listing, event)
        elif type(event) is Trade:
            result = self._trade(listing, event)
        elif type(event) is BestBidOffer:
            result = self._book_ticker(listing, event) if channel == "spot.book_ticker" \
                else self._ticker(listing, event)
        else:
            assert isinstance(event, Candle)
            result = self._candle(listing, event)
        return (f'{{"time":{event.ts_ms // 1000},"time_ms":{event.ts_ms},"channel":"{channel}",'
                f'"event":"update","result":{result}}}').encode()

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        """A spot.obu subscription starts with a full push of the current top levels."""
        if not topic.startswith("spot.obu:"):
            return []
        pair, levels = _obu_parts(topic)
        listing = self._listings[pair]
        book = market.book(pair)
        bids, asks = book.snapshot().top(levels)
        self._views[topic] = _TopView(dict(bids), dict(asks), book.update_id)
        return [(f'{{"channel":"spot.obu","result":{{"t":{market.now_ms},"full":true,'
                 f'"s":"{topic.partition(":")[2]}","u":{book.update_id},'
                 f'"b":[{listing.levels(bids)}],"a":[{listing.levels(asks)}]}},'
                 f'"time_ms":{market.now_ms}}}').encode()]

    def _obu_update(self, listing: _Listing, topic: str, event: BookUpdate,
                    market: Market) -> bytes:
        """The changes of the top levels since the topic's last push, numbered on from it."""
        view = self._views.setdefault(topic, _TopView())
        bids, asks = market.book(event.symbol).snapshot().top(_obu_parts(topic)[1])
        changes = []
        for sent, now in ((view.bids, dict(bids)), (view.asks, dict(asks))):
            changed = [(p, q) for p, q in now.items() if sent.get(p) != q]
            changed.extend((p, 0) for p in sent if p not in now)
            sent.clear()
            sent.update(now)
            changes.append(listing.levels(changed))
        first, view.last = view.last + 1, event.last_update_id
        return (f'{{"channel":"spot.obu","result":{{"t":{event.ts_ms},'
                f'"s":"{topic.partition(":")[2]}","U":{first},"u":{event.last_update_id},'
                f'"b":[{changes[0]}],"a":[{changes[1]}]}},"time_ms":{event.ts_ms}}}').encode()

    @staticmethod
    def _depth(listing: _Listing, event: BookUpdate) -> str:
        return (f'{{"t":{event.ts_ms},"e":"depthUpdate","E":{event.ts_ms // 1000},'
                f'"s":"{listing.pair}","U":{event.first_update_id},"u":{event.last_update_id},'
                f'"b":[{listing.levels(event.bids)}],"a":[{listing.levels(event.asks)}]}}')

    @staticmethod
    def _trade(listing: _Listing, event: Trade) -> str:
        return (f'{{"id":{event.trade_id},"create_time":{event.ts_ms // 1000},'
                f'"create_time_ms":"{event.ts_ms}.000","side":"{event.taker_side.value}",'
                f'"currency_pair":"{listing.pair}","amount":"{listing.size(event.size)}",'
                f'"price":"{listing.price(event.price)}",'
                f'"range":"{event.trade_id}-{event.trade_id}"}}')

    @staticmethod
    def _book_ticker(listing: _Listing, event: BestBidOffer) -> str:
        price, size = listing.price, listing.size
        return (f'{{"t":{event.ts_ms},"u":{event.update_id},"s":"{listing.pair}",'
                f'"b":"{price(event.bid_price)}","B":"{size(event.bid_size)}",'
                f'"a":"{price(event.ask_price)}","A":"{size(event.ask_size)}"}}')

    @staticmethod
    def _ticker(listing: _Listing, event: BestBidOffer) -> str:
        """Last trade and running statistics since the simulation began (not a true 24 h
        window); before the first trade the last price is the bid."""
        price = listing.price
        last = listing.last or event.bid_price
        return (f'{{"currency_pair":"{listing.pair}","last":"{price(last)}",'
                f'"lowest_ask":"{price(event.ask_price)}",'
                f'"highest_bid":"{price(event.bid_price)}","change_percentage":"0",'
                f'"base_volume":"{listing.size(listing.base_volume)}",'
                f'"quote_volume":"{listing.notional(listing.quote_volume)}",'
                f'"high_24h":"{price(listing.high or last)}",'
                f'"low_24h":"{price(listing.low or last)}"}}')

    def _candle(self, listing: _Listing, event: Candle) -> str:
        price = listing.price
        name = self._interval_names[event.interval_ms]
        return (f'{{"t":"{event.open_ms // 1000}","v":"{listing.notional(event.notional)}",'
                f'"c":"{price(event.close)}","h":"{price(event.high)}",'
                f'"l":"{price(event.low)}","o":"{price(event.open)}",'
                f'"n":"{name}_{listing.pair}","a":"{listing.size(event.volume)}",'
                f'"w":{"true" if event.closed else "false"}}}')

    # Private channels --------------------------------------------------------------------

    @staticmethod
    def route_account(frame: bytes) -> str:
        """The topic a rendered account frame is pushed on (``AccountStream`` ``route``)."""
        message = json.loads(frame)
        if message["channel"] == ORDERS_CHANNEL:
            return f"{ORDERS_CHANNEL}:{message['result'][0]['currency_pair']}"
        return BALANCES_CHANNEL

    def render_account(self, events: list[AccountEvent]) -> list[bytes]:
        """One account step: an update per order event (none for a rejected order: Gate
        refuses it on the order request), the balances in one update (``result`` is a list
        on the private channels)."""
        frames = [self._envelope(ORDERS_CHANNEL, e.ts_ms, [self._order(e)])
                  for e in events if isinstance(e, OrderEvent) and e.status != "REJECTED"]
        balances = [e for e in events if isinstance(e, BalanceEvent)]
        if balances:
            frames.append(self._envelope(BALANCES_CHANNEL, balances[0].ts_ms, [
                {"timestamp": str(b.ts_ms // 1000), "timestamp_ms": str(b.ts_ms),
                 "user": "1000001", "currency": b.asset, "change": f"{b.change:f}",
                 "total": f"{b.free + b.locked:f}", "available": f"{b.free:f}",
                 "freeze": f"{b.locked:f}", "change_type": "order-update"}
                for b in balances]))
        return frames

    @staticmethod
    def _envelope(channel: str, ts_ms: int, result: list[dict[str, object]]) -> bytes:
        return json.dumps({"time": ts_ms // 1000, "time_ms": ts_ms, "channel": channel,
                           "event": "update", "result": result},
                          separators=(",", ":")).encode()

    def _order(self, e: OrderEvent) -> dict[str, object]:
        listing = self._account_listings[e.symbol]
        fee = self._order_fees.get(e.order_id, Decimal(0)) + e.fee
        self._order_fees[e.order_id] = fee
        event, finish_as = {"NEW": ("put", None), "PARTIALLY_FILLED": ("update", None),
                            "FILLED": ("finish", "filled")}.get(e.status,
                                                                 ("finish", "cancelled"))
        order: dict[str, object] = {
            "id": str(e.order_id), "user": 1000001, "text": "t-" + e.client_id,
            "create_time": str(e.ts_ms // 1000), "create_time_ms": str(e.ts_ms),
            "update_time": str(e.ts_ms // 1000), "update_time_ms": str(e.ts_ms),
            "event": event, "currency_pair": e.symbol, "type": "limit", "account": "spot",
            "side": e.side.lower(), "amount": f"{e.size:f}", "price": f"{e.price:f}",
            "time_in_force": "gtc", "left": f"{e.size - e.filled:f}",
            "filled_amount": f"{e.filled:f}", "filled_total": f"{e.filled * e.price:f}",
            "avg_deal_price": f"{e.price:f}" if e.filled else "0", "fee": f"{fee:f}",
            "fee_currency": listing.base if e.side == "BUY" else listing.quote,
            "point_fee": "0", "gt_fee": "0", "gt_discount": False, "rebated_fee": "0",
            "rebated_fee_currency": listing.quote}
        if finish_as is not None:
            order["finish_as"] = finish_as
        return order

    # REST --------------------------------------------------------------------------------

    def _currency_pairs(self) -> bytes:
        """The listings as ``/spot/currency_pairs`` states them: ``precision`` and
        ``amount_precision`` as decimal counts, minimums as strings, a delisted pair
        untradable with its ``delisting_time`` past."""
        return json.dumps([{
            "id": listing.symbol, "base": listing.base, "base_name": listing.base,
            "quote": listing.quote, "quote_name": listing.quote, "fee": "0.2",
            "min_base_amount": listing.min_size or listing.lot_size,
            "min_quote_amount": listing.min_notional or "1", "max_base_amount": "",
            "max_quote_amount": "5000000", "amount_precision": listing.decimals()[1],
            "precision": listing.decimals()[0],
            "trade_status": _TRADE_STATUSES[listing.status], "sell_start": 1516378650,
            "buy_start": 1516378650,
            "delisting_time": _delisting_time(listing.status, self.clock()),
            "type": "normal", "trade_url": "", "st_tag": False}
            for listing in self.catalog], separators=(",", ":")).encode()

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        if request.path.rstrip("/") == SERVER_TIME_PATH:
            return HttpResponse(200, json.dumps(
                {"server_time": int(self.clock() * 1000)}).encode())
        if request.path.rstrip("/") == CURRENCY_PAIRS_PATH:
            return HttpResponse(200, self._currency_pairs())
        if request.path.rstrip("/") != ORDER_BOOK_PATH:
            return None
        pair = request.query.get("currency_pair", "")
        if not pair:
            return _rest_error("MISSING_REQUIRED_PARAM", "Missing required parameter: "
                                                         "currency_pair")
        listing = self._listings.get(pair)
        if listing is None:
            return _rest_error("INVALID_CURRENCY_PAIR", f"Invalid currency pair: {pair}")
        text = request.query.get("limit", str(DEFAULT_SNAPSHOT_LIMIT))
        if not text.isdigit() or not 1 <= int(text) <= MAX_SNAPSHOT_LIMIT:
            return _rest_error("INVALID_PARAM_VALUE", f"Invalid limit: {text}")
        book = market.book(pair)
        bids, asks = book.snapshot().top(int(text))
        now = market.now_ms
        with_id = f'"id":{book.update_id},' if request.query.get("with_id") == "true" else ""
        body = (f'{{{with_id}"current":{now},"update":{now},'
                f'"asks":[{listing.levels(asks)}],"bids":[{listing.levels(bids)}]}}')
        return HttpResponse(200, body.encode())


def _invalid(body: GateioRequest, detail: str) -> ClientRequest:
    return ClientRequest(RequestKind.INVALID, body.message.get("id"),
                         error=ErrorReason.INVALID_REQUEST, detail=detail, body=body)


def _obu_parts(topic: str) -> tuple[str, int]:
    """``spot.obu:ob.BTC_USDT.50`` -> (``BTC_USDT``, 50)."""
    pair, _, levels = topic.partition(":")[2].removeprefix("ob.").rpartition(".")
    return pair, int(levels)


def _delisting_time(status: str, now: float) -> int:
    """A delisted pair's ``delisting_time`` is past (seconds); the others' is 0."""
    return int(now) - 86_400 if status == "delisted" else 0


def _rest_error(label: str, message: str) -> HttpResponse:
    return HttpResponse(400, json.dumps({"label": label, "message": message}).encode())
