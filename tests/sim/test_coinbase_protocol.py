"""The simulated Coinbase on the wire: subscribe rules, acks, errors, numbering, snapshots,
heartbeats and the faults as the real feed would show them, checked with a raw client."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from picows import WSMsgType

from feedhandler.sim import SimulatedExchange, UnsupportedFault, create_venue
from feedhandler.sim.coinbase import render_messages
from feedhandler.sim.testing import RawClient, connect


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    """BTC-USD and ETH-USD, published only through ``advance``."""
    async with SimulatedExchange(create_venue("coinbase"), rate=None, seed=4) as exchange:
        yield exchange


def subscribe(client: RawClient, channel: str, *products: str, kind: str = "subscribe") -> None:
    message: dict[str, Any] = {"type": kind, "channel": channel}
    if products:
        message["product_ids"] = list(products)
    client.send_json(message)


async def received(client: RawClient, timeout: float = 0.3) -> list[dict]:
    """Everything the client gets until the server has been quiet for ``timeout``."""
    messages = []
    while True:
        try:
            messages.append(json.loads(await client.next_text(timeout)))
        except TimeoutError:
            return messages


def prices(levels: list[dict], side: str) -> dict[str, str]:
    return {u["price_level"]: u["new_quantity"] for u in levels if u["side"] == side}


def as_text(sim: SimulatedExchange, symbol: str) -> tuple[dict, dict]:
    spec = sim.market.instrument(symbol)
    snap = sim.market.book(symbol).snapshot()

    def text(units: int, step: str) -> str:
        decimals = len(step.partition(".")[2])
        value = f"{units * int(step.replace('.', '')):0{decimals + 1}d}"
        value = f"{value[:-decimals]}.{value[-decimals:]}" if decimals else value
        return value.rstrip("0").rstrip(".") if "." in value else value

    return ({text(p, spec.tick_size): text(s, spec.lot_size) for p, s in snap.bids.items()},
            {text(p, spec.tick_size): text(s, spec.lot_size) for p, s in snap.asks.items()})


async def test_subscribe_acks_then_a_full_depth_snapshot_equal_to_the_true_book(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, "level2", "ETH-USD")
    ack, snapshot = await received(client)
    assert ack["channel"] == "subscriptions" and ack["sequence_num"] == 0
    assert ack["events"] == [{"subscriptions": {"level2": ["ETH-USD"]}}]
    assert snapshot["channel"] == "l2_data" and snapshot["sequence_num"] == 1
    [event] = snapshot["events"]
    assert event["type"] == "snapshot" and event["product_id"] == "ETH-USD"
    bids, asks = as_text(sim, "ETH-USD")
    assert len(bids) == len(asks) == 50          # every level, not a top-N
    assert prices(event["updates"], "bid") == bids and prices(event["updates"], "offer") == asks
    assert set(snapshot) == {"channel", "timestamp", "sequence_num", "events"}


async def test_numbering_is_per_connection_and_spans_every_channel(sim) -> None:
    first, second = await connect(sim.ws_url), await connect(sim.ws_url)
    for client in (first, second):
        subscribe(client, "heartbeats")
        for channel in ("level2", "market_trades", "ticker", "candles"):
            subscribe(client, channel, "BTC-USD", "ETH-USD")
    await asyncio.sleep(0.1)
    sim.advance(400)
    for client in (first, second):
        messages = await received(client)
        assert [m["sequence_num"] for m in messages] == list(range(len(messages)))
        channels = {m["channel"] for m in messages}
        assert channels == {"subscriptions", "l2_data", "market_trades", "ticker", "candles",
                            "heartbeats"}
        counters = [m["events"][0]["heartbeat_counter"] for m in messages
                    if m["channel"] == "heartbeats"]
        assert counters == list(range(1, len(counters) + 1)) and len(counters) >= 2


async def test_market_data_shapes(sim) -> None:
    client = await connect(sim.ws_url)
    for channel in ("market_trades", "ticker", "candles"):
        subscribe(client, channel, "BTC-USD")
    await asyncio.sleep(0.1)
    published = sim.advance(600)
    messages = await received(client)
    trades = [t for m in messages if m["channel"] == "market_trades" for e in m["events"]
              if e["type"] == "update" for t in e["trades"]]
    expected = [e for e in published if type(e).__name__ == "Trade" and e.symbol == "BTC-USD"]
    assert [int(t["trade_id"]) for t in trades] == [e.trade_id for e in expected]
    # the venue names the maker: a taker buy hit a resting sell
    assert [t["side"] for t in trades] == [
        "SELL" if e.taker_side.value == "buy" else "BUY" for e in expected]
    tickers = [t for m in messages if m["channel"] == "ticker" for e in m["events"]
               for t in e["tickers"]]
    assert len(tickers) == len(trades) and all(
        float(t["best_bid"]) < float(t["best_ask"]) for t in tickers)
    candles = [c for m in messages if m["channel"] == "candles" for e in m["events"]
               for c in e["candles"]]
    assert candles and all(int(c["start"]) % 300 == 0 for c in candles)


async def test_the_gap_fault_leaves_a_hole_in_the_numbering(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, "level2", "BTC-USD")
    subscribe(client, "market_trades", "BTC-USD", "ETH-USD")
    await asyncio.sleep(0.1)
    published = sim.advance(50)
    before = await received(client)
    sim.gap("BTC-USD")
    published += sim.advance(200)
    after = await received(client)
    numbers = [m["sequence_num"] for m in before + after]
    assert [b - a for a, b in itertools.pairwise(numbers) if b != a + 1] == [2]
    books = [e for e in published if type(e).__name__ == "BookUpdate" and e.symbol == "BTC-USD"]
    updates = [m for m in after + before if m["channel"] == "l2_data"]
    assert len(updates) == len(books)   # the snapshot, and every update but the lost one
    with pytest.raises(UnsupportedFault):
        sim.corrupt_checksum("BTC-USD")


async def test_resubscribing_level2_sends_a_new_snapshot(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, "level2", "BTC-USD")
    await received(client)
    sim.advance(100)
    await received(client)
    subscribe(client, "level2", "BTC-USD", kind="unsubscribe")
    subscribe(client, "level2", "BTC-USD")
    unsubscribed, subscribed, snapshot = await received(client)
    assert unsubscribed["events"] == [{"subscriptions": {}}]
    assert subscribed["events"] == [{"subscriptions": {"level2": ["BTC-USD"]}}]
    assert snapshot["events"][0]["type"] == "snapshot"
    bids, asks = as_text(sim, "BTC-USD")
    updates = snapshot["events"][0]["updates"]
    assert prices(updates, "bid") == bids and prices(updates, "offer") == asks


async def test_unsubscribing_a_channel_without_products_ends_it(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, "market_trades", "BTC-USD", "ETH-USD")
    subscribe(client, "heartbeats")
    subscribe(client, "market_trades", kind="unsubscribe")
    acks = [m for m in await received(client) if m["channel"] == "subscriptions"]
    assert acks[-1]["events"] == [{"subscriptions": {"heartbeats": []}}]
    sim.advance(300)
    assert {m["channel"] for m in await received(client)} == {"heartbeats"}


@pytest.mark.parametrize(("request_", "error"), [
    (b"{not json", "Failed to parse message"),
    (b'{"type":"subscribe","channels":["level2"],"product_ids":["BTC-USD"]}',
     "channel must be a string: one channel per message"),
    (b'{"type":"subscribe","channel":"level2"}', "Failed to subscribe: level2 needs product_ids"),
    (b'{"type":"subscribe","channel":"level3","product_ids":["BTC-USD"]}',
     "Failed to subscribe: unknown channel or product level3:BTC-USD"),
    (b'{"type":"subscribe","channel":"level2","product_ids":["XRP-USDT"]}',
     "Failed to subscribe: unknown channel or product level2:XRP-USDT"),
    (b'{"type":"ping"}', "Unknown message type 'ping'"),
])
async def test_refused_requests(sim, request_: bytes, error: str) -> None:
    client = await connect(sim.ws_url)
    assert client.transport is not None
    client.transport.send(WSMsgType.TEXT, request_)
    assert await client.next_json() == {"type": "error", "message": error}


async def test_more_than_eight_messages_a_second_close_the_connection(sim) -> None:
    client = await connect(sim.ws_url)
    for _ in range(9):
        subscribe(client, "heartbeats")
    await client.wait_disconnected()
    assert client.close_code == 1008


async def test_offline_rendering_is_seeded_and_numbered() -> None:
    first = render_messages(300, seed=9, channels=("level2", "market_trades"))
    assert first == render_messages(300, seed=9, channels=("level2", "market_trades"))
    messages = [json.loads(m) for m in first]
    assert [m["sequence_num"] for m in messages] == list(range(300))
    assert messages[0]["events"][0]["type"] == "snapshot"
    assert {m["channel"] for m in messages} == {"l2_data", "market_trades"}
