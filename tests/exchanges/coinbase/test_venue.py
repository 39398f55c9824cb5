"""The Coinbase adapter: registry entry, symbols, scales, request payloads, control messages and
the book sync procedure (against a stand-in link)."""

import asyncio
import json

import pytest

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState
from feedhandler.exchanges import UnsupportedError, venue
from feedhandler.exchanges.base import Channel, Instrument, Subscription
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder
from feedhandler.exchanges.coinbase.venue import CoinbaseVenue


def sub(channel: Channel, product: str, timeframe: str | None = None) -> Subscription:
    return Subscription(channel, Instrument(0, "coinbase", product, product, "spot", 10, 8),
                        timeframe)


class FakeLink:
    def __init__(self) -> None:
        self.decoder = CoinbaseDecoder()
        self.sent: list[dict] = []

    def send(self, message: bytes | str) -> None:
        self.sent.append(json.loads(message))

    def reconnect(self, reason: str) -> None:
        raise AssertionError("no reconnect expected")


def test_registry_entry_offers_five_minute_candles_and_the_full_book_only() -> None:
    info = venue("coinbase")
    assert info.channels == (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)
    assert isinstance(info.create(verify_tls=False), CoinbaseVenue)
    info.check(Channel.OHLCV, "5m")
    info.check(Channel.BOOK)
    with pytest.raises(UnsupportedError):
        info.check(Channel.OHLCV, "1m")
    info.check(Channel.BOOK, depth=50)        # the full level2 book, cut to 50
    with pytest.raises(UnsupportedError):
        info.check(Channel.BOOK, depth=0)


def test_symbols_and_defaults() -> None:
    adapter = CoinbaseVenue()
    assert adapter.ws_url([]) == "wss://advanced-trade-ws.coinbase.com"
    assert CoinbaseVenue(ws_url="ws://127.0.0.1:1").ws_url([]) == "ws://127.0.0.1:1"
    assert adapter.venue_symbol("btc/usd") == "BTC-USD"
    assert adapter.venue_symbol("BTC-USDC") == "BTC-USD"      # served as the -USD product
    assert adapter.venue_symbol("USDT-USDC") == "USDT-USDC"
    assert adapter.max_message_size >= 16 << 20
    assert adapter.heartbeat.text_ping is None
    assert adapter.limits.requests_per_second < 8


def test_one_subscribe_per_channel_heartbeats_first_level2_last() -> None:
    adapter = CoinbaseVenue()
    subs = [sub(Channel.BOOK, "ETH-USD"), sub(Channel.TRADES, "BTC-USD"),
            sub(Channel.BOOK, "BTC-USD"), sub(Channel.OHLCV, "BTC-USD", "5m"),
            sub(Channel.TICKER, "BTC-USD"), sub(Channel.TRADES, "ETH-USD")]
    assert [json.loads(p) for p in adapter.subscribe_requests(subs)] == [
        {"type": "subscribe", "channel": "heartbeats"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "ticker"},
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "market_trades"},
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "candles"},
        {"type": "subscribe", "product_ids": ["ETH-USD", "BTC-USD"], "channel": "level2"}]
    assert adapter.awaiting_snapshot == {"ETH-USD", "BTC-USD"}
    assert [json.loads(p) for p in adapter.unsubscribe_requests(subs[:2])] == [
        {"type": "unsubscribe", "product_ids": ["BTC-USD"], "channel": "market_trades"},
        {"type": "unsubscribe", "product_ids": ["ETH-USD"], "channel": "level2"}]
    assert adapter.awaiting_snapshot == {"BTC-USD"}


def test_control_messages_are_recorded() -> None:
    adapter = CoinbaseVenue()
    link = FakeLink()
    adapter.handle_control(link, b'{"type":"error","message":"Failed to subscribe",'
                                 b'"reason":"XRP-USDT is not a valid product"}')
    adapter.handle_control(link, b'{"channel":"heartbeats","sequence_num":3,"events":'
                                 b'[{"current_time":"x","heartbeat_counter":12}]}')
    adapter.handle_control(link, b'{"channel":"subscriptions","sequence_num":4,"events":'
                                 b'[{"subscriptions":{"level2":["BTC-USD"]}}]}')
    adapter.handle_control(link, b'{"channel":"status","sequence_num":5,"events":[{"type":'
                                 b'"snapshot","products":[{"id":"BTC-USD","status":"online"}]}]}')
    assert adapter.errors == ["Failed to subscribe XRP-USDT is not a valid product"]
    assert adapter.heartbeats == 1
    assert adapter.subscriptions == {"level2": ["BTC-USD"]}
    assert adapter.product_status == {"BTC-USD": "online"}
    assert link.sent == []


def snapshot(sequence: int, product: str) -> bytes:
    return json.dumps({"channel": "l2_data", "sequence_num": sequence, "events": [
        {"type": "snapshot", "product_id": product, "updates": [
            {"side": "bid", "price_level": "1", "new_quantity": "1"}]}]}).encode()


async def test_sync_waits_for_the_snapshot_the_subscription_brings() -> None:
    adapter = CoinbaseVenue()
    link = FakeLink()
    slot = link.decoder.add_instrument("BTC-USD", 0, 10, 8, OrderBook(10, 8))
    btc = sub(Channel.BOOK, "BTC-USD")
    adapter.subscribe_requests([btc])
    sync = asyncio.create_task(adapter.sync_book(link, btc, slot))
    await asyncio.sleep(0.05)
    assert not sync.done() and link.sent == []
    link.decoder.feed(snapshot(0, "BTC-USD"))
    link.decoder.feed(snapshot(1, "BTC-USD").replace(b"snapshot", b"update"))
    await asyncio.wait_for(sync, 1)
    assert link.decoder.take_dirty() == []       # the connection announces the rebuilt book
    link.decoder.feed(snapshot(2, "BTC-USD").replace(b"snapshot", b"update"))
    assert link.decoder.take_dirty() == [slot]


async def test_a_resync_after_a_gap_resubscribes_every_book_in_one_pair_of_messages() -> None:
    adapter = CoinbaseVenue(snapshot_timeout=0.3)
    link = FakeLink()
    products = ["SOL-USD", "BTC-USD", "ETH-USD"]
    slots = [link.decoder.add_instrument(p, i, 10, 8, OrderBook(10, 8))
             for i, p in enumerate(products)]
    syncs = [asyncio.create_task(adapter.sync_book(link, sub(Channel.BOOK, p), slot))
             for p, slot in zip(products, slots, strict=True)]
    await asyncio.sleep(0.05)
    assert link.sent == [
        {"type": "unsubscribe", "product_ids": sorted(products), "channel": "level2"},
        {"type": "subscribe", "product_ids": sorted(products), "channel": "level2"}]
    for sequence, product in enumerate(products[:2]):
        link.decoder.feed(snapshot(sequence, product))
    await asyncio.wait_for(asyncio.gather(*syncs[:2]), 1)
    with pytest.raises(TimeoutError):       # no snapshot: the connection retries the sync
        await syncs[2]
    assert link.decoder.sync_state(slots[2]) == BookSyncState.WAITING
