"""Preallocated numpy ring buffers for trades, tickers (BBO), candles and the private
channels (orders, balances, positions).

Decoders append through the column structs (raw pointers into the numpy arrays, so no Python
object is touched); readers take ``[cursor, write_count)`` as numpy views. Capacity is a power
of two and ``write_count`` only grows, so a reader that falls more than ``capacity`` rows
behind knows exactly how many rows it lost.
"""

from libc.stdint cimport int8_t, int32_t, int64_t
from libc.string cimport memcpy, memset

from feedhandler.core.fixedpoint cimport decimal_rounding


# widths of the fixed-width byte columns of the private rings (numpy ``S<width>``): the
# longest ids the seven venues use (UUIDs are 36) with room; a longer value is a decode error
cdef enum:
    SYMBOL_WIDTH = 32
    ORDER_ID_WIDTH = 48
    CLIENT_ID_WIDTH = 48
    ASSET_WIDTH = 16


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
    int8_t* inexact       # 1: a value had more decimals than its scale, rounded half-even


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
    int8_t* inexact


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
    int8_t* inexact


cdef struct OrderColumns:
    int64_t mask
    int64_t write_count
    int32_t* instrument   # -1 when the symbol has no subscription-wide instrument id
    int64_t* ts_exchange
    int64_t* ts_receive
    int64_t* price        # limit price at ``price_scale`` (0 for market orders)
    int64_t* size         # original quantity at ``size_scale``
    int64_t* filled       # cumulative filled quantity
    int64_t* last_price   # price of the fill this update reports (0: none)
    int64_t* last_size    # quantity of that fill
    int64_t* fee          # fee of that fill at ``fee_scale`` (negative: rebate)
    int64_t* sequence     # the venue's update id / event time, as ordering evidence
    int8_t* side          # 1 buy, -1 sell
    int8_t* status        # OrderStatus
    int8_t* price_scale
    int8_t* size_scale
    int8_t* fee_scale
    char* symbol          # SYMBOL_WIDTH bytes per row, NUL padded
    char* order_id        # ORDER_ID_WIDTH
    char* client_id       # CLIENT_ID_WIDTH
    char* fee_asset       # ASSET_WIDTH
    int8_t* inexact       # 1: a value had more decimals than its scale, rounded half-even


cdef struct BalanceColumns:
    int64_t mask
    int64_t write_count
    int64_t* ts_exchange
    int64_t* ts_receive
    int64_t* free         # at ``scale``; with ``has_totals`` 0 only ``delta`` is known
    int64_t* locked
    int64_t* total
    int64_t* delta        # change this update reports (0 when the venue gives none)
    int8_t* has_totals
    int8_t* scale
    char* asset           # ASSET_WIDTH
    int8_t* inexact
    # the high 64 bits of each amount as a 128-bit integer at ``scale``: amount =
    # high * 2**64 + (low as uint64). For every amount that fits int64 (all venues but
    # HTX's 18-decimal balances) high is its sign (0 or -1) and the low column alone is it.
    int64_t* free_high
    int64_t* locked_high
    int64_t* total_high
    int64_t* delta_high


cdef struct PositionColumns:
    int64_t mask
    int64_t write_count
    int32_t* instrument
    int64_t* ts_exchange
    int64_t* ts_receive
    int64_t* amount       # signed position size at ``size_scale`` (short < 0)
    int64_t* entry_price  # at ``price_scale``
    int64_t* unrealized_pnl   # at ``pnl_scale``
    int8_t* side          # 0 one-way (BOTH), 1 long leg, -1 short leg (hedge mode)
    int8_t* price_scale
    int8_t* size_scale
    int8_t* pnl_scale
    char* symbol          # SYMBOL_WIDTH
    int8_t* inexact


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


cdef class OrderRing(Ring):
    cdef OrderColumns c


cdef class BalanceRing(Ring):
    cdef BalanceColumns c


cdef class PositionRing(Ring):
    cdef PositionColumns c


cdef inline bint put_text(char* column, int64_t row, int width, const char* p,
                          size_t n) noexcept nogil:
    """Writes ``n`` bytes NUL padded into a fixed-width column; False (nothing written) when
    they do not fit, which the decoder reports as a decode error, never truncates."""
    if n > <size_t>width:
        return False
    if n:                       # an absent field is (NULL, 0): memcpy must not see NULL
        memcpy(column + row * width, p, n)
    memset(column + row * width + n, 0, width - n)
    return True


cdef inline int8_t take_inexact() noexcept nogil:
    """1 when this module's parser rounded a value since the message began or the last row
    was written (the values of the row being written), and starts the next row."""
    cdef int8_t inexact = decimal_rounding.count != decimal_rounding.mark
    decimal_rounding.mark = decimal_rounding.count
    return inexact


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
    c.inexact[i] = take_inexact()
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
    c.inexact[i] = take_inexact()
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
    c.inexact[i] = take_inexact()
    c.write_count += 1
