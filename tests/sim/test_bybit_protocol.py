"""The simulated Bybit v5 on the wire, spot and linear: subscribe acks and errors, each
market's pong, book snapshots then u-numbered deltas that rebuild the true book, tickers,
trades, klines and the faults, checked with a raw client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from feedhandler.sim import SimulatedExchange, UnsupportedFault, create_venue
from feedhandler.sim.testing import RawClient, connect


@pytest.fixture(params=["spot", "linear"])
async def sim(request) -> AsyncIterator[SimulatedExchange]:
    """BTCUSDT and ETHUSDT, published only through ``advance``."""
    async with SimulatedExchange(create_venue("bybit", request.param), rate=None,
                                 seed=5) as exchange:
        yield exchange


async def opened(sim: SimulatedExchange) -> RawClient:
    return await connect(sim.ws_url)


async def received(client: RawClient, timeout: float = 0.2) -> list[Any]:
    """Everything the client gets until the server has been quiet for ``timeout``."""
    messages = []
    while True:
        try:
            messages.append(json.loads(await client.next_text(timeout)))
        except TimeoutError:
            return messages


def reply_to(req_id: str):
    return lambda m: isinstance(m, dict) and m.get("req_id") == req_id


async def test_each_market_has_its_own_path(sim) -> None:
    market = sim.venue.market_type
    assert sim.ws_url.endswith(f"/v5/public/{market}")


async def test_subscribe_is_acked_then_the_book_snapshot_follows(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["orderbook.50.BTCUSDT"]})
    ack, snapshot = await client.next_json(), await client.next_json()
    assert ack["success"] is True and ack["op"] == "subscribe" and ack["req_id"] == "1"
    assert ack["ret_msg"] == "" and ack["conn_id"]
    assert snapshot["topic"] == "orderbook.50.BTCUSDT" and snapshot["type"] == "snapshot"
    assert len(snapshot["data"]["b"]) == len(snapshot["data"]["a"]) == 50
    assert snapshot["data"]["s"] == "BTCUSDT" and snapshot["data"]["u"] > 1


async def test_deltas_count_u_up_by_one_and_rebuild_the_true_top(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["orderbook.50.BTCUSDT"]})
    await client.next_json()
    snapshot = await client.next_json()
    book = {"b": dict(snapshot["data"]["b"]), "a": dict(snapshot["data"]["a"])}
    u = snapshot["data"]["u"]
    sim.advance(200)
    deltas = [m for m in await received(client) if m["topic"].startswith("orderbook.")]
    assert deltas and all(m["type"] == "delta" for m in deltas)
    for delta in deltas:
        assert delta["data"]["u"] == u + 1
        u = delta["data"]["u"]
        for side in ("b", "a"):
            for price, size in delta["data"][side]:
                if size == "0":
                    book[side].pop(price, None)
                else:
                    book[side][price] = size
    spec = sim.market.instrument("BTCUSDT")
    price, qty = spec.price_formatter(), spec.size_formatter()
    bids, asks = sim.market.book("BTCUSDT").snapshot().top(50)
    assert book["b"] == {price(p): qty(s) for p, s in bids}
    assert book["a"] == {price(p): qty(s) for p, s in asks}


async def test_a_gap_skips_one_u_for_the_faulted_connection(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["orderbook.50.BTCUSDT"]})
    await client.next_json()
    u = (await client.next_json())["data"]["u"]
    sim.gap("BTCUSDT")
    sim.advance(100)
    ids = [m["data"]["u"] for m in await received(client) if m["topic"].startswith("orderbook")]
    assert ids[0] == u + 2 and ids == list(range(u + 2, u + 2 + len(ids)))


async def test_orderbook_one_only_sends_snapshots(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["orderbook.1.BTCUSDT"]})
    await client.next_matching(reply_to("1"))
    sim.advance(100)
    books = [m for m in await received(client) if "topic" in m]
    assert len(books) > 2 and {m["type"] for m in books} == {"snapshot"}
    assert all(len(m["data"]["b"]) == len(m["data"]["a"]) == 1 for m in books)


async def test_tickers_follow_each_markets_shape(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["tickers.BTCUSDT"]})
    await client.next_matching(reply_to("1"))
    sim.advance(300)
    tickers = [m for m in await received(client) if "topic" in m]
    first = tickers[0]
    assert first["type"] == "snapshot" and first["data"]["symbol"] == "BTCUSDT"
    if sim.venue.market_type == "spot":
        assert {m["type"] for m in tickers} == {"snapshot"}
        assert all("bid1Price" not in m["data"] for m in tickers)
    else:
        assert {"bid1Price", "ask1Size", "lastPrice"} <= first["data"].keys()
        deltas = tickers[1:]
        assert deltas and {m["type"] for m in deltas} == {"delta"}
        assert any("lastPrice" not in m["data"] for m in deltas)   # partial updates


async def test_trades_and_klines(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1",
                      "args": ["publicTrade.BTCUSDT", "kline.1.BTCUSDT"]})
    await client.next_matching(reply_to("1"))
    sim.advance(8000)
    messages = [m for m in await received(client) if "topic" in m]
    trades = [t for m in messages if m["topic"] == "publicTrade.BTCUSDT" for t in m["data"]]
    klines = [k for m in messages if m["topic"] == "kline.1.BTCUSDT" for k in m["data"]]
    assert trades and {t["S"] for t in trades} == {"Buy", "Sell"}
    assert all({"T", "s", "v", "p", "i"} <= t.keys() for t in trades)
    assert klines and all(k["interval"] == "1" and k["end"] - k["start"] == 59_999
                          for k in klines)
    assert any(k["confirm"] for k in klines) and not all(k["confirm"] for k in klines)


async def test_ping_is_answered_in_the_markets_shape(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "ping", "req_id": "9"})
    pong = await client.next_json()
    if sim.venue.market_type == "spot":
        assert pong["op"] == "ping" and pong["ret_msg"] == "pong" and pong["success"] is True
    else:
        assert pong["op"] == "pong" and pong["args"][0].isdigit()
    assert pong["req_id"] == "9" and pong["conn_id"]
    sim.refuse_pings()
    client.send_json({"op": "ping", "req_id": "10"})
    assert await received(client) == []


async def test_errors_name_the_request(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["orderbook.40.BTCUSDT"]})
    unknown = await client.next_matching(reply_to("1"))
    assert unknown["success"] is False and "orderbook.40.BTCUSDT" in unknown["ret_msg"]
    client.send_json({"op": "subscribe", "req_id": "2", "args": ["publicTrade.BTCUSDT"]})
    await client.next_matching(reply_to("2"))
    client.send_json({"op": "subscribe", "req_id": "3", "args": ["publicTrade.BTCUSDT"]})
    again = await client.next_matching(reply_to("3"))
    assert again["success"] is False and "already subscribed" in again["ret_msg"]
    client.send_json({"op": "dance", "req_id": "4"})
    assert (await client.next_matching(reply_to("4")))["success"] is False
    sim.reject_subscribe("no")
    client.send_json({"op": "subscribe", "req_id": "5", "args": ["tickers.BTCUSDT"]})
    rejected = await client.next_matching(reply_to("5"))
    assert rejected["success"] is False and rejected["ret_msg"] == "no"


async def test_spot_allows_ten_args_per_request(sim) -> None:
    client = await opened(sim)
    args = [f"kline.{i}.BTCUSDT" for i in ("1", "3", "5", "15", "30", "60", "120", "240",
                                          "360", "720", "D")]
    client.send_json({"op": "subscribe", "req_id": "1", "args": args})
    reply = await client.next_matching(reply_to("1"))
    assert reply["success"] is (sim.venue.market_type == "linear")


async def test_unsubscribe_stops_the_topic(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["publicTrade.BTCUSDT"]})
    client.send_json({"op": "unsubscribe", "req_id": "2", "args": ["publicTrade.BTCUSDT"]})
    ack = await client.next_matching(reply_to("2"))
    assert ack["success"] is True and ack["op"] == "unsubscribe"
    sim.advance(300)
    assert [m for m in await received(client) if "topic" in m] == []


async def test_malformed_and_oversize_frames_and_no_checksum(sim) -> None:
    client = await opened(sim)
    sim.malformed()
    with pytest.raises(ValueError):
        json.loads(await client.next_text())
    sim.oversize(70_000)
    assert len(await client.next_text()) == 70_000
    with pytest.raises(UnsupportedFault):
        sim.corrupt_checksum("BTCUSDT")


async def test_a_book_service_restart_sends_a_full_snapshot_numbered_one(sim) -> None:
    client = await opened(sim)
    client.send_json({"op": "subscribe", "req_id": "1", "args": ["orderbook.50.BTCUSDT"]})
    await client.next_json()
    await client.next_json()
    sim.venue.restart_books("BTCUSDT")
    sim.advance(100)
    books = [m for m in await received(client) if m["topic"].startswith("orderbook")]
    restart, following = books[0], books[1:]
    assert restart["type"] == "snapshot" and restart["data"]["u"] == 1
    assert len(restart["data"]["b"]) == len(restart["data"]["a"]) == 50
    assert [m["data"]["u"] for m in following] == list(range(2, 2 + len(following)))
    assert {m["type"] for m in following} == {"delta"}
