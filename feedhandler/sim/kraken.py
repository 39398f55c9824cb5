"""Kraken spot WebSocket v2 wire format for the simulated exchange.

Facts and their sources are in docs/venues/kraken.md. Books are published the way Kraken
publishes them: a snapshot of the top N on subscribe, then updates carrying only what changed
within each subscriber's top N (a level pushed out of scope is not deleted: the client truncates),
each with the CRC32 checksum of the true top 10.

With ``account`` (a ``SimAccount``) and ``api_keys`` it also serves the private side: the
signed ``POST /0/private/GetWebSocketsToken`` checked as Kraken checks it (known key,
``API-Sign`` with that key's secret, a nonce above the key's last one; refusals in Kraken's
``{"error": [...]}`` form), tokens valid 900 s until first used, and ``/v2`` private
subscribes on ``PRIVATE_PATH`` refused without a valid token ("ESession:Invalid session").
``executions`` and ``balances`` open with a snapshot (open orders, spot balances), then
``render_account`` frames: a new order as ``pending_new`` then ``new``, a fill as ``trade``
(reported ``partially_filled`` even when it completes the order, as Kraken does) followed by
``filled`` when complete, cancels as ``canceled``, and one ledger entry per balance change.
Rejections are not streamed (Kraken answers them on ``add_order``), nor are locks (its
balances carry totals only). Nothing missed while disconnected is replayed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qs

from feedhandler.exchanges.kraken import auth
from feedhandler.sim import catalog
from feedhandler.sim.account import AccountEvent, BalanceEvent, OrderEvent, SimAccount
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
    "PEPE/USD": ("0.000000001", "1.00000", "0.000012345"),
}
"""Tick size, lot size and starting price; other pairs get their generated listing's
(``sim.catalog``), else ``_GENERIC_LISTING``."""
_GENERIC_LISTING = ("0.01", "0.00100000", "100.00")
_CATALOG_SEED = 401
ASSET_PAIRS_PATH = "/0/public/AssetPairs"
_LEGACY_ASSETS = {"BTC": "XBT", "DOGE": "XDG"}
"""AssetPairs' ``wsname`` keeps Kraken's legacy asset names."""

STATUS_TOPIC = "status"
CONNECTION_ID_BASE = 13834774380200032777
"""Connection ids are unsigned 64-bit integers, beyond int64 like this documented one."""

_DEFAULT_SNAPSHOT = {"book": True, "ticker": True, "trade": False, "ohlc": True}
_CHANNELS = tuple(_DEFAULT_SNAPSHOT)
PRIVATE_PATH = "/auth/v2"
"""The private endpoint (``wss://ws-auth.kraken.com/v2`` on Kraken)."""
PRIVATE_TOPICS = auth.PRIVATE_CHANNELS          # executions, balances
TOKEN_LIFETIME_S = 900
INVALID_SESSION = "ESession:Invalid session"


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
    private: bool = False


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

    def __init__(self, market: str = "spot", symbols: Sequence[str] = ("BTC/USD",), *,
                 account: SimAccount | None = None, api_keys: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``api_keys`` maps API keys to their base64 secrets; ``clock`` is the server's
        (token lifetimes)."""
        if market != "spot":
            raise ValueError(f"unknown Kraken market {market!r}; use 'spot'")
        # Kraken sends a heartbeat about once a second and never pings; a client's silence is
        # never punished while it is subscribed (timeout infinite)
        self.keepalive = Keepalive(1.0, math.inf, text=True)
        specs, self.catalog = catalog.catalog(
            _CATALOG_SEED, lambda base, quote: f"{base}/{quote}", symbols, _LISTINGS,
            _GENERIC_LISTING)
        self._listings = {symbol: _Listing(spec) for symbol, spec in specs.items()}
        self._market: Market | None = None
        self._connections = 0
        self.account = account
        self.rest_writes = account is not None
        self.api_keys = dict(api_keys or {})
        self._clock = clock
        self.nonces: dict[str, int] = {}
        self.tokens: dict[str, float | None] = {}    # token -> unused until (None: in use)
        self.token_replies: list[list[str]] = []     # the error list of each token request
        self.subscribe_refusals: list[str] = []
        self.sequences: dict[str, int] = {}           # private channel -> last sequence

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return tuple(minutes * 60_000 for minutes in OHLC_INTERVALS)

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        private = path.rstrip("/") == PRIVATE_PATH and self.account is not None
        if path.rstrip("/") != self.ws_path and not private:
            return None
        # the status "topic" only serves the status update every new connection gets first
        return Session((STATUS_TOPIC,), KrakenSession(private=private))

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
        if state.private:
            return self._parse_private(state, req_id, method, params)
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

    def _parse_private(self, state: KrakenSession, req_id: object, method: str,
                       params: object) -> ClientRequest:
        """A private subscribe: the channel known, the token one this server issued and
        still valid (unused tokens live 900 s; a used one lasts while it is in use)."""
        if not isinstance(params, dict) or params.get("channel") not in PRIVATE_TOPICS:
            return _invalid(req_id, "Channel not found", method)
        channel = str(params["channel"])
        token = params.get("token")
        unused_until = self.tokens.get(token, 0.0) if isinstance(token, str) else 0.0
        if unused_until is not None and unused_until <= self._clock():
            self.subscribe_refusals.append(INVALID_SESSION)
            return _invalid(req_id, INVALID_SESSION, method)
        assert isinstance(token, str)
        self.tokens[token] = None
        snapshot = params.get("snap_orders" if channel == "executions" else "snapshot", True)
        body = KrakenRequest(method, state, params, snapshot is True)
        if method == "subscribe":
            if channel in state.subscribed:
                return _invalid(req_id, "Already subscribed", method)
            return ClientRequest(RequestKind.SUBSCRIBE, req_id, (channel,), body=body)
        if channel not in state.subscribed:
            return _invalid(req_id, "Subscription Not Found", method)
        return ClientRequest(RequestKind.UNSUBSCRIBE, req_id, (channel,), body=body)

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
        if topic in PRIVATE_TOPICS:
            return self.account is not None
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
            if topic in PRIVATE_TOPICS:
                replies.append(self._private_ack(body, topic))
                continue
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

    def _private_ack(self, body: KrakenRequest, channel: str) -> bytes:
        if body.method == "subscribe":
            body.session.subscribed.add(channel)
            body.session.snapshots[channel] = body.snapshot
        else:
            body.session.subscribed.discard(channel)
        result: dict[str, object] = {"channel": channel}
        if channel == "executions":
            result.update(maxratecount=125, snap_orders=body.snapshot,
                          snap_trades=body.params.get("snap_trades") is True)
        else:
            result["snapshot"] = body.snapshot
        return _response(body.method, None, success=True, result=result)

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
        if topic in PRIVATE_TOPICS:
            return self._private_snapshot(topic, state.snapshots.pop(topic, False))
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

    # Private stream ----------------------------------------------------------------------

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        if request.path == ASSET_PAIRS_PATH:
            return _rest_reply([], self._asset_pairs())
        if request.path != auth.TOKEN_PATH or self.account is None:
            return None
        if request.method != "POST":
            return _rest_reply(["EGeneral:Invalid arguments"])
        return _rest_reply(*self._issue_token(request))

    def _asset_pairs(self) -> dict[str, object]:
        """The listings as AssetPairs states them: legacy ``wsname``, the precisions as
        decimal counts (``pair_decimals``, ``lot_decimals``); no delisted pair (Kraken drops
        them), a halted one ``cancel_only``."""
        pairs: dict[str, object] = {}
        for listing in self.catalog:
            if listing.status == "delisted":
                continue
            base = _LEGACY_ASSETS.get(listing.base, listing.base)
            quote = _LEGACY_ASSETS.get(listing.quote, listing.quote)
            pair_decimals, lot_decimals = listing.decimals()
            pairs[f"X{base}Z{quote}" if base == "XBT" else base + quote] = {
                "altname": base + quote, "wsname": f"{base}/{quote}",
                "aclass_base": "currency", "base": base, "aclass_quote": "currency",
                "quote": quote, "lot": "unit", "cost_decimals": 5,
                "pair_decimals": pair_decimals, "lot_decimals": lot_decimals,
                "lot_multiplier": 1, "fee_volume_currency": "ZUSD",
                "ordermin": listing.min_size or listing.lot_size,
                "costmin": listing.min_notional or "0.5",
                "tick_size": listing.tick_size.rstrip("0").rstrip(".")
                if "." in listing.tick_size else listing.tick_size,
                "status": "online" if listing.status == "trading" else "cancel_only"}
        return pairs

    def _issue_token(self, request: HttpRequest) -> tuple[list[str], dict[str, object]]:
        """Kraken's checks, in its order: the key, the signature, the nonce."""
        key = request.headers.get("api-key", "")
        signature = request.headers.get("api-sign", "")
        postdata = request.body.decode("utf-8", "replace")
        nonces = parse_qs(postdata).get("nonce", [])
        if key not in self.api_keys:
            errors = ["EAPI:Invalid key"]
        elif len(nonces) != 1 or not nonces[0].isdigit():
            errors = ["EAPI:Invalid nonce"]
        elif not auth.verify_api_sign(self.api_keys[key], auth.TOKEN_PATH, int(nonces[0]),
                                      postdata, signature):
            errors = ["EAPI:Invalid signature"]
        elif int(nonces[0]) <= self.nonces.get(key, 0):
            errors = ["EAPI:Invalid nonce"]
        else:
            errors = []
            self.nonces[key] = int(nonces[0])
        self.token_replies.append(errors)
        if errors:
            return errors, {}
        digest = hashlib.sha256(f"{key}{nonces[0]}".encode()).digest()
        token = base64.b64encode(digest).decode().rstrip("=")
        self.tokens[token] = self._clock() + TOKEN_LIFETIME_S
        return [], {"token": token, "expires": TOKEN_LIFETIME_S}

    @staticmethod
    def route(frame: bytes) -> str:
        """The topic a rendered private frame is pushed on (for ``AccountStream``)."""
        return str(json.loads(frame)["channel"])

    def _frame(self, channel: str, kind: str, data: list[dict[str, object]]) -> bytes:
        sequence = self.sequences[channel] = 1 if kind == "snapshot" \
            else self.sequences.get(channel, 0) + 1
        return _dumps({"channel": channel, "type": kind, "data": data, "sequence": sequence})

    def _private_snapshot(self, channel: str, wanted: bool) -> list[bytes]:
        """What Kraken sends on subscribe: the open orders, or every asset's balance.
        (Sequences are kept per channel for the latest subscriber: tests use one.)"""
        account = self.account
        assert account is not None
        if not wanted:
            return []
        if channel == "executions":
            return [self._frame(channel, "snapshot", [
                self._open_order(o.event) for o in account.orders.values()
                if o.event.status in ("NEW", "PARTIALLY_FILLED")])]
        return [self._frame(channel, "snapshot", [
            {"asset": asset, "asset_class": "currency", "balance": _num(total),
             "wallets": [{"type": "spot", "id": "main", "balance": _num(total)}]}
            for asset, total in account.balances.items()])]

    def render_account(self, events: list[AccountEvent]) -> list[bytes]:
        """One account step as Kraken pushes it (see the module docstring)."""
        frames: list[bytes] = []
        for e in events:
            if isinstance(e, OrderEvent):
                frames.extend(self._frame("executions", "update", [record])
                              for record in self._execution(e))
            elif isinstance(e, BalanceEvent) and e.change:
                frames.append(self._frame("balances", "update", [{
                    "ledger_id": f"L{e.seq:05d}-SIMLE-DGER{e.seq % 97:02d}",
                    "ref_id": f"T{e.seq:05d}-SIMTR-ADE{e.seq % 89:02d}",
                    "timestamp": rfc3339(e.ts_ms), "type": "trade", "asset": e.asset,
                    "asset_class": "currency", "category": "trade", "wallet_type": "spot",
                    "wallet_id": "main", "amount": _num(e.change), "fee": 0.0,
                    "balance": _num(e.free + e.locked)}]))
        return frames

    def _open_order(self, e: OrderEvent) -> dict[str, object]:
        return {"order_id": str(e.order_id), "cl_ord_id": e.client_id, "symbol": e.symbol,
                "order_qty": _num(e.size), "cum_cost": _num(e.filled * e.price),
                "cum_qty": _num(e.filled), "time_in_force": "GTC",
                "side": "buy" if e.side == "BUY" else "sell", "order_type": "limit",
                "limit_price": _num(e.price), "limit_price_type": "static",
                "stop_price": 0.0, "order_status": e.status.lower(),
                "fee_usd_equiv": 0.0, "fee_ccy_pref": "fciq", "timestamp": rfc3339(e.ts_ms)}

    def _execution(self, e: OrderEvent) -> list[dict[str, object]]:
        timestamp, order_id = rfc3339(e.ts_ms), str(e.order_id)
        if e.status == "REJECTED":
            return []                  # answered on add_order, not streamed
        if e.status == "NEW":
            pending = {**self._open_order(e), "exec_type": "pending_new",
                       "order_status": "pending_new"}
            return [pending, {"timestamp": timestamp, "order_status": "new",
                              "exec_type": "new", "order_userref": 0,
                              "order_id": order_id}]
        if e.status == "CANCELED":
            return [{"timestamp": timestamp, "order_status": "canceled",
                     "exec_type": "canceled", "cum_qty": _num(e.filled),
                     "cum_cost": _num(e.filled * e.price), "reason": "User requested",
                     "order_userref": 0, "order_id": order_id}]
        trade = {"order_id": order_id, "order_userref": 0, "exec_id": f"TSIM{e.seq:08d}",
                 "exec_type": "trade", "trade_id": e.seq, "symbol": e.symbol,
                 "side": "buy" if e.side == "BUY" else "sell", "last_qty": _num(e.last_size),
                 "last_price": _num(e.last_price), "liquidity_ind": "m",
                 "cost": _num(e.last_size * e.last_price), "order_type": "limit",
                 "timestamp": timestamp, "order_status": "partially_filled",
                 "cum_qty": _num(e.filled), "cum_cost": _num(e.filled * e.price),
                 "avg_price": _num(e.price), "fee_usd_equiv": _num(e.fee),
                 "fees": [{"asset": e.fee_asset, "qty": _num(e.fee)}]}
        if e.status != "FILLED":
            return [trade]
        return [trade, {"order_id": order_id, "order_userref": 0, "exec_type": "filled",
                        "order_status": "filled", "timestamp": timestamp,
                        "cum_qty": _num(e.filled), "cum_cost": _num(e.filled * e.price),
                        "avg_price": _num(e.price), "fee_usd_equiv": 0.0}]

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


_NUMBER_MARK = "\x00"
_MARKED_NUMBER = re.compile(r'"\\u0000(-?[0-9.]+)"')


def _num(value: Decimal) -> str:
    """A decimal to be written as a bare JSON number with its exact digits (Kraken v2 sends
    numbers, not strings): marked here, unquoted by ``_dumps``."""
    return f"{_NUMBER_MARK}{value:f}"


def _dumps(message: object) -> bytes:
    return _MARKED_NUMBER.sub(r"\1", json.dumps(message, separators=(",", ":"))).encode()


def _rest_reply(errors: list[str], result: dict[str, object] | None = None) -> HttpResponse:
    """Kraken's REST envelope; refusals are answered with status 200 and ``error``."""
    body: dict[str, object] = {"error": errors}
    if not errors:
        body["result"] = result or {}
    return HttpResponse(200, json.dumps(body).encode())


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
