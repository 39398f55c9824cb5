"""OKX v5 public WebSocket wire format for the simulated exchange.

Facts and their sources are in docs/venues/okx.md. Both endpoints are served: candles on
``/ws/v5/business``, every other channel on ``/ws/v5/public``. Books are published the way OKX
publishes them: a snapshot on subscribe, then updates carrying only what changed within the
channel's depth, each chained to the previous message of its channel by ``prevSeqId`` and
carrying the signed CRC32 of the top 25 levels as sent; ``books5`` and ``bbo-tbt`` send their
whole top N in every message. Numbers are strings in OKX's shortest form (``"3366"``,
``"0.5"``), and the checksum is computed from exactly those strings.

With ``account`` (a spot ``SimAccount``) and ``api_keys`` (key -> (secret, passphrase)) it
also serves ``/ws/v5/private``: the ``login`` op checked as OKX checks it (timestamp in
seconds within 30 s of the server's clock, known key, its passphrase, base64 HMAC-SHA256
sign), refused with OKX's error events (60004/60005/60006/60007/60024), a private subscribe
before login answered 60011; then ``orders`` (instType SPOT or ANY) and ``account`` (with a
snapshot of every balance on subscribe), filled by ``render_account`` and routed by
``route``. ``GET /api/v5/public/time`` serves the server clock. Rejected orders are not pushed:
on OKX a refused order is never live and the refusal is the order request's reply.

``GET /api/v5/market/books?instId=..&sz=..`` serves the true book's top ``sz`` with its
``seqId``. ``in_band_snapshot=False`` speaks the protocol OKX announced for 2026 (no
``snapshot`` on subscribe: the REST one is the only snapshot); ``checksum="zero"`` sends the
retired field as 0, ``checksum="absent"`` leaves it out.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from feedhandler.exchanges.okx import auth
from feedhandler.sim import catalog
from feedhandler.sim.account import AccountEvent, BalanceEvent, OrderEvent, SimAccount
from feedhandler.sim.market import (
    BestBidOffer,
    BookSnapshot,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketConfig,
    MarketEvent,
    OrderBook,
    PriceLevel,
    Regrid,
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

PUBLIC_PATH = "/ws/v5/public"
BOOKS_PATH = "/api/v5/market/books"
MAX_BOOK_SIZE = 400               # the most levels per side GET /api/v5/market/books returns
BUSINESS_PATH = "/ws/v5/business"
PRIVATE_PATH = "/ws/v5/private"
PRIVATE_TOPICS = ("orders", "account")
UID = "614488474791936"          # the account uid of the docs' order push example
_STATES = {"NEW": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
           "CANCELED": "canceled"}

SEQUENCED_BOOKS = {"books": 400, "books50-l2-tbt": 50, "books-l2-tbt": 400}
"""Channels of a snapshot then sequenced updates: their depth."""
SNAPSHOT_BOOKS = {"books5": 5, "bbo-tbt": 1}
"""Channels whose every message is the whole top N."""
BARS: dict[str, int] = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
    "30m": 1_800_000, "1H": 3_600_000, "2H": 7_200_000, "4H": 14_400_000,
    "6Hutc": 21_600_000, "12Hutc": 43_200_000, "1Dutc": 86_400_000, "1Wutc": 604_800_000,
}
"""Candle bars served, by their interval in ms."""
CHECKSUM_LEVELS = 25
IDLE_TIMEOUT = 30.0
INVALID_REQUEST, NO_SUCH_CHANNEL = "60012", "60018"

_LISTINGS: dict[str, tuple[str, str, str]] = {
    # instId: tick size, lot size, starting price (tickSz and lotSz as OKX lists them)
    "BTC-USDT": ("0.1", "0.00000001", "60000.0"),
    "ETH-USDT": ("0.01", "0.000001", "3000.00"),
    "SOL-USDT": ("0.01", "0.000001", "150.00"),
    "PEPE-USDT": catalog.FINE_TICK,
}
_GENERIC_LISTING = ("0.01", "0.000001", "100.00")
_CATALOG_SEED = 301
INSTRUMENTS_PATH = "/api/v5/public/instruments"
_INSTRUMENT_STATES = {"trading": "live", "halted": "suspend"}
"""OKX lists no delisted instrument: it is gone from the answer."""


def shortest(text: str) -> str:
    """``"3366.10"`` -> ``"3366.1"``, ``"3368.0"`` -> ``"3368"``: OKX's number strings."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def signed32(crc: int) -> int:
    return crc - (1 << 32) if crc >= 1 << 31 else crc


@dataclass
class OkxSession:
    """Per-connection state: which endpoint it dialled and its id."""

    endpoint: str
    conn_id: str
    logged_in: bool = False


@dataclass(frozen=True)
class OkxRequest:
    op: str
    session: OkxSession
    args: tuple[dict[str, str], ...]


@dataclass
class _BookFeed:
    """One book channel of one instrument: the top ``depth`` its subscribers were last sent,
    the ``seqId`` of its last message and the update being published."""

    channel: str
    depth: int
    seq: int
    prev: int = -1
    """``prevSeqId`` of the staged message."""
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    pending: bytes = b""
    """The staged message up to its checksum (sequenced) or whole (snapshot channels)."""


class _Listing:
    """One instrument's exact number formatters and running state."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.arg_prefix = '{"arg":{"channel":"%s","instId":"' + spec.symbol + '"}'
        price, size = spec.price_formatter(), spec.size_formatter()
        notional = spec.notional_formatter()
        self.px: Callable[[int], str] = lambda ticks: shortest(price(ticks))
        self.sz: Callable[[int], str] = lambda lots: shortest(size(lots))
        self.ccy: Callable[[int], str] = lambda units: shortest(notional(units))
        initial = spec.price_ticks(spec.initial_price)
        self.stats = TradeStats.starting_at(initial)
        self.candles: dict[int, Candle] = {}
        self.books: dict[str, _BookFeed] = {}

    def level(self, price: int, size: int) -> str:
        """``["price","size","0","orders"]``; the third is OKX's deprecated liquidations."""
        return f'["{self.px(price)}","{self.sz(size)}","0","{1 + size % 5 if size else 0}"]'

    def checksum(self, feed: _BookFeed) -> int:
        """OKX's signed CRC32 of the feed's top 25, bid1:ask1:bid2:ask2:..."""
        bids = sorted(feed.bids.items(), reverse=True)[:CHECKSUM_LEVELS]
        asks = sorted(feed.asks.items())[:CHECKSUM_LEVELS]
        parts = []
        for i in range(max(len(bids), len(asks))):
            for side in (bids, asks):
                if i < len(side):
                    parts.append(f"{self.px(side[i][0])}:{self.sz(side[i][1])}")
        return signed32(zlib.crc32(":".join(parts).encode()))


class OkxVenue(Venue):
    """OKX v5 public market data: books, books5, bbo-tbt, books50-l2-tbt, books-l2-tbt,
    trades, tickers (public) and candles (business)."""

    name = "okx"
    ws_path = PUBLIC_PATH
    has_checksum = True
    idle_close = (4004, "No data received in 30s.")

    def __init__(self, market: str = "spot", symbols: Sequence[str] = ("BTC-USDT",), *,
                 idle_timeout: float = IDLE_TIMEOUT, account: SimAccount | None = None,
                 api_keys: Mapping[str, tuple[str, str]] | None = None,
                 clock: Callable[[], float] = time.time, in_band_snapshot: bool = True,
                 checksum: Literal["real", "zero", "absent"] = "real") -> None:
        """``clock`` is the server's (login timestamps and server time); ``in_band_snapshot``
        and ``checksum`` choose the book protocol (see the module's docstring)."""
        if market != "spot":
            raise ValueError(f"unknown OKX market {market!r}; use 'spot'")
        if checksum not in ("real", "zero", "absent"):
            raise ValueError(f"checksum must be 'real', 'zero' or 'absent', not {checksum!r}")
        self.in_band_snapshot = in_band_snapshot
        self.checksum_mode = checksum
        self.account = account
        self.api_keys = dict(api_keys or {})
        self._clock = clock
        self.login_replies: list[str] = []     # the code of each login answered
        self.idle_timeout = idle_timeout
        specs, self.catalog = catalog.catalog(_CATALOG_SEED, lambda base, quote: f"{base}-{quote}",
                                              symbols, _LISTINGS, _GENERIC_LISTING)
        self._listings = {symbol: _Listing(spec) for symbol, spec in specs.items()}
        self._market: Market | None = None
        self._sessions = 0

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def relist_listing(self, spec: InstrumentSpec, regrid: Regrid) -> None:
        old = self._listings[spec.symbol]
        listing = self._listings[spec.symbol] = _Listing(spec)
        listing.stats = old.stats
        listing.stats.regrid(regrid)
        listing.candles = {ms: candle.regrid(regrid) for ms, candle in old.candles.items()}
        listing.books = old.books
        for feed in listing.books.values():
            feed.bids, feed.asks = regrid.levels(feed.bids), regrid.levels(feed.asks)

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(BARS.values())

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        path = path.rstrip("/")
        private = path == PRIVATE_PATH and self.account is not None
        if path not in (PUBLIC_PATH, BUSINESS_PATH) and not private:
            return None
        self._sessions += 1
        endpoint = "private" if private else "business" if path == BUSINESS_PATH else "public"
        return Session((), OkxSession(endpoint, f"{0x5E000000 + self._sessions:08x}"))

    def parse(self, state: object, payload: bytes) -> ClientRequest:
        assert isinstance(state, OkxSession)
        if payload == b"ping":
            return ClientRequest(RequestKind.PING)
        try:
            message = json.loads(payload)
        except ValueError:
            return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_JSON,
                                 detail=f"Invalid request: {payload.decode(errors='replace')}",
                                 body=OkxRequest("", state, ()))
        request_id = message.get("id") if isinstance(message, dict) else None
        invalid = ClientRequest(RequestKind.INVALID, request_id,
                                error=ErrorReason.INVALID_REQUEST,
                                detail=f"Invalid request: {payload.decode(errors='replace')}",
                                body=OkxRequest("", state, ()))
        if state.endpoint == "private" and isinstance(message, dict):
            return self._parse_private(state, message, request_id, invalid)
        if not isinstance(message, dict) or message.get("op") not in ("subscribe",
                                                                      "unsubscribe"):
            return invalid
        args = message.get("args")
        if not isinstance(args, list) or not args or not all(
                isinstance(a, dict) and isinstance(a.get("channel"), str)
                and isinstance(a.get("instId"), str) for a in args):
            return invalid
        body = OkxRequest(message["op"], state, tuple(args))
        topics = tuple(f"{a['channel']}:{a['instId']}" for a in args)
        for topic in topics:
            if self.endpoint_of(topic) != state.endpoint:
                return ClientRequest(RequestKind.INVALID, request_id,
                                     error=ErrorReason.UNKNOWN_TOPIC, detail=topic, body=body)
        kind = RequestKind.SUBSCRIBE if body.op == "subscribe" else RequestKind.UNSUBSCRIBE
        return ClientRequest(kind, request_id, topics, body=body)

    def _parse_private(self, state: OkxSession, message: dict[str, object], request_id: object,
                       invalid: ClientRequest) -> ClientRequest:
        op, args = message.get("op"), message.get("args")
        if not isinstance(args, list) or not args or not all(isinstance(a, dict)
                                                             for a in args):
            return invalid
        body = OkxRequest(str(op), state, tuple(args))
        if op == "login":
            return ClientRequest(RequestKind.OTHER, request_id, body=body)
        if op not in ("subscribe", "unsubscribe"):
            return invalid
        topics = []
        for arg in args:
            channel = arg.get("channel")
            if channel not in PRIVATE_TOPICS or (channel == "orders" and arg.get(
                    "instType") not in ("SPOT", "ANY")):
                return ClientRequest(RequestKind.INVALID, request_id,
                                     error=ErrorReason.UNKNOWN_TOPIC,
                                     detail=f"{channel}:{arg.get('instType', '')}", body=body)
            topics.append(str(channel))
        if not state.logged_in:
            return ClientRequest(RequestKind.INVALID, request_id,
                                 error=ErrorReason.REJECTED, detail="Please log in", body=body)
        kind = RequestKind.SUBSCRIBE if op == "subscribe" else RequestKind.UNSUBSCRIBE
        return ClientRequest(kind, request_id, tuple(topics), body=body)

    def handle_other(self, state: object, request: ClientRequest) -> list[bytes]:
        """The ``login`` op, checked as OKX does; a success lets private subscribes in."""
        assert isinstance(state, OkxSession) and isinstance(request.body, OkxRequest)
        arg = request.body.args[0]
        key, passphrase = arg.get("apiKey"), arg.get("passphrase")
        timestamp, sign = arg.get("timestamp"), arg.get("sign")
        now_s = int(self._clock())
        if not all(isinstance(v, str) for v in (key, passphrase, timestamp, sign)):
            code, msg = "60013", "Invalid args"
        elif not str(timestamp).isdigit():
            code, msg = "60004", "Invalid timestamp"
        elif key not in self.api_keys:
            code, msg = "60005", "Invalid apiKey"
        elif self.api_keys[str(key)][1] != passphrase:
            code, msg = "60024", "Wrong passphrase"
        elif abs(now_s - int(str(timestamp))) > auth.TIMESTAMP_WINDOW_S:
            code, msg = "60006", "Timestamp request expired"
        elif not auth.verify(self.api_keys[str(key)][0], int(str(timestamp)), str(sign), now_s):
            code, msg = "60007", "Invalid sign"
        else:
            code, msg = "0", ""
            state.logged_in = True
        self.login_replies.append(code)
        return [_event(request.request_id, "login" if code == "0" else "error", state,
                       code=code, msg=msg)]

    @staticmethod
    def endpoint_of(topic: str) -> str:
        return "business" if topic.startswith("candle") else "public"

    def is_topic(self, topic: str) -> bool:
        if topic in PRIVATE_TOPICS:
            return True
        channel, _, symbol = topic.partition(":")
        if symbol not in self._listings:
            return False
        return channel in SEQUENCED_BOOKS or channel in SNAPSHOT_BOOKS or \
            channel in ("trades", "tickers") or channel.removeprefix("candle") in BARS

    def render_ack(self, request: ClientRequest) -> list[bytes]:
        body = request.body
        assert isinstance(body, OkxRequest)
        return [_event(request.request_id, body.op, body.session, arg=arg) for arg in body.args]

    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        return []

    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        body = request.body
        assert isinstance(body, OkxRequest)
        if reason is ErrorReason.REJECTED and detail == "Please log in":
            return [_event(request.request_id, "error", body.session, code="60011", msg=detail)]
        if reason is ErrorReason.UNKNOWN_TOPIC:
            channel, _, symbol = detail.partition(":")
            return [_event(request.request_id, "error", body.session, code=NO_SUCH_CHANNEL,
                           msg=f"Wrong URL or channel:{channel},instId:{symbol} doesn't exist. "
                               "Please use the correct URL, channel and parameters referring "
                               "to API document.")]
        return [_event(request.request_id, "error", body.session, code=INVALID_REQUEST,
                       msg=detail)]

    def render_pong(self, request: ClientRequest) -> list[bytes]:
        return [b"pong"]

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        if topic == "account":
            return [self.account_snapshot()]
        if topic == "orders":
            return []
        self._market = market
        channel, _, symbol = topic.partition(":")
        listing = self._listings[symbol]
        book = market.book(symbol)
        if channel in SEQUENCED_BOOKS or channel in SNAPSHOT_BOOKS:
            feed = listing.books.get(channel)
            if feed is None:
                depth = SEQUENCED_BOOKS.get(channel) or SNAPSHOT_BOOKS[channel]
                feed = listing.books[channel] = _BookFeed(channel, depth, book.update_id)
                feed.bids, feed.asks = _top(book, depth)
            if channel in SNAPSHOT_BOOKS:
                return [self._whole_top(listing, feed, market.now_ms)]
            if not self.in_band_snapshot:
                return []
            return [self._book_message(listing, feed, "snapshot", sorted(
                feed.bids.items(), reverse=True), sorted(feed.asks.items()), market.now_ms)
                + self._book_tail(listing, feed, -1)]
        if channel == "tickers":
            return [self._ticker(listing, book, market.now_ms)]
        if channel == "trades":
            return []
        candle = listing.candles.get(BARS[channel.removeprefix("candle")])
        return [self._candle(listing, channel, candle)] if candle else []

    # Market data -------------------------------------------------------------------------

    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        """Every event passes here first, so this also keeps the running state the channels
        need: ticker statistics, the latest candles and each book channel's staged message
        (a book channel whose top N did not change publishes nothing)."""
        symbol = event.symbol
        listing = self._listings[symbol]
        if type(event) is BookUpdate:
            return tuple(f"{feed.channel}:{symbol}" for feed in listing.books.values()
                         if self._stage_book(listing, feed, event))
        if type(event) is Trade:
            listing.stats.add(event)
            return f"trades:{symbol}", f"tickers:{symbol}"
        if type(event) is BestBidOffer:
            return (f"tickers:{symbol}",)
        assert isinstance(event, Candle)
        listing.candles[event.interval_ms] = event
        bar = next(name for name, ms in BARS.items() if ms == event.interval_ms)
        return (f"candle{bar}:{symbol}",)

    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        listing = self._listings[event.symbol]
        channel = topic.partition(":")[0]
        if type(event) is BookUpdate:
            feed = listing.books[channel]
            if channel in SNAPSHOT_BOOKS:
                return feed.pending
            return feed.pending + self._book_tail(listing, feed, feed.prev, corrupt_checksum)
        if type(event) is Trade:
            if channel == "trades":
                return self._trade(listing, event)
            return self._ticker(listing, market.book(event.symbol), event.ts_ms)
        if type(event) is BestBidOffer:
            return self._ticker(listing, market.book(event.symbol), event.ts_ms)
        assert isinstance(event, Candle)
        return self._candle(listing, channel, event)

    def _stage_book(self, listing: _Listing, feed: _BookFeed, event: BookUpdate) -> bool:
        """Diff the channel's top N against what it was sent; stage a message if it changed."""
        assert self._market is not None
        book = self._market.book(event.symbol)
        if book.update_id != event.last_update_id:
            raise RuntimeError("book events must be published right after they are generated")
        bids, asks = _top(book, feed.depth)
        changed_bids = _changes(feed.bids, bids, book.bids)
        changed_asks = _changes(feed.asks, asks, book.asks)
        feed.bids, feed.asks = bids, asks
        if not changed_bids and not changed_asks:
            return False
        feed.prev, feed.seq = feed.seq, event.last_update_id
        if feed.channel in SNAPSHOT_BOOKS:
            feed.pending = self._whole_top(listing, feed, event.ts_ms)
        else:
            feed.pending = self._book_message(listing, feed, "update", changed_bids,
                                              changed_asks, event.ts_ms)
        return True

    @staticmethod
    def _book_message(listing: _Listing, feed: _BookFeed, action: str,
                      bids: Sequence[PriceLevel], asks: Sequence[PriceLevel],
                      ts_ms: int) -> bytes:
        """A sequenced book message up to its ``ts`` (left open for ``_book_tail``)."""
        return (listing.arg_prefix % feed.channel +
                f',"action":"{action}","data":[{{"asks":[{_levels(listing, asks)}],'
                f'"bids":[{_levels(listing, bids)}],"ts":"{ts_ms}"').encode()

    def _book_tail(self, listing: _Listing, feed: _BookFeed, prev: int,
                   corrupt: bool = False) -> bytes:
        """``checksum`` (as ``checksum_mode`` says), ``prevSeqId`` and ``seqId``, in OKX's
        order, closing the message."""
        sequence = f'"prevSeqId":{prev},"seqId":{feed.seq}}}]}}'
        if self.checksum_mode == "absent":
            return f",{sequence}".encode()
        checksum = listing.checksum(feed) if self.checksum_mode == "real" else 0
        if corrupt:
            checksum = signed32((checksum ^ 0x5A5A5A5A) & 0xFFFFFFFF)
        return f',"checksum":{checksum},{sequence}'.encode()

    @staticmethod
    def _whole_top(listing: _Listing, feed: _BookFeed, ts_ms: int) -> bytes:
        bids = sorted(feed.bids.items(), reverse=True)
        asks = sorted(feed.asks.items())
        inst = f'"instId":"{listing.spec.symbol}",' if feed.channel == "books5" else ""
        return (listing.arg_prefix % feed.channel +
                f',"data":[{{"asks":[{_levels(listing, asks)}],'
                f'"bids":[{_levels(listing, bids)}],{inst}"ts":"{ts_ms}",'
                f'"seqId":{feed.seq}}}]}}').encode()

    @staticmethod
    def _trade(listing: _Listing, trade: Trade) -> bytes:
        return (listing.arg_prefix % "trades" +
                f',"data":[{{"instId":"{trade.symbol}","tradeId":"{trade.trade_id}",'
                f'"px":"{listing.px(trade.price)}","sz":"{listing.sz(trade.size)}",'
                f'"side":"{trade.taker_side.value}","ts":"{trade.ts_ms}","count":"1"}}]}}'
                ).encode()

    @staticmethod
    def _ticker(listing: _Listing, book: OrderBook, ts_ms: int) -> bytes:
        stats, px, sz = listing.stats, listing.px, listing.sz
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        open_ = px(stats.first)
        return (listing.arg_prefix % "tickers" +
                f',"data":[{{"instType":"SPOT","instId":"{listing.spec.symbol}",'
                f'"last":"{px(stats.last)}","lastSz":"{sz(stats.last_size)}",'
                f'"askPx":"{px(ask[0])}","askSz":"{sz(ask[1])}",'
                f'"bidPx":"{px(bid[0])}","bidSz":"{sz(bid[1])}","open24h":"{open_}",'
                f'"high24h":"{px(stats.high)}","low24h":"{px(stats.low)}",'
                f'"volCcy24h":"{listing.ccy(stats.notional)}","vol24h":"{sz(stats.volume)}",'
                f'"ts":"{ts_ms}","sodUtc0":"{open_}","sodUtc8":"{open_}"}}]}}').encode()

    @staticmethod
    def _candle(listing: _Listing, channel: str, candle: Candle) -> bytes:
        px, ccy = listing.px, listing.ccy(candle.notional)
        return (listing.arg_prefix % channel +
                f',"data":[["{candle.open_ms}","{px(candle.open)}","{px(candle.high)}",'
                f'"{px(candle.low)}","{px(candle.close)}","{listing.sz(candle.volume)}",'
                f'"{ccy}","{ccy}","{1 if candle.closed else 0}"]]}}').encode()

    # REST --------------------------------------------------------------------------------

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        if request.path == BOOKS_PATH:
            return self._rest_book(request, market)
        if request.path == INSTRUMENTS_PATH:
            return self._instruments(request.query.get("instType", ""))
        if request.path != "/api/v5/public/time":
            return None
        return HttpResponse(200, json.dumps({"code": "0", "msg": "", "data": [
            {"ts": str(int(self._clock() * 1000))}]}).encode())

    def _rest_book(self, request: HttpRequest, market: Market) -> HttpResponse:
        """The true book's top ``sz`` (default 1, at most 400) and its ``seqId``; OKX answers
        a bad request with HTTP 200 and a non-zero ``code``."""
        listing = self._listings.get(request.query.get("instId", ""))
        if listing is None:
            return _rest_error("51001", "Instrument ID does not exist")
        text = request.query.get("sz", "1")
        if not text.isdigit() or not 1 <= int(text) <= MAX_BOOK_SIZE:
            return _rest_error("51000", "Parameter sz error")
        snapshot = self.rest_snapshot(market, listing.spec.symbol)
        bids, asks = snapshot.top(int(text))
        body = (f'{{"code":"0","msg":"","data":[{{"asks":[{_levels(listing, asks)}],'
                f'"bids":[{_levels(listing, bids)}],"ts":"{market.now_ms}",'
                f'"seqId":{snapshot.update_id}}}]}}')
        return HttpResponse(200, body.encode())

    def rest_snapshot(self, market: Market, symbol: str) -> BookSnapshot:
        """The book the REST endpoint answers with: the true one now (a test may serve an
        older one, as a REST replica lagging the stream would)."""
        return market.book(symbol).snapshot()

    def _instruments(self, inst_type: str) -> HttpResponse:
        """The listings as ``/api/v5/public/instruments`` answers for SPOT (no others here)."""
        if not inst_type:
            return HttpResponse(200, json.dumps({
                "code": "50014", "msg": "Parameter instType can not be empty.",
                "data": []}).encode())
        data = [{"instType": "SPOT", "instId": listing.symbol, "uly": "", "instFamily": "",
                 "baseCcy": listing.base, "quoteCcy": listing.quote, "settleCcy": "",
                 "ctVal": "", "ctMult": "", "ctValCcy": "", "tickSz": listing.tick_size,
                 "lotSz": listing.lot_size, "minSz": listing.min_size or listing.lot_size,
                 "state": _INSTRUMENT_STATES[listing.status], "ruleType": "normal",
                 "listTime": "1606468572000", "expTime": ""}
                for listing in self.catalog if inst_type == "SPOT"
                and listing.status in _INSTRUMENT_STATES]
        return HttpResponse(200, json.dumps({"code": "0", "msg": "", "data": data},
                                            separators=(",", ":")).encode())

    # Private stream ----------------------------------------------------------------------

    @staticmethod
    def route(frame: bytes) -> str:
        """The topic a rendered private frame is pushed on (for ``AccountStream``)."""
        return str(json.loads(frame)["arg"]["channel"])

    def account_snapshot(self) -> bytes:
        """Every balance of the account now, as the ``account`` channel's snapshot."""
        account = self.account
        assert account is not None
        return self._account([(asset, total - account.locked.get(asset, Decimal(0)),
                               account.locked.get(asset, Decimal(0)))
                              for asset, total in account.balances.items()],
                             account.now_ms, "snapshot")

    def render_account(self, events: list[AccountEvent]) -> list[bytes]:
        """One account step as OKX pushes it: an ``orders`` push per order change (none for
        a rejected order), then one ``account`` push with the balances it changed."""
        frames = [self._order(e) for e in events
                  if isinstance(e, OrderEvent) and e.status in _STATES]
        balances = [e for e in events if isinstance(e, BalanceEvent)]
        if balances:
            frames.append(self._account([(b.asset, b.free, b.locked) for b in balances],
                                        balances[0].ts_ms, "event_update"))
        return frames

    def _order(self, e: OrderEvent) -> bytes:
        fill = e.last_size > 0
        record = {
            "accFillSz": _num(e.filled), "avgPx": _num(e.price) if e.filled else "",
            "cTime": str(e.ts_ms), "clOrdId": e.client_id.replace("-", ""), "code": "0",
            "execType": "M" if fill else "", "fee": "0", "feeCcy": e.fee_asset,
            "fillFee": _num(-e.fee) if fill else "0", "fillFeeCcy": e.fee_asset,
            "fillPx": _num(e.last_price) if fill else "", "fillSz": _num(e.last_size),
            "fillTime": str(e.ts_ms) if fill else "", "instId": e.symbol, "instType": "SPOT",
            "msg": "", "ordId": str(e.order_id), "ordType": "limit", "px": _num(e.price),
            "side": e.side.lower(), "state": _STATES[e.status], "sz": _num(e.size),
            "tdMode": "cash", "tradeId": str(e.seq) if fill else "", "uTime": str(e.ts_ms)}
        return json.dumps({"arg": {"channel": "orders", "instType": "SPOT", "uid": UID},
                           "data": [record]}, separators=(",", ":")).encode()

    @staticmethod
    def _account(balances: Sequence[tuple[str, Decimal, Decimal]], ts_ms: int,
                 event_type: str) -> bytes:
        details = [{"availBal": _num(free), "availEq": _num(free), "cashBal": _num(free + locked),
                    "ccy": asset, "eq": _num(free + locked), "frozenBal": _num(locked),
                    "ordFrozen": _num(locked), "uTime": str(ts_ms), "upl": "0"}
                   for asset, free, locked in balances]
        return json.dumps({"arg": {"channel": "account", "uid": UID}, "eventType": event_type,
                           "data": [{"uTime": str(ts_ms), "totalEq": "0", "details": details}]},
                          separators=(",", ":")).encode()

    def render_malformed(self) -> bytes:
        return (b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                b'"data":[{"asks":[["')


def _rest_error(code: str, msg: str) -> HttpResponse:
    return HttpResponse(200, json.dumps({"code": code, "msg": msg, "data": []}).encode())


def _num(value: Decimal) -> str:
    """A decimal in OKX's shortest string form, never an exponent."""
    return shortest(f"{value:f}")


def _levels(listing: _Listing, levels: Sequence[PriceLevel]) -> str:
    return ",".join([listing.level(price, size) for price, size in levels])


def _top(book: OrderBook, depth: int) -> tuple[dict[int, int], dict[int, int]]:
    """The best ``depth`` levels of each side of the true book."""
    return ({price: book.bids[price] for price in reversed(book.bid_prices[-depth:])},
            {price: book.asks[price] for price in book.ask_prices[:depth]})


def _changes(sent: dict[int, int], top: dict[int, int],
             full: dict[int, int]) -> list[PriceLevel]:
    """The levels that turn ``sent`` into ``top`` for a client that truncates to the depth:
    a level pushed below the depth is left to the client, one gone from the book is deleted."""
    return [*((price, size) for price, size in top.items() if sent.get(price) != size),
            *((price, 0) for price in sent.keys() - top.keys() if price not in full)]


def _event(request_id: object, event: str, session: OkxSession, **fields: object) -> bytes:
    reply: dict[str, object] = {"id": request_id} if request_id is not None else {}
    reply["event"] = event
    reply.update(fields)
    reply["connId"] = session.conn_id
    return json.dumps(reply, separators=(",", ":")).encode()


def sample_messages(count: int, *, seed: int = 0, symbols: Sequence[str] = ("BTC-USDT",),
                    channels: Sequence[str] = ("books", "trades", "tickers", "candle1m")
                    ) -> list[bytes]:
    """``count`` messages as the simulator would publish them to one client subscribed to
    ``channels`` of ``symbols`` (snapshots first), without a socket: for benchmarks and
    offline decoder tests."""
    venue = OkxVenue(symbols=symbols)
    market = Market(venue.instruments(), MarketConfig(
        seed=seed, candle_intervals_ms=venue.candle_intervals_ms()))
    session = OkxSession("public", "00000000")
    wanted = {f"{channel}:{symbol}" for channel in channels for symbol in symbols}
    messages: list[bytes] = []
    for topic in sorted(wanted):
        messages.extend(venue.initial_frames(session, topic, market))
    while len(messages) < count:
        for event in market.step():
            messages.extend(venue.render(event, topic, market)
                            for topic in venue.topics(event) if topic in wanted)
    return messages[:count]
