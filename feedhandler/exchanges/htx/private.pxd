from libc.stdint cimport int64_t
from libcpp.string_view cimport string_view

from feedhandler.core.ondemand cimport od_object
from feedhandler.core.private cimport BalanceUpdate, PrivateDecoder


cdef class HtxPrivateDecoder(PrivateDecoder):
    cdef int decode_order(self, od_object& order, int64_t ts_receive) except -1
    cdef int decode_account(self, od_object& account, int64_t ts_receive) except -1
    cdef int wide_balance(self, BalanceUpdate* u, string_view balance, string_view available,
                          string_view changed, int64_t ts_receive) except -1
    cdef int finish_balance(self, BalanceUpdate* u, string_view changed,
                            int64_t ts_receive) except -1
