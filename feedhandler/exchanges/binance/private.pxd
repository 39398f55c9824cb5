from libc.stdint cimport int64_t

from feedhandler.core.ondemand cimport document, od_object, value
from feedhandler.core.private cimport PrivateDecoder


cdef class BinancePrivateDecoder(PrivateDecoder):
    cdef readonly bint futures
    cdef readonly int64_t expirations     # listenKeyExpired events seen
    cdef bint event_again(self, document& doc, bint wrapped, od_object* out) noexcept
    cdef int decode_event(self, document& doc, od_object& event, bint wrapped,
                          const char* buf, size_t n, int64_t ts_receive) except -1
    cdef int decode_order(self, od_object& order, int64_t event_time,
                          int64_t ts_receive) except -1
    cdef int decode_spot_balances(self, value& items, int64_t event_time,
                                  int64_t ts_receive) except -1
    cdef int decode_balance_delta(self, od_object& event, int64_t ts_receive) except -1
    cdef int decode_account(self, od_object& account, int64_t event_time,
                            int64_t ts_receive) except -1
