"""``feedhandler run``: bad flags and configs exit 2 naming what is wrong; against a simulator it
writes exact JSON lines to stdout and exits 0; failures while running exit 1."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from feedhandler.cli import main
from feedhandler.instruments import load_instruments
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--venue", "binance", "--symbol", "BTC-USDT", "--channel", "trade"],
     "argument --channel: 'trade' is not a channel (trades, ticker, ohlcv, book)"),
    (["run", "--venue", "binance", "--symbol", "BTC-USDT", "--channel", "orders"],
     "argument --channel: 'orders' is not a channel (trades, ticker, ohlcv, book)"),
    (["run", "--venue", "binance", "--symbol", "BTC//USDT"],
     "argument --symbol: 'BTC//USDT' is not a symbol"),
    (["run", "--endpoint", "binance"], "argument --endpoint: 'binance' is not VENUE=WS_URL"),
    (["run", "--duration", "0"], "argument --duration: must be a positive number"),
    (["run", "--book-depth", "0"], "argument --book-depth: must be at least 1"),
])
def test_bad_flags_exit_2_from_argparse(argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("usage: feedhandler run") and message in stderr, stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["run"], "nothing to subscribe to: give --venue and --symbol, or --config"),
    (["run", "--venue", "binance"], "--venue needs at least one --symbol"),
    (["run", "--symbol", "BTC-USDT"], "--symbol needs --venue"),
    (["run", "--venue", "nope", "--symbol", "BTC-USDT"],
     "subscription 1 (nope): unknown exchange 'nope'; known: binance"),
    (["run", "--venue", "binance", "--symbol", "BTC-USDT", "--timeframe", "7m"],
     "subscription 1 (binance): binance has no '7m' candles"),
    (["run", "--venue", "htx", "--symbol", "BTC-USDT", "--channel", "book", "--depth", "401"],
     "subscription 1 (htx): htx has no book of depth 401: its native depths are 5, 20, 150, "
     "400"),
    (["run", "--venue", "binance", "--symbol", "BTC-USDT", "--out", "ftp://x"],
     "--out 'ftp://x': expected stdout, redis://HOST:PORT[/DB] or parquet:DIR"),
    (["run", "--venue", "binance", "--symbol", "BTC-USDT", "--out", "parquet:"],
     "--out 'parquet:': expected"),
    (["run", "--config", "/nonexistent/feed.toml"],
     "cannot read config /nonexistent/feed.toml: No such file or directory"),
])
def test_bad_plans_exit_2_naming_the_problem(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("feedhandler run: error: ") and message in stderr, stderr


@pytest.mark.parametrize(("config", "message"), [
    ('out = "stdout"\n[[subscribe]]\nvenue = "binance"\nsymbols = ["BTC-USDT"]\nchanels = []\n',
     "subscribe[0].chanels: unknown key (expected one of channels, depth, symbols, timeframe, "
     "venue)"),
    ('[[subscribe]]\nsymbols = ["BTC-USDT"]\n', "subscribe[0].venue: missing"),
    ('[[subscribe]]\nvenue = "binance"\nsymbols = "BTC-USDT"\n',
     "subscribe[0].symbols: must be a non-empty list"),
    ('[[subscribe]]\nvenue = "binance"\nsymbols = ["BTC-USDT"]\nchannels = ["trades", "x"]\n',
     "subscribe[0].channels: 'x' is not a channel"),
    ('[[subscribe]]\nvenue = "binance"\nsymbols = ["BTC-USDT"]\ndepth = "deep"\n',
     "subscribe[0].depth: must be a whole number, got 'deep'"),
    ('duration = -1\n', "duration: must be a positive number, got -1"),
    ('duraton = 5\n', "duraton: unknown key"),
    ('[redis]\nmax_len = 5\n',
     "redis.max_len: unknown key (expected one of cluster, maxlen, prefix)"),
    ('[endpoints.binance]\nws = "ws://127.0.0.1:1"\n', "endpoints.binance.ws: unknown key"),
    ('[redis]\nmaxlen = "many"\n', "redis.maxlen: must be a whole number, got 'many'"),
    ('[redis]\nmaxlen = 0\n', "redis.maxlen: must be at least 1, got 0"),
    ('[redis]\ncluster = "yes"\n', "redis.cluster: must be true or false, got 'yes'"),
    ('durability_window = 0\n', "durability_window: must be a positive number"),
    ('retry_for = -1\n', "retry_for: must be a number >= 0, got -1"),
    ('[[subscribe]\n', "not valid TOML"),
])
def test_bad_config_files_exit_2_naming_the_key(config: str, message: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "feed.toml"
    path.write_text(config)
    assert main(["run", "--config", str(path)]) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith(f"feedhandler run: error: {path}: ") or \
        stderr.startswith("feedhandler run: error: endpoints."), stderr
    assert message in stderr, stderr


async def feedhandler_run(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "feedhandler", "run", *args, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_run_writes_exact_json_lines_from_a_simulator_and_exits_0() -> None:
    venue = SimBinance("spot", symbols=["BTCUSDT", "ETHUSDT"])
    async with SimulatedExchange(venue, seed=2, rate=300) as exchange:
        code, out, err = await feedhandler_run(
            "--venue", "binance", "--symbol", "BTC-USDT,ETH-USDT", "--endpoint",
            f"binance={exchange.ws_url},{exchange.http_url}", "--duration", "2.5",
            "--status-interval", "1", "--book-depth", "3", "--book-interval", "0.2")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    channels = {(row["channel"], row["symbol"]) for row in rows}
    assert channels == {(c, s) for c in ("trades", "ticker", "ohlcv", "book")
                        for s in ("BTC-USDT", "ETH-USDT")}
    trades = [row for row in rows if row["channel"] == "trades"]
    assert all(Decimal(row["price"]) > 0 and Decimal(row["size"]) > 0 for row in trades)
    assert all(isinstance(row["price"], str) and "e" not in row["price"].lower()
               for row in trades), "prices are exact decimal strings"
    assert len({(row["symbol"], row["trade_id"]) for row in trades}) == len(trades)
    books = [row for row in rows if row["channel"] == "book"]
    assert all(1 <= len(row["bids"]) <= 3 and Decimal(row["bids"][0][0]) <
               Decimal(row["asks"][0][0]) for row in books)
    assert "feedhandler run: 8 subscriptions, writing to stdout" in err
    assert "connections 1/1" in err
    assert f"stdout: {len(rows):,} rows written, 0 dropped, 0 failed" in err


async def cached_catalog() -> str:
    """The REST URL of a simulated Binance, gone now, whose instruments are cached fresh."""
    async with SimulatedExchange(SimBinance("spot", symbols=["BTCUSDT"])) as exchange:
        await load_instruments("binance", endpoints={"rest_url": exchange.http_url})
        return exchange.http_url


async def test_a_venue_that_never_connects_exits_1() -> None:
    rest_url = await cached_catalog()
    code, out, err = await feedhandler_run(
        "--venue", "binance", "--symbol", "BTC-USDT", "--channel", "trades", "--endpoint",
        f"binance=ws://127.0.0.1:1,{rest_url}", "--duration", "1")
    assert code == 1 and out == ""
    assert "feedhandler run: error: binance never connected: " in err, err


@pytest.mark.parametrize("cached", [True, False], ids=["catalog cached", "catalog at start"])
async def test_an_unlisted_symbol_exits_2_naming_it_and_the_closest(cached: bool) -> None:
    venue = SimBinance("spot", symbols=["BTCUSDT"])
    async with SimulatedExchange(venue, seed=2, rate=300) as exchange:
        if cached:
            await load_instruments("binance", endpoints={"rest_url": exchange.http_url})
        code, out, err = await feedhandler_run(
            "--venue", "binance", "--symbol", "BTC-USDT,BTCC-USDT", "--endpoint",
            f"binance={exchange.ws_url},{exchange.http_url}", "--duration", "5")
        assert not exchange.connections
    assert code == 2 and out == "", err
    assert "binance lists no symbol 'BTCC-USDT'; closest: BTC-USDT" in err, err


async def test_a_run_whose_every_subscription_is_refused_exits_1() -> None:
    venue = SimBinance("spot", symbols=["BTCUSDT"])
    async with SimulatedExchange(venue, seed=2, rate=300) as exchange:
        unserved = next(f"{listing.base}-{listing.quote}" for listing in venue.catalog
                        if not listing.traded and listing.status == "trading")
        code, _, err = await feedhandler_run(
            "--venue", "binance", "--symbol", unserved, "--channel", "book", "--endpoint",
            f"binance={exchange.ws_url},{exchange.http_url}", "--duration", "3")
    assert code == 1, err
    assert "feedhandler run: error: every subscription was refused: " in err, err


async def test_an_unreachable_redis_exits_1_without_its_password() -> None:
    code, _, err = await feedhandler_run(
        "--venue", "binance", "--symbol", "BTC-USDT", "--out",
        "redis://:hunter2@127.0.0.1:1/0", "--duration", "1")
    assert code == 1
    assert "feedhandler run: error: --out redis://:***@127.0.0.1:1/0: cannot open: " in err, err
    assert "hunter2" not in err


async def test_a_reader_closing_stdout_stops_the_run_quietly() -> None:
    """``feedhandler run | head -1``: the run ends when head does, exit 0, no traceback."""
    venue = SimBinance("spot", symbols=["BTCUSDT"])
    async with SimulatedExchange(venue, seed=2, rate=300) as exchange:
        command = " ".join(shlex.quote(part) for part in (
            sys.executable, "-m", "feedhandler", "run", "--venue", "binance", "--symbol",
            "BTC-USDT", "--endpoint", f"binance={exchange.ws_url},{exchange.http_url}",
            "--duration", "30"))
        process = await asyncio.create_subprocess_exec(
            "bash", "-c", f"{command} | head -1; exit ${{PIPESTATUS[0]}}", cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert json.loads(out)["venue"] == "binance"
    assert "feedhandler run: stopped: stdout was closed by its reader" in err.decode()
    assert "Traceback" not in err.decode()
