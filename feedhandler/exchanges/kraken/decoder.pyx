# distutils: language = c++
"""Kraken spot WebSocket v2 market data: book, trade, ticker, ohlc, heartbeat, status and the
method responses (see docs/venues/kraken.md).

Prices and quantities are JSON numbers; they are read from their raw token text into exact
fixed point. Books follow Kraken's rules, enforced here in C: a snapshot replaces the book,
every update is applied, the book is truncated to the subscribed depth, and the CRC32 checksum
of the top 10 levels must match the message's, for snapshots and updates alike; anything else
withdraws the book (``lose_sync``) until the adapter has resubscribed it. A verified snapshot
does not make a waiting book live by itself: the updates after it are held until the adapter's
``sync_book`` sees it, marks the book live and replays them, so that the user hears of the
resync before the book is served again.

Kraken's ohlc channel only ever carries the current candle: a candle is reported closed (once,
with its last values) when the first message of a later interval of the same series arrives.
"""

from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memset
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.book cimport ASK, BID, OrderBook
from feedhandler.core.checksum cimport MAX_DIGITS, crc32_text, write_digits
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
from feedhandler.core.fixedpoint cimport DECIMAL_OK, POW10, parse_json_decimal
from feedhandler.core.jsonread cimport (
    LEVELS_MALFORMED,
    LEVELS_OK,
    LEVELS_REJECTED,
    iterate_whole,
    key_is,
    read_decimal,
    read_price_key,
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
from feedhandler.core.timestamps cimport parse_timestamp_ns

cdef enum ChannelKind:
    CHANNEL_UNKNOWN = 0
    CHANNEL_BOOK = 1
    CHANNEL_TRADE = 2
    CHANNEL_TICKER = 3
    CHANNEL_OHLC = 4
    CHANNEL_HEARTBEAT = 5
    CHANNEL_STATUS = 6

cdef enum:
    CHECKSUM_LEVELS = 10          # Kraken checksums the top 10 levels of each side
    DEFAULT_DEPTH = 10            # the book depth Kraken sends when none is asked for
    INTERVAL_COUNT = 9
    CHECKSUM_TEXT = 2 * CHECKSUM_LEVELS * 2 * MAX_DIGITS

# the ohlc intervals Kraken offers, in minutes; a slot keeps one open candle per interval
cdef int[INTERVAL_COUNT] INTERVAL_MINUTES = [1, 5, 15, 30, 60, 240, 1440, 10080, 21600]

cdef int64_t SECOND_NS = 1000000000


cdef inline int channel_kind(string_view name) noexcept nogil:
    if key_is(name, "book", 4):
        return CHANNEL_BOOK
    if key_is(name, "trade", 5):
        return CHANNEL_TRADE
    if key_is(name, "ticker", 6):
        return CHANNEL_TICKER
    if key_is(name, "ohlc", 4):
        return CHANNEL_OHLC
    if key_is(name, "heartbeat", 9):
        return CHANNEL_HEARTBEAT
    if key_is(name, "status", 6):
        return CHANNEL_STATUS
    return CHANNEL_UNKNOWN


cdef inline int interval_index(int64_t minutes) noexcept nogil:
    cdef int i
    for i in range(INTERVAL_COUNT):
        if INTERVAL_MINUTES[i] == minutes:
            return i
    return -1


cdef inline int read_timestamp(value& v, int64_t* out) noexcept nogil:
    """An RFC 3339 string -> ns; 0 when it is one, -1 otherwise."""
    cdef string_view text
    if v.get_string().get(text) != SUCCESS:
        return -1
    return parse_timestamp_ns(text.data(), text.size(), out)


cdef inline int parse_token(string_view token, int scale, int64_t* out) noexcept nogil:
    """A number kept as its raw token (fields that precede the symbol) -> fixed point."""
    if token.size() == 0:
        out[0] = 0
        return DECIMAL_OK
    return parse_json_decimal(token.data(), token.size(), scale, out)


cdef inline int apply_object_levels(value& levels, OrderBook book, int side, int price_scale,
                                    int size_scale) noexcept nogil:
    """Applies ``[{"price": p, "qty": q}, ...]`` to one side in order; qty 0 deletes."""
    cdef array outer
    cdef array_iterator it, end
    cdef value item
    cdef od_object level
    cdef object_iterator fit, fend
    cdef field f
    cdef string_view key
    cdef int64_t price = 0, qty = 0
    cdef int seen
    if levels.get_array().get(outer) != SUCCESS:
        return LEVELS_MALFORMED
    if outer.begin().get(it) != SUCCESS or outer.end().get(end) != SUCCESS:
        return LEVELS_MALFORMED
    while it != end:
        if deref(it).get(item) != SUCCESS or item.get_object().get(level) != SUCCESS:
            return LEVELS_MALFORMED
        if level.begin().get(fit) != SUCCESS or level.end().get(fend) != SUCCESS:
            return LEVELS_MALFORMED
        seen = 0
        while fit != fend:
            if deref(fit).get(f) != SUCCESS:
                return LEVELS_MALFORMED
            key = f.escaped_key()
            if key_is(key, "price", 5):
                if read_price_key(f.val(), price_scale, &price) != DECIMAL_OK:
                    return LEVELS_MALFORMED
                seen |= 1
            elif key_is(key, "qty", 3):
                if read_decimal(f.val(), size_scale, &qty) != DECIMAL_OK:
                    return LEVELS_MALFORMED
                seen |= 2
            inc(fit)
        if seen != 3:
            return LEVELS_MALFORMED
        if book.apply_level(side, price, qty) != 0:
            return LEVELS_REJECTED
        inc(it)
    return LEVELS_OK


cdef class KrakenDecoder(Decoder):
    """Decodes Kraken spot WebSocket v2 public messages into the rings and books."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    def __dealloc__(self):
        free(self.specs)
        free(self.open_candles)

    # ---- per-slot configuration (Python) -----------------------------------------------------

    def add_instrument(self, key, int instrument, int price_scale, int size_scale,
                       OrderBook book=None) -> int:
        cdef int32_t slot = Decoder.add_instrument(self, key, instrument, price_scale,
                                                   size_scale)
        self._reserve(slot + 1)
        self.specs[slot].price_divisor = 1
        self.specs[slot].qty_divisor = 1
        memset(&self.open_candles[slot * INTERVAL_COUNT], 0,
               INTERVAL_COUNT * sizeof(CandleState))
        if book is not None:
            self.set_book(slot, book)
        return slot

    def set_book(self, int slot, OrderBook book) -> None:
        """Attaches a book; Kraken books are top-N, so one without a depth gets Kraken's
        default of 10 until ``configure_book`` says otherwise."""
        Decoder.set_book(self, slot, book)
        if book is not None and book.depth_limit == 0:
            book.depth_limit = DEFAULT_DEPTH

    def configure_book(self, int slot, int depth, int price_decimals, int qty_decimals) -> None:
        """The subscribed depth (the book is truncated to it after every message) and the
        pair's price and quantity precision (the checksum's number formatting)."""
        self._check_slot(slot)
        if self.books[slot] is None:
            raise ValueError(f"slot {slot} has no book")
        if depth <= 0:
            raise ValueError(f"depth must be positive, got {depth}")
        if not 0 <= price_decimals <= self.slots[slot].price_scale or \
                not 0 <= qty_decimals <= self.slots[slot].size_scale:
            raise ValueError(
                f"precision ({price_decimals}, {qty_decimals}) does not fit the slot's scales "
                f"({self.slots[slot].price_scale}, {self.slots[slot].size_scale})")
        (<OrderBook>self.books[slot]).depth_limit = depth
        self.specs[slot].price_divisor = POW10[self.slots[slot].price_scale - price_decimals]
        self.specs[slot].qty_divisor = POW10[self.slots[slot].size_scale - qty_decimals]

    def book_checksum(self, int slot) -> int:
        """Kraken's CRC32 of the book at ``slot`` as it stands."""
        self._check_slot(slot)
        if self.books[slot] is None:
            raise ValueError(f"slot {slot} has no book")
        return self.checksum(<OrderBook>self.books[slot], slot)

    def _reserve(self, int32_t count):
        cdef int32_t capacity = max(8, self.spec_capacity)
        cdef BookSpec* specs
        cdef CandleState* candles
        if count <= self.spec_capacity:
            return
        while capacity < count:
            capacity *= 2
        specs = <BookSpec*>realloc(self.specs, capacity * sizeof(BookSpec))
        if specs == NULL:
            raise MemoryError()
        self.specs = specs
        candles = <CandleState*>realloc(self.open_candles,
                                        capacity * INTERVAL_COUNT * sizeof(CandleState))
        if candles == NULL:
            raise MemoryError()
        self.open_candles = candles
        self.spec_capacity = capacity

    # ---- decoding ----------------------------------------------------------------------------

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, item
        cdef value v
        cdef array data
        cdef array_iterator it, end
        cdef string_view text
        cdef error_code found
        cdef int channel
        cdef bint snapshot
        cdef int flags = 0
        cdef int64_t ts_message = 0
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        found = top.find_field_unordered(string_view(b"channel", 7)).get(v)
        if found == NO_SUCH_FIELD:
            return self.decode_response(top, buf, n)
        if found != SUCCESS or v.get_string().get(text) != SUCCESS:
            return self.fail("channel is not a string")
        channel = channel_kind(text)
        if channel == CHANNEL_HEARTBEAT:
            return 0
        if channel == CHANNEL_STATUS:
            return self.queue_control(buf, n)
        if channel == CHANNEL_UNKNOWN:
            self.unknown += 1
            return 0
        if top.find_field_unordered(string_view(b"type", 4)).get(v) != SUCCESS or \
                v.get_string().get(text) != SUCCESS:
            return self.fail("message without type")
        if key_is(text, "update", 6):
            snapshot = False
        elif key_is(text, "snapshot", 8):
            snapshot = True
        else:
            self.unknown += 1
            return 0
        if channel == CHANNEL_OHLC:
            found = top.find_field_unordered(string_view(b"timestamp", 9)).get(v)
            if found == SUCCESS and read_timestamp(v, &ts_message) != 0:
                return self.fail("malformed ohlc timestamp")
        if top.find_field_unordered(string_view(b"data", 4)).get(v) != SUCCESS or \
                v.get_array().get(data) != SUCCESS:
            return self.fail("message without a data array")
        if data.begin().get(it) != SUCCESS or data.end().get(end) != SUCCESS:
            return self.fail("malformed data array")
        while it != end:
            if deref(it).get(v) != SUCCESS or v.get_object().get(item) != SUCCESS:
                return flags | self.fail("data item is not an object")
            if channel == CHANNEL_BOOK:
                flags |= self.decode_book(item, snapshot, buf, n, ts_receive)
            elif channel == CHANNEL_TRADE:
                flags |= self.decode_trade(item, ts_receive)
            elif channel == CHANNEL_TICKER:
                flags |= self.decode_ticker(item, ts_receive)
            else:
                flags |= self.decode_candle(item, ts_message, ts_receive)
            if flags & DECODED_ERROR:
                return flags
            inc(it)
        return flags

    cdef int decode_response(self, od_object& top, const char* buf, size_t n) except -1:
        """Method responses: pongs are consumed here, acks and errors go to Python."""
        cdef value v
        cdef string_view text
        cdef error_code found = top.find_field_unordered(string_view(b"method", 6)).get(v)
        if found == SUCCESS:
            if v.get_string().get(text) != SUCCESS:
                return self.fail("method is not a string")
            if key_is(text, "pong", 4):
                return 0
            return self.queue_control(buf, n)
        if found != NO_SUCH_FIELD:
            return self.fail("malformed message")
        if top.find_field_unordered(string_view(b"error", 5)).get(v) == SUCCESS or \
                top.find_field_unordered(string_view(b"Error", 5)).get(v) == SUCCESS:
            return self.queue_control(buf, n)
        self.unknown += 1
        return 0

    cdef int decode_book(self, od_object& item, bint snapshot, const char* buf, size_t n,
                         int64_t ts_receive) except -1:
        cdef value v
        cdef string_view text
        cdef int32_t slot
        cdef OrderBook book
        cdef int status = LEVELS_OK
        cdef int side
        cdef int64_t expected = -1, ts_exchange = 0
        cdef uint32_t actual
        cdef error_code found
        if item.find_field_unordered(string_view(b"symbol", 6)).get(v) != SUCCESS or \
                v.get_string().get(text) != SUCCESS:
            return self.fail("book message without symbol")
        slot = self.find_slot(text.data(), text.size())
        if slot < 0 or not self.slots[slot].has_book:
            self.unknown += 1
            return 0
        if not snapshot and self.slots[slot].sync != SYNC_LIVE:
            if self.slots[slot].loaded:
                return self.hold(slot, buf, n)
            self.skipped += 1
            return 0
        book = self.book_at(slot)
        if snapshot:
            book.clear_levels()
        for side in range(BID, ASK + 1):
            found = item.find_field_unordered(
                string_view(b"bids", 4) if side == BID else string_view(b"asks", 4)).get(v)
            if found == SUCCESS:
                status = apply_object_levels(v, book, side, self.slots[slot].price_scale,
                                             self.slots[slot].size_scale)
            elif found != NO_SUCH_FIELD:
                status = LEVELS_MALFORMED
            if status != LEVELS_OK:
                self.fail("malformed book levels" if status == LEVELS_MALFORMED
                          else "book rejected a level")
                return DECODED_ERROR | self.lose_sync(slot, "book message could not be applied",
                                                      False)
        if item.find_field_unordered(string_view(b"checksum", 8)).get(v) != SUCCESS or \
                read_int(v, &expected) != DECIMAL_OK:
            self.fail("book message without checksum")
            return DECODED_ERROR | self.lose_sync(slot, "book message without checksum", False)
        found = item.find_field_unordered(string_view(b"timestamp", 9)).get(v)
        if found == SUCCESS and read_timestamp(v, &ts_exchange) != 0:
            self.fail("malformed book timestamp")
            return DECODED_ERROR | self.lose_sync(slot, "malformed book timestamp", False)
        book.truncate_depth()
        actual = self.checksum(book, slot)
        if <int64_t>actual != expected:
            return self.lose_sync(slot, f"checksum {actual} != {expected}", True)
        book.ts_exchange = ts_exchange
        book.ts_receive = ts_receive
        if snapshot:
            self.slots[slot].snapshots += 1
            self.slots[slot].loaded = 1
            self.take_pending(slot)         # held updates predate this snapshot
            if self.slots[slot].sync != SYNC_LIVE:
                return 0
        self.slots[slot].fresh = 0
        self.mark_dirty(slot)
        return DECODED_BOOKS

    cdef uint32_t checksum(self, OrderBook book, int32_t slot) noexcept nogil:
        """CRC32 of the top 10 asks (ascending) then bids (descending), each level its price
        then its quantity at the pair's precision, without the point or leading zeros."""
        cdef int64_t[CHECKSUM_LEVELS] prices
        cdef int64_t[CHECKSUM_LEVELS] sizes
        cdef char[CHECKSUM_TEXT] text
        cdef size_t length = 0
        cdef Py_ssize_t count, i
        cdef int side
        cdef int64_t price_divisor = self.specs[slot].price_divisor
        cdef int64_t qty_divisor = self.specs[slot].qty_divisor
        for side in range(ASK, BID - 1, -1):
            count = book.copy_top(side, CHECKSUM_LEVELS, prices, sizes)
            for i in range(count):
                length += write_digits(<uint64_t>(prices[i] // price_divisor), text + length)
                length += write_digits(<uint64_t>(sizes[i] // qty_divisor), text + length)
        return crc32_text(0, text, length)

    cdef int decode_trade(self, od_object& item, int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, price, qty
        cdef int32_t slot = -1
        cdef int64_t trade_id = 0, ts_exchange = 0, price_value, qty_value
        cdef int side = 0
        if item.begin().get(it) != SUCCESS or item.end().get(end) != SUCCESS:
            return self.fail("malformed trade")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed trade field")
            key = f.escaped_key()
            if key_is(key, "symbol", 6):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("trade symbol is not a string")
                slot = self.find_slot(text.data(), text.size())
                if slot < 0:
                    self.unknown += 1
                    return 0
            elif key_is(key, "price", 5):
                price = f.val().raw_json_token()
            elif key_is(key, "qty", 3):
                qty = f.val().raw_json_token()
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("trade side is not a string")
                side = 1 if key_is(text, "buy", 3) else -1 if key_is(text, "sell", 4) else 0
            elif key_is(key, "trade_id", 8):
                if read_int(f.val(), &trade_id) != DECIMAL_OK:
                    return self.fail("malformed trade_id")
            elif key_is(key, "timestamp", 9):
                if read_timestamp(f.val(), &ts_exchange) != 0:
                    return self.fail("malformed trade timestamp")
            inc(it)
        if slot < 0:
            return self.fail("trade without symbol")
        if price.size() == 0 or qty.size() == 0 or \
                parse_token(price, self.slots[slot].price_scale, &price_value) != DECIMAL_OK or \
                parse_token(qty, self.slots[slot].size_scale, &qty_value) != DECIMAL_OK:
            return self.fail("malformed trade price or qty")
        trade_append(&self.trades.c, self.slots[slot].instrument, ts_exchange, ts_receive,
                     price_value, qty_value, side, trade_id)
        return DECODED_TRADES

    cdef int decode_ticker(self, od_object& item, int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, bid, bid_qty, ask, ask_qty, last
        cdef int32_t slot = -1
        cdef int64_t ts_exchange = 0
        cdef int64_t bid_value, bid_qty_value, ask_value, ask_qty_value, last_value
        cdef int price_scale, size_scale
        if item.begin().get(it) != SUCCESS or item.end().get(end) != SUCCESS:
            return self.fail("malformed ticker")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed ticker field")
            key = f.escaped_key()
            if key_is(key, "symbol", 6):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("ticker symbol is not a string")
                slot = self.find_slot(text.data(), text.size())
                if slot < 0:
                    self.unknown += 1
                    return 0
            elif key_is(key, "bid", 3):
                bid = f.val().raw_json_token()
            elif key_is(key, "bid_qty", 7):
                bid_qty = f.val().raw_json_token()
            elif key_is(key, "ask", 3):
                ask = f.val().raw_json_token()
            elif key_is(key, "ask_qty", 7):
                ask_qty = f.val().raw_json_token()
            elif key_is(key, "last", 4):
                last = f.val().raw_json_token()
            elif key_is(key, "timestamp", 9):
                if read_timestamp(f.val(), &ts_exchange) != 0:
                    return self.fail("malformed ticker timestamp")
            inc(it)
        if slot < 0:
            return self.fail("ticker without symbol")
        price_scale = self.slots[slot].price_scale
        size_scale = self.slots[slot].size_scale
        if bid.size() == 0 or ask.size() == 0 or \
                parse_token(bid, price_scale, &bid_value) != DECIMAL_OK or \
                parse_token(bid_qty, size_scale, &bid_qty_value) != DECIMAL_OK or \
                parse_token(ask, price_scale, &ask_value) != DECIMAL_OK or \
                parse_token(ask_qty, size_scale, &ask_qty_value) != DECIMAL_OK or \
                parse_token(last, price_scale, &last_value) != DECIMAL_OK:
            return self.fail("malformed ticker prices")
        ticker_append(&self.tickers.c, self.slots[slot].instrument, ts_exchange, ts_receive,
                      bid_value, bid_qty_value, ask_value, ask_qty_value, last_value)
        return DECODED_TICKERS

    cdef int decode_candle(self, od_object& item, int64_t ts_message,
                           int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, open_, high, low, close, volume
        cdef int32_t slot = -1
        cdef int64_t open_time = -1, minutes = 0
        cdef int index
        cdef int price_scale, size_scale
        cdef CandleState candle
        cdef CandleState* current
        if item.begin().get(it) != SUCCESS or item.end().get(end) != SUCCESS:
            return self.fail("malformed candle")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed candle field")
            key = f.escaped_key()
            if key_is(key, "symbol", 6):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("candle symbol is not a string")
                slot = self.find_slot(text.data(), text.size())
                if slot < 0:
                    self.unknown += 1
                    return 0
            elif key_is(key, "open", 4):
                open_ = f.val().raw_json_token()
            elif key_is(key, "high", 4):
                high = f.val().raw_json_token()
            elif key_is(key, "low", 3):
                low = f.val().raw_json_token()
            elif key_is(key, "close", 5):
                close = f.val().raw_json_token()
            elif key_is(key, "volume", 6):
                volume = f.val().raw_json_token()
            elif key_is(key, "interval_begin", 14):
                if read_timestamp(f.val(), &open_time) != 0:
                    return self.fail("malformed interval_begin")
            elif key_is(key, "interval", 8):
                if read_int(f.val(), &minutes) != DECIMAL_OK:
                    return self.fail("malformed candle interval")
            inc(it)
        if slot < 0:
            return self.fail("candle without symbol")
        index = interval_index(minutes)
        if index < 0 or open_time < 0:
            return self.fail("candle without a known interval or interval_begin")
        price_scale = self.slots[slot].price_scale
        size_scale = self.slots[slot].size_scale
        candle.open_time = open_time
        if open_.size() == 0 or close.size() == 0 or \
                parse_token(open_, price_scale, &candle.open) != DECIMAL_OK or \
                parse_token(high, price_scale, &candle.high) != DECIMAL_OK or \
                parse_token(low, price_scale, &candle.low) != DECIMAL_OK or \
                parse_token(close, price_scale, &candle.close) != DECIMAL_OK or \
                parse_token(volume, size_scale, &candle.volume) != DECIMAL_OK:
            return self.fail("malformed candle prices")
        current = &self.open_candles[slot * INTERVAL_COUNT + index]
        if current.open_time != 0 and current.open_time < open_time:
            candle_append(&self.candles.c, self.slots[slot].instrument, ts_message,
                          ts_receive, current.open_time, INTERVAL_MINUTES[index] * 60,
                          current.open, current.high, current.low, current.close,
                          current.volume, 1)
        if open_time >= current.open_time:
            current[0] = candle
        candle_append(&self.candles.c, self.slots[slot].instrument, ts_message,
                      ts_receive, open_time, INTERVAL_MINUTES[index] * 60, candle.open,
                      candle.high, candle.low, candle.close, candle.volume,
                      1 if open_time < current.open_time else 0)
        return DECODED_CANDLES
