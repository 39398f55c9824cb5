"""Kraken spot WebSocket v2 wire format for the simulated exchange.

Facts and their sources are in docs/venues/kraken.md. Books are published the way Kraken
publishes them: a snapshot of the top N on subscribe, then updates carrying only what changed
within each subscriber's top N (a level pushed out of scope is not deleted: the client truncates),
each with the CRC32 checksum of the true top 10.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections import deque
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
    Keepalive,
    RequestKind,
    Session,
    Venue,
)

OHLC_INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
"""ohlc intervals in minutes."""
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_LEVELS = 10
TRADE_SNAPSHOT = 50
"""Trades in a trade snapshot."""

_LISTINGS: dict[str, tuple[str, str, str]] = {
    # tick and lot sizes carry the pair's price and qty precision in their decimals
    "BTC/USD": ("0.1", "0.00010000", "60000.0"),
    "ETH/USD": ("0.01", "0.00100000", "3000.00"),
    "BTC/USDT": ("0.1", "0.00010000", "60000.0"),
    "ETH/USDT": ("0.01", "0.00100000", "3000.00"),
    "SOL/USD": ("0.01", "0.01000000", "150.00"),
    "MATIC/USD": ("0.0001", "1.00000000", "0.5000"),
}
"""Tick size, lot size and starting price; unlisted symbols get ``_GENERIC_LISTING``."""
_GENERIC_LISTING = ("0.01", "0.00100000", "100.00")

STATUS_TOPIC = "status"
CONNECTION_ID_BASE = 13834774380200032777
"""Connection ids are unsigned 64-bit integers, beyond int64 like this documented one."""

_DEFAULT_SNAPSHOT = {"book": True, "ticker": True, "trade": False, "ohlc": True}
_CHANNELS = tuple(_DEFAULT_SNAPSHOT)


def rfc3339(ms: int, fraction_digits: int = 6) -> str:
    """``1700000000123`` -> ``2023-11-14T22:13:20.123000Z`` (Kraken's timestamp form)."""
    seconds, millis = divmod(ms, 1000)
    fraction = f"{millis:03d}".ljust(fraction_digits, "0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction}Z"


def now_rfc3339() -> str:
    return rfc3339(int(time.time() * 1000))


@dataclass
class KrakenSession:
    """Per-connection state: the topics acknowledged, and whether each asked for a snapshot."""

    subscribed: set[str] = field(default_factory=set)
    snapshots: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class KrakenRequest:
    """A parsed subscribe or unsubscribe, kept for its acknowledgements."""

    method: str
    session: KrakenSession
    params: dict[str, object]
    snapshot: bool


@dataclass(frozen=True)
class _Refusal:
    """A request refused while parsing: what its error reply names."""

    method: str | None
    symbol: str | None


@dataclass
class _BookView:
    """The top ``depth`` levels subscribers of one book topic were last sent."""

    depth: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    pending: tuple[BookUpdate, bytes] | None = None
    """The update being published: its event and its payload up to the checksum."""


class _Listing:
    """One pair's exact number formatters and running state."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.price: Callable[[int], str] = spec.price_formatter()
        self.qty: Callable[[int], str] = spec.size_formatter()
        initial = spec.price_ticks(spec.initial_price)
        self.stats = TradeStats.starting_at(initial)
        self.trades: deque[Trade] = deque(maxlen=TRADE_SNAPSHOT)
        self.candles: dict[int, Candle] = {}
        self.books: dict[int, _BookView] = {}

    def digits(self, price: int, qty: int) -> str:
        """A level as the checksum sees it: both numbers at full precision, no point, no
        leading zeros."""
        return f"{price * self.spec.tick_units}{qty * self.spec.lot_units}"

    def short_qty(self, lots: int) -> str:
        """A quantity without trailing zeros (one kept after the point), as trades show it."""
        whole, _, fraction = self.qty(lots).partition(".")
        return f"{whole}.{fraction.rstrip('0') or '0'}"

    def signed_price(self, ticks: int) -> str:
        return ("-" if ticks < 0 else "") + self.price(abs(ticks))


class KrakenVenue(Venue):
    """Kraken spot public market data on ``/v2``: book, ticker, trade, ohlc, heartbeat."""

    name = "kraken"
    ws_path = "/v2"
    has_checksum = True

    def __init__(self, market: str = "spot", symbols: Sequence[str] = ("BTC/USD",)) -> None:
        if market != "spot":
            raise ValueError(f"unknown Kraken market {market!r}; use 'spot'")
        # Kraken sends a heartbeat about once a second and never pings; a client's silence is
        # never punished while it is subscribed (timeout infinite)
        self.keepalive = Keepalive(1.0, math.inf, text=True)
        self._listings = {symbol: _Listing(InstrumentSpec(
            symbol, *_LISTINGS.get(symbol, _GENERIC_LISTING))) for symbol in symbols}
        self._market: Market | None = None
        self._connections = 0

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(minutes * 60_000 for minutes in OHLC_INTERVALS)

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        if path.rstrip("/") != self.ws_path:
            return None
        # the status "topic" only serves the status update every new connection gets first
        return Session((STATUS_TOPIC,), KrakenSession())

    def parse(self, state: object, payload: bytes) -> ClientRequest:
        assert isinstance(state, KrakenSession)
        try:
            message = json.loads(payload)
        except ValueError:
            return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_JSON,
                                 detail="Malformed request")
        if not isinstance(message, dict):
            return _invalid(None, "Malformed request")
        req_id = message.get("req_id")
        method = message.get("method")
        if method == "ping":
            return ClientRequest(RequestKind.PING, req_id)
        if method not in ("subscribe", "unsubscribe"):
            return _invalid(req_id, "Method not found", method)
        params = message.get("params")
        if not isinstance(params, dict) or params.get("channel") not in _CHANNELS:
            return _invalid(req_id, "Channel not found", method)
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols or \
                not all(isinstance(s, str) for s in symbols):
            return _invalid(req_id, "EGeneral:Invalid arguments", method)
        channel = str(params["channel"])
        suffix = self._topic_suffix(channel, params)
        if suffix is None:
            return _invalid(req_id, "EGeneral:Invalid arguments", method)
        topics = tuple(f"{channel}:{symbol}{suffix}" for symbol in symbols)
        snapshot = params.get("snapshot", _DEFAULT_SNAPSHOT[channel])
        body = KrakenRequest(method, state, params, snapshot is True)
        if method == "subscribe":
            for topic, symbol in zip(topics, symbols, strict=True):
                if topic in state.subscribed or (channel == "book" and any(
                        t.startswith(f"book:{symbol}:") for t in state.subscribed)):
                    return _invalid(req_id, "Already subscribed", method, symbol)
            return ClientRequest(RequestKind.SUBSCRIBE, req_id, topics, body=body)
        for topic, symbol in zip(topics, symbols, strict=True):
            if topic not in state.subscribed:
                return _invalid(req_id, "Subscription Not Found", method, symbol)
        return ClientRequest(RequestKind.UNSUBSCRIBE, req_id, topics, body=body)

    @staticmethod
    def _topic_suffix(channel: str, params: dict[str, object]) -> str | None:
        """The parameters that make a topic distinct, or None when they are invalid."""
        if channel == "book":
            depth = params.get("depth", 10)
            return f":{depth}" if depth in BOOK_DEPTHS else None
        if channel == "ticker":
            trigger = params.get("event_trigger", "trades")
            return f":{trigger}" if trigger in ("bbo", "trades") else None
        if channel == "ohlc":
            interval = params.get("interval", 1)
            return f":{interval}" if interval in OHLC_INTERVALS else None
        return ""

    def is_topic(self, topic: str) -> bool:
        channel, _, rest = topic.partition(":")
        symbol, _, suffix = rest.partition(":")
        if symbol not in self._listings:
            return False
        if channel == "book":
            return suffix.isdigit() and int(suffix) in BOOK_DEPTHS
        if channel == "ticker":
            return suffix in ("bbo", "trades")
        if channel == "ohlc":
            return suffix.isdigit() and int(suffix) in OHLC_INTERVALS
        return channel == "trade" and suffix == ""

    def render_ack(self, request: ClientRequest) -> list[bytes]:
        body = request.body
        assert isinstance(body, KrakenRequest)
        subscribing = body.method == "subscribe"
        replies = []
        for topic in request.topics:
            channel, symbol, suffix = split_topic(topic)
            if subscribing:
                body.session.subscribed.add(topic)
                body.session.snapshots[topic] = body.snapshot
            else:
                body.session.subscribed.discard(topic)
            result: dict[str, object] = {"channel": channel, "symbol": symbol}
            if channel == "book":
                result["depth"] = int(suffix)
            elif channel == "ohlc":
                result["interval"] = int(suffix)
            elif channel == "ticker" and not subscribing:
                result["event_trigger"] = suffix
            if subscribing:
                result["snapshot"] = body.snapshot
            if channel == "ohlc" and subscribing:
                result["warnings"] = ["timestamp is deprecated, use interval_begin"]
            replies.append(_response(body.method, request.request_id, success=True,
                                     result=result))
        return replies

    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        return []

    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        body = request.body
        method = body.method if isinstance(body, KrakenRequest | _Refusal) else None
        if isinstance(body, _Refusal) and body.symbol is not None:
            return [_response(method, request.request_id, success=False, symbol=body.symbol,
                              error=detail)]
        if reason is ErrorReason.UNKNOWN_TOPIC:
            symbol = detail.split(":")[1]
            return [_response(method, request.request_id, success=False, symbol=symbol,
                              error=f"Currency pair not supported {symbol}")]
        if reason is ErrorReason.REJECTED and request.topics:
            return [_response(method, request.request_id, success=False,
                              symbol=topic.split(":")[1], error=detail)
                    for topic in request.topics]
        return [_response(method, request.request_id, success=False, error=detail)]

    def render_pong(self, request: ClientRequest) -> list[bytes]:
        return [_response("pong", request.request_id)]

    def render_ping(self, payload: bytes) -> bytes:
        return b'{"channel":"heartbeat"}'

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        assert isinstance(state, KrakenSession)
        self._market = market
        if topic == STATUS_TOPIC:
            self._connections += 1
            return [json.dumps({"channel": "status", "data": [{
                "api_version": "v2", "connection_id": CONNECTION_ID_BASE + self._connections,
                "system": "online", "version": "2.0.0"}], "type": "update"},
                separators=(",", ":")).encode()]
        channel, symbol, suffix = split_topic(topic)
        listing = self._listings[symbol]
        wanted = state.snapshots.pop(topic, False)
        if channel == "book":
            view = listing.books.setdefault(int(suffix), _BookView(int(suffix)))
            view.bids, view.asks = _top(market.book(symbol), view.depth)
            if not wanted:
                return []
            levels = self._book_levels(listing, sorted(view.bids.items(), reverse=True),
                                       sorted(view.asks.items()))
            checksum = self._checksum(listing, market.book(symbol))
            return [b'{"channel":"book","type":"snapshot","data":[' + levels +
                    f',"checksum":{checksum},"timestamp":"{rfc3339(market.now_ms)}"}}]}}'
                    .encode()]
        if not wanted:
            return []
        if channel == "ticker":
            book = market.book(symbol)
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            return [self._ticker(listing, "snapshot", bid, ask, market.now_ms)]
        if channel == "trade":
            if not listing.trades:
                return []
            return [self._trades(listing, "snapshot", list(listing.trades))]
        candle = listing.candles.get(int(suffix) * 60_000)
        return [self._ohlc(listing, "snapshot", candle, market.now_ms)] if candle else []

    # Market data -------------------------------------------------------------------------

    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        """Every event passes here first, so this also keeps the running state the channels
        need: ticker statistics, recent trades, the latest candles and each book topic's
        pending update (a book topic whose top N did not change publishes nothing)."""
        symbol = event.symbol
        listing = self._listings[symbol]
        if type(event) is BookUpdate:
            return tuple(f"book:{symbol}:{depth}" for depth, view in listing.books.items()
                         if self._stage_book(listing, view, event))
        if type(event) is Trade:
            listing.stats.add(event)
            listing.trades.append(event)
            return f"trade:{symbol}", f"ticker:{symbol}:trades"
        if type(event) is BestBidOffer:
            return (f"ticker:{symbol}:bbo",)
        assert isinstance(event, Candle)
        listing.candles[event.interval_ms] = event
        return (f"ohlc:{symbol}:{event.interval_ms // 60_000}",)

    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        listing = self._listings[event.symbol]
        if type(event) is BookUpdate:
            view = listing.books[int(topic.rsplit(":", 1)[1])]
            assert view.pending is not None and view.pending[0] is event
            checksum = self._checksum(listing, market.book(event.symbol))
            if corrupt_checksum:
                checksum ^= 0x5A5A5A5A
            return view.pending[1] + (f',"checksum":{checksum},'
                                      f'"timestamp":"{rfc3339(event.ts_ms)}"}}]}}').encode()
        if type(event) is Trade:
            if topic.startswith("trade:"):
                return self._trades(listing, "update", [event])
            book = market.book(event.symbol)
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            return self._ticker(listing, "update", bid, ask, event.ts_ms)
        if type(event) is BestBidOffer:
            return self._ticker(listing, "update", (event.bid_price, event.bid_size),
                                (event.ask_price, event.ask_size), event.ts_ms)
        assert isinstance(event, Candle)
        return self._ohlc(listing, "update", event, event.ts_ms)

    def _stage_book(self, listing: _Listing, view: _BookView, event: BookUpdate) -> bool:
        """Diff the topic's top N against what it was sent; stage an update if it changed."""
        assert self._market is not None
        book = self._market.book(event.symbol)
        if book.update_id != event.last_update_id:
            raise RuntimeError("book events must be published right after they are generated")
        bids, asks = _top(book, view.depth)
        changed_bids = _changes(view.bids, bids, book.bids)
        changed_asks = _changes(view.asks, asks, book.asks)
        view.bids, view.asks = bids, asks
        if not changed_bids and not changed_asks:
            view.pending = None
            return False
        view.pending = (event, b'{"channel":"book","type":"update","data":[' +
                        self._book_levels(listing, changed_bids, changed_asks))
        return True

    @staticmethod
    def _book_levels(listing: _Listing, bids: Sequence[PriceLevel],
                     asks: Sequence[PriceLevel]) -> bytes:
        """``{"symbol":..,"bids":[..],"asks":[..]`` (the book object, left open)."""
        price, qty = listing.price, listing.qty

        def levels(side: Sequence[PriceLevel]) -> str:
            return ",".join([f'{{"price":{price(p)},"qty":{qty(q) if q else 0}}}'
                             for p, q in side])

        return (f'{{"symbol":"{listing.spec.symbol}","bids":[{levels(bids)}],'
                f'"asks":[{levels(asks)}]').encode()

    @staticmethod
    def _checksum(listing: _Listing, book: OrderBook) -> int:
        asks = book.ask_prices[:CHECKSUM_LEVELS]
        bids = book.bid_prices[:-CHECKSUM_LEVELS - 1:-1]
        text = "".join([listing.digits(p, book.asks[p]) for p in asks] +
                       [listing.digits(p, book.bids[p]) for p in bids])
        return zlib.crc32(text.encode())

    def _ticker(self, listing: _Listing, kind: str, bid: PriceLevel, ask: PriceLevel,
                ts_ms: int) -> bytes:
        stats, price = listing.stats, listing.price
        vwap = round(stats.notional / stats.volume) if stats.volume else stats.last
        change = stats.last - stats.first
        change_pct = 100 * change / stats.first
        data = (f'{{"symbol":"{listing.spec.symbol}","bid":{price(bid[0])},'
                f'"bid_qty":{listing.short_qty(bid[1])},"ask":{price(ask[0])},'
                f'"ask_qty":{listing.short_qty(ask[1])},"last":{price(stats.last)},'
                f'"volume":{listing.short_qty(stats.volume)},"vwap":{price(vwap)},'
                f'"low":{price(stats.low)},"high":{price(stats.high)},'
                f'"change":{listing.signed_price(change)},"change_pct":{change_pct:.2f},'
                f'"timestamp":"{rfc3339(ts_ms)}"}}')
        return f'{{"channel":"ticker","type":"{kind}","data":[{data}]}}'.encode()

    @staticmethod
    def _trades(listing: _Listing, kind: str, trades: Sequence[Trade]) -> bytes:
        data = ",".join([
            f'{{"symbol":"{t.symbol}","side":"{t.taker_side.value}",'
            f'"price":{listing.price(t.price)},"qty":{listing.short_qty(t.size)},'
            f'"ord_type":"{"limit" if t.trade_id % 3 == 0 else "market"}",'
            f'"trade_id":{t.trade_id},"timestamp":"{rfc3339(t.ts_ms)}"}}' for t in trades])
        return f'{{"channel":"trade","type":"{kind}","data":[{data}]}}'.encode()

    @staticmethod
    def _ohlc(listing: _Listing, kind: str, candle: Candle, ts_ms: int) -> bytes:
        price = listing.price
        vwap = round(candle.notional / candle.volume) if candle.volume else candle.close
        data = (f'{{"symbol":"{candle.symbol}","open":{price(candle.open)},'
                f'"high":{price(candle.high)},"low":{price(candle.low)},'
                f'"close":{price(candle.close)},"trades":{candle.trade_count},'
                f'"volume":{listing.short_qty(candle.volume)},"vwap":{price(vwap)},'
                f'"interval_begin":"{rfc3339(candle.open_ms, 9)}",'
                f'"interval":{candle.interval_ms // 60_000},'
                f'"timestamp":"{rfc3339(candle.open_ms + candle.interval_ms)}"}}')
        return (f'{{"channel":"ohlc","type":"{kind}","timestamp":"{rfc3339(ts_ms, 9)}",'
                f'"data":[{data}]}}').encode()

    # REST --------------------------------------------------------------------------------

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        return None

    def render_malformed(self) -> bytes:
        return b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":'


def split_topic(topic: str) -> tuple[str, str, str]:
    """``channel:symbol[:suffix]`` into its three parts (the suffix may be empty)."""
    channel, _, rest = topic.partition(":")
    symbol, _, suffix = rest.partition(":")
    return channel, symbol, suffix


def _top(book: OrderBook, depth: int) -> tuple[dict[int, int], dict[int, int]]:
    """The best ``depth`` levels of each side of the true book."""
    bids = {price: book.bids[price] for price in book.bid_prices[:-depth - 1:-1]}
    asks = {price: book.asks[price] for price in book.ask_prices[:depth]}
    return bids, asks


def _changes(sent: dict[int, int], top: dict[int, int],
             full: dict[int, int]) -> list[PriceLevel]:
    """What turns ``sent`` into ``top`` once truncated: levels new or resized within the top,
    and deletions of sent levels that left the book (not of those merely pushed out)."""
    changed = [(price, size) for price, size in top.items() if sent.get(price) != size]
    changed.extend((price, 0) for price in sent if price not in top and price not in full)
    return changed


def _invalid(req_id: object, error: str, method: object = None,
             symbol: str | None = None) -> ClientRequest:
    return ClientRequest(RequestKind.INVALID, req_id, error=ErrorReason.INVALID_REQUEST,
                         detail=error, body=_Refusal(method if isinstance(method, str) else None,
                                                     symbol))


def _response(method: str | None, req_id: object, **fields: object) -> bytes:
    """A method response; Kraken sends their keys in alphabetical order."""
    reply: dict[str, object] = dict(fields)
    if method is not None:
        reply["method"] = method
    if req_id is not None:
        reply["req_id"] = req_id
    reply["time_in"] = reply["time_out"] = now_rfc3339()
    return json.dumps(reply, sort_keys=True, separators=(",", ":")).encode()


def sample_messages(count: int, *, seed: int = 0, symbols: Sequence[str] = ("BTC/USD",),
                    channels: Sequence[str] = ("book", "trade", "ticker", "ohlc"),
                    depth: int = 10) -> list[bytes]:
    """``count`` messages as the simulator would publish them to one client subscribed to
    ``channels`` of ``symbols`` (book snapshots first), without a socket: for benchmarks and
    offline decoder tests."""
    venue = KrakenVenue(symbols=symbols)
    market = Market(venue.instruments(), MarketConfig(
        seed=seed, candle_intervals_ms=venue.candle_intervals_ms()))
    session = KrakenSession()
    wanted: set[str] = set()
    messages: list[bytes] = []
    for symbol in symbols:
        for topic in (f"book:{symbol}:{depth}", f"trade:{symbol}", f"ticker:{symbol}:bbo",
                      f"ohlc:{symbol}:1"):
            if topic.split(":")[0] in channels:
                wanted.add(topic)
                session.snapshots[topic] = topic.startswith("book:")
                messages.extend(venue.initial_frames(session, topic, market))
    while len(messages) < count:
        for event in market.step():
            messages.extend(venue.render(event, topic, market)
                            for topic in venue.topics(event) if topic in wanted)
    return messages[:count]
