from libc.stdint cimport int8_t, int32_t, int64_t

from feedhandler.core.ondemand cimport od_object, parser
from feedhandler.core.private cimport PrivateDecoder
from feedhandler.core.rings cimport CLIENT_ID_WIDTH, ORDER_ID_WIDTH, SYMBOL_WIDTH


# what Kraken said of one live order so far (its updates carry only what changed)
cdef struct OrderState:
    bint used
    bint fill_reported        # a trade already completed it: its ``filled`` is an echo
    int8_t side
    int8_t status
    int32_t instrument
    int price_scale
    int size_scale
    int64_t price
    int64_t size
    int64_t filled
    size_t order_id_size
    size_t symbol_size
    size_t client_id_size
    char order_id[ORDER_ID_WIDTH]
    char symbol[SYMBOL_WIDTH]
    char client_id[CLIENT_ID_WIDTH]


cdef class KrakenPrivateDecoder(PrivateDecoder):
    cdef parser json
    cdef OrderState* table
    cdef size_t table_mask
    cdef readonly size_t tracked         # live orders held for merging
    cdef readonly int64_t pending_news   # pending_new records (no row: ``new`` follows)
    cdef readonly int64_t fill_echoes    # ``filled`` records after the completing trade
    cdef readonly int64_t orphans        # updates of an order never seen in full
    cdef readonly int64_t other_wallets  # balance records of earn/other wallets, not rows
    cdef OrderState* find(self, const char* order_id, size_t n, bint create) noexcept nogil
    cdef void forget(self, OrderState* state) noexcept nogil
    cdef int refuse(self, OrderState* state, bint fresh, str reason) except -1
    cdef int decode_execution(self, od_object& record, bint snapshot, int64_t sequence,
                              int64_t ts_receive) except -1
    cdef int decode_balance(self, od_object& record, bint snapshot,
                            int64_t ts_receive) except -1
