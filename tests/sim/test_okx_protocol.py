"""The simulated OKX v5 on the wire: both endpoints, acks and errors, book snapshots and
sequenced updates with their checksums, the faults, text ping/pong and the idle close, checked
with a raw client."""

from __future__ import annotations

import asyncio
import itertools
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from picows import WSMsgType

from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.okx import BUSINESS_PATH, OkxVenue
from feedhandler.sim.testing import RawClient, connect, http_get


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    """BTC-USDT and ETH-USDT, published only through ``advance``."""
    async with SimulatedExchange(create_venue("okx"), rate=None, seed=5) as exchange:
        yield exchange


def business_url(sim: SimulatedExchange) -> str:
    return f"ws://{sim.host}:{sim.port}{BUSINESS_PATH}"


def subscribe(client: RawClient, *args: tuple[str, str], op: str = "subscribe",
              request_id: str = "1") -> None:
    client.send_json({"id": request_id, "op": op,
                      "args": [{"channel": channel, "instId": inst} for channel, inst in args]})


async def received(client: RawClient, timeout: float = 0.15) -> list[Any]:
    """Everything the client gets until the server has been quiet for ``timeout``."""
    messages = []
    while True:
        try:
            messages.append(json.loads(await client.next_text(timeout)))
        except TimeoutError:
            return messages


async def advanced(sim: SimulatedExchange, client: RawClient, steps: int) -> list[Any]:
    """What the client got for its requests, then for ``steps`` market steps."""
    replies = await received(client)
    sim.advance(steps)
    return replies + await received(client)


def okx_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's rule written out independently of the simulator: top 25, bid1:ask1:..."""
    parts = []
    for i in range(25):
        for side in (bids, asks):
            if i < len(side):
                parts.append(f"{side[i][0]}:{side[i][1]}")
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class Book:
    """A client-side model book over the wire strings, for following a channel."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.sides: dict[str, dict[str, str]] = {"bids": {}, "asks": {}}
        self.seq = -1

    def apply(self, data: dict[str, Any], snapshot: bool) -> None:
        if snapshot:
            self.sides = {"bids": {}, "asks": {}}
        for side in ("bids", "asks"):
            for price, size, *_ in data[side]:
                if size == "0":
                    self.sides[side].pop(price, None)
                else:
                    self.sides[side][price] = size
        self.seq = data["seqId"]

    def levels(self, side: str) -> list[list[str]]:
        ordered = sorted(self.sides[side].items(), key=lambda kv: float(kv[0]),
                         reverse=side == "bids")
        return [list(level) for level in ordered[:self.depth]]

    def checksum(self) -> int:
        return okx_checksum(self.levels("bids"), self.levels("asks"))


def true_top(sim: SimulatedExchange, symbol: str, depth: int) -> tuple[list[str], list[str]]:
    """The best ``depth`` prices of each side of the simulator's book, as decimal strings."""
    price = sim.market.instrument(symbol).price_formatter()
    bids, asks = sim.market.book(symbol).snapshot().top(depth)
    return [price(p) for p, _ in bids], [price(p) for p, _ in asks]


async def test_subscribe_acks_each_arg_then_a_snapshot_of_the_true_book(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, ("books", "BTC-USDT"), ("trades", "ETH-USDT"), request_id="7")
    ack_books, ack_trades, snapshot = await received(client)
    assert ack_books == {"id": "7", "event": "subscribe",
                         "arg": {"channel": "books", "instId": "BTC-USDT"},
                         "connId": ack_books["connId"]}
    assert ack_trades["arg"] == {"channel": "trades", "instId": "ETH-USDT"}
    assert snapshot["arg"] == {"channel": "books", "instId": "BTC-USDT"}
    assert snapshot["action"] == "snapshot"
    [data] = snapshot["data"]
    assert data["prevSeqId"] == -1
    assert all(len(level) == 4 and level[2] == "0" for level in data["bids"] + data["asks"])
    assert data["checksum"] == okx_checksum(data["bids"], data["asks"])
    bids, asks = true_top(sim, "BTC-USDT", 400)
    assert [float(p) for p, *_ in data["bids"]] == [float(p) for p in bids]
    assert [float(p) for p, *_ in data["asks"]] == [float(p) for p in asks]


async def test_updates_chain_by_seq_id_and_keep_the_checksum_of_the_followed_book(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, ("books", "BTC-USDT"), ("books50-l2-tbt", "BTC-USDT"))
    books = {"books": Book(400), "books50-l2-tbt": Book(50)}
    messages = await advanced(sim, client, 300)
    messages = [m for m in messages if "data" in m]
    assert {m["action"] for m in messages} == {"snapshot", "update"}
    for message in messages:
        [data] = message["data"]
        book = books[message["arg"]["channel"]]
        if message["action"] == "update":
            assert data["prevSeqId"] == book.seq
        book.apply(data, message["action"] == "snapshot")
        assert data["checksum"] == book.checksum()
        assert all(price.rstrip("0") == price or "." not in price
                   for price, *_ in data["bids"] + data["asks"])
    for name, book in books.items():
        bids, asks = true_top(sim, "BTC-USDT", book.depth)
        assert [float(p) for p, _ in book.levels("bids")] == [float(p) for p in bids], name
        assert [float(p) for p, _ in book.levels("asks")] == [float(p) for p in asks], name


async def test_books5_and_bbo_tbt_send_the_whole_top_every_time(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, ("books5", "ETH-USDT"), ("bbo-tbt", "ETH-USDT"))
    pushes = [m for m in await advanced(sim, client, 200) if "data" in m]
    depth = {"books5": 5, "bbo-tbt": 1}
    assert {m["arg"]["channel"] for m in pushes} == set(depth)
    for message in pushes:
        [data] = message["data"]
        assert "action" not in message and "checksum" not in data and "prevSeqId" not in data
        assert len(data["bids"]) == len(data["asks"]) == depth[message["arg"]["channel"]]
    last = [m for m in pushes if m["arg"]["channel"] == "books5"][-1]["data"][0]
    bids, asks = true_top(sim, "ETH-USDT", 5)
    assert [float(p) for p, *_ in last["bids"]] == [float(p) for p in bids]
    assert [float(p) for p, *_ in last["asks"]] == [float(p) for p in asks]


async def test_candles_only_on_business_and_marked_closed_by_confirm(sim) -> None:
    public = await connect(sim.ws_url)
    subscribe(public, ("candle1s", "BTC-USDT"))
    [error] = await received(public)
    assert error["event"] == "error" and error["code"] == "60018"
    assert "candle1s" in error["msg"] and error["id"] == "1"
    business = await connect(business_url(sim))
    subscribe(business, ("candle1s", "BTC-USDT"))
    subscribe(business, ("trades", "BTC-USDT"), request_id="2")
    messages = await advanced(sim, business, 400)
    assert messages[0]["event"] == "subscribe"
    assert any(m.get("code") == "60018" and m.get("id") == "2" for m in messages)
    candles = [m["data"][0] for m in messages if "data" in m]
    assert candles and all(len(c) == 9 for c in candles)
    assert {c[8] for c in candles} == {"0", "1"}
    assert all(int(c[0]) % 1000 == 0 for c in candles)


async def test_trades_and_tickers_carry_okx_fields(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, ("trades", "BTC-USDT"), ("tickers", "BTC-USDT"))
    pushes = [m for m in await advanced(sim, client, 200) if "data" in m]
    trades = [m["data"][0] for m in pushes if m["arg"]["channel"] == "trades"]
    tickers = [m["data"][0] for m in pushes if m["arg"]["channel"] == "tickers"]
    assert trades and tickers
    assert set(trades[0]) == {"instId", "tradeId", "px", "sz", "side", "ts", "count"}
    assert {t["side"] for t in trades} <= {"buy", "sell"}
    assert all(float(t["bidPx"]) < float(t["askPx"]) for t in tickers)
    assert {"last", "lastSz", "open24h", "high24h", "low24h", "vol24h", "ts"} <= set(tickers[0])


@pytest.mark.parametrize("payload, code", [
    (b"{not json", "60012"),
    (b'{"op":"login","args":[]}', "60012"),
    (b'{"op":"subscribe","args":[{"channel":"books"}]}', "60012"),
    (b'{"op":"subscribe","args":[{"channel":"books","instId":"NOPE-USDT"}]}', "60018"),
    (b'{"op":"subscribe","args":[{"channel":"depth","instId":"BTC-USDT"}]}', "60018"),
])
async def test_bad_requests_get_okx_errors(sim, payload: bytes, code: str) -> None:
    client = await connect(sim.ws_url)
    assert client.transport is not None
    client.transport.send(WSMsgType.TEXT, payload)
    [error] = await received(client)
    assert error["event"] == "error" and error["code"] == code and error["msg"]
    assert error["connId"]


async def test_reject_subscribe_fault_answers_with_an_error(sim) -> None:
    client = await connect(sim.ws_url)
    await asyncio.sleep(0.05)
    sim.reject_subscribe("channel temporarily unavailable")
    subscribe(client, ("books", "BTC-USDT"))
    [error] = await received(client)
    assert error["code"] == "60012" and error["msg"] == "channel temporarily unavailable"


async def test_unsubscribe_acks_and_stops_the_channel(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, ("trades", "BTC-USDT"))
    await received(client)
    subscribe(client, ("trades", "BTC-USDT"), op="unsubscribe", request_id="9")
    [ack] = await received(client)
    assert ack["event"] == "unsubscribe" and ack["id"] == "9"
    sim.advance(100)
    assert await received(client) == []


async def test_corrupt_checksum_and_gap_faults(sim) -> None:
    client = await connect(sim.ws_url)
    subscribe(client, ("books", "BTC-USDT"))
    book = Book(400)
    for message in await received(client):
        if "data" in message:
            book.apply(message["data"][0], True)
    sim.corrupt_checksum("BTC-USDT")
    sim.advance(40)
    updates = [m["data"][0] for m in await received(client) if "data" in m]
    book.apply(updates[0], False)
    assert updates[0]["checksum"] != book.checksum()
    for data in updates[1:]:
        book.apply(data, False)
        assert data["checksum"] == book.checksum()
    sim.gap("BTC-USDT")
    sim.advance(40)
    updates = [m["data"][0] for m in await received(client) if "data" in m]
    assert updates[0]["prevSeqId"] != book.seq
    assert all(b["prevSeqId"] == a["seqId"] for a, b in itertools.pairwise(updates))


async def test_malformed_and_oversize_faults(sim) -> None:
    client = await connect(sim.ws_url)
    await asyncio.sleep(0.05)
    sim.malformed()
    sim.oversize(70_000)
    malformed = await client.next_text()
    with pytest.raises(ValueError):
        json.loads(malformed)
    assert len(await client.next_text()) == 70_000


async def test_text_ping_gets_text_pong_and_silence_is_closed() -> None:
    async with SimulatedExchange(OkxVenue(idle_timeout=0.3), rate=None) as sim:
        pinging, silent = await connect(sim.ws_url), await connect(sim.ws_url)
        assert pinging.transport is not None
        for _ in range(6):
            pinging.transport.send(WSMsgType.TEXT, b"ping")
            assert await pinging.next_text() == b"pong"
            await asyncio.sleep(0.1)
        await asyncio.wait_for(silent.disconnected.wait(), 2)
        assert silent.close_code == 4004
        assert not pinging.disconnected.is_set()
        assert sim.stats["idle_disconnects"] == 1


async def test_without_the_in_band_snapshot_updates_follow_the_ack_and_rest_serves_books() -> None:
    """OKX's announced protocol: no snapshot on subscribe; ``GET /api/v5/market/books`` gives
    the true top ``sz`` with the ``seqId`` the first later update chains from or straddles."""
    venue = OkxVenue(symbols=("BTC-USDT",), in_band_snapshot=False, checksum="absent")
    async with SimulatedExchange(venue, rate=None, seed=5) as sim:
        client = await connect(sim.ws_url)
        subscribe(client, ("books", "BTC-USDT"))
        [ack] = await received(client)
        assert ack["event"] == "subscribe"
        reply = await http_get(f"{sim.http_url}/api/v5/market/books?instId=BTC-USDT&sz=400")
        assert reply.status == 200
        [snapshot] = json.loads(reply.body)["data"]
        bids, asks = true_top(sim, "BTC-USDT", 400)
        assert [float(p) for p, *_ in snapshot["bids"]] == [float(p) for p in bids]
        assert [float(p) for p, *_ in snapshot["asks"]] == [float(p) for p in asks]
        updates = [m for m in await advanced(sim, client, 50) if "data" in m]
        assert updates and all(m["action"] == "update" for m in updates)
        first = updates[0]["data"][0]
        assert first["prevSeqId"] <= snapshot["seqId"] < first["seqId"]
        assert all("checksum" not in m["data"][0] for m in updates)
        for query, code in (("instId=XRP-USDT", "51001"), ("instId=BTC-USDT&sz=401", "51000")):
            reply = await http_get(f"{sim.http_url}/api/v5/market/books?{query}")
            assert json.loads(reply.body)["code"] == code


async def test_checksum_zero_sends_the_retired_field_as_zero() -> None:
    venue = OkxVenue(symbols=("BTC-USDT",), checksum="zero")
    async with SimulatedExchange(venue, rate=None, seed=5) as sim:
        client = await connect(sim.ws_url)
        subscribe(client, ("books", "BTC-USDT"))
        books = [m for m in await advanced(sim, client, 20) if "data" in m]
        assert books[0]["action"] == "snapshot" and len(books) > 1
        assert all(m["data"][0]["checksum"] == 0 for m in books)
