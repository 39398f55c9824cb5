from libc.stdint cimport int64_t

from feedhandler.core.ondemand cimport od_object
from feedhandler.core.private cimport PrivateDecoder


cdef class BybitPrivateDecoder(PrivateDecoder):
    cdef readonly int64_t fill_echoes     # order-topic fill states (the execution reported it)
    cdef int decode_reply(self, od_object& top, const char* buf, size_t n) except -1
    cdef int decode_order(self, od_object& record, int64_t created,
                          int64_t ts_receive) except -1
    cdef int decode_execution(self, od_object& record, int64_t created,
                              int64_t ts_receive) except -1
    cdef int decode_wallet(self, od_object& account, int64_t created,
                           int64_t ts_receive) except -1
    cdef int decode_position(self, od_object& record, int64_t created,
                             int64_t ts_receive) except -1
