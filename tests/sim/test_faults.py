"""Every injected fault does what it says on the wire, and is counted."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from picows import WSCloseCode, WSMsgType, WSProtocolError

from feedhandler.sim import Keepalive, SimulatedExchange, UnsupportedFault, create_venue
from feedhandler.sim.testing import connect


async def test_drop_aborts_without_close_frame(spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws/btcusdt@depth")
    other = await connect(spot.ws_url + "/ws/btcusdt@depth")
    assert spot.drop(spot.connections[0]) == 1
    await client.wait_disconnected()
    assert client.close_code is None
    await asyncio.sleep(0.05)
    assert not other.disconnected.is_set()
    assert [conn.id for conn in spot.connections] == [2]
    assert spot.faults["drop"] == 1 and spot.history[0].faults["drop"] == 1


async def test_close_sends_code_and_reason_to_every_connection(spot: SimulatedExchange) -> None:
    clients = [await connect(spot.ws_url + "/ws") for _ in range(2)]
    assert spot.close(1013, "maintenance") == 2
    for client in clients:
        await client.wait_disconnected()
        assert (client.close_code, client.close_reason) == (1013, "maintenance")
    assert spot.faults["close"] == 2 and spot.connections == []


async def test_stall_holds_frames_then_delivers_them_in_order() -> None:
    venue = create_venue("binance", "spot", ["BTCUSDT"])
    async with SimulatedExchange(venue, rate=2000, keepalive=None) as sim:
        client = await connect(sim.ws_url + "/ws/btcusdt@depth")
        await client.next_text()
        arrivals: list[tuple[float, dict]] = []

        async def record(until: float) -> None:
            while time.monotonic() < until:
                try:
                    payload = await client.next_text(timeout=until - time.monotonic())
                except TimeoutError:
                    return
                arrivals.append((time.monotonic(), json.loads(payload)))

        client.drain()
        stalled_at = time.monotonic()
        sim.stall(0.5)
        await record(stalled_at + 0.9)
        during = [t for t, _ in arrivals if stalled_at + 0.05 < t < stalled_at + 0.45]
        assert during == [], "frames arrived while stalled"
        assert len(arrivals) > 50, "held frames and new ones must follow the stall"
        events = [message for _, message in arrivals]
        assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(events))
        assert sim.faults["stall"] == 1 and not client.disconnected.is_set()


@pytest.mark.parametrize(("market", "path"), [("spot", "/ws"), ("usdm", "/public/ws")])
async def test_gap_loses_the_next_depth_message(market: str, path: str) -> None:
    venue = create_venue("binance", market, ["BTCUSDT"])
    async with SimulatedExchange(venue, rate=None, keepalive=None) as sim:
        client = await connect(sim.ws_url + path + "/btcusdt@depth")
        witness = await connect(sim.ws_url + path + "/btcusdt@depth")
        sim.advance(20)
        await asyncio.sleep(0.05)
        before = [json.loads(p) for p in client.drain()]
        witness.drain()
        assert sim.gap("BTCUSDT", sim.connections[0]) == 1
        sim.advance(20)
        await asyncio.sleep(0.05)
        after = [json.loads(p) for p in client.drain()]
        complete = [json.loads(p) for p in witness.drain()]
        assert after == complete[1:], "exactly the first depth message after gap() is lost"
        lost, resumed = complete[0], after[0]
        if market == "spot":
            assert resumed["U"] != before[-1]["u"] + 1
            assert resumed["U"] == lost["u"] + 1
        else:
            assert resumed["pu"] != before[-1]["u"]
            assert resumed["pu"] == lost["u"]
        assert sim.faults["gap"] == 1


async def test_malformed_frame_is_not_json(spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws")
    spot.malformed()
    payload = await client.next_text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(payload)
    assert spot.faults["malformed"] == 1


async def test_oversize_frame_breaks_a_client_with_a_smaller_limit(
        spot: SimulatedExchange) -> None:
    roomy = await connect(spot.ws_url + "/ws", max_frame_size=1 << 20)
    spot.oversize(200_000, spot.connections[0])
    payload = await roomy.next_text()
    assert len(payload) == 200_000 and json.loads(payload)["pad"]
    strict = await connect(spot.ws_url + "/ws", max_frame_size=64 * 1024)
    spot.oversize(200_000, spot.connections[1])
    error = await strict.wait_disconnected()
    assert isinstance(error, WSProtocolError) and error.code is WSCloseCode.MESSAGE_TOO_BIG
    assert not roomy.disconnected.is_set()
    assert spot.faults["oversize"] == 2


async def test_refused_pings_get_no_pong(spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws")
    assert client.transport is not None
    client.transport.send_ping(b"first")
    assert await asyncio.wait_for(client.pongs.get(), 2) == b"first"
    spot.refuse_pings(True)
    client.transport.send_ping(b"second")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.pongs.get(), 0.5)
    spot.refuse_pings(False)
    client.transport.send_ping(b"third")
    assert await asyncio.wait_for(client.pongs.get(), 2) == b"third"
    assert spot.connections[0].received["ping"] == 3
    assert spot.faults["refuse_pings"] == 2


async def test_slow_handshake_delays_connecting_only_while_active(
        spot: SimulatedExchange) -> None:
    existing = await connect(spot.ws_url + "/ws/btcusdt@trade")
    spot.slow_handshake(0.6)
    started = time.monotonic()
    late = await connect(spot.ws_url + "/ws")
    delay = time.monotonic() - started
    assert delay >= 0.5
    started = time.monotonic()
    await connect(spot.ws_url + "/ws")
    assert time.monotonic() - started < 0.45
    spot.advance(100)
    assert await existing.next_json(), "connections accepted before keep streaming"
    assert not late.disconnected.is_set() and len(spot.connections) == 3
    assert spot.faults["slow_handshake"] == 1


async def test_reject_subscribe_answers_with_a_binance_error(spot: SimulatedExchange) -> None:
    client = await connect(spot.ws_url + "/ws")
    spot.reject_subscribe("Invalid request: simulated rejection")
    client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 5})
    assert await client.next_json() == {
        "error": {"code": 2, "msg": "Invalid request: simulated rejection"}, "id": 5}
    assert spot.connections[0].topics == {}
    client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 6})
    assert await client.next_json() == {"result": None, "id": 6}
    assert list(spot.connections[0].topics) == ["btcusdt@trade"]
    assert spot.faults["reject_subscribe"] == 1


async def test_binance_has_no_checksum_to_corrupt(spot: SimulatedExchange) -> None:
    with pytest.raises(UnsupportedFault):
        spot.corrupt_checksum("BTCUSDT")
    assert spot.faults["corrupt_checksum"] == 0


async def test_server_pings_and_drops_clients_that_do_not_pong() -> None:
    venue = create_venue("binance", "spot", ["BTCUSDT"])
    keepalive = Keepalive(interval=0.2, timeout=0.6, pong_must_echo=True)
    async with SimulatedExchange(venue, rate=None, keepalive=keepalive) as sim:
        polite = await connect(sim.ws_url + "/ws")
        silent = await connect(sim.ws_url + "/ws", enable_auto_pong=False)
        assert silent.transport is not None
        silent.transport.send(WSMsgType.PONG, b"unsolicited")
        await silent.wait_disconnected(timeout=3)
        assert silent.close_code == 1008
        await asyncio.sleep(0.5)
        assert not polite.disconnected.is_set()
        assert silent.pings, "the server pings"
        assert sim.history[0].received["pong"] >= 4, "auto-pong answered every ping"
        assert sim.stats["pong_timeouts"] == 1
