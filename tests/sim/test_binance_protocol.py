"""Binance wire protocol of the simulator: URL forms, live subscription requests and their
replies, payload shapes per stream and segment, limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import re

from picows import WSError, WSMsgType, ws_connect

from feedhandler.sim import BookUpdate, SimulatedExchange, Trade, create_venue
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import RawClient, connect, http_get

DECIMAL_8 = re.compile(r"^\d+\.\d{8}$")


async def test_subscribe_list_unsubscribe_round_trip(spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws")
    client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@depth@100ms"],
                      "id": 1})
    assert await client.next_json() == {"result": None, "id": 1}
    client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": "list2"})
    assert await client.next_json() == {"result": ["btcusdt@trade", "btcusdt@depth@100ms"],
                                        "id": "list2"}
    client.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade"], "id": 312})
    assert await client.next_json() == {"result": None, "id": 312}
    conn = spot.connections[0]
    assert list(conn.topics) == ["btcusdt@depth@100ms"]
    assert conn.received["subscribe"] == 1
    assert conn.received["unsubscribe"] == 1
    assert conn.received["list"] == 1
    assert conn.received["text"] == 3
    spot.advance(200)
    await asyncio.sleep(0.05)
    events = [json.loads(p)["e"] for p in client.drain()]
    assert events and set(events) == {"depthUpdate"}
    assert conn.frames_sent == 3 + len(events), "three replies, then the depth events"


async def test_bad_requests_get_binance_errors(spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws")
    assert client.transport is not None
    client.transport.send(WSMsgType.TEXT, b"{not json")
    reply = await client.next_json()
    assert reply["error"]["code"] == 3 and reply["error"]["msg"].startswith("Invalid JSON")
    client.send_json({"method": "SUBSCRIBEX", "params": [], "id": 2})
    reply = await client.next_json()
    assert reply["id"] == 2 and reply["error"]["code"] == 2
    assert "unknown variant `SUBSCRIBEX`" in reply["error"]["msg"]
    client.send_json({"params": ["btcusdt@trade"], "id": 3})
    assert (await client.next_json())["error"] == {
        "code": 2, "msg": "Invalid request: missing field `method`"}
    client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@nope"], "id": 4})
    assert await client.next_json() == {
        "error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 4}
    client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": {"nested": 1}})
    assert (await client.next_json())["error"]["msg"] == \
        "Invalid request: request ID must be an unsigned integer"
    await asyncio.sleep(1.05)  # stay under 5 messages per second
    client.send_json({"method": "SET_PROPERTY", "params": ["colour", True], "id": 6})
    assert await client.next_json() == {"error": {"code": 0, "msg": "Unknown property"}, "id": 6}
    client.send_json({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 7})
    assert (await client.next_json())["error"]["code"] == 1
    assert spot.connections[0].received["invalid"] == 4
    assert spot.connections[0].received["other"] == 2
    assert not client.disconnected.is_set()


async def test_usdm_request_ids_must_be_unsigned_integers(usdm: SimulatedExchange) -> None:
    client = await connect(usdm.ws_url + "/market/ws")
    client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": "abc"})
    reply = await client.next_json()
    assert reply["error"] == {"code": 2,
                              "msg": "Invalid request: request ID must be an unsigned integer"}
    client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 9})
    assert await client.next_json() == {"result": [], "id": 9}


async def test_raw_and_combined_stream_urls(spot: SimulatedExchange) -> None:
    raw = await connect(spot.ws_url + "/ws/btcusdt@trade")
    combined = await connect(spot.ws_url + "/stream?streams=btcusdt@trade/ethusdt@bookTicker")
    events = spot.advance(400)
    trades = [e for e in events if isinstance(e, Trade) and e.symbol == "BTCUSDT"]
    assert trades
    first_raw = await raw.next_json()
    assert first_raw["e"] == "trade" and first_raw["t"] == trades[0].trade_id
    seen = set()
    for _ in range(10):
        message = await combined.next_json()
        assert set(message) == {"stream", "data"}
        seen.add(message["stream"])
        if message["stream"] == "btcusdt@trade":
            assert message["data"]["s"] == "BTCUSDT"
        else:
            assert message["data"]["s"] == "ETHUSDT" and "b" in message["data"]
    assert seen <= {"btcusdt@trade", "ethusdt@bookTicker"}
    assert [c.topics.keys() for c in spot.connections] == \
        [{"btcusdt@trade": None}.keys(), {"btcusdt@trade": None, "ethusdt@bookTicker": None}.keys()]


async def test_set_property_combined_switches_wrapping(spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws/btcusdt@depth")
    client.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 1})
    assert await client.next_json() == {"result": False, "id": 1}
    client.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 2})
    assert await client.next_json() == {"result": None, "id": 2}
    spot.advance(50)
    message = await client.next_json()
    assert message["stream"] == "btcusdt@depth" and message["data"]["e"] == "depthUpdate"


async def test_unknown_paths_and_streams_are_refused(spot: SimulatedExchange) -> None:
    reply = await http_get(spot.http_url + "/nowhere")
    assert reply.status == 404
    for path, status in (("/ws/btcusdt@bogus", 400), ("/elsewhere", 404)):
        try:
            await ws_connect(RawClient, spot.ws_url + path)
        except WSError as exc:
            assert str(status) in str(exc)
        else:
            raise AssertionError(f"{path} was accepted")
    assert spot.connections == []


async def test_spot_payloads_have_binance_fields_and_8_decimals(spot: SimulatedExchange) -> None:
    streams = "/".join(["btcusdt@trade", "btcusdt@aggTrade", "btcusdt@depth",
                        "btcusdt@bookTicker", "btcusdt@kline_1s"])
    client = await connect(spot.ws_url + "/stream?streams=" + streams)
    spot.advance(1500)
    await asyncio.sleep(0.1)
    by_stream: dict[str, dict] = {}
    for payload in client.drain():
        message = json.loads(payload)
        by_stream.setdefault(message["stream"], message["data"])
    trade = by_stream["btcusdt@trade"]
    assert set(trade) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"}
    assert DECIMAL_8.match(trade["p"]) and DECIMAL_8.match(trade["q"])
    agg = by_stream["btcusdt@aggTrade"]
    assert set(agg) == {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"}
    depth = by_stream["btcusdt@depth"]
    assert set(depth) == {"e", "E", "s", "U", "u", "b", "a"}
    assert all(DECIMAL_8.match(p) and DECIMAL_8.match(q) for p, q in depth["b"] + depth["a"])
    ticker = by_stream["btcusdt@bookTicker"]
    assert set(ticker) == {"u", "s", "b", "B", "a", "A"}
    assert float(ticker["b"]) < float(ticker["a"])
    kline = by_stream["btcusdt@kline_1s"]
    assert kline["e"] == "kline" and kline["k"]["i"] == "1s"
    assert set(kline["k"]) == {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x",
                               "q", "V", "Q", "B"}
    assert kline["k"]["T"] == kline["k"]["t"] + 999


async def test_usdm_payloads_carry_pu_and_transaction_times(usdm: SimulatedExchange) -> None:
    public = await connect(usdm.ws_url + "/public/stream?streams=btcusdt@depth@100ms/"
                           "btcusdt@bookTicker")
    client = await connect(usdm.ws_url + "/market/stream?streams=btcusdt@aggTrade")
    events = usdm.advance(500)
    await asyncio.sleep(0.1)
    by_stream: dict[str, list[dict]] = {}
    for payload in public.drain() + client.drain():
        message = json.loads(payload)
        by_stream.setdefault(message["stream"], []).append(message["data"])
    depths = by_stream["btcusdt@depth@100ms"]
    assert set(depths[0]) == {"e", "E", "T", "s", "U", "u", "pu", "b", "a"}
    assert all(later["pu"] == earlier["u"] for earlier, later in itertools.pairwise(depths))
    assert any(d["U"] != d["pu"] + 1 for d in depths), "USD-M update ids should jump"
    assert len(depths) == sum(isinstance(e, BookUpdate) for e in events)
    assert set(by_stream["btcusdt@aggTrade"][0]) == {"e", "E", "s", "a", "p", "q", "f", "l",
                                                     "T", "m"}
    ticker = by_stream["btcusdt@bookTicker"][0]
    assert ticker["e"] == "bookTicker" and {"E", "T", "u"} <= set(ticker)
    assert re.match(r"^\d+\.\d$|^\d+\.\d{2}$", ticker["b"])
    client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
    assert (await client.reply_to(1))["error"]["code"] == 2, "USD-M has no @trade stream"


async def test_more_than_five_messages_a_second_disconnects_on_spot(
        spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws")
    for request_id in range(5):
        client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": request_id})
    for request_id in range(5):
        assert (await client.next_json())["id"] == request_id
    client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 5})
    await client.wait_disconnected()
    assert client.close_code == 1008
    assert spot.stats["rate_limit_disconnects"] == 1


async def test_usdm_allows_ten_messages_a_second(usdm: SimulatedExchange) -> None:
    client = await connect(usdm.ws_url + "/public/ws")
    for request_id in range(10):
        client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": request_id})
    for request_id in range(10):
        assert (await client.next_json())["id"] == request_id
    client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 10})
    await client.wait_disconnected()


async def test_at_most_1024_streams_per_connection() -> None:
    symbols = [f"SYM{index}USDT" for index in range(60)]
    venue = create_venue("binance", "spot", symbols)
    async with SimulatedExchange(venue, rate=None, keepalive=None, depth=5) as sim:
        client = await connect(sim.ws_url + "/ws")
        streams = [f"{symbol.lower()}@{kind}" for symbol in symbols
                   for kind in ("trade", "aggTrade", "depth", "depth@100ms", "bookTicker")]
        streams += [f"{symbol.lower()}@kline_{interval}" for symbol in symbols
                    for interval in ("1s", "1m", "5m", "1h", "1d")]
        assert len(streams) == 600
        client.send_json({"method": "SUBSCRIBE", "params": streams, "id": 1})
        assert await client.next_json() == {"result": None, "id": 1}
        more = [f"{symbol.lower()}@kline_{interval}" for symbol in symbols
                for interval in ("3m", "15m", "30m", "2h", "4h", "6h", "8h", "12h")]
        client.send_json({"method": "SUBSCRIBE", "params": more, "id": 2})
        reply = await client.next_json()
        assert reply["id"] == 2 and "too many streams" in reply["error"]["msg"]
        assert len(sim.connections[0].topics) == 600


async def test_same_seed_puts_the_same_bytes_on_the_wire() -> None:
    streams = "btcusdt@depth/btcusdt@trade/btcusdt@bookTicker/btcusdt@kline_1s"

    async def record(seed: int) -> list[bytes]:
        venue = create_venue("binance", "spot", ["BTCUSDT", "ETHUSDT"])
        async with SimulatedExchange(venue, seed=seed, rate=None, keepalive=None) as sim:
            client = await connect(sim.ws_url + "/stream?streams=" + streams)
            sim.advance(500)
            payloads = [await client.next_text() for _ in range(200)]
            return payloads

    first, again, other = await record(5), await record(5), await record(6)
    assert first == again
    assert first != other


async def refused(url: str) -> str:
    """The handshake error a URL the simulator does not serve gets."""
    try:
        await ws_connect(RawClient, url)
    except WSError as exc:
        return str(exc)
    raise AssertionError(f"{url} was accepted")


async def test_usdm_tiers_serve_only_their_streams(usdm: SimulatedExchange) -> None:
    market = await connect(usdm.ws_url + "/market/ws")
    market.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@kline_1m"],
                      "id": 1})
    assert await market.reply_to(1) == {"result": None, "id": 1}
    market.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 2})
    assert "not served on this endpoint" in (await market.reply_to(2))["error"]["msg"]
    public = await connect(usdm.ws_url + "/public/stream?streams=btcusdt@bookTicker")
    public.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 3})
    assert "not served on this endpoint" in (await public.reply_to(3))["error"]["msg"]
    assert "400" in await refused(usdm.ws_url + "/public/ws/btcusdt@aggTrade")
    for retired in ("/stream?streams=btcusdt@aggTrade", "/ws", "/ws/btcusdt@depth"):
        assert "404" in await refused(usdm.ws_url + retired)


async def test_legacy_usdm_serves_only_the_single_stream_url() -> None:
    venue = SimBinance("usdm", ["BTCUSDT"], protocol="legacy")
    async with SimulatedExchange(venue, rate=None) as legacy:
        client = await connect(legacy.ws_url + "/stream?streams=btcusdt@aggTrade/"
                               "btcusdt@depth@100ms")
        legacy.advance(100)
        await asyncio.sleep(0.05)
        assert {json.loads(p)["stream"] for p in client.drain()} == {
            "btcusdt@aggTrade", "btcusdt@depth@100ms"}
        for current in ("/public/stream?streams=btcusdt@bookTicker", "/market/ws"):
            assert "404" in await refused(legacy.ws_url + current)


async def test_server_shutdown_is_announced_raw_combined_and_on_the_ws_api(
        spot: SimulatedExchange) -> None:
    raw = await connect(spot.ws_url + "/ws/btcusdt@trade")
    combined = await connect(spot.ws_url + "/stream?streams=btcusdt@trade")
    assert spot.server_shutdown() == 2
    assert (await raw.next_json()).keys() == {"e", "E"}
    message = await combined.next_json()
    assert message["stream"] == "!serverShutdown" and message["data"]["e"] == "serverShutdown"
    assert not raw.disconnected.is_set() and spot.faults["server_shutdown"] == 2
