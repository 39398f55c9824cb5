# distutils: language = c++
"""Bybit v5 private stream (spot and linear) straight into the private rings.

Frames are ``{"topic", "creationTime", "data": [records]}``; a topic is ``order``,
``execution``, ``wallet`` or ``position``, alone or with its category (``order.spot``).

Orders come from two topics: ``execution`` reports each fill (execPrice, execQty, execFee,
feeCurrency, leavesQty), ``order`` the order's state with only cumulative fill figures. So
fills are taken from ``execution`` (one row per fill, with that fill's fee), and ``order``
gives the rows of every other state (New, Cancelled, Rejected, Deactivated); its
PartiallyFilled / Filled records repeat what the execution already reported and are counted
in ``fill_echoes``, not written (that also drops the second ``Filled`` Bybit sends when a
cancel races a fill). Balances: ``wallet`` coins (walletBalance, locked). Positions:
``position`` records (size signed by side). Replies (``op`` auth / subscribe) go to control,
pongs are consumed. Field sources: docs/venues/bybit.md, "Private streams".
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
    ORDER_REJECTED,
    ORDER_UNKNOWN,
    BalanceUpdate,
    OrderUpdate,
    PositionUpdate,
    PrivateDecoder,
    Text,
    text_of,
)

cdef int64_t MS = 1000000

cdef enum TopicKind:
    TOPIC_UNKNOWN = 0
    TOPIC_ORDER = 1
    TOPIC_EXECUTION = 2
    TOPIC_WALLET = 3
    TOPIC_POSITION = 4

cdef enum:
    FILL_STATE = -1          # PartiallyFilled / Filled on the order topic


cdef inline int topic_kind(string_view topic) noexcept nogil:
    """``order`` or ``order.<category>`` -> TOPIC_ORDER; anything else (``execution.fast``,
    ``greeks``, ``dcp``) is unknown."""
    cdef size_t dot = topic.find(b'.')
    cdef string_view name = topic if dot == <size_t>-1 else topic.substr(0, dot)
    cdef string_view category
    if dot != <size_t>-1:
        category = topic.substr(dot + 1)
        if not (key_is(category, "spot", 4) or key_is(category, "linear", 6)
                or key_is(category, "inverse", 7) or key_is(category, "option", 6)):
            return TOPIC_UNKNOWN
    if key_is(name, "order", 5):
        return TOPIC_ORDER
    if key_is(name, "execution", 9):
        return TOPIC_EXECUTION
    if key_is(name, "wallet", 6) and dot == <size_t>-1:
        return TOPIC_WALLET
    if key_is(name, "position", 8):
        return TOPIC_POSITION
    return TOPIC_UNKNOWN


cdef inline int order_status(string_view s) noexcept nogil:
    if key_is(s, "New", 3) or key_is(s, "Untriggered", 11) or key_is(s, "Triggered", 9) \
            or key_is(s, "Created", 7) or key_is(s, "Active", 6):
        return ORDER_NEW
    if key_is(s, "Cancelled", 9) or key_is(s, "PartiallyFilledCanceled", 23) \
            or key_is(s, "Deactivated", 11):
        return ORDER_CANCELED
    if key_is(s, "Rejected", 8):
        return ORDER_REJECTED
    if key_is(s, "PartiallyFilled", 15) or key_is(s, "Filled", 6):
        return FILL_STATE
    return ORDER_UNKNOWN


cdef inline bint read_text(value& v, Text* out) noexcept nogil:
    cdef string_view s
    if v.get_string().get(s) != SUCCESS:
        return False
    out[0] = text_of(s)
    return True


cdef inline int side_of(string_view s) noexcept nogil:
    if key_is(s, "Buy", 3):
        return 1
    if key_is(s, "Sell", 4):
        return -1
    return 0


cdef class BybitPrivateDecoder(PrivateDecoder):
    """Decodes one account's ``/v5/private`` frames."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, record
        cdef value v, data, item
        cdef array records
        cdef array_iterator it, end
        cdef string_view text
        cdef error_code found
        cdef int kind, flags = 0
        cdef int64_t created = 0
        if not iterate_validated(self.grammar, self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        found = top.find_field_unordered(string_view(b"topic", 5)).get(v)
        if found == NO_SUCH_FIELD:
            return self.decode_reply(top, buf, n)
        if found != SUCCESS or v.get_string().get(text) != SUCCESS:
            return self.fail("topic is not a string")
        kind = topic_kind(text)
        if kind == TOPIC_UNKNOWN:
            self.unknown += 1
            return 0
        found = top.find_field_unordered(string_view(b"creationTime", 12)).get(v)
        if found == SUCCESS:
            if read_int(v, &created) != DECIMAL_OK:
                return self.fail("malformed creationTime")
        elif found != NO_SUCH_FIELD:
            return self.fail("malformed creationTime")
        if top.find_field_unordered(string_view(b"data", 4)).get(data) != SUCCESS \
                or data.get_array().get(records) != SUCCESS \
                or records.begin().get(it) != SUCCESS or records.end().get(end) != SUCCESS:
            return self.fail("private frame without a data array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(record) != SUCCESS:
                return flags | self.fail("private record is not an object")
            if kind == TOPIC_ORDER:
                flags |= self.decode_order(record, created, ts_receive)
            elif kind == TOPIC_EXECUTION:
                flags |= self.decode_execution(record, created, ts_receive)
            elif kind == TOPIC_WALLET:
                flags |= self.decode_wallet(record, created, ts_receive)
            else:
                flags |= self.decode_position(record, created, ts_receive)
            inc(it)
        return flags

    cdef int decode_reply(self, od_object& top, const char* buf, size_t n) except -1:
        """Pongs are consumed; auth and subscribe replies (``op``, or the older ``request``
        echo) go to the adapter; any other object is counted unknown."""
        cdef value v
        cdef string_view op
        cdef error_code found = top.find_field_unordered(string_view(b"op", 2)).get(v)
        if found == SUCCESS:
            if v.get_string().get(op) != SUCCESS:
                return self.fail("op is not a string")
            if key_is(op, "pong", 4) or key_is(op, "ping", 4):
                return 0
            return self.queue_control(buf, n)
        if top.find_field_unordered(string_view(b"success", 7)).get(v) == SUCCESS:
            return self.queue_control(buf, n)
        self.unknown += 1
        return 0

    cdef int decode_order(self, od_object& record, int64_t created,
                          int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, price, size, filled
        cdef bint have_side = False
        memset(&u, 0, sizeof(OrderUpdate))
        u.sequence = created
        if record.begin().get(it) != SUCCESS or record.end().get(end) != SUCCESS:
            return self.fail("malformed order record")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed order field")
            key = f.escaped_key()
            if key_is(key, "symbol", 6):
                if not read_text(f.val(), &u.symbol):
                    return self.fail("order symbol is not a string")
            elif key_is(key, "orderId", 7):
                if not read_text(f.val(), &u.order_id):
                    return self.fail("orderId is not a string")
            elif key_is(key, "orderLinkId", 11):
                if not read_text(f.val(), &u.client_id):
                    return self.fail("orderLinkId is not a string")
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("order side is not a string")
                u.side = side_of(text)
                have_side = u.side != 0
            elif key_is(key, "orderStatus", 11):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("orderStatus is not a string")
                u.status = order_status(text)
                if u.status == ORDER_UNKNOWN:
                    return self.fail("unknown orderStatus")
            elif key_is(key, "price", 5):
                price = f.val().raw_json_token()
            elif key_is(key, "qty", 3):
                size = f.val().raw_json_token()
            elif key_is(key, "cumExecQty", 10):
                filled = f.val().raw_json_token()
            elif key_is(key, "updatedTime", 11):
                if read_int(f.val(), &u.sequence) != DECIMAL_OK:
                    return self.fail("malformed updatedTime")
            inc(it)
        if u.symbol.size == 0 or u.order_id.size == 0 or not have_side \
                or u.status == ORDER_UNKNOWN:
            return self.fail("order without symbol, orderId, side or orderStatus")
        if u.status == FILL_STATE:
            self.fill_echoes += 1
            return 0
        u.ts_exchange = u.sequence * MS
        self.resolve(u.symbol, &u.instrument, &u.price_scale, &u.size_scale)
        if token_decimal_or_zero(price, u.price_scale, &u.price) != DECIMAL_OK \
                or token_decimal(size, u.size_scale, &u.size) != DECIMAL_OK \
                or token_decimal_or_zero(filled, u.size_scale, &u.filled) != DECIMAL_OK:
            return self.fail("order price, qty or cumExecQty malformed or too precise for "
                             "the instrument's scale")
        return self.append_order(&u, ts_receive)

    cdef int decode_execution(self, od_object& record, int64_t created,
                              int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, price, size, leaves, last_price, last_size, fee
        cdef bint have_side = False, trade = False, have_type = False
        cdef int64_t leaves_qty = 0
        memset(&u, 0, sizeof(OrderUpdate))
        u.sequence = created
        if record.begin().get(it) != SUCCESS or record.end().get(end) != SUCCESS:
            return self.fail("malformed execution record")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed execution field")
            key = f.escaped_key()
            if key_is(key, "symbol", 6):
                if not read_text(f.val(), &u.symbol):
                    return self.fail("execution symbol is not a string")
            elif key_is(key, "orderId", 7):
                if not read_text(f.val(), &u.order_id):
                    return self.fail("orderId is not a string")
            elif key_is(key, "orderLinkId", 11):
                if not read_text(f.val(), &u.client_id):
                    return self.fail("orderLinkId is not a string")
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("execution side is not a string")
                u.side = side_of(text)
                have_side = u.side != 0
            elif key_is(key, "execType", 8):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("execType is not a string")
                have_type = True
                trade = key_is(text, "Trade", 5) or key_is(text, "AdlTrade", 8) \
                    or key_is(text, "BustTrade", 9) or key_is(text, "BlockTrade", 10)
            elif key_is(key, "execPrice", 9):
                last_price = f.val().raw_json_token()
            elif key_is(key, "execQty", 7):
                last_size = f.val().raw_json_token()
            elif key_is(key, "execFee", 7):
                fee = f.val().raw_json_token()
            elif key_is(key, "feeCurrency", 11):
                if not read_text(f.val(), &u.fee_asset):
                    return self.fail("feeCurrency is not a string")
            elif key_is(key, "orderPrice", 10):
                price = f.val().raw_json_token()
            elif key_is(key, "orderQty", 8):
                size = f.val().raw_json_token()
            elif key_is(key, "leavesQty", 9):
                leaves = f.val().raw_json_token()
            elif key_is(key, "execTime", 8):
                if read_int(f.val(), &u.sequence) != DECIMAL_OK:
                    return self.fail("malformed execTime")
            inc(it)
        if not have_type:
            return self.fail("execution without execType")
        if not trade:
            self.unknown += 1          # Funding, Settle, Delivery: not a fill of an order
            return 0
        if u.symbol.size == 0 or u.order_id.size == 0 or not have_side:
            return self.fail("execution without symbol, orderId or side")
        u.ts_exchange = u.sequence * MS
        self.resolve(u.symbol, &u.instrument, &u.price_scale, &u.size_scale)
        if token_decimal_or_zero(price, u.price_scale, &u.price) != DECIMAL_OK \
                or token_decimal(size, u.size_scale, &u.size) != DECIMAL_OK \
                or token_decimal(leaves, u.size_scale, &leaves_qty) != DECIMAL_OK \
                or token_decimal(last_price, u.price_scale, &u.last_price) != DECIMAL_OK \
                or token_decimal(last_size, u.size_scale, &u.last_size) != DECIMAL_OK \
                or token_decimal_or_zero(fee, self.asset_scale, &u.fee) != DECIMAL_OK:
            return self.fail("execution price, quantity, leavesQty or fee malformed or out "
                             "of scale")
        if leaves_qty < 0 or leaves_qty > u.size:
            return self.fail("execution leavesQty outside 0..orderQty")
        u.filled = u.size - leaves_qty
        u.status = ORDER_FILLED if leaves_qty == 0 else ORDER_PARTIALLY_FILLED
        return self.append_order(&u, ts_receive)

    cdef int decode_wallet(self, od_object& account, int64_t created,
                           int64_t ts_receive) except -1:
        cdef value v, item
        cdef array coins
        cdef array_iterator it, end
        cdef od_object coin
        cdef object_iterator fit, fend
        cdef field f
        cdef string_view key, total, locked
        cdef BalanceUpdate u
        cdef int flags = 0
        if account.find_field_unordered(string_view(b"coin", 4)).get(v) != SUCCESS \
                or v.get_array().get(coins) != SUCCESS or coins.begin().get(it) != SUCCESS \
                or coins.end().get(end) != SUCCESS:
            return self.fail("wallet record without a coin array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(coin) != SUCCESS \
                    or coin.begin().get(fit) != SUCCESS or coin.end().get(fend) != SUCCESS:
                return flags | self.fail("wallet coin is not an object")
            memset(&u, 0, sizeof(BalanceUpdate))
            total = string_view()
            locked = string_view()
            while fit != fend:
                if deref(fit).get(f) != SUCCESS:
                    return flags | self.fail("malformed wallet coin field")
                key = f.escaped_key()
                if key_is(key, "coin", 4):
                    if not read_text(f.val(), &u.asset):
                        return flags | self.fail("wallet coin name is not a string")
                elif key_is(key, "walletBalance", 13):
                    total = f.val().raw_json_token()
                elif key_is(key, "locked", 6):
                    locked = f.val().raw_json_token()
                inc(fit)
            if u.asset.size == 0 \
                    or token_decimal(total, self.asset_scale, &u.total) != DECIMAL_OK \
                    or token_decimal_or_zero(locked, self.asset_scale, &u.locked) != DECIMAL_OK:
                return flags | self.fail("wallet coin without coin, or walletBalance/locked "
                                         "malformed or beyond the asset scale")
            if u.locked < 0 or u.locked > u.total and u.total >= 0:
                return flags | self.fail("wallet coin locked outside 0..walletBalance")
            u.free = u.total - u.locked
            u.has_totals = True
            u.ts_exchange = created * MS
            flags |= self.append_balance(&u, ts_receive)
            inc(it)
        return flags

    cdef int decode_position(self, od_object& record, int64_t created,
                             int64_t ts_receive) except -1:
        cdef PositionUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, size, entry, average, pnl
        cdef int direction = 0
        cdef int64_t leg = 0, updated = created
        memset(&u, 0, sizeof(PositionUpdate))
        if record.begin().get(it) != SUCCESS or record.end().get(end) != SUCCESS:
            return self.fail("malformed position record")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed position field")
            key = f.escaped_key()
            if key_is(key, "symbol", 6):
                if not read_text(f.val(), &u.symbol):
                    return self.fail("position symbol is not a string")
            elif key_is(key, "side", 4):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("position side is not a string")
                direction = side_of(text)
                if direction == 0 and text.size() != 0:
                    return self.fail("position side is neither Buy, Sell nor empty")
            elif key_is(key, "size", 4):
                size = f.val().raw_json_token()
            elif key_is(key, "entryPrice", 10):
                entry = f.val().raw_json_token()
            elif key_is(key, "avgPrice", 8):
                average = f.val().raw_json_token()
            elif key_is(key, "unrealisedPnl", 13):
                pnl = f.val().raw_json_token()
            elif key_is(key, "positionIdx", 11):
                if read_int(f.val(), &leg) != DECIMAL_OK:
                    return self.fail("malformed positionIdx")
            elif key_is(key, "updatedTime", 11):
                if read_int(f.val(), &updated) != DECIMAL_OK:
                    return self.fail("malformed updatedTime")
            inc(it)
        if u.symbol.size == 0:
            return self.fail("position without symbol")
        if entry.size() == 0:
            entry = average                # later docs name the entry price avgPrice
        self.resolve(u.symbol, &u.instrument, &u.price_scale, &u.size_scale)
        if token_decimal(size, u.size_scale, &u.amount) != DECIMAL_OK \
                or token_decimal_or_zero(entry, u.price_scale, &u.entry_price) != DECIMAL_OK \
                or token_decimal_or_zero(pnl, self.asset_scale, &u.unrealized_pnl) != DECIMAL_OK:
            return self.fail("position size, entryPrice or unrealisedPnl malformed or beyond "
                             "the scale")
        if u.amount < 0 or (u.amount > 0 and direction == 0):
            return self.fail("position size negative, or open without a side")
        if direction < 0:
            u.amount = -u.amount
        u.side = 1 if leg == 1 else (-1 if leg == 2 else 0)   # hedge-mode legs
        u.ts_exchange = updated * MS
        return self.append_position(&u, ts_receive)
