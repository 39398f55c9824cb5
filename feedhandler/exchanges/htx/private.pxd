from libc.stdint cimport int64_t

from feedhandler.core.ondemand cimport od_object
from feedhandler.core.private cimport PrivateDecoder


cdef class HtxPrivateDecoder(PrivateDecoder):
    cdef int decode_order(self, od_object& order, int64_t ts_receive) except -1
    cdef int decode_account(self, od_object& account, int64_t ts_receive) except -1
