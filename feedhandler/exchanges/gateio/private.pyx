# distutils: language = c++
"""Gate.io spot WebSocket v4 private channels, spot.orders and spot.balances, into the rings.

Notifications are ``{"time", "time_ms", "channel", "event": "update", "result": [...]}``
with a *list* of orders or balances (docs/venues/gateio.md, "Private streams"). Anything
else carrying a channel (subscribe replies, errors, spot.pong) is queued for the adapter,
which turns an authentication error into ``AuthError``. Other channels' updates
(spot.usertrades, ...) are counted in ``unknown``.

spot.orders carries no single fill: ``filled`` is the cumulative base amount
(``filled_amount``, else ``amount - left``), ``fee`` the order's cumulative fee in
``fee_currency``, ``last_price``/``last_size`` stay 0. Its ``event`` is ``put`` (NEW),
``update`` (PARTIALLY_FILLED; NEW while nothing is filled, an amendment) or ``finish``, whose ``finish_as`` says FILLED or CANCELED
(``cancelled``, ``ioc``, ``stp``, ...); rejected orders are never pushed. The sequence is
``update_time_ms`` (Gate numbers nothing on private channels).
"""

from libc.stdint cimport int64_t
from libc.string cimport memset
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.jsonread cimport iterate_whole, key_is, token_decimal
from feedhandler.core.ondemand cimport (
    SUCCESS,
    array,
    array_iterator,
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
    BalanceUpdate,
    OrderUpdate,
    PrivateDecoder,
    text_of,
)

cdef int64_t US = 1000

cdef enum ChannelKind:
    CHANNEL_NONE = 0        # no channel field seen
    CHANNEL_OTHER = 1
    CHANNEL_ORDERS = 2
    CHANNEL_BALANCES = 3


cdef inline int channel_kind(string_view name) noexcept nogil:
    if key_is(name, "spot.orders", 11):
        return CHANNEL_ORDERS
    if key_is(name, "spot.balances", 13):
        return CHANNEL_BALANCES
    return CHANNEL_OTHER


cdef inline int ms_to_ns(string_view token, int64_t* out) noexcept nogil:
    """``"1605175506123"`` (ms, a fraction of up to 3 digits allowed) -> ns."""
    cdef int status = token_decimal(token, 3, out)
    if status == DECIMAL_OK:
        out[0] *= US
    return status


cdef class GateioPrivateDecoder(PrivateDecoder):
    """Decodes one account's Gate.io private notifications."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top
        cdef object_iterator it, end
        cdef field f
        cdef value result
        cdef string_view key, text
        cdef int kind = CHANNEL_NONE
        cdef bint update = False, has_event = False, result_early = False
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
            if key_is(key, "channel", 7):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("channel is not a string")
                kind = channel_kind(text)
            elif key_is(key, "event", 5):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("event is not a string")
                update = key_is(text, "update", 6)
                has_event = True
            elif key_is(key, "result", 6):
                if kind == CHANNEL_NONE or not has_event:
                    result_early = True    # read once channel and event are known
                elif update and kind != CHANNEL_OTHER:
                    return self.decode_result(f.val(), kind, ts_receive)
            inc(it)
        if kind == CHANNEL_NONE:
            return self.fail("message without a channel")
        if not update:
            return self.queue_control(buf, n)      # subscribe replies, errors, spot.pong
        if kind == CHANNEL_OTHER:
            self.unknown += 1
            return 0
        if result_early:
            doc.rewind()
            if doc.get_object().get(top) != SUCCESS \
                    or top.find_field_unordered(string_view(b"result", 6)).get(result) \
                    != SUCCESS:
                return self.fail("malformed update")
            return self.decode_result(result, kind, ts_receive)
        return self.fail("update without result")

    cdef int decode_result(self, value& result, int kind, int64_t ts_receive) except -1:
        cdef array items
        cdef array_iterator it, end
        cdef value item
        cdef od_object entry
        cdef int flags = 0
        if result.get_array().get(items) != SUCCESS or items.begin().get(it) != SUCCESS \
                or items.end().get(end) != SUCCESS:
            return self.fail("private update result is not a list")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(entry) != SUCCESS:
                return flags | self.fail("private update entry is not an object")
            if kind == CHANNEL_ORDERS:
                flags |= self.decode_order(entry, ts_receive)
            else:
                flags |= self.decode_balance(entry, ts_receive)
            inc(it)
        return flags

    cdef int decode_order(self, od_object& order, int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, price, amount, left, filled, fee, updated
        cdef string_view event, finish_as
        cdef int64_t remaining = 0
        memset(&u, 0, sizeof(OrderUpdate))
        if order.begin().get(it) != SUCCESS or order.end().get(end) != SUCCESS:
            return self.fail("malformed order")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed order field")
            key = f.escaped_key()
            if key_is(key, "id", 2):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order id is not a string")
                u.order_id = text_of(text)
            elif key_is(key, "text", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order text is not a string")
                u.client_id = text_of(text)
            elif key_is(key, "currency_pair", 13):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("currency_pair is not a string")
                u.symbol = text_of(text)
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order side is not a string")
                if key_is(text, "buy", 3):
                    u.side = 1
                elif key_is(text, "sell", 4):
                    u.side = -1
                else:
                    return self.fail("order side is neither buy nor sell")
            elif key_is(key, "event", 5):
                if f.val().get_string().get(event) != SUCCESS:
                    return self.fail("order event is not a string")
            elif key_is(key, "finish_as", 9):
                if f.val().get_string().get(finish_as) != SUCCESS:
                    return self.fail("finish_as is not a string")
            elif key_is(key, "price", 5):
                price = f.val().raw_json_token()
            elif key_is(key, "amount", 6):
                amount = f.val().raw_json_token()
            elif key_is(key, "left", 4):
                left = f.val().raw_json_token()
            elif key_is(key, "filled_amount", 13):
                filled = f.val().raw_json_token()
            elif key_is(key, "fee", 3):
                fee = f.val().raw_json_token()
            elif key_is(key, "fee_currency", 12):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("fee_currency is not a string")
                u.fee_asset = text_of(text)
            elif key_is(key, "update_time_ms", 14):
                updated = f.val().raw_json_token()
            inc(it)
        if u.symbol.size == 0 or u.order_id.size == 0 or u.side == 0:
            return self.fail("order without currency_pair, id or side")
        if key_is(event, "put", 3):
            u.status = ORDER_NEW
        elif key_is(event, "update", 6):
            u.status = ORDER_PARTIALLY_FILLED
        elif key_is(event, "finish", 6):
            u.status = ORDER_FILLED if key_is(finish_as, "filled", 6) else ORDER_CANCELED
        else:
            return self.fail("order event is not put, update or finish")
        if ms_to_ns(updated, &u.ts_exchange) != DECIMAL_OK:
            return self.fail("order update_time_ms missing or malformed")
        u.sequence = u.ts_exchange // 1000000
        self.resolve(u.symbol, &u.instrument, &u.price_scale, &u.size_scale)
        if token_decimal(price, u.price_scale, &u.price) != DECIMAL_OK \
                or token_decimal(amount, u.size_scale, &u.size) != DECIMAL_OK:
            return self.fail("order price or amount malformed or too precise for the "
                             "instrument's scale")
        if filled.size():
            if token_decimal(filled, u.size_scale, &u.filled) != DECIMAL_OK:
                return self.fail("order filled_amount malformed or out of scale")
        elif token_decimal(left, u.size_scale, &remaining) != DECIMAL_OK \
                or remaining < 0 or remaining > u.size:
            return self.fail("order left malformed, out of scale or beyond its amount")
        else:
            u.filled = u.size - remaining
        if fee.size() and token_decimal(fee, self.asset_scale, &u.fee) != DECIMAL_OK:
            return self.fail("order fee malformed or beyond the asset scale")
        if u.status == ORDER_FILLED and finish_as.size() == 0 and u.filled != u.size:
            u.status = ORDER_CANCELED
        elif u.status == ORDER_PARTIALLY_FILLED and u.filled == 0:
            u.status = ORDER_NEW        # an update without a fill (an amended order)
        return self.append_order(&u, ts_receive)

    cdef int decode_balance(self, od_object& balance, int64_t ts_receive) except -1:
        cdef BalanceUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, total, available, freeze, change, stamp
        memset(&u, 0, sizeof(BalanceUpdate))
        if balance.begin().get(it) != SUCCESS or balance.end().get(end) != SUCCESS:
            return self.fail("malformed balance")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed balance field")
            key = f.escaped_key()
            if key_is(key, "currency", 8):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("balance currency is not a string")
                u.asset = text_of(text)
            elif key_is(key, "total", 5):
                total = f.val().raw_json_token()
            elif key_is(key, "available", 9):
                available = f.val().raw_json_token()
            elif key_is(key, "freeze", 6):
                freeze = f.val().raw_json_token()
            elif key_is(key, "change", 6):
                change = f.val().raw_json_token()
            elif key_is(key, "timestamp_ms", 12):
                stamp = f.val().raw_json_token()
            inc(it)
        if u.asset.size == 0 \
                or token_decimal(total, self.asset_scale, &u.total) != DECIMAL_OK \
                or token_decimal(available, self.asset_scale, &u.free) != DECIMAL_OK \
                or (change.size() and token_decimal(change, self.asset_scale, &u.delta)
                    != DECIMAL_OK):
            return self.fail("balance without currency, or total/available/change malformed "
                             "or beyond the asset scale")
        if freeze.size():
            if token_decimal(freeze, self.asset_scale, &u.locked) != DECIMAL_OK:
                return self.fail("balance freeze malformed or beyond the asset scale")
        else:
            u.locked = u.total - u.free
        if stamp.size() and ms_to_ns(stamp, &u.ts_exchange) != DECIMAL_OK:
            return self.fail("balance timestamp_ms malformed")
        u.has_totals = True
        return self.append_balance(&u, ts_receive)
