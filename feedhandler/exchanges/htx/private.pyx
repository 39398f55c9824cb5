# distutils: language = c++
"""HTX ``/ws/v2`` private topics, ``orders#<symbol>`` and ``accounts.update#<mode>``, into the
rings (docs/venues/htx.md, "Private streams").

Pushes are ``{"action": "push", "ch": ..., "data": {...}}``; every other action (the auth
reply, sub acks, the server's ``ping``, errors) is queued for the adapter. Orders: the event
type decides which fields exist. ``creation`` has ``orderPrice``/``orderSize``; ``trade``
adds this fill (``tradePrice``/``tradeVolume``) and the cumulative ``execAmt``;
``cancellation`` has no price or size, only ``execAmt`` and ``remainAmt`` (so ``size`` is
their sum, ``price`` 0). orders# carries no fee (HTX sends fees on ``trade.clearing#``):
``fee`` is 0, ``fee_asset`` empty. The side is the ``type`` prefix (``buy-limit``, ...).
Numbers HTX pads to 18 decimals are exact when the padding is zeros; digits beyond the
scale are refused, never rounded. Balances: ``balance`` is the total, ``available`` the free
part; a push with only one of them (modes 0 and 1) has ``has_totals`` False.
"""

from libc.stdint cimport int64_t
from libc.string cimport memset
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.fixedpoint cimport int128, split128
from feedhandler.core.jsonread cimport (
    iterate_whole,
    key_is,
    read_int,
    token_decimal,
    token_decimal128,
    token_decimal_exact,
)
from feedhandler.core.ondemand cimport (
    SUCCESS,
    document,
    field,
    object_iterator,
    od_object,
    value,
)
from feedhandler.core.private cimport (
    ORDER_CANCELED,
    ORDER_FILLED,
    ORDER_NEW,
    ORDER_PARTIALLY_FILLED,
    ORDER_REJECTED,
    ORDER_UNKNOWN,
    WIDE_BALANCE_SCALE,
    BalanceUpdate,
    OrderUpdate,
    PrivateDecoder,
    Text,
    number_text,
    text_of,
)

cdef int64_t MS = 1000000

cdef enum TopicKind:
    TOPIC_NONE = 0
    TOPIC_OTHER = 1
    TOPIC_ORDERS = 2
    TOPIC_ACCOUNTS = 3


cdef inline int topic_kind(string_view ch) noexcept nogil:
    if ch.size() >= 7 and key_is(string_view(ch.data(), 7), "orders#", 7):
        return TOPIC_ORDERS
    if ch.size() >= 15 and key_is(string_view(ch.data(), 15), "accounts.update", 15):
        return TOPIC_ACCOUNTS
    return TOPIC_OTHER


cdef inline int order_status(string_view s) noexcept nogil:
    if key_is(s, "submitted", 9) or key_is(s, "created", 7):
        return ORDER_NEW
    if key_is(s, "partial-filled", 14):
        return ORDER_PARTIALLY_FILLED
    if key_is(s, "filled", 6):
        return ORDER_FILLED
    if key_is(s, "canceled", 8) or key_is(s, "partial-canceled", 16):
        return ORDER_CANCELED
    if key_is(s, "rejected", 8):
        return ORDER_REJECTED
    return ORDER_UNKNOWN


cdef class HtxPrivateDecoder(PrivateDecoder):
    """Decodes one account's HTX ``/ws/v2`` frames (plain text: /ws/v2 is not gzip'd)."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, data
        cdef value payload
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef int kind = TOPIC_NONE
        cdef bint push = False, has_action = False, data_early = False
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
            if key_is(key, "action", 6):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("action is not a string")
                push = key_is(text, "push", 4)
                has_action = True
                if not push:
                    return self.queue_control(buf, n)     # req (auth), sub, ping, errors
            elif key_is(key, "ch", 2):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("ch is not a string")
                kind = topic_kind(text)
            elif key_is(key, "data", 4):
                if not has_action or kind == TOPIC_NONE:
                    data_early = True
                elif kind != TOPIC_OTHER:
                    if f.val().get_object().get(data) != SUCCESS:
                        return self.fail("push data is not an object")
                    if kind == TOPIC_ORDERS:
                        return self.decode_order(data, ts_receive)
                    return self.decode_account(data, ts_receive)
            inc(it)
        if not has_action:
            return self.fail("message without an action")
        if kind == TOPIC_NONE:
            return self.fail("push without ch")
        if kind == TOPIC_OTHER:
            self.unknown += 1
            return 0
        if not data_early:
            return self.fail("push without data")
        doc.rewind()
        if doc.get_object().get(top) != SUCCESS \
                or top.find_field_unordered(string_view(b"data", 4)).get(payload) != SUCCESS \
                or payload.get_object().get(data) != SUCCESS:
            return self.fail("push data is not an object")
        if kind == TOPIC_ORDERS:
            return self.decode_order(data, ts_receive)
        return self.decode_account(data, ts_receive)

    cdef int decode_order(self, od_object& order, int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, price, size, executed, remaining, trade_price, trade_size
        cdef int64_t ms = 0, left = 0
        memset(&u, 0, sizeof(OrderUpdate))
        if order.begin().get(it) != SUCCESS or order.end().get(end) != SUCCESS:
            return self.fail("malformed order")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed order field")
            key = f.escaped_key()
            if key_is(key, "symbol", 6):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order symbol is not a string")
                u.symbol = text_of(text)
            elif key_is(key, "orderId", 7):
                u.order_id = number_text(f.val().raw_json_token())
            elif key_is(key, "clientOrderId", 13):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("clientOrderId is not a string")
                u.client_id = text_of(text)
            elif key_is(key, "type", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order type is not a string")
                if text.size() > 4 and key_is(string_view(text.data(), 4), "buy-", 4):
                    u.side = 1
                elif text.size() > 5 and key_is(string_view(text.data(), 5), "sell-", 5):
                    u.side = -1
                else:
                    return self.fail("order type is neither buy-* nor sell-*")
            elif key_is(key, "orderStatus", 11):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("orderStatus is not a string")
                u.status = order_status(text)
                if u.status == ORDER_UNKNOWN:
                    return self.fail("unknown orderStatus")
            elif key_is(key, "orderPrice", 10):
                price = f.val().raw_json_token()
            elif key_is(key, "orderSize", 9):
                size = f.val().raw_json_token()
            elif key_is(key, "execAmt", 7):
                executed = f.val().raw_json_token()
            elif key_is(key, "remainAmt", 9):
                remaining = f.val().raw_json_token()
            elif key_is(key, "tradePrice", 10):
                trade_price = f.val().raw_json_token()
            elif key_is(key, "tradeVolume", 11):
                trade_size = f.val().raw_json_token()
            elif key_is(key, "orderCreateTime", 15) or key_is(key, "tradeTime", 9) \
                    or key_is(key, "lastActTime", 11):
                if read_int(f.val(), &ms) != DECIMAL_OK:
                    return self.fail("malformed order time")
            inc(it)
        if u.symbol.size == 0 or u.order_id.size == 0 or u.side == 0 \
                or u.status == ORDER_UNKNOWN:
            return self.fail("order without symbol, orderId, type or orderStatus")
        self.resolve(u.symbol, &u.instrument, &u.price_scale, &u.size_scale)
        u.ts_exchange = ms * MS
        u.sequence = ms
        if (price.size() and token_decimal(price, u.price_scale, &u.price) != DECIMAL_OK) \
                or (executed.size() and token_decimal(executed, u.size_scale, &u.filled)
                    != DECIMAL_OK) \
                or (trade_price.size() and token_decimal(trade_price, u.price_scale,
                                                         &u.last_price) != DECIMAL_OK) \
                or (trade_size.size() and token_decimal(trade_size, u.size_scale,
                                                        &u.last_size) != DECIMAL_OK):
            return self.fail("order price or amount malformed or too precise for the "
                             "instrument's scale")
        if size.size():
            if token_decimal(size, u.size_scale, &u.size) != DECIMAL_OK:
                return self.fail("orderSize malformed or too precise for the scale")
        elif remaining.size():
            # a cancellation: the order's size is what was filled plus what was left
            if token_decimal(remaining, u.size_scale, &left) != DECIMAL_OK or left < 0 \
                    or left > 0x7FFFFFFFFFFFFFFF - u.filled:
                return self.fail("remainAmt malformed or too precise for the scale")
            u.size = u.filled + left
        return self.append_order(&u, ts_receive)

    cdef int decode_account(self, od_object& account, int64_t ts_receive) except -1:
        cdef BalanceUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, balance, available, changed
        memset(&u, 0, sizeof(BalanceUpdate))
        if account.begin().get(it) != SUCCESS or account.end().get(end) != SUCCESS:
            return self.fail("malformed account change")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed account field")
            key = f.escaped_key()
            if key_is(key, "currency", 8):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("currency is not a string")
                u.asset = text_of(text)
            elif key_is(key, "balance", 7):
                balance = f.val().raw_json_token()
            elif key_is(key, "available", 9):
                available = f.val().raw_json_token()
            elif key_is(key, "changeTime", 10):
                changed = f.val().raw_json_token()
            inc(it)
        if u.asset.size == 0 or (balance.size() == 0 and available.size() == 0):
            return self.fail("account change without currency, balance or available")
        if (balance.size() and token_decimal_exact(balance, self.asset_scale, &u.total)
                != DECIMAL_OK) \
                or (available.size() and token_decimal_exact(available, self.asset_scale,
                                                             &u.free) != DECIMAL_OK):
            # HTX pads balances to 18 decimals, and real ones use them all: the row is kept
            # at 18 decimals in 128 bits (``2028.699426619837209087`` needs 22 digits)
            return self.wide_balance(&u, balance, available, changed, ts_receive)
        u.has_totals = balance.size() != 0 and available.size() != 0
        if u.has_totals:
            u.locked = u.total - u.free
        return self.finish_balance(&u, changed, ts_receive)

    cdef int wide_balance(self, BalanceUpdate* u, string_view balance, string_view available,
                          string_view changed, int64_t ts_receive) except -1:
        """The account change at 18 decimals in 128 bits, exact (rounded and flagged only
        past 18 decimals)."""
        cdef int128 total = 0, free = 0
        if (balance.size() and token_decimal128(balance, WIDE_BALANCE_SCALE, &total)
                != DECIMAL_OK) \
                or (available.size() and token_decimal128(available, WIDE_BALANCE_SCALE, &free)
                    != DECIMAL_OK):
            return self.fail("balance or available malformed or beyond 38 digits")
        u.wide = True
        u.has_totals = balance.size() != 0 and available.size() != 0
        split128(total, &u.total, &u.total_high)
        split128(free, &u.free, &u.free_high)
        if u.has_totals:
            split128(total - free, &u.locked, &u.locked_high)
        return self.finish_balance(u, changed, ts_receive)

    cdef int finish_balance(self, BalanceUpdate* u, string_view changed,
                            int64_t ts_receive) except -1:
        cdef int64_t ms = 0
        # the snapshot on subscribe has changeTime null
        if changed.size() and not key_is(changed, "null", 4):
            if token_decimal(changed, 0, &ms) != DECIMAL_OK:
                return self.fail("malformed changeTime")
            u.ts_exchange = ms * MS
        return self.append_balance(u, ts_receive)
