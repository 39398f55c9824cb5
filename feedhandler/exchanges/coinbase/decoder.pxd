from libc.stdint cimport int32_t, int64_t, uint8_t

from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport od_object


cdef struct ProductState:
    int64_t last_trade_id     # highest trade id seen on market_trades, -1 before the first
    int64_t trade_floor       # last_trade_id when the current trades snapshot began
    int64_t candle_start      # unix seconds of the candle being built, -1 before the first
    int64_t candle_open
    int64_t candle_high
    int64_t candle_low
    int64_t candle_close
    int64_t candle_volume
    uint8_t quiet             # snapshot loaded while withdrawn; silent until ``announce``


cdef class CoinbaseDecoder(Decoder):
    cdef readonly int64_t sequence      # last sequence_num on this socket, -1 before the first
    cdef readonly int64_t restarts      # times sequence_num went backwards (a new socket)
    cdef ProductState* products
    cdef int32_t product_capacity
    cdef int check_sequence(self, int64_t sequence) except -1
    cdef int withdraw_books(self, str reason, bint live_only) except -1
    cdef int reject(self, int kind, str reason) except -1
    cdef int decode_book(self, od_object& event, int64_t timestamp, int64_t ts_receive) except -1
    cdef int decode_trades(self, od_object& event, int64_t timestamp,
                           int64_t ts_receive) except -1
    cdef int decode_tickers(self, od_object& event, int64_t timestamp,
                            int64_t ts_receive) except -1
    cdef int decode_candles(self, od_object& event, int64_t timestamp,
                            int64_t ts_receive) except -1
