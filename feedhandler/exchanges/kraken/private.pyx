# distutils: language = c++
"""Kraken spot WebSocket v2 private stream (``executions``, ``balances``) into the rings.

Frames are ``{"channel", "type": "snapshot"|"update", "data": [records], "sequence"}``.

``executions`` updates carry only what changed (the docs' ``new`` record has just the order
id, status and time), so the decoder keeps each live order's symbol, side, price, quantity,
client id and cumulative fill in an ``OrderTable`` (core/ordertable) keyed by ``order_id`` and merges every
record into it; a row always shows the whole order. The table entry is made by the first
full record (``pending_new``, or the open-orders snapshot sent on subscribe) and dropped when
the order ends. Per ``exec_type``: ``pending_new`` is held, not a row (``new`` follows once
the order is live); ``new`` -> NEW; ``trade`` -> one row per fill (``last_qty``,
``last_price``, ``fees``), FILLED when the cumulative quantity reaches the order's, else
PARTIALLY_FILLED, whatever ``order_status`` says (Kraken reports a completing trade as
``partially_filled``); ``filled`` after that trade is an echo (counted, no row); ``canceled``
-> CANCELED, ``expired`` -> EXPIRED; ``amended``/``restated`` -> a row with the new figures.
Kraken streams no rejection (a refused order is answered on ``add_order``).

``balances``: the snapshot's per-asset spot-wallet balance and each ledger update of the
spot wallet (``balance`` is the new total, ``amount - fee`` the change). Kraken does not
report what open orders hold on this channel, so ``free`` is the total and ``locked`` 0.
Method replies (subscribe acks, errors) and ``status`` go to control; heartbeats are consumed.
Field sources: docs/venues/kraken.md, "Private streams".
"""

from libc.stdint cimport int64_t
from libc.string cimport memcmp, memcpy, memset
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.fixedpoint cimport DECIMAL_EMPTY, DECIMAL_OK
from feedhandler.core.jsonread cimport iterate_whole, key_is, read_int, read_string, token_decimal
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
    ORDER_UNKNOWN,
    BalanceUpdate,
    OrderUpdate,
    PrivateDecoder,
    Text,
    text_at,
    text_of,
)
from feedhandler.core.rings cimport ASSET_WIDTH, CLIENT_ID_WIDTH, ORDER_ID_WIDTH, SYMBOL_WIDTH
from feedhandler.core.timestamps cimport parse_timestamp_ns

cdef enum ExecKind:
    EXEC_OTHER = 0
    EXEC_PENDING_NEW = 1
    EXEC_NEW = 2
    EXEC_TRADE = 3
    EXEC_FILLED = 4
    EXEC_CANCELED = 5
    EXEC_EXPIRED = 6
    EXEC_AMENDED = 7
    EXEC_ABSENT = 8


cdef inline int exec_kind(string_view s) noexcept nogil:
    if key_is(s, "pending_new", 11):
        return EXEC_PENDING_NEW
    if key_is(s, "new", 3):
        return EXEC_NEW
    if key_is(s, "trade", 5):
        return EXEC_TRADE
    if key_is(s, "filled", 6):
        return EXEC_FILLED
    if key_is(s, "canceled", 8):
        return EXEC_CANCELED
    if key_is(s, "expired", 7):
        return EXEC_EXPIRED
    if key_is(s, "amended", 7) or key_is(s, "restated", 8):
        return EXEC_AMENDED
    return EXEC_OTHER          # status, iceberg_refill, ...: merged, no row


cdef inline int order_status(string_view s) noexcept nogil:
    if key_is(s, "new", 3) or key_is(s, "pending_new", 11):
        return ORDER_NEW
    if key_is(s, "partially_filled", 16):
        return ORDER_PARTIALLY_FILLED
    if key_is(s, "filled", 6):
        return ORDER_FILLED
    if key_is(s, "canceled", 8):
        return ORDER_CANCELED
    if key_is(s, "expired", 7):
        return ORDER_EXPIRED
    return ORDER_UNKNOWN


cdef inline int optional_decimal(string_view token, int scale, int64_t* out) noexcept nogil:
    """A field an update may leave out: absent leaves ``*out`` as it was."""
    if token.size() == 0:
        return DECIMAL_OK
    return token_decimal(token, scale, out)


cdef class KrakenPrivateDecoder(PrivateDecoder):
    """Decodes one account's ``ws-auth`` ``/v2`` frames."""

    def __cinit__(self, *args, **kwargs):
        self.rounding = &decimal_rounding      # this module's parser counts what it rounds

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.table = OrderTable()

    cdef int refuse(self, OrderState* state, bint fresh, str reason) except -1:
        """A malformed record: the order's entry is left as it was (a fresh one dropped)."""
        if fresh:
            self.table.forget(state)
        return self.fail(reason)

    def open_orders(self) -> int:
        """Live orders held for merging (for tests and stats)."""
        return self.table.tracked

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef od_object top, record
        cdef value v, data, item
        cdef array records
        cdef array_iterator it, end
        cdef string_view channel, kind
        cdef error_code found
        cdef bint executions, snapshot = False
        cdef int flags = 0
        cdef int64_t sequence = 0
        if not iterate_whole(self.json, buf, n, doc):
            return self.fail("not JSON")
        if doc.get_object().get(top) != SUCCESS:
            return self.fail("not a JSON object")
        found = top.find_field_unordered(string_view(b"channel", 7)).get(v)
        if found == NO_SUCH_FIELD:
            if top.find_field_unordered(string_view(b"method", 6)).get(v) == SUCCESS:
                return self.queue_control(buf, n)
            self.unknown += 1
            return 0
        if found != SUCCESS or v.get_string().get(channel) != SUCCESS:
            return self.fail("channel is not a string")
        if key_is(channel, "heartbeat", 9):
            return 0
        if key_is(channel, "status", 6):
            return self.queue_control(buf, n)
        executions = key_is(channel, "executions", 10)
        if not executions and not key_is(channel, "balances", 8):
            self.unknown += 1
            return 0
        found = top.find_field_unordered(string_view(b"type", 4)).get(v)
        if found == SUCCESS:
            if v.get_string().get(kind) != SUCCESS:
                return self.fail("type is not a string")
            snapshot = key_is(kind, "snapshot", 8)
        elif found != NO_SUCH_FIELD:
            return self.fail("malformed type")
        found = top.find_field_unordered(string_view(b"sequence", 8)).get(v)
        if found == SUCCESS:
            if read_int(v, &sequence) != DECIMAL_OK:
                return self.fail("malformed sequence")
        elif found != NO_SUCH_FIELD:
            return self.fail("malformed sequence")
        if executions and snapshot:
            # the open orders, all of them: what was held from before (a reconnect) is stale
            self.table.clear()
        if top.find_field_unordered(string_view(b"data", 4)).get(data) != SUCCESS \
                or data.get_array().get(records) != SUCCESS \
                or records.begin().get(it) != SUCCESS or records.end().get(end) != SUCCESS:
            return self.fail("private frame without a data array")
        while it != end:
            if deref(it).get(item) != SUCCESS or item.get_object().get(record) != SUCCESS:
                return flags | self.fail("private record is not an object")
            if executions:
                flags |= self.decode_execution(record, snapshot, sequence, ts_receive)
            else:
                flags |= self.decode_balance(record, snapshot, ts_receive)
            inc(it)
        return flags

    cdef int decode_execution(self, od_object& record, bint snapshot, int64_t sequence,
                              int64_t ts_receive) except -1:
        cdef OrderUpdate u
        cdef OrderState* state
        cdef object_iterator it, end, fit, fend
        cdef array fees
        cdef array_iterator ait, aend
        cdef value item
        cdef od_object entry
        cdef field f
        cdef string_view key, text, order_id, symbol, client_id, fee_asset, asset
        cdef string_view price, size, cum_qty, last_qty, last_price, fee_qty
        cdef int side = 0, status = ORDER_UNKNOWN, kind = EXEC_ABSENT
        cdef int64_t ts_exchange = 0, fee = 0, one_fee
        cdef OrderState m
        cdef bint created, fresh = False
        memset(&u, 0, sizeof(OrderUpdate))
        if record.begin().get(it) != SUCCESS or record.end().get(end) != SUCCESS:
            return self.fail("malformed execution record")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed execution field")
            key = f.escaped_key()
            if key_is(key, "order_id", 8):
                if not read_string(f.val(), &order_id):
                    return self.fail("order_id is not a string")
            elif key_is(key, "symbol", 6):
                if not read_string(f.val(), &symbol):
                    return self.fail("execution symbol is not a string")
            elif key_is(key, "cl_ord_id", 9):
                if not read_string(f.val(), &client_id):
                    return self.fail("cl_ord_id is not a string")
            elif key_is(key, "side", 4):
                if not read_string(f.val(), &text):
                    return self.fail("execution side is not a string")
                side = 1 if key_is(text, "buy", 3) else (-1 if key_is(text, "sell", 4) else 0)
                if side == 0:
                    return self.fail("execution side is neither buy nor sell")
            elif key_is(key, "exec_type", 9):
                if not read_string(f.val(), &text):
                    return self.fail("exec_type is not a string")
                kind = exec_kind(text)
            elif key_is(key, "order_status", 12):
                if not read_string(f.val(), &text):
                    return self.fail("order_status is not a string")
                status = order_status(text)
                if status == ORDER_UNKNOWN:
                    return self.fail("unknown order_status")
            elif key_is(key, "order_qty", 9):
                size = f.val().raw_json_token()
            elif key_is(key, "limit_price", 11):
                price = f.val().raw_json_token()
            elif key_is(key, "cum_qty", 7):
                cum_qty = f.val().raw_json_token()
            elif key_is(key, "last_qty", 8):
                last_qty = f.val().raw_json_token()
            elif key_is(key, "last_price", 10):
                last_price = f.val().raw_json_token()
            elif key_is(key, "timestamp", 9):
                if not read_string(f.val(), &text) \
                        or parse_timestamp_ns(text.data(), text.size(), &ts_exchange) != 0:
                    return self.fail("malformed execution timestamp")
            elif key_is(key, "fees", 4):
                if f.val().get_array().get(fees) != SUCCESS or fees.begin().get(ait) != SUCCESS \
                        or fees.end().get(aend) != SUCCESS:
                    return self.fail("fees is not an array")
                while ait != aend:
                    if deref(ait).get(item) != SUCCESS or item.get_object().get(entry) != SUCCESS \
                            or entry.begin().get(fit) != SUCCESS or entry.end().get(fend) != SUCCESS:
                        return self.fail("fee entry is not an object")
                    asset = string_view()
                    fee_qty = string_view()
                    while fit != fend:
                        if deref(fit).get(f) != SUCCESS:
                            return self.fail("malformed fee field")
                        if key_is(f.escaped_key(), "asset", 5):
                            if not read_string(f.val(), &asset):
                                return self.fail("fee asset is not a string")
                        elif key_is(f.escaped_key(), "qty", 3):
                            fee_qty = f.val().raw_json_token()
                        inc(fit)
                    if asset.size() == 0 or token_decimal(fee_qty, self.asset_scale,
                                                          &one_fee) != DECIMAL_OK:
                        return self.fail("fee entry without asset, or qty malformed or beyond "
                                         "the asset scale")
                    if fee_asset.size() != 0 and not (fee_asset.size() == asset.size() and memcmp(
                            fee_asset.data(), asset.data(), asset.size()) == 0):
                        return self.fail("fees in more than one asset")
                    fee_asset = asset
                    fee += one_fee
                    inc(ait)
            inc(it)
        if order_id.size() == 0 or order_id.size() > ORDER_ID_WIDTH:
            return self.fail("execution without an order_id, or one longer than its column")
        if symbol.size() > SYMBOL_WIDTH or client_id.size() > CLIENT_ID_WIDTH \
                or fee_asset.size() > ASSET_WIDTH:
            return self.fail("execution symbol, cl_ord_id or fee asset longer than its column")
        created = symbol.size() != 0 and side != 0 and size.size() != 0
        state = self.table.find(order_id.data(), order_id.size(), False)
        if state == NULL:
            if not created:
                self.orphans += 1          # never seen in full (no snapshot, no pending_new)
                return 0
            state = self.table.find(order_id.data(), order_id.size(), True)
            if state == NULL:
                return self.fail("more live orders than the merge table holds")
            state.status = ORDER_NEW
            fresh = True
        m = state[0]                       # merged here, kept only if the record is sound
        if symbol.size() != 0 and not (symbol.size() == m.symbol_size and memcmp(
                symbol.data(), m.symbol, symbol.size()) == 0):
            memcpy(m.symbol, symbol.data(), symbol.size())
            m.symbol_size = symbol.size()
            self.resolve(text_at(m.symbol, m.symbol_size), &m.instrument,
                         &m.price_scale, &m.size_scale)
        if side != 0:
            m.side = side
        if client_id.size() != 0:
            memcpy(m.client_id, client_id.data(), client_id.size())
            m.client_id_size = client_id.size()
        if optional_decimal(price, m.price_scale, &m.price) != DECIMAL_OK \
                or optional_decimal(size, m.size_scale, &m.size) != DECIMAL_OK \
                or optional_decimal(cum_qty, m.size_scale, &m.filled) != DECIMAL_OK:
            return self.refuse(state, fresh, "limit_price, order_qty or cum_qty malformed or "
                               "beyond the instrument's scale")
        if kind == EXEC_TRADE:
            if token_decimal(last_qty, m.size_scale, &u.last_size) != DECIMAL_OK \
                    or token_decimal(last_price, m.price_scale, &u.last_price) != DECIMAL_OK:
                return self.refuse(state, fresh, "trade last_qty or last_price missing, "
                                   "malformed or beyond the instrument's scale")
            if cum_qty.size() == 0:
                m.filled += u.last_size
            u.fee = fee
            u.fee_asset = text_of(fee_asset)
        if m.filled < 0 or m.filled > m.size:
            return self.refuse(state, fresh, "cum_qty outside 0..order_qty")
        if kind == EXEC_ABSENT:
            if not snapshot or status == ORDER_UNKNOWN:
                return self.refuse(state, fresh, "execution without exec_type")
            m.status = status          # an open order of the snapshot
        elif kind == EXEC_PENDING_NEW:
            self.pending_news += 1
            state[0] = m
            return 0
        elif kind == EXEC_NEW:
            m.status = ORDER_NEW
        elif kind == EXEC_TRADE:
            m.status = ORDER_FILLED if m.filled == m.size else ORDER_PARTIALLY_FILLED
            m.fill_reported = m.status == ORDER_FILLED
        elif kind == EXEC_FILLED:
            if m.fill_reported:
                self.fill_echoes += 1
                self.table.forget(state)
                return 0
            m.status = ORDER_FILLED
            if cum_qty.size() == 0:
                m.filled = m.size
        elif kind == EXEC_CANCELED:
            m.status = ORDER_CANCELED
        elif kind == EXEC_EXPIRED:
            m.status = ORDER_EXPIRED
        elif kind == EXEC_OTHER:
            self.unknown += 1
            state[0] = m
            return 0
        state[0] = m
        u.ts_exchange = ts_exchange
        u.sequence = sequence
        u.side = m.side
        u.status = m.status
        u.instrument = m.instrument
        u.price_scale = m.price_scale
        u.size_scale = m.size_scale
        u.price = m.price
        u.size = m.size
        u.filled = m.filled
        u.symbol = text_at(m.symbol, m.symbol_size)
        u.order_id = text_at(m.order_id, m.order_id_size)
        u.client_id = text_at(m.client_id, m.client_id_size)
        flags = self.append_order(&u, ts_receive)
        if state.status == ORDER_CANCELED or state.status == ORDER_EXPIRED \
                or (state.status == ORDER_FILLED and kind != EXEC_TRADE):
            self.table.forget(state)
        return flags

    cdef int decode_balance(self, od_object& record, bint snapshot,
                            int64_t ts_receive) except -1:
        cdef BalanceUpdate u
        cdef object_iterator it, end, wit, wend
        cdef array wallets
        cdef array_iterator ait, aend
        cdef value item
        cdef od_object wallet
        cdef field f
        cdef string_view key, text, total, amount, fee, wallet_balance
        cdef bint spot_wallet, have_wallets = False, other_wallet = False
        cdef int64_t part, change = 0, fee_units = 0
        memset(&u, 0, sizeof(BalanceUpdate))
        if record.begin().get(it) != SUCCESS or record.end().get(end) != SUCCESS:
            return self.fail("malformed balance record")
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return self.fail("malformed balance field")
            key = f.escaped_key()
            if key_is(key, "asset", 5):
                if not read_string(f.val(), &text):
                    return self.fail("balance asset is not a string")
                u.asset = text_of(text)
            elif key_is(key, "balance", 7):
                total = f.val().raw_json_token()
            elif key_is(key, "amount", 6):
                amount = f.val().raw_json_token()
            elif key_is(key, "fee", 3):
                fee = f.val().raw_json_token()
            elif key_is(key, "timestamp", 9):
                if not read_string(f.val(), &text) \
                        or parse_timestamp_ns(text.data(), text.size(), &u.ts_exchange) != 0:
                    return self.fail("malformed balance timestamp")
            elif key_is(key, "wallet_type", 11):
                if not read_string(f.val(), &text):
                    return self.fail("wallet_type is not a string")
                other_wallet = not key_is(text, "spot", 4)
            elif key_is(key, "wallets", 7):
                if f.val().get_array().get(wallets) != SUCCESS \
                        or wallets.begin().get(ait) != SUCCESS \
                        or wallets.end().get(aend) != SUCCESS:
                    return self.fail("wallets is not an array")
                have_wallets = True
                while ait != aend:
                    if deref(ait).get(item) != SUCCESS or item.get_object().get(wallet) != SUCCESS \
                            or wallet.begin().get(wit) != SUCCESS or wallet.end().get(wend) != SUCCESS:
                        return self.fail("wallet is not an object")
                    spot_wallet = False
                    wallet_balance = string_view()
                    while wit != wend:
                        if deref(wit).get(f) != SUCCESS:
                            return self.fail("malformed wallet field")
                        if key_is(f.escaped_key(), "type", 4):
                            if not read_string(f.val(), &text):
                                return self.fail("wallet type is not a string")
                            spot_wallet = key_is(text, "spot", 4)
                        elif key_is(f.escaped_key(), "balance", 7):
                            wallet_balance = f.val().raw_json_token()
                        inc(wit)
                    if token_decimal(wallet_balance, self.asset_scale, &part) != DECIMAL_OK:
                        return self.fail("wallet balance missing, malformed or beyond the "
                                         "asset scale")
                    if spot_wallet:
                        u.total += part
                    inc(ait)
            inc(it)
        if u.asset.size == 0:
            return self.fail("balance record without asset")
        if other_wallet:
            self.other_wallets += 1       # an earn wallet's ledger entry: not the spot balance
            return 0
        if not have_wallets and token_decimal(total, self.asset_scale, &u.total) != DECIMAL_OK:
            return self.fail("balance missing, malformed or beyond the asset scale")
        if not snapshot:
            if token_decimal(amount, self.asset_scale, &change) != DECIMAL_OK \
                    or optional_decimal(fee, self.asset_scale, &fee_units) != DECIMAL_OK:
                return self.fail("ledger amount or fee missing, malformed or beyond the asset "
                                 "scale")
            u.delta = change - fee_units
        u.free = u.total
        u.has_totals = True
        return self.append_balance(&u, ts_receive)
