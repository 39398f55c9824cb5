"""Binance spot and USD-M futures wire format for the simulated exchange.

Facts and their sources are in docs/venues/binance.md; where the two segments differ the
``market`` switch ("spot" or "usdm") decides, and ``protocol`` chooses between today's
protocol ("current") and the one Binance retired ("legacy"), so that tests can show a client
notices: legacy spot serves user data only through a listen key (``/ws/<listenKey>``), legacy
USD-M serves market data only on the single ``/stream`` (``/ws``) and user data on
``/ws/<listenKey>``. Current USD-M serves ``/public`` (books, book tickers) and ``/market``
(trades, klines), each only its tier's streams, and user data on
``/private/ws?listenKey=..&events=..``, delivering only the events listed.

With ``account`` (a ``SimAccount``) and ``api_keys`` it also serves the user data stream.
Spot (current): ``/ws-api/v3`` answers ``userDataStream.subscribe.signature``, verifying the
signature against the account's key (``api_keys`` maps an API key to its HMAC secret, or to
the PEM public key of an Ed25519 / RSA key pair, as Binance keeps it), and wraps each event
as ``{"subscriptionId":..,"event":{...}}``. Listen keys (USD-M, legacy spot): the REST
endpoints (POST / PUT / DELETE, the ``X-MBX-APIKEY`` header checked, an unknown key answered
with Binance's error JSON and status); listen-key requests are not signed on Binance
(USER_STREAM security). ``render_account`` turns account events into executionReport /
outboundAccountPosition (spot) or ORDER_TRADE_UPDATE / ACCOUNT_UPDATE (USD-M);
``user_topic`` says which topic each rendered frame goes to (route of ``AccountStream``).
"""

from __future__ import annotations

import json
import random
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from feedhandler.exchanges.binance import auth
from feedhandler.sim import catalog
from feedhandler.sim.account import (
    AccountEvent,
    BalanceEvent,
    OrderEvent,
    PositionEvent,
    SimAccount,
)
from feedhandler.sim.market import (
    BestBidOffer,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketEvent,
    PriceLevel,
    Regrid,
    Side,
    Trade,
)
from feedhandler.sim.venue import (
    ClientRequest,
    ErrorReason,
    HttpRequest,
    HttpResponse,
    IncomingLimit,
    Keepalive,
    RequestKind,
    Session,
    Venue,
)

BinanceMarket = Literal["spot", "usdm"]
Protocol = Literal["current", "legacy"]

KLINE_INTERVALS_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
    "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000,
    "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000,
    "1w": 604_800_000,
}
"""Fixed-length kline intervals (the calendar-month ``1M`` is not simulated)."""

_LISTINGS: dict[BinanceMarket, dict[str, tuple[str, str, str]]] = {
    "spot": {
        "BTCUSDT": ("0.01", "0.00001", "60000.00"),
        "ETHUSDT": ("0.01", "0.0001", "3000.00"),
        "BNBUSDT": ("0.01", "0.001", "600.00"),
        "SOLUSDT": ("0.01", "0.001", "150.00"),
        "PEPEUSDT": ("0.00000001", "1", "0.00001234"),
    },
    "usdm": {
        "BTCUSDT": ("0.10", "0.001", "60000.00"),
        "ETHUSDT": ("0.01", "0.001", "3000.00"),
        "BNBUSDT": ("0.010", "0.01", "600.000"),
        "SOLUSDT": ("0.0100", "1", "150.0000"),
        "1000PEPEUSDT": ("0.00000001", "1", "0.01234567"),
    },
}
"""Tick size, lot size and starting price; other symbols get their generated listing's
(``sim.catalog``), else ``_GENERIC_LISTING``."""
_CATALOG_SEEDS = {"spot": 101, "usdm": 102}
_TICKS = catalog.TICKS[1:]      # Binance prints 8 decimals: its finest tick is 1e-8
_LOTS = catalog.LOTS[1:]
_EXCHANGE_INFO_PATHS = {"spot": "/api/v3/exchangeInfo", "usdm": "/fapi/v1/exchangeInfo"}
_STATUSES = {"spot": {"trading": "TRADING", "halted": "HALT", "delisted": "BREAK"},
             "usdm": {"trading": "TRADING", "halted": "PENDING_TRADING", "delisted": "CLOSE"}}
_GENERIC_LISTING = ("0.01", "0.001", "100.00")

_SPOT_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50), (5000, 250))
_USDM_DEPTH_WEIGHTS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}
USER_TOPIC = "userdata"
USER_STREAM_PATHS = {"spot": "/api/v3/userDataStream", "usdm": "/fapi/v1/listenKey"}
WS_API_PATH = "/ws-api/v3"
SERVER_TIME_PATH = "/api/v3/time"
USDM_TIERS = ("public", "market")
USDM_PRIVATE_PATH = "/private/ws"
SUBSCRIBE_SIGNATURE = "userDataStream.subscribe.signature"
RECV_WINDOW_MS = 5000      # Binance's default recvWindow
_EXECUTION_TYPES = {"NEW": "NEW", "PARTIALLY_FILLED": "TRADE", "FILLED": "TRADE",
                    "CANCELED": "CANCELED", "REJECTED": "REJECTED", "EXPIRED": "EXPIRED"}
_METHODS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"


@dataclass
class BinanceSession:
    """Per-connection state: whether payloads are wrapped as combined-stream events, which
    endpoint was dialled ("stream"; USD-M "public" / "market"; "ws-api"; "user" for a
    listen-key stream) and, on the WebSocket API, the user data subscription's id."""

    combined: bool
    endpoint: str = "stream"
    subscription_id: int | None = None
    subscriptions: int = 0


@dataclass(frozen=True)
class WsApiCall:
    """A WebSocket API request as ``ClientRequest.body``: the answer's status, error code
    and message (status 200: accepted, as ``subscription_id``)."""

    status: int = 200
    code: int = 0
    msg: str = ""
    subscription_id: int = 0


class _Listing:
    """One symbol's stream names and exact number formatters."""

    def __init__(self, spec: InstrumentSpec, market: BinanceMarket) -> None:
        decimals = 8 if market == "spot" else None
        self.spec = spec
        self.name = spec.symbol
        self.stream = spec.symbol.lower()
        self.price: Callable[[int], str] = spec.price_formatter(decimals)
        self.size: Callable[[int], str] = spec.size_formatter(decimals)
        self.notional: Callable[[int], str] = spec.notional_formatter(decimals)
        trades = ("trade", "aggTrade") if market == "spot" else ("aggTrade",)
        depths = ("depth", "depth@100ms") if market == "spot" \
            else ("depth", "depth@100ms", "depth@500ms")
        self.trade_topics = tuple(f"{self.stream}@{kind}" for kind in trades)
        self.depth_topics = tuple(f"{self.stream}@{kind}" for kind in depths)
        self.ticker_topics = (f"{self.stream}@bookTicker",)

    def levels(self, levels: Sequence[PriceLevel]) -> str:
        price, size = self.price, self.size
        return ",".join([f'["{price(p)}","{size(q)}"]' for p, q in levels])


class BinanceVenue(Venue):
    """Binance market-data streams and the REST depth snapshot, spot or USD-M futures."""

    name = "binance"

    def __init__(self, market: BinanceMarket = "spot", symbols: Sequence[str] = ("BTCUSDT",),
                 *, rest_weight_limit: int | None = 6000,
                 clock: Callable[[], float] = time.time, account: SimAccount | None = None,
                 api_keys: Mapping[str, str] | None = None,
                 protocol: Protocol = "current") -> None:
        """``rest_weight_limit`` is the REST request weight allowed per wall-clock minute of
        ``clock`` (None: no limit). ``api_keys`` maps an API key to its HMAC secret or PEM
        public key. ``protocol="legacy"`` speaks the protocol Binance retired (see the
        module docstring)."""
        if market not in _LISTINGS:
            raise ValueError(f"unknown Binance market {market!r}; use 'spot' or 'usdm'")
        if protocol not in ("current", "legacy"):
            raise ValueError(f"unknown Binance protocol {protocol!r}; use 'current' or 'legacy'")
        self.market_type: BinanceMarket = market
        self.protocol: Protocol = protocol
        self.tiered = market == "usdm" and protocol == "current"
        spot = market == "spot"
        self.keepalive = Keepalive(20.0, 60.0, pong_must_echo=True) if spot \
            else Keepalive(180.0, 600.0)
        self.incoming_limit = IncomingLimit(5 if spot else 10)
        self.max_topics = 1024
        self.update_id_step = (1, 1) if spot else (1, 4)
        self.depth_path = "/api/v3/depth" if spot else "/fapi/v1/depth"
        self.kline_intervals = {name: ms for name, ms in KLINE_INTERVALS_MS.items()
                                if spot or name != "1s"}
        self._interval_names = {ms: name for name, ms in self.kline_intervals.items()}
        specs, self.catalog = catalog.catalog(
            _CATALOG_SEEDS[market], lambda base, quote: base + quote, symbols,
            _LISTINGS[market], _GENERIC_LISTING, ticks=_TICKS, lots=_LOTS,
            max_decimals=8 if market == "spot" else None)
        self._listings = {symbol: _Listing(spec, market) for symbol, spec in specs.items()}
        self._by_stream = {listing.stream: listing for listing in self._listings.values()}
        self._kline_topics = {(listing.name, ms): (f"{listing.stream}@kline_{name}",)
                              for listing in self._listings.values()
                              for name, ms in self.kline_intervals.items()}
        self._valid_topics = {topic for listing in self._listings.values()
                              for topic in (*listing.trade_topics, *listing.depth_topics,
                                            *listing.ticker_topics)}
        self._valid_topics.update(topic for (topic,) in self._kline_topics.values())
        self._stream_kinds = {topic.partition("@")[2] for topic in self._valid_topics}
        self._stream_prefixes: dict[str, bytes] = {}
        self._rest_limit = rest_weight_limit
        self._clock = clock
        self._rest_minute = 0
        self._rest_used = 0
        self.account = account
        self.rest_writes = account is not None
        self.has_server_shutdown = spot
        self.api_keys = dict(api_keys or {})
        self.listen_key_flow = market == "usdm" or protocol == "legacy"
        self.user_stream_path = USER_STREAM_PATHS[market]
        self.listen_keys: dict[str, str] = {}          # active listen key -> its API key
        self.user_stream_requests: list[tuple[str, int]] = []
        """(method, status) of every listen-key REST call and WebSocket API subscribe."""
        self.subscribe_params: list[dict[str, object]] = []
        """The params of every ``userDataStream.subscribe.signature`` received."""
        self._key_random = random.Random(0)

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def relist_listing(self, spec: InstrumentSpec, regrid: Regrid) -> None:
        listing = self._listings[spec.symbol] = _Listing(spec, self.market_type)
        self._by_stream[listing.stream] = listing

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(self.kline_intervals.values())

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        if self.market_type == "spot" and self.protocol == "current" and path == WS_API_PATH:
            return Session((), BinanceSession(combined=False, endpoint="ws-api"))
        if self.listen_key_flow:
            user = self._user_session(path, query)
            if user is not None:
                return user
        endpoint = "stream"
        if self.tiered:
            endpoint, _, path = path.lstrip("/").partition("/")
            if endpoint not in USDM_TIERS:
                return None
            path = "/" + path
        if path == "/ws":
            return Session((), BinanceSession(combined=False, endpoint=endpoint))
        streams: tuple[str, ...]
        if path.startswith("/ws/"):
            streams = (path[len("/ws/"):],)
            combined = False
        elif path in ("/stream", "/stream/"):
            streams = tuple(name for name in query.get("streams", "").split("/") if name)
            combined = True
        else:
            return None
        unknown = [name for name in streams if not self._serves(endpoint, name)]
        if unknown:
            return HttpResponse(400, json.dumps(
                {"code": 2, "msg": f"Invalid request: invalid stream {unknown[0]}"}).encode())
        return Session(streams, BinanceSession(combined=combined, endpoint=endpoint))

    def _user_session(self, path: str, query: dict[str, str]) -> Session | None:
        """A listen-key stream: ``/private/ws?listenKey=..&events=..`` (current USD-M, only
        the events listed) or ``/ws/<listenKey>`` (legacy)."""
        if self.tiered:
            if path != USDM_PRIVATE_PATH or query.get("listenKey") not in self.listen_keys:
                return None
            events = [e for e in query.get("events", "").split("/") if e]
            return Session(tuple(f"{USER_TOPIC}@{e}" for e in events),
                           BinanceSession(combined=False, endpoint="user"))
        if path.startswith("/ws/") and path[len("/ws/"):] in self.listen_keys:
            return Session((USER_TOPIC,), BinanceSession(combined=False, endpoint="user"))
        return None

    def _serves(self, endpoint: str, topic: str) -> bool:
        """A stream this endpoint carries: USD-M's /public books and book tickers, its
        /market the rest."""
        if not self.is_topic(topic):
            return False
        return endpoint == "stream" or tier_of(topic) == endpoint

    def user_topic(self, frame: bytes) -> str:
        """The topic a rendered account frame is pushed on (``AccountStream``'s route):
        current USD-M sessions get only the event types they listed."""
        if not self.tiered:
            return USER_TOPIC
        return f"{USER_TOPIC}@{json.loads(frame)['e']}"

    def parse(self, state: object, payload: bytes) -> ClientRequest:
        try:
            message = json.loads(payload)
        except ValueError as exc:
            line, column = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
            return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_JSON,
                                 detail=f"Invalid JSON: expected value at line {line} "
                                        f"column {column}")
        if not isinstance(message, dict):
            return _invalid(None, "Invalid request: expected a JSON object")
        if cast(BinanceSession, state).endpoint == "ws-api":
            return self._parse_ws_api(cast(BinanceSession, state), message)
        request_id = message.get("id")
        if "method" not in message:
            return _invalid(request_id, "Invalid request: missing field `method`")
        if not self._valid_id(request_id):
            return _invalid(None, "Invalid request: request ID must be an unsigned integer")
        method = message["method"]
        params = message.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return _invalid(request_id, "Invalid request: params must be a list of streams")
            kind = RequestKind.SUBSCRIBE if method == "SUBSCRIBE" else RequestKind.UNSUBSCRIBE
            wrong_tier = [p for p in params if self.is_topic(p)
                          and not self._serves(cast(BinanceSession, state).endpoint, p)]
            if kind is RequestKind.SUBSCRIBE and wrong_tier:
                return _invalid(request_id, f"Invalid request: stream {wrong_tier[0]} is not "
                                            "served on this endpoint")
            return ClientRequest(kind, request_id, tuple(params))
        if method == "LIST_SUBSCRIPTIONS":
            return ClientRequest(RequestKind.LIST, request_id)
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return ClientRequest(RequestKind.OTHER, request_id, body=message)
        return _invalid(request_id,
                        f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}")

    def _parse_ws_api(self, state: BinanceSession, message: dict[str, object]) -> ClientRequest:
        """``userDataStream.subscribe.signature`` becomes a subscribe of the account's events
        once its key and signature check out; anything else is refused."""
        request_id = message.get("id")
        call = self._subscribe_signature(message)
        self.user_stream_requests.append((str(message.get("method")), call.status))
        if call.status != 200:
            return ClientRequest(RequestKind.INVALID, request_id, error=ErrorReason.REJECTED,
                                 detail=call.msg, body=call)
        state.subscription_id = state.subscriptions
        state.subscriptions += 1
        return ClientRequest(RequestKind.SUBSCRIBE, request_id, (USER_TOPIC,),
                             body=WsApiCall(subscription_id=state.subscription_id))

    def _subscribe_signature(self, message: dict[str, object]) -> WsApiCall:
        if message.get("method") != SUBSCRIBE_SIGNATURE:
            return WsApiCall(400, -1020, "This request is not supported by this simulator.")
        params = message.get("params")
        if not isinstance(params, dict) or not {"apiKey", "timestamp", "signature"} <= set(params):
            return WsApiCall(400, -1102, "Mandatory parameter 'apiKey', 'timestamp' or "
                                         "'signature' was not sent, was empty/null, or "
                                         "malformed.")
        self.subscribe_params.append(dict(params))
        account_key = self.api_keys.get(str(params["apiKey"]))
        if account_key is None or self.account is None:
            return WsApiCall(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if not auth.verify(account_key, params):
            return WsApiCall(400, -1022, "Signature for this request is not valid.")
        timestamp, window = params["timestamp"], params.get("recvWindow", RECV_WINDOW_MS)
        now_ms = int(self._clock() * 1000)
        if not isinstance(timestamp, int) or not isinstance(window, int) \
                or not now_ms - window <= timestamp < now_ms + 1000:
            return WsApiCall(400, -1021, "Timestamp for this request is outside of the "
                                         "recvWindow.")
        return WsApiCall()

    def _valid_id(self, request_id: object) -> bool:
        if isinstance(request_id, bool):
            return False
        if self.market_type == "usdm":
            return isinstance(request_id, int) and 0 <= request_id < 2**64
        if request_id is None:
            return True
        if isinstance(request_id, int):
            return -(2**63) <= request_id < 2**63
        return isinstance(request_id, str) and len(request_id) <= 36 and request_id.isalnum()

    def is_topic(self, topic: str) -> bool:
        """Binance checks a stream name's form, not its symbol: a stream of a symbol it does
        not list is accepted and stays silent (docs/venues/binance.md). The account's events
        are a topic of the WebSocket API's sessions."""
        if topic == USER_TOPIC:
            return self.market_type == "spot" and self.protocol == "current"
        symbol, at, kind = topic.partition("@")
        return bool(at) and symbol.isalnum() and symbol == symbol.lower() \
            and kind in self._stream_kinds

    def render_ack(self, request: ClientRequest) -> list[bytes]:
        if isinstance(request.body, WsApiCall):
            return [_compact({"id": request.request_id, "status": 200,
                              "result": {"subscriptionId": request.body.subscription_id}})]
        return [_reply(None, request.request_id)]

    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        return [_reply(topics, request.request_id)]

    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        if isinstance(request.body, WsApiCall):
            call = request.body
            return [_compact({"id": request.request_id, "status": call.status,
                              "error": {"code": call.code, "msg": call.msg}})]
        code = 3 if reason is ErrorReason.INVALID_JSON else 2
        if reason is ErrorReason.UNKNOWN_TOPIC:
            detail = "Invalid request: invalid stream"
        elif reason is ErrorReason.TOO_MANY_TOPICS:
            detail = f"Invalid request: too many streams ({detail})"
        return [_error(code, detail, request.request_id)]

    def handle_other(self, state: object, request: ClientRequest) -> list[bytes]:
        assert isinstance(state, BinanceSession) and isinstance(request.body, dict)
        params = request.body.get("params")
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            return [_error(2, "Invalid request: property name must be a string",
                           request.request_id)]
        if params[0] != "combined":
            return [_error(0, "Unknown property", request.request_id)]
        if request.body["method"] == "GET_PROPERTY":
            return [_reply(state.combined, request.request_id)]
        if len(params) != 2 or not isinstance(params[1], bool):
            return [_error(1, "Invalid value type: expected Boolean", request.request_id)]
        state.combined = params[1]
        return [_reply(None, request.request_id)]

    # Market data -------------------------------------------------------------------------

    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        listing = self._listings[event.symbol]
        if type(event) is BookUpdate:
            return listing.depth_topics
        if type(event) is Trade:
            return listing.trade_topics
        if type(event) is BestBidOffer:
            return listing.ticker_topics
        assert isinstance(event, Candle)
        return self._kline_topics[(event.symbol, event.interval_ms)]

    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        listing = self._listings[event.symbol]
        if type(event) is BookUpdate:
            return self._render_depth(listing, event)
        if type(event) is Trade:
            return self._render_trade(listing, event, aggregate=topic.endswith("@aggTrade"))
        if type(event) is BestBidOffer:
            return self._render_book_ticker(listing, event)
        assert isinstance(event, Candle)
        return self._render_kline(listing, event)

    def envelope(self, state: object, topic: str, payload: bytes) -> bytes:
        session = cast(BinanceSession, state)
        if session.endpoint == "ws-api":
            return b'{"subscriptionId":%d,"event":%s}' % (session.subscription_id or 0, payload)
        if not session.combined:
            return payload
        prefix = self._stream_prefixes.get(topic)
        if prefix is None:
            prefix = self._stream_prefixes[topic] = f'{{"stream":"{topic}","data":'.encode()
        return prefix + payload + b"}"

    def _render_depth(self, listing: _Listing, event: BookUpdate) -> bytes:
        bids, asks = listing.levels(event.bids), listing.levels(event.asks)
        if self.market_type == "spot":
            return (f'{{"e":"depthUpdate","E":{event.ts_ms},"s":"{listing.name}",'
                    f'"U":{event.first_update_id},"u":{event.last_update_id},'
                    f'"b":[{bids}],"a":[{asks}]}}').encode()
        return (f'{{"e":"depthUpdate","E":{event.ts_ms},"T":{event.ts_ms},"s":"{listing.name}",'
                f'"U":{event.first_update_id},"u":{event.last_update_id},'
                f'"pu":{event.prev_update_id},"b":[{bids}],"a":[{asks}]}}').encode()

    def _render_trade(self, listing: _Listing, event: Trade, *, aggregate: bool) -> bytes:
        price, size = listing.price(event.price), listing.size(event.size)
        buyer_is_maker = "true" if event.taker_side is Side.SELL else "false"
        if not aggregate:
            return (f'{{"e":"trade","E":{event.ts_ms},"s":"{listing.name}","t":{event.trade_id},'
                    f'"p":"{price}","q":"{size}","T":{event.ts_ms},"m":{buyer_is_maker},'
                    f'"M":true}}').encode()
        ignored = ',"M":true' if self.market_type == "spot" else ""
        return (f'{{"e":"aggTrade","E":{event.ts_ms},"s":"{listing.name}","a":{event.trade_id},'
                f'"p":"{price}","q":"{size}","f":{event.trade_id},"l":{event.trade_id},'
                f'"T":{event.ts_ms},"m":{buyer_is_maker}{ignored}}}').encode()

    def _render_book_ticker(self, listing: _Listing, event: BestBidOffer) -> bytes:
        quotes = (f'"b":"{listing.price(event.bid_price)}","B":"{listing.size(event.bid_size)}",'
                  f'"a":"{listing.price(event.ask_price)}","A":"{listing.size(event.ask_size)}"')
        if self.market_type == "spot":
            return f'{{"u":{event.update_id},"s":"{listing.name}",{quotes}}}'.encode()
        return (f'{{"e":"bookTicker","u":{event.update_id},"E":{event.ts_ms},"T":{event.ts_ms},'
                f'"s":"{listing.name}",{quotes}}}').encode()

    def _render_kline(self, listing: _Listing, event: Candle) -> bytes:
        first = -1 if event.first_trade_id is None else event.first_trade_id
        last = -1 if event.last_trade_id is None else event.last_trade_id
        price, size, notional = listing.price, listing.size, listing.notional
        return (f'{{"e":"kline","E":{event.ts_ms},"s":"{listing.name}","k":{{'
                f'"t":{event.open_ms},"T":{event.close_ms},"s":"{listing.name}",'
                f'"i":"{self._interval_names[event.interval_ms]}","f":{first},"L":{last},'
                f'"o":"{price(event.open)}","c":"{price(event.close)}",'
                f'"h":"{price(event.high)}","l":"{price(event.low)}","v":"{size(event.volume)}",'
                f'"n":{event.trade_count},"x":{"true" if event.closed else "false"},'
                f'"q":"{notional(event.notional)}","V":"{size(event.taker_buy_volume)}",'
                f'"Q":"{notional(event.taker_buy_notional)}","B":"0"}}}}').encode()

    # REST --------------------------------------------------------------------------------

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        if request.path == self.user_stream_path and self.account is not None \
                and self.listen_key_flow:
            response = self._user_stream(request)
            self.user_stream_requests.append((request.method, response.status))
            return response
        if request.path == SERVER_TIME_PATH and self.market_type == "spot":
            return HttpResponse(200, _compact({"serverTime": int(self._clock() * 1000)}))
        if request.path == _EXCHANGE_INFO_PATHS[self.market_type]:
            return HttpResponse(200, self._exchange_info())
        if request.path != self.depth_path:
            return None
        symbol = request.query.get("symbol", "")
        if not symbol:
            return _rest_error(400, -1102, "Mandatory parameter 'symbol' was not sent, was "
                                           "empty/null, or malformed.")
        listing = self._listings.get(symbol)
        if listing is None:
            return _rest_error(400, -1121, "Invalid symbol.")
        limit = self._depth_limit(request.query.get("limit"))
        if limit is None:
            return _rest_error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        used, retry_after = self._charge(self._depth_weight(limit))
        headers = {"Content-Type": "application/json", "X-MBX-USED-WEIGHT-1M": str(used)}
        if retry_after is not None:
            return HttpResponse(429, json.dumps({
                "code": -1003,
                "msg": f"Too much request weight used; current limit is {self._rest_limit} "
                       "request weight per 1 MINUTE. Please use WebSocket Streams for live "
                       "updates to avoid polling the API."}).encode(),
                {**headers, "Retry-After": str(retry_after)})
        book = market.book(symbol)
        bids, asks = book.snapshot().top(limit)
        times = "" if self.market_type == "spot" else f'"E":{market.now_ms},"T":{market.now_ms},'
        body = (f'{{"lastUpdateId":{book.update_id},{times}"bids":[{listing.levels(bids)}],'
                f'"asks":[{listing.levels(asks)}]}}')
        return HttpResponse(200, body.encode(), headers)

    def _exchange_info(self) -> bytes:
        """The listings in ``exchangeInfo``'s shape: status, assets, precisions, filters."""
        spot = self.market_type == "spot"
        statuses = _STATUSES[self.market_type]
        symbols = []
        for listing in self.catalog:
            price_decimals, size_decimals = listing.decimals()
            entry: dict[str, object] = {
                "symbol": listing.symbol, "status": statuses[listing.status],
                "baseAsset": listing.base, "quoteAsset": listing.quote}
            notional: dict[str, object]
            if spot:
                entry.update(baseAssetPrecision=8, quotePrecision=8, quoteAssetPrecision=8)
                notional = {"filterType": "NOTIONAL", "minNotional": listing.min_notional,
                            "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                            "applyMaxToMarket": False, "avgPriceMins": 5}
            else:
                entry.update(pair=listing.symbol, contractType="PERPETUAL",
                             marginAsset=listing.quote, pricePrecision=price_decimals,
                             quantityPrecision=size_decimals)
                notional = {"filterType": "MIN_NOTIONAL", "notional": listing.min_notional}
            entry["filters"] = [
                {"filterType": "PRICE_FILTER", "minPrice": listing.tick_size,
                 "maxPrice": "1000000", "tickSize": listing.tick_size},
                {"filterType": "LOT_SIZE", "minQty": listing.min_size or listing.lot_size,
                 "maxQty": "9000000", "stepSize": listing.lot_size},
                notional]
            symbols.append(entry)
        return json.dumps({"timezone": "UTC", "serverTime": int(self._clock() * 1000),
                           "rateLimits": [], "exchangeFilters": [], "symbols": symbols},
                          separators=(",", ":")).encode()

    def _user_stream(self, request: HttpRequest) -> HttpResponse:
        api_key = request.headers.get("x-mbx-apikey", "")
        if not api_key:
            return _rest_error(401, -2014, "API-key format invalid.")
        if api_key not in self.api_keys:
            return _rest_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if request.method == "POST":
            # an account with an active key gets that key back (and its validity extended)
            key = next((k for k, owner in self.listen_keys.items() if owner == api_key), None)
            if key is None:
                key = "".join(self._key_random.choices(string.ascii_letters + string.digits,
                                                       k=64))
                self.listen_keys[key] = api_key
            return HttpResponse(200, json.dumps({"listenKey": key}).encode())
        if request.method not in ("PUT", "DELETE"):
            return _rest_error(405, -1000, "Unsupported method.")
        key = request.query.get("listenKey", "")
        if self.market_type == "usdm" and not key:
            key = next((k for k, owner in self.listen_keys.items() if owner == api_key), "")
        if self.listen_keys.get(key) != api_key:
            return _rest_error(400, -1125, "This listenKey does not exist.")
        if request.method == "DELETE":
            del self.listen_keys[key]
        return HttpResponse(200, b"{}")

    def render_server_shutdown(self, state: object, now_ms: int) -> bytes:
        """Binance's announcement that this server shuts down: raw or combined on the market
        streams, an ``event`` on the WebSocket API."""
        session = cast(BinanceSession, state)
        event = f'{{"e":"serverShutdown","E":{now_ms}}}'
        if session.endpoint == "ws-api":
            return f'{{"event":{event}}}'.encode()
        if session.combined:
            return f'{{"stream":"!serverShutdown","data":{event}}}'.encode()
        return event.encode()

    def event_stream_terminated(self) -> list[bytes]:
        """The event that ends a WebSocket API user data subscription (the socket stays open);
        ``SimulatedExchange.end_topic(USER_TOPIC, ...)`` sends it and unsubscribes."""
        return [_compact({"e": "eventStreamTerminated", "E": int(self._clock() * 1000)})]

    def expire_listen_keys(self) -> list[bytes]:
        """Forgets every listen key; returns the listenKeyExpired frames to push."""
        frames = [json.dumps({"e": "listenKeyExpired", "E": int(self._clock() * 1000),
                              "listenKey": key}).encode() for key in self.listen_keys]
        self.listen_keys.clear()
        return frames

    def render_account(self, events: list[AccountEvent]) -> list[bytes]:
        """One account step in Binance's wire format: the order event, then the balances
        (and positions) it changed in one account event."""
        frames = [self._render_order(e) for e in events if isinstance(e, OrderEvent)]
        balances = [e for e in events if isinstance(e, BalanceEvent)]
        positions = [e for e in events if isinstance(e, PositionEvent)]
        if not balances and not positions:
            return frames
        ts = balances[0].ts_ms if balances else positions[0].ts_ms
        if self.market_type == "spot":
            frames.append(_compact({"e": "outboundAccountPosition", "E": ts, "u": ts, "B": [
                {"a": b.asset, "f": f"{b.free:.8f}", "l": f"{b.locked:.8f}"}
                for b in balances]}))
            return frames
        frames.append(_compact({"e": "ACCOUNT_UPDATE", "E": ts, "T": ts, "a": {
            "m": "ORDER",
            "B": [{"a": b.asset, "wb": f"{b.free + b.locked:f}", "cw": f"{b.free:f}",
                   "bc": f"{b.change:f}"} for b in balances],
            "P": [{"s": p.symbol, "pa": f"{p.amount:f}", "ep": f"{p.entry_price:f}",
                   "bep": f"{p.entry_price:f}", "cr": "0", "up": f"{p.unrealized_pnl:f}",
                   "mt": "cross", "iw": "0", "ps": "BOTH"} for p in positions]}}))
        return frames

    def _render_order(self, e: OrderEvent) -> bytes:
        fill = e.last_size > 0
        if self.market_type == "spot":
            canceled = e.status == "CANCELED"
            return _compact({
                "e": "executionReport", "E": e.ts_ms, "s": e.symbol,
                "c": f"cancel-{e.order_id}" if canceled else e.client_id, "S": e.side,
                "o": "LIMIT", "f": "GTC", "q": f"{e.size:.8f}", "p": f"{e.price:.8f}",
                "P": "0.00000000", "F": "0.00000000", "g": -1,
                "C": e.client_id if canceled else "", "x": _EXECUTION_TYPES[e.status],
                "X": e.status, "r": "INSUFFICIENT_BALANCE" if e.status == "REJECTED" else "NONE",
                "i": e.order_id, "l": f"{e.last_size:.8f}", "z": f"{e.filled:.8f}",
                "L": f"{e.last_price:.8f}", "n": f"{e.fee:.8f}",
                "N": e.fee_asset if fill else None, "T": e.ts_ms,
                "t": e.seq if fill else -1, "I": e.seq, "w": e.status in ("NEW",
                                                                        "PARTIALLY_FILLED"),
                "m": False, "M": fill, "O": e.ts_ms, "Z": f"{e.filled * e.price:.8f}",
                "Y": f"{e.last_size * e.last_price:.8f}", "Q": "0.00000000",
                "W": e.ts_ms, "V": "EXPIRE_MAKER"})
        order: dict[str, object] = {
            "s": e.symbol, "c": e.client_id, "S": e.side, "o": "LIMIT", "f": "GTC",
            "q": f"{e.size:f}", "p": f"{e.price:f}",
            "ap": f"{e.price:f}" if e.filled else "0", "sp": "0",
            "x": _EXECUTION_TYPES[e.status], "X": e.status, "i": e.order_id,
            "l": f"{e.last_size:f}", "z": f"{e.filled:f}", "L": f"{e.last_price:f}",
            "T": e.ts_ms, "t": e.seq if fill else 0, "b": "0", "a": "0", "m": False,
            "R": False, "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "BOTH", "cp": False,
            "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE",
            "gtd": 0}
        if fill:
            order["N"] = e.fee_asset
            order["n"] = f"{e.fee:f}"
        return _compact({"e": "ORDER_TRADE_UPDATE", "E": e.ts_ms, "T": e.ts_ms, "o": order})

    def _depth_limit(self, text: str | None) -> int | None:
        if self.market_type == "spot":
            if text is None:
                return 100
            limit = int(text) if text.isdigit() else 0
            return min(limit, 5000) if limit >= 1 else None
        if text is None:
            return 500
        limit = int(text) if text.isdigit() else 0
        return limit if limit in _USDM_DEPTH_WEIGHTS else None

    def _depth_weight(self, limit: int) -> int:
        if self.market_type == "usdm":
            return _USDM_DEPTH_WEIGHTS[limit]
        return next(weight for ceiling, weight in _SPOT_DEPTH_WEIGHTS if limit <= ceiling)

    def _charge(self, weight: int) -> tuple[int, int | None]:
        """Count ``weight`` against the current wall-clock minute; (used, Retry-After or None)."""
        now = self._clock()
        minute = int(now // 60)
        if minute != self._rest_minute:
            self._rest_minute, self._rest_used = minute, 0
        if self._rest_limit is not None and self._rest_used + weight > self._rest_limit:
            return self._rest_used, max(1, int(60 - now % 60))
        self._rest_used += weight
        return self._rest_used, None


def tier_of(topic: str) -> str:
    """The USD-M endpoint that carries a stream: books and book tickers on /public, the rest
    (trades, klines) on /market (docs/venues/binance.md)."""
    kind = topic.partition("@")[2]
    return "public" if kind.startswith("depth") or kind == "bookTicker" else "market"


def _invalid(request_id: object, detail: str) -> ClientRequest:
    return ClientRequest(RequestKind.INVALID, request_id, error=ErrorReason.INVALID_REQUEST,
                         detail=detail)


def _reply(result: object, request_id: object) -> bytes:
    return json.dumps({"result": result, "id": request_id}, separators=(",", ":")).encode()


def _error(code: int, msg: str, request_id: object) -> bytes:
    return json.dumps({"error": {"code": code, "msg": msg}, "id": request_id},
                      separators=(",", ":")).encode()


def _compact(message: object) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _rest_error(status: int, code: int, msg: str) -> HttpResponse:
    return HttpResponse(status, json.dumps({"code": code, "msg": msg}).encode())
