from libc.stdint cimport int32_t, int64_t

from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport od_object


cdef class GateioDecoder(Decoder):
    cdef int decode_depth(self, od_object& result, bint obu, const char* buf, size_t n,
                          int64_t ts_receive) except -1
    cdef int depth_verdict(self, int32_t slot, int64_t first, int64_t last, bint full,
                           bint obu, const char* buf, size_t n) except -1
    cdef int decode_trade(self, od_object& result, int64_t ts_message,
                          int64_t ts_receive) except -1
    cdef int decode_book_ticker(self, od_object& result, int64_t ts_message,
                                int64_t ts_receive) except -1
    cdef int decode_ticker(self, od_object& result, int64_t ts_message,
                           int64_t ts_receive) except -1
    cdef int decode_candle(self, od_object& result, int64_t ts_message,
                           int64_t ts_receive) except -1
    cdef int load_snapshot(self, int32_t slot, const char* buf, size_t n) except -1
