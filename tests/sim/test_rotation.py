"""Planned rotations (make before break) against the simulators of every venue, each closing
connections at a short lifetime, with the adapter told the same lifetime; and announced
shutdowns (``rotate("serverShutdown")``, as the Binance adapter calls it) on Binance and OKX,
a REST-snapshot venue and an in-band-snapshot one.

Each run checks that the books are never withdrawn across the rotations and equal the true
book afterwards, and that every trade the simulator published after the first one received
arrives exactly once, in order, across the switches.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from feedhandler.api import FeedHandler
from feedhandler.cli.demo import compare_book
from feedhandler.events import BookStatus, BookUpdate, Trade
from feedhandler.exchanges.base import Link, Subscription
from feedhandler.net.connection import Connection
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.market import Trade as PublishedTrade
from feedhandler.sim.matrix import SYMBOLS, Settings, endpoint_options, venue_plans
from feedhandler.sim.testing import healed, until


def wire_trade_id(venue: str, trade_id: int) -> int:
    """The id the client decodes for the simulator's trade ``trade_id``: the same number,
    except on Bybit, whose simulator renders spot ids offset and linear ids as UUIDs
    (``feedhandler/sim/bybit.py``), which the decoder hashes (FNV-1a, 63 bits)."""
    if venue == "bybit":
        return 2_290_000_000_000_000_000 + trade_id
    if venue == "bybit-linear":
        text = str(uuid.UUID(int=trade_id * 0x9E3779B97F4A7C15 % (1 << 128)))
        digest = 14695981039346656037
        for byte in text.encode():
            digest = ((digest ^ byte) * 1099511628211) % (1 << 64)
        return digest & ((1 << 63) - 1)
    return trade_id


LIFETIME = 3.0      # seconds: the simulator closes connections then; the client rotates at 2.25 s
SLOW_SUBSCRIBES = {"coinbase": 6.0}
"""Coinbase takes about 0.8 s to rotate (3 subscribe requests a second): a longer lifetime
leaves its rotation a margin of 1.5 s."""
WAIT = 30.0


@dataclass(eq=False)
class Run:
    name: str
    sim: SimulatedExchange
    fh: FeedHandler
    venue_symbols: dict[str, str]
    books: dict[str, list[BookUpdate]] = field(default_factory=dict)
    trades: dict[str, list[int]] = field(default_factory=dict)        # venue symbol -> ids
    published: dict[str, list[int]] = field(default_factory=dict)     # venue symbol -> ids

    @property
    def connections(self) -> list[Connection]:
        pool = self.fh.venues[self.name].pool
        assert pool is not None
        return list(pool.connections)

    def total(self, counter: str) -> int:
        return sum(c.stats()[counter] for c in self.connections)

    def wrong_books(self) -> list[str]:
        return [f"{symbol}: {problem}" for symbol, venue_symbol in self.venue_symbols.items()
                if (problem := compare_book(self.fh.book(self.name, symbol), self.sim,
                                            venue_symbol))]

    def withdrawals(self) -> list[str]:
        return [f"{symbol}: {u.reason}" for symbol, updates in self.books.items()
                for u in updates if u.status is BookStatus.INVALID]

    def missing_or_repeated(self) -> dict[str, tuple[list[int], list[int]]]:
        """Per symbol, (received, published since the first received) where they differ."""
        wrong = {}
        for venue_symbol, received in self.trades.items():
            published = self.published.get(venue_symbol, [])
            expected = published[published.index(received[0]):] if received else published
            if received != expected:
                wrong[venue_symbol] = (received, expected)
        return wrong

    @contextlib.asynccontextmanager
    async def market_moving(self) -> AsyncIterator[None]:
        """Moves the market every few ms, recording every trade it publishes."""
        async def pump() -> None:
            while True:
                for event in self.sim.advance(3):
                    if isinstance(event, PublishedTrade):
                        self.published.setdefault(event.symbol, []).append(
                            wire_trade_id(self.name, event.trade_id))
                await asyncio.sleep(0.005)
        task = asyncio.create_task(pump())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def settled(self) -> None:
        """The market stopped: every published trade arrived and every book is true."""
        with contextlib.suppress(TimeoutError):
            await until(lambda: not self.missing_or_repeated() and not self.wrong_books(), 10.0)


@contextlib.asynccontextmanager
async def running(venue: str, lifetime: float | None) -> AsyncIterator[Run]:
    """A simulator closing connections at ``lifetime`` and a FeedHandler whose adapter knows
    it, subscribed to the books and trades of ``SYMBOLS``, with every book live."""
    plan = (await venue_plans([venue]))[0]
    simulator = create_venue(plan.simulator, plan.market, [*plan.venue_symbols.values()])
    async with SimulatedExchange(simulator, rate=None, keepalive=None,
                                 connection_lifetime=lifetime) as sim:
        settings = Settings()
        fh = FeedHandler(endpoints={venue: endpoint_options(plan, sim, settings)},
                         backoff_base=settings.backoff_base, backoff_cap=settings.backoff_cap,
                         handshake_timeout=settings.handshake_timeout)
        run = Run(venue, sim, fh, {s: plan.venue_symbols[s] for s in SYMBOLS})
        for symbol in SYMBOLS:
            run.books[symbol] = []
            fh.subscribe_order_book(venue, symbol, run.books[symbol].append)

            def on_trade(trade: Trade) -> None:
                run.trades.setdefault(trade.instrument.venue_symbol, []).append(trade.trade_id)
            fh.subscribe_trades(venue, symbol, on_trade)
        fh.venues[venue].adapter.connection_lifetime = lifetime
        async with fh:
            await until(lambda: all(updates and updates[-1].book.valid
                                    for updates in run.books.values()), WAIT)
            yield run


def assert_no_gap(run: Run, rotations: int) -> None:
    assert run.withdrawals() == []
    assert run.wrong_books() == []
    assert run.missing_or_repeated() == {}
    assert sum(len(ids) for ids in run.trades.values()) > 20, "too few trades to judge"
    assert run.total("rotations") >= rotations
    assert run.total("rotation_failures") == 0
    assert run.total("reconnects") == 0 and run.total("disconnects") == 0
    assert run.sim.stats["lifetime_disconnects"] == 0


@pytest.mark.parametrize("venue", ["binance", "binance-usdm", "bybit", "bybit-linear", "coinbase",
                                   "gateio", "htx", "kraken", "okx"])
async def test_books_stay_live_and_trades_arrive_once_across_lifetime_rotations(venue: str):
    async with running(venue, SLOW_SUBSCRIBES.get(venue, LIFETIME)) as run:
        async with run.market_moving():
            await until(lambda: run.total("rotations") >= 3, WAIT)
        await run.settled()
        assert_no_gap(run, rotations=3)


async def test_an_announced_shutdown_rotates_without_a_gap():
    """What the Binance adapter does on ``serverShutdown``."""
    async with running("binance", None) as run:
        async with run.market_moving():
            await asyncio.sleep(0.3)
            (connection,) = run.connections
            kinds = connection.message_kinds()
            connection.rotate("serverShutdown")
            connection.rotate("serverShutdown")          # a second one while it runs: ignored
            await until(lambda: connection.stats()["rotations"] == 1, WAIT)
            await asyncio.sleep(0.3)
        await run.settled()
        assert_no_gap(run, rotations=1)
        assert run.sim.accepted == 2
        assert run.sim.history[0].disconnected.is_set()
        # the counters carry over the switch to the replacement's decoder
        after = connection.message_kinds()
        assert all(after[kind][0] >= kinds[kind][0] for kind in kinds)
        assert after["book"][0] > kinds["book"][0] > 0
        assert sum(messages for messages, _ in after.values()) == connection.stats()["messages"]
        metrics = run.fh.metrics().venues["binance"].connections[0]
        assert metrics.rotations == 1 and metrics.reconnects == 0


@pytest.mark.parametrize("venue", ["binance", "okx"])
async def test_trades_held_on_the_replacement_are_handed_over_once(venue: str):
    """A slow book sync keeps both sockets delivering the same trades for a while (those must
    not be delivered twice); then the old socket stalls, so the last trades before the switch
    reach only the replacement (those must not be lost)."""
    async with running(venue, None) as run:
        adapter = run.fh.venues[venue].adapter
        sync_book = adapter.sync_book

        async def slow_sync_book(link: Link, subscription: Subscription, slot: int) -> None:
            await asyncio.sleep(0.6)
            await sync_book(link, subscription, slot)

        adapter.sync_book = slow_sync_book  # type: ignore[method-assign]
        async with run.market_moving():
            await asyncio.sleep(0.2)
            (connection,) = run.connections
            (old,) = run.sim.connections
            connection.rotate("serverShutdown")
            await asyncio.sleep(0.4)
            run.sim.stall(3.0, old)
            await until(lambda: connection.stats()["rotations"] == 1, WAIT)
            await asyncio.sleep(0.3)
        await run.settled()
        assert_no_gap(run, rotations=1)


async def test_an_unplanned_drop_still_withdraws_and_resyncs():
    async with running("binance", LIFETIME) as run:
        async with run.market_moving():
            await asyncio.sleep(0.3)
            run.sim.drop()
            await until(lambda: all(healed(updates) for updates in run.books.values()), WAIT)
        await until(lambda: not run.wrong_books(), 10.0)
        assert run.total("reconnects") == 1
        assert run.total("disconnects") == 1 and run.total("rotation_failures") == 0
        assert all("connection lost" in reason for reason in run.withdrawals())

