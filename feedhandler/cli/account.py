"""The demo's simulated Binance spot account: a private stream (WebSocket API, orders,
balances) against ``SimAccount``, each update checked against the simulator's truth."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from decimal import Decimal

from feedhandler.api import FeedHandler
from feedhandler.auth.credentials import Credentials
from feedhandler.events import Balance, Order, OrderStatus
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import AccountStream, BalanceEvent, Listing, OrderEvent, SimAccount
from feedhandler.sim.binance import USER_TOPIC
from feedhandler.sim.binance import BinanceVenue as SimBinance

# a key pair that only the local simulator knows
DEMO_KEY, DEMO_SECRET = "demo-key-local-simulator", "demo-secret-local-simulator"
LISTINGS = (Listing("BTCUSDT", "BTC", "USDT", Decimal("60000.00"), Decimal("0.01"),
                    Decimal("0.00001")),
            Listing("ETHUSDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.0001")))
STEP_PERIOD = 0.2                # an account action this often


class AccountDemo:
    """Streams a seeded account's orders and balances; counts updates and mismatches."""

    def __init__(self, exchange: SimulatedExchange, venue: SimBinance, account: SimAccount,
                 fh: FeedHandler, say: Callable[[str], None]) -> None:
        self.exchange, self.venue, self.account, self.fh, self.say = (
            exchange, venue, account, fh, say)
        self.stream = AccountStream(exchange, account, USER_TOPIC, venue.render_account)
        self.orders: list[Order] = []
        self.balances: list[Balance] = []

    @classmethod
    async def open(cls, stack: AsyncExitStack, seed: int,
                   say: Callable[[str], None]) -> AccountDemo:
        account = SimAccount(LISTINGS, {"BTC": Decimal("1"), "ETH": Decimal("20"),
                                        "USDT": Decimal("100000")}, seed=seed)
        venue = SimBinance("spot", symbols=[listing.symbol for listing in LISTINGS],
                           account=account, api_keys={DEMO_KEY: DEMO_SECRET})
        exchange = await stack.enter_async_context(SimulatedExchange(venue, rate=None))
        fh = FeedHandler(endpoints={"binance": {"ws_url": exchange.ws_url,
                                                "rest_url": exchange.http_url}})
        demo = cls(exchange, venue, account, fh, say)
        credentials = Credentials(DEMO_KEY, DEMO_SECRET)
        fh.subscribe_orders("binance", demo.on_order, credentials=credentials)
        fh.subscribe_balance("binance", demo.balances.append, credentials=credentials)
        await stack.enter_async_context(fh)
        await fh.wait_connected(10)
        return demo

    def on_order(self, order: Order) -> None:
        self.orders.append(order)
        if order.status in (OrderStatus.FILLED, OrderStatus.REJECTED):
            side = "buy" if order.side > 0 else "sell"
            self.say(f"account: {order.symbol} {side} {order.size.normalize():f} @ "
                     f"{order.price.normalize():f} {order.status.name.lower()}"
                     + (f", fee {order.fee.normalize():f} {order.fee_asset}"
                        if order.status is OrderStatus.FILLED else ""))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(STEP_PERIOD)
            self.stream.step()

    def mismatches(self) -> int:
        """Delivered updates that differ from the account's truth (or are missing)."""
        delivered = set(self.stream.delivered)
        truth = [e for e in self.account.events if e.seq in delivered]
        orders = [(e.order_id, e.status, e.filled, e.fee) for e in truth
                  if isinstance(e, OrderEvent)]
        seen = [(int(o.order_id), o.status.name, o.filled, o.fee) for o in self.orders]
        balances = [(e.asset, e.free, e.locked) for e in truth if isinstance(e, BalanceEvent)]
        got = [(b.asset, b.free, b.locked) for b in self.balances]
        return (sum(a != b for a, b in zip(orders, seen, strict=False))
                + abs(len(orders) - len(seen))
                + sum(a != b for a, b in zip(balances, got, strict=False))
                + abs(len(balances) - len(got)))

    def summary(self) -> str:
        return (f"simulated Binance account: {len(self.orders)} order updates, "
                f"{len(self.balances)} balance updates, {self.mismatches()} differ from the "
                "simulator's account")
