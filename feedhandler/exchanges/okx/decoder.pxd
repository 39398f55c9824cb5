from libc.stdint cimport int32_t, int64_t

from feedhandler.core.book cimport OrderBook
from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport od_object, value


cdef class OkxDecoder(Decoder):
    cdef int decode_data(self, value& data, int channel, int32_t slot, int action,
                         int64_t interval, const char* buf, size_t n,
                         int64_t ts_receive) except -1
    cdef int decode_book(self, od_object& item, int32_t slot, int action,
                         int64_t ts_receive) except -1
    cdef int decode_trade(self, od_object& item, int32_t slot, int64_t ts_receive) except -1
    cdef int decode_ticker(self, od_object& item, int32_t slot, int64_t ts_receive) except -1
    cdef int decode_candle(self, value& item, int32_t slot, int64_t interval,
                           int64_t ts_receive) except -1
    cdef int32_t checksum(self, OrderBook book) noexcept nogil
