"""The base every private-stream (orders, balances, positions) decoder extends.

A venue's private decoder fills an ``OrderUpdate`` / ``BalanceUpdate`` / ``PositionUpdate``
struct per event from the frame and hands it to ``append_*``, which checks the text columns
fit and writes the row; symbols registered with ``add_instrument`` give instrument ids and
scales, any other symbol gets ``default_price_scale`` / ``default_size_scale`` and id -1.
"""

from libc.stdint cimport int8_t, int32_t, int64_t
from libcpp.string_view cimport string_view

from feedhandler.core.decoder cimport Decoder
from feedhandler.core.rings cimport BalanceRing, OrderRing, PositionRing


cdef enum OrderStatusCode:
    ORDER_UNKNOWN = 0
    ORDER_NEW = 1
    ORDER_PARTIALLY_FILLED = 2
    ORDER_FILLED = 3
    ORDER_CANCELED = 4
    ORDER_REJECTED = 5
    ORDER_EXPIRED = 6


cdef struct Text:
    const char* data
    size_t size


cdef inline Text text_of(string_view s) noexcept nogil:
    """A ``Text`` over a string the frame holds (valid while the frame is)."""
    cdef Text t
    t.data = s.data()
    t.size = s.size()
    return t


cdef inline Text text_at(const char* data, size_t size) noexcept nogil:
    """A ``Text`` over ``size`` bytes at ``data`` (a decoder's copy or a slice of the frame)."""
    cdef Text t
    t.data = data
    t.size = size
    return t


cdef inline Text number_text(string_view raw) noexcept nogil:
    """A JSON number's digits as text (order ids some venues send as numbers): the raw
    token less the white space On-Demand leaves after it."""
    cdef Text t = text_of(raw)
    while t.size and (t.data[t.size - 1] == b' ' or t.data[t.size - 1] == b'\n'
                      or t.data[t.size - 1] == b'\r' or t.data[t.size - 1] == b'\t'):
        t.size -= 1
    return t


cdef struct OrderUpdate:
    int64_t ts_exchange        # ns
    int64_t price
    int64_t size
    int64_t filled
    int64_t last_price
    int64_t last_size
    int64_t fee
    int64_t sequence
    int8_t side
    int8_t status
    int32_t instrument
    int price_scale
    int size_scale
    Text symbol
    Text order_id
    Text client_id
    Text fee_asset


cdef enum:
    WIDE_BALANCE_SCALE = 18    # the scale of a balance row that needs 128 bits


cdef struct BalanceUpdate:
    int64_t ts_exchange
    int64_t free             # at asset_scale; with ``wide``, the low 64 bits at 18 decimals
    int64_t locked
    int64_t total
    int64_t delta
    int64_t free_high        # with ``wide``: the high 64 bits (see BalanceColumns)
    int64_t locked_high
    int64_t total_high
    int64_t delta_high
    bint wide                # the amounts are 128-bit at WIDE_BALANCE_SCALE
    bint has_totals
    Text asset


cdef struct PositionUpdate:
    int64_t ts_exchange
    int64_t amount
    int64_t entry_price
    int64_t unrealized_pnl
    int8_t side
    int32_t instrument
    int price_scale
    int size_scale
    Text symbol


cdef class PrivateDecoder(Decoder):
    cdef public OrderRing orders
    cdef public BalanceRing balances
    cdef public PositionRing positions
    cdef readonly int default_price_scale
    cdef readonly int default_size_scale
    cdef readonly int asset_scale       # balances, fees and PnL
    cdef readonly int64_t order_updates
    cdef readonly int64_t balance_updates
    cdef readonly int64_t position_updates
    cdef int64_t rows_message           # ``messages`` when a row was last written

    cdef int fail(self, str reason) except -1

    cdef void resolve(self, Text symbol, int32_t* instrument, int* price_scale,
                      int* size_scale) noexcept nogil
    cdef int8_t take_inexact(self) noexcept nogil
    cdef int append_order(self, OrderUpdate* u, int64_t ts_receive) except -1
    cdef int append_balance(self, BalanceUpdate* u, int64_t ts_receive) except -1
    cdef int append_position(self, PositionUpdate* u, int64_t ts_receive) except -1
