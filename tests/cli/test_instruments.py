"""``feedhandler instruments`` and ``--simulated`` on the network commands: the catalog as a
table or JSON, and run / record against the embedded simulators, with their exit codes."""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from feedhandler.exchanges.registry import venues

REPO = Path(__file__).resolve().parents[2]


async def feedhandler(*args: str, timeout: float = 60.0) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "feedhandler", *args, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(child.communicate(), timeout)
    assert child.returncode is not None
    return child.returncode, stdout.decode(), stderr.decode()


@pytest.mark.parametrize("name", [info.name for info in venues()])
async def test_instruments_json_from_the_simulator(name: str) -> None:
    code, out, err = await feedhandler("instruments", name, "--simulated", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert len(listed) >= 300
    for entry in listed:
        assert {"symbol", "venue_symbol", "base", "quote", "kind", "tick_size", "lot_size",
                "status"} <= entry.keys()
        assert Decimal(entry["tick_size"]) > 0 and "E" not in entry["tick_size"]
        assert Decimal(entry["lot_size"]) > 0 and "E" not in entry["lot_size"]
        assert entry["status"] in ("trading", "halted", "delisted")


async def test_instruments_search_and_table() -> None:
    code, out, err = await feedhandler("instruments", "kraken", "--simulated", "--search",
                                       "XBT/USD")
    assert code == 0, err
    assert "BTC-USD" in out and "BTC/USD" in out and "0.1" in out


async def test_instruments_of_an_unreachable_venue_without_cache_is_exit_1() -> None:
    code, _, err = await feedhandler("instruments", "okx", "--rest-url", "http://127.0.0.1:9")
    assert code == 1
    assert err.startswith("feedhandler instruments: error: okx: cannot load its instruments")


async def test_run_simulated_writes_every_instrument_asked_for() -> None:
    code, out, err = await feedhandler(
        "run", "--simulated", "--venue", "binance-usdm", "--symbol",
        "BTC-USDT-PERP,1000PEPE-USDT", "--channel", "trades", "--duration", "2")
    assert code == 0, err
    symbols = {json.loads(line)["symbol"] for line in out.splitlines()}
    assert symbols == {"BTC-USDT-PERP", "1000PEPE-USDT-PERP"}


async def test_record_simulated_and_its_unknown_symbol_exit_2(tmp_path: Path) -> None:
    code, _, err = await feedhandler("record", "--simulated", "--venues", "okx,htx",
                                     "--symbols", "BTC-USDT", "--duration", "1.5",
                                     "--out", str(tmp_path))
    assert code == 0, err
    assert list(tmp_path.glob("*.fhrec"))
    code, _, err = await feedhandler("record", "--simulated", "--venues", "okx",
                                     "--symbols", "BTC-USDTX", "--duration", "1",
                                     "--out", str(tmp_path / "x"))
    assert code == 2
    assert "okx lists no symbol 'BTC-USDTX'; closest: BTC-USDT" in err
