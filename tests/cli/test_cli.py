"""The ``feedhandler`` command line: the demo piped end to end, ``venues``, usage errors."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from feedhandler.cli import main
from feedhandler.cli.demo import LISTED, compare_book
from feedhandler.core.book import OrderBook
from feedhandler.exchanges import venues
from feedhandler.sim import SimulatedExchange, create_venue

REPO = Path(__file__).resolve().parents[2]
STATUS_LINE = re.compile(r"^\s+\d+\.\ds  msgs/s [\d,]+  trades/s [\d,]+  books live \d+/\d+  ")


def feedhandler(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m feedhandler ARGS`` with stdout a pipe, as in CI."""
    return subprocess.run([sys.executable, "-m", "feedhandler", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def table_rows(stdout: str, title: str, key_columns: int = 1) -> dict[str, dict[str, str]]:
    """A plain table, by its first ``key_columns`` cells: {key: {column: cell}}."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    header = re.split(r"\s{2,}", lines[start + 1].strip())
    rows = {}
    for line in lines[start + 2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(header):
            break
        rows[" ".join(cells[:key_columns])] = dict(zip(header, cells, strict=True))
    return rows


def summary_rows(stdout: str) -> dict[str, dict[str, str]]:
    """The plain summary table, by venue: {venue: {column: cell}}."""
    return table_rows(stdout, "summary:")


def test_demo_piped_prints_status_lines_and_a_summary_with_every_book_right() -> None:
    # a modest rate: the test is about faults and books, not throughput, on a shared CI core
    result = feedhandler("demo", "--duration", "3", "--rate", "300", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert len([line for line in out.splitlines() if STATUS_LINE.match(line)]) >= 2, out
    assert "\x1b[" not in out, "a pipe gets no terminal escapes"
    # the faults happened and were recovered from
    assert "fault: book message lost" in out and "fault: dropped connection" in out
    assert re.search(r"book INVALID: .*\n(.*\n)*.*book resynced", out)
    assert "reconnected" in out
    rows = summary_rows(out)
    names = [info.name for info in venues()]
    assert set(names) <= rows.keys()
    for name in names:
        row = rows[name]
        for column in ("messages", "trades", "book updates"):
            assert int(row[column].replace(",", "")) > 0, (name, row)
        assert int(row["reconnects"]) >= 1 and int(row["resyncs"]) >= 1, (name, row)
        assert row["wrong books"] == "0", (name, row)
    books = (2 + LISTED) * len(names)     # the two default symbols and the catalog's own
    assert f"wrong books: 0 of {books} compared with the simulator's true book" in out
    # the metrics read-out (fh.metrics()) agrees with the demo's own counting
    metrics = table_rows(out, "metrics: latency receive → callback", key_columns=2)
    for name in names:
        total, book = metrics[f"{name} all"], metrics[f"{name} book"]
        assert total["messages"] == rows[name]["messages"], (name, total, rows[name])
        assert total["reconnects"] == rows[name]["reconnects"], (name, total)
        assert total["resyncs"] == book["resyncs"] == rows[name]["resyncs"], (name, total)
        assert int(book["gaps"]) + int(book["checksum"]) >= 1, (name, book)
        assert total["p50"] != "-" and int(metrics[f"{name} trades"]["messages"]) > 0


def test_venues_lists_the_registry() -> None:
    result = feedhandler("venues", timeout=30)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines()[2:]}
    assert "binance" in listed
    assert listed == {info.name for info in venues()}
    assert "REST snapshot" in result.stdout
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert "orders, balance, positions" in rows["binance-usdm"]
    assert "orders, balance, positions" not in rows["binance"]


def test_the_console_script_entry_point_runs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["venues"]) == 0
    assert "binance-usdm" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    ([], "the following arguments are required: COMMAND"),
    (["trade"], "invalid choice: 'trade'"),
    (["demo", "--duration", "0"], "argument --duration: must be a positive number, got '0'"),
    (["demo", "--duration", "soon"], "argument --duration: 'soon' is not a number"),
    (["demo", "--rate", "-5"], "argument --rate: must be a positive number"),
    (["demo", "--symbols", "BTC USDT"], "'BTC USDT' is not a symbol such as BTC-USDT"),
    (["demo", "--symbols", "BTC-USDT,btc-usdt"], "a symbol is listed twice"),
    (["demo", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (["demo", "--metrics-port", "70000"], "'70000' is not a TCP port (0-65535)"),
    (["venues", "--all"], "unrecognized arguments: --all"),
])
def test_bad_arguments_exit_2_with_a_clear_message(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("usage: feedhandler") and message in stderr, stderr


def test_a_usage_error_exits_2_from_the_command_line_too() -> None:
    result = feedhandler("demo", "--rate", "fast", timeout=30)
    assert result.returncode == 2
    assert "feedhandler demo: error: argument --rate: 'fast' is not a number" in result.stderr
    assert result.stdout == ""


def book_as_the_simulator_has_it(exchange: SimulatedExchange, symbol: str,
                                 depth: int = 0) -> OrderBook:
    """A FeedHandler-style book (8 decimals) holding the simulator's true book (its best
    ``depth`` levels when ``depth``), not yet marked valid."""
    spec = exchange.market.instrument(symbol)
    bids, asks = exchange.market.book(symbol).snapshot().top(depth or None)
    price_unit = spec.tick_units * 10 ** (8 - spec.price_decimals)
    size_unit = spec.lot_units * 10 ** (8 - spec.size_decimals)
    book = OrderBook(price_scale=8, size_scale=8, depth_limit=depth)
    book.replace([p * price_unit for p, _ in bids], [s * size_unit for _, s in bids],
                 [p * price_unit for p, _ in asks], [s * size_unit for _, s in asks])
    return book


def test_the_book_check_catches_a_book_that_differs_from_the_simulator() -> None:
    """The demo's "0 wrong books" means something only if a wrong book would be counted."""
    exchange = SimulatedExchange(create_venue("binance", "spot", ["BTCUSDT"]))
    book = book_as_the_simulator_has_it(exchange, "BTCUSDT")
    assert compare_book(book, exchange, "BTCUSDT") == "not live at the end of the run"
    book.valid = True
    assert compare_book(book, exchange, "BTCUSDT") == ""
    best = book.best_bid()
    assert best is not None
    book.apply_delta(0, best[0], best[1] + 1)
    assert compare_book(book, exchange, "BTCUSDT") == f"1 of {len(book.levels(0)[0])} bids differ"


def test_a_book_that_keeps_the_best_levels_only_is_checked_on_those() -> None:
    """Venues such as Kraken keep a book of the best N levels; the check compares those."""
    exchange = SimulatedExchange(create_venue("binance", "spot", ["ETHUSDT"]))
    book = book_as_the_simulator_has_it(exchange, "ETHUSDT", depth=10)
    book.valid = True
    assert compare_book(book, exchange, "ETHUSDT") == ""
    prices, _ = book.levels(1)
    book.apply_delta(1, int(max(prices)), 0)
    assert compare_book(book, exchange, "ETHUSDT") == "1 of 10 asks differ"


def test_the_demo_serves_prometheus_metrics_while_it_runs() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "feedhandler", "demo", "--duration", "4", "--rate", "200",
         "--no-faults", "--metrics-port", "0"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            if match := re.search(r"metrics served at (http://127\.0\.0\.1:\d+/metrics)", line):
                url = match.group(1)
                break
        assert url, "the demo did not say where its metrics are"
        text = ""
        deadline = time.monotonic() + 20
        while 'feedhandler_messages_total{venue="binance"' not in text:
            assert time.monotonic() < deadline, text[:2000]
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = response.read().decode()
            time.sleep(0.2)
        families = {family.name: family for family in text_string_to_metric_families(text)}
        labelled = {sample.labels["venue"] for sample in families["feedhandler_messages"].samples}
        assert labelled == {info.name for info in venues()}
        process.stdout.read()
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        process.wait()


def test_a_busy_metrics_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = feedhandler("demo", "--duration", "1", "--metrics-port", str(port), timeout=60)
    assert result.returncode == 1
    assert f"feedhandler demo: error: metrics endpoint: cannot listen on 127.0.0.1:{port}" \
        in result.stderr, result.stderr
