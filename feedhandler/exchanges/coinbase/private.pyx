# distutils: language = c++
"""Coinbase Advanced Trade ``user`` channel (orders) straight into the order ring.

Frames are ``{"channel": "user", "timestamp", "sequence_num", "events": [{"type":
"snapshot"|"update", "orders": [...], "positions": {...}}]}``; every value is a string.

Coinbase reports an order's cumulative figures only (``cumulative_quantity``,
``filled_value``, ``total_fees``), never a fill: the decoder keeps each live order's last
figures in an ``OrderTable`` and turns an increase into a fill row: ``last_size`` = the
quantity change, ``last_price`` = value change / quantity change (rounded half up to the
price scale when not exact), ``fee`` = the fees change, in the product's quote currency. The
snapshot sent on subscribe sets every open order's baseline (a row, no fill); an order first
seen in an update started after the subscribe, so its baseline is zero. The order size is
``cumulative_quantity + leaves_quantity`` while the order lives; a finished order keeps the
size last seen. Status: PENDING / OPEN -> NEW (PARTIALLY_FILLED once something filled),
FILLED, CANCELLED -> CANCELED, EXPIRED, FAILED -> REJECTED. ``sequence_num`` is the row's
sequence. Subscriptions and errors go to control; heartbeats are consumed. Sources: docs/venues/coinbase.md.
"""

from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.jsonread cimport (
    iterate_validated,
    key_is,
    read_int,
    read_string,
    token_decimal_or_zero,
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
from feedhandler.core.ordertable cimport OrderState, OrderTable
from feedhandler.core.private cimport (
    ORDER_CANCELED,
    ORDER_EXPIRED,
    ORDER_FILLED,
    ORDER_NEW,
    ORDER_PARTIALLY_FILLED,
    ORDER_REJECTED,
    ORDER_UNKNOWN,
    OrderUpdate,
    PrivateDecoder,
    Text,
    text_at,
)
from feedhandler.core.rings cimport CLIENT_ID_WIDTH, ORDER_ID_WIDTH, SYMBOL_WIDTH
from feedhandler.core.timestamps cimport parse_timestamp_ns

cdef extern from *:
    """
    typedef __int128 feedhandler_int128;
    """
    ctypedef long long int128 "feedhandler_int128"


cdef inline int order_status(string_view s) noexcept nogil:
    if key_is(s, "OPEN", 4) or key_is(s, "PENDING", 7):
        return ORDER_NEW
    if key_is(s, "FILLED", 6):
        return ORDER_FILLED
    if key_is(s, "CANCELLED", 9) or key_is(s, "CANCEL_QUEUED", 13):
        return ORDER_CANCELED
    if key_is(s, "EXPIRED", 7):
        return ORDER_EXPIRED
    if key_is(s, "FAILED", 6):
        return ORDER_REJECTED
    return ORDER_UNKNOWN


cdef inline int64_t pow10(int n) noexcept nogil:
    cdef int64_t p = 1
    while n > 0:
        p *= 10
        n -= 1
    return p


cdef class CoinbasePrivateDecoder(PrivateDecoder):
    """Decodes one account's ``user`` channel frames."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    def __init__(self, *args, default_price_scale=10, default_size_scale=8, **kwargs):
        super().__init__(*args, default_price_scale=default_price_scale,
                         default_size_scale=default_size_scale, **kwargs)
        self.table = OrderTable()

    def open_orders(self) -> int:
        return self.table.tracked

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, event, record
        cdef value v, events, item, orders, order
        cdef array event_list, order_list
        cdef array_iterator it, end, oit, oend
        cdef string_view channel, kind, text
        cdef error_code found
        cdef bint snapshot
        cdef int flags = 0
        cdef int64_t sequence = 0, ts_message = 0
        if not iterate_validated(self.grammar, self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        found = top.find_field_unordered(string_view(b"channel", 7)).get(v)
        if found == NO_SUCH_FIELD:
            if top.find_field_unordered(string_view(b"type", 4)).get(v) == SUCCESS:
                return self.queue_control(buf, n)          # {"type": "error", ...}
            self.unknown += 1
            return 0
        if found != SUCCESS or v.get_string().get(channel) != SUCCESS:
            return self.fail("channel is not a string")
        if key_is(channel, "heartbeats", 10):
            return 0                       # they only keep the socket busy
        if key_is(channel, "subscriptions", 13):
            return self.queue_control(buf, n)
        if not key_is(channel, "user", 4):
            self.unknown += 1
            return 0
        found = top.find_field_unordered(string_view(b"timestamp", 9)).get(v)
        if found == SUCCESS:
            if v.get_string().get(text) != SUCCESS \
                    or parse_timestamp_ns(text.data(), text.size(), &ts_message) != 0:
                return self.fail("malformed user timestamp")
        elif found != NO_SUCH_FIELD:
            return self.fail("malformed user timestamp")
        if top.find_field_unordered(string_view(b"sequence_num", 12)).get(v) != SUCCESS \
                or read_int(v, &sequence) != DECIMAL_OK:
            return self.fail("user message without a sequence_num")
        if top.find_field_unordered(string_view(b"events", 6)).get(events) != SUCCESS \
                or events.get_array().get(event_list) != SUCCESS \
                or event_list.begin().get(it) != SUCCESS or event_list.end().get(end) != SUCCESS:
            return self.fail("user message without an events array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(event) != SUCCESS:
                return flags | self.fail("user event is not an object")
            snapshot = False
            found = event.find_field_unordered(string_view(b"type", 4)).get(v)
            if found == SUCCESS:
                if v.get_string().get(kind) != SUCCESS:
                    return flags | self.fail("user event type is not a string")
                snapshot = key_is(kind, "snapshot", 8)
            if snapshot:
                self.table.clear()             # the open orders, all of them
            found = event.find_field_unordered(string_view(b"orders", 6)).get(orders)
            if found == SUCCESS:
                if orders.get_array().get(order_list) != SUCCESS \
                        or order_list.begin().get(oit) != SUCCESS \
                        or order_list.end().get(oend) != SUCCESS:
                    return flags | self.fail("user orders is not an array")
                while oit != oend:
                    if deref(oit).get(order) != SUCCESS \
                            or order.get_object().get(record) != SUCCESS:
                        return flags | self.fail("user order is not an object")
                    flags |= self.decode_order(record, snapshot, sequence, ts_message,
                                               ts_receive)
                    inc(oit)
            elif found != NO_SUCH_FIELD:
                return flags | self.fail("malformed user orders")
            inc(it)
        return flags

    cdef int decode_order(self, od_object& record, bint snapshot, int64_t sequence,
                          int64_t ts_message, int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef OrderState* state
        cdef OrderState m
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, order_id, product, client_id
        cdef string_view price, cum_qty, leaves, filled_value, fees
        cdef int side = 0, status = ORDER_UNKNOWN
        cdef int64_t cumulative = 0, leaves_qty = 0, value_units = 0, fee_units = 0, ts = 0
        cdef int64_t delta_qty, delta_value
        cdef int128 numerator, denominator
        cdef bint fresh = False
        cdef size_t dash
        memset(&u, 0, sizeof(OrderUpdate))
        if record.begin().get(it) != SUCCESS or record.end().get(end) != SUCCESS:
            return self.fail("malformed user order")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed user order field")
            key = f.escaped_key()
            if key_is(key, "order_id", 8):
                if not read_string(f.val(), &order_id):
                    return self.fail("order_id is not a string")
            elif key_is(key, "product_id", 10):
                if not read_string(f.val(), &product):
                    return self.fail("product_id is not a string")
            elif key_is(key, "client_order_id", 15):
                if not read_string(f.val(), &client_id):
                    return self.fail("client_order_id is not a string")
            elif key_is(key, "order_side", 10):
                if not read_string(f.val(), &text):
                    return self.fail("order_side is not a string")
                side = 1 if key_is(text, "BUY", 3) else (-1 if key_is(text, "SELL", 4) else 0)
                if side == 0:
                    return self.fail("order_side is neither BUY nor SELL")
            elif key_is(key, "status", 6):
                if not read_string(f.val(), &text):
                    return self.fail("order status is not a string")
                status = order_status(text)
                if status == ORDER_UNKNOWN:
                    return self.fail("unknown order status")
            elif key_is(key, "limit_price", 11):
                price = f.val().raw_json_token()
            elif key_is(key, "cumulative_quantity", 19):
                cum_qty = f.val().raw_json_token()
            elif key_is(key, "leaves_quantity", 15):
                leaves = f.val().raw_json_token()
            elif key_is(key, "filled_value", 12):
                filled_value = f.val().raw_json_token()
            elif key_is(key, "total_fees", 10):
                fees = f.val().raw_json_token()
            elif key_is(key, "creation_time", 13):
                if not read_string(f.val(), &text) or (text.size() != 0 and parse_timestamp_ns(
                        text.data(), text.size(), &ts) != 0):
                    return self.fail("malformed creation_time")
            inc(it)
        if order_id.size() == 0 or order_id.size() > ORDER_ID_WIDTH or product.size() == 0 \
                or product.size() > SYMBOL_WIDTH or client_id.size() > CLIENT_ID_WIDTH \
                or side == 0 or status == ORDER_UNKNOWN:
            return self.fail("user order without order_id, product_id, order_side or status, "
                             "or one longer than its column")
        state = self.table.find(order_id.data(), order_id.size(), False)
        if state == NULL:
            state = self.table.find(order_id.data(), order_id.size(), True)
            if state == NULL:
                return self.fail("more live orders than the order table holds")
            fresh = True
            memcpy(state.symbol, product.data(), product.size())
            state.symbol_size = product.size()
            self.resolve(text_at(state.symbol, state.symbol_size), &state.instrument,
                         &state.price_scale, &state.size_scale)
        m = state[0]
        if token_decimal_or_zero(price, m.price_scale, &u.price) != DECIMAL_OK \
                or token_decimal_or_zero(cum_qty, m.size_scale, &cumulative) != DECIMAL_OK \
                or token_decimal_or_zero(leaves, m.size_scale, &leaves_qty) != DECIMAL_OK \
                or token_decimal_or_zero(filled_value, self.asset_scale, &value_units) != DECIMAL_OK \
                or token_decimal_or_zero(fees, self.asset_scale, &fee_units) != DECIMAL_OK:
            if fresh:
                self.table.forget(state)
            return self.fail("limit_price, cumulative_quantity, leaves_quantity, filled_value "
                             "or total_fees malformed or beyond the scale")
        delta_qty = cumulative - m.filled
        delta_value = value_units - m.value
        if cumulative < 0 or leaves_qty < 0 or delta_qty < 0 or (
                delta_qty == 0 and delta_value != 0) or fee_units < m.fees:
            if fresh:
                self.table.forget(state)
            return self.fail("cumulative figures went backwards or value moved without size")
        m.side = side
        m.price = u.price
        if status == ORDER_NEW or fresh:
            m.size = cumulative + leaves_qty
        if client_id.size() != 0:
            memcpy(m.client_id, client_id.data(), client_id.size())
            m.client_id_size = client_id.size()
        if not snapshot and delta_qty > 0:
            u.last_size = delta_qty
            numerator = <int128>delta_value * pow10(m.price_scale + m.size_scale)
            denominator = <int128>delta_qty * pow10(self.asset_scale)
            u.last_price = <int64_t>((numerator + denominator // 2) // denominator)
            u.fee = fee_units - m.fees
            dash = product.find(b'-')
            if dash != <size_t>-1:
                u.fee_asset = text_at(state.symbol + dash + 1, state.symbol_size - dash - 1)
            self.fills += 1
        m.filled = cumulative
        m.value = value_units
        m.fees = fee_units
        if status == ORDER_NEW and cumulative > 0:
            status = ORDER_PARTIALLY_FILLED
        m.status = status
        if m.filled > m.size:
            if fresh:
                self.table.forget(state)
            return self.fail("cumulative_quantity beyond the order size")
        state[0] = m
        u.ts_exchange = ts_message if ts_message else ts
        u.sequence = sequence
        u.side = m.side
        u.status = m.status
        u.instrument = m.instrument
        u.price_scale = m.price_scale
        u.size_scale = m.size_scale
        u.size = m.size
        u.filled = m.filled
        u.symbol = text_at(state.symbol, state.symbol_size)
        u.order_id = text_at(state.order_id, state.order_id_size)
        u.client_id = text_at(state.client_id, state.client_id_size)
        flags = self.append_order(&u, ts_receive)
        if status != ORDER_NEW and status != ORDER_PARTIALLY_FILLED:
            self.table.forget(state)
        return flags
