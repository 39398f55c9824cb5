"""Replay throughput: msg/s and ns/msg through the listeners and decoders, per venue.

Without arguments, one recording per venue is made first: a FeedHandler subscribed to every
channel of BTC-USDT records a simulator on 127.0.0.1 until ``--messages`` messages are in.
Each recording is then replayed (best of ``--repeat``) three ways, in the same run:

- ``zstd read``: the baseline, reading and decompressing the files alone;
- ``replay``: ``Replay(deliver=False)``, every message through its connection's FeedListener
  (inflate for HTX, simdjson decode, sequence and checksum checks, books, rings), REST
  snapshots and sync steps where they were recorded; no FeedHandler delivery;
- ``+delivery``: the same with the FeedHandler's per-read delivery (no callbacks subscribed:
  the cost of turning the rows of each read into columns);
- ``record``: what recording those messages costs the live path (pack, buffer, zstd, write).

A figure is printed only if the replayed books equal the recorded run's books, level by level.
Given recordings (files or directories) are measured as one row each instead.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import uvloop

from feedhandler import RINGS_ONLY, FeedHandler
from feedhandler.cli.demo import endpoint_options
from feedhandler.exchanges.registry import VenueInfo, venues
from feedhandler.record import Recorder, Replay
from feedhandler.record.format import RECORD_HEAD, Kind
from feedhandler.record.reader import RecordingFile, recording_files
from feedhandler.sim import VENUES as SIMULATORS
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.testing import until

SYMBOL = "BTC-USDT"
Levels = dict[str, tuple[list[int], ...]]


def book_levels(book: object) -> tuple[list[int], ...]:
    bids, asks = book.levels(0), book.levels(1)  # type: ignore[attr-defined]
    return (bids[0].tolist(), bids[1].tolist(), asks[0].tolist(), asks[1].tolist())


async def make_recording(info: VenueInfo, directory: Path, messages: int,
                         seed: int) -> Levels:
    """Records ``info``'s simulator into ``directory``; returns the final books' levels."""
    adapter = info.create()
    await adapter.close()
    simulator = create_venue(adapter.name, adapter.market, [adapter.venue_symbol(SYMBOL)])
    async with SimulatedExchange(simulator, seed=seed, rate=None) as exchange:
        recorder = Recorder(directory)
        fh = FeedHandler(endpoints={info.name: endpoint_options(info, exchange)},
                         recorder=recorder, ring_capacity=1 << 20)
        fh.subscribe_order_book(info.name, SYMBOL, lambda update: None)   # fh.book needs one
        fh.subscribe_trades(info.name, SYMBOL, RINGS_ONLY)
        fh.subscribe_ticker(info.name, SYMBOL, RINGS_ONLY)
        timeframe = "1m" if "1m" in info.timeframes else info.timeframes[0]
        fh.subscribe_ohlcv(info.name, SYMBOL, timeframe, RINGS_ONLY)
        async with fh:
            def live() -> bool:
                exchange.advance(1)
                return fh.book(info.name, SYMBOL).valid

            await until(live, timeout=30.0)
            book = fh.book(info.name, SYMBOL)
            while recorder.frames < messages:
                exchange.advance(10)
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.2)             # let the last frames arrive
        return {info.name: book_levels(book)}


def zstd_read(paths: list[Path]) -> float:
    """Seconds to read and decompress every block: the floor under any replay."""
    started = time.perf_counter()
    for index, path in enumerate(paths):
        with RecordingFile(path) as recording:
            for _block in recording.blocks(allow_cut=index == len(paths) - 1):
                pass
    return time.perf_counter() - started


def record_cost(paths: list[Path], scratch: Path) -> float:
    """Seconds to record the recording's messages again (pack, buffer, zstd, write): what a
    Recorder adds to the live path per message."""
    payloads = []
    for index, path in enumerate(paths):
        with RecordingFile(path) as recording:
            for block in recording.blocks(allow_cut=index == len(paths) - 1):
                position = 0
                while position < len(block.data):
                    head = recording.check_record(block, position)
                    if head is None:
                        break
                    start = position + RECORD_HEAD.size
                    if head[0] == Kind.FRAME:
                        payloads.append(block.data[start:start + head[3]])
                    position = start + head[3]
    recorder = Recorder(scratch)
    started = time.perf_counter()
    for payload in payloads:
        recorder.write(Kind.FRAME, 0, 0, 0, payload)
    recorder.close()
    return time.perf_counter() - started


def replay_once(paths: list[Path], deliver: bool) -> tuple[float, int, Replay]:
    replay = Replay(paths, deliver=deliver)
    stats = replay.run()
    return stats.seconds, stats.frames, replay


def measure(label: str, paths: list[Path], expected: Levels | None, repeat: int,
            scratch: Path) -> list[str]:
    read = min(zstd_read(paths) for _ in range(repeat))
    record = min(record_cost(paths, scratch / f"{label}-{i}") for i in range(repeat))
    runs = [replay_once(paths, False) for _ in range(repeat)]
    seconds, frames, replay = min(runs, key=lambda run: run[0])
    delivered = min(replay_once(paths, True)[0] for _ in range(repeat))
    problem = ""
    for name, levels in (expected or {}).items():
        try:
            if book_levels(replay.book(name, SYMBOL)) != levels:
                problem = f"{name} book differs from the recorded run's"
        except KeyError:
            problem = f"no {name} book in the replay"
    size = sum(path.stat().st_size for path in paths)
    if problem:
        return [label, f"{frames:,}", f"{size / 1e6:.2f}", "VOID: " + problem]
    return [label, f"{frames:,}", f"{size / 1e6:.2f}", f"{read / frames * 1e9:,.0f}",
            f"{seconds / frames * 1e9:,.0f}", f"{frames / seconds / 1e6:.3f}",
            f"{frames / delivered / 1e6:.3f}", f"{record / frames * 1e9:,.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="recordings (files or directories); default: make one per venue")
    parser.add_argument("--messages", type=int, default=20_000,
                        help="messages per venue recording (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="best of (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--venues", nargs="*", help="registry names; default all simulated")
    args = parser.parse_args()
    header = ["recording", "messages", "MB", "zstd read ns/msg", "replay ns/msg",
              "replay M msg/s", "+delivery M msg/s", "record ns/msg"]
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        if args.paths:
            for path in args.paths:
                rows.append(measure(path.name, recording_files([path]), None, args.repeat,
                                    Path(scratch)))
        else:
            for info in venues():
                if args.venues and info.name not in args.venues:
                    continue
                adapter = info.create()
                entry = SIMULATORS.get(adapter.name)
                if entry is None or adapter.market not in entry.markets:
                    continue
                directory = Path(scratch) / info.name
                levels = uvloop.run(make_recording(info, directory, args.messages, args.seed))
                rows.append(measure(info.name, recording_files([directory]), levels,
                                    args.repeat, Path(scratch)))
    widths = [max(len(h), *(len(r[i]) for r in rows if i < len(r))) for i, h in
              enumerate(header)]
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in
                    enumerate(zip(header, widths, strict=True))))
    for row in rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                        enumerate(zip(row, widths, strict=False))))
    valid = [row for row in rows if len(row) == len(header)]
    if not valid:
        print("replay: no valid figure")
        return
    replay_ns = [float(row[4].replace(",", "")) for row in valid]
    read_ns = [float(row[3].replace(",", "")) for row in valid]
    print(f"replay: {len(valid)} recordings, median {statistics.median(replay_ns):,.0f} ns/msg "
          f"({1e3 / statistics.median(replay_ns):.2f} M msg/s) through listeners and decoders, "
          f"vs {statistics.median(read_ns):,.0f} ns/msg to read and decompress alone "
          f"({statistics.median(replay_ns) / statistics.median(read_ns):.1f}x)")


if __name__ == "__main__":
    main()
