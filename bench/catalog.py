"""Instrument catalogs: load time per venue from its simulator, and memory per 5,000 records.

Each registry venue's catalog is loaded from its simulator's metadata endpoint (the real
venue's answer shape, ~400 generated instruments, Bybit linear in cursor pages): fetch + parse
+ index, then the same from the fresh disk cache. Memory: 5,000 catalog records (Instrument
with its Decimals and aliases) indexed in a Catalog, measured with tracemalloc. Best of
``--repeat``.

    PYTHONPATH=. python bench/catalog.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from decimal import Decimal

from rich.console import Console

from feedhandler.cli.output import Column, print_line, print_table
from feedhandler.cli.simulated import simulators
from feedhandler.exchanges.registry import venues
from feedhandler.instruments import Catalog, load_catalog
from feedhandler.instruments.catalog import listing

RECORDS = 5_000


async def load_times(repeat: int) -> list[tuple[str, int, float, float]]:
    """(venue, instruments, best fetch s, best cached s) per registry venue."""
    rows = []
    names = [info.name for info in venues()]
    async with simulators({name: () for name in names}, rate=None) as endpoints:
        for name in names:
            fetched, cached, count = float("inf"), float("inf"), 0
            for _ in range(repeat):
                started = time.perf_counter()
                catalog = await load_catalog(name, endpoints=endpoints[name], refresh=True)
                middle = time.perf_counter()
                await load_catalog(name, endpoints=endpoints[name])
                ended = time.perf_counter()
                fetched, cached = min(fetched, middle - started), min(cached, ended - middle)
                count = len(catalog)
            rows.append((name, count, fetched, cached))
    return rows


def memory_per_records(count: int) -> int:
    """Bytes that ``count`` records indexed in a Catalog hold."""
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    catalog = Catalog("bench", [
        listing("bench", "spot", f"C{i}USDT", f"C{i}", "USDT", tick_size=Decimal("0.0001"),
                lot_size=Decimal("0.001"), min_size=Decimal("0.001"),
                min_notional=Decimal("5"), aliases=(f"C{i}/USDT",))
        for i in range(count)], time.time())
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert len(catalog) == count
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["FEEDHANDLER_CACHE_DIR"] = cache
        rows = asyncio.run(load_times(args.repeat))
    console = Console()
    print_table(console, f"catalog load from the simulators, best of {args.repeat}",
                [Column("venue"), Column("instruments", "right"),
                 Column("fetch+parse ms", "right"), Column("from cache ms", "right")],
                [(name, f"{count:,}", f"{fetched * 1e3:.1f}", f"{cached * 1e3:.1f}")
                 for name, count, fetched, cached in rows])
    size = memory_per_records(RECORDS)
    slowest = max(rows, key=lambda row: row[2])
    print_line(console, f"catalog: slowest load {slowest[0]} {slowest[2] * 1e3:.1f} ms for "
               f"{slowest[1]} instruments; {RECORDS:,} instruments hold "
               f"{size / 2**20:.2f} MB ({size / RECORDS:.0f} B each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
