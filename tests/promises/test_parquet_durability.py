"""Promise: a Parquet row counts as written only once its file is complete and in place. A file
that cannot be written (a full disk: a real tmpfs of a few MB filled mid-run, and, where no
tmpfs can be mounted too, pyarrow's writes failing with ENOSPC) keeps its rows
and is retried, within the bound nothing is lost, past it the rows are counted lost; a
SIGKILLed ``feedhandler run`` leaves complete files holding everything older than the
durability window; readers (``pandas.read_parquet``, pyarrow datasets) never see a file in
progress nor a dead writer's leftover."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from feedhandler.exchanges.base import Channel
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until
from feedhandler.sinks.base import DURABILITY_WINDOW, RETRY_FOR, SinkRunner
from feedhandler.sinks.parquet import ParquetSink
from feedhandler.sinks.testing import SYMBOLS, subscribed_handler

REPO = Path(__file__).resolve().parents[2]
DISK_BYTES = 4 << 20
FULL_FOR = 1.5          # seconds the disk stays full
WRITTEN = re.compile(r"parquet: ([\d,]+) rows written")


class Disk:
    """A small disk to fill: a real tmpfs of a few MB (root), or pyarrow's file writes
    failing with ENOSPC while full, a partial file left behind as a full disk leaves one."""

    def __init__(self, path: Path, real: bool) -> None:
        self.path = path
        self.real = real
        self.full = False

    def fill(self) -> None:
        if self.real:
            fill(self.path)
        self.full = True

    def free(self) -> None:
        if self.real:
            (self.path / "filler").unlink()
        self.full = False


@pytest.fixture(params=["tmpfs", "injected"])
def small_disk(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if request.param == "injected":
        disk = Disk(mount, real=False)
        write_table = pq.write_table

        def failing_when_full(table: Any, where: Any, **options: Any) -> None:
            if disk.full:
                Path(where).write_bytes(b"PAR1")
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
            write_table(table, where, **options)

        monkeypatch.setattr(pq, "write_table", failing_when_full)
        yield disk
        return
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the injected disk runs instead)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs",
                              str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield Disk(mount, real=True)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    """Every free byte of ``disk`` taken by one file."""
    chunk = b"\0" * (64 << 10)
    with open(disk / "filler", "wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(chunk)
        while True:
            try:
                out.write(b"\0" * 512)
            except OSError as error:
                assert error.errno == errno.ENOSPC
                break


@pytest.fixture
async def exchange() -> AsyncIterator[SimulatedExchange]:
    venue = SimBinance("spot", symbols=list(SYMBOLS.values()))
    async with SimulatedExchange(venue, seed=23, rate=1500, trade_probability=0.6) as running:
        yield running


def produced_trades(reader: object) -> list[tuple[str, int]]:
    symbols = list(SYMBOLS)
    rows = []
    while reader.pending:    # type: ignore[attr-defined]
        batch = reader.read().copy()    # type: ignore[attr-defined]
        rows += [(symbols[i], int(t)) for i, t in zip(batch["instrument"], batch["trade_id"],
                                                       strict=True)]
    return rows


def trades_in_files(directory: Path) -> list[tuple[str, int]]:
    """Every trade in the complete files, read as a pyarrow dataset (which, like pandas,
    skips hidden files)."""
    folder = directory / "trades"
    if not folder.exists():
        return []
    table = ds.dataset(folder, format="parquet").to_table(columns=["symbol", "trade_id"])
    return list(zip(table["symbol"].to_pylist(), table["trade_id"].to_pylist(), strict=True))


async def run_through_a_full_disk(exchange: SimulatedExchange, disk: Disk,
                                  retry_for: float = RETRY_FOR) -> tuple[SinkRunner, list, list]:
    fh = subscribed_handler(exchange, channels=(Channel.TRADES,))
    produced = fh.trades.reader()
    sink = ParquetSink(disk.path / "data", durability_window=0.2, retry_base=0.02, retry_cap=0.1,
                       retry_for=retry_for)
    runner = SinkRunner(fh, sink, channels=(Channel.TRADES,))
    async with runner:
        async with fh:
            await until(lambda: sum(runner.stats.written.values()) >= 500)
            await asyncio.to_thread(disk.fill)
            failures = sink.stats()["failed_files"]
            await until(lambda: sink.stats()["failed_files"] >= failures + 3)
            await asyncio.sleep(FULL_FOR)
            disk.free()
            after = fh.trades.write_count
            await until(lambda: fh.trades.write_count >= after + 300)
        await until(lambda: runner.pending() == 0)
    return runner, produced_trades(produced), trades_in_files(disk.path / "data")


async def test_a_full_disk_within_the_bound_loses_nothing_and_written_is_on_disk(
        small_disk: Disk, exchange: SimulatedExchange) -> None:
    runner, produced, stored = await run_through_a_full_disk(exchange, small_disk)
    stats = runner.stats
    written = sum(stats.written.values())
    assert written == len(stored), f"{written:,} rows reported written, {len(stored):,} in files"
    assert len(set(stored)) == len(stored), "a row is in two files"
    assert set(stored) == set(produced), f"{len(set(produced) - set(stored)):,} rows missing"
    assert not stats.failed and not stats.dropped and stats.held() == 0
    assert stats.retried[Channel.TRADES] > 0
    assert not list((small_disk.path / "data").rglob("*.tmp")), "a failed file was left behind"


async def test_a_full_disk_past_the_bound_counts_rows_lost_never_written(
        small_disk: Disk, exchange: SimulatedExchange) -> None:
    runner, produced, stored = await run_through_a_full_disk(exchange, small_disk,
                                                             retry_for=0.3)
    stats = runner.stats
    written, failed = sum(stats.written.values()), sum(stats.failed.values())
    assert written == len(stored) == len(set(stored)), (written, len(stored))
    assert failed > 0 and stats.retried[Channel.TRADES] >= failed
    assert written + failed + sum(stats.dropped.values()) == len(produced)
    assert len(set(produced) - set(stored)) == failed, "every missing row is counted lost"
    assert stats.held() == 0
    assert pd.read_parquet(small_disk.path / "data" / "trades").shape[0] == written


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


async def test_readers_never_see_a_file_in_progress_nor_a_dead_writers_leftover(
        tmp_path: Path, exchange: SimulatedExchange) -> None:
    folder = tmp_path / "trades"
    folder.mkdir()
    dead = dead_pid()
    leftovers = [folder / f"20260101T000000Z-{dead}-1.parquet.tmp",        # zero bytes, visible
                 folder / f".20260101T000000Z-{dead}-2.parquet.tmp"]
    for leftover in leftovers:
        leftover.touch()
    failures: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def read_all_the_time() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                pd.read_parquet(folder)
                ds.dataset(folder, format="parquet").to_table()
                reads += 1
            except Exception as error:
                failures.append(error)
            time.sleep(0.005)

    fh = subscribed_handler(exchange, channels=(Channel.TRADES,))
    sink = ParquetSink(tmp_path, durability_window=0.05)
    runner = SinkRunner(fh, sink, channels=(Channel.TRADES,))
    reader = threading.Thread(target=read_all_the_time)
    async with runner, fh:
        await until(lambda: sum(runner.stats.written.values()) > 0)    # a first file is there
        reader.start()
        try:
            await until(lambda: sum(runner.stats.written.values()) >= 2000 and reads >= 20)
        finally:
            stop.set()
            await asyncio.to_thread(reader.join)
    assert not failures, f"{len(failures)} reads failed, e.g. {failures[0]!r}"
    assert not any(leftover.exists() for leftover in leftovers), "a dead writer's leftover"
    assert len(pd.read_parquet(folder)) == sum(runner.stats.written.values())


async def test_sigkill_leaves_complete_files_with_every_row_older_than_the_window(
        tmp_path: Path, exchange: SimulatedExchange) -> None:
    data = tmp_path / "data"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "feedhandler", "run", "--venue", "binance",
        "--symbol", ",".join(SYMBOLS), "--channel", "trades",
        "--endpoint", f"binance={exchange.ws_url},{exchange.http_url}",
        "--out", f"parquet:{data}", "--status-interval", "0.5", cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    reported = 0
    try:
        assert process.stderr is not None
        first_written_at = None
        while True:
            line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
            assert line, "feedhandler run ended by itself"
            if (found := WRITTEN.search(line)) is not None:
                reported = int(found.group(1).replace(",", ""))
                if reported and first_written_at is None:
                    first_written_at = time.monotonic()
                if first_written_at is not None and \
                        time.monotonic() - first_written_at >= 2 * DURABILITY_WINDOW:
                    break
        killed_at = time.time_ns()
        process.kill()
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    frame = pd.read_parquet(data / "trades")
    assert len(frame) >= reported > 0, f"{reported:,} rows reported written, " \
        f"{len(frame):,} in complete files"
    newest = frame["ts_receive"].max().value
    slack = 2_000_000_000       # the runner's wake-up and the file's write, under load
    assert newest >= killed_at - int(DURABILITY_WINDOW * 1e9) - slack, \
        f"the newest row on disk is {(killed_at - newest) / 1e9:.1f} s older than the kill"
    for symbol in SYMBOLS:
        ids = sorted(frame.loc[frame["symbol"] == symbol, "trade_id"])
        assert ids[-1] - ids[0] + 1 == len(ids), f"{symbol}: trades missing between files"
    sink = ParquetSink(data)     # the next start: the dead writer's leftovers go
    await sink.open([])
    await sink.close()
    assert not list(data.rglob("*.tmp"))
