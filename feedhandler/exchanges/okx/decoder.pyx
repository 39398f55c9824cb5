# distutils: language = c++
"""OKX v5 public WebSocket market data: books (books, books5, bbo-tbt, books50-l2-tbt,
books-l2-tbt), trades, tickers, candles, the events (acks, errors, notices) and the text
``pong`` (see docs/venues/okx.md).

Every push names its channel and instId in ``arg`` before its ``data``, so the slot is known
before the first data item is read. Prices and sizes are strings, read from their raw tokens
into exact fixed point.

Books follow OKX's rules, enforced here in C: a ``snapshot`` replaces the book; an ``update``
applies only if its ``prevSeqId`` is the ``seqId`` of the message before it (a heartbeat update
repeats it), else the book is withdrawn (``lose_sync``); after every message the CRC32 of the
top 25 levels must equal the message's signed ``checksum`` where one is sent (a ``checksum``
of 0, or none, is OKX's retired field and leaves the sequence rule as the only check).
``books5`` and ``bbo-tbt`` carry no action: each of their messages is a whole snapshot.

A waiting book holds every update. An in-band snapshot drops what was held before it, and a
verified one does not make the book live: the updates after it are held until the adapter's
``sync_book`` marks the book live and replays them, so the user hears of the resync before the
book is served. Where OKX sends no in-band snapshot, ``sync_book`` loads the REST snapshot of
``GET /api/v5/market/books`` (``load_snapshot``) and replays the held updates: the first after
any snapshot follows OKX's rule (``seqId`` <= the snapshot's is dropped, then ``prevSeqId`` <=
the snapshot's ``seqId`` < ``seqId``), every later one must chain exactly.

A trades, tickers or books5 item whose own ``instId`` is not the ``arg``'s is counted
(``misrouted``) and not applied; no book is withdrawn (a books5 push is a whole snapshot).
"""

from libc.stdint cimport int32_t, int64_t
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.book cimport ASK, BID, OrderBook
from feedhandler.core.checksum cimport MAX_DECIMAL_TEXT, crc32_text, write_decimal
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
    apply_pair_levels,
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

from feedhandler.core.decoder import DecodeError

cdef enum ChannelKind:
    CHANNEL_UNKNOWN = 0
    CHANNEL_BOOK = 1              # snapshot then sequenced updates, checksummed
    CHANNEL_BOOK_SNAPSHOTS = 2    # every message a whole snapshot (books5, bbo-tbt)
    CHANNEL_TRADES = 3
    CHANNEL_TICKERS = 4
    CHANNEL_CANDLE = 5

cdef enum Action:
    ACTION_NONE = 0
    ACTION_SNAPSHOT = 1
    ACTION_UPDATE = 2

cdef enum:
    CHECKSUM_LEVELS = 25          # OKX checksums the top 25 levels of each side
    DEFAULT_DEPTH = 400           # the depth of the books channel
    CHECKSUM_TEXT = 2 * CHECKSUM_LEVELS * 2 * (MAX_DECIMAL_TEXT + 1)

cdef int64_t MS_NS = 1000000


cdef inline int channel_kind(string_view name) noexcept nogil:
    if key_is(name, "books", 5) or key_is(name, "books50-l2-tbt", 14) or \
            key_is(name, "books-l2-tbt", 12):
        return CHANNEL_BOOK
    if key_is(name, "books5", 6) or key_is(name, "bbo-tbt", 7):
        return CHANNEL_BOOK_SNAPSHOTS
    if key_is(name, "trades", 6):
        return CHANNEL_TRADES
    if key_is(name, "tickers", 7):
        return CHANNEL_TICKERS
    if name.size() > 6 and key_is(string_view(name.data(), 6), "candle", 6):
        return CHANNEL_CANDLE
    return CHANNEL_UNKNOWN


cdef inline int64_t candle_seconds(string_view name) noexcept nogil:
    """``candle1m`` -> 60, ``candle1Dutc`` -> 86400 (a month counts 30 days); -1 if unknown."""
    cdef const char* p = name.data()
    cdef size_t n = name.size()
    cdef size_t i = 6
    cdef int64_t count = 0, unit
    while i < n and 48 <= p[i] <= 57 and count < 1000:
        count = count * 10 + (p[i] - 48)
        i += 1
    if count == 0 or i >= n:
        return -1
    if p[i] == b's':
        unit = 1
    elif p[i] == b'm':
        unit = 60
    elif p[i] == b'H':
        unit = 3600
    elif p[i] == b'D':
        unit = 86400
    elif p[i] == b'W':
        unit = 604800
    elif p[i] == b'M':
        unit = 2592000
    else:
        return -1
    i += 1
    if i == n or (n - i == 3 and key_is(string_view(p + i, 3), "utc", 3)):
        return count * unit
    return -1


cdef inline int read_ms(value& v, int64_t* out) noexcept nogil:
    """A millisecond timestamp string -> ns; DecimalStatus."""
    cdef int status = read_int(v, out)
    out[0] *= MS_NS
    return status


cdef inline int read_price(value& v, int scale, int64_t* out) noexcept nogil:
    """A decimal string, where ``""`` (OKX's "none", e.g. an empty side) reads as 0."""
    cdef string_view token = v.raw_json_token()
    if token.size() >= 2 and token.data()[0] == b'"' and token.data()[1] == b'"':
        out[0] = 0
        return DECIMAL_OK
    return read_decimal(v, scale, out)


cdef inline size_t write_level(char* text, size_t length, int64_t price, int price_scale,
                               int64_t size, int size_scale) noexcept nogil:
    """Appends ``price:size:`` to ``text[:length]``; returns the new length."""
    length += write_decimal(price, price_scale, -1, text + length)
    text[length] = b':'
    length += 1 + write_decimal(size, size_scale, -1, text + length + 1)
    text[length] = b':'
    return length + 1


cdef class OkxDecoder(Decoder):
    """Decodes OKX v5 public push messages into the rings and books."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    # ---- per-slot configuration (Python) -----------------------------------------------------

    def set_book(self, int slot, OrderBook book) -> None:
        """Attaches a book; one without a depth gets the books channel's 400 until
        ``configure_book`` says otherwise."""
        Decoder.set_book(self, slot, book)
        if book is not None and book.depth_limit == 0:
            book.depth_limit = DEFAULT_DEPTH

    def configure_book(self, int slot, int depth) -> None:
        """The subscribed depth: the book is truncated to it after every message."""
        self._check_slot(slot)
        if self.books[slot] is None:
            raise ValueError(f"slot {slot} has no book")
        if depth <= 0:
            raise ValueError(f"depth must be positive, got {depth}")
        (<OrderBook>self.books[slot]).depth_limit = depth

    def book_checksum(self, int slot) -> int:
        """OKX's signed CRC32 of the book at ``slot`` as it stands."""
        self._check_slot(slot)
        if self.books[slot] is None:
            raise ValueError(f"slot {slot} has no book")
        return self.checksum(<OrderBook>self.books[slot])

    # ---- decoding ----------------------------------------------------------------------------

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, arg
        cdef object_iterator it, end, ait, aend
        cdef field f, af
        cdef string_view key, text, channel_name
        cdef int channel = CHANNEL_UNKNOWN
        cdef int action = ACTION_NONE
        cdef int64_t interval = 0
        cdef int32_t slot = -1
        cdef bint seen_arg = False
        if n == 4 and key_is(string_view(buf, 4), "pong", 4):
            return 0
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        if top.begin().get(it) != SUCCESS or top.end().get(end) != SUCCESS:
            return self.fail("malformed message")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed message field")
            key = f.escaped_key()
            if key_is(key, "event", 5):
                return self.queue_control(buf, n)
            if key_is(key, "arg", 3):
                if f.val().get_object().get(arg) != SUCCESS or \
                        arg.begin().get(ait) != SUCCESS or arg.end().get(aend) != SUCCESS:
                    return self.fail("arg is not an object")
                while ait != aend:
                    if deref(ait).get(af) != SUCCESS:
                        return self.fail("malformed arg field")
                    key = af.escaped_key()
                    if key_is(key, "channel", 7):
                        if af.val().get_string().get(channel_name) != SUCCESS:
                            return self.fail("channel is not a string")
                        channel = channel_kind(channel_name)
                        if channel == CHANNEL_CANDLE:
                            interval = candle_seconds(channel_name)
                            if interval < 0:
                                channel = CHANNEL_UNKNOWN
                    elif key_is(key, "instId", 6):
                        if af.val().get_string().get(text) != SUCCESS:
                            return self.fail("instId is not a string")
                        slot = self.find_slot(text.data(), text.size())
                    inc(ait)
                if channel == CHANNEL_UNKNOWN or slot < 0:
                    self.unknown += 1
                    return 0
                seen_arg = True
            elif key_is(key, "action", 6):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("action is not a string")
                if key_is(text, "snapshot", 8):
                    action = ACTION_SNAPSHOT
                elif key_is(text, "update", 6):
                    action = ACTION_UPDATE
                else:
                    self.unknown += 1
                    return 0
            elif key_is(key, "data", 4):
                if not seen_arg:
                    return self.fail("data before arg")
                return self.decode_data(f.val(), channel, slot, action, interval, buf, n,
                                        ts_receive)
            inc(it)
        self.unknown += 1
        return 0

    cdef int decode_data(self, value& data, int channel, int32_t slot, int action,
                         int64_t interval, const char* buf, size_t n,
                         int64_t ts_receive) except -1:
        cdef array items
        cdef array_iterator it, end
        cdef value v
        cdef od_object item
        cdef string_view text
        cdef int flags = 0
        if data.get_array().get(items) != SUCCESS or items.begin().get(it) != SUCCESS or \
                items.end().get(end) != SUCCESS:
            return self.fail("data is not an array")
        if channel == CHANNEL_BOOK_SNAPSHOTS:
            action = ACTION_SNAPSHOT
        if channel == CHANNEL_BOOK or channel == CHANNEL_BOOK_SNAPSHOTS:
            if not self.slots[slot].has_book:
                self.unknown += 1
                return 0
            if action == ACTION_NONE:
                return self.fail("book message without action")
            if action == ACTION_UPDATE and self.slots[slot].sync != SYNC_LIVE:
                return self.hold(slot, buf, n)
        while it != end:
            if deref(it).get(v) != SUCCESS:
                return flags | self.fail("malformed data item")
            if channel == CHANNEL_CANDLE:
                flags |= self.decode_candle(v, slot, interval, ts_receive)
            elif v.get_object().get(item) != SUCCESS:
                return flags | self.fail("data item is not an object")
            elif channel == CHANNEL_TRADES:
                flags |= self.decode_trade(item, slot, ts_receive)
            elif channel == CHANNEL_TICKERS:
                flags |= self.decode_ticker(item, slot, ts_receive)
            elif channel == CHANNEL_BOOK_SNAPSHOTS and \
                    item.find_field_unordered(string_view(b"instId", 6)).get(v) == SUCCESS and \
                    (v.get_string().get(text) != SUCCESS or
                     not self.is_key_of(slot, text.data(), text.size())):
                # a books5 push is a whole snapshot: the next one restores the book
                return flags | self.misroute(slot, "books5 instId is not the arg's", False)
            else:
                flags |= self.decode_book(item, slot, action, ts_receive)
            if flags & DECODED_ERROR:
                return flags
            inc(it)
        return flags

    cdef int decode_book(self, od_object& item, int32_t slot, int action,
                         int64_t ts_receive) except -1:
        """One book item: sequence first (a gap leaves the book untouched), then the levels,
        then the checksum (verified wherever present and not 0: OKX announced that the field
        stays but reads 0 once checksums are retired, and had announced it would go). After
        the sequence the fields are looked up in OKX's order (asks, bids, ts, checksum), so
        the level arrays are skipped once and read once."""
        cdef value v
        cdef OrderBook book = self.book_at(slot)
        cdef bint snapshot = action == ACTION_SNAPSHOT
        cdef int status = LEVELS_OK
        cdef int side
        cdef int64_t prev_seq = 0, seq = 0, expected = 0, ts_exchange = 0
        cdef bint has_prev = False, has_seq = False, has_checksum = False
        cdef int32_t actual
        cdef error_code found
        found = item.find_field_unordered(string_view(b"prevSeqId", 9)).get(v)
        if found == SUCCESS:
            if read_int(v, &prev_seq) != DECIMAL_OK:
                self.fail("malformed prevSeqId")
                return DECODED_ERROR | self.lose_sync(slot, "malformed prevSeqId", False)
            has_prev = True
        found = item.find_field_unordered(string_view(b"seqId", 5)).get(v)
        if found == SUCCESS:
            if read_int(v, &seq) != DECIMAL_OK:
                self.fail("malformed seqId")
                return DECODED_ERROR | self.lose_sync(slot, "malformed seqId", False)
            has_seq = True
        if not snapshot:
            if not has_prev or not has_seq:
                self.fail("book update without seqId and prevSeqId")
                return DECODED_ERROR | self.lose_sync(slot, "book update without seqId", False)
            if self.slots[slot].fresh:
                # the first update after a snapshot: OKX's rule for a REST snapshot, which
                # an in-band one (prevSeqId == its seqId) meets too
                if seq <= book.sequence:
                    return 0
                if prev_seq > book.sequence:
                    return self.lose_sync(slot, f"prevSeqId {prev_seq} > snapshot seqId "
                                                f"{book.sequence}", False)
            elif prev_seq != book.sequence:
                return self.lose_sync(slot, f"prevSeqId {prev_seq} != last seqId "
                                            f"{book.sequence}", False)
        if snapshot:
            book.clear_levels()
        for side in range(ASK, BID - 1, -1):
            found = item.find_field_unordered(
                string_view(b"asks", 4) if side == ASK else string_view(b"bids", 4)).get(v)
            if found == SUCCESS:
                status = apply_pair_levels(v, book, side, self.slots[slot].price_scale,
                                           self.slots[slot].size_scale)
            elif found != NO_SUCH_FIELD:
                status = LEVELS_MALFORMED
            if status != LEVELS_OK:
                self.fail("malformed book levels" if status == LEVELS_MALFORMED
                          else "book rejected a level")
                return DECODED_ERROR | self.lose_sync(slot, "book message could not be applied",
                                                      False)
        found = item.find_field_unordered(string_view(b"ts", 2)).get(v)
        if found == SUCCESS and read_ms(v, &ts_exchange) != DECIMAL_OK:
            self.fail("malformed book ts")
            return DECODED_ERROR | self.lose_sync(slot, "malformed book ts", False)
        found = item.find_field_unordered(string_view(b"checksum", 8)).get(v)
        if found == SUCCESS:
            if read_int(v, &expected) != DECIMAL_OK:
                self.fail("malformed checksum")
                return DECODED_ERROR | self.lose_sync(slot, "malformed checksum", False)
            has_checksum = True
        elif found != NO_SUCH_FIELD:
            self.fail("malformed checksum")
            return DECODED_ERROR | self.lose_sync(slot, "malformed checksum", False)
        book.truncate_depth()
        if has_checksum and expected != 0:
            actual = self.checksum(book)
            if <int64_t>actual != expected:
                return self.lose_sync(slot, f"checksum {actual} != {expected}", True)
        if has_seq:
            book.sequence = seq
        book.ts_exchange = ts_exchange
        book.ts_receive = ts_receive
        if snapshot:
            self.slots[slot].snapshots += 1
            self.slots[slot].loaded = 1
            if self.slots[slot].sync != SYNC_LIVE:
                self.take_pending(slot)         # held updates predate this snapshot
                return 0
        self.slots[slot].fresh = 0
        self.mark_dirty(slot)
        return DECODED_BOOKS

    cdef int load_snapshot(self, int32_t slot, const char* buf, size_t n) except -1:
        """A ``GET /api/v5/market/books`` body,
        ``{"code":"0","msg":"","data":[{"asks":..,"bids":..,"ts":..,"seqId":..}]}``: the book
        becomes its levels and its ``seqId``. A ``code`` other than ``"0"`` is OKX refusing
        the request."""
        cdef document doc
        cdef od_object top, item
        cdef array items
        cdef array_iterator it, end
        cdef value v
        cdef string_view code
        cdef OrderBook book = self.book_at(slot)
        cdef int64_t seq = -1, ts_exchange = 0
        cdef int side, status
        if not iterate_whole(self.json, buf, n, doc) or doc.get_object().get(top) != SUCCESS:
            raise DecodeError("order book snapshot is not a JSON object")
        if top.find_field_unordered(string_view(b"code", 4)).get(v) == SUCCESS and (
                v.get_string().get(code) != SUCCESS or not key_is(code, "0", 1)):
            raise DecodeError("okx refused the order book request: "
                              + buf[:min(n, 200)].decode("utf-8", "replace"))
        if top.find_field_unordered(string_view(b"data", 4)).get(v) != SUCCESS or \
                v.get_array().get(items) != SUCCESS or items.begin().get(it) != SUCCESS or \
                items.end().get(end) != SUCCESS or not (it != end) or deref(it).get(v) != SUCCESS or \
                v.get_object().get(item) != SUCCESS:
            raise DecodeError("order book snapshot without data")
        book.clear_levels()
        for side in (ASK, BID):
            if item.find_field_unordered(
                    string_view(b"asks", 4) if side == ASK else string_view(b"bids", 4)
                    ).get(v) != SUCCESS:
                book.clear_levels()
                raise DecodeError("order book snapshot without asks or bids")
            status = apply_pair_levels(v, book, side, self.slots[slot].price_scale,
                                       self.slots[slot].size_scale)
            if status != LEVELS_OK:
                book.clear_levels()
                raise DecodeError("order book snapshot levels could not be applied")
        if item.find_field_unordered(string_view(b"ts", 2)).get(v) == SUCCESS and \
                read_ms(v, &ts_exchange) != DECIMAL_OK:
            book.clear_levels()
            raise DecodeError("malformed order book snapshot ts")
        if item.find_field_unordered(string_view(b"seqId", 5)).get(v) != SUCCESS or \
                read_int(v, &seq) != DECIMAL_OK or seq < 0:
            book.clear_levels()
            raise DecodeError("order book snapshot without seqId")
        book.truncate_depth()
        book.sequence = seq
        book.ts_exchange = ts_exchange
        self.mark_dirty(slot)
        return 0

    cdef int32_t checksum(self, OrderBook book) noexcept nogil:
        """Signed CRC32 of ``bid1:ask1:bid2:ask2:...`` over the top 25 levels, each level
        ``price:size`` in OKX's shortest decimal form; the longer side's rest follows."""
        cdef int64_t[CHECKSUM_LEVELS] bid_prices, bid_sizes, ask_prices, ask_sizes
        cdef char[CHECKSUM_TEXT] text
        cdef size_t length = 0
        cdef Py_ssize_t bids = book.copy_top(BID, CHECKSUM_LEVELS, bid_prices, bid_sizes)
        cdef Py_ssize_t asks = book.copy_top(ASK, CHECKSUM_LEVELS, ask_prices, ask_sizes)
        cdef Py_ssize_t i
        cdef int price_scale = book.price_scale, size_scale = book.size_scale
        for i in range(max(bids, asks)):
            if i < bids:
                length = write_level(text, length, bid_prices[i], price_scale, bid_sizes[i],
                                     size_scale)
            if i < asks:
                length = write_level(text, length, ask_prices[i], price_scale, ask_sizes[i],
                                     size_scale)
        # every level ends in a separator; the text has none at its end
        return <int32_t>crc32_text(0, text, length - 1 if length else 0)

    cdef int decode_trade(self, od_object& item, int32_t slot, int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef int64_t trade_id = 0, ts_exchange = 0, price = 0, size = 0
        cdef int side = 0, seen = 0
        if item.begin().get(it) != SUCCESS or item.end().get(end) != SUCCESS:
            return self.fail("malformed trade")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed trade field")
            key = f.escaped_key()
            if key_is(key, "px", 2):
                if read_decimal(f.val(), self.slots[slot].price_scale, &price) != DECIMAL_OK:
                    return self.fail("malformed trade px")
                seen |= 1
            elif key_is(key, "sz", 2):
                if read_decimal(f.val(), self.slots[slot].size_scale, &size) != DECIMAL_OK:
                    return self.fail("malformed trade sz")
                seen |= 2
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("trade side is not a string")
                side = 1 if key_is(text, "buy", 3) else -1 if key_is(text, "sell", 4) else 0
            elif key_is(key, "tradeId", 7):
                if read_int(f.val(), &trade_id) != DECIMAL_OK:
                    return self.fail("malformed tradeId")
            elif key_is(key, "instId", 6):
                if f.val().get_string().get(text) != SUCCESS or \
                        not self.is_key_of(slot, text.data(), text.size()):
                    return self.misroute(slot, "trade instId is not the arg's", False)
            elif key_is(key, "ts", 2):
                if read_ms(f.val(), &ts_exchange) != DECIMAL_OK:
                    return self.fail("malformed trade ts")
            inc(it)
        if seen != 3:
            return self.fail("trade without px or sz")
        trade_append(&self.trades.c, self.slots[slot].instrument, ts_exchange, ts_receive,
                     price, size, side, trade_id)
        return DECODED_TRADES

    cdef int decode_ticker(self, od_object& item, int32_t slot, int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef int64_t ts_exchange = 0, bid = 0, bid_size = 0, ask = 0, ask_size = 0, last = 0
        cdef int price_scale = self.slots[slot].price_scale
        cdef int size_scale = self.slots[slot].size_scale
        cdef int status = DECIMAL_OK
        if item.begin().get(it) != SUCCESS or item.end().get(end) != SUCCESS:
            return self.fail("malformed ticker")
        while it != end and status == DECIMAL_OK:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed ticker field")
            key = f.escaped_key()
            if key_is(key, "last", 4):
                status = read_price(f.val(), price_scale, &last)
            elif key_is(key, "bidPx", 5):
                status = read_price(f.val(), price_scale, &bid)
            elif key_is(key, "bidSz", 5):
                status = read_price(f.val(), size_scale, &bid_size)
            elif key_is(key, "askPx", 5):
                status = read_price(f.val(), price_scale, &ask)
            elif key_is(key, "askSz", 5):
                status = read_price(f.val(), size_scale, &ask_size)
            elif key_is(key, "instId", 6):
                if f.val().get_string().get(text) != SUCCESS or \
                        not self.is_key_of(slot, text.data(), text.size()):
                    return self.misroute(slot, "ticker instId is not the arg's", False)
            elif key_is(key, "ts", 2):
                status = read_ms(f.val(), &ts_exchange)
            inc(it)
        if status != DECIMAL_OK:
            return self.fail("malformed ticker number")
        ticker_append(&self.tickers.c, self.slots[slot].instrument, ts_exchange, ts_receive,
                      bid, bid_size, ask, ask_size, last)
        return DECODED_TICKERS

    cdef int decode_candle(self, value& item, int32_t slot, int64_t interval,
                           int64_t ts_receive) except -1:
        """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``; confirm "1" is closed."""
        cdef array fields
        cdef array_iterator it, end
        cdef value v
        cdef int64_t[7] numbers     # open time (ns), o, h, l, c, vol, confirm
        cdef int index = 0, status = DECIMAL_OK
        cdef int price_scale = self.slots[slot].price_scale
        if item.get_array().get(fields) != SUCCESS or fields.begin().get(it) != SUCCESS or \
                fields.end().get(end) != SUCCESS:
            return self.fail("candle is not an array")
        while it != end and status == DECIMAL_OK:
            if deref(it).get(v) != SUCCESS:
                return self.fail("malformed candle field")
            if index == 0:
                status = read_ms(v, &numbers[0])
            elif index <= 4:
                status = read_decimal(v, price_scale, &numbers[index])
            elif index == 5:
                status = read_decimal(v, self.slots[slot].size_scale, &numbers[5])
            elif index == 8:
                status = read_int(v, &numbers[6])
            index += 1
            inc(it)
        if status != DECIMAL_OK or index < 9:
            return self.fail("malformed candle")
        candle_append(&self.candles.c, self.slots[slot].instrument, 0, ts_receive,
                      numbers[0], <int32_t>interval, numbers[1], numbers[2], numbers[3],
                      numbers[4], numbers[5], 1 if numbers[6] == 1 else 0)
        return DECODED_CANDLES
