# distutils: language = c++
"""Gate.io spot WebSocket v4 market data: spot.order_book_update, spot.trades,
spot.book_ticker, spot.tickers, spot.candlesticks, subscribe/unsubscribe replies, errors and
spot.pong (see docs/venues/gateio.md).

Every message is ``{"time", "time_ms", "channel", "event", "result"}``; only ``"update"``
events carry market data, anything else with a ``result`` or a non-null ``error`` is queued
for the adapter. Numbers are decimal strings read from their raw token into exact fixed
point. Inside a ``result``, fields that precede the symbol are kept as raw tokens and parsed
once the symbol (and so the slot's scales) is known, so no order is assumed there except for
depth levels, which Gate sends after ``s``, ``U`` and ``u``; in the envelope ``channel`` and
``event`` precede ``result``, as Gate sends them.

Depth follows Gate's "how to maintain local order book", enforced here in C: after the REST
snapshot with ``id``, updates with ``u < id + 1`` are dropped, the first applied one needs
``U <= id + 1 <= u`` and every later one ``U == previous u + 1``; anything else withdraws the
book and asks for a resync. A message flagged ``"full": true`` replaces the book outright.

``spot.obu`` (order book v2, symbol ``ob.<pair>.<levels>``) needs no REST call: its first
push is ``"full": true``, which is loaded even while the book waits (and counted, so the
adapter's ``sync_book`` sees it and makes the book live), and every later push must have
``U == previous u + 1``. A ``spot.obu`` push whose ``<levels>`` is not the depth of the book
(one with a depth limit) belongs to another subscription: counted (``misrouted``), not
applied, the book's own stream unaffected.
"""

from libc.stdint cimport int32_t, int64_t
from libc.string cimport memchr, memcmp
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
    Decoder,
)
from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.jsonread cimport (
    LEVELS_OK,
    LEVELS_REJECTED,
    apply_pair_levels,
    count_of,
    iterate_whole,
    key_is,
    read_decimal,
    read_int,
    token_decimal,
)
from feedhandler.core.ondemand cimport (
    SUCCESS,
    document,
    field,
    json_type,
    object_iterator,
    od_object,
)
from feedhandler.core.rings cimport candle_append, ticker_append, trade_append

from feedhandler.core.decoder import DecodeError

cdef enum ChannelKind:
    CHANNEL_UNKNOWN = 0
    CHANNEL_DEPTH = 1
    CHANNEL_TRADES = 2
    CHANNEL_BOOK_TICKER = 3
    CHANNEL_TICKERS = 4
    CHANNEL_CANDLES = 5
    CHANNEL_PONG = 6
    CHANNEL_OBU = 7

cdef enum Verdict:
    VERDICT_APPLY = 0
    VERDICT_SKIP = 1       # stale, held for a pending snapshot, or no book on this symbol
    VERDICT_RESYNC = 2

cdef int64_t MS = 1000000
cdef int64_t SECOND = 1000000000
cdef int NS_PER_MS_DIGITS = 6      # "1606292218213.4578" ms read at scale 6 is ns


cdef inline int channel_kind(string_view name) noexcept nogil:
    if key_is(name, "spot.order_book_update", 22):
        return CHANNEL_DEPTH
    if key_is(name, "spot.trades", 11):
        return CHANNEL_TRADES
    if key_is(name, "spot.book_ticker", 16):
        return CHANNEL_BOOK_TICKER
    if key_is(name, "spot.tickers", 12):
        return CHANNEL_TICKERS
    if key_is(name, "spot.candlesticks", 17):
        return CHANNEL_CANDLES
    if key_is(name, "spot.pong", 9):
        return CHANNEL_PONG
    if key_is(name, "spot.obu", 8):
        return CHANNEL_OBU
    return CHANNEL_UNKNOWN


cdef inline int interval_seconds(const char* p, size_t n) noexcept nogil:
    """``10s``, ``1m`` .. ``30d`` -> seconds; 0 when not an interval."""
    cdef int amount = 0
    cdef size_t i = 0
    while i < n and 48 <= <int>p[i] <= 57:
        amount = amount * 10 + (<int>p[i] - 48)
        i += 1
    if i + 1 != n or amount == 0:
        return 0
    if p[i] == b's':
        return amount
    if p[i] == b'm':
        return amount * 60
    if p[i] == b'h':
        return amount * 3600
    if p[i] == b'd':
        return amount * 86400
    return 0


cdef inline size_t obu_pair(string_view name, const char** pair) noexcept nogil:
    """``ob.BTC_USDT.50`` -> ``BTC_USDT`` (its length; 0 when not that form)."""
    cdef size_t end = name.size()
    if end < 5 or memcmp(name.data(), b"ob.", 3) != 0:
        return 0
    while end > 3 and name[end - 1] != b'.':
        end -= 1
    if end <= 4:
        return 0
    pair[0] = name.data() + 3
    return end - 4


cdef class GateioDecoder(Decoder):
    """Decodes Gate.io spot v4 public channels into the rings and books."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, result
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef json_type kind = json_type.null
        cdef int channel = CHANNEL_UNKNOWN
        cdef bint channel_seen = False, event_seen = False, update = False
        cdef int64_t time_ms = 0
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        if top.begin().get(it) != SUCCESS or top.end().get(end) != SUCCESS:
            return self.fail("malformed JSON object")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed message field")
            key = f.escaped_key()
            if key_is(key, "time_ms", 7):
                if read_int(f.val(), &time_ms) != DECIMAL_OK:
                    return self.fail("malformed time_ms")
            elif key_is(key, "channel", 7):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("channel is not a string")
                channel = channel_kind(text)
                channel_seen = True
                if channel == CHANNEL_PONG:
                    return 0
            elif key_is(key, "event", 5):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("event is not a string")
                event_seen = True
                update = key_is(text, "update", 6)
            elif key_is(key, "error", 5):
                if f.val().type().get(kind) != SUCCESS:
                    return self.fail("malformed error field")
                if kind != json_type.null:
                    return self.queue_control(buf, n)
            elif key_is(key, "result", 6):
                if not channel_seen:
                    return self.fail("result before channel")
                # spot.obu pushes carry no event field
                if not (update or (channel == CHANNEL_OBU and not event_seen)):
                    return self.queue_control(buf, n)
                if channel == CHANNEL_UNKNOWN:
                    self.unknown += 1
                    return 0
                if f.val().get_object().get(result) != SUCCESS:
                    return self.fail("update result is not an object")
                if channel == CHANNEL_DEPTH or channel == CHANNEL_OBU:
                    return self.decode_depth(result, channel == CHANNEL_OBU, buf, n,
                                             ts_receive)
                if channel == CHANNEL_TRADES:
                    return self.decode_trade(result, time_ms * MS, ts_receive)
                if channel == CHANNEL_BOOK_TICKER:
                    return self.decode_book_ticker(result, time_ms * MS, ts_receive)
                if channel == CHANNEL_TICKERS:
                    return self.decode_ticker(result, time_ms * MS, ts_receive)
                return self.decode_candle(result, time_ms * MS, ts_receive)
            inc(it)
        self.unknown += 1
        return 0

    # ---- order book --------------------------------------------------------------------------

    cdef int decode_depth(self, od_object& result, bint obu, const char* buf, size_t n,
                          int64_t ts_receive) except -1:
        """spot.order_book_update, or with ``obu`` spot.obu (same fields, ``s`` is
        ``ob.<pair>.<levels>``)."""
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef const char* pair = NULL
        cdef size_t pair_length
        cdef int32_t slot = -1
        cdef int64_t first = -1, last = -1, t = 0
        cdef int status, verdict = VERDICT_APPLY
        cdef bint judged = False
        cdef cbool full = False
        cdef OrderBook book
        if result.begin().get(it) != SUCCESS or result.end().get(end) != SUCCESS:
            return self.fail("malformed depth update")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed depth update field")
            key = f.escaped_key()
            status = DECIMAL_OK
            if key.size() == 1 and (key[0] == b'b' or key[0] == b'a'):
                if not judged:
                    if slot < 0 or last < 0 or (first < 0 and not full):
                        return self.fail("depth levels before s, U or u")
                    judged = True
                    verdict = self.depth_verdict(slot, first, last, full, obu, buf, n)
                    if verdict == VERDICT_SKIP:
                        return 0
                    if verdict == VERDICT_RESYNC:
                        return DECODED_RESYNC
                    if full:
                        self.book_at(slot).clear_levels()
                status = apply_pair_levels(f.val(), self.book_at(slot),
                                           BID if key[0] == b'b' else ASK,
                                           self.slots[slot].price_scale,
                                           self.slots[slot].size_scale)
                if status != LEVELS_OK:
                    self.fail("malformed depth levels" if status != LEVELS_REJECTED
                              else "book rejected a level")
                    return DECODED_ERROR | self.lose_sync(
                        slot, "depth update could not be applied", False)
                status = DECIMAL_OK
            elif key_is(key, "s", 1):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("depth symbol is not a string")
                if obu:
                    pair_length = obu_pair(text, &pair)
                    if pair_length == 0:
                        return self.fail("spot.obu symbol is not ob.<pair>.<levels>")
                    slot = self.find_slot(pair, pair_length)
                else:
                    slot = self.find_slot(text.data(), text.size())
                if slot < 0:
                    self.unknown += 1
                    return 0
                if obu and self.slots[slot].has_book and self.book_at(slot).depth_limit and \
                        count_of(pair + pair_length + 1, text.size() - pair_length - 4) \
                        != self.book_at(slot).depth_limit:
                    return self.misroute(slot, "spot.obu levels are not the book's depth",
                                         False)
            elif key_is(key, "U", 1):
                status = read_int(f.val(), &first)
            elif key_is(key, "u", 1):
                status = read_int(f.val(), &last)
            elif key_is(key, "t", 1):
                status = read_int(f.val(), &t)
            elif key_is(key, "full", 4):
                if judged or f.val().get_bool().get(full) != SUCCESS:
                    return self.fail("full is not a boolean before the levels")
            if status != DECIMAL_OK:
                return self.fail(f"malformed number in depth field {key.data()[:key.size()]!r}")
            inc(it)
        if slot < 0 or last < 0 or (first < 0 and not full):
            return self.fail("depth update without s, U or u")
        if not judged:
            verdict = self.depth_verdict(slot, first, last, full, obu, buf, n)
            if verdict == VERDICT_SKIP:
                return 0
            if verdict == VERDICT_RESYNC:
                return DECODED_RESYNC
            if full:
                self.book_at(slot).clear_levels()
        book = self.book_at(slot)
        book.truncate_depth()
        book.sequence = last
        book.ts_exchange = t * MS
        book.ts_receive = ts_receive
        self.slots[slot].fresh = 0
        if book.crossed():
            return self.lose_sync(slot, "crossed book after update", False)
        if obu and full:
            self.slots[slot].snapshots += 1     # counted only once wholly loaded
        if self.slots[slot].sync != SYNC_LIVE:
            return 0        # a spot.obu full push loaded for sync_book, not served yet
        self.mark_dirty(slot)
        return DECODED_BOOKS

    cdef int depth_verdict(self, int32_t slot, int64_t first, int64_t last, bint full,
                           bint obu, const char* buf, size_t n) except -1:
        cdef int64_t base
        if not self.slots[slot].has_book:
            return VERDICT_SKIP
        if obu and full:
            return VERDICT_APPLY
        if self.slots[slot].sync != SYNC_LIVE:
            self.hold(slot, buf, n)
            return VERDICT_SKIP
        if full:
            return VERDICT_APPLY
        base = self.book_at(slot).sequence
        if last < base + 1:
            return VERDICT_SKIP
        if self.slots[slot].fresh and not obu:
            if not (first <= base + 1 <= last):
                self.lose_sync(slot, f"first update U {first}..u {last} does not cover "
                                     f"snapshot id {base} + 1", False)
                return VERDICT_RESYNC
        elif first != base + 1:
            self.lose_sync(slot, f"U {first} != previous u {base} + 1", False)
            return VERDICT_RESYNC
        return VERDICT_APPLY

    cdef int load_snapshot(self, int32_t slot, const char* buf, size_t n) except -1:
        """A REST ``/spot/order_book?with_id=true`` body (``{"id", "current", "update",
        "asks", "bids"}``)."""
        cdef document doc
        cdef od_object top
        cdef object_iterator it, end
        cdef field f
        cdef string_view key
        cdef OrderBook book = self.book_at(slot)
        cdef int64_t snapshot_id = -1, current = 0
        cdef int status
        cdef bint bids_seen = False, asks_seen = False
        if not iterate_whole(self.json, buf, n, doc) or \
                doc.get_object().get(top) != SUCCESS or top.begin().get(it) != SUCCESS or \
                top.end().get(end) != SUCCESS:
            raise DecodeError("order book snapshot is not a JSON object")
        book.clear_levels()
        while it != end:
            if deref(it).get(f) != SUCCESS:
                book.clear_levels()
                raise DecodeError("malformed order book snapshot")
            key = f.escaped_key()
            if key_is(key, "id", 2):
                if read_int(f.val(), &snapshot_id) != DECIMAL_OK:
                    book.clear_levels()
                    raise DecodeError("malformed order book id")
            elif key_is(key, "current", 7):
                if read_int(f.val(), &current) != DECIMAL_OK:
                    book.clear_levels()
                    raise DecodeError("malformed order book time")
            elif key_is(key, "bids", 4) or key_is(key, "asks", 4):
                status = apply_pair_levels(f.val(), book, BID if key[0] == b'b' else ASK,
                                           self.slots[slot].price_scale,
                                           self.slots[slot].size_scale)
                if status != LEVELS_OK:
                    book.clear_levels()
                    raise DecodeError("order book snapshot levels could not be applied")
                if key[0] == b'b':
                    bids_seen = True
                else:
                    asks_seen = True
            inc(it)
        if snapshot_id < 0 or not bids_seen or not asks_seen:
            book.clear_levels()
            raise DecodeError("order book snapshot without id, bids or asks "
                              "(was it requested with_id=true?)")
        book.truncate_depth()
        book.sequence = snapshot_id
        book.ts_exchange = current * MS
        self.mark_dirty(slot)
        return 0

    # ---- trades, tickers, candles ----------------------------------------------------------

    cdef int decode_trade(self, od_object& result, int64_t ts_message,
                          int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, price_token, amount_token, time_token
        cdef int32_t slot = -1
        cdef int64_t trade_id = 0, price = 0, amount = 0, ts_exchange = ts_message
        cdef int side = 0
        if result.begin().get(it) != SUCCESS or result.end().get(end) != SUCCESS:
            return self.fail("malformed trade")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed trade field")
            key = f.escaped_key()
            if key_is(key, "id", 2):
                if read_int(f.val(), &trade_id) != DECIMAL_OK:
                    return self.fail("malformed trade id")
            elif key_is(key, "create_time_ms", 14):
                time_token = f.val().raw_json_token()
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("trade side is not a string")
                side = 1 if key_is(text, "buy", 3) else -1 if key_is(text, "sell", 4) else 0
            elif key_is(key, "currency_pair", 13):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("trade currency_pair is not a string")
                slot = self.find_slot(text.data(), text.size())
                if slot < 0:
                    self.unknown += 1
                    return 0
            elif key_is(key, "amount", 6):
                amount_token = f.val().raw_json_token()
            elif key_is(key, "price", 5):
                price_token = f.val().raw_json_token()
            inc(it)
        if slot < 0:
            return self.fail("trade without currency_pair")
        if token_decimal(price_token, self.slots[slot].price_scale, &price) != DECIMAL_OK or \
                token_decimal(amount_token, self.slots[slot].size_scale, &amount) != DECIMAL_OK:
            return self.fail("trade without a valid price or amount")
        if time_token.size() and \
                token_decimal(time_token, NS_PER_MS_DIGITS, &ts_exchange) != DECIMAL_OK:
            return self.fail("malformed create_time_ms")
        trade_append(&self.trades.c, self.slots[slot].instrument, ts_exchange, ts_receive,
                     price, amount, side, trade_id)
        return DECODED_TRADES

    cdef int decode_book_ticker(self, od_object& result, int64_t ts_message,
                                int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, bid_token, bid_size_token, ask_token, ask_size_token
        cdef int32_t slot = -1
        cdef int64_t t = 0, bid = 0, bid_size = 0, ask = 0, ask_size = 0
        cdef int price_scale, size_scale
        if result.begin().get(it) != SUCCESS or result.end().get(end) != SUCCESS:
            return self.fail("malformed book_ticker")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed book_ticker field")
            key = f.escaped_key()
            if key.size() == 1:
                if key[0] == b's':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("book_ticker symbol is not a string")
                    slot = self.find_slot(text.data(), text.size())
                    if slot < 0:
                        self.unknown += 1
                        return 0
                elif key[0] == b't':
                    if read_int(f.val(), &t) != DECIMAL_OK:
                        return self.fail("malformed book_ticker time")
                elif key[0] == b'b':
                    bid_token = f.val().raw_json_token()
                elif key[0] == b'B':
                    bid_size_token = f.val().raw_json_token()
                elif key[0] == b'a':
                    ask_token = f.val().raw_json_token()
                elif key[0] == b'A':
                    ask_size_token = f.val().raw_json_token()
            inc(it)
        if slot < 0:
            return self.fail("book_ticker without symbol")
        price_scale = self.slots[slot].price_scale
        size_scale = self.slots[slot].size_scale
        if token_decimal(bid_token, price_scale, &bid) != DECIMAL_OK or \
                token_decimal(bid_size_token, size_scale, &bid_size) != DECIMAL_OK or \
                token_decimal(ask_token, price_scale, &ask) != DECIMAL_OK or \
                token_decimal(ask_size_token, size_scale, &ask_size) != DECIMAL_OK:
            return self.fail("book_ticker without a valid b, B, a or A")
        ticker_append(&self.tickers.c, self.slots[slot].instrument,
                      t * MS if t else ts_message, ts_receive, bid, bid_size, ask, ask_size, 0)
        return DECODED_TICKERS

    cdef int decode_ticker(self, od_object& result, int64_t ts_message,
                           int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, last_token, bid_token, ask_token
        cdef int32_t slot = -1
        cdef int64_t last = 0, bid = 0, ask = 0
        cdef int price_scale
        if result.begin().get(it) != SUCCESS or result.end().get(end) != SUCCESS:
            return self.fail("malformed ticker")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed ticker field")
            key = f.escaped_key()
            if key_is(key, "currency_pair", 13):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("ticker currency_pair is not a string")
                slot = self.find_slot(text.data(), text.size())
                if slot < 0:
                    self.unknown += 1
                    return 0
            elif key_is(key, "last", 4):
                last_token = f.val().raw_json_token()
            elif key_is(key, "highest_bid", 11):
                bid_token = f.val().raw_json_token()
            elif key_is(key, "lowest_ask", 10):
                ask_token = f.val().raw_json_token()
            inc(it)
        if slot < 0:
            return self.fail("ticker without currency_pair")
        price_scale = self.slots[slot].price_scale
        if token_decimal(last_token, price_scale, &last) != DECIMAL_OK or \
                token_decimal(bid_token, price_scale, &bid) != DECIMAL_OK or \
                token_decimal(ask_token, price_scale, &ask) != DECIMAL_OK:
            return self.fail("ticker without a valid last, highest_bid or lowest_ask")
        ticker_append(&self.tickers.c, self.slots[slot].instrument, ts_message, ts_receive,
                      bid, 0, ask, 0, last)
        return DECODED_TICKERS

    cdef int decode_candle(self, od_object& result, int64_t ts_message,
                           int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, name
        cdef string_view open_token, high_token, low_token, close_token, amount_token
        cdef const char* underscore
        cdef int32_t slot = -1
        cdef int64_t open_time = -1, open_ = 0, high = 0, low = 0, close = 0, amount = 0
        cdef int interval = 0, price_scale
        cdef size_t prefix
        cdef cbool closed = False
        if result.begin().get(it) != SUCCESS or result.end().get(end) != SUCCESS:
            return self.fail("malformed candlestick")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed candlestick field")
            key = f.escaped_key()
            if key.size() == 1:
                if key[0] == b'n':
                    # "<interval>_<currency pair>", e.g. "1m_BTC_USDT"
                    if f.val().get_string().get(name) != SUCCESS:
                        return self.fail("candlestick n is not a string")
                    underscore = <const char*>memchr(name.data(), b'_', name.size())
                    if underscore == NULL:
                        return self.fail("candlestick n is not <interval>_<pair>")
                    prefix = <size_t>(underscore - name.data())
                    interval = interval_seconds(name.data(), prefix)
                    slot = self.find_slot(underscore + 1, name.size() - prefix - 1)
                    if slot < 0:
                        self.unknown += 1
                        return 0
                elif key[0] == b't':
                    if read_int(f.val(), &open_time) != DECIMAL_OK:
                        return self.fail("malformed candlestick t")
                elif key[0] == b'o':
                    open_token = f.val().raw_json_token()
                elif key[0] == b'h':
                    high_token = f.val().raw_json_token()
                elif key[0] == b'l':
                    low_token = f.val().raw_json_token()
                elif key[0] == b'c':
                    close_token = f.val().raw_json_token()
                elif key[0] == b'a':
                    amount_token = f.val().raw_json_token()
                elif key[0] == b'w':
                    if f.val().get_bool().get(closed) != SUCCESS:
                        return self.fail("candlestick w is not a boolean")
            inc(it)
        if slot < 0 or interval == 0 or open_time < 0:
            return self.fail("candlestick without n, a known interval or t")
        price_scale = self.slots[slot].price_scale
        if token_decimal(open_token, price_scale, &open_) != DECIMAL_OK or \
                token_decimal(high_token, price_scale, &high) != DECIMAL_OK or \
                token_decimal(low_token, price_scale, &low) != DECIMAL_OK or \
                token_decimal(close_token, price_scale, &close) != DECIMAL_OK or \
                token_decimal(amount_token, self.slots[slot].size_scale, &amount) != DECIMAL_OK:
            return self.fail("candlestick without a valid o, h, l, c or a")
        candle_append(&self.candles.c, self.slots[slot].instrument, ts_message, ts_receive,
                      open_time * SECOND, interval, open_, high, low, close, amount, closed)
        return DECODED_CANDLES
