"""Bybit v5 public WebSocket wire format (spot or linear) for the simulated exchange.

Facts and their sources are in docs/venues/bybit.md. Books are published the way Bybit
publishes them: a snapshot of the top N on subscribe, then deltas carrying what changed within
the top N (a level that leaves it is sent with size 0), each topic numbering its messages with
``u`` (+1 per message); ``orderbook.1`` only ever sends snapshots. Linear tickers send a
snapshot then partial deltas; spot tickers are always full snapshots without a bid or ask.

With ``account`` (a ``SimAccount``) and ``api_keys`` it also serves the private stream on
``/v5/private``: the ``auth`` op checked as Bybit checks it (known key, HMAC-SHA256 of
``GET/realtime`` + expires with that key's secret, expires after the server's clock), refused
with Bybit's replies ("Request not authorized", "Params Error"); then the category's topics
(``order.<category>``, ``execution.<category>``, ``wallet``, ``position.linear``), which
``render_account`` fills and ``route`` names per frame. ``GET /v5/market/time`` serves the
server clock. No backlog is kept for a session that reconnects, as on Bybit.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from feedhandler.exchanges.bybit import auth
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
    OrderBook,
    PriceLevel,
    Side,
    Trade,
    TradeStats,
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

KLINE_INTERVALS: dict[str, int] = {
    # Bybit interval: length in ms; "M" (calendar months) is not simulated
    **{str(minutes): minutes * 60_000 for minutes in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720)},
    "D": 86_400_000, "W": 604_800_000,
}
BOOK_DEPTHS = {"spot": (1, 50, 200, 1000), "linear": (1, 50, 200, 1000)}
MAX_ARGS = {"spot": 10, "linear": None}
"""Topics one spot request may carry; linear limits only the total length of the args."""

_LISTINGS: dict[str, dict[str, tuple[str, str, str]]] = {
    # tick size, lot size, starting price
    "spot": {"BTCUSDT": ("0.01", "0.000001", "60000.00"),
             "ETHUSDT": ("0.01", "0.00001", "3000.00"),
             "PEPEUSDT": catalog.FINE_TICK},
    "linear": {"BTCUSDT": ("0.10", "0.001", "60000.00"),
               "ETHUSDT": ("0.01", "0.01", "3000.00"),
               "1000PEPEUSDT": ("0.000000001", "100", "0.012345678")},
}
_GENERIC_LISTING = ("0.01", "0.001", "100.00")
_CATALOG_SEEDS = {"spot": 601, "linear": 602}
INSTRUMENTS_PATH = "/v5/market/instruments-info"
PAGE_LIMIT = 500           # Bybit's default page of linear instruments (1000 at most)
_STATUSES = {"trading": "Trading", "halted": "PreLaunch", "delisted": "Closed"}
PRIVATE_PATH = "/v5/private"
PRIVATE_TOPICS = ("order", "execution", "wallet", "position")
# Bybit's auth replies: the reply to a wrong key or signature, and to a missing, malformed or
# past expiry (docs/venues/bybit.md, "Error replies")
NOT_AUTHORIZED = "Request not authorized"
PARAMS_ERROR = "Params Error"
_ORDER_STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled",
                 "CANCELED": "Cancelled", "REJECTED": "Rejected", "EXPIRED": "Deactivated"}


@dataclass
class BybitSession:
    """Per-connection state: Bybit's connection id and the topics acknowledged."""

    conn_id: str
    subscribed: set[str] = field(default_factory=set)
    private: bool = False
    authenticated: bool = False


@dataclass(frozen=True)
class BybitRequest:
    """What a reply to a request needs: its connection and the op it names (and, for
    ``auth``, its args)."""

    session: BybitSession
    op: str
    args: object = None


@dataclass
class _BookTopic:
    """One ``orderbook.<depth>.<symbol>`` stream: what its subscribers were last sent."""

    depth: int
    update_id: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    changes: tuple[list[PriceLevel], list[PriceLevel]] = ([], [])
    restarting: bool = False
    """The next message is the full snapshot numbered u = 1 of a book service restart."""


@dataclass
class _Stats(TradeStats):
    """The shared statistics plus Bybit's ``tickDirection`` of the last trade."""

    direction: str = "ZeroPlusTick"

    def add(self, trade: Trade) -> None:
        if trade.price != self.last:
            self.direction = "PlusTick" if trade.price > self.last else "MinusTick"
        else:
            self.direction = "Zero" + self.direction.removeprefix("Zero")
        super().add(trade)


class _Listing:
    """One symbol's exact number formatters and running state."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.price: Callable[[int], str] = spec.price_formatter()
        self.qty: Callable[[int], str] = spec.size_formatter()
        self.notional: Callable[[int], str] = spec.notional_formatter()
        initial = spec.price_ticks(spec.initial_price)
        self.stats = _Stats.starting_at(initial)
        self.books: dict[int, _BookTopic] = {}
        self.cross_sequence = 0


class BybitVenue(Venue):
    """Bybit v5 public market data on ``/v5/public/spot`` or ``/v5/public/linear``."""

    name = "bybit"
    has_checksum = False

    def __init__(self, market: str = "spot", symbols: Sequence[str] = ("BTCUSDT",), *,
                 account: SimAccount | None = None, api_keys: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock`` is the server's (private-stream expiry checks and server time)."""
        if market not in BOOK_DEPTHS:
            raise ValueError(f"unknown Bybit market {market!r}; use 'spot' or 'linear'")
        self.market_type = market
        self.spot = market == "spot"
        self.ws_path = f"/v5/public/{market}"
        self.private_ws_path = PRIVATE_PATH
        specs, self.catalog = catalog.catalog(
            _CATALOG_SEEDS[market], lambda base, quote: base + quote, symbols, _LISTINGS[market],
            _GENERIC_LISTING)
        self._listings = {symbol: _Listing(spec) for symbol, spec in specs.items()}
        self._market: Market | None = None
        self._connections = 0
        self.account = account
        self.api_keys = dict(api_keys or {})
        self._clock = clock
        self.auth_replies: list[tuple[bool, str]] = []     # (success, ret_msg) per auth op
        self.private_topics = {auth.topic(name, market) for name in PRIVATE_TOPICS
                               if name != "position" or not self.spot}

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(KLINE_INTERVALS.values())

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        private = path.rstrip("/") == self.private_ws_path and self.account is not None
        if path.rstrip("/") != self.ws_path and not private:
            return None
        self._connections += 1
        return Session((), BybitSession(f"sim{self._connections:04d}-{self.market_type}",
                                        private=private))

    def parse(self, state: object, payload: bytes) -> ClientRequest:
        assert isinstance(state, BybitSession)
        try:
            message = json.loads(payload)
        except ValueError:
            return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_JSON,
                                 detail="error:request not json", body=BybitRequest(state, ""))
        if not isinstance(message, dict):
            return _invalid(state, None, None, "error:request not json")
        req_id, op = message.get("req_id"), message.get("op")
        if op == "ping":
            return ClientRequest(RequestKind.PING, req_id, body=BybitRequest(state, op))
        if op == "auth" and state.private:
            return ClientRequest(RequestKind.OTHER, req_id,
                                 body=BybitRequest(state, op, message.get("args")))
        if op not in ("subscribe", "unsubscribe"):
            return _invalid(state, req_id, op, f"error:handler not found,op:{op}")
        args = message.get("args")
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            return _invalid(state, req_id, op, "error:args empty or not a list of topics")
        limit = MAX_ARGS[self.market_type]
        if limit is not None and len(args) > limit:
            return _invalid(state, req_id, op, f"args size >{limit}")
        topics = tuple(args)
        for topic in topics:
            if (topic in self.private_topics) != state.private:
                return _invalid(state, req_id, op, f"error:handler not found,topic:{topic}")
            if state.private and not state.authenticated:
                return _invalid(state, req_id, op, f"error:topic:{topic} needs auth first")
        if op == "subscribe":
            for topic in topics:
                if topic in state.subscribed:
                    return _invalid(state, req_id, op, f"error:already subscribed,topic:{topic}")
            return ClientRequest(RequestKind.SUBSCRIBE, req_id, topics,
                                 body=BybitRequest(state, op))
        return ClientRequest(RequestKind.UNSUBSCRIBE, req_id, topics, body=BybitRequest(state, op))

    def is_topic(self, topic: str) -> bool:
        if topic in self.private_topics:
            return True
        kind, _, rest = topic.partition(".")
        param, _, symbol = rest.rpartition(".")
        if symbol not in self._listings:
            return False
        if kind == "orderbook":
            return param.isdigit() and int(param) in BOOK_DEPTHS[self.market_type]
        if kind == "kline":
            return param in KLINE_INTERVALS
        return kind in ("publicTrade", "tickers") and param == ""

    def render_ack(self, request: ClientRequest) -> list[bytes]:
        body = request.body
        assert isinstance(body, BybitRequest)
        if body.op == "subscribe":
            body.session.subscribed.update(request.topics)
        else:
            body.session.subscribed.difference_update(request.topics)
        return [_reply(body.session, request.request_id, body.op, success=True, ret_msg="")]

    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        return []

    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        body = request.body
        assert isinstance(body, BybitRequest)
        if reason is ErrorReason.UNKNOWN_TOPIC:
            detail = f"error:handler not found,topic:{detail}"
        return [_reply(body.session, request.request_id, body.op, success=False, ret_msg=detail)]

    def render_pong(self, request: ClientRequest) -> list[bytes]:
        body = request.body
        assert isinstance(body, BybitRequest)
        if self.spot and not body.session.private:
            return [_reply(body.session, request.request_id, "ping", success=True,
                           ret_msg="pong")]
        return [json.dumps({"req_id": request.request_id or "", "op": "pong",
                            "args": [str(int(time.time() * 1000))],
                            "conn_id": body.session.conn_id},
                           separators=(",", ":")).encode()]

    def handle_other(self, state: object, request: ClientRequest) -> list[bytes]:
        """The ``auth`` op, checked as Bybit does: ``[key, expires, signature]``, the key
        known, the signature made with its secret, expires (ms) after the server's clock."""
        assert isinstance(state, BybitSession) and isinstance(request.body, BybitRequest)
        args = request.body.args
        now_ms = int(self._clock() * 1000)
        if not isinstance(args, list) or len(args) != 3 or not isinstance(args[0], str) \
                or not isinstance(args[2], str) or isinstance(args[1], bool) \
                or not isinstance(args[1], (int, str)) or not str(args[1]).isdigit():
            ret_msg = PARAMS_ERROR
        elif int(args[1]) <= now_ms:
            ret_msg = PARAMS_ERROR
        elif args[0] not in self.api_keys or not auth.verify(self.api_keys[args[0]],
                                                             int(args[1]), args[2], now_ms):
            ret_msg = NOT_AUTHORIZED
        else:
            ret_msg = ""
            state.authenticated = True
        self.auth_replies.append((not ret_msg, ret_msg))
        return [_reply(state, request.request_id, "auth", success=not ret_msg,
                       ret_msg=ret_msg)]

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        """A book topic starts with a snapshot, a linear ticker with its full snapshot and a
        spot ticker with its current one; trades and klines only push what happens next."""
        if topic in self.private_topics:
            return []                  # private topics push only on change
        self._market = market
        kind, _, rest = topic.partition(".")
        param, _, symbol = rest.rpartition(".")
        listing = self._listings[symbol]
        if kind == "orderbook":
            depth = int(param)
            view = listing.books.get(depth)
            if view is None:
                view = listing.books[depth] = _BookTopic(depth, market.book(symbol).update_id)
                view.bids, view.asks = _top(market.book(symbol), depth)
            return [self._book(listing, view, "snapshot", sorted(view.bids.items(), reverse=True),
                               sorted(view.asks.items()), market.now_ms)]
        if kind == "tickers":
            book = market.book(symbol)
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            return [self._ticker_snapshot(listing, bid, ask, market.now_ms)]
        return []

    def restart_books(self, symbol: str) -> None:
        """Bybit's book service restarting: the next message of each of ``symbol``'s book
        topics is a full snapshot numbered u = 1, and the numbering goes on from there."""
        for view in self._listings[symbol].books.values():
            view.restarting = True

    # Market data -------------------------------------------------------------------------

    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        """Every event passes here first, so this also keeps the running state the topics
        need: ticker statistics and each book topic's staged delta (a book topic whose top N
        did not change publishes nothing)."""
        symbol = event.symbol
        listing = self._listings[symbol]
        if type(event) is BookUpdate:
            return tuple(f"orderbook.{depth}.{symbol}" for depth, view in listing.books.items()
                         if self._stage_book(view, event))
        if type(event) is Trade:
            listing.stats.add(event)
            return f"publicTrade.{symbol}", f"tickers.{symbol}"
        if type(event) is BestBidOffer:
            return () if self.spot else (f"tickers.{symbol}",)
        assert isinstance(event, Candle)
        interval = next((name for name, ms in KLINE_INTERVALS.items()
                         if ms == event.interval_ms), None)
        return (f"kline.{interval}.{symbol}",) if interval else ()

    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        listing = self._listings[event.symbol]
        if type(event) is BookUpdate:
            view = listing.books[int(topic.split(".")[1])]
            if view.depth == 1 or view.update_id == 1:
                return self._book(listing, view, "snapshot",
                                  sorted(view.bids.items(), reverse=True),
                                  sorted(view.asks.items()), event.ts_ms)
            return self._book(listing, view, "delta", *view.changes, event.ts_ms)
        if type(event) is Trade:
            if topic.startswith("publicTrade."):
                return self._trade(listing, event)
            if self.spot:
                book = market.book(event.symbol)
                bid, ask = book.best_bid(), book.best_ask()
                assert bid is not None and ask is not None
                return self._ticker_snapshot(listing, bid, ask, event.ts_ms)
            return self._ticker_delta(listing, self._last_fields(listing), event.ts_ms)
        if type(event) is BestBidOffer:
            price, qty = listing.price, listing.qty
            return self._ticker_delta(listing, {
                "bid1Price": price(event.bid_price), "bid1Size": qty(event.bid_size),
                "ask1Price": price(event.ask_price), "ask1Size": qty(event.ask_size)},
                event.ts_ms)
        assert isinstance(event, Candle)
        return self._kline(listing, event, topic.split(".")[1])

    def _stage_book(self, view: _BookTopic, event: BookUpdate) -> bool:
        """Diff the topic's top N against what it was sent; number a delta if it changed."""
        assert self._market is not None
        book = self._market.book(event.symbol)
        if book.update_id != event.last_update_id:
            raise RuntimeError("book events must be published right after they are generated")
        bids, asks = _top(book, view.depth)
        changes = (_changes(view.bids, bids), _changes(view.asks, asks))
        view.bids, view.asks = bids, asks
        if view.restarting:
            view.restarting = False
            view.update_id = 1
            return True
        if not changes[0] and not changes[1]:
            return False
        view.changes = changes
        view.update_id += 1
        return True

    def _book(self, listing: _Listing, view: _BookTopic, kind: str,
              bids: Sequence[PriceLevel], asks: Sequence[PriceLevel], ts_ms: int) -> bytes:
        price, qty = listing.price, listing.qty

        def levels(side: Sequence[PriceLevel]) -> str:
            return ",".join([f'["{price(p)}","{qty(q) if q else "0"}"]' for p, q in side])

        listing.cross_sequence += 1
        symbol = listing.spec.symbol
        return (f'{{"topic":"orderbook.{view.depth}.{symbol}","type":"{kind}","ts":{ts_ms},'
                f'"data":{{"s":"{symbol}","b":[{levels(bids)}],"a":[{levels(asks)}],'
                f'"u":{view.update_id},"seq":{listing.cross_sequence}}},"cts":{ts_ms - 1}}}'
                ).encode()

    def _last_fields(self, listing: _Listing) -> dict[str, str]:
        stats, price = listing.stats, listing.price
        return {"lastPrice": price(stats.last), "highPrice24h": price(stats.high),
                "lowPrice24h": price(stats.low), "prevPrice24h": price(stats.first),
                "volume24h": listing.qty(stats.volume),
                "turnover24h": listing.notional(stats.notional),
                "price24hPcnt": f"{(stats.last - stats.first) / stats.first:.4f}"}

    def _ticker_snapshot(self, listing: _Listing, bid: PriceLevel, ask: PriceLevel,
                         ts_ms: int) -> bytes:
        fields = {"symbol": listing.spec.symbol, **self._last_fields(listing)}
        listing.cross_sequence += 1
        if self.spot:
            fields["usdIndexPrice"] = fields["lastPrice"]
            return (f'{{"topic":"tickers.{listing.spec.symbol}","ts":{ts_ms},"type":"snapshot",'
                    f'"cs":{listing.cross_sequence},"data":{_json(fields)}}}').encode()
        price, qty = listing.price, listing.qty
        fields.update({"tickDirection": listing.stats.direction,
                       "markPrice": fields["lastPrice"], "indexPrice": fields["lastPrice"],
                       "bid1Price": price(bid[0]), "bid1Size": qty(bid[1]),
                       "ask1Price": price(ask[0]), "ask1Size": qty(ask[1])})
        return (f'{{"topic":"tickers.{listing.spec.symbol}","type":"snapshot",'
                f'"data":{_json(fields)},"cs":{listing.cross_sequence},"ts":{ts_ms}}}').encode()

    @staticmethod
    def _ticker_delta(listing: _Listing, fields: dict[str, str], ts_ms: int) -> bytes:
        listing.cross_sequence += 1
        data = _json({"symbol": listing.spec.symbol, **fields})
        return (f'{{"topic":"tickers.{listing.spec.symbol}","type":"delta","data":{data},'
                f'"cs":{listing.cross_sequence},"ts":{ts_ms}}}').encode()

    def _trade(self, listing: _Listing, trade: Trade) -> bytes:
        trade_id = str(2_290_000_000_000_000_000 + trade.trade_id) if self.spot \
            else str(uuid.UUID(int=trade.trade_id * 0x9E3779B97F4A7C15 % (1 << 128)))
        side = "Buy" if trade.taker_side is Side.BUY else "Sell"
        return (f'{{"topic":"publicTrade.{trade.symbol}","type":"snapshot","ts":{trade.ts_ms},'
                f'"data":[{{"T":{trade.ts_ms},"s":"{trade.symbol}","S":"{side}",'
                f'"v":"{listing.qty(trade.size)}","p":"{listing.price(trade.price)}",'
                f'"L":"{listing.stats.direction}","i":"{trade_id}","BT":false}}]}}').encode()

    @staticmethod
    def _kline(listing: _Listing, candle: Candle, interval: str) -> bytes:
        price = listing.price
        return (f'{{"topic":"kline.{interval}.{candle.symbol}","data":[{{'
                f'"start":{candle.open_ms},"end":{candle.close_ms},"interval":"{interval}",'
                f'"open":"{price(candle.open)}","close":"{price(candle.close)}",'
                f'"high":"{price(candle.high)}","low":"{price(candle.low)}",'
                f'"volume":"{listing.qty(candle.volume)}",'
                f'"turnover":"{listing.notional(candle.notional)}",'
                f'"confirm":{"true" if candle.closed else "false"},'
                f'"timestamp":{candle.ts_ms}}}],"ts":{candle.ts_ms},"type":"snapshot"}}'
                ).encode()

    # REST --------------------------------------------------------------------------------

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        if request.path == INSTRUMENTS_PATH:
            return self._instruments_info(request.query)
        if request.path != "/v5/market/time":
            return None
        now_ns = int(self._clock() * 1e9)
        return HttpResponse(200, json.dumps({
            "retCode": 0, "retMsg": "OK",
            "result": {"timeSecond": str(now_ns // 10**9), "timeNano": str(now_ns)},
            "retExtInfo": {}, "time": now_ns // 10**6}).encode())

    def _instruments_info(self, query: dict[str, str]) -> HttpResponse:
        """The listings as ``instruments-info`` answers for this market's ``category``:
        linear paged by ``cursor`` (``limit`` up to 1000, ``PAGE_LIMIT`` by default), spot
        in one page, as Bybit does."""
        category = "spot" if self.spot else "linear"
        if query.get("category") != category:
            return _rest(10001, "params error: category invalid", {})
        start = int(query.get("cursor") or 0)
        limit = min(int(query.get("limit") or PAGE_LIMIT), 1000)
        listed = self.catalog if self.spot else self.catalog[start:start + limit]
        entries = []
        for listing in listed:
            entry: dict[str, object] = {
                "symbol": listing.symbol, "baseCoin": listing.base,
                "quoteCoin": listing.quote, "status": _STATUSES[listing.status],
                "priceFilter": {"tickSize": listing.tick_size}}
            if self.spot:
                entry.update(innovation="0", marginTrading="none", stTag="0", lotSizeFilter={
                    "basePrecision": listing.lot_size, "quotePrecision": "0.00000001",
                    "minOrderQty": listing.min_size or listing.lot_size,
                    "maxOrderQty": "9000000", "minOrderAmt": listing.min_notional or "1",
                    "maxOrderAmt": "2000000"})
            else:
                entry.update(contractType="LinearPerpetual", settleCoin=listing.quote,
                             priceScale=str(listing.decimals()[0]), lotSizeFilter={
                                 "maxOrderQty": "9000000", "qtyStep": listing.lot_size,
                                 "minOrderQty": listing.min_size or listing.lot_size,
                                 "minNotionalValue": listing.min_notional or "5"})
                entry["priceFilter"] = {"minPrice": listing.tick_size, "maxPrice": "1999999",
                                        "tickSize": listing.tick_size}
            entries.append(entry)
        more = not self.spot and start + limit < len(self.catalog)
        return _rest(0, "OK", {"category": category, "list": entries,
                               "nextPageCursor": str(start + limit) if more else ""})

    # Private stream ----------------------------------------------------------------------

    @staticmethod
    def route(frame: bytes) -> str:
        """The topic a rendered private frame is pushed on (for ``AccountStream``)."""
        return str(json.loads(frame)["topic"])

    def render_account(self, events: list[AccountEvent]) -> list[bytes]:
        """One account step as Bybit pushes it: a fill is an ``execution`` record then the
        order's ``order`` record (with only cumulative figures), other order changes an
        ``order`` record; the balances changed, one ``wallet`` frame; positions, ``position``."""
        category = self.market_type
        frames = []
        for e in events:
            if isinstance(e, OrderEvent):
                if e.last_size:
                    frames.append(self._private(f"execution.{category}", e.ts_ms,
                                                [self._execution(e)]))
                frames.append(self._private(f"order.{category}", e.ts_ms, [self._order(e)]))
            elif isinstance(e, PositionEvent):
                frames.append(self._private(f"position.{category}", e.ts_ms,
                                            [self._position(e)]))
        balances = [e for e in events if isinstance(e, BalanceEvent)]
        if balances:
            frames.append(self._private("wallet", balances[0].ts_ms, [{
                "accountType": "UNIFIED", "accountLTV": "0", "accountIMRate": "0",
                "accountMMRate": "0", "totalEquity": "0", "totalWalletBalance": "0",
                "totalMarginBalance": "0", "totalAvailableBalance": "0", "totalPerpUPL": "0",
                "totalInitialMargin": "0", "totalMaintenanceMargin": "0",
                "coin": [{"coin": b.asset, "equity": _num(b.free + b.locked), "usdValue": "0",
                          "walletBalance": _num(b.free + b.locked), "free": "",
                          "locked": _num(b.locked), "availableToWithdraw": _num(b.free),
                          "borrowAmount": "0", "accruedInterest": "0", "totalOrderIM": "0",
                          "totalPositionIM": "0", "totalPositionMM": "0",
                          "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "0"}
                         for b in balances]}]))
        return frames

    def _private(self, topic: str, ts_ms: int, data: list[dict[str, object]]) -> bytes:
        message_id = f"{ts_ms:x}{uuid.UUID(int=ts_ms * 0x9E3779B97F4A7C15 % (1 << 128))}"
        return json.dumps({"id": message_id, "topic": topic, "creationTime": ts_ms,
                           "data": data}, separators=(",", ":")).encode()

    def _order(self, e: OrderEvent) -> dict[str, object]:
        status = _ORDER_STATUS[e.status]
        if status == "Cancelled" and e.filled and self.spot:
            status = "PartiallyFilledCanceled"      # Bybit's spot status for that case
        open_order = e.status in ("NEW", "PARTIALLY_FILLED")
        return {
            "category": self.market_type, "symbol": e.symbol, "orderId": str(e.order_id),
            "orderLinkId": e.client_id, "side": "Buy" if e.side == "BUY" else "Sell",
            "orderType": "Limit", "cancelType": "CancelByUser" if status.endswith(
                ("Cancelled", "Canceled")) else "UNKNOWN",
            "price": _num(e.price), "qty": _num(e.size), "timeInForce": "GTC",
            "orderStatus": status, "rejectReason": "EC_InsufficientBalance"
            if e.status == "REJECTED" else "EC_NoError",
            "avgPrice": _num(e.price) if e.filled else "",
            "leavesQty": _num(e.size - e.filled) if open_order else "0",
            "leavesValue": _num((e.size - e.filled) * e.price) if open_order else "0",
            "cumExecQty": _num(e.filled), "cumExecValue": _num(e.filled * e.price),
            "cumExecFee": "0", "feeCurrency": "", "reduceOnly": False,
            "createdTime": str(e.ts_ms), "updatedTime": str(e.ts_ms)}

    def _execution(self, e: OrderEvent) -> dict[str, object]:
        return {
            "category": self.market_type, "symbol": e.symbol, "execFee": _num(e.fee),
            "execId": str(uuid.UUID(int=e.seq * 0x9E3779B97F4A7C15 % (1 << 128))),
            "execPrice": _num(e.last_price), "execQty": _num(e.last_size), "execType": "Trade",
            "execValue": _num(e.last_price * e.last_size), "isMaker": False,
            "feeRate": "0.001", "feeCurrency": e.fee_asset,
            "leavesQty": _num(e.size - e.filled), "orderId": str(e.order_id),
            "orderLinkId": e.client_id, "orderPrice": _num(e.price), "orderQty": _num(e.size),
            "orderType": "Limit", "stopOrderType": "UNKNOWN",
            "side": "Buy" if e.side == "BUY" else "Sell", "execTime": str(e.ts_ms),
            "isLeverage": "0", "seq": e.seq}

    def _position(self, e: PositionEvent) -> dict[str, object]:
        side = "Buy" if e.amount > 0 else ("Sell" if e.amount < 0 else "")
        return {
            "positionIdx": 0, "tradeMode": 0, "riskId": 1, "symbol": e.symbol, "side": side,
            "size": _num(abs(e.amount)), "avgPrice": _num(e.entry_price), "leverage": "10",
            "positionValue": _num(abs(e.amount) * e.entry_price), "markPrice": "0",
            "unrealisedPnl": _num(e.unrealized_pnl), "curRealisedPnl": "0",
            "cumRealisedPnl": "0", "createdTime": str(e.ts_ms), "updatedTime": str(e.ts_ms),
            "category": "linear", "positionStatus": "Normal", "seq": e.seq,
            "isReduceOnly": False}

    def render_malformed(self) -> bytes:
        symbol = next(iter(self._listings))
        return (f'{{"topic":"orderbook.50.{symbol}","type":"delta","data":{{"s":"{symbol}",'
                f'"b":[["1.00",').encode()


def _invalid(state: BybitSession, req_id: object, op: object, detail: str) -> ClientRequest:
    return ClientRequest(RequestKind.INVALID, req_id, error=ErrorReason.INVALID_REQUEST,
                         detail=detail, body=BybitRequest(state, op if isinstance(op, str)
                                                          else ""))


def _rest(code: int, message: str, result: dict[str, object]) -> HttpResponse:
    return HttpResponse(200, json.dumps({"retCode": code, "retMsg": message, "result": result,
                                         "retExtInfo": {}, "time": 0},
                                        separators=(",", ":")).encode())


def _reply(state: BybitSession, req_id: object, op: str, **fields: object) -> bytes:
    """An op reply in Bybit's key order: success, ret_msg, conn_id, req_id, op."""
    reply = {**fields, "conn_id": state.conn_id, "req_id": req_id if req_id is not None else "",
             "op": op}
    return json.dumps(reply, separators=(",", ":")).encode()


def _num(value: Decimal) -> str:
    """A decimal as Bybit writes it: plain digits, never an exponent."""
    return f"{value:f}"


def _json(fields: dict[str, str]) -> str:
    return json.dumps(fields, separators=(",", ":"))


def _top(book: OrderBook, depth: int) -> tuple[dict[int, int], dict[int, int]]:
    """The best ``depth`` levels of each side of the true book."""
    bids = {price: book.bids[price] for price in book.bid_prices[:-depth - 1:-1]}
    asks = {price: book.asks[price] for price in book.ask_prices[:depth]}
    return bids, asks


def _changes(sent: dict[int, int], top: dict[int, int]) -> list[PriceLevel]:
    """What turns ``sent`` into ``top``: levels new or resized, and size 0 for every level
    that left the top N."""
    changed = [(price, size) for price, size in top.items() if sent.get(price) != size]
    changed.extend((price, 0) for price in sent if price not in top)
    return changed
