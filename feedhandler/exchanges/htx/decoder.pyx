# distutils: language = c++
"""HTX (Huobi) spot market data: mbp incremental books and their ``req`` snapshots,
trade.detail, bbo, kline, server pings, subscription acks and errors (see docs/venues/htx.md).

Messages arrive gzip'd in BINARY frames; the listener inflates them, so this sees plain JSON.
Numbers are JSON numbers, read from their raw token text into exact fixed point. The book rule,
enforced here in C: updates are held while the book waits for its snapshot; after it, updates
with ``seqNum <=`` the book's are stale, the first applied needs ``prevSeqNum <=`` the snapshot's
``seqNum`` (it chains to it or contains it), each later one ``prevSeqNum ==`` the previous
``seqNum``; anything else withdraws the book until it is resynced.

HTX klines carry no closed flag: a candle is reported closed (once, with its last values) when
the first tick of a later candle of the same series arrives.

An ``mbp.N`` push whose N is not the book's depth, or a ``bbo`` tick whose ``symbol`` is not
the ``ch``'s, is counted (``misrouted``) and not applied (another stream: the book's own
sequence is unaffected).
"""

from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memset
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
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.jsonread cimport (
    LEVELS_MALFORMED,
    LEVELS_OK,
    LEVELS_REJECTED,
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
    TOPIC_MBP = 1
    TOPIC_TRADE = 2
    TOPIC_BBO = 3
    TOPIC_KLINE = 4

# kline periods in the order of PERIOD_SECONDS; 1mon and 1year count 30 and 365 days
cdef int[PERIOD_COUNT] PERIOD_SECONDS = [60, 300, 900, 1800, 3600, 14400, 86400, 604800,
                                         2592000, 31536000]

cdef int64_t MS = 1000000
cdef int64_t SECOND_NS = 1000000000


cdef inline int period_index(string_view name) noexcept nogil:
    if key_is(name, "1min", 4):
        return 0
    if key_is(name, "5min", 4):
        return 1
    if key_is(name, "15min", 5):
        return 2
    if key_is(name, "30min", 5):
        return 3
    if key_is(name, "60min", 5):
        return 4
    if key_is(name, "4hour", 5):
        return 5
    if key_is(name, "1day", 4):
        return 6
    if key_is(name, "1week", 5):
        return 7
    if key_is(name, "1mon", 4):
        return 8
    if key_is(name, "1year", 5):
        return 9
    return -1


cdef inline bint starts_with(string_view text, const char* prefix, size_t n) noexcept nogil:
    return text.size() >= n and memcmp(text.data(), prefix, n) == 0


cdef inline int apply_side(od_object& tick, const char* name, size_t n, OrderBook book, int side,
                           int price_scale, int size_scale) noexcept nogil:
    """Applies the ``bids`` or ``asks`` of a tick; a side left out has not changed."""
    cdef value v
    cdef error_code found = tick.find_field_unordered(string_view(name, n)).get(v)
    if found == NO_SUCH_FIELD:
        return LEVELS_OK
    if found != SUCCESS:
        return LEVELS_MALFORMED
    return apply_pair_levels(v, book, side, price_scale, size_scale)


cdef class HtxDecoder(Decoder):
    """Decodes HTX spot WebSocket market data (``/ws`` and ``/feed``) into the rings and books."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    def __dealloc__(self):
        free(self.states)

    # ---- per-slot state (Python) -------------------------------------------------------------

    def add_instrument(self, key, int instrument, int price_scale, int size_scale,
                       OrderBook book=None) -> int:
        cdef int32_t slot = Decoder.add_instrument(self, key, instrument, price_scale,
                                                   size_scale)
        self._reserve(slot + 1)
        memset(&self.states[slot], 0, sizeof(SlotState))
        if book is not None:
            self.set_book(slot, book)
        return slot

    def _reserve(self, int32_t count):
        cdef int32_t capacity = max(8, self.state_capacity)
        cdef SlotState* states
        if count <= self.state_capacity:
            return
        while capacity < count:
            capacity *= 2
        states = <SlotState*>realloc(self.states, capacity * sizeof(SlotState))
        if states == NULL:
            raise MemoryError()
        self.states = states
        self.state_capacity = capacity

    # ---- decoding ----------------------------------------------------------------------------

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top
        cdef value v
        cdef string_view text
        cdef error_code found
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        found = top.find_field_unordered(string_view(b"ch", 2)).get(v)
        if found == NO_SUCH_FIELD:
            return self.decode_reply(top, buf, n)
        if found != SUCCESS or v.get_string().get(text) != SUCCESS:
            return self.fail("ch is not a string")
        return self.decode_data(top, text, buf, n, ts_receive)

    cdef int parse_topic(self, string_view name, Topic* out) noexcept nogil:
        """``market.$symbol.$kind[.$param]`` -> slot, kind and kline period; -1 if malformed."""
        cdef size_t start = 7, end
        cdef string_view rest
        out.slot = -1
        out.kind = TOPIC_UNKNOWN
        out.period = -1
        out.depth = -1
        if not starts_with(name, "market.", 7):
            return -1
        end = start
        while end < name.size() and name[end] != b'.':
            end += 1
        if end == start or end == name.size():
            return -1
        out.slot = self.find_slot(name.data() + start, end - start)
        rest = string_view(name.data() + end + 1, name.size() - end - 1)
        if starts_with(rest, "mbp.", 4):
            out.kind = TOPIC_MBP
            out.depth = count_of(rest.data() + 4, rest.size() - 4)
        elif key_is(rest, "trade.detail", 12):
            out.kind = TOPIC_TRADE
        elif key_is(rest, "bbo", 3):
            out.kind = TOPIC_BBO
        elif starts_with(rest, "kline.", 6):
            out.period = period_index(string_view(rest.data() + 6, rest.size() - 6))
            if out.period < 0:
                return -1
            out.kind = TOPIC_KLINE
        return 0

    cdef int decode_data(self, od_object& top, string_view channel, const char* buf, size_t n,
                         int64_t ts_receive) except -1:
        cdef Topic topic
        cdef value v
        cdef od_object tick
        cdef int64_t ts_ms = 0
        if self.parse_topic(channel, &topic) != 0:
            return self.fail("malformed ch")
        if topic.kind == TOPIC_UNKNOWN or topic.slot < 0:
            self.unknown += 1
            return 0
        if top.find_field_unordered(string_view(b"ts", 2)).get(v) != SUCCESS or \
                read_int(v, &ts_ms) != DECIMAL_OK:
            return self.fail("message without ts")
        if top.find_field_unordered(string_view(b"tick", 4)).get(v) != SUCCESS or \
                v.get_object().get(tick) != SUCCESS:
            return self.fail("message without a tick object")
        if topic.kind == TOPIC_MBP:
            if self.slots[topic.slot].has_book and self.book_at(topic.slot).depth_limit and \
                    topic.depth != self.book_at(topic.slot).depth_limit:
                return self.misroute(topic.slot, f"mbp depth {topic.depth} pushed for a depth "
                                     f"{self.book_at(topic.slot).depth_limit} book", False)
            return self.decode_mbp(topic.slot, tick, ts_ms, buf, n, ts_receive)
        if topic.kind == TOPIC_TRADE:
            return self.decode_trades(topic.slot, tick, ts_receive)
        if topic.kind == TOPIC_BBO:
            return self.decode_bbo(topic.slot, tick, ts_ms, ts_receive)
        return self.decode_kline(topic.slot, topic.period, tick, ts_ms, ts_receive)

    cdef int decode_reply(self, od_object& top, const char* buf, size_t n) except -1:
        """Pings, acks and errors go to Python; an mbp ``rep`` is a snapshot, loaded here."""
        cdef value v
        cdef od_object data
        cdef string_view text
        cdef Topic topic
        if top.find_field_unordered(string_view(b"ping", 4)).get(v) == SUCCESS:
            return self.queue_control(buf, n)
        if top.find_field_unordered(string_view(b"rep", 3)).get(v) == SUCCESS:
            if v.get_string().get(text) != SUCCESS or self.parse_topic(text, &topic) != 0:
                return self.fail("malformed rep")
            if topic.kind != TOPIC_MBP:
                return self.queue_control(buf, n)
            if topic.slot < 0 or not self.slots[topic.slot].has_book:
                self.unknown += 1
                return 0
            if top.find_field_unordered(string_view(b"data", 4)).get(v) != SUCCESS or \
                    v.get_object().get(data) != SUCCESS:
                return self.fail("mbp snapshot without a data object")
            return self.load_mbp_snapshot(topic.slot, data)
        if top.find_field_unordered(string_view(b"status", 6)).get(v) == SUCCESS:
            return self.queue_control(buf, n)
        self.unknown += 1
        return 0

    cdef int load_mbp_snapshot(self, int32_t slot, od_object& data) except -1:
        """Replaces a waiting book with the snapshot; a live book ignores a late one."""
        cdef value v
        cdef int64_t sequence = -1
        cdef int status
        cdef OrderBook book = self.book_at(slot)
        if self.slots[slot].sync == SYNC_LIVE:
            self.stale += 1
            return 0
        if data.find_field_unordered(string_view(b"seqNum", 6)).get(v) != SUCCESS or \
                read_int(v, &sequence) != DECIMAL_OK:
            return self.fail("mbp snapshot without seqNum")
        book.clear_levels()
        status = apply_side(data, b"bids", 4, book, BID, self.slots[slot].price_scale,
                            self.slots[slot].size_scale)
        if status == LEVELS_OK:
            status = apply_side(data, b"asks", 4, book, ASK, self.slots[slot].price_scale,
                                self.slots[slot].size_scale)
        if status != LEVELS_OK:
            book.clear_levels()
            return self.fail("mbp snapshot levels could not be applied")
        book.truncate_depth()
        book.sequence = sequence
        self.slots[slot].snapshots += 1
        self.mark_dirty(slot)
        return DECODED_BOOKS

    cdef int decode_mbp(self, int32_t slot, od_object& tick, int64_t ts_ms, const char* buf,
                        size_t n, int64_t ts_receive) except -1:
        cdef value v
        cdef int64_t sequence = -1, previous = -1, last
        cdef int status
        cdef OrderBook book
        if not self.slots[slot].has_book:
            return 0
        if self.slots[slot].sync != SYNC_LIVE:
            return self.hold(slot, buf, n)
        if tick.find_field_unordered(string_view(b"seqNum", 6)).get(v) != SUCCESS or \
                read_int(v, &sequence) != DECIMAL_OK or \
                tick.find_field_unordered(string_view(b"prevSeqNum", 10)).get(v) != SUCCESS or \
                read_int(v, &previous) != DECIMAL_OK:
            self.fail("mbp update without seqNum or prevSeqNum")
            return DECODED_ERROR | self.lose_sync(slot, "mbp update without sequence", False)
        book = self.book_at(slot)
        last = book.sequence
        if sequence <= last:
            self.stale += 1
            return 0
        if self.slots[slot].fresh:
            if previous > last:
                return self.lose_sync(
                    slot, f"first prevSeqNum {previous} is past the snapshot's {last}", False)
        elif previous != last:
            return self.lose_sync(slot, f"prevSeqNum {previous} != previous seqNum {last}",
                                  False)
        status = apply_side(tick, b"bids", 4, book, BID, self.slots[slot].price_scale,
                            self.slots[slot].size_scale)
        if status == LEVELS_OK:
            status = apply_side(tick, b"asks", 4, book, ASK, self.slots[slot].price_scale,
                                self.slots[slot].size_scale)
        if status != LEVELS_OK:
            self.fail("malformed mbp levels" if status == LEVELS_MALFORMED
                      else "book rejected a level")
            return DECODED_ERROR | self.lose_sync(slot, "mbp update could not be applied", False)
        book.truncate_depth()
        book.sequence = sequence
        book.ts_exchange = ts_ms * MS
        book.ts_receive = ts_receive
        self.slots[slot].fresh = 0
        if book.crossed():
            return self.lose_sync(slot, "crossed book after update", False)
        self.mark_dirty(slot)
        return DECODED_BOOKS

    cdef int decode_trades(self, int32_t slot, od_object& tick, int64_t ts_receive) except -1:
        cdef value v, item_value
        cdef array data
        cdef array_iterator it, end
        cdef od_object item
        cdef object_iterator fit, fend
        cdef field f
        cdef string_view key, text
        cdef int64_t trade_id, ts_ms, price, amount
        cdef int side, seen, status
        cdef int flags = 0
        if tick.find_field_unordered(string_view(b"data", 4)).get(v) != SUCCESS or \
                v.get_array().get(data) != SUCCESS or data.begin().get(it) != SUCCESS or \
                data.end().get(end) != SUCCESS:
            return self.fail("trade tick without a data array")
        while it != end:
            if deref(it).get(item_value) != SUCCESS or \
                    item_value.get_object().get(item) != SUCCESS or \
                    item.begin().get(fit) != SUCCESS or item.end().get(fend) != SUCCESS:
                return flags | self.fail("trade is not an object")
            trade_id = ts_ms = price = amount = 0
            side = seen = 0
            while fit != fend:
                if deref(fit).get(f) != SUCCESS:
                    return flags | self.fail("malformed trade field")
                key = f.escaped_key()
                status = DECIMAL_OK
                if key_is(key, "price", 5):
                    status = read_decimal(f.val(), self.slots[slot].price_scale, &price)
                    seen |= 1
                elif key_is(key, "amount", 6):
                    status = read_decimal(f.val(), self.slots[slot].size_scale, &amount)
                    seen |= 2
                elif key_is(key, "tradeId", 7):
                    status = read_int(f.val(), &trade_id)
                elif key_is(key, "ts", 2):
                    status = read_int(f.val(), &ts_ms)
                elif key_is(key, "direction", 9):
                    if f.val().get_string().get(text) != SUCCESS:
                        return flags | self.fail("trade direction is not a string")
                    side = 1 if key_is(text, "buy", 3) else -1 if key_is(text, "sell", 4) else 0
                if status != DECIMAL_OK:
                    return flags | self.fail("malformed number in a trade")
                inc(fit)
            if seen != 3:
                return flags | self.fail("trade without price or amount")
            trade_append(&self.trades.c, self.slots[slot].instrument, ts_ms * MS, ts_receive,
                         price, amount, side, trade_id)
            flags |= DECODED_TRADES
            inc(it)
        return flags

    cdef int decode_bbo(self, int32_t slot, od_object& tick, int64_t ts_ms,
                        int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef int64_t bid = 0, bid_size = 0, ask = 0, ask_size = 0, quote_ms = ts_ms
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        cdef int status, seen = 0
        if tick.begin().get(it) != SUCCESS or tick.end().get(end) != SUCCESS:
            return self.fail("malformed bbo tick")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed bbo field")
            key = f.escaped_key()
            status = DECIMAL_OK
            if key_is(key, "bid", 3):
                status = read_decimal(f.val(), price_scale, &bid)
                seen |= 1
            elif key_is(key, "ask", 3):
                status = read_decimal(f.val(), price_scale, &ask)
                seen |= 2
            elif key_is(key, "bidSize", 7):
                status = read_decimal(f.val(), size_scale, &bid_size)
            elif key_is(key, "askSize", 7):
                status = read_decimal(f.val(), size_scale, &ask_size)
            elif key_is(key, "quoteTime", 9):
                status = read_int(f.val(), &quote_ms)
            elif key_is(key, "symbol", 6):
                if f.val().get_string().get(text) != SUCCESS or \
                        not self.is_key_of(slot, text.data(), text.size()):
                    return self.misroute(slot, "bbo symbol is not the ch's", False)
            if status != DECIMAL_OK:
                return self.fail("malformed number in bbo")
            inc(it)
        if seen != 3:
            return self.fail("bbo without bid or ask")
        ticker_append(&self.tickers.c, self.slots[slot].instrument, quote_ms * MS, ts_receive,
                      bid, bid_size, ask, ask_size, 0)
        return DECODED_TICKERS

    cdef int decode_kline(self, int32_t slot, int period, od_object& tick, int64_t ts_ms,
                          int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key
        cdef CandleState candle
        cdef CandleState* current = &self.states[slot].candles[period]
        cdef int64_t open_seconds = -1
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        cdef int status, seen = 0
        cdef int32_t instrument = self.slots[slot].instrument
        memset(&candle, 0, sizeof(CandleState))
        if tick.begin().get(it) != SUCCESS or tick.end().get(end) != SUCCESS:
            return self.fail("malformed kline tick")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed kline field")
            key = f.escaped_key()
            status = DECIMAL_OK
            if key_is(key, "id", 2):
                status = read_int(f.val(), &open_seconds)
            elif key_is(key, "open", 4):
                status = read_decimal(f.val(), price_scale, &candle.open)
                seen |= 1
            elif key_is(key, "high", 4):
                status = read_decimal(f.val(), price_scale, &candle.high)
                seen |= 2
            elif key_is(key, "low", 3):
                status = read_decimal(f.val(), price_scale, &candle.low)
                seen |= 4
            elif key_is(key, "close", 5):
                status = read_decimal(f.val(), price_scale, &candle.close)
                seen |= 8
            elif key_is(key, "amount", 6):
                status = read_decimal(f.val(), size_scale, &candle.volume)
            if status != DECIMAL_OK:
                return self.fail("malformed number in kline")
            inc(it)
        if seen != 15 or open_seconds < 0:
            return self.fail("kline without id, open, high, low or close")
        candle.open_time = open_seconds * SECOND_NS
        if current.open_time != 0 and current.open_time < candle.open_time:
            candle_append(&self.candles.c, instrument, ts_ms * MS, ts_receive, current.open_time,
                          PERIOD_SECONDS[period], current.open, current.high, current.low,
                          current.close, current.volume, 1)
        if candle.open_time >= current.open_time:
            current[0] = candle
        candle_append(&self.candles.c, instrument, ts_ms * MS, ts_receive, candle.open_time,
                      PERIOD_SECONDS[period], candle.open, candle.high, candle.low,
                      candle.close, candle.volume, 1 if candle.open_time < current.open_time
                      else 0)
        return DECODED_CANDLES
