"""Gate.io spot v4 wire protocol of the simulator: subscribe and unsubscribe replies, errors,
spot.ping/spot.pong, payload shapes per channel, the REST order book, and a dict client
following Gate's local-order-book procedure ending on the true book."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import pytest
from picows import WSError, WSMsgType, ws_connect

from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.testing import RawClient, connect, http_get

PAIRS = ["BTC_USDT", "ETH_USDT"]


@pytest.fixture
async def gate() -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(create_venue("gateio", "spot", PAIRS), rate=None,
                                 keepalive=None, seed=3) as sim:
        yield sim


def request(event: str, channel: str, payload: list[str], id_: int) -> dict[str, Any]:
    return {"time": 1700000000, "id": id_, "channel": channel, "event": event,
            "payload": payload}


async def test_subscribe_ack_then_updates_then_unsubscribe(gate: SimulatedExchange) -> None:
    client = await connect(gate.ws_url)
    client.send_json(request("subscribe", "spot.trades", PAIRS, 11))
    ack = await client.next_json()
    assert set(ack) == {"time", "time_ms", "id", "conn_id", "channel", "event", "error",
                        "result"}
    assert (ack["id"], ack["channel"], ack["event"], ack["error"], ack["result"]) == (
        11, "spot.trades", "subscribe", None, {"status": "success"})
    assert ack["time"] == ack["time_ms"] // 1000
    assert list(gate.connections[0].topics) == ["spot.trades:BTC_USDT", "spot.trades:ETH_USDT"]
    gate.advance(300)
    await asyncio.sleep(0.05)
    trades = [json.loads(p) for p in client.drain()]
    assert trades and {t["channel"] for t in trades} == {"spot.trades"}
    assert {t["result"]["currency_pair"] for t in trades} == set(PAIRS)
    result = trades[0]["result"]
    assert set(result) == {"id", "create_time", "create_time_ms", "side", "currency_pair",
                           "amount", "price", "range"}
    assert result["side"] in ("buy", "sell")
    assert float(result["create_time_ms"]) // 1000 == result["create_time"]
    client.send_json(request("unsubscribe", "spot.trades", ["ETH_USDT"], 12))
    assert (await client.next_json())["event"] == "unsubscribe"
    gate.advance(300)
    await asyncio.sleep(0.05)
    assert {json.loads(p)["result"]["currency_pair"] for p in client.drain()} == {"BTC_USDT"}


async def test_each_channel_has_gate_shapes(gate: SimulatedExchange) -> None:
    client = await connect(gate.ws_url)
    for id_, (channel, payload) in enumerate([
            ("spot.book_ticker", ["BTC_USDT"]), ("spot.tickers", ["BTC_USDT"]),
            ("spot.candlesticks", ["10s", "BTC_USDT"]),
            ("spot.order_book_update", ["BTC_USDT", "100ms"])]):
        client.send_json(request("subscribe", channel, payload, id_))
        assert (await client.next_json())["result"] == {"status": "success"}
    gate.advance(2000)
    await asyncio.sleep(0.1)
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for text in client.drain():
        message = json.loads(text)
        assert message["event"] == "update"
        by_channel.setdefault(message["channel"], []).append(message["result"])
    assert set(by_channel["spot.book_ticker"][0]) == {"t", "u", "s", "b", "B", "a", "A"}
    assert set(by_channel["spot.tickers"][0]) == {
        "currency_pair", "last", "lowest_ask", "highest_bid", "change_percentage",
        "base_volume", "quote_volume", "high_24h", "low_24h"}
    candles = by_channel["spot.candlesticks"]
    assert set(candles[0]) == {"t", "v", "c", "h", "l", "o", "n", "a", "w"}
    assert {c["n"] for c in candles} == {"10s_BTC_USDT"}
    assert any(c["w"] for c in candles) and not all(c["w"] for c in candles)
    assert all(int(c["t"]) % 10 == 0 for c in candles)
    depth = by_channel["spot.order_book_update"]
    assert set(depth[0]) == {"t", "e", "E", "s", "U", "u", "b", "a"}
    assert all(later["U"] == earlier["u"] + 1 for earlier, later in pairwise(depth))


async def test_errors_carry_gate_codes(gate: SimulatedExchange) -> None:
    client = await connect(gate.ws_url)
    assert client.transport is not None
    client.transport.send(WSMsgType.TEXT, b"{not json")
    assert (await client.next_json())["error"]["code"] == 1
    client.send_json(request("subscribe", "spot.trades", ["DOGE_USDT"], 3))
    reply = await client.next_json()
    assert reply["id"] == 3 and reply["result"] is None
    assert reply["error"] == {"code": 2,
                              "message": "unknown channel or currency pair spot.trades:DOGE_USDT"}
    client.send_json(request("subscribe", "spot.order_book_update", ["BTC_USDT", "7ms"], 4))
    assert (await client.next_json())["error"]["code"] == 2
    client.send_json(request("subscribe", "spot.trades", [], 5))
    assert (await client.next_json())["error"]["code"] == 2
    client.send_json({"time": 1, "id": 6, "channel": "spot.trades", "event": "sub"})
    assert (await client.next_json())["error"]["code"] == 2
    gate.reject_subscribe("server busy")
    client.send_json(request("subscribe", "spot.trades", ["BTC_USDT"], 7))
    rejected = await client.next_json()
    assert (rejected["id"], rejected["channel"], rejected["event"], rejected["result"]) == (
        7, "spot.trades", "subscribe", None)
    assert rejected["error"] == {"code": 2, "message": "server busy"}
    assert not gate.connections[0].topics
    assert gate.connections[0].received["invalid"] == 3


async def test_spot_ping_is_answered_with_spot_pong(gate: SimulatedExchange) -> None:
    client = await connect(gate.ws_url)
    client.send_json({"time": 1700000000, "channel": "spot.ping"})
    pong = await client.next_json()
    assert (pong["channel"], pong["event"], pong["result"]) == ("spot.pong", "", None)
    assert pong["conn_id"] == gate.connections[0].state.conn_id
    assert client.transport is not None
    client.transport.send_ping(b"hb")
    assert await asyncio.wait_for(client.pongs.get(), 2) == b"hb"
    gate.refuse_pings()
    client.send_json({"time": 1700000000, "channel": "spot.ping"})
    client.transport.send_ping(b"hb")
    await asyncio.sleep(0.2)
    assert client.texts.empty() and client.pongs.empty()
    assert gate.connections[0].received["ping"] == 4   # two spot.ping, two PING frames


async def test_only_the_v4_path_upgrades(gate: SimulatedExchange) -> None:
    with pytest.raises(WSError):
        await ws_connect(RawClient, f"ws://127.0.0.1:{gate.port}/ws/v3/")
    client = await connect(gate.ws_url.rstrip("/"))
    assert client.transport is not None


async def test_rest_order_book(gate: SimulatedExchange) -> None:
    url = gate.http_url + "/api/v4/spot/order_book?currency_pair=ETH_USDT"
    reply = await http_get(url + "&limit=7&with_id=true")
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"id", "current", "update", "asks", "bids"}
    spec = gate.market.instrument("ETH_USDT")
    truth_bids, truth_asks = gate.market.book_at("ETH_USDT", body["id"]).top(7)
    assert [(spec.price_ticks(p), spec.size_lots(q)) for p, q in body["bids"]] == truth_bids
    assert [(spec.price_ticks(p), spec.size_lots(q)) for p, q in body["asks"]] == truth_asks
    without_id = (await http_get(url)).json()
    assert "id" not in without_id and len(without_id["bids"]) == 10   # default limit
    missing = await http_get(gate.http_url + "/api/v4/spot/order_book")
    assert missing.status == 400 and missing.json()["label"] == "MISSING_REQUIRED_PARAM"
    unknown = await http_get(gate.http_url + "/api/v4/spot/order_book?currency_pair=X_Y")
    assert unknown.status == 400 and unknown.json()["label"] == "INVALID_CURRENCY_PAIR"
    too_deep = await http_get(url + "&limit=101")
    assert too_deep.status == 400 and too_deep.json()["label"] == "INVALID_PARAM_VALUE"
    assert (await http_get(gate.http_url + "/api/v4/spot/tickers")).status == 404


async def test_gates_book_procedure_reproduces_the_true_book() -> None:
    """Buffer updates, fetch the snapshot with id, drop u < id + 1, first U <= id + 1 <= u,
    then U == previous u + 1: the dict book equals the simulator's true book."""
    venue = create_venue("gateio", "spot", PAIRS)
    async with SimulatedExchange(venue, rate=4000, keepalive=None, seed=11) as sim:
        client = await connect(sim.ws_url)
        client.send_json(request("subscribe", "spot.order_book_update", ["BTC_USDT", "100ms"],
                                 1))
        assert (await client.next_json())["event"] == "subscribe"
        buffered = [json.loads(await client.next_text())["result"] for _ in range(5)]
        snap = (await http_get(sim.http_url + "/api/v4/spot/order_book?currency_pair=BTC_USDT"
                                             "&limit=100&with_id=true")).json()
        spec = sim.market.instrument("BTC_USDT")
        sides = [{spec.price_ticks(p): spec.size_lots(q) for p, q in snap[key]}
                 for key in ("bids", "asks")]
        last, applied = snap["id"], 0
        assert buffered[0]["u"] < last + 1, "the snapshot should postdate the buffering"

        def apply(update: dict[str, Any]) -> None:
            nonlocal last, applied
            if update["u"] < last + 1:
                return
            if applied == 0:
                assert update["U"] <= last + 1 <= update["u"]
            else:
                assert update["U"] == last + 1
            for side, key in zip(sides, ("b", "a"), strict=True):
                for price, size in update[key]:
                    ticks, lots = spec.price_ticks(price), spec.size_lots(size)
                    if lots:
                        side[ticks] = lots
                    else:
                        side.pop(ticks, None)
            last, applied = update["u"], applied + 1

        for update in buffered:
            apply(update)
        while applied < 300:
            apply(json.loads(await client.next_text())["result"])
        truth = sim.market.book_at("BTC_USDT", last)
        assert sides == [truth.bids, truth.asks]


async def test_obu_starts_with_a_full_push_and_its_updates_rebuild_the_true_top() -> None:
    venue = create_venue("gateio", "spot", PAIRS)
    async with SimulatedExchange(venue, rate=None, keepalive=None, seed=5, depth=70) as sim:
        client = await connect(sim.ws_url)
        client.send_json(request("subscribe", "spot.obu", ["ob.BTC_USDT.50"], 1))
        assert (await client.next_json())["result"] == {"status": "success"}
        first = await client.next_json()
        assert first["channel"] == "spot.obu" and "event" not in first
        full = first["result"]
        assert full["full"] is True and full["s"] == "ob.BTC_USDT.50" and "U" not in full
        assert len(full["b"]) == len(full["a"]) == 50
        spec = sim.market.instrument("BTC_USDT")

        def parsed(levels: list[list[str]]) -> dict[int, int]:
            return {spec.price_ticks(p): spec.size_lots(q) for p, q in levels}

        sides, last = [parsed(full["b"]), parsed(full["a"])], full["u"]
        sim.advance(400)
        await asyncio.sleep(0.1)
        for text in client.drain():
            push = json.loads(text)["result"]
            assert "full" not in push and push["U"] == last + 1
            for side, key in zip(sides, ("b", "a"), strict=True):
                for ticks, lots in parsed(push[key]).items():
                    if lots:
                        side[ticks] = lots
                    else:
                        side.pop(ticks, None)
            last = push["u"]
        truth_bids, truth_asks = sim.market.book_at("BTC_USDT", last).top(50)
        assert sides == [dict(truth_bids), dict(truth_asks)]
        assert last == sim.market.book("BTC_USDT").update_id
