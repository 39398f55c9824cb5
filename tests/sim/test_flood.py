"""Flood mode: publish as fast as the client reads, batching ~1000 frames per write. The rate is
reported, not asserted; the stream must stay gap-free."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from picows import WSFrame, WSListener, WSTransport, ws_connect

from feedhandler.sim import FLOOD, SimulatedExchange, create_venue

REPO = Path(__file__).resolve().parents[2]
MEASURE_SECONDS = 1.5


class DepthCounter(WSListener):
    """Counts spot depth frames and checks that each one's U follows the previous u."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self.bytes = 0
        self.breaks = 0
        self._last_u: int | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        payload = frame.get_payload_as_bytes()
        self.frames += 1
        self.bytes += len(payload)
        first = int(payload[payload.index(b'"U":') + 4:payload.index(b',"u":')])
        last = int(payload[payload.index(b'"u":') + 4:payload.index(b',"b":')])
        if self._last_u is not None and first != self._last_u + 1:
            self.breaks += 1
        self._last_u = last


async def measure(url: str) -> tuple[float, DepthCounter]:
    _, counter = await ws_connect(DepthCounter, url)
    assert isinstance(counter, DepthCounter)
    await asyncio.sleep(0.3)
    frames, started = counter.frames, time.perf_counter()
    await asyncio.sleep(MEASURE_SECONDS)
    return (counter.frames - frames) / (time.perf_counter() - started), counter


async def test_in_process_flood_is_fast_and_gap_free(capsys: pytest.CaptureFixture[str]) -> None:
    venue = create_venue("binance", "spot", ["BTCUSDT"])
    async with SimulatedExchange(venue, rate=FLOOD, frames_per_write=1000, keepalive=None) as sim:
        rate, counter = await measure(sim.ws_url + "/ws/btcusdt@depth")
        published = sim.stats["events"]
    with capsys.disabled():
        print(f"\nflood, sim and client in one process: {rate:,.0f} depth frames/s "
              f"({published:,} events generated)")
    assert counter.frames > 1000
    assert counter.breaks == 0


async def test_standalone_flood_rate(capsys: pytest.CaptureFixture[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "feedhandler.sim", "binance", "--symbols", "BTCUSDT",
         "--rate", "max"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 15)
        match = re.search(r"ws=(\S+)", line)
        assert match, line
        rate, counter = await measure(match.group(1) + "/ws/btcusdt@depth")
    finally:
        process.terminate()
        process.wait(timeout=10)
    with capsys.disabled():
        print(f"\nflood, standalone sim process: {rate:,.0f} depth frames/s, "
              f"{counter.bytes / max(counter.frames, 1):.0f} bytes each")
    assert counter.frames > 1000
    assert counter.breaks == 0
