"""The HTX adapter without a socket: symbols, endpoints, topics and payloads, limits, control
messages (the ping echo), and the book sync procedure against a stand-in link."""

import asyncio
import json

import pytest

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges import UnsupportedError, venue
from feedhandler.exchanges.base import Channel, Instrument, Rings, Subscription
from feedhandler.exchanges.htx.decoder import HtxDecoder
from feedhandler.exchanges.htx.venue import HtxVenue


def instrument(symbol: str = "BTC-USDT", id_: int = 0) -> Instrument:
    adapter = HtxVenue()
    return Instrument(id_, "htx", symbol, adapter.venue_symbol(symbol), "spot", 8, 8)


BTC, ETH = instrument("BTC-USDT", 0), instrument("ETH-USDT", 1)


def test_symbols_registry_and_limits() -> None:
    adapter = HtxVenue()
    assert adapter.venue_symbol("BTC-USDT") == "btcusdt"
    assert adapter.venue_symbol("eth/btc") == "ethbtc"
    assert adapter.compression == "gzip"
    assert adapter.limits.args_per_request == 1 and adapter.limits.streams_per_connection > 1
    # our own pings only when the venue, which pings every 5 s, has been silent a while
    assert adapter.heartbeat.text_ping is None and adapter.heartbeat.ping_interval > 10
    info = venue("htx")
    assert info.market == "spot" and info.book_depths == (5, 20, 150, 400)
    assert {"1m", "4h", "1d", "1M"} <= set(info.timeframes)
    with pytest.raises(UnsupportedError):
        info.check(Channel.OHLCV, "2h")
    with pytest.raises(UnsupportedError):
        info.check(Channel.BOOK, depth=401)
    assert info.native_depth(10) == 20
    assert isinstance(info.create(ws_url="ws://x", verify_tls=False), HtxVenue)


def test_books_go_to_the_feed_endpoint_and_the_rest_to_ws() -> None:
    adapter = HtxVenue(ws_url="ws://127.0.0.1:9/")
    book, trades = Subscription(Channel.BOOK, BTC), Subscription(Channel.TRADES, BTC)
    assert adapter.endpoint_key(book) != adapter.endpoint_key(trades)
    assert adapter.ws_url([book]) == "ws://127.0.0.1:9/feed"
    assert adapter.ws_url([trades]) == "ws://127.0.0.1:9/ws"
    assert HtxVenue().ws_url([book]) == "wss://api.huobi.pro/feed"
    assert HtxVenue().ws_url([]) == "wss://api.huobi.pro/ws"


def test_one_sub_per_topic_with_unique_ids_and_matching_unsubs() -> None:
    adapter = HtxVenue()
    subs = [Subscription(Channel.TICKER, BTC), Subscription(Channel.TRADES, ETH),
            Subscription(Channel.OHLCV, BTC, "1h"), Subscription(Channel.OHLCV, BTC, "1M"),
            Subscription(Channel.BOOK, BTC), Subscription(Channel.BOOK, ETH, depth=20)]
    payloads = [json.loads(p) for p in adapter.subscribe_requests(subs)]
    assert [p["sub"] for p in payloads] == [
        "market.btcusdt.bbo", "market.ethusdt.trade.detail", "market.btcusdt.kline.60min",
        "market.btcusdt.kline.1mon", "market.btcusdt.mbp.150", "market.ethusdt.mbp.20"]
    assert len({p["id"] for p in payloads}) == len(payloads)
    assert all(set(p) == {"sub", "id"} for p in payloads)
    unsubs = [json.loads(p) for p in adapter.unsubscribe_requests(subs[:1])]
    assert [p["unsub"] for p in unsubs] == ["market.btcusdt.bbo"]


class FakeLink:
    """Records what is sent; the test plays the venue by feeding the decoder."""

    def __init__(self) -> None:
        self.decoder = HtxDecoder(TradeRing(), TickerRing(), CandleRing())
        self.sent: list[bytes] = []

    def send(self, message: bytes | str) -> None:
        self.sent.append(message.encode() if isinstance(message, str) else message)

    def reconnect(self, reason: str) -> None:
        raise AssertionError("not expected")


def test_pings_are_echoed_and_errors_recorded() -> None:
    adapter = HtxVenue()
    link = FakeLink()
    adapter.handle_control(link, b'{"ping":1492420473027}')
    assert link.sent == [b'{"pong":1492420473027}']
    adapter.handle_control(link, b'{"id":"id1","status":"ok","subbed":"market.btcusdt.bbo",'
                                 b'"ts":1489474081631}')
    adapter.handle_control(link, b'{"id":"id2","status":"error","err-code":"bad-request",'
                                 b'"err-msg":"invalid topic market.x.bbo","ts":1494301904959}')
    assert adapter.errors == ["bad-request: invalid topic market.x.bbo (id id2)"]
    assert len(link.sent) == 1


def mbp(seq: int, prev: int, bid: str) -> bytes:
    return (f'{{"ch":"market.btcusdt.mbp.150","ts":1,"tick":{{"seqNum":{seq},'
            f'"prevSeqNum":{prev},"bids":[[{bid},1]],"asks":[[200,1]]}}}}').encode()


async def test_sync_book_requests_a_snapshot_then_replays_the_held_updates() -> None:
    adapter = HtxVenue(snapshot_timeout=2.0)
    link = FakeLink()
    sub = Subscription(Channel.BOOK, BTC)
    slot = link.decoder.add_instrument("btcusdt", 0, 8, 8, OrderBook(8, 8))
    link.decoder.feed_many([mbp(10, 9, "100"), mbp(11, 10, "101")])    # held

    async def venue_answers() -> None:
        while not link.sent:
            await asyncio.sleep(0.001)
        request = json.loads(link.sent[0])
        assert request["req"] == "market.btcusdt.mbp.150"
        link.decoder.feed(f'{{"id":"{request["id"]}","rep":"market.btcusdt.mbp.150",'
                          f'"status":"ok","data":{{"seqNum":10,"bids":[[99,2]],'
                          f'"asks":[[200,1]]}}}}'.encode())
        link.decoder.feed(mbp(12, 11, "102"))       # after the snapshot: still held

    await asyncio.gather(adapter.sync_book(link, sub, slot), venue_answers())
    book = link.decoder.book(slot)
    assert link.decoder.sync_state(slot) == BookSyncState.LIVE and book.valid
    assert book.sequence == 12 and not link.decoder.pending
    assert book.levels(0)[0].tolist() == [10200000000, 10100000000, 9900000000]
    assert adapter.snapshot_requests == {}


async def test_sync_book_fails_fast_on_a_refusal_and_times_out_without_an_answer() -> None:
    adapter = HtxVenue(snapshot_timeout=0.05)
    link = FakeLink()
    sub = Subscription(Channel.BOOK, BTC)
    slot = link.decoder.add_instrument("btcusdt", 0, 8, 8, OrderBook(8, 8))

    async def venue_refuses() -> None:
        while not link.sent:
            await asyncio.sleep(0.001)
        request_id = json.loads(link.sent[0])["id"]
        adapter.handle_control(link, json.dumps({
            "id": request_id, "status": "error", "err-code": "bad-request",
            "err-msg": "invalid topic"}).encode())

    with pytest.raises(LookupError, match="invalid topic"):
        await asyncio.gather(adapter.sync_book(link, sub, slot), venue_refuses())
    with pytest.raises(TimeoutError):
        await adapter.sync_book(link, sub, slot)
    assert adapter.snapshot_requests == {}
    assert link.decoder.sync_state(slot) == BookSyncState.WAITING


def test_new_decoder_writes_into_the_shared_rings() -> None:
    rings = Rings(TradeRing(), TickerRing(), CandleRing())
    decoder = HtxVenue().new_decoder(rings)
    assert isinstance(decoder, HtxDecoder) and decoder.trades is rings.trades
