# distutils: language = c++
"""PrivateDecoder: rows for the order, balance and position rings, checked before written.

Balances, fees and PnL are kept at ``asset_scale`` decimals (8 by default: every venue here
but HTX quotes balances to at most 8 decimals for the assets it lists, and int64 at 8 decimals
holds 92 billion units; a balance row that needs HTX's 18 significant decimals is kept at
WIDE_BALANCE_SCALE in 128 bits, see BalanceColumns); a value that does not fit is a decode
error (``DECIMAL_OVERFLOW``), never wrapped. A value with more decimals than its scale is rounded half-even like market data
(``fixedpoint.pxd``) and its row flagged ``inexact``: the venue module's rounding counter
(``self.rounding``) is read when the row is written.
"""

from libc.stdint cimport int8_t, int32_t, int64_t

from feedhandler.core.decoder cimport DECODED_PRIVATE
from feedhandler.core.rings cimport (
    ASSET_WIDTH,
    CLIENT_ID_WIDTH,
    ORDER_ID_WIDTH,
    SYMBOL_WIDTH,
    BalanceRing,
    CandleRing,
    OrderRing,
    PositionRing,
    TickerRing,
    TradeRing,
    put_text,
)


BALANCE_SCALE_WIDE = WIDE_BALANCE_SCALE    # the scale of a 128-bit balance row, for Python


cdef class PrivateDecoder(Decoder):
    """Base of the venues' private decoders; ``decode`` is the venue's."""

    def __init__(self, OrderRing orders=None, BalanceRing balances=None,
                 PositionRing positions=None, *, int default_price_scale=8,
                 int default_size_scale=8, int asset_scale=8):
        # the public rings are unused here: minimal ones, not the default 64k rows
        super().__init__(TradeRing(2), TickerRing(2), CandleRing(2))
        self.orders = orders if orders is not None else OrderRing()
        self.balances = balances if balances is not None else BalanceRing()
        self.positions = positions if positions is not None else PositionRing()
        self.default_price_scale = default_price_scale
        self.default_size_scale = default_size_scale
        self.asset_scale = asset_scale
        self.rows_message = -1

    cdef int fail(self, str reason) except -1:
        """A message that wrote rows before going wrong (a balance list whose second entry
        is malformed) reports PRIVATE with its ERROR: the rows are in the rings, and the
        connection manager delivers rows only on PRIVATE, so they would otherwise wait for
        the next private message."""
        cdef int flags = Decoder.fail(self, reason)
        if self.rows_message == self.messages:
            flags |= DECODED_PRIVATE
        return flags

    cdef void resolve(self, Text symbol, int32_t* instrument, int* price_scale,
                      int* size_scale) noexcept nogil:
        cdef int32_t slot = self.find_slot(symbol.data, symbol.size)
        if slot < 0:
            instrument[0] = -1
            price_scale[0] = self.default_price_scale
            size_scale[0] = self.default_size_scale
        else:
            instrument[0] = self.slots[slot].instrument
            price_scale[0] = self.slots[slot].price_scale
            size_scale[0] = self.slots[slot].size_scale

    cdef int8_t take_inexact(self) noexcept nogil:
        """``rings.take_inexact`` on the venue module's counter (this module has its own)."""
        cdef int8_t inexact = self.rounding.count != self.rounding.mark
        self.rounding.mark = self.rounding.count
        return inexact

    cdef int append_order(self, OrderUpdate* u, int64_t ts_receive) except -1:
        cdef OrderRing ring = self.orders
        cdef int64_t row = ring.c.write_count & ring.c.mask
        if not (put_text(ring.c.symbol, row, SYMBOL_WIDTH, u.symbol.data, u.symbol.size)
                and put_text(ring.c.order_id, row, ORDER_ID_WIDTH, u.order_id.data,
                             u.order_id.size)
                and put_text(ring.c.client_id, row, CLIENT_ID_WIDTH, u.client_id.data,
                             u.client_id.size)
                and put_text(ring.c.fee_asset, row, ASSET_WIDTH, u.fee_asset.data,
                             u.fee_asset.size)):
            return self.fail("order symbol, id or fee asset longer than its ring column")
        ring.c.instrument[row] = u.instrument
        ring.c.ts_exchange[row] = u.ts_exchange
        ring.c.ts_receive[row] = ts_receive
        ring.c.price[row] = u.price
        ring.c.size[row] = u.size
        ring.c.filled[row] = u.filled
        ring.c.last_price[row] = u.last_price
        ring.c.last_size[row] = u.last_size
        ring.c.fee[row] = u.fee
        ring.c.sequence[row] = u.sequence
        ring.c.side[row] = u.side
        ring.c.status[row] = u.status
        ring.c.price_scale[row] = u.price_scale
        ring.c.size_scale[row] = u.size_scale
        ring.c.fee_scale[row] = self.asset_scale
        ring.c.inexact[row] = self.take_inexact()
        ring.c.write_count += 1
        self.order_updates += 1
        self.rows_message = self.messages
        return DECODED_PRIVATE

    cdef int append_balance(self, BalanceUpdate* u, int64_t ts_receive) except -1:
        cdef BalanceRing ring = self.balances
        cdef int64_t row = ring.c.write_count & ring.c.mask
        if not put_text(ring.c.asset, row, ASSET_WIDTH, u.asset.data, u.asset.size):
            return self.fail("asset name longer than its ring column")
        ring.c.ts_exchange[row] = u.ts_exchange
        ring.c.ts_receive[row] = ts_receive
        ring.c.free[row] = u.free
        ring.c.locked[row] = u.locked
        ring.c.total[row] = u.total
        ring.c.delta[row] = u.delta
        ring.c.has_totals[row] = u.has_totals
        if u.wide:
            ring.c.scale[row] = WIDE_BALANCE_SCALE
            ring.c.free_high[row] = u.free_high
            ring.c.locked_high[row] = u.locked_high
            ring.c.total_high[row] = u.total_high
            ring.c.delta_high[row] = u.delta_high
        else:
            ring.c.scale[row] = self.asset_scale
            ring.c.free_high[row] = -1 if u.free < 0 else 0
            ring.c.locked_high[row] = -1 if u.locked < 0 else 0
            ring.c.total_high[row] = -1 if u.total < 0 else 0
            ring.c.delta_high[row] = -1 if u.delta < 0 else 0
        ring.c.inexact[row] = self.take_inexact()
        ring.c.write_count += 1
        self.balance_updates += 1
        self.rows_message = self.messages
        return DECODED_PRIVATE

    cdef int append_position(self, PositionUpdate* u, int64_t ts_receive) except -1:
        cdef PositionRing ring = self.positions
        cdef int64_t row = ring.c.write_count & ring.c.mask
        if not put_text(ring.c.symbol, row, SYMBOL_WIDTH, u.symbol.data, u.symbol.size):
            return self.fail("position symbol longer than its ring column")
        ring.c.instrument[row] = u.instrument
        ring.c.ts_exchange[row] = u.ts_exchange
        ring.c.ts_receive[row] = ts_receive
        ring.c.amount[row] = u.amount
        ring.c.entry_price[row] = u.entry_price
        ring.c.unrealized_pnl[row] = u.unrealized_pnl
        ring.c.side[row] = u.side
        ring.c.price_scale[row] = u.price_scale
        ring.c.size_scale[row] = u.size_scale
        ring.c.pnl_scale[row] = self.asset_scale
        ring.c.inexact[row] = self.take_inexact()
        ring.c.write_count += 1
        self.position_updates += 1
        self.rows_message = self.messages
        return DECODED_PRIVATE

    def stats(self) -> dict:
        out = super().stats()
        out.update(order_updates=self.order_updates, balance_updates=self.balance_updates,
                   position_updates=self.position_updates)
        return out
