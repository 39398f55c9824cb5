"""Bybit v5 public WebSocket wire format (spot or linear) for the simulated exchange.

Facts and their sources are in docs/venues/bybit.md. Books are published the way Bybit
publishes them: a snapshot of the top N on subscribe, then deltas carrying what changed within
the top N (a level that leaves it is sent with size 0), each topic numbering its messages with
``u`` (+1 per message); ``orderbook.1`` only ever sends snapshots. Linear tickers send a
snapshot then partial deltas; spot tickers are always full snapshots without a bid or ask.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
BOOK_DEPTHS = {"spot": (1, 50, 200, 1000), "linear": (1, 50, 200, 500, 1000)}
MAX_ARGS = {"spot": 10, "linear": None}
"""Topics one spot request may carry; linear limits only the total length of the args."""

_LISTINGS: dict[str, dict[str, tuple[str, str, str]]] = {
    # tick size, lot size, starting price
    "spot": {"BTCUSDT": ("0.01", "0.000001", "60000.00"),
             "ETHUSDT": ("0.01", "0.00001", "3000.00")},
    "linear": {"BTCUSDT": ("0.10", "0.001", "60000.00"),
               "ETHUSDT": ("0.01", "0.01", "3000.00")},
}
_GENERIC_LISTING = ("0.01", "0.001", "100.00")


@dataclass
class BybitSession:
    """Per-connection state: Bybit's connection id and the topics acknowledged."""

    conn_id: str
    subscribed: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class BybitRequest:
    """What a reply to a request needs: its connection and the op it names."""

    session: BybitSession
    op: str


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

    def __init__(self, market: str = "spot", symbols: Sequence[str] = ("BTCUSDT",)) -> None:
        if market not in BOOK_DEPTHS:
            raise ValueError(f"unknown Bybit market {market!r}; use 'spot' or 'linear'")
        self.market_type = market
        self.spot = market == "spot"
        self.ws_path = f"/v5/public/{market}"
        listed = _LISTINGS[market]
        self._listings = {symbol: _Listing(InstrumentSpec(
            symbol, *listed.get(symbol, _GENERIC_LISTING))) for symbol in symbols}
        self._market: Market | None = None
        self._connections = 0

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(KLINE_INTERVALS.values())

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        if path.rstrip("/") != self.ws_path:
            return None
        self._connections += 1
        return Session((), BybitSession(f"sim{self._connections:04d}-{self.market_type}"))

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
        if op not in ("subscribe", "unsubscribe"):
            return _invalid(state, req_id, op, f"error:handler not found,op:{op}")
        args = message.get("args")
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            return _invalid(state, req_id, op, "error:args empty or not a list of topics")
        limit = MAX_ARGS[self.market_type]
        if limit is not None and len(args) > limit:
            return _invalid(state, req_id, op, f"args size >{limit}")
        topics = tuple(args)
        if op == "subscribe":
            for topic in topics:
                if topic in state.subscribed:
                    return _invalid(state, req_id, op, f"error:already subscribed,topic:{topic}")
            return ClientRequest(RequestKind.SUBSCRIBE, req_id, topics,
                                 body=BybitRequest(state, op))
        return ClientRequest(RequestKind.UNSUBSCRIBE, req_id, topics, body=BybitRequest(state, op))

    def is_topic(self, topic: str) -> bool:
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
        if self.spot:
            return [_reply(body.session, request.request_id, "ping", success=True,
                           ret_msg="pong")]
        return [json.dumps({"req_id": request.request_id or "", "op": "pong",
                            "args": [str(int(time.time() * 1000))],
                            "conn_id": body.session.conn_id},
                           separators=(",", ":")).encode()]

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        """A book topic starts with a snapshot, a linear ticker with its full snapshot and a
        spot ticker with its current one; trades and klines only push what happens next."""
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
        return None

    def render_malformed(self) -> bytes:
        symbol = next(iter(self._listings))
        return (f'{{"topic":"orderbook.50.{symbol}","type":"delta","data":{{"s":"{symbol}",'
                f'"b":[["1.00",').encode()


def _invalid(state: BybitSession, req_id: object, op: object, detail: str) -> ClientRequest:
    return ClientRequest(RequestKind.INVALID, req_id, error=ErrorReason.INVALID_REQUEST,
                         detail=detail, body=BybitRequest(state, op if isinstance(op, str)
                                                          else ""))


def _reply(state: BybitSession, req_id: object, op: str, **fields: object) -> bytes:
    """An op reply in Bybit's key order: success, ret_msg, conn_id, req_id, op."""
    reply = {**fields, "conn_id": state.conn_id, "req_id": req_id if req_id is not None else "",
             "op": op}
    return json.dumps(reply, separators=(",", ":")).encode()


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
