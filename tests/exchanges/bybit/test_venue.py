"""The Bybit adapter without a socket: markets, symbols, limits, topics and payloads, control
messages, and the book sync procedure against a stand-in link."""

import asyncio
import json

import pytest

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges import UnsupportedError, venue
from feedhandler.exchanges.base import Channel, Instrument, Rings, Subscription
from feedhandler.exchanges.bybit.decoder import BybitDecoder
from feedhandler.exchanges.bybit.venue import BybitVenue


def instrument(symbol: str = "BTC-USDT", id_: int = 0, market: str = "spot") -> Instrument:
    adapter = BybitVenue(market)
    return Instrument(id_, "bybit", symbol, adapter.venue_symbol(symbol), market, 8, 8)


BTC, ETH = instrument("BTC-USDT", 0), instrument("ETH-USDT", 1)


def test_markets_urls_symbols_and_limits() -> None:
    spot, linear = BybitVenue("spot"), BybitVenue("linear")
    assert spot.ws_url([]) == "wss://stream.bybit.com/v5/public/spot"
    assert linear.ws_url([]) == "wss://stream.bybit.com/v5/public/linear"
    assert BybitVenue("linear", ws_url="ws://127.0.0.1:9/x").ws_url([]) == "ws://127.0.0.1:9/x"
    assert spot.venue_symbol("btc-usdt") == linear.venue_symbol("BTC/USDT") == "BTCUSDT"
    assert spot.limits.args_per_request == 10
    assert spot.heartbeat.ping_interval == 20.0
    assert spot.heartbeat.text_ping == b'{"op":"ping"}' and spot.heartbeat.pong_marker
    assert (spot.name, spot.market, linear.market) == ("bybit", "spot", "linear")
    with pytest.raises(ValueError, match="market"):
        BybitVenue("inverse")


def test_registry_entries() -> None:
    spot, linear = venue("bybit"), venue("bybit-linear")
    assert (spot.market, linear.market) == ("spot", "linear")
    assert "1m" in spot.timeframes and "1M" in linear.timeframes
    assert 1 not in spot.book_depths and 1 in linear.book_depths
    # linear 500 was removed on 2025-09-11: served by 1000 cut to 500
    assert linear.book_depths == (1, 50, 200, 1000) and linear.native_depth(500) == 1000
    assert spot.native_depth(1) == 50
    with pytest.raises(UnsupportedError, match="native depths are 50, 200, 1000"):
        spot.check(Channel.BOOK, depth=1001)
    with pytest.raises(UnsupportedError):
        spot.check(Channel.OHLCV, "8h")
    adapter = linear.create(ws_url="ws://x/v5/public/linear", verify_tls=False)
    assert isinstance(adapter, BybitVenue) and adapter.market == "linear"


def test_topics_per_channel_and_market() -> None:
    spot, linear = BybitVenue("spot"), BybitVenue("linear")
    assert spot.topics(Subscription(Channel.TICKER, BTC)) == ["tickers.BTCUSDT",
                                                              "orderbook.1.BTCUSDT"]
    assert linear.topics(Subscription(Channel.TICKER, BTC)) == ["tickers.BTCUSDT"]
    assert spot.topics(Subscription(Channel.TRADES, BTC)) == ["publicTrade.BTCUSDT"]
    assert spot.topics(Subscription(Channel.OHLCV, BTC, "4h")) == ["kline.240.BTCUSDT"]
    assert spot.topics(Subscription(Channel.OHLCV, BTC, "1d")) == ["kline.D.BTCUSDT"]
    assert spot.topics(Subscription(Channel.BOOK, BTC)) == ["orderbook.50.BTCUSDT"]
    assert spot.topics(Subscription(Channel.BOOK, BTC, depth=200)) == ["orderbook.200.BTCUSDT"]


def test_subscribe_payloads_respect_ten_args_and_leave_books_to_sync() -> None:
    adapter = BybitVenue("spot")
    symbols = [instrument(f"C{i}-USDT", i) for i in range(4)]
    subs = [Subscription(channel, inst) for inst in symbols
            for channel in (Channel.TICKER, Channel.TRADES)]
    book = Subscription(Channel.BOOK, BTC)
    payloads = [json.loads(p) for p in adapter.subscribe_requests([*subs, book])]
    assert [len(p["args"]) for p in payloads] == [10, 2]
    assert all(p["op"] == "subscribe" for p in payloads)
    assert len({p["req_id"] for p in payloads}) == 2
    assert "orderbook.50.BTCUSDT" not in payloads[0]["args"] + payloads[1]["args"]
    assert adapter.unsent_books == {book.key}
    # a book whose subscribe was never sent needs no unsubscribe
    assert adapter.unsubscribe_requests([book]) == []
    out = [json.loads(p) for p in adapter.unsubscribe_requests(subs[:1])]
    assert out[0]["op"] == "unsubscribe"
    assert out[0]["args"] == ["tickers.C0USDT", "orderbook.1.C0USDT"]


def test_handle_control_records_rejections_only() -> None:
    adapter = BybitVenue("linear")
    adapter.handle_control(None, b'{"success":true,"ret_msg":"","conn_id":"c","req_id":"1",'
                                 b'"op":"subscribe"}')
    adapter.handle_control(None, b'{"success":false,"ret_msg":"error:handler not found,'
                                 b'topic:orderbook.40.BTCUSDT","conn_id":"c","req_id":"2",'
                                 b'"op":"subscribe"}')
    assert adapter.errors == ["subscribe (req_id 2): error:handler not found,"
                              "topic:orderbook.40.BTCUSDT"]


class FakeLink:
    """Records what sync_book sends; the test plays the venue by feeding the decoder."""

    def __init__(self) -> None:
        self.decoder = BybitDecoder(TradeRing(), TickerRing(), CandleRing(), spot=True)
        self.sent: list[dict] = []

    def send(self, message: bytes | str) -> None:
        self.sent.append(json.loads(message))

    def reconnect(self, reason: str) -> None:
        raise AssertionError("not expected")


def book_message(kind: str, update: int, bid: str) -> bytes:
    return (f'{{"topic":"orderbook.50.BTCUSDT","type":"{kind}","ts":1,"data":{{"s":"BTCUSDT",'
            f'"b":[["{bid}","1"]],"a":[["999","1"]],"u":{update},"seq":1}}}}').encode()


async def test_sync_book_subscribes_then_resubscribes_and_replays_held_deltas() -> None:
    adapter = BybitVenue("spot", requests_per_second=1000, snapshot_timeout=2.0)
    link = FakeLink()
    sub = Subscription(Channel.BOOK, BTC)
    slot = link.decoder.add_instrument("BTCUSDT", 0, 8, 8, OrderBook(8, 8))
    adapter.subscribe_requests([sub])

    async def venue_answers(first_u: int) -> None:
        while not link.sent or link.sent[-1]["op"] != "subscribe":
            await asyncio.sleep(0.001)
        link.decoder.feed_many([book_message("snapshot", first_u, "100"),
                                book_message("delta", first_u + 1, "101")])

    link.decoder.mark_waiting(slot)
    await asyncio.gather(adapter.sync_book(link, sub, slot), venue_answers(40))
    assert [(m["op"], m["args"]) for m in link.sent] == [("subscribe", ["orderbook.50.BTCUSDT"])]
    book = link.decoder.book(slot)
    assert link.decoder.sync_state(slot) == BookSyncState.LIVE and not link.decoder.pending
    assert book is not None and book.depth_limit == 50 and book.best_bid()[0] == 101 * 10**8
    assert link.decoder.last_update(slot) == 41

    link.sent.clear()
    link.decoder.mark_waiting(slot)                 # a resync: unsubscribe, then subscribe
    await asyncio.gather(adapter.sync_book(link, sub, slot), venue_answers(90))
    assert [m["op"] for m in link.sent] == ["unsubscribe", "subscribe"]
    assert link.decoder.snapshot_count(slot) == 2 and link.decoder.last_update(slot) == 91


async def test_sync_book_gives_up_without_a_snapshot() -> None:
    adapter = BybitVenue("spot", requests_per_second=1000, snapshot_timeout=0.05)
    link = FakeLink()
    slot = link.decoder.add_instrument("BTCUSDT", 0, 8, 8, OrderBook(8, 8))
    with pytest.raises(TimeoutError, match=r"orderbook\.50\.BTCUSDT"):
        await adapter.sync_book(link, Subscription(Channel.BOOK, BTC), slot)


def test_new_decoder_writes_into_the_shared_rings_for_its_market() -> None:
    rings = Rings(TradeRing(), TickerRing(), CandleRing())
    spot, linear = BybitVenue("spot").new_decoder(rings), BybitVenue("linear").new_decoder(rings)
    assert isinstance(spot, BybitDecoder) and isinstance(linear, BybitDecoder)
    assert spot.trades is rings.trades and spot.spot and not linear.spot
