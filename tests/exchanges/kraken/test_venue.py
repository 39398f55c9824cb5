"""The Kraken adapter without a socket: symbols, scales, payloads, control messages, and the
book sync procedure against a stand-in link."""

import asyncio
import json

import pytest

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges import UnsupportedError, venue
from feedhandler.exchanges.base import Channel, Instrument, Rings, Subscription
from feedhandler.exchanges.kraken.decoder import KrakenDecoder
from feedhandler.exchanges.kraken.venue import KrakenVenue
from feedhandler.sim.kraken import sample_messages

PRECISIONS = {"BTC-USD": (1, 8), "ETH-USD": (2, 8)}
"""(pair_decimals, lot_decimals) as AssetPairs states them: the catalog's scales."""


def instrument(symbol: str = "BTC-USD", id_: int = 0) -> Instrument:
    adapter = KrakenVenue()
    return Instrument(id_, "kraken", symbol, adapter.venue_symbol(symbol), "spot",
                      *PRECISIONS[symbol])


BTC, ETH = instrument("BTC-USD", 0), instrument("ETH-USD", 1)


def test_symbols_and_registry() -> None:
    adapter = KrakenVenue()
    assert adapter.venue_symbol("btc-usd") == "BTC/USD"
    assert adapter.venue_symbol("XBT-EUR") == "BTC/EUR"      # v2 has no XBT
    info = venue("kraken")
    assert info.market == "spot" and "1m" in info.timeframes and 1000 in info.book_depths
    with pytest.raises(UnsupportedError):
        info.check(Channel.OHLCV, "2h")
    with pytest.raises(UnsupportedError):
        info.check(Channel.BOOK, depth=1001)
    assert info.native_depth(50) == 100
    assert isinstance(info.create(ws_url="ws://x/v2", verify_tls=False), KrakenVenue)


def test_subscribe_payloads_group_by_channel_and_leave_books_to_sync() -> None:
    adapter = KrakenVenue()
    subs = [Subscription(Channel.TRADES, BTC), Subscription(Channel.TRADES, ETH),
            Subscription(Channel.TICKER, BTC), Subscription(Channel.OHLCV, BTC, "1h"),
            Subscription(Channel.OHLCV, ETH, "1h"), Subscription(Channel.OHLCV, ETH, "1d"),
            Subscription(Channel.BOOK, BTC, depth=25)]
    payloads = [json.loads(p) for p in adapter.subscribe_requests(subs)]
    assert [p["params"] for p in payloads] == [
        {"channel": "trade", "symbol": ["BTC/USD", "ETH/USD"], "snapshot": False},
        {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo", "snapshot": True},
        {"channel": "ohlc", "symbol": ["BTC/USD", "ETH/USD"], "interval": 60,
         "snapshot": False},
        {"channel": "ohlc", "symbol": ["ETH/USD"], "interval": 1440, "snapshot": False},
    ]
    assert all(p["method"] == "subscribe" for p in payloads)
    assert len({p["req_id"] for p in payloads}) == 4
    assert adapter.unsent_books == {subs[-1].key}
    # a book whose subscribe was never sent needs no unsubscribe
    payloads = [json.loads(p) for p in adapter.unsubscribe_requests(subs[2:3] + subs[-1:])]
    assert [p["params"] for p in payloads] == [
        {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo"}]
    assert adapter.unsent_books == set()
    book = json.loads(adapter.unsubscribe_requests(subs[-1:])[0])
    assert book["method"] == "unsubscribe"
    assert book["params"] == {"channel": "book", "symbol": ["BTC/USD"], "depth": 25}


def test_handle_control_records_rejections_and_status() -> None:
    adapter = KrakenVenue()
    adapter.handle_control(None, b'{"error":"Currency pair not supported XBT/USD",'
                                 b'"method":"subscribe","req_id":4,"success":false,'
                                 b'"symbol":"XBT/USD"}')
    adapter.handle_control(None, b'{"method":"subscribe","result":{"channel":"trade",'
                                 b'"symbol":"BTC/USD"},"success":true}')
    adapter.handle_control(None, b'{"channel":"status","data":[{"system":"maintenance"}],'
                                 b'"type":"update"}')
    assert adapter.errors == ["subscribe XBT/USD (req_id 4): "
                              "Currency pair not supported XBT/USD"]
    assert adapter.system_status == "maintenance"


class FakeLink:
    """Records what sync_book sends; the test plays the venue by feeding the decoder."""

    def __init__(self) -> None:
        self.decoder = KrakenDecoder(TradeRing(), TickerRing(), CandleRing())
        self.sent: list[dict] = []

    def send(self, message: bytes | str) -> None:
        self.sent.append(json.loads(message))

    def reconnect(self, reason: str) -> None:
        raise AssertionError("not expected")


async def test_sync_book_subscribes_then_resubscribes_and_replays_held_updates() -> None:
    adapter = KrakenVenue(requests_per_second=1000, snapshot_timeout=2.0)
    link = FakeLink()
    sub = Subscription(Channel.BOOK, BTC, depth=10)
    slot = link.decoder.add_instrument("BTC/USD", 0, 1, 8, OrderBook(1, 8))
    adapter.subscribe_requests([sub])
    messages = sample_messages(60, seed=2, channels=("book",))

    async def venue_answers() -> None:
        while not link.sent or link.sent[-1]["method"] != "subscribe":
            await asyncio.sleep(0.001)
        link.decoder.feed_many(messages[:30])      # snapshot, then updates held meanwhile

    link.decoder.mark_waiting(slot)
    await asyncio.gather(adapter.sync_book(link, sub, slot), venue_answers())
    assert [m["method"] for m in link.sent] == ["subscribe"]
    assert link.sent[0]["params"] == {"channel": "book", "symbol": ["BTC/USD"], "depth": 10,
                                      "snapshot": True}
    assert link.decoder.sync_state(slot) == BookSyncState.LIVE
    assert link.decoder.stats()["checksum_failures"] == 0 and not link.decoder.pending
    assert link.decoder.feed_many(messages[30:]) & 8

    link.sent.clear()
    link.decoder.mark_waiting(slot)                 # a resync: unsubscribe, then subscribe
    await asyncio.gather(adapter.sync_book(link, sub, slot), venue_answers())
    assert [m["method"] for m in link.sent] == ["unsubscribe", "subscribe"]
    assert link.decoder.snapshot_count(slot) == 2


async def test_sync_book_gives_up_without_a_snapshot() -> None:
    adapter = KrakenVenue(requests_per_second=1000, snapshot_timeout=0.05)
    link = FakeLink()
    slot = link.decoder.add_instrument("BTC/USD", 0, 1, 8, OrderBook(1, 8))
    with pytest.raises(TimeoutError):
        await adapter.sync_book(link, Subscription(Channel.BOOK, BTC), slot)


def test_new_decoder_writes_into_the_shared_rings() -> None:
    rings = Rings(TradeRing(), TickerRing(), CandleRing())
    decoder = KrakenVenue().new_decoder(rings)
    assert isinstance(decoder, KrakenDecoder) and decoder.trades is rings.trades
