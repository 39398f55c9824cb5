"""The Gate.io adapter without a socket: symbols, payloads, limits, keepalive, control
messages, and the book sync procedure against a stand-in link and REST client."""

import asyncio
import inspect
import json
import time
from collections.abc import Mapping

import pytest

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges import UnsupportedError, venue
from feedhandler.exchanges.base import PRIVATE_CHANNELS, Channel, Instrument, Rings, Subscription
from feedhandler.exchanges.gateio.decoder import GateioDecoder
from feedhandler.exchanges.gateio.venue import GateioVenue


def instrument(symbol: str, id_: int) -> Instrument:
    adapter = GateioVenue()
    return Instrument(id_, "gateio", symbol, adapter.venue_symbol(symbol), "spot", 8, 8)


BTC, ETH = instrument("BTC-USDT", 0), instrument("ETH-USDT", 1)


def test_symbols_and_registry() -> None:
    adapter = GateioVenue()
    assert adapter.venue_symbol("btc-usdt") == "BTC_USDT"
    assert adapter.venue_symbol("ETH/BTC") == "ETH_BTC"
    assert GateioVenue.unified_symbol("gt_usdt") == "GT-USDT"
    assert adapter.ws_url([]) == "wss://api.gateio.ws/ws/v4/"
    assert adapter.rest_base == "https://api.gateio.ws"
    info = venue("gateio")
    assert info.market == "spot" and set(info.channels) == set(Channel) - set(PRIVATE_CHANNELS)
    assert info.timeframes == ("10s", "1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "7d",
                               "30d")
    with pytest.raises(UnsupportedError):
        info.check(Channel.OHLCV, "3m")
    with pytest.raises(UnsupportedError):
        info.check(Channel.BOOK, depth=401)
    info.check(Channel.BOOK, depth=100)
    assert info.native_depth(5) == 50
    made = info.create(ws_url="ws://127.0.0.1:1/ws/v4/", rest_url="http://127.0.0.1:1/",
                       verify_tls=False)
    assert isinstance(made, GateioVenue)
    assert made.url == "ws://127.0.0.1:1/ws/v4/" and made.rest_base == "http://127.0.0.1:1"
    assert {"ws_url", "rest_url"} <= set(inspect.signature(info.factory).parameters)


def test_subscribe_payloads_group_pairs_where_gate_allows_it() -> None:
    adapter = GateioVenue()
    subs = [Subscription(Channel.TRADES, BTC), Subscription(Channel.TRADES, ETH),
            Subscription(Channel.TICKER, BTC), Subscription(Channel.OHLCV, BTC, "1m"),
            Subscription(Channel.OHLCV, ETH, "1h"), Subscription(Channel.BOOK, ETH)]
    before = int(time.time())
    payloads = [json.loads(p) for p in adapter.subscribe_requests(subs)]
    assert [(p["channel"], p["payload"]) for p in payloads] == [
        ("spot.trades", ["BTC_USDT", "ETH_USDT"]),
        ("spot.book_ticker", ["BTC_USDT"]),
        ("spot.candlesticks", ["1m", "BTC_USDT"]),
        ("spot.candlesticks", ["1h", "ETH_USDT"]),
        ("spot.order_book_update", ["ETH_USDT", "100ms"]),
    ]
    assert all(p["event"] == "subscribe" and before <= p["time"] <= time.time()
               for p in payloads)
    assert len({p["id"] for p in payloads}) == len(payloads)
    assert set(payloads[0]) == {"time", "id", "channel", "event", "payload"}
    off = [json.loads(p) for p in adapter.unsubscribe_requests(subs[:1])]
    assert [(p["event"], p["channel"], p["payload"]) for p in off] == [
        ("unsubscribe", "spot.trades", ["BTC_USDT"])]


def test_limits_and_keepalive() -> None:
    adapter = GateioVenue(requests_per_second=3)
    assert adapter.limits.requests_per_second == 3
    assert adapter.limits.args_per_request <= adapter.limits.streams_per_connection
    beat = adapter.heartbeat
    assert 0 < beat.pong_timeout <= beat.ping_interval
    assert beat.text_ping is None and beat.pong_marker is None   # WebSocket PING frames
    assert adapter.compression == "none"


class RenewingLink:
    """Records the reasons the adapter asks for the connection to be renewed, and what it
    says the venue refused."""

    def __init__(self) -> None:
        self.reconnects: list[str] = []
        self.refused: list[tuple[tuple[Subscription, ...], str]] = []

    def reconnect(self, reason: str) -> None:
        self.reconnects.append(reason)

    def refuse(self, subscriptions: tuple[Subscription, ...], reason: str) -> None:
        self.refused.append((tuple(subscriptions), reason))


def test_control_messages_record_errors_and_a_refused_subscribe_renews() -> None:
    adapter = GateioVenue()
    link = RenewingLink()
    adapter.handle_control(link, b'{"time":1,"time_ms":1,"id":4,"channel":"spot.trades",'  # type: ignore[arg-type]
                                 b'"event":"subscribe","result":{"status":"success"}}')
    assert adapter.errors == [] and link.reconnects == []
    adapter.handle_control(link, b'{"time":1,"id":5,"channel":"spot.trades",'  # type: ignore[arg-type]
                                 b'"event":"subscribe","error":{"code":3,'
                                 b'"message":"server busy"},"result":null}')
    [error] = adapter.errors
    assert "subscribe spot.trades (id 5)" in error and "server busy" in error
    [reason] = link.reconnects
    assert reason.startswith("subscribe refused") and "server busy" in reason
    assert link.refused == []


def test_a_subscribe_refused_for_an_unknown_pair_is_put_on_what_it_carried() -> None:
    adapter = GateioVenue()
    link = RenewingLink()
    gt, btc = instrument("GT-USDT", 3), instrument("BTC-USDT", 0)
    carried = (Subscription(Channel.TRADES, gt), Subscription(Channel.TRADES, btc))
    [request] = adapter.subscribe_requests(carried)
    request_id = json.loads(request)["id"]
    adapter.handle_control(link, json.dumps(  # type: ignore[arg-type]
        {"time": 1, "id": request_id, "channel": "spot.trades", "event": "subscribe",
         "error": {"code": 2, "message": "unknown currency pair GT_USDT"},
         "result": None}).encode())
    assert link.refused == [(carried, "unknown currency pair GT_USDT")]
    assert link.reconnects == []
    adapter.handle_control(link, json.dumps(  # type: ignore[arg-type]
        {"time": 1, "id": request_id, "channel": "spot.trades", "event": "subscribe",
         "error": {"code": 2, "message": "unknown currency pair GT_USDT"},
         "result": None}).encode())
    assert len(link.refused) == 1, "an answered request is forgotten"


class StubLink:
    def __init__(self, decoder: GateioDecoder) -> None:
        self.decoder = decoder
        self.sent: list[bytes] = []

    def send(self, message: bytes | str) -> None:
        self.sent.append(message if isinstance(message, bytes) else message.encode())

    def reconnect(self, reason: str) -> None:
        raise AssertionError(f"unexpected reconnect: {reason}")


async def test_sync_book_fetches_the_snapshot_with_id_and_replays_what_was_held() -> None:
    adapter = GateioVenue(rest_url="http://127.0.0.1:9")
    decoder = adapter.new_decoder(Rings(TradeRing(), TickerRing(), CandleRing()))
    assert isinstance(decoder, GateioDecoder)
    book = OrderBook(8, 8)
    slot = decoder.add_instrument("BTC_USDT", 0, 8, 8, book)
    held = (b'{"time":1,"time_ms":1,"channel":"spot.order_book_update","event":"update",'
            b'"result":{"t":5,"s":"BTC_USDT","U":10,"u":12,"b":[["1.5","2"]],"a":[]}}')
    decoder.feed(held)
    requests = []

    async def get(url: str, params: Mapping[str, str | int] | None = None) -> bytes:
        requests.append((url, params))
        return b'{"id":10,"current":1,"update":1,"bids":[["1","1"]],"asks":[["2","1"]]}'

    adapter.rest.get = get  # type: ignore[method-assign]  # a stand-in REST client
    await adapter.sync_book(StubLink(decoder), Subscription(Channel.BOOK, BTC), slot)
    assert requests == [("http://127.0.0.1:9/api/v4/spot/order_book",
                         {"currency_pair": "BTC_USDT", "limit": 100, "with_id": "true"})]
    assert decoder.sync_state(slot) == BookSyncState.LIVE and book.valid
    assert book.sequence == 12 and book.best_bid() == (150_000_000, 2 * 10**8)
    await adapter.close()


async def test_obu_books_are_subscribed_by_sync_book_and_resynced_by_resubscribing() -> None:
    adapter = GateioVenue(full_push_timeout=2.0, requests_per_second=100)
    decoder = adapter.new_decoder(Rings(TradeRing(), TickerRing(), CandleRing()))
    assert isinstance(decoder, GateioDecoder)
    book = OrderBook(8, 8, depth_limit=400)
    slot = decoder.add_instrument("BTC_USDT", 0, 8, 8, book)
    sub = Subscription(Channel.BOOK, BTC, depth=400)
    trades = Subscription(Channel.TRADES, BTC)
    assert [json.loads(p)["channel"] for p in adapter.subscribe_requests([sub, trades])] == [
        "spot.trades"]
    link = StubLink(decoder)
    full = (b'{"channel":"spot.obu","result":{"t":1,"full":true,"s":"ob.BTC_USDT.400",'
            b'"u":%d,"b":[["1","1"]],"a":[["2","1"]]},"time_ms":1}')

    async def push_full_when_subscribed(u: int) -> None:
        while not any(json.loads(m)["event"] == "subscribe" for m in link.sent):
            await asyncio.sleep(0.01)
        decoder.feed(full % u)

    await asyncio.gather(adapter.sync_book(link, sub, slot), push_full_when_subscribed(10))
    assert [(json.loads(m)["event"], json.loads(m)["payload"]) for m in link.sent] == [
        ("subscribe", ["ob.BTC_USDT.400"])]
    assert book.valid and book.sequence == 10
    link.sent.clear()
    decoder.mark_waiting(slot)
    await asyncio.gather(adapter.sync_book(link, sub, slot), push_full_when_subscribed(20))
    assert [json.loads(m)["event"] for m in link.sent] == ["unsubscribe", "subscribe"]
    assert book.valid and book.sequence == 20
    assert [json.loads(p)["payload"] for p in adapter.unsubscribe_requests([sub])] == [
        ["ob.BTC_USDT.400"]]
    link.sent.clear()
    with pytest.raises(TimeoutError):
        await GateioVenue(full_push_timeout=0.05).sync_book(link, sub, slot)
    await adapter.close()
