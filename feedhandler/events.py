"""The small immutable objects callbacks receive (named tuples: the cheapest immutable object
CPython builds, about 4x faster than a frozen dataclass).

Numbers stay exact int64 fixed point (``price`` means ``price / 10**price_scale``); ``Decimal``
and ``float`` views are computed only when asked for, at the callback boundary. Users who want
no per-event object read the ring buffers instead (``FeedHandler.trades`` etc.).
"""

from __future__ import annotations

import enum
from decimal import Context, Decimal
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from feedhandler.core.fixedpoint import to_text

if TYPE_CHECKING:
    from feedhandler.core.book import OrderBook
    from feedhandler.exchanges.base import Instrument


WIDE = Context(prec=80)      # exact for any 128-bit amount


def exact(value: int, scale: int) -> Decimal:
    if -(1 << 63) <= value < 1 << 63:
        return Decimal(to_text(value, scale))
    return Decimal(value).scaleb(-scale, WIDE)    # a 128-bit balance (BalanceRing)


def wide_units(high: int, low: int) -> int:
    """A BalanceRing amount from its two int64 columns: ``high * 2**64 + low`` (as uint64)."""
    return (int(high) << 64) | (int(low) & 0xFFFF_FFFF_FFFF_FFFF)


class Side(enum.IntEnum):
    SELL = -1
    UNKNOWN = 0
    BUY = 1


SIDES = {side.value: side for side in Side}   # a dict lookup costs a fraction of Side(int)


class Trade(NamedTuple):
    instrument: Instrument
    price_ticks: int
    size_lots: int
    side: Side
    trade_id: int
    ts_exchange: int      # ns since the epoch, as the venue stamped it
    ts_receive: int       # ns since the epoch, when the frame was read
    inexact: bool = False  # a value had more decimals than its scale: rounded half-even

    @property
    def exchange(self) -> str:
        return self.instrument.venue

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def price(self) -> Decimal:
        return exact(self.price_ticks, self.instrument.price_scale)

    @property
    def size(self) -> Decimal:
        return exact(self.size_lots, self.instrument.size_scale)

    @property
    def price_float(self) -> float:
        return self.price_ticks / 10**self.instrument.price_scale

    @property
    def size_float(self) -> float:
        return self.size_lots / 10**self.instrument.size_scale


class Ticker(NamedTuple):
    instrument: Instrument
    bid_price_ticks: int
    bid_size_lots: int
    ask_price_ticks: int
    ask_size_lots: int
    last_price_ticks: int   # 0 when the venue's ticker carries no last price
    ts_exchange: int
    ts_receive: int
    inexact: bool = False   # a value had more decimals than its scale: rounded half-even

    @property
    def exchange(self) -> str:
        return self.instrument.venue

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def bid(self) -> Decimal:
        return exact(self.bid_price_ticks, self.instrument.price_scale)

    @property
    def ask(self) -> Decimal:
        return exact(self.ask_price_ticks, self.instrument.price_scale)

    @property
    def bid_size(self) -> Decimal:
        return exact(self.bid_size_lots, self.instrument.size_scale)

    @property
    def ask_size(self) -> Decimal:
        return exact(self.ask_size_lots, self.instrument.size_scale)

    @property
    def last(self) -> Decimal | None:
        if not self.last_price_ticks:
            return None
        return exact(self.last_price_ticks, self.instrument.price_scale)

    @property
    def bid_float(self) -> float:
        return self.bid_price_ticks / 10**self.instrument.price_scale

    @property
    def ask_float(self) -> float:
        return self.ask_price_ticks / 10**self.instrument.price_scale


class Candle(NamedTuple):
    instrument: Instrument
    timeframe_seconds: int
    open_time: int          # ns since the epoch
    open_ticks: int
    high_ticks: int
    low_ticks: int
    close_ticks: int
    volume_lots: int
    closed: bool            # the venue says this candle is final
    ts_exchange: int
    ts_receive: int
    inexact: bool = False   # a value had more decimals than its scale: rounded half-even

    @property
    def exchange(self) -> str:
        return self.instrument.venue

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def _price(self, ticks: int) -> Decimal:
        return exact(ticks, self.instrument.price_scale)

    @property
    def open(self) -> Decimal:
        return self._price(self.open_ticks)

    @property
    def high(self) -> Decimal:
        return self._price(self.high_ticks)

    @property
    def low(self) -> Decimal:
        return self._price(self.low_ticks)

    @property
    def close(self) -> Decimal:
        return self._price(self.close_ticks)

    @property
    def volume(self) -> Decimal:
        return exact(self.volume_lots, self.instrument.size_scale)


class BookStatus(enum.StrEnum):
    LIVE = "live"          # the book is in sync and may be used
    INVALID = "invalid"    # withdrawn (gap, checksum, disconnect): do not use until resynced


class BookMoved(RuntimeError):
    """``BookUpdate.top()`` was asked for levels the shared book no longer holds: it has
    applied later updates or been withdrawn since the event (or the event is INVALID)."""


class BookUpdate(NamedTuple):
    """The book changed (once per socket read), or its status did.

    ``resynced`` is True on the first update after the book was rebuilt from a snapshot, so a
    consumer knows the deltas in between were not seen. When ``status`` is INVALID, ``reason``
    says why and the book must not be used until a LIVE update arrives.

    An update states the book as it was when it happened, however late it is read (a queue
    consumed by ``async for``, a slow callback): ``sequence``, ``status``, ``best_bid`` and
    ``best_ask`` are captured then. ``book`` is the shared live book, which moves on; ``top()``
    reads it only while it still holds this update's state and raises ``BookMoved`` once it
    has changed or been withdrawn, so a withdrawn book is never served as this update's.
    """

    instrument: Instrument
    book: OrderBook
    status: BookStatus
    resynced: bool
    reason: str
    sequence: int
    ts_exchange: int
    ts_receive: int
    bid_price_ticks: int    # best bid at the update, 0 when the side was empty or INVALID
    bid_size_lots: int
    ask_price_ticks: int
    ask_size_lots: int
    update_count: int       # the book's ``update_count`` at the update: how ``top`` knows

    @classmethod
    def capture(cls, instrument: Instrument, book: OrderBook, status: BookStatus,
                resynced: bool, reason: str) -> BookUpdate:
        """The update stating ``book`` as it is now (its best levels only while LIVE); one C
        call and no Python-level ``__new__``: this runs once per book per socket read."""
        if status is BookStatus.LIVE:
            return tuple.__new__(cls, (instrument, book, status, resynced, reason,
                                       *book.event_fields()))
        return cls(instrument, book, status, resynced, reason, book.sequence, book.ts_exchange,
                   book.ts_receive, 0, 0, 0, 0, book.update_count)

    @property
    def exchange(self) -> str:
        return self.instrument.venue

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        """Price and size of the best bid at this update (None: no bid, or INVALID)."""
        if not self.bid_price_ticks:
            return None
        return (exact(self.bid_price_ticks, self.instrument.price_scale),
                exact(self.bid_size_lots, self.instrument.size_scale))

    @property
    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        """Price and size of the best ask at this update (None: no ask, or INVALID)."""
        if not self.ask_price_ticks:
            return None
        return (exact(self.ask_price_ticks, self.instrument.price_scale),
                exact(self.ask_size_lots, self.instrument.size_scale))

    def top(self, n: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Float prices and sizes of the best ``n`` bids and asks (best first), read from the
        shared book while it still holds this update's state; else ``BookMoved``."""
        book = self.book
        if self.status is not BookStatus.LIVE:
            raise BookMoved(f"{self.exchange} {self.symbol}: this update withdrew the book "
                            f"({self.reason})")
        if not book.valid:
            raise BookMoved(f"{self.exchange} {self.symbol}: the book was withdrawn after this "
                            f"update (sequence {self.sequence})")
        if book.update_count != self.update_count or book.sequence != self.sequence:
            raise BookMoved(f"{self.exchange} {self.symbol}: the book moved past this update "
                            f"(sequence {self.sequence}, now {book.sequence})")
        bid_prices, bid_sizes = book.top_float(0, n)
        ask_prices, ask_sizes = book.top_float(1, n)
        return bid_prices, bid_sizes, ask_prices, ask_sizes


class OrderStatus(enum.IntEnum):
    """Values as the order ring's ``status`` column holds them (``core/private.pxd``)."""

    UNKNOWN = 0
    NEW = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 4
    REJECTED = 5
    EXPIRED = 6


ORDER_STATUSES = {status.value: status for status in OrderStatus}


class Order(NamedTuple):
    """One update of one of the account's orders. Prices and sizes are exact fixed point at
    the row's own scales (the instrument's when subscribed, else the venue default); ``fee``
    is the fee of the fill this update reports, in ``fee_asset``."""

    exchange: str
    symbol: str             # unified when the instrument is known here, else the venue's form
    instrument: Instrument | None
    order_id: str
    client_id: str
    side: Side
    status: OrderStatus
    price_ticks: int        # 0 for market orders
    size_lots: int
    filled_lots: int        # cumulative
    last_price_ticks: int   # the fill this update reports (0: none)
    last_size_lots: int
    fee_units: int
    fee_asset: str
    price_scale: int
    size_scale: int
    fee_scale: int
    sequence: int           # the venue's ordering evidence (update id or transaction time)
    ts_exchange: int
    ts_receive: int
    inexact: bool = False   # a value had more decimals than its scale: rounded half-even

    @property
    def price(self) -> Decimal:
        return exact(self.price_ticks, self.price_scale)

    @property
    def size(self) -> Decimal:
        return exact(self.size_lots, self.size_scale)

    @property
    def filled(self) -> Decimal:
        return exact(self.filled_lots, self.size_scale)

    @property
    def last_price(self) -> Decimal:
        return exact(self.last_price_ticks, self.price_scale)

    @property
    def last_size(self) -> Decimal:
        return exact(self.last_size_lots, self.size_scale)

    @property
    def fee(self) -> Decimal:
        return exact(self.fee_units, self.fee_scale)


class Balance(NamedTuple):
    """One asset's balance. With ``has_totals`` False the venue reported only ``delta``
    (Binance balanceUpdate: a deposit, withdrawal or transfer). The ``*_units`` are at
    ``scale`` and may exceed int64 (HTX's 18-decimal balances: 128-bit rows)."""

    exchange: str
    asset: str
    free_units: int
    locked_units: int
    total_units: int
    delta_units: int
    has_totals: bool
    scale: int
    ts_exchange: int
    ts_receive: int
    inexact: bool = False   # a value had more decimals than its scale: rounded half-even

    @property
    def free(self) -> Decimal:
        return exact(self.free_units, self.scale)

    @property
    def locked(self) -> Decimal:
        return exact(self.locked_units, self.scale)

    @property
    def total(self) -> Decimal:
        return exact(self.total_units, self.scale)

    @property
    def delta(self) -> Decimal:
        return exact(self.delta_units, self.scale)


class Position(NamedTuple):
    """A futures position: signed ``amount`` (short < 0); ``side`` 0 in one-way mode, 1 / -1
    for the long / short leg in hedge mode."""

    exchange: str
    symbol: str
    instrument: Instrument | None
    side: int
    amount_lots: int
    entry_price_ticks: int
    unrealized_pnl_units: int
    price_scale: int
    size_scale: int
    pnl_scale: int
    ts_exchange: int
    ts_receive: int
    inexact: bool = False   # a value had more decimals than its scale: rounded half-even

    @property
    def amount(self) -> Decimal:
        return exact(self.amount_lots, self.size_scale)

    @property
    def entry_price(self) -> Decimal:
        return exact(self.entry_price_ticks, self.price_scale)

    @property
    def unrealized_pnl(self) -> Decimal:
        return exact(self.unrealized_pnl_units, self.pnl_scale)


Event = Trade | Ticker | Candle | BookUpdate | Order | Balance | Position
