"""Ring columns written through at allocation against calloc's lazy zero pages, in one run.

A FeedHandler's trade, ticker and candle rings (``--capacity`` rows each) are allocated two
ways: as the rings allocate them (written through: every page resident at once) and, as the
baseline, with ``np.zeros`` of the same columns (pages mapped lazily, faulted in on the first
write). For each: the allocation, then the first lap (every row of every column written once,
as the decoders' first pass over the ring does) and a second lap. Best of ``--repeat``, each
round in fresh memory.

    PYTHONPATH=. python bench/rings.py [--capacity 65536] [--repeat 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np
from rich.console import Console

from feedhandler.cli.output import Column, print_line, print_table
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing

Columns = list[np.ndarray]


def ring_columns(capacity: int) -> Columns:
    return [column for ring in (TradeRing(capacity), TickerRing(capacity), CandleRing(capacity))
            for column in ring.columns.values()]


def lazy_columns(capacity: int) -> Columns:
    """The same columns as ``np.zeros`` (the rings' allocation before the change)."""
    return [np.zeros(capacity, dtype=column.dtype) for column in ring_columns(2)]


def lap(columns: Columns) -> None:
    for column in columns:
        column[:] = 1


def measure(allocate: Callable[[int], Columns], capacity: int,
            repeat: int) -> tuple[float, float, float, int]:
    """Best allocation, first-lap and second-lap seconds, and the bytes allocated."""
    best = [float("inf")] * 3
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        columns = allocate(capacity)
        allocated = time.perf_counter()
        lap(columns)
        first = time.perf_counter()
        lap(columns)
        second = time.perf_counter()
        size = sum(column.nbytes for column in columns)
        for i, seconds in enumerate((allocated - started, first - allocated, second - first)):
            best[i] = min(best[i], seconds)
        del columns
    return best[0], best[1], best[2], size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capacity", type=int, default=1 << 16)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    rows = 3 * args.capacity
    results = {"np.zeros (baseline)": measure(lazy_columns, args.capacity, args.repeat),
               "rings (written through)": measure(ring_columns, args.capacity, args.repeat)}
    console = Console()
    print_table(console, f"rings: 3 rings x {args.capacity:,} rows, best of {args.repeat}",
                [Column("allocation"), Column("MB", "right"), Column("allocate ms", "right"),
                 Column("first lap ns/row", "right"), Column("second lap ns/row", "right")],
                [(name, f"{size / 2**20:.1f}", f"{alloc * 1e3:.2f}", f"{first / rows * 1e9:.1f}",
                  f"{second / rows * 1e9:.1f}")
                 for name, (alloc, first, second, size) in results.items()])
    base, ours = results["np.zeros (baseline)"], results["rings (written through)"]
    print_line(console, f"first lap: written through / np.zeros = {ours[1] / base[1]:.2f}; "
               f"allocation: {ours[0] / base[0]:.1f}x the baseline's time "
               f"(+{(ours[0] - base[0]) * 1e3:.2f} ms, paid once at start)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
