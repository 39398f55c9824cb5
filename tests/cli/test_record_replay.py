"""``feedhandler record`` against simulators on 127.0.0.1, then ``feedhandler replay`` of what
it wrote; their errors and exit statuses."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from feedhandler.instruments import load_instruments
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.testing import pumping

REPO = Path(__file__).resolve().parents[2]


async def feedhandler(*args: str, timeout: float = 60.0) -> tuple[int, str, str]:
    """``python -m feedhandler ARGS`` as a child process, without blocking the simulators."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "feedhandler", *args, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(child.communicate(), timeout)
    assert child.returncode is not None
    return child.returncode, stdout.decode(), stderr.decode()


async def test_record_then_replay_through_the_command_line(tmp_path: Path) -> None:
    binance = SimulatedExchange(create_venue("binance", "spot", ["BTCUSDT"]), seed=1, rate=None)
    htx = SimulatedExchange(create_venue("htx", "spot", ["btcusdt"]), seed=2, rate=None)
    async with binance, htx, pumping(binance, 2, 0.01), pumping(htx, 2, 0.01):
        status, out, err = await feedhandler(
            "record", "--venues", "binance,htx", "--symbols", "BTC-USDT",
            "--endpoint", f"binance={binance.ws_url},{binance.http_url}",
            "--endpoint", f"htx={htx.ws_url},{htx.http_url}", "--duration", "3",
            "--out", str(tmp_path),
            "--rotate-mb", "0.05")
    assert status == 0, err
    recorded = int(re.search(r"^([\d,]+) messages,", out, re.M).group(1).replace(",", ""))
    files = sorted(tmp_path.glob("*.fhrec"))
    assert recorded > 0 and len(files) >= 1 and all(str(f) in out for f in files)

    status, out, err = await feedhandler("replay", str(tmp_path))
    assert status == 0, err
    replayed = int(re.search(r"^([\d,]+) messages from", out, re.M).group(1).replace(",", ""))
    assert replayed == recorded
    rows = {tuple(line.split()[:2]): line.split() for line in out.splitlines()
            if line.startswith(("binance ", "htx "))}
    assert set(rows) == {("binance", "BTC-USDT"), ("htx", "BTC-USDT")}
    for cells in rows.values():
        assert int(cells[2].replace(",", "")) > 0          # trades came back
        assert float(cells[6]) < float(cells[7])           # the final book: bid below ask

    # paced (50x real time) with the progress bar asked for in a pipe: same result
    status, paced, err = await feedhandler("replay", *map(str, files), "--speed", "50",
                                           "--progress")
    assert status == 0, err
    table = [line for line in out.splitlines() if line.startswith(("binance ", "htx "))]
    assert table == [line for line in paced.splitlines()
                     if line.startswith(("binance ", "htx "))]


async def test_replay_of_a_corrupt_file_names_it_and_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "bad.fhrec"
    path.write_bytes(b"FHREC\r\n\x1a" + b"\x01\x00\x00\x00\xff\xff\xff\x7f")
    status, _, err = await feedhandler("replay", str(path))
    assert status == 1
    assert err.startswith(f"feedhandler replay: error: {path}: at byte 12: header length")
    status, _, err = await feedhandler("replay", str(tmp_path / "missing.fhrec"))
    assert status == 1 and "missing.fhrec: at byte 0: no such file" in err


@pytest.mark.parametrize("args, status, message", [
    (("record", "--venues", "nowhere"), 1, "unknown exchange 'nowhere'"),
    (("record", "--channels", "book,quotes"), 2, "'quotes' is not a channel"),
    (("record", "--endpoint", "binance=http://x"), 2, "is not VENUE=WS_URL"),
    (("record", "--venues", "kraken", "--endpoint", "binance=ws://127.0.0.1:1"), 1,
     "--endpoint for binance, which is not among --venues"),
    (("replay", "x.fhrec", "--speed", "0"), 2, "must be a positive number"),
])
async def test_usage_errors_say_what_is_wrong(args: tuple[str, ...], status: int,
                                              message: str) -> None:
    got, _, err = await feedhandler(*args)
    assert got == status and message in err, err


async def test_nothing_received_is_a_failure(tmp_path: Path) -> None:
    async with SimulatedExchange(create_venue("binance", "spot")) as binance:
        rest_url = binance.http_url     # its instruments cached fresh; then it is gone
        await load_instruments("binance", endpoints={"rest_url": rest_url})
    status, _, err = await feedhandler("record", "--endpoint",
                                       f"binance=ws://127.0.0.1:9,{rest_url}",
                                       "--duration", "1", "--out", str(tmp_path))
    assert status == 1 and "nothing was received" in err
