"""Subscribing or unsubscribing from inside a callback never changes who receives the event
being delivered: every subscriber the stream had when the event arrived gets it, and one
added meanwhile starts with the next."""

import asyncio

from feedhandler import BookStatus, BookUpdate, FeedHandler, Handle, Trade
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until

VENUE, SYMBOL, PAIR = "binance", "BTC-USDT", "BTCUSDT"


def handler(exchange: SimulatedExchange) -> FeedHandler:
    return FeedHandler(endpoints={VENUE: {"ws_url": exchange.ws_url,
                                          "rest_url": exchange.http_url}},
                       backoff_base=0.05, backoff_cap=0.2)


async def test_unsubscribing_on_a_withdrawal_leaves_the_next_subscriber_told() -> None:
    async with SimulatedExchange(SimBinance("spot", symbols=[PAIR]), seed=3,
                                 rate=None) as exchange:
        fh = handler(exchange)
        first: list[BookUpdate] = []
        second: list[BookUpdate] = []
        handles: list[Handle] = []

        def leave_on_withdrawal(update: BookUpdate) -> None:
            first.append(update)
            if update.status is BookStatus.INVALID:
                fh.unsubscribe(handles[0])

        handles.append(fh.subscribe_order_book(VENUE, SYMBOL, leave_on_withdrawal))
        fh.subscribe_order_book(VENUE, SYMBOL, second.append)
        async with fh:
            book = fh.book(VENUE, SYMBOL)
            await until(lambda: exchange.advance(1) is None or book.valid)
            for _ in range(5):                 # one step per socket read: one event each
                exchange.advance(1)
                await asyncio.sleep(0.003)
            await until(lambda: book.sequence == exchange.market.book(PAIR).update_id)
            exchange.slow_handshake(30)      # the book stays withdrawn until the test ends
            exchange.drop()
            await until(lambda: not book.valid)
            assert not book.valid
            assert second[-1].status is BookStatus.INVALID, "told LIVE while withdrawn"
            assert second[-1] is first[-1]


async def test_unsubscribing_inside_a_trade_callback_skips_no_other_subscriber() -> None:
    async with SimulatedExchange(SimBinance("spot", symbols=[PAIR]), seed=4,
                                 rate=500, trade_probability=1.0) as exchange:
        fh = handler(exchange)
        first: list[Trade] = []
        second: list[Trade] = []
        handles: list[Handle] = []

        def take_one(trade: Trade) -> None:
            first.append(trade)
            fh.unsubscribe(handles[0])

        handles.append(fh.subscribe_trades(VENUE, SYMBOL, take_one))
        fh.subscribe_trades(VENUE, SYMBOL, second.append)
        async with fh:
            await until(lambda: len(second) >= 5)
        assert len(first) == 1
        assert second[0] is first[0], "the other subscriber missed the event"


async def test_a_subscriber_added_inside_a_callback_starts_with_the_next_event() -> None:
    async with SimulatedExchange(SimBinance("spot", symbols=[PAIR]), seed=4,
                                 rate=500, trade_probability=1.0) as exchange:
        fh = handler(exchange)
        first: list[Trade] = []
        added: list[Trade] = []

        def add_one(trade: Trade) -> None:
            if not first:
                fh.subscribe_trades(VENUE, SYMBOL, added.append)
            first.append(trade)

        fh.subscribe_trades(VENUE, SYMBOL, add_one)
        async with fh:
            await until(lambda: len(added) >= 3)
        assert added[0] is not first[0], "received the event delivered when it subscribed"
        assert added == first[1:len(added) + 1]


async def test_removing_a_batch_callback_inside_another_skips_none_on_that_read() -> None:
    async with SimulatedExchange(SimBinance("spot", symbols=[PAIR]), seed=4,
                                 rate=500, trade_probability=1.0) as exchange:
        fh = handler(exchange)
        seen_first: list[int] = []
        seen_second: list[int] = []

        def once(flags: int) -> None:
            seen_first.append(fh.trades.write_count)
            fh.unsubscribe_batches(once)

        def every(flags: int) -> None:
            seen_second.append(fh.trades.write_count)

        fh.subscribe_batches(once)
        fh.subscribe_batches(every)
        fh.subscribe_trades(VENUE, SYMBOL, lambda trade: None)
        async with fh:
            await until(lambda: len(seen_second) >= 3)
        assert len(seen_first) == 1
        assert seen_second[0] == seen_first[0], "the other batch callback missed that read"
