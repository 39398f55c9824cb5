# distutils: language = c++
"""Bybit v5 public WebSocket market data, spot and linear: orderbook, publicTrade, tickers,
kline and the op replies (see docs/venues/bybit.md).

Every push names its stream in ``topic`` (``orderbook.50.BTCUSDT``), so the symbol, and with
it the slot, is known before the data is read. Numbers arrive as strings and are read from
their raw token text into exact fixed point.

Books follow Bybit's rules, enforced here in C: a snapshot (or any message with ``u`` == 1,
sent when Bybit's book service restarts) replaces the book; a delta must carry ``u`` == the
previous ``u`` + 1, anything else withdraws the book (``lose_sync``) until the adapter has
resubscribed the topic for a fresh snapshot. As for Kraken, a snapshot does not make a waiting
book live by itself: the deltas after it are held until the adapter's ``sync_book`` marks the
book live and replays them, so the user hears of the resync before the book is served again.

A push whose own fields contradict its topic is counted (``misrouted``) and never applied: an
``orderbook.N`` depth other than the subscribed one (another stream, so the book misses
nothing), or a ``data.s`` / ``symbol`` naming another symbol than the topic (the book's own
stream: a live book is withdrawn and resynced, as after a gap).

Tickers are merged per symbol in C: linear ``tickers`` sends a snapshot then partial deltas
(a missing field is unchanged), and spot ``tickers`` has no bid or ask at all, so on spot the
best bid and offer come from the snapshot-only ``orderbook.1`` topic and the last price from
``tickers``. A ticker row is written once both sides are known.
"""

from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memset
from libcpp cimport bool as cbool
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.book cimport ASK, BID, OrderBook
from feedhandler.core.decoder cimport (
    DECODED_BOOKS,
    DECODED_CANDLES,
    DECODED_ERROR,
    DECODED_TICKERS,
    DECODED_TRADES,
    SYNC_LIVE,
    Decoder,
)
from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_EMPTY, DECIMAL_OK
from feedhandler.core.jsonread cimport (
    LEVELS_MALFORMED,
    LEVELS_OK,
    apply_pair_levels,
    count_of,
    iterate_whole,
    key_is,
    read_decimal,
    read_int,
)
from feedhandler.core.ondemand cimport (
    NO_SUCH_FIELD,
    SUCCESS,
    array,
    array_iterator,
    document,
    error_code,
    field,
    object_iterator,
    od_object,
    value,
)
from feedhandler.core.rings cimport candle_append, ticker_append, trade_append

cdef enum TopicKind:
    TOPIC_UNKNOWN = 0
    TOPIC_BOOK = 1
    TOPIC_TRADE = 2
    TOPIC_TICKER = 3
    TOPIC_KLINE = 4

cdef int64_t MS_NS = 1000000
cdef uint64_t FNV64_OFFSET = 14695981039346656037ULL
cdef uint64_t FNV64_PRIME = 1099511628211ULL
cdef uint64_t INT63_MASK = 0x7FFFFFFFFFFFFFFFULL


cdef struct Topic:
    int kind
    string_view param         # depth of orderbook, interval of kline, empty otherwise
    string_view symbol


cdef inline int split_topic(string_view text, Topic* out) noexcept nogil:
    """``kind[.param].SYMBOL`` -> its parts; -1 when there is no dot."""
    cdef const char* p = text.data()
    cdef size_t n = text.size()
    cdef size_t first = 0, last
    cdef string_view kind
    while first < n and p[first] != b'.':
        first += 1
    if first >= n:
        return -1
    last = n - 1
    while p[last] != b'.':
        last -= 1
    kind = string_view(p, first)
    out.symbol = string_view(p + last + 1, n - last - 1)
    out.param = string_view(p + first + 1, last - first - 1) if last > first \
        else string_view(p, 0)
    if key_is(kind, "orderbook", 9):
        out.kind = TOPIC_BOOK
    elif key_is(kind, "publicTrade", 11):
        out.kind = TOPIC_TRADE
    elif key_is(kind, "tickers", 7):
        out.kind = TOPIC_TICKER
    elif key_is(kind, "kline", 5):
        out.kind = TOPIC_KLINE
    else:
        out.kind = TOPIC_UNKNOWN
    return 0


cdef inline int64_t interval_seconds(string_view text) noexcept nogil:
    """A kline interval ("1".."720" minutes, "D", "W", "M") in seconds; -1 when unknown."""
    cdef int64_t minutes = 0
    cdef size_t i
    cdef int digit
    if key_is(text, "D", 1):
        return 86400
    if key_is(text, "W", 1):
        return 604800
    if key_is(text, "M", 1):
        return 2592000
    if text.size() == 0 or text.size() > 4:
        return -1
    for i in range(text.size()):
        digit = <unsigned char>text.data()[i] - 48
        if not 0 <= digit <= 9:
            return -1
        minutes = minutes * 10 + digit
    return minutes * 60 if minutes > 0 else -1


cdef inline int64_t trade_id_of(value& v) noexcept nogil:
    """A numeric trade id as is; Bybit's linear ids are UUIDs, hashed (FNV-1a, 63 bits) so that
    a repeated trade still repeats its id."""
    cdef int64_t numeric
    cdef string_view text
    cdef uint64_t h = FNV64_OFFSET
    cdef size_t i
    if read_int(v, &numeric) == DECIMAL_OK:
        return numeric
    if v.get_string().get(text) != SUCCESS:
        return 0
    for i in range(text.size()):
        h = (h ^ <unsigned char>text.data()[i]) * FNV64_PRIME
    return <int64_t>(h & INT63_MASK)


cdef inline int read_optional(value& v, int scale, int64_t* out) noexcept nogil:
    """A decimal that may be an empty string (field without a value): ``out`` is left alone."""
    cdef int64_t parsed
    cdef int status = read_decimal(v, scale, &parsed)
    if status == DECIMAL_OK:
        out[0] = parsed
    return DECIMAL_OK if status == DECIMAL_EMPTY else status


cdef inline int read_best(value& levels, int price_scale, int size_scale, int64_t* price,
                          int64_t* size) noexcept nogil:
    """The first ``[price, size]`` of a side (0, 0 when it is empty); LevelStatus."""
    cdef array outer, pair
    cdef array_iterator it, end, pit, pend
    cdef value item, number
    cdef bint first = True
    price[0] = 0
    size[0] = 0
    if levels.get_array().get(outer) != SUCCESS or outer.begin().get(it) != SUCCESS or \
            outer.end().get(end) != SUCCESS:
        return LEVELS_MALFORMED
    while it != end:
        if deref(it).get(item) != SUCCESS or item.get_array().get(pair) != SUCCESS or \
                pair.begin().get(pit) != SUCCESS or pair.end().get(pend) != SUCCESS:
            return LEVELS_MALFORMED
        if not (pit != pend) or deref(pit).get(number) != SUCCESS or \
                (first and read_decimal(number, price_scale, price) != DECIMAL_OK):
            return LEVELS_MALFORMED
        inc(pit)
        if not (pit != pend) or deref(pit).get(number) != SUCCESS or \
                (first and read_decimal(number, size_scale, size) != DECIMAL_OK):
            return LEVELS_MALFORMED
        first = False
        inc(it)
    return LEVELS_OK


cdef class BybitDecoder(Decoder):
    """Decodes Bybit v5 public messages of one market (spot or linear) into rings and books."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    def __init__(self, *args, bint spot=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.spot = spot

    def __dealloc__(self):
        free(self.books_state)
        free(self.ticker_state)

    # ---- per-slot configuration (Python) -----------------------------------------------------

    def add_instrument(self, key, int instrument, int price_scale, int size_scale,
                       OrderBook book=None) -> int:
        cdef int32_t slot = Decoder.add_instrument(self, key, instrument, price_scale,
                                                   size_scale)
        self._reserve(slot + 1)
        memset(&self.books_state[slot], 0, sizeof(BookState))
        memset(&self.ticker_state[slot], 0, sizeof(TickerState))
        if book is not None:
            self.set_book(slot, book)
        return slot

    def configure_book(self, int slot, int depth) -> None:
        """The subscribed depth: the book is truncated to it after every message."""
        self._check_slot(slot)
        if self.books[slot] is None:
            raise ValueError(f"slot {slot} has no book")
        if depth <= 0:
            raise ValueError(f"depth must be positive, got {depth}")
        (<OrderBook>self.books[slot]).depth_limit = depth
        self.books_state[slot].depth = depth

    def last_update(self, int slot) -> int:
        """The ``u`` of the last book message applied at ``slot``."""
        self._check_slot(slot)
        return self.books_state[slot].last_update

    def _reserve(self, int32_t count):
        cdef int32_t capacity = max(8, self.state_capacity)
        cdef BookState* books
        cdef TickerState* tickers
        if count <= self.state_capacity:
            return
        while capacity < count:
            capacity *= 2
        books = <BookState*>realloc(self.books_state, capacity * sizeof(BookState))
        if books == NULL:
            raise MemoryError()
        self.books_state = books
        tickers = <TickerState*>realloc(self.ticker_state, capacity * sizeof(TickerState))
        if tickers == NULL:
            raise MemoryError()
        self.ticker_state = tickers
        self.state_capacity = capacity

    # ---- decoding ----------------------------------------------------------------------------

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top
        cdef value v, data
        cdef string_view text
        cdef error_code found
        cdef Topic topic
        cdef int32_t slot
        cdef int64_t ts_ms = 0
        cdef int64_t depth
        cdef bint snapshot = False
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        found = top.find_field_unordered(string_view(b"topic", 5)).get(v)
        if found == NO_SUCH_FIELD:
            if top.find_field_unordered(string_view(b"op", 2)).get(v) == SUCCESS:
                return self.decode_response(v, buf, n)
            self.unknown += 1
            return 0
        if found != SUCCESS or v.get_string().get(text) != SUCCESS or \
                split_topic(text, &topic) != 0:
            return self.fail("topic is not a string of the form kind.SYMBOL")
        if topic.kind == TOPIC_UNKNOWN:
            self.unknown += 1
            return 0
        slot = self.find_slot(topic.symbol.data(), topic.symbol.size())
        if slot < 0:
            self.unknown += 1
            return 0
        if topic.kind == TOPIC_BOOK:
            if top.find_field_unordered(string_view(b"type", 4)).get(v) != SUCCESS or \
                    v.get_string().get(text) != SUCCESS:
                return self.fail("orderbook message without type")
            if key_is(text, "snapshot", 8):
                snapshot = True
            elif not key_is(text, "delta", 5):
                self.unknown += 1
                return 0
        if topic.kind == TOPIC_BOOK or topic.kind == TOPIC_TICKER:
            found = top.find_field_unordered(string_view(b"ts", 2)).get(v)
            if found == SUCCESS and read_int(v, &ts_ms) != DECIMAL_OK:
                return self.fail("malformed ts")
        if top.find_field_unordered(string_view(b"data", 4)).get(data) != SUCCESS:
            return self.fail("message without data")
        if topic.kind == TOPIC_BOOK:
            if self.spot and key_is(topic.param, "1", 1):
                return self.decode_top_of_book(slot, data, ts_ms, ts_receive)
            depth = self.books_state[slot].depth
            if depth and count_of(topic.param.data(), topic.param.size()) != depth:
                return self.misroute(slot, f"orderbook depth {topic.param.data()[:topic.param.size()].decode()} pushed "
                                           f"for a depth {depth} subscription", False)
            return self.decode_book(slot, data, snapshot, ts_ms, buf, n, ts_receive)
        if topic.kind == TOPIC_TICKER:
            return self.decode_ticker(slot, data, ts_ms, ts_receive)
        if topic.kind == TOPIC_TRADE:
            return self.decode_trades(slot, data, ts_receive)
        return self.decode_candles(slot, data, ts_receive)

    cdef int decode_response(self, value& op, const char* buf, size_t n) except -1:
        """Pongs (spot answers ``op`` "ping", linear ``op`` "pong") are consumed here; acks
        and errors go to Python."""
        cdef string_view text
        if op.get_string().get(text) != SUCCESS:
            return self.fail("op is not a string")
        if key_is(text, "ping", 4) or key_is(text, "pong", 4):
            return 0
        return self.queue_control(buf, n)

    cdef int check_symbol(self, int32_t slot, od_object& item) except -1:
        """0 when ``data.s`` (first in Bybit's order) names the topic's symbol or is absent;
        else the misroute flags (the book's own stream: a live book is withdrawn)."""
        cdef value v
        cdef string_view text
        if item.find_field_unordered(string_view(b"s", 1)).get(v) != SUCCESS:
            return 0
        if v.get_string().get(text) != SUCCESS or \
                not self.is_key_of(slot, text.data(), text.size()):
            return self.misroute(slot, "data.s names another symbol than the topic", True)
        return 0

    cdef int decode_book(self, int32_t slot, value& data, bint snapshot, int64_t ts_ms,
                         const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef od_object item
        cdef value v
        cdef OrderBook book
        cdef BookState* state = &self.books_state[slot]
        cdef int64_t update = 0
        cdef int status = LEVELS_OK
        cdef int side
        cdef error_code found
        cdef int misrouted
        if not self.slots[slot].has_book:
            self.unknown += 1
            return 0
        found = data.get_object().get(item)
        if found == SUCCESS:
            misrouted = self.check_symbol(slot, item)
            if misrouted:
                return misrouted
            found = item.find_field_unordered(string_view(b"u", 1)).get(v)
        if found != SUCCESS or read_int(v, &update) != DECIMAL_OK:
            self.fail("orderbook data without u")
            if self.slots[slot].sync == SYNC_LIVE:
                return DECODED_ERROR | self.lose_sync(slot, "orderbook data without u", False)
            return DECODED_ERROR
        if update == 1:
            snapshot = True             # Bybit's book service restarted: a fresh snapshot
        if not snapshot and self.slots[slot].sync != SYNC_LIVE:
            if self.slots[slot].loaded:
                return self.hold(slot, buf, n)
            self.skipped += 1
            return 0
        if not snapshot and update != state.last_update + 1:
            return self.lose_sync(slot, f"update id {update} after {state.last_update}", False)
        book = self.book_at(slot)
        if snapshot:
            book.clear_levels()
        for side in range(BID, ASK + 1):
            found = item.find_field_unordered(
                string_view(b"b", 1) if side == BID else string_view(b"a", 1)).get(v)
            if found == SUCCESS:
                status = apply_pair_levels(v, book, side, self.slots[slot].price_scale,
                                           self.slots[slot].size_scale)
            elif found != NO_SUCH_FIELD:
                status = LEVELS_MALFORMED
            if status != LEVELS_OK:
                self.fail("malformed book levels" if status == LEVELS_MALFORMED
                          else "book rejected a level")
                return DECODED_ERROR | self.lose_sync(
                    slot, "book message could not be applied", False)
        book.truncate_depth()
        if book.crossed():
            return self.lose_sync(slot, "crossed book after update", False)
        book.sequence = update
        book.ts_exchange = ts_ms * MS_NS
        book.ts_receive = ts_receive
        state.last_update = update
        if snapshot:
            self.slots[slot].snapshots += 1
            self.slots[slot].loaded = 1
            self.take_pending(slot)         # held deltas predate this snapshot
            if self.slots[slot].sync != SYNC_LIVE:
                return 0
        self.mark_dirty(slot)
        return DECODED_BOOKS

    cdef int decode_top_of_book(self, int32_t slot, value& data, int64_t ts_ms,
                                int64_t ts_receive) except -1:
        """Spot ``orderbook.1``: every message is a snapshot of the best bid and offer."""
        cdef od_object item
        cdef value v
        cdef TickerState* state = &self.ticker_state[slot]
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        cdef int misrouted
        if data.get_object().get(item) != SUCCESS:
            return self.fail("orderbook data is not an object")
        misrouted = self.check_symbol(slot, item)
        if misrouted:
            return misrouted
        if item.find_field_unordered(string_view(b"b", 1)).get(v) != SUCCESS or \
                read_best(v, price_scale, size_scale, &state.bid_price,
                          &state.bid_size) != LEVELS_OK or \
                item.find_field_unordered(string_view(b"a", 1)).get(v) != SUCCESS or \
                read_best(v, price_scale, size_scale, &state.ask_price,
                          &state.ask_size) != LEVELS_OK:
            return self.fail("malformed orderbook.1 levels")
        return self.emit_ticker(slot, ts_ms, ts_receive)

    cdef int decode_ticker(self, int32_t slot, value& data, int64_t ts_ms,
                           int64_t ts_receive) except -1:
        """Merges the fields present into the symbol's ticker state (a delta omits what did
        not change)."""
        cdef od_object item
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef TickerState* state = &self.ticker_state[slot]
        cdef TickerState merged = state[0]
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        cdef int status = DECIMAL_OK
        if data.get_object().get(item) != SUCCESS or item.begin().get(it) != SUCCESS or \
                item.end().get(end) != SUCCESS:
            return self.fail("ticker data is not an object")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed ticker field")
            key = f.escaped_key()
            if key_is(key, "bid1Price", 9):
                status = read_optional(f.val(), price_scale, &merged.bid_price)
            elif key_is(key, "bid1Size", 8):
                status = read_optional(f.val(), size_scale, &merged.bid_size)
            elif key_is(key, "ask1Price", 9):
                status = read_optional(f.val(), price_scale, &merged.ask_price)
            elif key_is(key, "ask1Size", 8):
                status = read_optional(f.val(), size_scale, &merged.ask_size)
            elif key_is(key, "lastPrice", 9):
                status = read_optional(f.val(), price_scale, &merged.last_price)
            elif key_is(key, "symbol", 6):
                if f.val().get_string().get(text) != SUCCESS or \
                        not self.is_key_of(slot, text.data(), text.size()):
                    return self.misroute(slot, "ticker symbol names another symbol than the "
                                               "topic", False)
            if status != DECIMAL_OK:
                return self.fail("malformed ticker price or size")
            inc(it)
        state[0] = merged
        return self.emit_ticker(slot, ts_ms, ts_receive)

    cdef int emit_ticker(self, int32_t slot, int64_t ts_ms, int64_t ts_receive) except -1:
        cdef TickerState* state = &self.ticker_state[slot]
        if state.bid_price <= 0 or state.ask_price <= 0:
            return 0
        ticker_append(&self.tickers.c, self.slots[slot].instrument, ts_ms * MS_NS, ts_receive,
                      state.bid_price, state.bid_size, state.ask_price, state.ask_size,
                      state.last_price)
        return DECODED_TICKERS

    cdef int decode_trades(self, int32_t slot, value& data, int64_t ts_receive) except -1:
        cdef array trades
        cdef array_iterator it, end
        cdef value v
        cdef od_object item
        cdef object_iterator fit, fend
        cdef field f
        cdef string_view key, text
        cdef int64_t ts_ms, price, size, trade_id
        cdef int side, seen
        cdef int flags = 0
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        if data.get_array().get(trades) != SUCCESS or trades.begin().get(it) != SUCCESS or \
                trades.end().get(end) != SUCCESS:
            return self.fail("publicTrade data is not an array")
        while it != end:
            if deref(it).get(v) != SUCCESS or v.get_object().get(item) != SUCCESS or \
                    item.begin().get(fit) != SUCCESS or item.end().get(fend) != SUCCESS:
                return flags | self.fail("trade is not an object")
            ts_ms = trade_id = 0
            side = seen = 0
            while fit != fend:
                if deref(fit).get(f) != SUCCESS:
                    return flags | self.fail("malformed trade field")
                key = f.escaped_key()
                if key_is(key, "p", 1):
                    if read_decimal(f.val(), price_scale, &price) != DECIMAL_OK:
                        return flags | self.fail("malformed trade price")
                    seen |= 1
                elif key_is(key, "v", 1):
                    if read_decimal(f.val(), size_scale, &size) != DECIMAL_OK:
                        return flags | self.fail("malformed trade size")
                    seen |= 2
                elif key_is(key, "T", 1):
                    if read_int(f.val(), &ts_ms) != DECIMAL_OK:
                        return flags | self.fail("malformed trade time")
                elif key_is(key, "S", 1):
                    if f.val().get_string().get(text) != SUCCESS:
                        return flags | self.fail("trade side is not a string")
                    side = 1 if key_is(text, "Buy", 3) else -1 if key_is(text, "Sell", 4) else 0
                elif key_is(key, "i", 1):
                    trade_id = trade_id_of(f.val())
                elif key_is(key, "s", 1):
                    if f.val().get_string().get(text) != SUCCESS or \
                            not self.is_key_of(slot, text.data(), text.size()):
                        return flags | self.misroute(slot, "trade s names another symbol than "
                                                           "the topic", False)
                inc(fit)
            if seen != 3:
                return flags | self.fail("trade without price or size")
            trade_append(&self.trades.c, self.slots[slot].instrument, ts_ms * MS_NS,
                         ts_receive, price, size, side, trade_id)
            flags |= DECODED_TRADES
            inc(it)
        return flags

    cdef int decode_candles(self, int32_t slot, value& data, int64_t ts_receive) except -1:
        cdef array candles
        cdef array_iterator it, end
        cdef value v
        cdef od_object item
        cdef object_iterator fit, fend
        cdef field f
        cdef string_view key, text
        cdef int64_t start, stamp, open_, high, low, close, volume, interval
        cdef cbool confirm
        cdef int seen
        cdef int flags = 0
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        if data.get_array().get(candles) != SUCCESS or candles.begin().get(it) != SUCCESS or \
                candles.end().get(end) != SUCCESS:
            return self.fail("kline data is not an array")
        while it != end:
            if deref(it).get(v) != SUCCESS or v.get_object().get(item) != SUCCESS or \
                    item.begin().get(fit) != SUCCESS or item.end().get(fend) != SUCCESS:
                return flags | self.fail("kline is not an object")
            seen = 0
            stamp = 0
            confirm = False
            while fit != fend:
                if deref(fit).get(f) != SUCCESS:
                    return flags | self.fail("malformed kline field")
                key = f.escaped_key()
                if key_is(key, "start", 5):
                    seen |= 1 if read_int(f.val(), &start) == DECIMAL_OK else 0
                elif key_is(key, "interval", 8):
                    if f.val().get_string().get(text) == SUCCESS:
                        interval = interval_seconds(text)
                        seen |= 2 if interval > 0 else 0
                elif key_is(key, "open", 4):
                    seen |= 4 if read_decimal(f.val(), price_scale, &open_) == DECIMAL_OK else 0
                elif key_is(key, "high", 4):
                    seen |= 8 if read_decimal(f.val(), price_scale, &high) == DECIMAL_OK else 0
                elif key_is(key, "low", 3):
                    seen |= 16 if read_decimal(f.val(), price_scale, &low) == DECIMAL_OK else 0
                elif key_is(key, "close", 5):
                    seen |= 32 if read_decimal(f.val(), price_scale, &close) == DECIMAL_OK \
                        else 0
                elif key_is(key, "volume", 6):
                    seen |= 64 if read_decimal(f.val(), size_scale, &volume) == DECIMAL_OK \
                        else 0
                elif key_is(key, "confirm", 7):
                    if f.val().get_bool().get(confirm) != SUCCESS:
                        return flags | self.fail("kline confirm is not a boolean")
                elif key_is(key, "timestamp", 9):
                    if read_int(f.val(), &stamp) != DECIMAL_OK:
                        return flags | self.fail("malformed kline timestamp")
                inc(fit)
            if seen != 127:
                return flags | self.fail("kline without a valid start, interval, open, high, "
                                         "low, close or volume")
            candle_append(&self.candles.c, self.slots[slot].instrument, stamp * MS_NS,
                          ts_receive, start * MS_NS, <int32_t>interval, open_, high, low,
                          close, volume, 1 if confirm else 0)
            flags |= DECODED_CANDLES
            inc(it)
        return flags
