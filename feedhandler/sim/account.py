"""A simulated trading account: the truth private-stream tests compare against.

``SimAccount`` is deterministic for a seed: each ``step()`` places, fills (partly or fully),
cancels or rejects an order, with fees, moving balances consistently with the fills (spot:
the quote is locked for a buy and the base for a sell; futures: one margin asset, positions
with an entry price and realised PnL). Every event carries ``seq``, one counter across the
account, so a test can count loss and duplication.

A venue's simulator only renders these events in its wire format and checks its own auth;
``AccountStream`` pushes the rendered frames to the sessions connected at that moment.
Events with no session connected are not kept for later: no venue here replays a user data
stream after a reconnect (Binance states none does; the client reconciles over REST).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from feedhandler.sim.server import SimulatedExchange

Status = Literal["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED", "EXPIRED"]
FEE_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class OrderEvent:
    seq: int
    ts_ms: int
    symbol: str
    order_id: int
    client_id: str
    side: Literal["BUY", "SELL"]
    status: Status
    price: Decimal
    size: Decimal
    filled: Decimal            # cumulative
    last_price: Decimal        # this event's fill (0: none)
    last_size: Decimal
    fee: Decimal               # this fill's fee
    fee_asset: str             # "" before any fill


@dataclass(frozen=True)
class BalanceEvent:
    seq: int
    ts_ms: int
    asset: str
    free: Decimal
    locked: Decimal
    change: Decimal            # what this event changed the total by


@dataclass(frozen=True)
class PositionEvent:
    seq: int
    ts_ms: int
    symbol: str
    amount: Decimal            # signed
    entry_price: Decimal
    unrealized_pnl: Decimal


AccountEvent = OrderEvent | BalanceEvent | PositionEvent


@dataclass(frozen=True)
class Listing:
    symbol: str
    base: str
    quote: str
    price: Decimal             # where orders are placed around
    tick: Decimal
    lot: Decimal


@dataclass
class _Order:
    event: OrderEvent
    reserved: Decimal          # what is still locked for it (spot)


@dataclass
class _Position:
    amount: Decimal = Decimal(0)
    entry_price: Decimal = Decimal(0)


@dataclass
class SimAccount:
    """One account on one venue; ``futures`` selects margin + positions over spot."""

    listings: Sequence[Listing]
    balances: dict[str, Decimal]
    futures: bool = False
    seed: int = 0
    fee_rate: Decimal = Decimal("0.001")
    margin_asset: str = "USDT"
    start_ms: int = 1_700_000_000_000
    events: list[AccountEvent] = field(default_factory=list)
    """Every event ever emitted, in order: the truth."""

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.locked: dict[str, Decimal] = {asset: Decimal(0) for asset in self.balances}
        self.orders: dict[int, _Order] = {}
        self.positions: dict[str, _Position] = {}
        self.next_order_id = 1000
        self.seq = 0
        self.now_ms = self.start_ms

    # ---- actions -------------------------------------------------------------------------

    def step(self) -> list[AccountEvent]:
        """One seeded action: place (sometimes rejected), fill part or all, or cancel."""
        self.now_ms += self.random.randint(1, 500)
        open_orders = [o for o in self.orders.values()
                       if o.event.status in ("NEW", "PARTIALLY_FILLED")]
        roll = self.random.random()
        if not open_orders or roll < 0.35:
            return self.place()
        order = self.random.choice(open_orders)
        if roll < 0.85:
            remaining = order.event.size - order.event.filled
            lot = self._listing(order.event.symbol).lot
            lots = int(remaining / lot)
            quantity = lot * self.random.randint(1, lots) if lots > 1 and roll < 0.6 \
                else remaining
            return self.fill(order.event.order_id, quantity)
        return self.cancel(order.event.order_id)

    def place(self, listing: Listing | None = None, side: Literal["BUY", "SELL"] | None = None,
              price: Decimal | None = None, size: Decimal | None = None) -> list[AccountEvent]:
        listing = listing or self.random.choice(list(self.listings))
        sides: tuple[Literal["BUY", "SELL"], ...] = ("BUY", "SELL")
        chosen = side if side is not None else self.random.choice(sides)
        if price is None:
            price = listing.price + listing.tick * self.random.randint(-50, 50)
        if size is None:
            size = listing.lot * self.random.randint(1, 40)
        self.next_order_id += 1
        order_id = self.next_order_id
        client_id = f"sim-{self.seed}-{order_id}"
        reserve_asset, reserve = self._reserve(listing, chosen, price, size)
        if self.balances.get(reserve_asset, Decimal(0)) - self.locked.get(reserve_asset,
                                                                         Decimal(0)) < reserve:
            return [self._order(listing.symbol, order_id, client_id, chosen, "REJECTED", price,
                                size, Decimal(0))]
        out: list[AccountEvent] = [self._order(listing.symbol, order_id, client_id, chosen, "NEW",
                                               price, size, Decimal(0))]
        self.orders[order_id] = _Order(out[0], reserve)  # type: ignore[arg-type]
        if reserve and not self.futures:
            self.locked[reserve_asset] += reserve
            out.append(self._balance(reserve_asset, Decimal(0)))
        return out

    def fill(self, order_id: int, quantity: Decimal) -> list[AccountEvent]:
        order = self.orders[order_id]
        last = order.event
        listing = self._listing(last.symbol)
        filled = last.filled + quantity
        status: Status = "FILLED" if filled == last.size else "PARTIALLY_FILLED"
        notional = last.price * quantity
        out: list[AccountEvent] = []
        if self.futures:
            fee = (notional * self.fee_rate).quantize(FEE_QUANTUM, ROUND_DOWN)
            fee_asset = self.margin_asset
            realized = self._move_position(listing.symbol, quantity if last.side == "BUY"
                                           else -quantity, last.price)
            change = realized - fee
            self.balances[fee_asset] += change
            event = self._order(last.symbol, order_id, last.client_id, last.side, status,
                                last.price, last.size, filled, last.price, quantity, fee,
                                fee_asset)
            out += [event, self._balance(fee_asset, change),
                    self._position(listing.symbol, last.price)]
        else:
            if last.side == "BUY":
                fee_asset, fee = listing.base, (quantity * self.fee_rate).quantize(
                    FEE_QUANTUM, ROUND_DOWN)
                spent, spent_asset, got_asset, got = notional, listing.quote, listing.base, \
                    quantity - fee
            else:
                fee_asset, fee = listing.quote, (notional * self.fee_rate).quantize(
                    FEE_QUANTUM, ROUND_DOWN)
                spent, spent_asset, got_asset, got = quantity, listing.base, listing.quote, \
                    notional - fee
            self.balances[spent_asset] -= spent
            self.locked[spent_asset] -= spent
            order.reserved -= spent
            self.balances[got_asset] = self.balances.get(got_asset, Decimal(0)) + got
            self.locked.setdefault(got_asset, Decimal(0))
            event = self._order(last.symbol, order_id, last.client_id, last.side, status,
                                last.price, last.size, filled, last.price, quantity, fee,
                                fee_asset)
            out += [event, self._balance(spent_asset, -spent), self._balance(got_asset, got)]
        order.event = event
        return out

    def cancel(self, order_id: int) -> list[AccountEvent]:
        order = self.orders[order_id]
        last = order.event
        event = self._order(last.symbol, order_id, last.client_id, last.side, "CANCELED",
                            last.price, last.size, last.filled)
        order.event = event
        out: list[AccountEvent] = [event]
        if order.reserved and not self.futures:
            asset, _ = self._reserve(self._listing(last.symbol), last.side, last.price,
                                     last.size)
            self.locked[asset] -= order.reserved
            order.reserved = Decimal(0)
            out.append(self._balance(asset, Decimal(0)))
        return out

    # ---- helpers -------------------------------------------------------------------------

    def _listing(self, symbol: str) -> Listing:
        return next(listing for listing in self.listings if listing.symbol == symbol)

    def _reserve(self, listing: Listing, side: str, price: Decimal,
                 size: Decimal) -> tuple[str, Decimal]:
        if self.futures:
            return self.margin_asset, Decimal(0)
        return (listing.quote, price * size) if side == "BUY" else (listing.base, size)

    def _move_position(self, symbol: str, signed: Decimal, price: Decimal) -> Decimal:
        """Applies a fill to the position; returns the PnL it realised."""
        position = self.positions.setdefault(symbol, _Position())
        amount = position.amount
        realized = Decimal(0)
        if amount == 0 or (amount > 0) == (signed > 0):
            total = amount + signed
            position.entry_price = ((position.entry_price * abs(amount) + price * abs(signed))
                                    / abs(total)).quantize(FEE_QUANTUM, ROUND_DOWN)
            position.amount = total
            return realized
        closed = min(abs(signed), abs(amount))
        realized = ((price - position.entry_price) * closed * (1 if amount > 0 else -1)
                    ).quantize(FEE_QUANTUM, ROUND_DOWN)   # venues settle to 8 decimals
        position.amount = amount + signed
        if position.amount == 0:
            position.entry_price = Decimal(0)
        elif (position.amount > 0) != (amount > 0):
            position.entry_price = price
        return realized

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _order(self, symbol: str, order_id: int, client_id: str, side: Literal["BUY", "SELL"],
               status: Status, price: Decimal, size: Decimal, filled: Decimal,
               last_price: Decimal = Decimal(0), last_size: Decimal = Decimal(0),
               fee: Decimal = Decimal(0), fee_asset: str = "") -> OrderEvent:
        event = OrderEvent(self._next(), self.now_ms, symbol, order_id, client_id, side, status,
                           price, size, filled, last_price, last_size, fee, fee_asset)
        self.events.append(event)
        return event

    def _balance(self, asset: str, change: Decimal) -> BalanceEvent:
        locked = self.locked.get(asset, Decimal(0))
        event = BalanceEvent(self._next(), self.now_ms, asset, self.balances[asset] - locked,
                             locked, change)
        self.events.append(event)
        return event

    def _position(self, symbol: str, mark: Decimal) -> PositionEvent:
        position = self.positions[symbol]
        pnl = (mark - position.entry_price) * position.amount if position.amount else Decimal(0)
        event = PositionEvent(self._next(), self.now_ms, symbol, position.amount,
                              position.entry_price, pnl.quantize(FEE_QUANTUM, ROUND_DOWN))
        self.events.append(event)
        return event


Renderer = Callable[[list[AccountEvent]], list[bytes]]


class AccountStream:
    """Pushes an account's events, rendered by the venue, to the sessions on ``topic``.

    ``delivered`` / ``undelivered`` hold the seqs of the events pushed to at least one
    session / to none (nobody connected: such events are gone, as on the venue)."""

    def __init__(self, exchange: SimulatedExchange, account: SimAccount, topic: str,
                 render: Renderer) -> None:
        self.exchange = exchange
        self.account = account
        self.topic = topic
        self.render = render
        self.delivered: list[int] = []
        self.undelivered: list[int] = []

    def step(self, steps: int = 1) -> list[AccountEvent]:
        out = []
        for _ in range(steps):
            events = self.account.step()
            out += events
            sessions = self.exchange.push(self.topic, self.render(events))
            (self.delivered if sessions else self.undelivered).extend(e.seq for e in events)
        return out
