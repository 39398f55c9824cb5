from libc.stdint cimport int64_t

from feedhandler.core.ondemand cimport od_object, value
from feedhandler.core.private cimport PrivateDecoder


cdef class GateioPrivateDecoder(PrivateDecoder):
    cdef int decode_result(self, value& result, int kind, int64_t ts_receive) except -1
    cdef int decode_order(self, od_object& order, int64_t ts_receive) except -1
    cdef int decode_balance(self, od_object& balance, int64_t ts_receive) except -1
