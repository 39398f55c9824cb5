from libcpp.string_view cimport string_view
from libc.stdint cimport int32_t, int64_t

from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport od_object


cdef struct BinanceEvent:
    int kind
    int32_t slot
    int64_t event_time        # ms
    int64_t trade_time        # ms
    int64_t first_update      # U
    int64_t last_update       # u
    int64_t previous_update   # pu (futures)
    int64_t trade_id
    int64_t price
    int64_t size
    int64_t bid_price
    int64_t bid_size
    int64_t ask_price
    int64_t ask_size
    int64_t last_price
    bint buyer_is_maker
    bint levels_seen


cdef class BinanceDecoder(Decoder):
    cdef readonly bint futures
    cdef int decode_event(self, od_object& event, string_view stream, const char* buf,
                          size_t n, int64_t ts_receive) except -1
    cdef int depth_verdict(self, BinanceEvent* ev, const char* buf, size_t n) except -1
    cdef int finish_depth(self, BinanceEvent* ev, int64_t ts_receive) except -1
    cdef int load_snapshot(self, int32_t slot, const char* buf, size_t n) except -1
    cdef int decode_kline(self, od_object& kline, BinanceEvent* ev, int64_t ts_receive) except -1
