# distutils: language = c++
"""Ring buffers: numpy columns written by decoders, read as zero-copy views.

The private rings (orders, balances, positions) also hold fixed-width byte columns (numpy
``S<n>``) for symbols, ids and assets, and a scale per row, since one account's rows span
instruments and assets of different precisions.
"""

import numpy as np

from libc.stdint cimport int8_t, int32_t, int64_t


class RingOverrun(RuntimeError):
    """A reader fell more than ``capacity`` rows behind: ``lost`` rows were overwritten."""

    def __init__(self, lost: int, resumed_at: int):
        self.lost = lost
        self.resumed_at = resumed_at
        super().__init__(f"ring overrun: {lost} rows overwritten before they were read")


cdef inline void* column_pointer(object array):
    cdef char[::1] raw = array.view(np.int8)
    return <void*>&raw[0]


cdef class Ring:
    """Columns of ``capacity`` rows (a power of two) plus a monotonic write counter."""

    def __cinit__(self, Py_ssize_t capacity=1 << 16):
        if capacity < 2 or capacity & (capacity - 1):
            raise ValueError(f"capacity must be a power of two >= 2, got {capacity}")
        self.capacity = capacity
        self.columns = {}

    cdef object _allocate(self, str name, object dtype):
        # written through now, not left to calloc's lazy zero pages: the first lap of the
        # ring takes no page faults on the hot path, and resident memory is flat from the start
        array = np.empty(self.capacity, dtype=dtype)
        array.fill(0)
        self.columns[name] = array
        return array

    @property
    def write_count(self) -> int:
        """Rows ever written; row ``k`` lives at index ``k & (capacity - 1)``."""
        return self._write_count[0]

    def reader(self, bint from_start=False) -> RingReader:
        """A cursor at the current end (or at the oldest retained row)."""
        return RingReader(self, from_start)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(capacity={self.capacity}, written={self.write_count})"


cdef class TradeRing(Ring):
    def __cinit__(self, Py_ssize_t capacity=1 << 16):
        self.c.mask = capacity - 1
        self.c.write_count = 0
        self._write_count = &self.c.write_count
        self.c.instrument = <int32_t*>column_pointer(self._allocate("instrument", np.int32))
        self.c.ts_exchange = <int64_t*>column_pointer(self._allocate("ts_exchange", np.int64))
        self.c.ts_receive = <int64_t*>column_pointer(self._allocate("ts_receive", np.int64))
        self.c.price = <int64_t*>column_pointer(self._allocate("price", np.int64))
        self.c.size = <int64_t*>column_pointer(self._allocate("size", np.int64))
        self.c.trade_id = <int64_t*>column_pointer(self._allocate("trade_id", np.int64))
        self.c.side = <int8_t*>column_pointer(self._allocate("side", np.int8))
        self.c.inexact = <int8_t*>column_pointer(self._allocate("inexact", np.int8))

    def append(self, int instrument, int64_t ts_exchange, int64_t ts_receive, int64_t price,
               int64_t size, int side, int64_t trade_id) -> None:
        trade_append(&self.c, instrument, ts_exchange, ts_receive, price, size, side, trade_id)


cdef class TickerRing(Ring):
    def __cinit__(self, Py_ssize_t capacity=1 << 16):
        self.c.mask = capacity - 1
        self.c.write_count = 0
        self._write_count = &self.c.write_count
        self.c.instrument = <int32_t*>column_pointer(self._allocate("instrument", np.int32))
        self.c.ts_exchange = <int64_t*>column_pointer(self._allocate("ts_exchange", np.int64))
        self.c.ts_receive = <int64_t*>column_pointer(self._allocate("ts_receive", np.int64))
        self.c.bid_price = <int64_t*>column_pointer(self._allocate("bid_price", np.int64))
        self.c.bid_size = <int64_t*>column_pointer(self._allocate("bid_size", np.int64))
        self.c.ask_price = <int64_t*>column_pointer(self._allocate("ask_price", np.int64))
        self.c.ask_size = <int64_t*>column_pointer(self._allocate("ask_size", np.int64))
        self.c.last_price = <int64_t*>column_pointer(self._allocate("last_price", np.int64))
        self.c.inexact = <int8_t*>column_pointer(self._allocate("inexact", np.int8))

    def append(self, int instrument, int64_t ts_exchange, int64_t ts_receive,
               int64_t bid_price, int64_t bid_size, int64_t ask_price, int64_t ask_size,
               int64_t last_price=0) -> None:
        ticker_append(&self.c, instrument, ts_exchange, ts_receive, bid_price, bid_size,
                      ask_price, ask_size, last_price)


cdef class CandleRing(Ring):
    def __cinit__(self, Py_ssize_t capacity=1 << 16):
        self.c.mask = capacity - 1
        self.c.write_count = 0
        self._write_count = &self.c.write_count
        self.c.instrument = <int32_t*>column_pointer(self._allocate("instrument", np.int32))
        self.c.ts_exchange = <int64_t*>column_pointer(self._allocate("ts_exchange", np.int64))
        self.c.ts_receive = <int64_t*>column_pointer(self._allocate("ts_receive", np.int64))
        self.c.open_time = <int64_t*>column_pointer(self._allocate("open_time", np.int64))
        self.c.interval = <int32_t*>column_pointer(self._allocate("interval", np.int32))
        self.c.open = <int64_t*>column_pointer(self._allocate("open", np.int64))
        self.c.high = <int64_t*>column_pointer(self._allocate("high", np.int64))
        self.c.low = <int64_t*>column_pointer(self._allocate("low", np.int64))
        self.c.close = <int64_t*>column_pointer(self._allocate("close", np.int64))
        self.c.volume = <int64_t*>column_pointer(self._allocate("volume", np.int64))
        self.c.closed = <int8_t*>column_pointer(self._allocate("closed", np.int8))
        self.c.inexact = <int8_t*>column_pointer(self._allocate("inexact", np.int8))

    def append(self, int instrument, int64_t ts_exchange, int64_t ts_receive,
               int64_t open_time, int interval, int64_t open, int64_t high, int64_t low,
               int64_t close, int64_t volume, bint closed) -> None:
        candle_append(&self.c, instrument, ts_exchange, ts_receive, open_time, interval,
                      open, high, low, close, volume, closed)


cdef class OrderRing(Ring):
    def __cinit__(self, Py_ssize_t capacity=1 << 12):
        self.c.mask = capacity - 1
        self.c.write_count = 0
        self._write_count = &self.c.write_count
        self.c.instrument = <int32_t*>column_pointer(self._allocate("instrument", np.int32))
        self.c.ts_exchange = <int64_t*>column_pointer(self._allocate("ts_exchange", np.int64))
        self.c.ts_receive = <int64_t*>column_pointer(self._allocate("ts_receive", np.int64))
        self.c.price = <int64_t*>column_pointer(self._allocate("price", np.int64))
        self.c.size = <int64_t*>column_pointer(self._allocate("size", np.int64))
        self.c.filled = <int64_t*>column_pointer(self._allocate("filled", np.int64))
        self.c.last_price = <int64_t*>column_pointer(self._allocate("last_price", np.int64))
        self.c.last_size = <int64_t*>column_pointer(self._allocate("last_size", np.int64))
        self.c.fee = <int64_t*>column_pointer(self._allocate("fee", np.int64))
        self.c.sequence = <int64_t*>column_pointer(self._allocate("sequence", np.int64))
        self.c.side = <int8_t*>column_pointer(self._allocate("side", np.int8))
        self.c.status = <int8_t*>column_pointer(self._allocate("status", np.int8))
        self.c.price_scale = <int8_t*>column_pointer(self._allocate("price_scale", np.int8))
        self.c.size_scale = <int8_t*>column_pointer(self._allocate("size_scale", np.int8))
        self.c.fee_scale = <int8_t*>column_pointer(self._allocate("fee_scale", np.int8))
        self.c.symbol = <char*>column_pointer(self._allocate("symbol", f"S{SYMBOL_WIDTH}"))
        self.c.order_id = <char*>column_pointer(self._allocate("order_id", f"S{ORDER_ID_WIDTH}"))
        self.c.client_id = <char*>column_pointer(
            self._allocate("client_id", f"S{CLIENT_ID_WIDTH}"))
        self.c.fee_asset = <char*>column_pointer(self._allocate("fee_asset", f"S{ASSET_WIDTH}"))
        self.c.inexact = <int8_t*>column_pointer(self._allocate("inexact", np.int8))


cdef class BalanceRing(Ring):
    def __cinit__(self, Py_ssize_t capacity=1 << 12):
        self.c.mask = capacity - 1
        self.c.write_count = 0
        self._write_count = &self.c.write_count
        self.c.ts_exchange = <int64_t*>column_pointer(self._allocate("ts_exchange", np.int64))
        self.c.ts_receive = <int64_t*>column_pointer(self._allocate("ts_receive", np.int64))
        self.c.free = <int64_t*>column_pointer(self._allocate("free", np.int64))
        self.c.locked = <int64_t*>column_pointer(self._allocate("locked", np.int64))
        self.c.total = <int64_t*>column_pointer(self._allocate("total", np.int64))
        self.c.delta = <int64_t*>column_pointer(self._allocate("delta", np.int64))
        self.c.has_totals = <int8_t*>column_pointer(self._allocate("has_totals", np.int8))
        self.c.scale = <int8_t*>column_pointer(self._allocate("scale", np.int8))
        self.c.asset = <char*>column_pointer(self._allocate("asset", f"S{ASSET_WIDTH}"))
        self.c.inexact = <int8_t*>column_pointer(self._allocate("inexact", np.int8))
        self.c.free_high = <int64_t*>column_pointer(self._allocate("free_high", np.int64))
        self.c.locked_high = <int64_t*>column_pointer(self._allocate("locked_high", np.int64))
        self.c.total_high = <int64_t*>column_pointer(self._allocate("total_high", np.int64))
        self.c.delta_high = <int64_t*>column_pointer(self._allocate("delta_high", np.int64))


cdef class PositionRing(Ring):
    def __cinit__(self, Py_ssize_t capacity=1 << 12):
        self.c.mask = capacity - 1
        self.c.write_count = 0
        self._write_count = &self.c.write_count
        self.c.instrument = <int32_t*>column_pointer(self._allocate("instrument", np.int32))
        self.c.ts_exchange = <int64_t*>column_pointer(self._allocate("ts_exchange", np.int64))
        self.c.ts_receive = <int64_t*>column_pointer(self._allocate("ts_receive", np.int64))
        self.c.amount = <int64_t*>column_pointer(self._allocate("amount", np.int64))
        self.c.entry_price = <int64_t*>column_pointer(self._allocate("entry_price", np.int64))
        self.c.unrealized_pnl = <int64_t*>column_pointer(
            self._allocate("unrealized_pnl", np.int64))
        self.c.side = <int8_t*>column_pointer(self._allocate("side", np.int8))
        self.c.price_scale = <int8_t*>column_pointer(self._allocate("price_scale", np.int8))
        self.c.size_scale = <int8_t*>column_pointer(self._allocate("size_scale", np.int8))
        self.c.pnl_scale = <int8_t*>column_pointer(self._allocate("pnl_scale", np.int8))
        self.c.symbol = <char*>column_pointer(self._allocate("symbol", f"S{SYMBOL_WIDTH}"))
        self.c.inexact = <int8_t*>column_pointer(self._allocate("inexact", np.int8))


cdef class RingBatch:
    """Rows ``[start, stop)`` of a ring as numpy views (no copy).

    The views alias the ring: they stay correct only until the writer laps them, which
    ``intact`` tells; ``copy()`` detaches them.
    """

    cdef readonly Ring ring
    cdef readonly int64_t start
    cdef readonly int64_t stop
    cdef readonly dict columns

    def __init__(self, Ring ring, int64_t start, int64_t stop):
        cdef Py_ssize_t lo = start & (ring.capacity - 1)
        cdef Py_ssize_t hi = lo + (stop - start)
        self.ring = ring
        self.start = start
        self.stop = stop
        self.columns = {name: array[lo:hi] for name, array in ring.columns.items()}

    def __len__(self) -> int:
        return self.stop - self.start

    def __getattr__(self, str name):
        try:
            return self.columns[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def intact(self) -> bool:
        """False once the writer has overwritten any row of this batch."""
        return self.ring._write_count[0] - self.start <= self.ring.capacity

    def copy(self) -> dict:
        return {name: array.copy() for name, array in self.columns.items()}

    def __repr__(self) -> str:
        return f"RingBatch({type(self.ring).__name__}, rows {self.start}..{self.stop})"


cdef class RingReader:
    """A cursor into one ring; each reader advances independently."""

    cdef readonly Ring ring
    cdef readonly int64_t cursor

    def __init__(self, Ring ring, bint from_start=False):
        cdef int64_t written = ring._write_count[0]
        self.ring = ring
        if from_start:
            self.cursor = max(0, written - ring.capacity)
        else:
            self.cursor = written

    @property
    def pending(self) -> int:
        return self.ring._write_count[0] - self.cursor

    def read(self, Py_ssize_t max_rows=-1) -> RingBatch:
        """Up to ``max_rows`` unread rows, contiguous in memory (a wrap ends the batch early).

        Raises RingOverrun when rows were overwritten before being read; the cursor then
        moves to the oldest retained row so the next read goes on from there.
        """
        cdef int64_t written = self.ring._write_count[0]
        cdef int64_t lost = written - self.cursor - self.ring.capacity
        cdef int64_t stop
        cdef int64_t until_wrap
        if lost > 0:
            self.cursor = written - self.ring.capacity
            raise RingOverrun(lost, self.cursor)
        stop = written
        if max_rows >= 0 and stop - self.cursor > max_rows:
            stop = self.cursor + max_rows
        until_wrap = self.ring.capacity - (self.cursor & (self.ring.capacity - 1))
        if stop - self.cursor > until_wrap:
            stop = self.cursor + until_wrap
        batch = RingBatch(self.ring, self.cursor, stop)
        self.cursor = stop
        return batch
