from libc.stdint cimport int32_t, int64_t, uint32_t

from feedhandler.core.book cimport OrderBook
from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport od_object


cdef struct BookSpec:
    int64_t price_divisor     # 10**(slot price scale - pair price precision), for the checksum
    int64_t qty_divisor       # 10**(slot size scale - pair qty precision)


cdef struct CandleState:
    int64_t open_time         # ns of interval_begin; 0 while no candle was seen
    int64_t open
    int64_t high
    int64_t low
    int64_t close
    int64_t volume


cdef class KrakenDecoder(Decoder):
    cdef BookSpec* specs
    cdef CandleState* open_candles    # INTERVAL_COUNT per slot: the latest candle of each series
    cdef int32_t spec_capacity
    cdef readonly int64_t skipped     # book updates dropped while their book awaited a snapshot
    cdef int decode_response(self, od_object& top, const char* buf, size_t n) except -1
    cdef int decode_book(self, od_object& item, bint snapshot, const char* buf, size_t n,
                         int64_t ts_receive) except -1
    cdef int decode_trade(self, od_object& item, int64_t ts_receive) except -1
    cdef int decode_ticker(self, od_object& item, int64_t ts_receive) except -1
    cdef int decode_candle(self, od_object& item, int64_t ts_message,
                           int64_t ts_receive) except -1
    cdef uint32_t checksum(self, OrderBook book, int32_t slot) noexcept nogil
