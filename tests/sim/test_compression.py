"""``Venue.compression = "gzip"``: every server frame, faults included, goes out as gzip'd
BINARY carrying exactly what the uncompressed venue would send as TEXT."""

from __future__ import annotations

import asyncio
import json

from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue
from feedhandler.sim.testing import RawClient, connect


class GzipBinance(BinanceVenue):
    compression = "gzip"


async def depth_stream(venue: BinanceVenue) -> tuple[RawClient, list[bytes]]:
    async with SimulatedExchange(venue, seed=5, rate=None, keepalive=None) as sim:
        client = await connect(sim.ws_url + "/ws/btcusdt@depth")
        await asyncio.sleep(0.05)
        sim.advance(40)
        messages = [await client.next_text() for _ in range(20)]
        return client, messages


async def test_gzip_frames_carry_the_same_messages_as_text_frames() -> None:
    plain, plain_messages = await depth_stream(BinanceVenue(symbols=("BTCUSDT",)))
    zipped, zipped_messages = await depth_stream(GzipBinance(symbols=("BTCUSDT",)))
    assert plain.binary_frames == 0
    assert zipped.binary_frames >= 20
    assert zipped_messages == plain_messages
    assert json.loads(zipped_messages[0])["e"] == "depthUpdate"


async def test_faults_and_replies_are_compressed_too() -> None:
    async with SimulatedExchange(GzipBinance(symbols=("BTCUSDT",)), rate=None,
                                 keepalive=None) as sim:
        client = await connect(sim.ws_url + "/ws")
        client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        assert await client.next_json() == {"result": None, "id": 1}
        sim.malformed()
        assert await client.next_text() == sim.venue.render_malformed()
        sent_before = sim.connections[0].bytes_sent
        sim.oversize(200_000)
        assert len(await client.next_text()) == 200_000
        assert sim.connections[0].bytes_sent - sent_before < 10_000, "sent compressed"
        assert client.binary_frames == 3
