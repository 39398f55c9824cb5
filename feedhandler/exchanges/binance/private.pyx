# distutils: language = c++
"""Binance user data streams, spot and USD-M futures, straight into the private rings.

Spot (WebSocket API, each event wrapped as ``{"subscriptionId":..,"event":{...}}``):
executionReport (orders), outboundAccountPosition (balances: free + locked), balanceUpdate (a
balance delta); eventStreamTerminated and serverShutdown are queued as control messages, as
are the replies to requests (``{"id":..,"status":..}``). USD-M (raw listen-key payloads):
ORDER_TRADE_UPDATE (the order in ``o``), ACCOUNT_UPDATE (balances in ``a.B``, positions in
``a.P``), listenKeyExpired (queued as a control message: the adapter renews the listen key and
the connection). Field names and their sources are in docs/venues/binance.md (Private
streams). Other event types (listStatus, externalLockUpdate, MARGIN_CALL, ...) are counted in
``unknown``.
"""

from libc.stdint cimport int64_t
from libc.string cimport memset
from libcpp cimport bool as cbool
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.decoder cimport DECODED_ERROR
from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_OK
from feedhandler.core.jsonread cimport iterate_whole, key_is, read_int, token_decimal
from feedhandler.core.ondemand cimport (
    SUCCESS,
    array,
    array_iterator,
    document,
    field,
    json_type,
    object_iterator,
    od_object,
    value,
)
from feedhandler.core.private cimport (
    ORDER_CANCELED,
    ORDER_EXPIRED,
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
    number_text,
    text_of,
)

cdef int64_t MS = 1000000

cdef enum EventKind:
    EVENT_UNKNOWN = 0
    EVENT_EXECUTION_REPORT = 1
    EVENT_ACCOUNT_POSITION = 2
    EVENT_BALANCE_UPDATE = 3
    EVENT_LISTEN_KEY_EXPIRED = 4
    EVENT_ORDER_TRADE_UPDATE = 5
    EVENT_ACCOUNT_UPDATE = 6
    EVENT_STREAM_TERMINATED = 7
    EVENT_SERVER_SHUTDOWN = 8


cdef inline int event_kind(string_view name) noexcept nogil:
    if key_is(name, "executionReport", 15):
        return EVENT_EXECUTION_REPORT
    if key_is(name, "outboundAccountPosition", 23):
        return EVENT_ACCOUNT_POSITION
    if key_is(name, "balanceUpdate", 13):
        return EVENT_BALANCE_UPDATE
    if key_is(name, "listenKeyExpired", 16):
        return EVENT_LISTEN_KEY_EXPIRED
    if key_is(name, "ORDER_TRADE_UPDATE", 18):
        return EVENT_ORDER_TRADE_UPDATE
    if key_is(name, "ACCOUNT_UPDATE", 14):
        return EVENT_ACCOUNT_UPDATE
    if key_is(name, "eventStreamTerminated", 21):
        return EVENT_STREAM_TERMINATED
    if key_is(name, "serverShutdown", 14):
        return EVENT_SERVER_SHUTDOWN
    return EVENT_UNKNOWN


cdef inline int order_status(string_view name) noexcept nogil:
    if key_is(name, "NEW", 3):
        return ORDER_NEW
    if key_is(name, "PARTIALLY_FILLED", 16):
        return ORDER_PARTIALLY_FILLED
    if key_is(name, "FILLED", 6):
        return ORDER_FILLED
    if key_is(name, "CANCELED", 8) or key_is(name, "PENDING_CANCEL", 14):
        return ORDER_CANCELED
    if key_is(name, "REJECTED", 8):
        return ORDER_REJECTED
    if key_is(name, "EXPIRED", 7) or key_is(name, "EXPIRED_IN_MATCH", 16):
        return ORDER_EXPIRED
    return ORDER_UNKNOWN


cdef inline Text token_text(value& v) noexcept nogil:
    """A string's contents or a number's digits (Binance order ids are JSON numbers)."""
    cdef string_view s
    if v.get_string().get(s) == SUCCESS:
        return text_of(s)
    return number_text(v.raw_json_token())


cdef inline bint string_of(value& v, string_view* out) noexcept nogil:
    """A string, or null read as empty (Binance's commission asset before any fill)."""
    cdef cbool null = False
    if v.get_string().get(out[0]) == SUCCESS:
        return True
    if v.is_null().get(null) == SUCCESS and null:
        out[0] = string_view()
        return True
    return False


cdef class BinancePrivateDecoder(PrivateDecoder):
    """Decodes one account's user data stream: WebSocket API events (spot, wrapped as
    ``{"subscriptionId":..,"event":{...}}``) and raw listen-key payloads (USD-M)."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    def __init__(self, *args, bint futures=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.futures = futures

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, event
        cdef object_iterator it, end
        cdef field f
        cdef string_view key
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        if top.begin().get(it) != SUCCESS or top.end().get(end) != SUCCESS:
            return self.fail("malformed JSON object")
        if not (it != end):
            self.unknown += 1
            return 0
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed message field")
            key = f.escaped_key()
            if key_is(key, "event", 5):
                if f.val().get_object().get(event) != SUCCESS:
                    return self.fail("event is not an object")
                return self.decode_event(doc, event, True, buf, n, ts_receive)
            if key_is(key, "e", 1):
                doc.rewind()
                if doc.get_object().get(top) != SUCCESS:
                    return self.fail("malformed JSON object")
                return self.decode_event(doc, top, False, buf, n, ts_receive)
            inc(it)
        return self.queue_control(buf, n)   # a reply to a request (or the venue's error)

    cdef bint event_again(self, document& doc, bint wrapped, od_object* out) noexcept:
        """The event object read from its start again (executionReport and balanceUpdate
        carry their fields on the event itself, after ``e``)."""
        cdef od_object top
        cdef value v
        doc.rewind()
        if doc.get_object().get(top) != SUCCESS:
            return False
        if not wrapped:
            out[0] = top
            return True
        return top.find_field_unordered(string_view(b"event", 5)).get(v) == SUCCESS \
            and v.get_object().get(out[0]) == SUCCESS

    cdef int decode_event(self, document& doc, od_object& event, bint wrapped,
                          const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef od_object inner
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef int kind = EVENT_UNKNOWN
        cdef int64_t event_time = 0
        if event.begin().get(it) != SUCCESS or event.end().get(end) != SUCCESS:
            return self.fail("malformed event")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed event field")
            key = f.escaped_key()
            if key_is(key, "e", 1):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("event type is not a string")
                kind = event_kind(text)
                if kind == EVENT_UNKNOWN:
                    self.unknown += 1
                    return 0
                if kind == EVENT_LISTEN_KEY_EXPIRED:
                    self.expirations += 1
                    return self.queue_control(buf, n)
                if kind == EVENT_STREAM_TERMINATED or kind == EVENT_SERVER_SHUTDOWN:
                    return self.queue_control(buf, n)
            elif key_is(key, "E", 1):
                if read_int(f.val(), &event_time) != DECIMAL_OK:
                    return self.fail("malformed event time")
            elif kind == EVENT_UNKNOWN:
                pass
            elif kind == EVENT_EXECUTION_REPORT:
                # the order's fields are the event's own: read the event again as the order
                if not self.event_again(doc, wrapped, &inner):
                    return self.fail("malformed executionReport")
                return self.decode_order(inner, event_time, ts_receive)
            elif kind == EVENT_ORDER_TRADE_UPDATE and key_is(key, "o", 1):
                if f.val().get_object().get(inner) != SUCCESS:
                    return self.fail("ORDER_TRADE_UPDATE o is not an object")
                return self.decode_order(inner, event_time, ts_receive)
            elif kind == EVENT_ACCOUNT_POSITION and key_is(key, "B", 1):
                return self.decode_spot_balances(f.val(), event_time, ts_receive)
            elif kind == EVENT_BALANCE_UPDATE:
                if not self.event_again(doc, wrapped, &inner):
                    return self.fail("malformed balanceUpdate")
                return self.decode_balance_delta(inner, ts_receive)
            elif kind == EVENT_ACCOUNT_UPDATE and key_is(key, "a", 1):
                if f.val().get_object().get(inner) != SUCCESS:
                    return self.fail("ACCOUNT_UPDATE a is not an object")
                return self.decode_account(inner, event_time, ts_receive)
            inc(it)
        if kind == EVENT_UNKNOWN:
            self.unknown += 1
            return 0
        return self.fail("user data event without its payload")

    cdef int decode_order(self, od_object& order, int64_t event_time,
                          int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text
        cdef string_view price, size, filled, last_price, last_size, fee
        cdef Text original_client
        cdef bint have_status = False, have_side = False
        cdef char c
        memset(&u, 0, sizeof(OrderUpdate))
        original_client.size = 0
        original_client.data = NULL
        u.sequence = event_time
        u.ts_exchange = event_time * MS
        if order.begin().get(it) != SUCCESS or order.end().get(end) != SUCCESS:
            return self.fail("malformed order")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed order field")
            key = f.escaped_key()
            if key.size() == 1:
                c = key[0]
                if c == b's':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("order symbol is not a string")
                    u.symbol = text_of(text)
                elif c == b'c':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("client order id is not a string")
                    u.client_id = text_of(text)
                elif c == b'C':
                    if not string_of(f.val(), &text):
                        return self.fail("original client order id is not a string")
                    original_client = text_of(text)
                elif c == b'S':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("order side is not a string")
                    if key_is(text, "BUY", 3):
                        u.side = 1
                    elif key_is(text, "SELL", 4):
                        u.side = -1
                    else:
                        return self.fail("order side is neither BUY nor SELL")
                    have_side = True
                elif c == b'X':
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("order status is not a string")
                    u.status = order_status(text)
                    if u.status == ORDER_UNKNOWN:
                        return self.fail("unknown order status")
                    have_status = True
                elif c == b'i':
                    u.order_id = token_text(f.val())
                elif c == b'p':
                    price = f.val().raw_json_token()
                elif c == b'q':
                    size = f.val().raw_json_token()
                elif c == b'z':
                    filled = f.val().raw_json_token()
                elif c == b'L':
                    last_price = f.val().raw_json_token()
                elif c == b'l':
                    last_size = f.val().raw_json_token()
                elif c == b'n':
                    fee = f.val().raw_json_token()
                elif c == b'N':
                    if not string_of(f.val(), &text):
                        return self.fail("commission asset is not a string")
                    u.fee_asset = text_of(text)
                elif c == b'T':
                    if read_int(f.val(), &u.sequence) != DECIMAL_OK:
                        return self.fail("malformed transaction time")
                    u.ts_exchange = u.sequence * MS
            inc(it)
        if u.symbol.size == 0 or u.order_id.size == 0 or not have_status or not have_side:
            return self.fail("order without symbol, id, side or status")
        if u.status == ORDER_CANCELED and original_client.size:
            u.client_id = original_client   # a cancel's c is the cancel request's own id
        self.resolve(u.symbol, &u.instrument, &u.price_scale, &u.size_scale)
        if token_decimal(price, u.price_scale, &u.price) != DECIMAL_OK \
                or token_decimal(size, u.size_scale, &u.size) != DECIMAL_OK \
                or token_decimal(filled, u.size_scale, &u.filled) != DECIMAL_OK:
            return self.fail("order price, quantity or filled quantity malformed or too "
                             "precise for the instrument's scale")
        if (last_price.size() and token_decimal(last_price, u.price_scale, &u.last_price)
                != DECIMAL_OK) \
                or (last_size.size() and token_decimal(last_size, u.size_scale, &u.last_size)
                    != DECIMAL_OK) \
                or (fee.size() and token_decimal(fee, self.asset_scale, &u.fee) != DECIMAL_OK):
            return self.fail("order fill price, quantity or fee malformed or out of scale")
        return self.append_order(&u, ts_receive)

    cdef int decode_spot_balances(self, value& items, int64_t event_time,
                                  int64_t ts_receive) except -1:
        cdef array entries
        cdef array_iterator it, end
        cdef od_object entry
        cdef value item
        cdef object_iterator fit, fend
        cdef field f
        cdef string_view key, text, free, locked
        cdef BalanceUpdate u
        cdef int flags = 0
        if items.get_array().get(entries) != SUCCESS or entries.begin().get(it) != SUCCESS \
                or entries.end().get(end) != SUCCESS:
            return self.fail("outboundAccountPosition B is not an array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(entry) != SUCCESS \
                    or entry.begin().get(fit) != SUCCESS or entry.end().get(fend) != SUCCESS:
                return self.fail("balance entry is not an object")
            memset(&u, 0, sizeof(BalanceUpdate))
            free = string_view()
            locked = string_view()
            while fit != fend:
                if deref(fit).get(f) != SUCCESS:
                    return self.fail("malformed balance field")
                key = f.escaped_key()
                if key_is(key, "a", 1):
                    if f.val().get_string().get(text) != SUCCESS:
                        return self.fail("balance asset is not a string")
                    u.asset = text_of(text)
                elif key_is(key, "f", 1):
                    free = f.val().raw_json_token()
                elif key_is(key, "l", 1):
                    locked = f.val().raw_json_token()
                inc(fit)
            if u.asset.size == 0 or token_decimal(free, self.asset_scale, &u.free) != DECIMAL_OK \
                    or token_decimal(locked, self.asset_scale, &u.locked) != DECIMAL_OK:
                return flags | self.fail("balance without asset, or free/locked malformed or "
                                         "beyond the asset scale")
            if u.free > 0x7FFFFFFFFFFFFFFF - u.locked:
                return flags | self.fail("balance total overflows int64 at the asset scale")
            u.total = u.free + u.locked
            u.has_totals = True
            u.ts_exchange = event_time * MS
            flags |= self.append_balance(&u, ts_receive)
            inc(it)
        return flags

    cdef int decode_balance_delta(self, od_object& event, int64_t ts_receive) except -1:
        cdef object_iterator it, end
        cdef field f
        cdef string_view key, text, delta
        cdef BalanceUpdate u
        memset(&u, 0, sizeof(BalanceUpdate))
        if event.begin().get(it) != SUCCESS or event.end().get(end) != SUCCESS:
            return self.fail("malformed balanceUpdate")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed balanceUpdate field")
            key = f.escaped_key()
            if key_is(key, "a", 1):
                if f.val().get_string().get(text) != SUCCESS:
                    return self.fail("balanceUpdate asset is not a string")
                u.asset = text_of(text)
            elif key_is(key, "d", 1):
                delta = f.val().raw_json_token()
            elif key_is(key, "E", 1):
                if read_int(f.val(), &u.ts_exchange) != DECIMAL_OK:
                    return self.fail("malformed event time")
                u.ts_exchange *= MS
            inc(it)
        if u.asset.size == 0 or token_decimal(delta, self.asset_scale, &u.delta) != DECIMAL_OK:
            return self.fail("balanceUpdate without asset, or its delta malformed")
        return self.append_balance(&u, ts_receive)

    cdef int decode_account(self, od_object& account, int64_t event_time,
                            int64_t ts_receive) except -1:
        cdef object_iterator it, end, fit, fend
        cdef array entries
        cdef array_iterator ait, aend
        cdef od_object entry
        cdef value item
        cdef field f, g
        cdef string_view key, text, a, b, c
        cdef BalanceUpdate bu
        cdef PositionUpdate pu
        cdef int flags = 0
        cdef bint balances
        if account.begin().get(it) != SUCCESS or account.end().get(end) != SUCCESS:
            return self.fail("malformed ACCOUNT_UPDATE a")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return flags | self.fail("malformed ACCOUNT_UPDATE field")
            key = f.escaped_key()
            balances = key_is(key, "B", 1)
            if balances or key_is(key, "P", 1):
                if f.val().get_array().get(entries) != SUCCESS \
                        or entries.begin().get(ait) != SUCCESS \
                        or entries.end().get(aend) != SUCCESS:
                    return flags | self.fail("ACCOUNT_UPDATE B/P is not an array")
                while ait != aend:
                    if deref(ait).get(item) != SUCCESS \
                            or item.get_object().get(entry) != SUCCESS \
                            or entry.begin().get(fit) != SUCCESS \
                            or entry.end().get(fend) != SUCCESS:
                        return flags | self.fail("ACCOUNT_UPDATE entry is not an object")
                    memset(&bu, 0, sizeof(BalanceUpdate))
                    memset(&pu, 0, sizeof(PositionUpdate))
                    a = string_view()
                    b = string_view()
                    c = string_view()
                    while fit != fend:
                        if deref(fit).get(g) != SUCCESS:
                            return flags | self.fail("malformed ACCOUNT_UPDATE entry field")
                        key = g.escaped_key()
                        if balances:
                            if key_is(key, "a", 1):
                                if g.val().get_string().get(text) != SUCCESS:
                                    return flags | self.fail("asset is not a string")
                                bu.asset = text_of(text)
                            elif key_is(key, "wb", 2):
                                a = g.val().raw_json_token()
                            elif key_is(key, "cw", 2):
                                b = g.val().raw_json_token()
                            elif key_is(key, "bc", 2):
                                c = g.val().raw_json_token()
                        else:
                            if key_is(key, "s", 1):
                                if g.val().get_string().get(text) != SUCCESS:
                                    return flags | self.fail("position symbol is not a string")
                                pu.symbol = text_of(text)
                            elif key_is(key, "pa", 2):
                                a = g.val().raw_json_token()
                            elif key_is(key, "ep", 2):
                                b = g.val().raw_json_token()
                            elif key_is(key, "up", 2):
                                c = g.val().raw_json_token()
                            elif key_is(key, "ps", 2):
                                if g.val().get_string().get(text) != SUCCESS:
                                    return flags | self.fail("position side is not a string")
                                pu.side = 1 if key_is(text, "LONG", 4) else (
                                    -1 if key_is(text, "SHORT", 5) else 0)
                        inc(fit)
                    if balances:
                        if bu.asset.size == 0 \
                                or token_decimal(a, self.asset_scale, &bu.total) != DECIMAL_OK \
                                or token_decimal(b, self.asset_scale, &bu.free) != DECIMAL_OK \
                                or (c.size() and token_decimal(c, self.asset_scale, &bu.delta)
                                    != DECIMAL_OK):
                            return flags | self.fail("ACCOUNT_UPDATE balance without asset, or "
                                                     "wb/cw/bc malformed or beyond the scale")
                        bu.has_totals = True
                        bu.ts_exchange = event_time * MS
                        flags |= self.append_balance(&bu, ts_receive)
                    else:
                        if pu.symbol.size == 0:
                            return flags | self.fail("ACCOUNT_UPDATE position without symbol")
                        self.resolve(pu.symbol, &pu.instrument, &pu.price_scale,
                                     &pu.size_scale)
                        if token_decimal(a, pu.size_scale, &pu.amount) != DECIMAL_OK \
                                or token_decimal(b, pu.price_scale, &pu.entry_price) \
                                != DECIMAL_OK \
                                or token_decimal(c, self.asset_scale, &pu.unrealized_pnl) \
                                != DECIMAL_OK:
                            return flags | self.fail("ACCOUNT_UPDATE position pa/ep/up "
                                                     "malformed or beyond the scale")
                        pu.ts_exchange = event_time * MS
                        flags |= self.append_position(&pu, ts_receive)
                    inc(ait)
            inc(it)
        return flags
