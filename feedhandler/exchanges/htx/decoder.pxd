from libc.stdint cimport int32_t, int64_t

from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport od_object
from libcpp.string_view cimport string_view

cdef enum:
    PERIOD_COUNT = 10         # kline periods HTX offers


cdef struct CandleState:
    int64_t open_time         # ns; 0 while no candle of the series was seen
    int64_t open
    int64_t high
    int64_t low
    int64_t close
    int64_t volume


cdef struct SlotState:
    CandleState candles[PERIOD_COUNT]   # the latest candle of each period


cdef struct Topic:
    int32_t slot              # -1: a symbol not registered here
    int kind                  # TopicKind
    int period                # index into the period tables (kline topics)
    int64_t depth             # the levels of an mbp topic (market.$symbol.mbp.$depth)


cdef class HtxDecoder(Decoder):
    cdef SlotState* states
    cdef int32_t state_capacity
    cdef readonly int64_t stale       # mbp updates and late snapshots older than a live book
    cdef int parse_topic(self, string_view name, Topic* out) noexcept nogil
    cdef int decode_data(self, od_object& top, string_view channel, const char* buf, size_t n,
                         int64_t ts_receive) except -1
    cdef int decode_reply(self, od_object& top, const char* buf, size_t n) except -1
    cdef int load_mbp_snapshot(self, int32_t slot, od_object& data) except -1
    cdef int decode_mbp(self, int32_t slot, od_object& tick, int64_t ts_ms, const char* buf,
                        size_t n, int64_t ts_receive) except -1
    cdef int decode_trades(self, int32_t slot, od_object& tick, int64_t ts_receive) except -1
    cdef int decode_bbo(self, int32_t slot, od_object& tick, int64_t ts_ms,
                        int64_t ts_receive) except -1
    cdef int decode_kline(self, int32_t slot, int period, od_object& tick, int64_t ts_ms,
                          int64_t ts_receive) except -1
