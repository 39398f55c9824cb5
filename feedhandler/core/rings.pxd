"""Preallocated numpy ring buffers for trades, tickers (BBO) and candles.

Decoders append through the column structs (raw pointers into the numpy arrays, so no Python
object is touched); readers take ``[cursor, write_count)`` as numpy views. Capacity is a power
of two and ``write_count`` only grows, so a reader that falls more than ``capacity`` rows
behind knows exactly how many rows it lost.
"""

from libc.stdint cimport int8_t, int32_t, int64_t


cdef struct TradeColumns:
    int64_t mask
    int64_t write_count
    int32_t* instrument
    int64_t* ts_exchange
    int64_t* ts_receive
    int64_t* price
    int64_t* size
    int64_t* trade_id
    int8_t* side          # 1 buy (taker bought), -1 sell, 0 unknown


cdef struct TickerColumns:
    int64_t mask
    int64_t write_count
    int32_t* instrument
    int64_t* ts_exchange
    int64_t* ts_receive
    int64_t* bid_price
    int64_t* bid_size
    int64_t* ask_price
    int64_t* ask_size
    int64_t* last_price   # 0 when the channel carries no last trade price


cdef struct CandleColumns:
    int64_t mask
    int64_t write_count
    int32_t* instrument
    int64_t* ts_exchange
    int64_t* ts_receive
    int64_t* open_time    # ns
    int32_t* interval     # seconds
    int64_t* open
    int64_t* high
    int64_t* low
    int64_t* close
    int64_t* volume
    int8_t* closed        # 1 when the venue says the candle is final


cdef class Ring:
    cdef readonly Py_ssize_t capacity
    cdef readonly dict columns
    cdef int64_t* _write_count
    cdef object _allocate(self, str name, object dtype)


cdef class TradeRing(Ring):
    cdef TradeColumns c


cdef class TickerRing(Ring):
    cdef TickerColumns c


cdef class CandleRing(Ring):
    cdef CandleColumns c


cdef inline void trade_append(TradeColumns* c, int32_t instrument, int64_t ts_exchange,
                              int64_t ts_receive, int64_t price, int64_t size, int8_t side,
                              int64_t trade_id) noexcept nogil:
    cdef int64_t i = c.write_count & c.mask
    c.instrument[i] = instrument
    c.ts_exchange[i] = ts_exchange
    c.ts_receive[i] = ts_receive
    c.price[i] = price
    c.size[i] = size
    c.side[i] = side
    c.trade_id[i] = trade_id
    c.write_count += 1


cdef inline void ticker_append(TickerColumns* c, int32_t instrument, int64_t ts_exchange,
                               int64_t ts_receive, int64_t bid_price, int64_t bid_size,
                               int64_t ask_price, int64_t ask_size,
                               int64_t last_price) noexcept nogil:
    cdef int64_t i = c.write_count & c.mask
    c.instrument[i] = instrument
    c.ts_exchange[i] = ts_exchange
    c.ts_receive[i] = ts_receive
    c.bid_price[i] = bid_price
    c.bid_size[i] = bid_size
    c.ask_price[i] = ask_price
    c.ask_size[i] = ask_size
    c.last_price[i] = last_price
    c.write_count += 1


cdef inline void candle_append(CandleColumns* c, int32_t instrument, int64_t ts_exchange,
                               int64_t ts_receive, int64_t open_time, int32_t interval,
                               int64_t open, int64_t high, int64_t low, int64_t close,
                               int64_t volume, int8_t closed) noexcept nogil:
    cdef int64_t i = c.write_count & c.mask
    c.instrument[i] = instrument
    c.ts_exchange[i] = ts_exchange
    c.ts_receive[i] = ts_receive
    c.open_time[i] = open_time
    c.interval[i] = interval
    c.open[i] = open
    c.high[i] = high
    c.low[i] = low
    c.close[i] = close
    c.volume[i] = volume
    c.closed[i] = closed
    c.write_count += 1
