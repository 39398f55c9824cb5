"""OkxVenue: endpoints, symbols, payloads, limits, keepalive, control messages and the book
sync procedure, against a fake link."""

import asyncio
import json

import pytest

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import Decoder
from feedhandler.exchanges.base import PRIVATE_CHANNELS, Channel, Instrument, Subscription
from feedhandler.exchanges.okx.decoder import OkxDecoder
from feedhandler.exchanges.okx.venue import (
    BUSINESS_URL,
    PUBLIC_URL,
    OkxVenue,
    business_of,
    drop_held,
    held_updates,
)
from feedhandler.exchanges.registry import UnsupportedError, venue

BTC = Instrument(1, "okx", "BTC-USDT", "BTC-USDT", price_scale=1, size_scale=8)
ETH = Instrument(2, "okx", "ETH-USDT", "ETH-USDT", price_scale=2, size_scale=6)


class FakeLink:
    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder
        self.sent: list[bytes] = []
        self.reconnects: list[str] = []

    @property
    def decoder(self) -> Decoder:
        return self._decoder

    def send(self, message: bytes | str) -> None:
        self.sent.append(message if isinstance(message, bytes) else message.encode())

    def reconnect(self, reason: str) -> None:
        self.reconnects.append(reason)


def sent_json(link: FakeLink) -> list[dict]:
    return [json.loads(raw) for raw in link.sent]


def test_endpoints_default_to_okx_and_candles_go_to_business() -> None:
    okx = OkxVenue()
    candles = Subscription(Channel.OHLCV, BTC, timeframe="1m")
    book = Subscription(Channel.BOOK, BTC)
    assert (okx.public_url, okx.business_url) == (PUBLIC_URL, BUSINESS_URL)
    assert okx.endpoint_key(candles) == "business" and okx.endpoint_key(book) == "public"
    assert okx.ws_url([candles]) == BUSINESS_URL
    assert okx.ws_url([book]) == okx.ws_url([]) == PUBLIC_URL


def test_the_business_url_follows_an_overridden_public_url() -> None:
    assert business_of("ws://127.0.0.1:9000/ws/v5/public?brokerId=9") == \
        "ws://127.0.0.1:9000/ws/v5/business?brokerId=9"
    assert OkxVenue(ws_url="ws://h/x/public", business_ws_url="ws://b/y").business_url == \
        "ws://b/y"
    with pytest.raises(ValueError, match="business_ws_url"):
        OkxVenue(ws_url="ws://h/somewhere")


def test_symbols() -> None:
    okx = OkxVenue()
    assert okx.venue_symbol("btc/usdt") == okx.venue_symbol("BTC-USDT") == "BTC-USDT"


def test_limits_and_text_keepalive() -> None:
    okx = OkxVenue()
    assert okx.heartbeat.text_ping == b"ping" and okx.heartbeat.pong_marker == b"pong"
    assert okx.heartbeat.ping_interval < 30
    assert 0 < okx.heartbeat.pong_timeout <= okx.heartbeat.ping_interval
    assert okx.limits.args_per_request <= okx.limits.streams_per_connection
    assert OkxVenue(ping_interval=0.5).heartbeat.pong_timeout == 0.5


def test_subscribe_payloads_name_channel_and_inst_id_and_leave_books_to_sync() -> None:
    okx = OkxVenue()
    subs = [Subscription(Channel.TICKER, BTC), Subscription(Channel.TRADES, ETH),
            Subscription(Channel.OHLCV, BTC, timeframe="1d"),
            Subscription(Channel.OHLCV, BTC, timeframe="4h"), Subscription(Channel.BOOK, BTC)]
    [payload] = okx.subscribe_requests(subs)
    assert json.loads(payload) == {"id": "1", "op": "subscribe", "args": [
        {"channel": "tickers", "instId": "BTC-USDT"},
        {"channel": "trades", "instId": "ETH-USDT"},
        {"channel": "candle1Dutc", "instId": "BTC-USDT"},
        {"channel": "candle4H", "instId": "BTC-USDT"}]}
    assert b" " not in payload
    # the book's subscribe waits for sync_book, so unsubscribing it before sends nothing
    [unsubscribe] = okx.unsubscribe_requests(subs)
    assert json.loads(unsubscribe)["op"] == "unsubscribe"
    assert json.loads(unsubscribe)["args"] == json.loads(payload)["args"]
    book = Subscription(Channel.BOOK, ETH)
    assert okx.subscribe_requests([book]) == [] and okx.unsubscribe_requests([book]) == []


@pytest.mark.parametrize("depth, channel", [(None, "books"), (400, "books"), (5, "books5"),
                                            (1, "bbo-tbt")])
def test_book_depths_pick_the_channel(depth, channel) -> None:
    assert OkxVenue.arg(Subscription(Channel.BOOK, BTC, depth=depth)) == \
        {"channel": channel, "instId": "BTC-USDT"}


def test_requests_are_split_at_args_per_request() -> None:
    okx = OkxVenue()
    instruments = [Instrument(i, "okx", f"C{i}-USDT", f"C{i}-USDT") for i in range(45)]
    payloads = okx.subscribe_requests([Subscription(Channel.TRADES, i) for i in instruments])
    assert [len(json.loads(p)["args"]) for p in payloads] == [20, 20, 5]
    assert len({json.loads(p)["id"] for p in payloads}) == 3


def test_errors_are_kept_and_an_upgrade_notice_renews_the_connection() -> None:
    okx = OkxVenue()
    link = FakeLink(OkxDecoder())
    okx.handle_control(link, b'{"id":"3","event":"error","code":"60018","msg":"Wrong URL",'
                             b'"connId":"a4d3ae55"}')
    okx.handle_control(link, b'{"event":"subscribe","arg":{"channel":"books",'
                             b'"instId":"BTC-USDT"},"connId":"a4d3ae55"}')
    assert okx.errors == ["60018 Wrong URL (id 3)"] and link.reconnects == []
    okx.handle_control(link, b'{"event":"notice","code":"64008","msg":"The connection will '
                             b'soon be closed for a service upgrade.","connId":"a4d3ae55"}')
    assert len(link.reconnects) == 1 and "64008" in link.reconnects[0]


def snapshot(seq: int) -> bytes:
    return json.dumps({"arg": {"channel": "books5", "instId": "BTC-USDT"}, "data": [{
        "asks": [["100.1", "1", "0", "1"]], "bids": [["99.9", "2", "0", "1"]],
        "ts": "1", "seqId": seq}]}).encode()


def book_decoder() -> tuple[OkxDecoder, int]:
    decoder = OkxDecoder()
    slot = decoder.add_instrument("BTC-USDT", 1, 1, 8, OrderBook(price_scale=1, size_scale=8))
    return decoder, slot


async def test_first_sync_subscribes_then_waits_for_a_snapshot_and_marks_live() -> None:
    okx = OkxVenue(requests_per_second=100)
    sub = Subscription(Channel.BOOK, BTC, depth=5)
    okx.subscribe_requests([sub])
    decoder, slot = book_decoder()
    link = FakeLink(decoder)
    task = asyncio.create_task(okx.sync_book(link, sub, slot))
    await asyncio.sleep(0.05)
    assert [m["op"] for m in sent_json(link)] == ["subscribe"]
    assert sent_json(link)[0]["args"] == [{"channel": "books5", "instId": "BTC-USDT"}]
    assert not task.done()
    decoder.feed(snapshot(10))
    await asyncio.wait_for(task, 1)
    assert decoder.sync_state(slot) == 2 and decoder.book(slot).valid
    assert decoder.book(slot).depth_limit == 5


async def test_a_resync_unsubscribes_first_and_times_out_without_a_snapshot() -> None:
    okx = OkxVenue(requests_per_second=100, snapshot_timeout=0.1)
    sub = Subscription(Channel.BOOK, BTC)
    decoder, slot = book_decoder()
    link = FakeLink(decoder)
    with pytest.raises(TimeoutError, match="BTC-USDT books"):
        await okx.sync_book(link, sub, slot)
    assert [m["op"] for m in sent_json(link)] == ["unsubscribe", "subscribe"]
    assert decoder.sync_state(slot) == 1


def test_registry_entry() -> None:
    info = venue("okx")
    assert info.market == "spot" and set(info.channels) == set(Channel) - set(PRIVATE_CHANNELS)
    assert "1m" in info.timeframes and "1d" in info.timeframes
    assert isinstance(info.create(ws_url="ws://127.0.0.1:1/ws/v5/public"), OkxVenue)
    info.check(Channel.BOOK, depth=5)
    for depth in (10, 50):      # books50-l2-tbt needs a VIP login: served by books, cut
        assert info.native_depth(depth) == 400
    with pytest.raises(UnsupportedError):
        info.check(Channel.BOOK, depth=401)
    with pytest.raises(UnsupportedError):
        info.check(Channel.OHLCV, timeframe="7m")


def test_drop_held_forgets_the_oldest_updates_of_one_book_only() -> None:
    decoder = OkxDecoder()
    btc = decoder.add_instrument("BTC-USDT", 0, 1, 8, OrderBook(price_scale=1, size_scale=8))
    eth = decoder.add_instrument("ETH-USDT", 1, 2, 6, OrderBook(price_scale=2, size_scale=6))
    for seq in range(1, 5):
        for inst in ("BTC-USDT", "ETH-USDT"):
            decoder.feed(json.dumps({
                "arg": {"channel": "books", "instId": inst}, "action": "update",
                "data": [{"asks": [], "bids": [], "ts": "1", "prevSeqId": seq - 1,
                          "seqId": seq}]}).encode())
    drop_held(decoder, btc, 3)
    assert [json.loads(raw)["data"][0]["seqId"] for raw in held_updates(decoder, btc)] == [4]
    assert len(held_updates(decoder, eth)) == 4
