# distutils: language = c++
"""OKX v5 private channels (spot) straight into the private rings.

Pushes are ``{"arg": {"channel": ...}, "data": [records]}``. ``orders`` records give one
order row each: the order's state, cumulative ``accFillSz`` and, when the push is a fill
(``fillSz`` > 0), that fill's ``fillPx`` / ``fillSz`` / ``fillFee`` in ``fillFeeCcy``. OKX signs
fees as the account's cash flow (negative: charged, positive: rebate); the ring keeps a fee as
the other venues do, charged positive, so the sign is flipped. ``account`` records give one
balance row per ``details`` currency: ``cashBal`` (total), ``availBal`` (free), ``frozenBal``
(locked). ``event`` replies (login, subscribe, error) go to control, the text ``pong`` is
consumed; other channels (``positions`` and the rest: no derivatives here) are counted unknown.
Field sources: docs/venues/okx.md, "Private streams".
"""

from libc.stdint cimport int64_t
from libc.string cimport memset
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.jsonread cimport (
    iterate_validated,
    key_is,
    read_int,
    token_decimal,
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
from feedhandler.core.private cimport (
    ORDER_CANCELED,
    ORDER_FILLED,
    ORDER_NEW,
    ORDER_PARTIALLY_FILLED,
    ORDER_UNKNOWN,
    BalanceUpdate,
    OrderUpdate,
    PrivateDecoder,
    Text,
    text_of,
)

cdef int64_t MS = 1000000

cdef enum ChannelKind:
    CHANNEL_UNKNOWN = 0
    CHANNEL_ORDERS = 1
    CHANNEL_ACCOUNT = 2


cdef inline int order_state(string_view s) noexcept nogil:
    if key_is(s, "live", 4):
        return ORDER_NEW
    if key_is(s, "partially_filled", 16):
        return ORDER_PARTIALLY_FILLED
    if key_is(s, "filled", 6):
        return ORDER_FILLED
    if key_is(s, "canceled", 8) or key_is(s, "mmp_canceled", 12):
        return ORDER_CANCELED
    return ORDER_UNKNOWN


cdef inline bint read_text(value& v, Text* out) noexcept nogil:
    cdef string_view s
    if v.get_string().get(s) != SUCCESS:
        return False
    out[0] = text_of(s)
    return True


cdef class OkxPrivateDecoder(PrivateDecoder):
    """Decodes one account's ``/ws/v5/private`` frames."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, arg, record
        cdef value v, data, item
        cdef array records
        cdef array_iterator it, end
        cdef string_view text
        cdef error_code found
        cdef int kind, flags = 0
        if n == 4 and key_is(string_view(buf, 4), "pong", 4):
            return 0
        if not iterate_validated(self.grammar, self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        found = top.find_field_unordered(string_view(b"event", 5)).get(v)
        if found == SUCCESS:
            return self.queue_control(buf, n)
        if found != NO_SUCH_FIELD:
            return self.fail("malformed event")
        found = top.find_field_unordered(string_view(b"arg", 3)).get(v)
        if found == NO_SUCH_FIELD:
            self.unknown += 1
            return 0
        if found != SUCCESS or v.get_object().get(arg) != SUCCESS \
                or arg.find_field_unordered(string_view(b"channel", 7)).get(v) != SUCCESS \
                or v.get_string().get(text) != SUCCESS:
            return self.fail("push arg without a channel")
        if key_is(text, "orders", 6):
            kind = CHANNEL_ORDERS
        elif key_is(text, "account", 7):
            kind = CHANNEL_ACCOUNT
        else:
            self.unknown += 1
            return 0
        if top.find_field_unordered(string_view(b"data", 4)).get(data) != SUCCESS \
                or data.get_array().get(records) != SUCCESS \
                or records.begin().get(it) != SUCCESS or records.end().get(end) != SUCCESS:
            return self.fail("private push without a data array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(record) != SUCCESS:
                return flags | self.fail("private record is not an object")
            if kind == CHANNEL_ORDERS:
                flags |= self.decode_order(record, ts_receive)
            else:
                flags |= self.decode_account(record, ts_receive)
            inc(it)
        return flags

    cdef int decode_order(self, od_object& record, int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, price, size, filled, last_price, last_size, fee
        cdef Text fee_asset
        cdef bint have_side = False
        memset(&u, 0, sizeof(OrderUpdate))
        fee_asset.data = NULL
        fee_asset.size = 0
        if record.begin().get(it) != SUCCESS or record.end().get(end) != SUCCESS:
            return self.fail("malformed order record")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed order field")
            key = f.escaped_key()
            if key_is(key, "instId", 6):
                if not read_text(f.val(), &u.symbol):
                    return self.fail("instId is not a string")
            elif key_is(key, "ordId", 5):
                if not read_text(f.val(), &u.order_id):
                    return self.fail("ordId is not a string")
            elif key_is(key, "clOrdId", 7):
                if not read_text(f.val(), &u.client_id):
                    return self.fail("clOrdId is not a string")
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order side is not a string")
                if key_is(text, "buy", 3):
                    u.side = 1
                elif key_is(text, "sell", 4):
                    u.side = -1
                else:
                    return self.fail("order side is neither buy nor sell")
                have_side = True
            elif key_is(key, "state", 5):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order state is not a string")
                u.status = order_state(text)
                if u.status == ORDER_UNKNOWN:
                    return self.fail("unknown order state")
            elif key_is(key, "px", 2):
                price = f.val().raw_json_token()
            elif key_is(key, "sz", 2):
                size = f.val().raw_json_token()
            elif key_is(key, "accFillSz", 9):
                filled = f.val().raw_json_token()
            elif key_is(key, "fillPx", 6):
                last_price = f.val().raw_json_token()
            elif key_is(key, "fillSz", 6):
                last_size = f.val().raw_json_token()
            elif key_is(key, "fillFee", 7):
                fee = f.val().raw_json_token()
            elif key_is(key, "fillFeeCcy", 10):
                if not read_text(f.val(), &fee_asset):
                    return self.fail("fillFeeCcy is not a string")
            elif key_is(key, "uTime", 5):
                if read_int(f.val(), &u.sequence) != DECIMAL_OK:
                    return self.fail("malformed uTime")
            inc(it)
        if u.symbol.size == 0 or u.order_id.size == 0 or not have_side \
                or u.status == ORDER_UNKNOWN:
            return self.fail("order without instId, ordId, side or state")
        self.resolve(u.symbol, &u.instrument, &u.price_scale, &u.size_scale)
        if token_decimal_or_zero(price, u.price_scale, &u.price) != DECIMAL_OK \
                or token_decimal(size, u.size_scale, &u.size) != DECIMAL_OK \
                or token_decimal_or_zero(filled, u.size_scale, &u.filled) != DECIMAL_OK \
                or token_decimal_or_zero(last_size, u.size_scale, &u.last_size) != DECIMAL_OK:
            return self.fail("order px, sz, accFillSz or fillSz malformed or too precise for "
                             "the instrument's scale")
        if u.last_size:               # a fill: its price and fee
            if token_decimal(last_price, u.price_scale, &u.last_price) != DECIMAL_OK \
                    or token_decimal_or_zero(fee, self.asset_scale, &u.fee) != DECIMAL_OK:
                return self.fail("order fillPx or fillFee malformed or out of scale")
            u.fee = -u.fee
            u.fee_asset = fee_asset
        u.ts_exchange = u.sequence * MS
        return self.append_order(&u, ts_receive)

    cdef int decode_account(self, od_object& account, int64_t ts_receive) except -1:
        cdef value v, item
        cdef array details
        cdef array_iterator it, end
        cdef od_object detail
        cdef object_iterator fit, fend
        cdef field f
        cdef string_view key, total, free, locked
        cdef BalanceUpdate u
        cdef int64_t updated = 0, account_time = 0
        cdef int flags = 0
        cdef error_code found = account.find_field_unordered(string_view(b"uTime", 5)).get(v)
        if found == SUCCESS:
            if read_int(v, &account_time) != DECIMAL_OK:
                return self.fail("malformed account uTime")
        elif found != NO_SUCH_FIELD:
            return self.fail("malformed account uTime")
        if account.find_field_unordered(string_view(b"details", 7)).get(v) != SUCCESS \
                or v.get_array().get(details) != SUCCESS \
                or details.begin().get(it) != SUCCESS or details.end().get(end) != SUCCESS:
            return self.fail("account record without a details array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(detail) != SUCCESS \
                    or detail.begin().get(fit) != SUCCESS or detail.end().get(fend) != SUCCESS:
                return flags | self.fail("account detail is not an object")
            memset(&u, 0, sizeof(BalanceUpdate))
            total = string_view()
            free = string_view()
            locked = string_view()
            updated = account_time
            while fit != fend:
                if deref(fit).get(f) != SUCCESS:
                    return flags | self.fail("malformed account detail field")
                key = f.escaped_key()
                if key_is(key, "ccy", 3):
                    if not read_text(f.val(), &u.asset):
                        return flags | self.fail("ccy is not a string")
                elif key_is(key, "cashBal", 7):
                    total = f.val().raw_json_token()
                elif key_is(key, "availBal", 8):
                    free = f.val().raw_json_token()
                elif key_is(key, "frozenBal", 9):
                    locked = f.val().raw_json_token()
                elif key_is(key, "uTime", 5):
                    if read_int(f.val(), &updated) != DECIMAL_OK:
                        return flags | self.fail("malformed detail uTime")
                inc(fit)
            if u.asset.size == 0 \
                    or token_decimal(total, self.asset_scale, &u.total) != DECIMAL_OK \
                    or token_decimal_or_zero(free, self.asset_scale, &u.free) != DECIMAL_OK \
                    or token_decimal_or_zero(locked, self.asset_scale, &u.locked) != DECIMAL_OK:
                return flags | self.fail("account detail without ccy, or cashBal/availBal/"
                                         "frozenBal malformed or beyond the asset scale")
            u.has_totals = True
            u.ts_exchange = updated * MS
            flags |= self.append_balance(&u, ts_receive)
            inc(it)
        return flags
