"""A fixed C table of live orders keyed by order id, for venues whose order updates carry
only what changed (Kraken) or only cumulative figures (Coinbase): the decoder merges each
update into the order's entry instead of keeping a Python object per order."""

from libc.stdint cimport int8_t, int32_t, int64_t

from feedhandler.core.rings cimport CLIENT_ID_WIDTH, ORDER_ID_WIDTH, SYMBOL_WIDTH


# what the venue said of one live order so far
cdef struct OrderState:
    bint used
    bint fill_reported        # a fill already completed it: a later "filled" is an echo
    int8_t side
    int8_t status
    int32_t instrument
    int price_scale
    int size_scale
    int64_t price
    int64_t size
    int64_t filled            # cumulative, at size_scale
    int64_t value             # cumulative filled notional, at the decoder's asset scale
    int64_t fees              # cumulative fees, at the decoder's asset scale
    size_t order_id_size
    size_t symbol_size
    size_t client_id_size
    char order_id[ORDER_ID_WIDTH]
    char symbol[SYMBOL_WIDTH]
    char client_id[CLIENT_ID_WIDTH]


cdef class OrderTable:
    cdef OrderState* slots
    cdef size_t mask
    cdef readonly size_t capacity     # live orders held at most (3/4 of the slots)
    cdef readonly size_t tracked
    cdef OrderState* find(self, const char* order_id, size_t n, bint create) noexcept nogil
    cdef void forget(self, OrderState* state) noexcept nogil
    cdef void clear(self) noexcept nogil
