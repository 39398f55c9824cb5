from libc.stdint cimport int64_t

from feedhandler.core.ondemand cimport od_object
from feedhandler.core.ordertable cimport OrderState, OrderTable
from feedhandler.core.private cimport PrivateDecoder


cdef class KrakenPrivateDecoder(PrivateDecoder):
    cdef OrderTable table                # live orders, merged record by record
    cdef readonly int64_t pending_news   # pending_new records (no row: ``new`` follows)
    cdef readonly int64_t fill_echoes    # ``filled`` records after the completing trade
    cdef readonly int64_t orphans        # updates of an order never seen in full
    cdef readonly int64_t other_wallets  # balance records of earn/other wallets, not rows
    cdef int refuse(self, OrderState* state, bint fresh, str reason) except -1
    cdef int decode_execution(self, od_object& record, bint snapshot, int64_t sequence,
                              int64_t ts_receive) except -1
    cdef int decode_balance(self, od_object& record, bint snapshot,
                            int64_t ts_receive) except -1
