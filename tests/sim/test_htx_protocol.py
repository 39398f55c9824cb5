"""The simulated HTX on the wire: gzip'd BINARY frames, sub/unsub acks and errors, the
endpoint split, mbp sequence chaining and req snapshots, pings, and the faults, checked with a
raw client."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from feedhandler.sim import Keepalive, SimulatedExchange, UnsupportedFault, create_venue
from feedhandler.sim.testing import RawClient, connect

BOOK = "market.btcusdt.mbp.150"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    """btcusdt and ethusdt, published only through ``advance``, no server pings."""
    async with SimulatedExchange(create_venue("htx"), rate=None, seed=4,
                                 keepalive=None) as exchange:
        yield exchange


async def received(client: RawClient, timeout: float = 0.2) -> list[Any]:
    """Everything the client gets until the server has been quiet for ``timeout``."""
    messages = []
    while True:
        try:
            messages.append(json.loads(await client.next_text(timeout)))
        except TimeoutError:
            return messages


def units(levels: list[list[float]], step: str) -> dict[int, int]:
    """JSON-number levels -> {price ticks: size lots}, through their exact text."""
    tick, lot = Decimal(step[0]), Decimal(step[1])
    return {int(Decimal(repr(p)) / tick): int(Decimal(repr(s)) / lot) for p, s in levels}


async def test_acks_are_gzip_binary_and_shaped_like_htx(sim) -> None:
    client = await connect(sim.ws_url + "/ws")
    client.send_json({"sub": "market.btcusdt.trade.detail", "id": "id1"})
    ack = await client.next_json()
    assert set(ack) == {"id", "status", "subbed", "ts"}
    assert (ack["id"], ack["status"], ack["subbed"]) == ("id1", "ok",
                                                         "market.btcusdt.trade.detail")
    assert client.binary_frames == 1
    client.send_json({"unsub": "market.btcusdt.trade.detail", "id": "id2"})
    assert (await client.next_json())["unsubbed"] == "market.btcusdt.trade.detail"
    sim.advance(50)
    assert await received(client) == []


@pytest.mark.parametrize(("path", "request_", "message"), [
    ("/ws", {"sub": "market.btcusdt.kline.1mins", "id": "id3"},
     "invalid topic market.btcusdt.kline.1mins"),
    ("/ws", {"sub": BOOK, "id": "id3"}, f"topic {BOOK} is not served on /ws"),
    ("/feed", {"sub": "market.btcusdt.bbo", "id": "id3"},
     "topic market.btcusdt.bbo is not served on /feed"),
    ("/feed", {"req": "market.btcusdt.mbp.10", "id": "id3"},
     "invalid topic market.btcusdt.mbp.10"),
    ("/ws", {"ping": "soon", "id": "id3"}, "invalid ping"),
    ("/ws", {"hello": 1, "id": "id3"}, "invalid request"),
])
async def test_refused_requests_get_an_htx_error(sim, path, request_, message) -> None:
    client = await connect(sim.ws_url + path)
    client.send_json(request_)
    error = await client.next_json()
    assert error["status"] == "error" and error["err-code"] == "bad-request"
    assert error["err-msg"] == message and error["id"] == "id3" and "ts" in error


async def test_reject_subscribe_fault_answers_with_the_reason(sim) -> None:
    client = await connect(sim.ws_url + "/ws")
    sim.reject_subscribe("too many subscriptions")
    client.send_json({"sub": "market.btcusdt.bbo", "id": "id5"})
    assert (await client.next_json())["err-msg"] == "too many subscriptions"


async def test_mbp_updates_chain_and_the_req_snapshot_is_the_true_book(sim) -> None:
    client = await connect(sim.ws_url + "/feed")
    client.send_json({"sub": BOOK, "id": "id1"})
    await client.next_json()
    sim.advance(30)
    client.send_json({"req": BOOK, "id": "id2"})
    messages = await received(client)
    sim.advance(30)
    messages += await received(client)
    [rep] = [m for m in messages if "rep" in m]
    updates = [m for m in messages if "ch" in m]
    assert rep["id"] == "id2" and rep["rep"] == BOOK and rep["status"] == "ok"
    spec = sim.market.instrument("btcusdt")
    steps = (spec.tick_size, spec.lot_size)
    chain = [u["tick"] for u in updates]
    assert all(b["prevSeqNum"] == a["seqNum"] for a, b in itertools.pairwise(chain))
    seq = rep["data"]["seqNum"]
    assert any(t["prevSeqNum"] == seq for t in chain), "an update follows the snapshot"
    truth = sim.market.book_at("btcusdt", seq)
    assert units(rep["data"]["bids"], steps) == truth.bids
    assert units(rep["data"]["asks"], steps) == truth.asks
    assert all(u["ch"] == BOOK and isinstance(u["ts"], int) for u in updates)


@pytest.mark.parametrize("levels", [5, 20])
async def test_a_top_n_topic_applied_to_its_snapshot_is_the_true_top_of_book(sim, levels) -> None:
    topic = f"market.btcusdt.mbp.{levels}"
    client = await connect(sim.ws_url + "/feed")
    client.send_json({"sub": topic, "id": "id1"})
    await client.next_json()
    client.send_json({"req": topic, "id": "id2"})
    rep = await client.next_json()
    spec = sim.market.instrument("btcusdt")
    steps = (spec.tick_size, spec.lot_size)
    book = [units(rep["data"]["bids"], steps), units(rep["data"]["asks"], steps)]
    last = rep["data"]["seqNum"]
    sim.advance(300)
    for message in await received(client):
        tick = message["tick"]
        assert tick["prevSeqNum"] == last and message["ch"] == topic
        last = tick["seqNum"]
        for side, key in ((0, "bids"), (1, "asks")):
            for price, size in units(tick[key], steps).items():
                if size:
                    book[side][price] = size
                else:
                    del book[side][price]
            assert len(book[side]) <= levels
    bids, asks = sim.market.book("btcusdt").snapshot().top(levels)
    assert book == [dict(bids), dict(asks)] and last == sim.market.book("btcusdt").update_id


async def test_the_gap_fault_breaks_the_sequence_chain(sim) -> None:
    client = await connect(sim.ws_url + "/feed")
    client.send_json({"sub": BOOK, "id": "id1"})
    await client.next_json()
    sim.advance(40)
    sim.gap("btcusdt")
    sim.advance(40)
    chain = [m["tick"] for m in await received(client) if "ch" in m]
    breaks = [b for a, b in itertools.pairwise(chain)
              if b["prevSeqNum"] != a["seqNum"]]
    assert len(breaks) == 1
    with pytest.raises(UnsupportedFault):
        sim.corrupt_checksum("btcusdt")


async def test_market_data_shapes(sim) -> None:
    client = await connect(sim.ws_url + "/ws")
    for topic in ("market.btcusdt.trade.detail", "market.btcusdt.bbo",
                  "market.btcusdt.kline.1min"):
        client.send_json({"sub": topic, "id": topic})
        await client.next_json()
    sim.advance(300)
    messages = [m for m in await received(client) if "ch" in m]
    by_topic: dict[str, list[dict]] = {}
    for message in messages:
        assert set(message) == {"ch", "ts", "tick"}
        by_topic.setdefault(message["ch"], []).append(message["tick"])
    trade = by_topic["market.btcusdt.trade.detail"][0]
    assert set(trade) == {"id", "ts", "data"}
    assert set(trade["data"][0]) == {"id", "ts", "tradeId", "amount", "price", "direction"}
    assert trade["data"][0]["direction"] in ("buy", "sell")
    bbo = by_topic["market.btcusdt.bbo"][0]
    assert set(bbo) == {"seqId", "ask", "askSize", "bid", "bidSize", "quoteTime", "symbol"}
    assert bbo["bid"] < bbo["ask"] and bbo["symbol"] == "btcusdt"
    kline = by_topic["market.btcusdt.kline.1min"][0]
    assert set(kline) == {"id", "open", "close", "low", "high", "amount", "vol", "count"}
    assert kline["id"] % 60 == 0 and kline["low"] <= kline["high"]


async def test_client_pings_are_answered_with_the_same_number(sim) -> None:
    client = await connect(sim.ws_url + "/ws")
    client.send_json({"ping": 1492420473027})
    assert await client.next_json() == {"pong": 1492420473027}


async def test_server_pings_and_closes_clients_that_do_not_echo() -> None:
    keepalive = Keepalive(interval=0.1, timeout=0.3, text=True, pong_must_echo=True)
    async with SimulatedExchange(create_venue("htx"), rate=None,
                                 keepalive=keepalive) as sim:
        polite = await connect(sim.ws_url + "/ws")
        wrong = await connect(sim.ws_url + "/ws")
        silent = await connect(sim.ws_url + "/feed")

        async def answer(client: RawClient, shift: int) -> None:
            while not client.disconnected.is_set():
                try:
                    ping = await client.next_json(timeout=0.5)
                except TimeoutError:
                    continue
                client.send_json({"pong": ping["ping"] + shift})

        tasks = [asyncio.create_task(answer(polite, 0)), asyncio.create_task(answer(wrong, 1))]
        await silent.wait_disconnected(timeout=3)
        await wrong.wait_disconnected(timeout=3)
        assert silent.close_code == wrong.close_code == 1008
        await asyncio.sleep(0.4)
        assert not polite.disconnected.is_set()
        assert sim.history[0].received["pong"] >= 3
        assert sim.stats["pong_timeouts"] == 2
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
