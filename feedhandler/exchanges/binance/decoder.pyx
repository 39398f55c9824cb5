# distutils: language = c++
"""Binance spot and USD-M futures market data: depthUpdate, trade, aggTrade, bookTicker,
kline, 24hrTicker, subscription acks and errors, serverShutdown (queued as a control message,
raw or combined; see docs/venues/binance.md).

One pass over each message's fields writes straight into the rings and the book. Depth
sequence rules are enforced here in C: spot ``U == previous u + 1`` (the first update after a
snapshot needs ``U <= lastUpdateId + 1 <= u``), futures ``pu == previous u`` (the first needs
``U <= lastUpdateId <= u``); anything else withdraws the book and asks for a resync.

A combined-stream message whose ``data`` contradicts its ``stream`` name (the event type, or
the symbol ``s``, which routes it) is counted (``misrouted``) and never applied. No book is
withdrawn for it: the book ``s`` names did not get it, and if it was the update of the book
the stream names, that book's own sequence check withdraws it at its next update.
"""

from libc.stdint cimport int32_t, int64_t
from libc.string cimport memcmp, memset
from libcpp cimport bool as cbool
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.book cimport ASK, BID, OrderBook
from feedhandler.core.decoder cimport (
    DECODED_BOOKS,
    DECODED_CANDLES,
    DECODED_ERROR,
    DECODED_RESYNC,
    DECODED_TICKERS,
    DECODED_TRADES,
    SYNC_LIVE,
    SYNC_WAITING,
    Decoder,
)
from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.jsonread cimport (
    LEVELS_OK,
    LEVELS_REJECTED,
    apply_pair_levels,
    iterate_whole,
    key_is,
    read_decimal,
    read_int,
)
from feedhandler.core.ondemand cimport (
    SUCCESS,
    document,
    error_code,
    field,
    json_type,
    object_iterator,
    od_object,
    value,
)
from feedhandler.core.rings cimport candle_append, ticker_append, trade_append

from feedhandler.core.decoder import DecodeError

cdef enum EventKind:
    EVENT_UNKNOWN = 0
    EVENT_DEPTH = 1
    EVENT_TRADE = 2
    EVENT_AGG_TRADE = 3
    EVENT_BOOK_TICKER = 4
    EVENT_KLINE = 5
    EVENT_24H_TICKER = 6
    EVENT_SERVER_SHUTDOWN = 7

cdef enum Verdict:
    VERDICT_APPLY = 0
    VERDICT_SKIP = 1       # stale, held for a pending snapshot, or no book on this symbol
    VERDICT_RESYNC = 2

cdef int64_t MS = 1000000

cdef inline int event_kind(string_view name) noexcept nogil:
    if key_is(name, "depthUpdate", 11):
        return EVENT_DEPTH
    if key_is(name, "trade", 5):
        return EVENT_TRADE
    if key_is(name, "aggTrade", 8):
        return EVENT_AGG_TRADE
    if key_is(name, "bookTicker", 10):
        return EVENT_BOOK_TICKER
    if key_is(name, "kline", 5):
        return EVENT_KLINE
    if key_is(name, "24hrTicker", 10):
        return EVENT_24H_TICKER
    if key_is(name, "serverShutdown", 14):
        return EVENT_SERVER_SHUTDOWN
    return EVENT_UNKNOWN


cdef inline int stream_event_kind(string_view stream) noexcept nogil:
    """The event type a combined stream (``btcusdt@depth@100ms``) carries; EVENT_UNKNOWN for
    one this decoder does not check."""
    cdef size_t at = 0
    cdef string_view kind
    while at < stream.size() and stream[at] != b'@':
        at += 1
    if at >= stream.size():
        return EVENT_UNKNOWN
    kind = string_view(stream.data() + at + 1, stream.size() - at - 1)
    if kind.size() >= 5 and memcmp(kind.data(), b"depth", 5) == 0:
        return EVENT_DEPTH
    if kind.size() >= 6 and memcmp(kind.data(), b"kline_", 6) == 0:
        return EVENT_KLINE
    if key_is(kind, "ticker", 6):
        return EVENT_24H_TICKER
    return event_kind(kind)         # trade, aggTrade, bookTicker: the event's own name


cdef inline bint stream_symbol_is(string_view stream, string_view symbol) noexcept nogil:
    """Whether the combined stream is ``symbol``'s (lower-cased, before the ``@``)."""
    cdef size_t n = symbol.size()
    cdef size_t i
    cdef char c
    if stream.size() <= n or stream[n] != b'@':
        return False
    for i in range(n):
        c = symbol[i]
        if b'A' <= c <= b'Z':
            c = c + 32
        if stream[i] != c:
            return False
    return True


cdef inline int interval_seconds(string_view name) noexcept nogil:
    cdef int amount = 0
    cdef size_t i = 0
    cdef char unit
    while i < name.size() and 48 <= <int>name[i] <= 57:
        amount = amount * 10 + (<int>name[i] - 48)
        i += 1
    if i + 1 != name.size() or amount == 0:
        return 0
    unit = name[i]
    if unit == b's':
        return amount
    if unit == b'm':
        return amount * 60
    if unit == b'h':
        return amount * 3600
    if unit == b'd':
        return amount * 86400
    if unit == b'w':
        return amount * 604800
    if unit == b'M':
        return amount * 2592000
    return 0


cdef class BinanceDecoder(Decoder):
    """Decodes raw (``/ws``) and combined (``/stream``) Binance payloads."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    def __init__(self, *args, bint futures=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.futures = futures

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, data
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, stream
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        if n > 5 and memcmp(buf, b'{"e":', 5) == 0:
            return self.decode_event(top, string_view(), buf, n, ts_receive)
        if top.begin().get(it) != SUCCESS or top.end().get(end) != SUCCESS:
            return self.fail("malformed JSON object")
        if not (it != end):
            self.unknown += 1
            return 0
        if deref(it).get(f) != SUCCESS:
            return self.fail("malformed JSON object")
        key = f.escaped_key()
        if key_is(key, "stream", 6):
            if f.val().get_string().get(stream) != SUCCESS:
                return self.fail("stream is not a string")
            inc(it)
            while it != end:
                if deref(it).get(f) != SUCCESS:
                    return self.fail("malformed combined-stream message")
                if key_is(f.escaped_key(), "data", 4):
                    if f.val().get_object().get(data) != SUCCESS:
                        return self.fail("combined-stream data is not an object")
                    return self.decode_event(data, stream, buf, n, ts_receive)
                inc(it)
            return self.fail("combined-stream message without data")
        if key_is(key, "result", 6) or key_is(key, "id", 2) or key_is(key, "error", 5) \
                or key_is(key, "code", 4):
            return self.queue_control(buf, n)
        doc.rewind()
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("malformed JSON object")
        return self.decode_event(top, string_view(), buf, n, ts_receive)

    cdef int decode_event(self, od_object& event, string_view stream, const char* buf,
                          size_t n, int64_t ts_receive) except -1:
        cdef BinanceEvent ev
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef od_object kline
        cdef int status
        cdef int verdict
        cdef int flags = 0
        cdef int price_scale = 8, size_scale = 8
        cdef char name
        cdef cbool flag = False
        cdef json_type kind = json_type.null
        memset(&ev, 0, sizeof(BinanceEvent))
        ev.slot = -1
        ev.first_update = ev.last_update = ev.previous_update = -1
        if event.begin().get(it) != SUCCESS or event.end().get(end) != SUCCESS:
            return self.fail("malformed event")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed event field")
            key = f.escaped_key()
            status = DECIMAL_OK
            if key.size() == 2 and key[0] == b'p' and key[1] == b'u':
                status = read_int(f.val(), &ev.previous_update)
            elif key.size() == 1:
                name = key[0]
                if name == b'e':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("event type is not a string")
                    ev.kind = event_kind(text)
                    if ev.kind == EVENT_UNKNOWN:
                        self.unknown += 1
                        return 0
                    if ev.kind == EVENT_SERVER_SHUTDOWN:
                        return self.queue_control(buf, n)   # the adapter rotates
                    if stream.size() and stream_event_kind(stream) != ev.kind:
                        return self.misroute(-1, "event type is not the stream's", False)
                elif name == b's':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("symbol is not a string")
                    ev.slot = self.find_slot(text.data(), text.size())
                    if ev.slot < 0:
                        self.unknown += 1
                        return 0
                    if stream.size() and not stream_symbol_is(stream, text):
                        return self.misroute(ev.slot, "symbol s is not the stream's", False)
                    price_scale = self.slots[ev.slot].price_scale
                    size_scale = self.slots[ev.slot].size_scale
                elif name == b'E':
                    status = read_int(f.val(), &ev.event_time)
                elif name == b'T':
                    status = read_int(f.val(), &ev.trade_time)
                elif name == b'U':
                    status = read_int(f.val(), &ev.first_update)
                elif name == b'u':
                    status = read_int(f.val(), &ev.last_update)
                elif name == b't':
                    status = read_int(f.val(), &ev.trade_id)
                elif name == b'p':
                    status = read_decimal(f.val(), price_scale, &ev.price)
                elif name == b'q':
                    status = read_decimal(f.val(), size_scale, &ev.size)
                elif name == b'c':
                    status = read_decimal(f.val(), price_scale, &ev.last_price)
                elif name == b'B':
                    status = read_decimal(f.val(), size_scale, &ev.bid_size)
                elif name == b'A':
                    status = read_decimal(f.val(), size_scale, &ev.ask_size)
                elif name == b'm':
                    if f.val().get_bool().get(flag) != SUCCESS:
                        return self.fail("m is not a boolean")
                    ev.buyer_is_maker = flag
                elif name == b'k':
                    if f.val().get_object().get(kline) != SUCCESS:
                        return self.fail("k is not an object")
                    flags |= self.decode_kline(kline, &ev, ts_receive)
                    if flags & DECODED_ERROR:
                        return flags        # the rest of a malformed message is not used
                elif name == b'b' or name == b'a':
                    if f.val().type().get(kind) != SUCCESS:
                        return self.fail("malformed b/a field")
                    if kind == json_type.array:
                        if not ev.levels_seen:
                            if ev.kind != EVENT_DEPTH or ev.slot < 0 or ev.last_update < 0 \
                                    or (self.futures and ev.previous_update < 0):
                                return self.fail("depth levels before e, s, u or pu")
                            ev.levels_seen = True
                            verdict = self.depth_verdict(&ev, buf, n)
                            if verdict == VERDICT_SKIP:
                                return 0
                            if verdict == VERDICT_RESYNC:
                                return DECODED_RESYNC
                        status = apply_pair_levels(f.val(), self.book_at(ev.slot),
                                                   BID if name == b'b' else ASK,
                                                   price_scale, size_scale)
                        if status != LEVELS_OK:
                            self.fail("malformed depth levels" if status != LEVELS_REJECTED
                                      else "book rejected a level")
                            return DECODED_ERROR | self.lose_sync(
                                ev.slot, "depth update could not be applied", False)
                    elif name == b'a' and kind == json_type.number:
                        status = read_int(f.val(), &ev.trade_id)
                    elif name == b'b':
                        if ev.kind == EVENT_UNKNOWN:
                            ev.kind = EVENT_BOOK_TICKER
                        status = read_decimal(f.val(), price_scale, &ev.bid_price)
                    else:
                        status = read_decimal(f.val(), price_scale, &ev.ask_price)
            if status != DECIMAL_OK:
                return self.fail(f"malformed number in field {key.data()[:key.size()].decode()!r}")
            inc(it)
        if ev.slot < 0:
            if ev.kind == EVENT_UNKNOWN:
                self.unknown += 1
                return 0
            return self.fail("event without symbol")
        if ev.kind == EVENT_DEPTH:
            if not ev.levels_seen:
                return self.fail("depthUpdate without levels")
            return self.finish_depth(&ev, ts_receive)
        if ev.kind == EVENT_TRADE or ev.kind == EVENT_AGG_TRADE:
            trade_append(&self.trades.c, self.slots[ev.slot].instrument,
                         (ev.trade_time or ev.event_time) * MS, ts_receive, ev.price, ev.size,
                         -1 if ev.buyer_is_maker else 1, ev.trade_id)
            return DECODED_TRADES
        if ev.kind == EVENT_BOOK_TICKER or ev.kind == EVENT_24H_TICKER:
            ticker_append(&self.tickers.c, self.slots[ev.slot].instrument,
                          (ev.event_time or ev.trade_time) * MS, ts_receive, ev.bid_price,
                          ev.bid_size, ev.ask_price, ev.ask_size, ev.last_price)
            return DECODED_TICKERS
        if ev.kind == EVENT_KLINE:
            return flags
        self.unknown += 1
        return 0

    cdef int depth_verdict(self, BinanceEvent* ev, const char* buf, size_t n) except -1:
        cdef int32_t slot = ev.slot
        cdef int64_t last
        if not self.slots[slot].has_book:
            return VERDICT_SKIP
        if self.slots[slot].sync != SYNC_LIVE:
            self.hold(slot, buf, n)
            return VERDICT_SKIP
        last = self.book_at(slot).sequence
        if self.futures:
            if ev.last_update < last:
                return VERDICT_SKIP
            if self.slots[slot].fresh:
                # straddles the snapshot, or starts right after it (the snapshot ended
                # exactly on an event boundary, so the event chains to it through pu)
                if not (ev.first_update <= last <= ev.last_update
                        or ev.previous_update == last):
                    self.lose_sync(slot, "first update does not straddle the snapshot", False)
                    return VERDICT_RESYNC
            elif ev.previous_update != last:
                self.lose_sync(slot, f"pu {ev.previous_update} != previous u {last}", False)
                return VERDICT_RESYNC
        else:
            if ev.last_update <= last:
                return VERDICT_SKIP
            if self.slots[slot].fresh:
                if not (ev.first_update <= last + 1 <= ev.last_update):
                    self.lose_sync(slot, "first update does not straddle the snapshot", False)
                    return VERDICT_RESYNC
            elif ev.first_update != last + 1:
                self.lose_sync(slot, f"U {ev.first_update} != previous u {last} + 1", False)
                return VERDICT_RESYNC
        return VERDICT_APPLY

    cdef int finish_depth(self, BinanceEvent* ev, int64_t ts_receive) except -1:
        cdef OrderBook book = self.book_at(ev.slot)
        book.truncate_depth()
        book.sequence = ev.last_update
        book.ts_exchange = ev.event_time * MS
        book.ts_receive = ts_receive
        self.slots[ev.slot].fresh = 0
        if book.crossed():
            return self.lose_sync(ev.slot, "crossed book after update", False)
        self.mark_dirty(ev.slot)
        return DECODED_BOOKS

    cdef int decode_kline(self, od_object& kline, BinanceEvent* ev,
                          int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef int64_t open_time = 0, open_ = 0, high = 0, low = 0, close = 0, volume = 0
        cdef int interval = 0
        cdef bint closed = False
        cdef cbool flag = False
        cdef int status
        cdef int32_t slot = ev.slot
        cdef char name
        if kline.begin().get(it) != SUCCESS or kline.end().get(end) != SUCCESS:
            return self.fail("malformed kline")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed kline field")
            key = f.escaped_key()
            status = DECIMAL_OK
            if key.size() == 1:
                name = key[0]
                if name == b's' and slot < 0:
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("kline symbol is not a string")
                    slot = self.find_slot(text.data(), text.size())
                    if slot < 0:
                        self.unknown += 1
                        return 0
                elif name == b't':
                    status = read_int(f.val(), &open_time)
                elif name == b'i':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("kline interval is not a string")
                    interval = interval_seconds(text)
                elif name == b'x':
                    if f.val().get_bool().get(flag) != SUCCESS:
                        return self.fail("kline x is not a boolean")
                    closed = flag
                elif slot >= 0 and name == b'o':
                    status = read_decimal(f.val(), self.slots[slot].price_scale, &open_)
                elif slot >= 0 and name == b'h':
                    status = read_decimal(f.val(), self.slots[slot].price_scale, &high)
                elif slot >= 0 and name == b'l':
                    status = read_decimal(f.val(), self.slots[slot].price_scale, &low)
                elif slot >= 0 and name == b'c':
                    status = read_decimal(f.val(), self.slots[slot].price_scale, &close)
                elif slot >= 0 and name == b'v':
                    status = read_decimal(f.val(), self.slots[slot].size_scale, &volume)
                elif name in b'ohlcv':
                    return self.fail("kline prices before its symbol")
            if status != DECIMAL_OK:
                return self.fail("malformed number in kline")
            inc(it)
        if slot < 0 or interval == 0:
            return self.fail("kline without symbol or with an unknown interval")
        candle_append(&self.candles.c, self.slots[slot].instrument, ev.event_time * MS,
                      ts_receive, open_time * MS, interval, open_, high, low, close, volume,
                      closed)
        return DECODED_CANDLES

    cdef int load_snapshot(self, int32_t slot, const char* buf, size_t n) except -1:
        """A REST depth body, ``{"lastUpdateId":..,"bids":..,"asks":..}``."""
        cdef document doc
        cdef od_object top
        cdef object_iterator it, end
        cdef field f
        cdef value v
        cdef string_view key
        cdef OrderBook book = self.book_at(slot)
        cdef int64_t last_update = -1
        cdef int status
        cdef bint bids_seen = False, asks_seen = False
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        if not iterate_whole(self.json, buf, n, doc) or \
                doc.get_object().get(top) != SUCCESS or top.begin().get(it) != SUCCESS or \
                top.end().get(end) != SUCCESS:
            raise DecodeError("depth snapshot is not a JSON object")
        book.clear_levels()
        while it != end:
            if deref(it).get(f) != SUCCESS:
                raise DecodeError("malformed depth snapshot")
            key = f.escaped_key()
            v = f.val()
            if key_is(key, "lastUpdateId", 12):
                if read_int(v, &last_update) != DECIMAL_OK:
                    raise DecodeError("malformed lastUpdateId")
            elif key_is(key, "bids", 4) or key_is(key, "asks", 4):
                status = apply_pair_levels(v, book, BID if key[0] == b'b' else ASK,
                                           price_scale, size_scale)
                if status != LEVELS_OK:
                    book.clear_levels()
                    raise DecodeError("depth snapshot levels could not be applied")
                if key[0] == b'b':
                    bids_seen = True
                else:
                    asks_seen = True
            inc(it)
        if last_update < 0 or not bids_seen or not asks_seen:
            book.clear_levels()
            raise DecodeError("depth snapshot without lastUpdateId, bids or asks")
        book.truncate_depth()
        book.sequence = last_update
        self.mark_dirty(slot)
        return 0
