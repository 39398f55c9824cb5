from libc.stdint cimport int32_t, int64_t

from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport od_object, value


cdef struct BookState:
    int64_t last_update       # "u" of the last message applied to the book
    int64_t depth             # the subscribed depth (configure_book); 0: not yet known


cdef struct TickerState:
    # the merged top of book and last price of one symbol: linear tickers send partial
    # deltas, spot takes its best bid/offer from orderbook.1 and its last price from tickers
    int64_t bid_price
    int64_t bid_size
    int64_t ask_price
    int64_t ask_size
    int64_t last_price


cdef class BybitDecoder(Decoder):
    cdef readonly bint spot
    cdef BookState* books_state
    cdef TickerState* ticker_state
    cdef int32_t state_capacity
    cdef readonly int64_t skipped     # book deltas dropped while their book awaited a snapshot
    cdef int decode_response(self, value& op, const char* buf, size_t n) except -1
    cdef int check_symbol(self, int32_t slot, od_object& item) except -1
    cdef int decode_book(self, int32_t slot, value& data, bint snapshot, int64_t ts_ms,
                         const char* buf, size_t n, int64_t ts_receive) except -1
    cdef int decode_top_of_book(self, int32_t slot, value& data, int64_t ts_ms,
                                int64_t ts_receive) except -1
    cdef int decode_ticker(self, int32_t slot, value& data, int64_t ts_ms,
                           int64_t ts_receive) except -1
    cdef int emit_ticker(self, int32_t slot, int64_t ts_ms, int64_t ts_receive) except -1
    cdef int decode_trades(self, int32_t slot, value& data, int64_t ts_receive) except -1
    cdef int decode_candles(self, int32_t slot, value& data, int64_t ts_receive) except -1
