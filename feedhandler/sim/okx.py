"""OKX v5 public WebSocket wire format for the simulated exchange.

Facts and their sources are in docs/venues/okx.md. Both endpoints are served: candles on
``/ws/v5/business``, every other channel on ``/ws/v5/public``. Books are published the way OKX
publishes them: a snapshot on subscribe, then updates carrying only what changed within the
channel's depth, each chained to the previous message of its channel by ``prevSeqId`` and
carrying the signed CRC32 of the top 25 levels as sent; ``books5`` and ``bbo-tbt`` send their
whole top N in every message. Numbers are strings in OKX's shortest form (``"3366"``,
``"0.5"``), and the checksum is computed from exactly those strings.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from feedhandler.sim.market import (
    BestBidOffer,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketConfig,
    MarketEvent,
    OrderBook,
    PriceLevel,
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
BUSINESS_PATH = "/ws/v5/business"

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
}
_GENERIC_LISTING = ("0.01", "0.000001", "100.00")


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
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        if market != "spot":
            raise ValueError(f"unknown OKX market {market!r}; use 'spot'")
        self.idle_timeout = idle_timeout
        self._listings = {symbol: _Listing(InstrumentSpec(
            symbol, *_LISTINGS.get(symbol, _GENERIC_LISTING))) for symbol in symbols}
        self._market: Market | None = None
        self._sessions = 0

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(BARS.values())

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        path = path.rstrip("/")
        if path not in (PUBLIC_PATH, BUSINESS_PATH):
            return None
        self._sessions += 1
        return Session((), OkxSession("business" if path == BUSINESS_PATH else "public",
                                      f"{0x5E000000 + self._sessions:08x}"))

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

    @staticmethod
    def endpoint_of(topic: str) -> str:
        return "business" if topic.startswith("candle") else "public"

    def is_topic(self, topic: str) -> bool:
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

    @staticmethod
    def _book_tail(listing: _Listing, feed: _BookFeed, prev: int,
                   corrupt: bool = False) -> bytes:
        """``checksum``, ``prevSeqId`` and ``seqId``, in OKX's order, closing the message."""
        checksum = listing.checksum(feed)
        if corrupt:
            checksum = signed32((checksum ^ 0x5A5A5A5A) & 0xFFFFFFFF)
        return f',"checksum":{checksum},"prevSeqId":{prev},"seqId":{feed.seq}}}]}}'.encode()

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
        return None

    def render_malformed(self) -> bytes:
        return (b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                b'"data":[{"asks":[["')


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
