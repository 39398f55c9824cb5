"""Deterministic, venue-agnostic market generator for the simulated exchanges.

Prices and sizes are integers (ticks and lots) and are rendered to decimal strings only at the
wire, so a client's book can be compared exactly with the generator's true book. The same
instruments, config and seed always produce the same event stream.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from typing import Self

PriceLevel = tuple[int, int]
"""(price in ticks, size in lots); size 0 deletes the level."""


def decimals_of(text: str) -> int:
    """Number of digits after the decimal point of a decimal string such as ``"0.010"``."""
    return len(text.partition(".")[2])


def parse_fixed(text: str, scale: int) -> int:
    """Parse a decimal string exactly into an integer count of ``10**-scale`` units."""
    whole, _, frac = text.strip().partition(".")
    negative = whole.startswith("-")
    whole = whole.lstrip("+-") or "0"
    if not (whole.isdigit() and (not frac or frac.isdigit())):
        raise ValueError(f"not a decimal number: {text!r}")
    if len(frac) > scale and frac[scale:].strip("0"):
        raise ValueError(f"{text!r} has more than {scale} decimals")
    units = int(whole) * 10**scale + int(frac[:scale].ljust(scale, "0") or "0")
    return -units if negative else units


def fixed_formatter(step_units: int, scale: int) -> Callable[[int], str]:
    """Return a function rendering a non-negative step count as a string with ``scale`` decimals.

    One step is ``step_units`` units of ``10**-scale``; the rendering is exact.
    """
    if scale == 0:
        return lambda steps: str(steps * step_units)
    divisor = 10**scale
    pattern = f"%d.%0{scale}d"

    def render(steps: int) -> str:
        return pattern % divmod(steps * step_units, divisor)

    return render


@dataclass(frozen=True)
class InstrumentSpec:
    """A tradable symbol: its price grid (tick size) and size grid (lot size) as decimal strings."""

    symbol: str
    tick_size: str
    lot_size: str
    initial_price: str
    price_decimals: int = field(init=False)
    size_decimals: int = field(init=False)
    tick_units: int = field(init=False)
    lot_units: int = field(init=False)

    def __post_init__(self) -> None:
        price_decimals = decimals_of(self.tick_size)
        size_decimals = decimals_of(self.lot_size)
        tick_units = parse_fixed(self.tick_size, price_decimals)
        lot_units = parse_fixed(self.lot_size, size_decimals)
        if tick_units <= 0 or lot_units <= 0:
            raise ValueError(f"{self.symbol}: tick and lot sizes must be positive")
        object.__setattr__(self, "price_decimals", price_decimals)
        object.__setattr__(self, "size_decimals", size_decimals)
        object.__setattr__(self, "tick_units", tick_units)
        object.__setattr__(self, "lot_units", lot_units)
        self.price_ticks(self.initial_price)

    def price_formatter(self, decimals: int | None = None) -> Callable[[int], str]:
        """Ticks → price string, with the tick size's decimals or ``decimals`` (padded) places."""
        return fixed_formatter(self.tick_units * self._pad(self.price_decimals, decimals),
                               self.price_decimals if decimals is None else decimals)

    def size_formatter(self, decimals: int | None = None) -> Callable[[int], str]:
        """Lots → size string, with the lot size's decimals or ``decimals`` (padded) places."""
        return fixed_formatter(self.lot_units * self._pad(self.size_decimals, decimals),
                               self.size_decimals if decimals is None else decimals)

    def notional_formatter(self, decimals: int | None = None) -> Callable[[int], str]:
        """Sum of ticks * lots → quote-currency string (exact; ``decimals`` may only pad)."""
        scale = self.price_decimals + self.size_decimals
        return fixed_formatter(self.tick_units * self.lot_units * self._pad(scale, decimals),
                               scale if decimals is None else decimals)

    def price_ticks(self, text: str) -> int:
        """Parse a price string exactly into ticks; raises ``ValueError`` if off the tick grid."""
        ticks, rest = divmod(parse_fixed(text, self.price_decimals), self.tick_units)
        if rest:
            raise ValueError(f"{self.symbol}: price {text} is not a multiple of {self.tick_size}")
        return ticks

    def size_lots(self, text: str) -> int:
        """Parse a size string exactly into lots; raises ``ValueError`` if off the lot grid."""
        lots, rest = divmod(parse_fixed(text, self.size_decimals), self.lot_units)
        if rest:
            raise ValueError(f"{self.symbol}: size {text} is not a multiple of {self.lot_size}")
        return lots

    @staticmethod
    def _pad(natural: int, decimals: int | None) -> int:
        if decimals is None:
            return 1
        if decimals < natural:
            raise ValueError(f"rendering with {decimals} decimals would lose precision")
        return 10 ** (decimals - natural)


@dataclass(frozen=True, slots=True)
class Regrid:
    """A relisting at a finer tick and lot size, as integers see it: each old tick is
    ``price`` new ticks and each old lot ``size`` new lots (so the true book keeps its
    values)."""

    price: int
    size: int

    @classmethod
    def between(cls, old: InstrumentSpec, new: InstrumentSpec) -> Regrid:
        price = Decimal(old.tick_size) / Decimal(new.tick_size)
        size = Decimal(old.lot_size) / Decimal(new.lot_size)
        if price != int(price) or size != int(size):
            raise ValueError(f"{old.symbol}: a relisting's tick and lot sizes must divide the "
                             f"old ones ({old.tick_size}, {old.lot_size})")
        return cls(int(price), int(size))

    def levels(self, levels: dict[int, int]) -> dict[int, int]:
        return {price * self.price: size * self.size for price, size in levels.items()}


class Side(Enum):
    """Taker side of a trade."""

    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """One batch of L2 level changes covering update ids ``first_update_id..last_update_id``."""

    symbol: str
    first_update_id: int
    last_update_id: int
    prev_update_id: int
    ts_ms: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    trade_id: int
    price: int
    size: int
    taker_side: Side
    ts_ms: int


@dataclass
class TradeStats:
    """Running ticker statistics of one symbol from its trades, for the venues' ticker
    messages (the generator has no 24-hour window: they run from the first price)."""

    first: int
    last: int
    low: int
    high: int
    last_size: int = 0
    volume: int = 0
    notional: int = 0

    @classmethod
    def starting_at(cls, price: int) -> Self:
        return cls(price, price, price, price)

    def regrid(self, regrid: Regrid) -> None:
        self.first, self.last = self.first * regrid.price, self.last * regrid.price
        self.low, self.high = self.low * regrid.price, self.high * regrid.price
        self.last_size, self.volume = self.last_size * regrid.size, self.volume * regrid.size
        self.notional *= regrid.price * regrid.size

    def add(self, trade: Trade) -> None:
        self.last, self.last_size = trade.price, trade.size
        self.low, self.high = min(self.low, trade.price), max(self.high, trade.price)
        self.volume += trade.size
        self.notional += trade.price * trade.size


@dataclass(frozen=True, slots=True)
class BestBidOffer:
    """Top of book after the book update with id ``update_id``."""

    symbol: str
    update_id: int
    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV of one interval; ``notional`` fields are sums of ticks * lots."""

    symbol: str
    interval_ms: int
    open_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    notional: int
    taker_buy_volume: int
    taker_buy_notional: int
    trade_count: int
    first_trade_id: int | None
    last_trade_id: int | None
    closed: bool
    ts_ms: int

    @property
    def close_ms(self) -> int:
        return self.open_ms + self.interval_ms - 1

    def regrid(self, regrid: Regrid) -> Candle:
        price, size = regrid.price, regrid.size
        return replace(self, open=self.open * price, high=self.high * price,
                       low=self.low * price, close=self.close * price,
                       volume=self.volume * size, notional=self.notional * price * size,
                       taker_buy_volume=self.taker_buy_volume * size,
                       taker_buy_notional=self.taker_buy_notional * price * size)


MarketEvent = BookUpdate | Trade | BestBidOffer | Candle


@dataclass(frozen=True)
class BookSnapshot:
    """The full book of one symbol as of ``update_id``: price ticks → size lots per side."""

    symbol: str
    update_id: int
    bids: dict[int, int]
    asks: dict[int, int]

    def top(self, limit: int | None = None) -> tuple[list[PriceLevel], list[PriceLevel]]:
        """Best-first bid and ask levels, at most ``limit`` per side."""
        bids = sorted(self.bids.items(), reverse=True)[:limit]
        asks = sorted(self.asks.items())[:limit]
        return bids, asks


class OrderBook:
    """One symbol's L2 book with an undo log, so that recent past states stay queryable."""

    def __init__(self, symbol: str, update_id: int, history: int) -> None:
        self.symbol = symbol
        self.update_id = update_id
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_prices: list[int] = []
        self.ask_prices: list[int] = []
        self._undo: deque[tuple[int, bool, int, int]] = deque(maxlen=history)

    def set(self, is_bid: bool, price: int, size: int, update_id: int) -> None:
        """Set a level's absolute size (0 deletes it) as the change numbered ``update_id``."""
        levels, prices = (self.bids, self.bid_prices) if is_bid else (self.asks, self.ask_prices)
        previous = levels.get(price, 0)
        if size:
            if not previous:
                bisect.insort(prices, price)
            levels[price] = size
        elif previous:
            del levels[price]
            del prices[bisect.bisect_left(prices, price)]
        self._undo.append((update_id, is_bid, price, previous))
        self.update_id = update_id

    def regrid(self, regrid: Regrid) -> None:
        """The same book in a relisting's ticks and lots, its history too."""
        self.bids, self.asks = regrid.levels(self.bids), regrid.levels(self.asks)
        self.bid_prices = [price * regrid.price for price in self.bid_prices]
        self.ask_prices = [price * regrid.price for price in self.ask_prices]
        self._undo = deque(((update_id, is_bid, price * regrid.price, size * regrid.size)
                            for update_id, is_bid, price, size in self._undo),
                           maxlen=self._undo.maxlen)

    def best_bid(self) -> PriceLevel | None:
        return (self.bid_prices[-1], self.bids[self.bid_prices[-1]]) if self.bid_prices else None

    def best_ask(self) -> PriceLevel | None:
        return (self.ask_prices[0], self.asks[self.ask_prices[0]]) if self.ask_prices else None

    def clear_history(self) -> None:
        """Forget the undo log: the current state becomes the oldest one queryable."""
        self._undo.clear()

    def snapshot(self) -> BookSnapshot:
        return BookSnapshot(self.symbol, self.update_id, dict(self.bids), dict(self.asks))

    def at(self, update_id: int) -> BookSnapshot:
        """The book as it was right after change ``update_id`` (within the kept history)."""
        if update_id > self.update_id:
            raise ValueError(f"{self.symbol}: update id {update_id} is in the future")
        if self._undo and self._undo.maxlen == len(self._undo) and update_id < self._undo[0][0]:
            raise ValueError(f"{self.symbol}: update id {update_id} is older than the history")
        bids, asks = dict(self.bids), dict(self.asks)
        for change_id, is_bid, price, previous in reversed(self._undo):
            if change_id <= update_id:
                break
            levels = bids if is_bid else asks
            if previous:
                levels[price] = previous
            else:
                levels.pop(price, None)
        return BookSnapshot(self.symbol, update_id, bids, asks)


@dataclass(frozen=True)
class MarketConfig:
    seed: int = 0
    depth: int = 50
    """Target number of levels per side."""
    start_ms: int = 1_700_000_000_000
    mean_step_ms: int = 10
    """Mean simulated time between steps; timestamps never read the wall clock."""
    candle_intervals_ms: tuple[int, ...] = (1_000, 60_000)
    candle_push_ms: int = 1_000
    """How often an open candle is re-published, in simulated time."""
    update_id_step: tuple[int, int] = (1, 1)
    """Range of the increment between consecutive update ids (a venue whose ids are shared by
    all symbols shows jumps)."""
    history: int = 200_000
    """Level changes kept per symbol for ``Market.book_at``."""
    trade_probability: float = 0.3
    max_level_lots: int = 10_000
    changes_per_step: tuple[int, int] = (1, 3)
    """Range of levels placed, resized or cancelled per step, beside those the moving mid
    causes (benchmarks raise it to get 20-level diffs)."""


class _CandleState:
    """An open candle; until its first trade all four prices are the previous close."""

    __slots__ = ("first_trade_id", "high", "last_push_ms", "last_trade_id", "low", "notional",
                 "open", "open_ms", "price", "taker_buy_notional", "taker_buy_volume",
                 "trade_count", "volume")

    def __init__(self, open_ms: int, price: int) -> None:
        self.open_ms = open_ms
        self.last_push_ms = open_ms
        self.open = self.high = self.low = self.price = price
        self.volume = self.notional = self.taker_buy_volume = self.taker_buy_notional = 0
        self.trade_count = 0
        self.first_trade_id: int | None = None
        self.last_trade_id: int | None = None

    def add(self, trade: Trade) -> None:
        if self.first_trade_id is None:
            self.first_trade_id = trade.trade_id
            self.open = self.high = self.low = trade.price
        self.last_trade_id = trade.trade_id
        self.price = trade.price
        self.high = max(self.high, trade.price)
        self.low = min(self.low, trade.price)
        self.volume += trade.size
        self.notional += trade.price * trade.size
        if trade.taker_side is Side.BUY:
            self.taker_buy_volume += trade.size
            self.taker_buy_notional += trade.price * trade.size
        self.trade_count += 1

    def regrid(self, regrid: Regrid) -> None:
        price, size = regrid.price, regrid.size
        self.open, self.high, self.low = self.open * price, self.high * price, self.low * price
        self.price *= price
        self.volume, self.taker_buy_volume = self.volume * size, self.taker_buy_volume * size
        self.notional *= price * size
        self.taker_buy_notional *= price * size

    def freeze(self, symbol: str, interval_ms: int, closed: bool, ts_ms: int) -> Candle:
        return Candle(symbol, interval_ms, self.open_ms, self.open, self.high, self.low,
                      self.price, self.volume, self.notional, self.taker_buy_volume,
                      self.taker_buy_notional, self.trade_count, self.first_trade_id,
                      self.last_trade_id, closed, ts_ms)


class _Instrument:
    """Mutable per-symbol generator state."""

    def __init__(self, spec: InstrumentSpec, config: MarketConfig, rng: random.Random) -> None:
        self.spec = spec
        self.mid = spec.price_ticks(spec.initial_price)
        self.min_mid = 4 * config.depth + 10
        if self.mid < self.min_mid:
            raise ValueError(f"{spec.symbol}: initial price too close to zero for depth")
        self.book = OrderBook(spec.symbol, rng.randrange(1_000_000, 10_000_000), config.history)
        self.trade_id = rng.randrange(100_000, 1_000_000)
        self.candles: dict[int, _CandleState] = {}
        self.bbo: tuple[int, int, int, int] | None = None


class _Batch:
    """Level changes of one step: the final size per (side, price) and the first change's id."""

    __slots__ = ("first_update_id", "levels")

    def __init__(self) -> None:
        self.levels: dict[tuple[bool, int], int] = {}
        self.first_update_id: int | None = None


class Market:
    """Seeded random-walk market over several instruments, advanced one step at a time."""

    def __init__(self, instruments: Sequence[InstrumentSpec], config: MarketConfig) -> None:
        if not instruments:
            raise ValueError("a market needs at least one instrument")
        self.config = config
        self.now_ms = config.start_ms
        self._rng = random.Random(config.seed)
        self._instruments = {spec.symbol: _Instrument(spec, config, self._rng)
                             for spec in instruments}
        self._order = list(self._instruments.values())
        for state in self._order:
            self._seed_book(state)
            state.bbo = self._bbo(state.book)
            for interval in config.candle_intervals_ms:
                state.candles[interval] = _CandleState(self.now_ms - self.now_ms % interval,
                                                       state.mid)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._instruments)

    def instrument(self, symbol: str) -> InstrumentSpec:
        return self._instruments[symbol].spec

    def relist(self, symbol: str, tick_size: str, lot_size: str) -> tuple[InstrumentSpec,
                                                                          Regrid]:
        """Trades ``symbol`` on a finer grid from the next step on (a venue cutting its tick
        or lot size): its book, candles and mid keep their values in the new ticks and lots."""
        state = self._instruments[symbol]
        spec = InstrumentSpec(symbol, tick_size, lot_size, state.spec.initial_price)
        regrid = Regrid.between(state.spec, spec)
        state.spec = spec
        state.mid *= regrid.price
        state.book.regrid(regrid)
        state.bbo = self._bbo(state.book)
        for candle in state.candles.values():
            candle.regrid(regrid)
        return spec, regrid

    def book(self, symbol: str) -> OrderBook:
        """The live book; it changes with every step."""
        return self._instruments[symbol].book

    def book_at(self, symbol: str, update_id: int) -> BookSnapshot:
        """The true book of ``symbol`` right after update id ``update_id``."""
        return self._instruments[symbol].book.at(update_id)

    def steps(self, count: int) -> Iterator[list[MarketEvent]]:
        for _ in range(count):
            yield self.step()

    def step(self) -> list[MarketEvent]:
        """Advance simulated time and one instrument; return the resulting events in order."""
        rng = self._rng
        state = self._order[int(rng.random() * len(self._order))]
        self.now_ms += self._between(1, 2 * self.config.mean_step_ms - 1)
        if rng.random() < 0.2:
            state.mid = max(state.min_mid, state.mid + (1 if rng.random() < 0.5 else -1))
        events: list[MarketEvent] = self._roll_candles(state)
        batch = _Batch()
        book = state.book
        prev_update_id = book.update_id
        if rng.random() < self.config.trade_probability:
            trade = self._trade(state, batch)
            if trade is not None:
                events.append(trade)
                for candle in state.candles.values():
                    candle.add(trade)
        for _ in range(self._between(*self.config.changes_per_step)):
            self._churn(state, batch)
        self._follow_mid(state, batch)
        self._keep_depth(state, batch)
        if batch.first_update_id is not None:
            levels = batch.levels.items()
            events.append(BookUpdate(
                state.spec.symbol, batch.first_update_id, book.update_id, prev_update_id,
                self.now_ms,
                tuple((price, size) for (is_bid, price), size in levels if is_bid),
                tuple((price, size) for (is_bid, price), size in levels if not is_bid)))
            bbo = self._bbo(book)
            if bbo != state.bbo:
                state.bbo = bbo
                events.append(BestBidOffer(state.spec.symbol, book.update_id, *bbo, self.now_ms))
        events.extend(self._push_candles(state))
        return events

    def _between(self, low: int, high: int) -> int:
        """Uniform integer in [low, high]; cheaper than ``Random.randint`` on the hot path."""
        return low + int(self._rng.random() * (high - low + 1))

    def _change(self, state: _Instrument, batch: _Batch, is_bid: bool, price: int,
                size: int) -> None:
        book = state.book
        if (book.bids if is_bid else book.asks).get(price, 0) == size:
            return
        low, high = self.config.update_id_step
        update_id = book.update_id + (low if low == high else self._between(low, high))
        if batch.first_update_id is None:
            batch.first_update_id = update_id
        book.set(is_bid, price, size, update_id)
        batch.levels[(is_bid, price)] = size

    def _trade(self, state: _Instrument, batch: _Batch) -> Trade | None:
        """A taker order eating into the opposite best level."""
        rng = self._rng
        taker = Side.BUY if rng.random() < 0.5 else Side.SELL
        level = state.book.best_ask() if taker is Side.BUY else state.book.best_bid()
        if level is None:
            return None
        price, size = level
        filled = self._between(1, size)
        self._change(state, batch, taker is Side.SELL, price, size - filled)
        state.trade_id += 1
        return Trade(state.spec.symbol, state.trade_id, price, filled, taker, self.now_ms)

    def _churn(self, state: _Instrument, batch: _Batch) -> None:
        """Place, resize or cancel one level, mostly near the touch."""
        rng = self._rng
        book = state.book
        is_bid = rng.random() < 0.5
        prices = book.bid_prices if is_bid else book.ask_prices
        action = rng.random()
        if action < 0.5 or len(prices) < 2:
            offset = min(int(rng.expovariate(0.15)), 3 * self.config.depth)
            price = state.mid - 1 - offset if is_bid else state.mid + 1 + offset
            self._place(state, batch, is_bid, price)
        elif action < 0.8:
            self._change(state, batch, is_bid, prices[int(rng.random() * len(prices))], 0)
        else:
            self._change(state, batch, is_bid, prices[int(rng.random() * len(prices))],
                         self._between(1, self.config.max_level_lots))

    def _place(self, state: _Instrument, batch: _Batch, is_bid: bool, price: int) -> None:
        """Set a random size at ``price``, moved away from the other side so it cannot cross."""
        book = state.book
        if is_bid and book.ask_prices:
            price = min(price, book.ask_prices[0] - 1)
        elif not is_bid and book.bid_prices:
            price = max(price, book.bid_prices[-1] + 1)
        if price > 0:
            size = self._between(1, self.config.max_level_lots)
            self._change(state, batch, is_bid, price, size)

    def _follow_mid(self, state: _Instrument, batch: _Batch) -> None:
        """Cancel a stale best level that sits on the wrong side of the drifting mid."""
        book = state.book
        if len(book.bid_prices) > 1 and book.bid_prices[-1] >= state.mid:
            self._change(state, batch, True, book.bid_prices[-1], 0)
        if len(book.ask_prices) > 1 and book.ask_prices[0] <= state.mid:
            self._change(state, batch, False, book.ask_prices[0], 0)

    def _keep_depth(self, state: _Instrument, batch: _Batch) -> None:
        """Trim or extend the far end of each side towards the configured depth."""
        book = state.book
        depth = self.config.depth
        while len(book.bid_prices) > depth:
            self._change(state, batch, True, book.bid_prices[0], 0)
        while len(book.ask_prices) > depth:
            self._change(state, batch, False, book.ask_prices[-1], 0)
        if len(book.bid_prices) < depth:
            far = book.bid_prices[0] - self._between(1, 3) if book.bid_prices else state.mid - 1
            self._place(state, batch, True, far)
        if len(book.ask_prices) < depth:
            far = book.ask_prices[-1] + self._between(1, 3) if book.ask_prices else state.mid + 1
            self._place(state, batch, False, far)

    def _roll_candles(self, state: _Instrument) -> list[MarketEvent]:
        """Close every candle whose interval has ended and open its successor."""
        events: list[MarketEvent] = []
        now = self.now_ms
        symbol = state.spec.symbol
        for interval, candle in state.candles.items():
            if now >= candle.open_ms + interval:
                events.append(candle.freeze(symbol, interval, True, now))
                successor = _CandleState(now - now % interval, candle.price)
                state.candles[interval] = successor
                events.append(successor.freeze(symbol, interval, False, now))
        return events

    def _push_candles(self, state: _Instrument) -> list[MarketEvent]:
        """Re-publish open candles every ``candle_push_ms`` of simulated time."""
        events: list[MarketEvent] = []
        now = self.now_ms
        for interval, candle in state.candles.items():
            if now - candle.last_push_ms >= self.config.candle_push_ms:
                candle.last_push_ms = now
                events.append(candle.freeze(state.spec.symbol, interval, False, now))
        return events

    def _seed_book(self, state: _Instrument) -> None:
        """Build the initial book: the state at the book's initial update id."""
        rng = self._rng
        book = state.book
        bid, ask = state.mid - 1, state.mid + 1
        for _ in range(self.config.depth):
            book.set(True, bid, rng.randint(1, self.config.max_level_lots), book.update_id)
            book.set(False, ask, rng.randint(1, self.config.max_level_lots), book.update_id)
            bid -= rng.randint(1, 3)
            ask += rng.randint(1, 3)
        book.clear_history()

    @staticmethod
    def _bbo(book: OrderBook) -> tuple[int, int, int, int]:
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        return bid[0], bid[1], ask[0], ask[1]
