"""Coinbase Advanced Trade market data wire format for the simulated exchange.

Facts and their sources are in docs/venues/coinbase.md. Every message a connection receives
takes the connection's next ``sequence_num``, whatever its channel; a book message the framework
drops (the gap fault) leaves a hole in that numbering, which is how a lost message shows on the
real feed. The level2 snapshot sent on subscribe holds the whole simulated book.

With ``account`` (a ``SimAccount``) and ``api_keys`` (CDP key name -> its EC P-256 PEM, the
test key pair) the ``user`` channel is served too: each subscribe's JWT is checked as
Coinbase checks it (known key, ES256 signature, ``iss``, ``kid``/``sub``, ``nbf <= now <
exp`` on the server's clock), refused with Coinbase's ``{"type": "error", "message":
"authentication failure"}``; the subscribe brings a snapshot of the open orders, then
``render_account`` sends every order change as the order's cumulative figures (quantity,
value, fees in the quote currency), as Coinbase does: no per-fill message, no balances.
``GET /api/v3/brokerage/time`` serves the server clock. Nothing is replayed after a drop.
"""

from __future__ import annotations

import base64
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Literal, cast

from cryptography.hazmat.primitives.asymmetric import ec

from feedhandler.exchanges.coinbase import auth
from feedhandler.sim import catalog
from feedhandler.sim.account import FEE_QUANTUM, AccountEvent, OrderEvent, SimAccount
from feedhandler.sim.market import (
    BestBidOffer,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketConfig,
    MarketEvent,
    PriceLevel,
    Side,
    Trade,
)
from feedhandler.sim.venue import (
    ClientRequest,
    ErrorReason,
    HttpRequest,
    HttpResponse,
    IncomingLimit,
    RequestKind,
    Session,
    Venue,
)

CANDLE_INTERVAL_MS = 300_000
"""The candles channel publishes five-minute buckets only."""

PRODUCT_CHANNELS = ("level2", "market_trades", "ticker", "ticker_batch", "candles", "status")
HEARTBEATS = "heartbeats"
USER = auth.USER_CHANNEL
AUTH_FAILURE = "authentication failure"
TIME_PATH = "/api/v3/brokerage/time"
_STATUS = {"NEW": "OPEN", "PARTIALLY_FILLED": "OPEN", "FILLED": "FILLED",
           "CANCELED": "CANCELLED", "REJECTED": "FAILED", "EXPIRED": "EXPIRED"}
RECENT_TRADES = 50
"""Trades repeated by a market_trades snapshot (the venue's count is not documented)."""

_LISTINGS: dict[str, tuple[str, str, str]] = {
    "BTC-USD": ("0.01", "0.00000001", "60000.00"),
    "ETH-USD": ("0.01", "0.00000001", "3000.00"),
    "SOL-USD": ("0.01", "0.00000001", "150.00"),
    "DOGE-USD": ("0.00001", "0.1", "0.15000"),
    "PEPE-USD": catalog.FINE_TICK,
}
"""Quote increment, base increment and starting price; other products get their generated
listing's (``sim.catalog``), else ``_GENERIC_LISTING``."""
_GENERIC_LISTING = ("0.01", "0.00000001", "100.00")
_CATALOG_SEED = 801
PRODUCTS_PATH = "/api/v3/brokerage/market/products"

_SEQUENCE = b"\x00"
"""Where a rendered template takes the connection's sequence_num (filled by ``envelope``)."""
_COUNTER = b"\x01"
"""Where a heartbeats template takes the connection's heartbeat_counter."""


def _shortest(render: Callable[[int], str]) -> Callable[[int], str]:
    """The venue writes decimals without trailing zeros ("21921.3", "0.02", "0")."""
    def text(units: int) -> str:
        value = render(units)
        return value.rstrip("0").rstrip(".") if "." in value else value
    return text


def timestamp(ms: int) -> str:
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ms // 1000))}.{ms % 1000:03d}000Z"


@dataclass
class CoinbaseSession:
    """Per-connection state: its numbering, heartbeat count and subscriptions."""

    next_sequence: int = 0
    heartbeat_counter: int = 0
    topics: dict[str, None] = field(default_factory=dict)
    books_received: dict[str, int] = field(default_factory=dict)
    """level2 topic -> how many of its messages were published up to the last one sent here."""


class _Listing:
    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.price = _shortest(spec.price_formatter())
        self.size = _shortest(spec.size_formatter())
        self.recent: deque[Trade] = deque(maxlen=RECENT_TRADES)
        self.candle: Candle | None = None
        self.low = self.high = 0
        self.volume = 0


class CoinbaseVenue(Venue):
    """Coinbase Advanced Trade public channels on one socket path ("/")."""

    name = "coinbase"
    # 8 unauthenticated messages per second (per IP on the venue; per connection here)
    incoming_limit = IncomingLimit(8, 1.0, 1008, "rate limit exceeded")

    def __init__(self, market: Literal["spot"] = "spot",
                 symbols: Sequence[str] = ("BTC-USD",), *, account: SimAccount | None = None,
                 api_keys: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock`` is the server's (JWT windows, server time)."""
        self.account = account
        self.public_keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for name, pem in (api_keys or {}).items():
            key = auth.load_private_key(pem)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            self.public_keys[name] = key.public_key()
        self._clock = clock
        self.auth_replies: list[str] = []       # "" accepted, else the refusal, per JWT
        self.fees_paid: dict[int, Decimal] = {}   # order id -> cumulative fees, quote
        if market != "spot":
            raise ValueError(f"unknown Coinbase market {market!r}; use 'spot'")
        specs, self.catalog = catalog.catalog(
            _CATALOG_SEED, lambda base, quote: f"{base}-{quote}", symbols, _LISTINGS,
            _GENERIC_LISTING)
        self._listings = {symbol: _Listing(spec) for symbol, spec in specs.items()}
        self._heartbeat_symbol = next(iter(self._listings))
        self._books_published: dict[str, int] = {}
        """level2 topic -> messages rendered for it (a connection missing some lost them)."""
        self._now_ms = MarketConfig.start_ms
        """Simulated time of the latest event, for replies that carry no event."""

    def instruments(self) -> tuple[InstrumentSpec, ...]:
        return tuple(listing.spec for listing in self._listings.values())

    def candle_intervals_ms(self) -> tuple[int, ...]:
        return (CANDLE_INTERVAL_MS,)

    # Connections and requests ------------------------------------------------------------

    def open_session(self, path: str, query: dict[str, str]) -> Session | HttpResponse | None:
        return Session((), CoinbaseSession()) if path in ("", "/") else None

    def parse(self, state: object, payload: bytes) -> ClientRequest:
        try:
            message = json.loads(payload)
        except ValueError:
            return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_JSON,
                                 detail="Failed to parse message")
        if not isinstance(message, dict):
            return _invalid("Failed to parse message: expected a JSON object")
        kind = message.get("type")
        if kind not in ("subscribe", "unsubscribe"):
            return _invalid(f"Unknown message type {kind!r}")
        channel = message.get("channel")
        if not isinstance(channel, str):
            return _invalid("channel must be a string: one channel per message")
        products = message.get("product_ids", [])
        if not isinstance(products, list) or not all(isinstance(p, str) for p in products):
            return _invalid("product_ids must be a list of strings")
        session = cast(CoinbaseSession, state)
        topics: tuple[str, ...]
        if channel == USER and self.account is not None:
            refusal = self._check_jwt(message.get("jwt"))
            self.auth_replies.append(refusal)
            if refusal:
                return _invalid(AUTH_FAILURE)
            topics = (USER,)
        elif channel == HEARTBEATS:
            topics = (HEARTBEATS,)
        elif products:
            topics = tuple(f"{channel}:{product}" for product in products)
        elif kind == "unsubscribe":      # no product ids: the whole channel
            topics = tuple(t for t in session.topics if t.startswith(channel + ":"))
        else:
            return _invalid(f"Failed to subscribe: {channel} needs product_ids")
        request_kind = RequestKind.SUBSCRIBE if kind == "subscribe" else RequestKind.UNSUBSCRIBE
        return ClientRequest(request_kind, topics=topics, body=session)

    def _check_jwt(self, token: object) -> str:
        """Why the JWT is refused ("" when it is not): Coinbase answers every case alike."""
        if not isinstance(token, str) or token.count(".") != 2:
            return "no JWT"
        try:
            head = token.split(".")[0]
            kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("kid")
        except (ValueError, AttributeError):
            return "JWT header unreadable"
        public_key = self.public_keys.get(kid) if isinstance(kid, str) else None
        if public_key is None:
            return "unknown key"
        try:
            auth.verify_ws_jwt(token, public_key, int(self._clock()), kid)
        except auth.JwtRejected as exc:
            return str(exc)
        return ""

    def is_topic(self, topic: str) -> bool:
        if topic == USER:
            return self.account is not None
        if topic == HEARTBEATS:
            return True
        channel, _, product = topic.partition(":")
        return channel in PRODUCT_CHANNELS and product in self._listings

    def render_ack(self, request: ClientRequest) -> list[bytes]:
        """A subscriptions message listing everything the connection now receives."""
        session = cast(CoinbaseSession, request.body)
        for topic in request.topics:
            if request.kind is RequestKind.SUBSCRIBE:
                session.topics[topic] = None
            else:
                session.topics.pop(topic, None)
                session.books_received.pop(topic, None)
        listed: dict[str, list[str]] = {}
        for topic in session.topics:
            channel, _, product = topic.partition(":")
            listed.setdefault(channel, [])
            if product:
                listed[channel].append(product)
        body = json.dumps([{"subscriptions": listed}], separators=(",", ":"))
        return [self._message(session, "subscriptions", self._now_ms, body)]

    def render_list(self, request: ClientRequest, topics: list[str]) -> list[bytes]:
        return []   # the venue has no request listing subscriptions

    def render_error(self, request: ClientRequest, reason: ErrorReason,
                     detail: str) -> list[bytes]:
        if reason is ErrorReason.UNKNOWN_TOPIC:
            detail = f"Failed to subscribe: unknown channel or product {detail}"
        return [json.dumps({"type": "error", "message": detail}).encode()]

    def initial_frames(self, state: object, topic: str, market: Market) -> list[bytes]:
        """What subscribing sends at once: the whole level2 book, recent trades, the current
        ticker, the open candle or the product status."""
        session = cast(CoinbaseSession, state)
        if topic == USER:
            assert self.account is not None
            orders = [self._order(o.event) for o in self.account.orders.values()
                      if o.event.status in ("NEW", "PARTIALLY_FILLED")]
            return [self._message(session, USER, self._now_ms, json.dumps([{
                "type": "snapshot", "orders": orders, "positions": {
                    "perpetual_futures_positions": [], "expiring_futures_positions": []}}],
                separators=(",", ":")))]
        channel, _, symbol = topic.partition(":")
        if channel == HEARTBEATS:
            return []
        listing = self._listings[symbol]
        now = market.now_ms
        if channel == "level2":
            book = market.book(symbol)
            bids, asks = book.snapshot().top()
            body = self._book_events("snapshot", listing, now, bids, asks)
            frame = self._message(session, "l2_data", now, body)
            session.books_received[topic] = self._books_published.get(topic, 0)
            return [frame]
        if channel == "market_trades":
            trades = ",".join(self._trade(listing, trade) for trade in reversed(listing.recent))
            return [self._message(session, "market_trades", now,
                                  f'[{{"type":"snapshot","trades":[{trades}]}}]')]
        if channel in ("ticker", "ticker_batch"):
            if not listing.recent:
                return []
            ticker = self._ticker(listing, market, listing.recent[-1].price, channel == "ticker")
            return [self._message(session, channel, now,
                                  f'[{{"type":"snapshot","tickers":[{ticker}]}}]')]
        if channel == "candles":
            if listing.candle is None:
                return []
            return [self._message(session, "candles", now, self._candles("snapshot", listing))]
        spec = listing.spec
        base, quote = symbol.split("-")
        status = json.dumps([{"type": "snapshot", "products": [{
            "product_type": "SPOT", "id": symbol, "base_currency": base, "quote_currency": quote,
            "base_increment": spec.lot_size, "quote_increment": spec.tick_size,
            "display_name": f"{base}/{quote}", "status": "online", "status_message": "",
            "min_market_funds": "1"}]}], separators=(",", ":"))
        return [self._message(session, "status", now, status)]

    def _products(self, product_type: str | None) -> bytes:
        """The listings as ``market/products`` states them; each ``-USD`` product also has
        its ``-USDC`` twin, an ``alias`` of it (Coinbase serves the USDC books as the USD
        ones)."""
        products = []
        listed = {listing.symbol for listing in self.catalog}
        for listing in self.catalog:
            fields: dict[str, object] = {
                "product_id": listing.symbol, "price": listing.price,
                "base_increment": listing.lot_size, "quote_increment": listing.tick_size,
                "price_increment": listing.tick_size,
                "base_min_size": listing.min_size or listing.lot_size,
                "base_max_size": "3400", "quote_min_size": listing.min_notional or "1",
                "quote_max_size": "150000000", "base_name": listing.base,
                "quote_name": listing.quote, "watched": False, "is_disabled": False,
                "new": False, "status": "delisted" if listing.status == "delisted"
                else "online", "cancel_only": listing.status == "halted",
                "limit_only": False, "post_only": False,
                "trading_disabled": listing.status == "halted", "auction_mode": False,
                "product_type": "SPOT", "quote_currency_id": listing.quote,
                "base_currency_id": listing.base, "mid_market_price": "",
                "alias": "", "alias_to": [], "base_display_symbol": listing.base,
                "quote_display_symbol": listing.quote, "view_only": False,
                "display_name": listing.symbol, "product_venue": "CBE"}
            products.append(fields)
            twin = f"{listing.base}-USDC"
            if listing.quote == "USD" and twin not in listed:
                fields["alias_to"] = [twin]
                products.append({**fields, "product_id": twin, "quote_currency_id": "USDC",
                                 "quote_display_symbol": "USDC", "display_name": twin,
                                 "alias": listing.symbol, "alias_to": []})
        if product_type not in (None, "SPOT"):
            products = []
        return json.dumps({"products": products, "num_products": len(products)},
                          separators=(",", ":")).encode()

    def http(self, request: HttpRequest, market: Market) -> HttpResponse | None:
        """The server time and the products: the WebSocket carries everything else,
        snapshots included."""
        if request.path == PRODUCTS_PATH:
            return HttpResponse(200, self._products(request.query.get("product_type")))
        if request.path != TIME_PATH:
            return None
        ms = int(self._clock() * 1000)
        return HttpResponse(200, json.dumps({
            "iso": timestamp(ms).replace("000Z", "Z"), "epochSeconds": str(ms // 1000),
            "epochMillis": str(ms)}).encode())

    # Private stream ----------------------------------------------------------------------

    def render_account(self, events: list[AccountEvent]) -> list[bytes]:
        """Every order change as one ``user`` update (a template ``envelope`` numbers)."""
        return [self._template(USER, e.ts_ms, json.dumps(
            [{"type": "update", "orders": [self._order(e)]}], separators=(",", ":")))
            for e in events if isinstance(e, OrderEvent)]

    def fee_in_quote(self, e: OrderEvent) -> Decimal:
        """The fill's fee in the quote currency (the account charges a buy in the base),
        to 8 decimals."""
        fee = e.fee * e.last_price if e.side == "BUY" else e.fee
        return fee.quantize(FEE_QUANTUM, ROUND_DOWN)

    def _order(self, e: OrderEvent) -> dict[str, str]:
        fees = self.fees_paid.get(e.order_id, Decimal(0))
        if e.last_size:
            fees = self.fees_paid[e.order_id] = fees + self.fee_in_quote(e)
        live = e.status in ("NEW", "PARTIALLY_FILLED")
        value = e.filled * e.price
        return {
            "avg_price": _plain(e.price) if e.filled else "0", "cancel_reason": "",
            "client_order_id": e.client_id,
            "completion_percentage": _plain(e.filled / e.size * 100),
            "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
            "cumulative_quantity": _plain(e.filled), "filled_value": _plain(value),
            "leaves_quantity": _plain(e.size - e.filled) if live or e.status == "REJECTED"
            else "0",
            "limit_price": _plain(e.price), "number_of_fills": str(e.seq if e.filled else 0),
            "order_id": str(e.order_id), "order_side": e.side, "order_type": "Limit",
            "outstanding_hold_amount": "0", "post_only": "false", "product_id": e.symbol,
            "product_type": "SPOT",
            "reject_reason": "INSUFFICIENT_FUND" if e.status == "REJECTED" else "",
            "retail_portfolio_id": "", "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
            "status": _STATUS[e.status], "stop_price": "",
            "time_in_force": "GOOD_UNTIL_CANCELLED", "total_fees": _plain(fees),
            "total_value_after_fees": _plain(value - fees),
            "trigger_status": "INVALID_ORDER_TYPE", "creation_time": timestamp(e.ts_ms),
            "end_time": "", "start_time": ""}

    def render_malformed(self) -> bytes:
        return b'{"channel":"l2_data","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":'

    # Market data -------------------------------------------------------------------------

    def topics(self, event: MarketEvent) -> tuple[str, ...]:
        symbol = event.symbol
        self._now_ms = event.ts_ms
        listing = self._listings[symbol]
        if type(event) is BookUpdate:
            return (f"level2:{symbol}",)
        if type(event) is Trade:
            # the plugin remembers every trade (snapshots repeat them), subscribed or not
            listing.recent.append(event)
            listing.low = min(listing.low or event.price, event.price)
            listing.high = max(listing.high, event.price)
            listing.volume += event.size
            return (f"market_trades:{symbol}", f"ticker:{symbol}", f"ticker_batch:{symbol}")
        if type(event) is BestBidOffer:
            return ()   # the ticker channel moves with matches, not with the book
        candle = cast(Candle, event)
        if candle.closed:
            return ()   # the venue never says a candle is over; the next one shows it
        listing.candle = candle
        if symbol == self._heartbeat_symbol:
            return (f"candles:{symbol}", HEARTBEATS)   # one heartbeat per simulated second
        return (f"candles:{symbol}",)

    def render(self, event: MarketEvent, topic: str, market: Market, *,
               corrupt_checksum: bool = False) -> bytes:
        """A template whose sequence_num (and heartbeat_counter) ``envelope`` fills in."""
        listing = self._listings[event.symbol]
        if type(event) is BookUpdate:
            self._books_published[topic] = self._books_published.get(topic, 0) + 1
            body = self._book_events("update", listing, event.ts_ms, event.bids, event.asks)
            return self._template("l2_data", event.ts_ms, body)
        if type(event) is Trade:
            if topic.startswith("market_trades:"):
                return self._template("market_trades", event.ts_ms,
                                      f'[{{"type":"update","trades":'
                                      f'[{self._trade(listing, event)}]}}]')
            channel = topic.partition(":")[0]
            ticker = self._ticker(listing, market, event.price, channel == "ticker")
            return self._template(channel, event.ts_ms,
                                  f'[{{"type":"update","tickers":[{ticker}]}}]')
        candle = cast(Candle, event)
        if topic == HEARTBEATS:
            current = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(candle.ts_ms // 1000))
            beat = (f'[{{"current_time":"{current}.{candle.ts_ms % 1000:03d}000000 +0000 UTC",'
                    f'"heartbeat_counter":').encode() + _COUNTER + b"}]"
            return self._template_bytes(HEARTBEATS, candle.ts_ms, beat)
        return self._template("candles", candle.ts_ms, self._candles("update", listing))

    def envelope(self, state: object, topic: str, payload: bytes) -> bytes:
        session = cast(CoinbaseSession, state)
        head, _, tail = payload.partition(_SEQUENCE)
        number = str(self._take_sequence(session, topic)).encode()
        if topic == HEARTBEATS:
            session.heartbeat_counter += 1
            tail = tail.replace(_COUNTER, str(session.heartbeat_counter).encode())
        return head + number + tail

    # Rendering ---------------------------------------------------------------------------

    def _take_sequence(self, session: CoinbaseSession, topic: str | None = None) -> int:
        """The connection's next number, after skipping one for each level2 message it was
        meant to get but did not (published since; ``topic``'s own message excluded)."""
        for book_topic, received in session.books_received.items():
            published = self._books_published.get(book_topic, 0)
            lost = published - received - (1 if book_topic == topic else 0)
            session.next_sequence += lost
            session.books_received[book_topic] = published
        number = session.next_sequence
        session.next_sequence += 1
        return number

    def _message(self, session: CoinbaseSession, channel: str, ms: int, events: str) -> bytes:
        return (f'{{"channel":"{channel}","timestamp":"{timestamp(ms)}",'
                f'"sequence_num":{self._take_sequence(session)},"events":{events}}}').encode()

    def _template(self, channel: str, ms: int, events: str) -> bytes:
        return self._template_bytes(channel, ms, events.encode())

    @staticmethod
    def _template_bytes(channel: str, ms: int, events: bytes) -> bytes:
        return (f'{{"channel":"{channel}","timestamp":"{timestamp(ms)}","sequence_num":'
                .encode() + _SEQUENCE + b',"events":' + events + b"}")

    @staticmethod
    def _book_events(kind: str, listing: _Listing, ms: int, bids: Sequence[PriceLevel],
                     asks: Sequence[PriceLevel]) -> str:
        at = timestamp(ms)
        price, size = listing.price, listing.size
        updates = ",".join(
            [f'{{"side":"bid","event_time":"{at}","price_level":"{price(p)}",'
             f'"new_quantity":"{size(q)}"}}' for p, q in bids]
            + [f'{{"side":"offer","event_time":"{at}","price_level":"{price(p)}",'
               f'"new_quantity":"{size(q)}"}}' for p, q in asks])
        return (f'[{{"type":"{kind}","product_id":"{listing.spec.symbol}",'
                f'"updates":[{updates}]}}]')

    @staticmethod
    def _trade(listing: _Listing, trade: Trade) -> str:
        maker = "SELL" if trade.taker_side is Side.BUY else "BUY"   # the venue names the maker
        return (f'{{"trade_id":"{trade.trade_id}","product_id":"{listing.spec.symbol}",'
                f'"price":"{listing.price(trade.price)}","size":"{listing.size(trade.size)}",'
                f'"side":"{maker}","time":"{timestamp(trade.ts_ms)}"}}')

    @staticmethod
    def _ticker(listing: _Listing, market: Market, last: int, with_quotes: bool) -> str:
        price, size = listing.price, listing.size
        fields = (f'"type":"ticker","product_id":"{listing.spec.symbol}","price":"{price(last)}",'
                  f'"volume_24_h":"{size(listing.volume)}","low_24_h":"{price(listing.low)}",'
                  f'"high_24_h":"{price(listing.high)}","low_52_w":"{price(listing.low)}",'
                  f'"high_52_w":"{price(listing.high)}","price_percent_chg_24_h":"0"')
        book = market.book(listing.spec.symbol)
        bid, ask = book.best_bid(), book.best_ask()
        if with_quotes and bid is not None and ask is not None:   # ticker_batch has none
            fields += (f',"best_bid":"{price(bid[0])}","best_bid_quantity":"{size(bid[1])}",'
                       f'"best_ask":"{price(ask[0])}","best_ask_quantity":"{size(ask[1])}"')
        return "{" + fields + "}"

    @staticmethod
    def _candles(kind: str, listing: _Listing) -> str:
        candle = listing.candle
        assert candle is not None
        price = listing.price
        return (f'[{{"type":"{kind}","candles":[{{"start":"{candle.open_ms // 1000}",'
                f'"high":"{price(candle.high)}","low":"{price(candle.low)}",'
                f'"open":"{price(candle.open)}","close":"{price(candle.close)}",'
                f'"volume":"{listing.size(candle.volume)}",'
                f'"product_id":"{listing.spec.symbol}"}}]}}]')


def _plain(value: Decimal) -> str:
    """A decimal as Coinbase writes it: plain digits, no exponent, no trailing zeros."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _invalid(detail: str) -> ClientRequest:
    return ClientRequest(RequestKind.INVALID, error=ErrorReason.INVALID_REQUEST, detail=detail)


def render_messages(count: int, *, seed: int = 0, symbols: Sequence[str] = ("BTC-USD",),
                    depth: int = 50,
                    channels: Sequence[str] = ("level2", "market_trades")) -> list[bytes]:
    """``count`` messages of one simulated connection, without a socket (benchmarks): the
    subscription snapshots first, then the seeded market's updates on ``channels``."""
    venue = CoinbaseVenue(symbols=symbols)
    market = Market(venue.instruments(), MarketConfig(
        seed=seed, depth=depth, candle_intervals_ms=venue.candle_intervals_ms()))
    session = CoinbaseSession()
    subscribed = {f"{channel}:{symbol}": None for channel in channels for symbol in symbols}
    messages = [frame for topic in subscribed
                for frame in venue.initial_frames(session, topic, market)]
    while len(messages) < count:
        for event in market.step():
            for topic in venue.topics(event):
                if topic in subscribed:
                    messages.append(venue.envelope(session, topic,
                                                   venue.render(event, topic, market)))
    return messages[:count]
