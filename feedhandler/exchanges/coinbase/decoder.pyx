# distutils: language = c++
"""Coinbase Advanced Trade market data: l2_data (level2), market_trades, ticker, ticker_batch,
candles, and the subscriptions, heartbeats, status and error messages (docs/venues/coinbase.md).

Every message of a socket carries ``sequence_num``, one counter for the whole connection across
all channels. A jump means messages were lost: whichever book they touched is unknown, so every
book on the connection is withdrawn and resynced (the level2 snapshot arrives on the socket
after resubscribing). Updates are applied only to a book whose snapshot was loaded; none are
held, since a snapshot always follows the updates the client missed.
"""

from libc.stdint cimport int8_t, int32_t, int64_t
from libc.stdlib cimport free, realloc
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
from feedhandler.core.fixedpoint cimport DECIMAL_OK, parse_json_decimal
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
    CHANNEL_BOOK = 1        # l2_data
    CHANNEL_TRADES = 2      # market_trades
    CHANNEL_TICKER = 3      # ticker, ticker_batch
    CHANNEL_CANDLES = 4     # candles
    CHANNEL_CONTROL = 5     # subscriptions, heartbeats, status: handed to Python

cdef int32_t CANDLE_SECONDS = 300    # the candles channel has five-minute buckets only
cdef int64_t SECOND = 1000000000


cdef inline int channel_kind(string_view name) noexcept nogil:
    if key_is(name, "l2_data", 7):
        return CHANNEL_BOOK
    if key_is(name, "market_trades", 13):
        return CHANNEL_TRADES
    if key_is(name, "ticker", 6) or key_is(name, "ticker_batch", 12):
        return CHANNEL_TICKER
    if key_is(name, "candles", 7):
        return CHANNEL_CANDLES
    if key_is(name, "heartbeats", 10) or key_is(name, "subscriptions", 13) \
            or key_is(name, "status", 6):
        return CHANNEL_CONTROL
    return CHANNEL_UNKNOWN


cdef inline error_code member(od_object& obj, const char* name, size_t n,
                              value& out) noexcept nogil:
    """The value of field ``name`` (any key order); NO_SUCH_FIELD when absent."""
    return obj.find_field_unordered(string_view(name, n)).get(out)


cdef inline bint read_token(string_view token, int scale, int64_t* out) noexcept nogil:
    """A decimal string (or number) kept from an earlier field; False when absent or malformed."""
    return token.size() != 0 and \
        parse_json_decimal(token.data(), token.size(), scale, out) == DECIMAL_OK


cdef inline int apply_updates(value& updates, OrderBook book, int price_scale,
                              int size_scale) noexcept nogil:
    """Applies ``[{"side", "price_level", "new_quantity", ...}, ...]``; "0" deletes a level."""
    cdef array levels
    cdef array_iterator it, end
    cdef object_iterator field_it, field_end
    cdef value item
    cdef od_object level
    cdef field f
    cdef string_view key, text
    cdef int side = BID
    cdef int seen
    cdef int64_t price = 0, size = 0
    if updates.get_array().get(levels) != SUCCESS:
        return LEVELS_MALFORMED
    if levels.begin().get(it) != SUCCESS or levels.end().get(end) != SUCCESS:
        return LEVELS_MALFORMED
    while it != end:
        if deref(it).get(item) != SUCCESS or item.get_object().get(level) != SUCCESS:
            return LEVELS_MALFORMED
        if level.begin().get(field_it) != SUCCESS or level.end().get(field_end) != SUCCESS:
            return LEVELS_MALFORMED
        seen = 0
        while field_it != field_end:
            if deref(field_it).get(f) != SUCCESS:
                return LEVELS_MALFORMED
            key = f.escaped_key()
            if key_is(key, "price_level", 11):
                if read_price_key(f.val(), price_scale, &price) != DECIMAL_OK:
                    return LEVELS_MALFORMED
                seen |= 1
            elif key_is(key, "new_quantity", 12):
                if read_decimal(f.val(), size_scale, &size) != DECIMAL_OK:
                    return LEVELS_MALFORMED
                seen |= 2
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return LEVELS_MALFORMED
                if key_is(text, "bid", 3):
                    side = BID
                elif key_is(text, "offer", 5) or key_is(text, "ask", 3):
                    side = ASK
                else:
                    return LEVELS_MALFORMED
                seen |= 4
            inc(field_it)
        if seen != 7:
            return LEVELS_MALFORMED
        if book.apply_level(side, price, size) != 0:
            return LEVELS_REJECTED
        inc(it)
    return LEVELS_OK


cdef class CoinbaseDecoder(Decoder):
    """Decodes the Advanced Trade market data feed of one socket (``sequence`` is its)."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds
        self.sequence = -1
        self.products = NULL
        self.product_capacity = 0

    def __dealloc__(self):
        free(self.products)

    def add_instrument(self, key, int instrument, int price_scale, int size_scale,
                       OrderBook book=None) -> int:
        cdef int32_t slot = super().add_instrument(key, instrument, price_scale, size_scale, book)
        cdef int32_t capacity
        cdef ProductState* grown
        if slot >= self.product_capacity:
            capacity = max(8, 2 * self.product_capacity)
            grown = <ProductState*>realloc(self.products, capacity * sizeof(ProductState))
            if grown == NULL:
                raise MemoryError()
            self.products = grown
            self.product_capacity = capacity
        self.products[slot].last_trade_id = -1
        self.products[slot].trade_floor = -1
        self.products[slot].candle_start = -1
        self.products[slot].quiet = 0
        return slot

    def announce(self, int slot) -> None:
        """The book sync saw the snapshot: updates of ``slot`` are reported again from now on
        (the connection announces the rebuilt book itself, so the first event says so)."""
        self._check_slot(slot)
        self.products[slot].quiet = 0

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, event
        cdef value v, item
        cdef array events
        cdef array_iterator it, end
        cdef string_view text
        cdef error_code error
        cdef int kind
        cdef int flags = 0
        cdef int result
        cdef int64_t sequence = -1, timestamp = 0
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        error = member(top, "channel", 7, v)
        if error == SUCCESS:
            if v.get_string().get(text) != SUCCESS:
                return self.fail("channel is not a string")
            kind = channel_kind(text)
        elif error == NO_SUCH_FIELD:
            # errors come as {"type": "error", "message": ...}, without a channel
            kind = CHANNEL_UNKNOWN
            if member(top, "type", 4, v) == SUCCESS and v.get_string().get(text) == SUCCESS \
                    and key_is(text, "error", 5):
                kind = CHANNEL_CONTROL
        else:
            return self.fail("malformed message")
        if kind != CHANNEL_UNKNOWN and kind != CHANNEL_CONTROL:
            if member(top, "timestamp", 9, v) == SUCCESS and v.get_string().get(text) == SUCCESS:
                if parse_timestamp_ns(text.data(), text.size(), &timestamp) != 0:
                    timestamp = 0
        # every message of the socket takes a number, whatever its channel
        error = member(top, "sequence_num", 12, v)
        if error == SUCCESS:
            if read_int(v, &sequence) != DECIMAL_OK:
                return self.reject(kind, "malformed sequence_num")
            flags = self.check_sequence(sequence)
        elif error != NO_SUCH_FIELD:
            return self.reject(kind, "malformed message")
        elif kind == CHANNEL_BOOK:
            return self.reject(kind, "l2_data without sequence_num")
        if kind == CHANNEL_CONTROL:
            return flags | self.queue_control(buf, n)
        if kind == CHANNEL_UNKNOWN:
            self.unknown += 1
            return flags
        if member(top, "events", 6, v) != SUCCESS or v.get_array().get(events) != SUCCESS \
                or events.begin().get(it) != SUCCESS or events.end().get(end) != SUCCESS:
            return flags | self.reject(kind, "message without an events array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(event) != SUCCESS:
                return flags | self.reject(kind, "an event is not an object")
            if kind == CHANNEL_BOOK:
                result = self.decode_book(event, timestamp, ts_receive)
            elif kind == CHANNEL_TRADES:
                result = self.decode_trades(event, timestamp, ts_receive)
            elif kind == CHANNEL_TICKER:
                result = self.decode_tickers(event, timestamp, ts_receive)
            else:
                result = self.decode_candles(event, timestamp, ts_receive)
            flags |= result
            if result & DECODED_ERROR:
                if kind == CHANNEL_BOOK:
                    flags |= self.withdraw_books(
                        f"unusable l2_data message: {self.last_error}", False)
                return flags
            inc(it)
        return flags

    cdef int reject(self, int kind, str reason) except -1:
        """A message that cannot be used. Level2 data may have carried an update of any book
        (the rest of the message is unread): every book is withdrawn."""
        cdef int flags = self.fail(reason)
        if kind == CHANNEL_BOOK:
            flags |= self.withdraw_books(f"unusable l2_data message: {reason}", False)
        return flags

    cdef int check_sequence(self, int64_t sequence) except -1:
        cdef int64_t last = self.sequence
        self.sequence = sequence
        if last < 0 or sequence == last + 1:
            return 0
        if sequence > last + 1:
            return self.withdraw_books(
                f"sequence_num {sequence} after {last}: {sequence - last - 1} message(s) lost",
                False)
        # backwards: the numbering of a new socket (each starts again), or a restarted one; a
        # book the new numbering cannot vouch for is withdrawn, one still waiting is unaffected
        self.restarts += 1
        return self.withdraw_books(f"sequence_num restarted at {sequence} after {last}", True)

    cdef int withdraw_books(self, str reason, bint live_only) except -1:
        cdef int32_t slot
        cdef int flags = 0
        for slot in range(self.slot_count):
            if self.slots[slot].has_book and (not live_only or self.slots[slot].sync == SYNC_LIVE):
                flags |= self.lose_sync(slot, reason, False)
        return flags

    cdef int decode_book(self, od_object& event, int64_t timestamp,
                         int64_t ts_receive) except -1:
        cdef value v
        cdef string_view text
        cdef bint snapshot
        cdef bint was_live
        cdef int status
        cdef int32_t slot
        cdef OrderBook book
        if member(event, "type", 4, v) != SUCCESS or v.get_string().get(text) != SUCCESS:
            return self.fail("l2_data event without type")
        snapshot = key_is(text, "snapshot", 8)
        if not snapshot and not key_is(text, "update", 6):
            return self.fail("l2_data event type is neither snapshot nor update")
        if member(event, "product_id", 10, v) != SUCCESS or v.get_string().get(text) != SUCCESS:
            return self.fail("l2_data event without product_id")
        slot = self.find_slot(text.data(), text.size())
        if slot < 0:
            self.unknown += 1
            return 0
        if not self.slots[slot].has_book:
            return 0
        was_live = self.slots[slot].sync == SYNC_LIVE
        if not snapshot and not was_live:
            return 0    # before the snapshot: the snapshot will cover it
        if member(event, "updates", 7, v) != SUCCESS:
            return self.fail("l2_data event without updates")
        book = self.book_at(slot)
        if snapshot:
            book.clear_levels()
        status = apply_updates(v, book, self.slots[slot].price_scale,
                               self.slots[slot].size_scale)
        if status == LEVELS_MALFORMED:
            return self.fail("malformed level2 update")
        if status == LEVELS_REJECTED:
            return self.lose_sync(slot, "book rejected a level", False)
        if book.crossed():
            return self.lose_sync(slot, "crossed book", False)
        book.sequence = self.sequence
        book.ts_exchange = timestamp
        book.ts_receive = ts_receive
        if snapshot:
            self.slots[slot].snapshots += 1
        if snapshot and not was_live:
            self.mark_live(slot)
            self.products[slot].quiet = 1
        if self.products[slot].quiet:
            return 0
        self.mark_dirty(slot)
        return DECODED_BOOKS

    cdef int decode_trades(self, od_object& event, int64_t timestamp,
                           int64_t ts_receive) except -1:
        """A snapshot repeats recent trades: only those newer than what this socket's decoder
        already saw are passed on (they fill a reconnect's gap), none on the first one."""
        cdef value v, item
        cdef array trades
        cdef array_iterator it, end
        cdef od_object trade
        cdef object_iterator field_it, field_end
        cdef field f
        cdef string_view key, text, price, size, trade_id, time
        cdef bint snapshot
        cdef int8_t side
        cdef int32_t slot
        cdef int64_t price_value, size_value, id_value, ts_exchange
        cdef ProductState* state
        cdef int flags = 0
        if member(event, "type", 4, v) != SUCCESS or v.get_string().get(text) != SUCCESS:
            return self.fail("market_trades event without type")
        snapshot = key_is(text, "snapshot", 8)
        if snapshot:
            for slot in range(self.slot_count):
                self.products[slot].trade_floor = self.products[slot].last_trade_id
        if member(event, "trades", 6, v) != SUCCESS or v.get_array().get(trades) != SUCCESS \
                or trades.begin().get(it) != SUCCESS or trades.end().get(end) != SUCCESS:
            return self.fail("market_trades event without trades")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(trade) != SUCCESS \
                    or trade.begin().get(field_it) != SUCCESS \
                    or trade.end().get(field_end) != SUCCESS:
                return self.fail("malformed trade")
            slot = -1
            side = 0
            price = size = trade_id = time = string_view()
            while field_it != field_end:
                if deref(field_it).get(f) != SUCCESS:
                    return self.fail("malformed trade field")
                key = f.escaped_key()
                if key_is(key, "price", 5):
                    price = f.val().raw_json_token()
                elif key_is(key, "size", 4):
                    size = f.val().raw_json_token()
                elif key_is(key, "trade_id", 8):
                    trade_id = f.val().raw_json_token()
                elif key_is(key, "product_id", 10):
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("trade product_id is not a string")
                    slot = self.find_slot(text.data(), text.size())
                elif key_is(key, "side", 4):
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("trade side is not a string")
                    # the side is the maker's: the taker did the opposite
                    side = -1 if key_is(text, "BUY", 3) else 1 if key_is(text, "SELL", 4) else 0
                elif key_is(key, "time", 4):
                    if f.val().get_string().get(time) != SUCCESS:
                        return self.fail("trade time is not a string")
                inc(field_it)
            inc(it)
            if slot < 0:
                self.unknown += 1
                continue
            if not read_token(price, self.slots[slot].price_scale, &price_value) or \
                    not read_token(size, self.slots[slot].size_scale, &size_value):
                return self.fail("trade without a valid price or size")
            if not read_token(trade_id, 0, &id_value):
                id_value = -1       # not a decimal integer within int64: kept unknown
            state = &self.products[slot]
            if id_value > state.last_trade_id:
                state.last_trade_id = id_value
            if snapshot and (state.trade_floor < 0 or id_value <= state.trade_floor):
                continue
            if time.size() == 0 or parse_timestamp_ns(time.data(), time.size(),
                                                      &ts_exchange) != 0:
                ts_exchange = timestamp
            trade_append(&self.trades.c, self.slots[slot].instrument, ts_exchange, ts_receive,
                         price_value, size_value, side, id_value)
            flags = DECODED_TRADES
        return flags

    cdef int decode_tickers(self, od_object& event, int64_t timestamp,
                            int64_t ts_receive) except -1:
        cdef value v, item
        cdef array tickers
        cdef array_iterator it, end
        cdef od_object ticker
        cdef object_iterator field_it, field_end
        cdef field f
        cdef string_view key, text, price, bid, bid_size, ask, ask_size
        cdef int32_t slot
        cdef int price_scale, size_scale
        cdef int64_t last = 0, bid_value = 0, bid_size_value = 0
        cdef int64_t ask_value = 0, ask_size_value = 0
        cdef int flags = 0
        if member(event, "tickers", 7, v) != SUCCESS or v.get_array().get(tickers) != SUCCESS \
                or tickers.begin().get(it) != SUCCESS or tickers.end().get(end) != SUCCESS:
            return self.fail("ticker event without tickers")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(ticker) != SUCCESS \
                    or ticker.begin().get(field_it) != SUCCESS \
                    or ticker.end().get(field_end) != SUCCESS:
                return self.fail("malformed ticker")
            slot = -1
            price = bid = bid_size = ask = ask_size = string_view()
            while field_it != field_end:
                if deref(field_it).get(f) != SUCCESS:
                    return self.fail("malformed ticker field")
                key = f.escaped_key()
                if key_is(key, "price", 5):
                    price = f.val().raw_json_token()
                elif key_is(key, "best_bid", 8):
                    bid = f.val().raw_json_token()
                elif key_is(key, "best_ask", 8):
                    ask = f.val().raw_json_token()
                elif key_is(key, "best_bid_quantity", 17):
                    bid_size = f.val().raw_json_token()
                elif key_is(key, "best_ask_quantity", 17):
                    ask_size = f.val().raw_json_token()
                elif key_is(key, "product_id", 10):
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("ticker product_id is not a string")
                    slot = self.find_slot(text.data(), text.size())
                inc(field_it)
            inc(it)
            if slot < 0:
                self.unknown += 1
                continue
            price_scale = self.slots[slot].price_scale
            size_scale = self.slots[slot].size_scale
            # ticker_batch carries no best bid or ask: those stay 0
            if (price.size() and not read_token(price, price_scale, &last)) \
                    or (bid.size() and not read_token(bid, price_scale, &bid_value)) \
                    or (ask.size() and not read_token(ask, price_scale, &ask_value)) \
                    or (bid_size.size() and not read_token(bid_size, size_scale, &bid_size_value)) \
                    or (ask_size.size() and not read_token(ask_size, size_scale, &ask_size_value)):
                return self.fail("malformed number in ticker")
            ticker_append(&self.tickers.c, self.slots[slot].instrument, timestamp, ts_receive,
                          bid_value, bid_size_value, ask_value, ask_size_value, last)
            flags = DECODED_TICKERS
        return flags

    cdef int decode_candles(self, od_object& event, int64_t timestamp,
                            int64_t ts_receive) except -1:
        """Coinbase re-sends the open five-minute candle every second and never says one is
        over: a candle is closed when a later one of the product arrives, and its closed row
        carries the last values received for it."""
        cdef value v, item
        cdef array candles
        cdef array_iterator it, end
        cdef od_object candle
        cdef object_iterator field_it, field_end
        cdef field f
        cdef string_view key, text, start, open_, high, low, close, volume
        cdef int32_t slot, instrument
        cdef int price_scale, size_scale
        cdef int64_t start_value, o, h, l, c, vol
        cdef ProductState* state
        cdef int flags = 0
        if member(event, "candles", 7, v) != SUCCESS or v.get_array().get(candles) != SUCCESS \
                or candles.begin().get(it) != SUCCESS or candles.end().get(end) != SUCCESS:
            return self.fail("candles event without candles")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(candle) != SUCCESS \
                    or candle.begin().get(field_it) != SUCCESS \
                    or candle.end().get(field_end) != SUCCESS:
                return self.fail("malformed candle")
            slot = -1
            start = open_ = high = low = close = volume = string_view()
            while field_it != field_end:
                if deref(field_it).get(f) != SUCCESS:
                    return self.fail("malformed candle field")
                key = f.escaped_key()
                if key_is(key, "start", 5):
                    start = f.val().raw_json_token()
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
                elif key_is(key, "product_id", 10):
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("candle product_id is not a string")
                    slot = self.find_slot(text.data(), text.size())
                inc(field_it)
            inc(it)
            if slot < 0:
                self.unknown += 1
                continue
            price_scale = self.slots[slot].price_scale
            size_scale = self.slots[slot].size_scale
            if not (read_token(start, 0, &start_value) and read_token(open_, price_scale, &o)
                    and read_token(high, price_scale, &h) and read_token(low, price_scale, &l)
                    and read_token(close, price_scale, &c)
                    and read_token(volume, size_scale, &vol)):
                return self.fail("candle without a valid start, price or volume")
            instrument = self.slots[slot].instrument
            state = &self.products[slot]
            if start_value < state.candle_start:
                # an earlier bucket (a snapshot's history): over by definition
                candle_append(&self.candles.c, instrument, timestamp, ts_receive,
                              start_value * SECOND, CANDLE_SECONDS, o, h, l, c, vol, 1)
                flags = DECODED_CANDLES
                continue
            if start_value > state.candle_start >= 0:
                candle_append(&self.candles.c, instrument, timestamp, ts_receive,
                              state.candle_start * SECOND, CANDLE_SECONDS, state.candle_open,
                              state.candle_high, state.candle_low, state.candle_close,
                              state.candle_volume, 1)
            state.candle_start = start_value
            state.candle_open = o
            state.candle_high = h
            state.candle_low = l
            state.candle_close = c
            state.candle_volume = vol
            candle_append(&self.candles.c, instrument, timestamp, ts_receive,
                          start_value * SECOND, CANDLE_SECONDS, o, h, l, c, vol, 0)
            flags = DECODED_CANDLES
        return flags
