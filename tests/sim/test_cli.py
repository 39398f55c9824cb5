"""``python -m feedhandler.sim`` starts, prints its URLs, serves, and exits on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

from feedhandler.sim.testing import connect, http_get

REPO = Path(__file__).resolve().parents[2]


async def test_standalone_sim_prints_urls_serves_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "feedhandler.sim", "binance", "--market", "usdm", "--port", "0",
         "--symbols", "BTCUSDT,ETHUSDT", "--rate", "500", "--seed", "3"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 15)
        match = re.fullmatch(r"binance usdm ws=(ws://127\.0\.0\.1:\d+) "
                             r"http=(http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        ws_url, http_url = match.groups()
        client = await connect(ws_url + "/public/stream?streams=ethusdt@depth")
        message = await client.next_json()
        assert message["stream"] == "ethusdt@depth" and "pu" in message["data"]
        snapshot = await http_get(http_url + "/fapi/v1/depth?symbol=ETHUSDT&limit=5")
        assert snapshot.status == 200 and len(json.loads(snapshot.body)["bids"]) == 5
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 10) == 0
        await client.wait_disconnected()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_unknown_venue_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, "-m", "feedhandler.sim", "nasdaq"], cwd=REPO,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "invalid choice" in result.stderr
