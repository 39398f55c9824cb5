from libc.stdint cimport int64_t

from feedhandler.core.ondemand cimport od_object
from feedhandler.core.ordertable cimport OrderTable
from feedhandler.core.private cimport PrivateDecoder


cdef class CoinbasePrivateDecoder(PrivateDecoder):
    cdef OrderTable table                # live orders: the cumulative figures last seen
    cdef readonly int64_t fills          # rows that report a fill derived from the change
    cdef int decode_order(self, od_object& record, bint snapshot, int64_t sequence,
                          int64_t ts_message, int64_t ts_receive) except -1
