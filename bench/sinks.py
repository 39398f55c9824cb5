"""Sinks: trade rows per second through each sink, in passes of ``--batch`` rows as the
SinkRunner hands them over (a local redis-server on 127.0.0.1 without persistence, so that the
sink and not the disk is measured; Parquet to a temporary directory; stdout to /dev/null).
Every sink must end with every row written.

Run: ``python bench/sinks.py``; the last line is the headline (Redis Streams).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import redis.asyncio as aioredis

from feedhandler.core.rings import TradeRing
from feedhandler.sinks.base import Batch, Sink
from feedhandler.sinks.parquet import ParquetSink
from feedhandler.sinks.redis_streams import RedisStreamSink
from feedhandler.sinks.stdout import StdoutSink
from feedhandler.sinks.testing import INSTRUMENTS, RedisServer, trade_batch


async def rows_per_second(sink: Sink, batches: list[Batch]) -> float:
    await sink.open(INSTRUMENTS)
    started = time.perf_counter()
    for batch in batches:
        await sink.write([batch])
    await sink.close()
    return sum(map(len, batches)) / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    ring = TradeRing(1 << 20)
    batches = [trade_batch(ring, args.batch, first_id=1 + k * args.batch)
               for k in range(args.rows // args.batch)]
    rows = sum(map(len, batches))
    results: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), ("--appendonly", "no"))
        server.start()
        try:
            rate = await rows_per_second(RedisStreamSink(server.url, maxlen=None), batches)
            client = aioredis.from_url(server.url)
            stored = sum([await client.xlen(key) async for key in client.scan_iter("fh:*:*")])
            await client.aclose()
            assert stored == rows, (stored, rows)
            results.append(("Redis Streams (XADD pipelined, hiredis)", rate))
        finally:
            server.kill()
        parquet = ParquetSink(Path(folder) / "parquet")
        results.append(("Parquet (zstd, decimal128)", await rows_per_second(parquet, batches)))
        assert sum(pq.read_metadata(path).num_rows for path in parquet.completed) == rows
        with open(os.devnull, "w") as devnull:
            results.append(("stdout JSON lines (to /dev/null)",
                            await rows_per_second(StdoutSink(devnull), batches)))
    report(results, rows, args.batch)


def report(results: list[tuple[str, float]], rows: int, batch: int) -> None:
    print(f"{rows:,} trade rows in passes of {batch:,}")
    print(f"{'sink':<44}{'rows/s':>14}{'us/row':>10}")
    for name, rate in results:
        print(f"{name:<44}{rate:>14,.0f}{1e6 / rate:>10.2f}")
    name, rate = results[0]
    print(f"result: {name}: {rate:,.0f} rows/s ({1e6 / rate:.2f} us/row)")


if __name__ == "__main__":
    asyncio.run(main())
