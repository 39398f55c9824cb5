"""HTX (Huobi) spot WebSocket market data for the simulated exchange.

Facts and their sources are in docs/venues/htx.md. Every server frame is gzip'd BINARY
(``compression``), numbers are JSON numbers, the server pings every 5 s and closes a connection
that leaves two pings unanswered. mbp books are served on ``/feed`` (incremental updates chained
by ``seqNum``/``prevSeqNum``, snapshots by ``req``); everything else on ``/ws``. The simulated
books are 50 levels deep, so only the 150 and 400 level mbp topics are offered: within them
every change is in scope and no level ever enters or leaves a subscriber's view.

With ``account`` (a ``SimAccount``) and ``api_keys`` it also serves the private ``/ws/v2``
endpoint, plain text (not gzip'd), pinging with ``{"action":"ping","data":{"ts":n}}``:
``req auth`` is checked as HTX does (known accessKey, signature v2.1 over ``sign_host``,
timestamp within 300 s of the venue ``clock``), failures answered with code 2002
``auth.fail``; ``sub`` before a successful auth is refused. Topics ``orders#<symbol>``
(``orders#*`` is every listed symbol) and ``accounts.update#2``, which starts with the
current value of every asset (changeType and changeTime null). ``render_account`` and
``route_account`` (each frame's topic) stream the account (rejected orders are not pushed:
the REST call fails).
``GET /v1/common/timestamp`` serves the venue clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from feedhandler.exchanges.htx import auth
from feedhandler.sim import catalog
from feedhandler.sim.account import AccountEvent, BalanceEvent, OrderEvent, SimAccount
from feedhandler.sim.market import (
    BestBidOffer,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketEvent,
    PriceLevel,
    Trade,
)
from feedhandler.sim.venue import (
    ClientRequest,
    ErrorReason,
    HttpRequest,
    HttpResponse,
    Keepalive,
    RequestKind,
    Session,
    Venue,
)

KLINE_PERIODS_MS = {
    "1min": 60_000, "5min": 300_000, "15min": 900_000, "30min": 1_800_000,
    "60min": 3_600_000, "4hour": 14_400_000, "1day": 86_400_000, "1week": 604_800_000,
}
"""Fixed-length kline periods (the calendar ``1mon`` and ``1year`` are not simulated)."""
MBP_LEVELS = (5, 20, 150, 400)
MARKET_PATH = "/ws"
BOOK_PATH = "/feed"
PRIVATE_PATH = "/ws/v2"
ACCOUNTS_TOPIC = "accounts.update#2"
TIMESTAMP_PATH = "/v1/common/timestamp"
AUTH_FAIL = 2002

_LISTINGS: dict[str, tuple[str, str, str]] = {
    "btcusdt": ("0.01", "0.000001", "60000.00"),
    "ethusdt": ("0.01", "0.0001", "3000.00"),
    "solusdt": ("0.0001", "0.0001", "150.0000"),
    "pepeusdt": catalog.FINE_TICK,
}
"""Tick size, lot size and starting price; other symbols get their generated listing's
(``sim.catalog``), else ``_GENERIC_LISTING``."""
_GENERIC_LISTING = ("0.0001", "0.0001", "100.0000")
_CATALOG_SEED = 501
MARKET_SYMBOLS_PATH = "/v1/settings/common/market-symbols"
_STATES = {"trading": "online", "halted": "suspend", "delisted": "offline"}


@dataclass
class _TopView:
    """The best levels of one mbp topic as of ``update_id``: what its subscribers hold."""

    update_id: int
    bids: dict[int, int]
    asks: dict[int, int]


@dataclass(frozen=True)
class HtxSession:
    """Which endpoint a connection dialled: ``/ws`` or ``/feed``."""

    path: str


@dataclass
class HtxPrivateSession:
    """A ``/ws/v2`` connection: whether its ``req auth`` succeeded."""

    authenticated: bool = False


def number(formatter: Callable[[int], str]) -> Callable[[int], str]:
    """A fixed-decimals formatter as HTX writes numbers: JSON numbers without trailing zeros."""
    def render(units: int) -> str:
        text = formatter(units)
        return text.rstrip("0").rstrip(".") if "." in text else text
    return render


class _Listing:
    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.price = number(spec.price_formatter())
        self.size = number(spec.size_formatter())
        self.notional = number(spec.notional_formatter())
        self.mbp_topics = tuple(f"market.{spec.symbol}.mbp.{levels}" for levels in MBP_LEVELS)
        self.trade_topics = (f"market.{spec.symbol}.trade.detail",)
        self.bbo_topics = (f"market.{spec.symbol}.bbo",)

    def levels(self, levels: Sequence[PriceLevel]) -> str:
        price, size = self.price, self.size
        return ",".join([f"[{price(p)},{size(q)}]" for p, q in levels])


class HtxVenue(Venue):
    """HTX spot market data on ``/ws`` and mbp books on ``/feed``, gzip'd."""

    name = "htx"
    compression = "gzip"

    def __init__(self, market: str = "spot", symbols: Sequence[str] = ("btcusdt",), *,
                 account: SimAccount | None = None, api_keys: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time, sign_host: str = "127.0.0.1") -> None:
        """``sign_host`` is the host the client dialled, which HTX's signature covers."""
        if market != "spot":
            raise ValueError(f"unknown HTX market {market!r}; only 'spot' is simulated")
        self.keepalive = Keepalive(5.0, 10.0, text=True, pong_must_echo=True)
        specs, self.catalog = catalog.catalog(
            _CATALOG_SEED, lambda base, quote: (base + quote).lower(), symbols, _LISTINGS,
            _GENERIC_LISTING)
        self._listings = {symbol: _Listing(spec) for symbol, spec in specs.items()}
        self._kline_topics = {(listing.symbol, ms): (f"market.{listing.symbol}.kline.{name}",)
                              for listing in self._listings.values()
                              for name, ms in KLINE_PERIODS_MS.items()}
        self._book_topics = {topic: listing for listing in self._listings.values()
                             for topic in listing.mbp_topics}
        self._views: dict[str, _TopView] = {}
        self._market_topics = {topic for listing in self._listings.values()
                               for topic in (*listing.trade_topics, *listing.bbo_topics)}
        self._market_topics.update(topic for (topic,) in self._kline_topics.values())
        self.account = account
        self.api_keys = dict(api_keys or {})
        self.clock = clock
        self.sign_host = sign_host
        self.auth_failures: list[str] = []
        self.account_id = 10_000_001
        self._private_symbols = [listing.symbol for listing in (account.listings
                                                                  if account else ())]

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(KLINE_PERIODS_MS.values())

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        if path == PRIVATE_PATH and self.account is not None:
            return Session((), HtxPrivateSession(), compression="none")
        if path not in (MARKET_PATH, BOOK_PATH):
            return None
        return Session((), HtxSession(path))

    def parse(self, state: object, payload: bytes) -> ClientRequest:
        if isinstance(state, HtxPrivateSession):
            return self._parse_private(state, payload)
        assert isinstance(state, HtxSession)
        try:
            message = json.loads(payload)
        except ValueError:
            return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_JSON,
                                 detail="invalid json")
        if not isinstance(message, dict):
            return _invalid(None, "invalid request")
        request_id = message.get("id")
        for beat, kind in (("ping", RequestKind.PING), ("pong", RequestKind.PONG)):
            if beat in message:
                value = message[beat]
                if not isinstance(value, int) or isinstance(value, bool):
                    return _invalid(request_id, f"invalid {beat}")
                return ClientRequest(kind, value, body=str(value).encode())
        for verb, kind in (("sub", RequestKind.SUBSCRIBE), ("unsub", RequestKind.UNSUBSCRIBE),
                           ("req", RequestKind.QUERY)):
            if verb in message:
                topic = message[verb]
                if not isinstance(topic, str):
                    return _invalid(request_id, f"invalid {verb}")
                if self._private_topic(topic):
                    return _invalid(request_id, f"topic {topic} is served on {PRIVATE_PATH}")
                if kind is not RequestKind.UNSUBSCRIBE and self.is_topic(topic) and \
                        (topic in self._book_topics) != (state.path == BOOK_PATH):
                    return _invalid(request_id, f"topic {topic} is not served on {state.path}")
                return ClientRequest(kind, request_id, (topic,), body=message)
        return _invalid(request_id, "invalid request")

    def is_topic(self, topic: str) -> bool:
        if self._private_topic(topic):
            return True
        return topic in self._book_topics or topic in self._market_topics

    def _private_topic(self, topic: str) -> bool:
        return self.account is not None and (
            topic == ACCOUNTS_TOPIC or topic.removeprefix("orders#") in self._private_symbols)

    # /ws/v2 (private) ---------------------------------------------------------------------

    def _parse_private(self, state: HtxPrivateSession, payload: bytes) -> ClientRequest:
        try:
            message = json.loads(payload)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("action"), str):
            return ClientRequest(RequestKind.OTHER, body=(state, {"action": "", "ch": ""}))
        action = message["action"]
        if action == "pong":
            data = message.get("data")
            ts = data.get("ts") if isinstance(data, dict) else None
            return ClientRequest(RequestKind.PONG, body=str(ts).encode())
        ch = message.get("ch")
        if action in ("sub", "unsub") and isinstance(ch, str) and state.authenticated:
            topics = tuple(f"orders#{symbol}" for symbol in self._private_symbols) \
                if ch == "orders#*" else (ch,)
            kind = RequestKind.SUBSCRIBE if action == "sub" else RequestKind.UNSUBSCRIBE
            return ClientRequest(kind, None, topics, body=message)
        return ClientRequest(RequestKind.OTHER, body=(state, message))

    def handle_other(self, state: object, request: ClientRequest) -> list[bytes]:
        """``req auth``, and refusals: a sub before auth, anything unknown."""
        assert isinstance(request.body, tuple)
        session: HtxPrivateSession = request.body[0]
        message: dict[str, object] = request.body[1]
        action, ch = message.get("action"), message.get("ch")
        if action == "req" and ch == "auth":
            refusal = self._auth_refusal(message.get("params"))
            if refusal is None:
                session.authenticated = True
                return [_json({"action": "req", "code": 200, "ch": "auth", "data": {}})]
            self.auth_failures.append(refusal)
            return [_json({"action": "req", "code": AUTH_FAIL, "ch": "auth",
                           "message": "auth.fail"})]
        if action in ("sub", "unsub"):
            return [_json({"action": action, "code": AUTH_FAIL, "ch": ch,
                           "message": "invalid.auth.state"})]
        return [_json({"action": action, "code": 4000, "ch": ch, "message": "invalid.action"})]

    def _auth_refusal(self, params: object) -> str | None:
        if not isinstance(params, dict) or params.get("authType") != "api" \
                or params.get("signatureMethod") != auth.SIGNATURE_METHOD \
                or params.get("signatureVersion") != auth.SIGNATURE_VERSION:
            return "malformed auth params"
        secret = self.api_keys.get(str(params.get("accessKey")))
        if secret is None:
            return "unknown key"
        if not auth.verify(secret, str(params["accessKey"]), str(params.get("timestamp")),
                           str(params.get("signature")), int(self.clock()), self.sign_host):
            return "bad signature or timestamp outside the window"
        return None

    def render_session_ping(self, state: object, payload: bytes) -> bytes:
        if isinstance(state, HtxPrivateSession):
            return b'{"action":"ping","data":{"ts":' + payload + b"}}"
        return self.render_ping(payload)

    @staticmethod
    def route_account(frame: bytes) -> str:
        """The topic a rendered account frame is pushed on (``AccountStream`` ``route``)."""
        return str(json.loads(frame)["ch"])

    def render_account(self, events: list[AccountEvent]) -> list[bytes]:
        """A push per event; none for a rejected order (HTX fails the REST call instead)."""
        return [self._push(f"orders#{e.symbol}", self._order(e)) if isinstance(e, OrderEvent)
                else self._push(ACCOUNTS_TOPIC, self._balance(e, e.ts_ms, e.seq))
                for e in events if isinstance(e, BalanceEvent)
                or (isinstance(e, OrderEvent) and e.status != "REJECTED")]

    @staticmethod
    def _push(ch: str, data: dict[str, object]) -> bytes:
        return _json({"action": "push", "ch": ch, "data": data})

    def _balance(self, e: BalanceEvent, ts: int | None, seq: int) -> dict[str, object]:
        return {"currency": e.asset.lower(), "accountId": self.account_id,
                "balance": f"{e.free + e.locked:f}", "available": f"{e.free:f}",
                "changeType": None if ts is None else "order.match", "accountType": "trade",
                "seqNum": seq, "changeTime": ts}

    def _order(self, e: OrderEvent) -> dict[str, object]:
        side = e.side.lower()
        head: dict[str, object] = {"orderId": e.order_id, "type": f"{side}-limit",
                                   "clientOrderId": e.client_id, "symbol": e.symbol}
        remain = f"{e.size - e.filled:f}"
        if e.status == "NEW":
            return {**head, "orderSize": f"{e.size:f}", "orderCreateTime": e.ts_ms,
                    "orderPrice": f"{e.price:f}", "orderStatus": "submitted",
                    "accountId": self.account_id, "orderSource": "spot-api",
                    "eventType": "creation"}
        if e.status == "CANCELED":
            return {**head, "lastActTime": e.ts_ms, "remainAmt": remain,
                    "execAmt": f"{e.filled:f}",
                    "orderStatus": "partial-canceled" if e.filled else "canceled",
                    "eventType": "cancellation"}
        return {**head, "tradePrice": f"{e.last_price:f}", "tradeVolume": f"{e.last_size:f}",
                "tradeId": e.seq, "tradeTime": e.ts_ms, "aggressor": False,
                "remainAmt": remain, "execAmt": f"{e.filled:f}", "orderSource": "spot-api",
                "orderPrice": f"{e.price:f}", "orderSize": f"{e.size:f}",
                "orderStatus": "filled" if e.status == "FILLED" else "partial-filled",
                "eventType": "trade"}

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        """accounts.update starts with every asset's current value."""
        if topic != ACCOUNTS_TOPIC or self.account is None:
            return []
        account = self.account
        return [self._push(ACCOUNTS_TOPIC, self._balance(BalanceEvent(
            0, 0, asset, total - account.locked.get(asset, Decimal(0)),
            account.locked.get(asset, Decimal(0)), Decimal(0)), None, account.seq))
            for asset, total in sorted(account.balances.items())]

    def render_ack(self, request: ClientRequest) -> list[bytes]:
        if isinstance(request.body, dict) and "action" in request.body:
            return [_json({"action": request.body["action"], "code": 200,
                           "ch": request.body.get("ch"), "data": {}})]
        verb = "subbed" if request.kind is RequestKind.SUBSCRIBE else "unsubbed"
        return [_json({**_id(request), "status": "ok", verb: request.topics[0],
                       "ts": _now_ms()})]

    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        return []

    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        if isinstance(request.body, dict) and "action" in request.body:
            return [_json({"action": request.body["action"], "code": 2001,
                           "ch": request.body.get("ch"), "message": "invalid.ch"})]
        if reason is ErrorReason.UNKNOWN_TOPIC:
            detail = f"invalid topic {detail}"
        return [_json({**_id(request), "status": "error", "err-code": "bad-request",
                       "err-msg": detail, "ts": _now_ms()})]

    def render_pong(self, request: ClientRequest) -> list[bytes]:
        return [_json({"pong": request.request_id})]

    def render_ping(self, payload: bytes) -> bytes:
        return b'{"ping":' + payload + b"}"

    def handle_query(self, state: object, request: ClientRequest,
                     market: Market) -> list[bytes]:
        topic = request.topics[0]
        listing = self._book_topics.get(topic)
        if listing is None:
            return self.render_error(request, ErrorReason.UNKNOWN_TOPIC, topic)
        book = market.book(listing.symbol)
        bids, asks = book.snapshot().top(int(topic.rsplit(".", 1)[1]))
        return [(f'{{"id":{json.dumps(request.request_id)},"rep":"{topic}","status":"ok",'
                 f'"ts":{market.now_ms},"data":{{"seqNum":{book.update_id},'
                 f'"bids":[{listing.levels(bids)}],"asks":[{listing.levels(asks)}]}}}}').encode()]

    # Market data -------------------------------------------------------------------------

    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        listing = self._listings[event.symbol]
        if type(event) is BookUpdate:
            return listing.mbp_topics
        if type(event) is Trade:
            return listing.trade_topics
        if type(event) is BestBidOffer:
            return listing.bbo_topics
        assert isinstance(event, Candle)
        return self._kline_topics[(event.symbol, event.interval_ms)]

    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        listing = self._listings[event.symbol]
        if type(event) is BookUpdate:
            bids, asks = self._top_changes(topic, event, market)
            tick = (f'{{"seqNum":{event.last_update_id},"prevSeqNum":{event.prev_update_id},'
                    f'"bids":[{listing.levels(bids)}],"asks":[{listing.levels(asks)}]}}')
        elif type(event) is Trade:
            tick = (f'{{"id":{event.trade_id},"ts":{event.ts_ms},"data":[{{'
                    f'"id":{event.trade_id}0001,"ts":{event.ts_ms},"tradeId":{event.trade_id},'
                    f'"amount":{listing.size(event.size)},"price":{listing.price(event.price)},'
                    f'"direction":"{event.taker_side.value}"}}]}}')
        elif type(event) is BestBidOffer:
            tick = (f'{{"seqId":{event.update_id},"ask":{listing.price(event.ask_price)},'
                    f'"askSize":{listing.size(event.ask_size)},'
                    f'"bid":{listing.price(event.bid_price)},'
                    f'"bidSize":{listing.size(event.bid_size)},"quoteTime":{event.ts_ms},'
                    f'"symbol":"{listing.symbol}"}}')
        else:
            assert isinstance(event, Candle)
            tick = (f'{{"id":{event.open_ms // 1000},"open":{listing.price(event.open)},'
                    f'"close":{listing.price(event.close)},"low":{listing.price(event.low)},'
                    f'"high":{listing.price(event.high)},"amount":{listing.size(event.volume)},'
                    f'"vol":{listing.notional(event.notional)},"count":{event.trade_count}}}')
        return f'{{"ch":"{topic}","ts":{event.ts_ms},"tick":{tick}}}'.encode()

    def _top_changes(self, topic: str, event: BookUpdate, market: Market
                     ) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """What changed within the topic's best levels; every book event yields a message,
        possibly empty, so the topic's ``prevSeqNum`` chain has no holes of its own."""
        levels = int(topic.rsplit(".", 1)[1])
        view = self._views.get(topic)
        if view is None or view.update_id != event.prev_update_id:
            before = market.book_at(event.symbol, event.prev_update_id).top(levels)
            view = _TopView(event.prev_update_id, dict(before[0]), dict(before[1]))
        book = market.book(event.symbol)
        bids = {price: book.bids[price] for price in book.bid_prices[-levels:]}
        asks = {price: book.asks[price] for price in book.ask_prices[:levels]}
        changes = (_changes(view.bids, bids, reverse=True), _changes(view.asks, asks))
        self._views[topic] = _TopView(event.last_update_id, bids, asks)
        return changes

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        if request.path == TIMESTAMP_PATH:
            return HttpResponse(200, _json({"status": "ok", "data": int(self.clock() * 1000)}))
        if request.path == MARKET_SYMBOLS_PATH:
            return HttpResponse(200, self._market_symbols())
        return None

    def _market_symbols(self) -> bytes:
        """The listings as ``market-symbols`` states them: precisions as decimal counts
        (``pp``, ``ap``), minimums as JSON numbers, lower-case codes."""
        data = []
        for listing in self.catalog:
            price_decimals, amount_decimals = listing.decimals()
            data.append({
                "symbol": listing.symbol, "sn": f"{listing.base}/{listing.quote}",
                "bc": listing.base.lower(), "qc": listing.quote.lower(),
                "state": _STATES[listing.status], "ve": True, "we": False, "dl": False,
                "cd": False, "te": listing.status == "trading", "ce": False,
                "tet": 1_530_316_800_000, "toa": 1_514_779_200_000, "tca": 1_514_779_200_000,
                "voa": 1_514_779_200_000, "vca": 1_514_779_200_000, "sp": "main",
                "tm": "USDT", "w": 999_400_000, "ttp": 8, "tap": amount_decimals,
                "tpp": price_decimals, "fp": 8, "tags": "", "d": None, "bcdn": listing.base,
                "qcdn": listing.quote, "elr": None, "castate": "", "ca1oa": None,
                "ca2oa": None, "pp": price_decimals, "ap": amount_decimals, "vp": 8,
                "minoa": float(listing.min_size or listing.lot_size), "maxoa": 1e9,
                "minov": float(listing.min_notional or 1), "maxov": 1e9,
                "lominoa": float(listing.min_size or listing.lot_size), "lomaxoa": 1e9,
                "lomaxba": 1e9, "lomaxsa": 1e9, "smminoa": 0.0001, "smmaxoa": 1e9,
                "bmmaxov": 1e9, "u": listing.symbol, "mlr": None})
        return _json({"status": "ok", "data": data, "ts": str(int(self.clock() * 1000)),
                      "full": 1})

    def render_malformed(self) -> bytes:
        return b'{"ch":"market.btcusdt.mbp.150","ts":1,"tick":{"bids":[[1.5,'


def _changes(sent: dict[int, int], top: dict[int, int],
             reverse: bool = False) -> list[PriceLevel]:
    """Levels whose size differs between what was sent and the new top, best first; a level no
    longer in the top gets size 0."""
    changed = [(price, size) for price, size in top.items() if sent.get(price) != size]
    changed += [(price, 0) for price in sent if price not in top]
    return sorted(changed, reverse=reverse)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _id(request: ClientRequest) -> dict[str, object]:
    return {} if request.request_id is None else {"id": request.request_id}


def _json(message: dict[str, object]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _invalid(request_id: object, detail: str) -> ClientRequest:
    return ClientRequest(RequestKind.INVALID, request_id, error=ErrorReason.INVALID_REQUEST,
                         detail=detail)
