"""A ``BookUpdate`` carries the state it announces: its best bid and ask are the book's at the
event's own sequence, however late it is read, and a LIVE event never serves a book that has
moved on or been withdrawn since (``top`` raises ``BookMoved`` then)."""

import asyncio
from decimal import Decimal

import pytest

from feedhandler import BookMoved, BookStatus, BookUpdate, FeedHandler
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until

VENUE, SYMBOL, PAIR = "binance", "BTC-USDT", "BTCUSDT"


def handler(exchange: SimulatedExchange) -> FeedHandler:
    return FeedHandler(endpoints={VENUE: {"ws_url": exchange.ws_url,
                                          "rest_url": exchange.http_url}},
                       backoff_base=0.05, backoff_cap=0.2)


Level = tuple[Decimal, Decimal] | None


def true_touch(exchange: SimulatedExchange, sequence: int) -> tuple[Level, Level]:
    """The simulator's best bid and ask right after update ``sequence``, as Decimals."""
    spec = exchange.market.instrument(PAIR)
    tick, lot = Decimal(spec.tick_size), Decimal(spec.lot_size)
    bids, asks = exchange.market.book_at(PAIR, sequence).top(1)
    return ((bids[0][0] * tick, bids[0][1] * lot) if bids else None,
            (asks[0][0] * tick, asks[0][1] * lot) if asks else None)


def misstated(exchange: SimulatedExchange, events: list[BookUpdate]) -> list[int]:
    """Sequences of the LIVE events whose best bid/ask differ from the true book's at their
    own sequence."""
    return [e.sequence for e in events if e.status is BookStatus.LIVE
            and (e.best_bid, e.best_ask) != true_touch(exchange, e.sequence)]


async def test_queued_live_events_keep_their_state_after_the_book_is_withdrawn() -> None:
    async with SimulatedExchange(SimBinance("spot", symbols=[PAIR]), seed=3,
                                 rate=None) as exchange:
        fh = handler(exchange)
        fh.subscribe_order_book(VENUE, SYMBOL)          # no callback: events queue for async for
        async with fh:
            book = fh.book(VENUE, SYMBOL)
            await until(lambda: exchange.advance(1) is None or book.valid)
            for _ in range(60):                 # one step per socket read: one event each
                exchange.advance(1)
                await asyncio.sleep(0.003)
            await until(lambda: book.sequence == exchange.market.book(PAIR).update_id)
            exchange.slow_handshake(30)      # the book stays withdrawn until the test ends
            exchange.drop()
            await until(lambda: not book.valid)
            queued: list[BookUpdate] = []
            while not fh.queue.empty():
                event = fh.queue.get_nowait()          # what ``async for`` would yield now
                assert isinstance(event, BookUpdate)
                queued.append(event)
            live = [e for e in queued if e.status is BookStatus.LIVE]
            assert len(live) >= 20 and queued[-1].status is BookStatus.INVALID
            assert misstated(exchange, queued) == []
            for event in live:                        # the shared book is withdrawn: no top()
                with pytest.raises(BookMoved, match="withdrawn"):
                    event.top(5)
            assert queued[-1].best_bid is None and queued[-1].best_ask is None


async def test_a_slow_async_for_consumer_reads_each_event_as_it_was() -> None:
    async with SimulatedExchange(SimBinance("spot", symbols=[PAIR]), seed=5,
                                 rate=2000) as exchange:
        fh = handler(exchange)
        fh.subscribe_order_book(VENUE, SYMBOL)
        events: list[BookUpdate] = []
        moved = 0
        async with fh:
            async for event in fh:
                assert isinstance(event, BookUpdate)
                events.append(event)
                if event.status is BookStatus.LIVE:
                    spec = exchange.market.instrument(PAIR)
                    tick, lot = Decimal(spec.tick_size), Decimal(spec.lot_size)
                    try:
                        bid_prices, bid_sizes, ask_prices, ask_sizes = event.top(3)
                    except BookMoved:
                        moved += 1
                    else:                              # served: it is the event's own book
                        bids, asks = exchange.market.book_at(PAIR, event.sequence).top(3)
                        assert bid_prices.tolist() == [float(p * tick) for p, _ in bids]
                        assert bid_sizes.tolist() == [float(s * lot) for _, s in bids]
                        assert ask_prices.tolist() == [float(p * tick) for p, _ in asks]
                        assert ask_sizes.tolist() == [float(s * lot) for _, s in asks]
                if len(events) >= 150:
                    break
                await asyncio.sleep(0.003)             # a consumer slower than the feed
        assert misstated(exchange, events) == []
        assert moved > 0, "the feed never outran the consumer: the scenario did not happen"
