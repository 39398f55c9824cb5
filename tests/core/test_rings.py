"""Ring buffers: zero-copy reads of [cursor, write_count), overrun always reported."""

import os
import subprocess
import sys

import numpy as np
import pytest

from feedhandler.core.rings import CandleRing, RingOverrun, TickerRing, TradeRing


def fill(ring: TradeRing, start: int, count: int) -> None:
    for i in range(start, start + count):
        ring.append(7, i, i + 1, 1000 + i, 10 + i, 1 if i % 2 else -1, i)


def test_capacity_must_be_a_power_of_two() -> None:
    for bad in (0, 1, 3, 1000):
        with pytest.raises(ValueError):
            TradeRing(bad)
    assert TradeRing(1024).capacity == 1024


def test_reader_gets_new_rows_as_views() -> None:
    ring = TradeRing(16)
    reader = ring.reader()
    fill(ring, 0, 5)
    batch = reader.read()
    assert (batch.start, batch.stop, len(batch)) == (0, 5, 5)
    assert batch.price.tolist() == [1000, 1001, 1002, 1003, 1004]
    assert batch.side.tolist() == [-1, 1, -1, 1, -1]
    assert batch.instrument.dtype == np.int32 and batch.ts_receive.tolist() == [1, 2, 3, 4, 5]
    assert np.shares_memory(batch.price, ring.columns["price"])
    assert len(reader.read()) == 0


def test_a_wrap_splits_the_read_without_losing_rows() -> None:
    ring = TradeRing(8)
    reader = ring.reader()
    fill(ring, 0, 6)
    reader.read()
    fill(ring, 6, 5)  # rows 6..10 occupy indexes 6, 7, 0, 1, 2
    first = reader.read()
    second = reader.read()
    assert first.trade_id.tolist() == [6, 7]
    assert second.trade_id.tolist() == [8, 9, 10]
    assert reader.pending == 0


def test_overrun_is_reported_and_the_reader_resumes_at_the_oldest_row() -> None:
    ring = TradeRing(8)
    reader = ring.reader()
    fill(ring, 0, 20)
    with pytest.raises(RingOverrun) as info:
        reader.read()
    assert info.value.lost == 12
    assert info.value.resumed_at == 12
    rows = []
    while reader.pending:
        rows += reader.read().trade_id.tolist()
    assert rows == list(range(12, 20))


def test_a_batch_knows_when_the_writer_lapped_it() -> None:
    ring = TradeRing(8)
    reader = ring.reader()
    fill(ring, 0, 4)
    batch = reader.read()
    kept = batch.copy()
    assert batch.intact
    fill(ring, 4, 4)
    assert batch.intact
    fill(ring, 8, 1)
    assert not batch.intact
    assert kept["trade_id"].tolist() == [0, 1, 2, 3]


def test_max_rows_and_independent_readers() -> None:
    ring = TradeRing(16)
    early = ring.reader()
    fill(ring, 0, 10)
    late = ring.reader()
    assert len(early.read(max_rows=3)) == 3
    assert early.pending == 7
    assert late.pending == 0
    assert ring.reader(from_start=True).read().trade_id.tolist() == list(range(10))


def test_ticker_and_candle_columns() -> None:
    tickers = TickerRing(4)
    tickers.append(1, 10, 11, 100, 2, 101, 3, 99)
    row = tickers.reader(from_start=True).read()
    assert (row.bid_price[0], row.ask_size[0], row.last_price[0]) == (100, 3, 99)
    candles = CandleRing(4)
    candles.append(2, 10, 11, 60_000_000_000, 60, 1, 5, 0, 4, 77, True)
    candle = candles.reader(from_start=True).read()
    assert (candle.interval[0], candle.high[0], candle.volume[0]) == (60, 5, 77)
    assert candle.closed[0] == 1


RESIDENT_CHECK = """
from feedhandler.core.rings import TradeRing

def resident_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

before = resident_kb()
ring = TradeRing(1 << 20)
grown = resident_kb() - before
allocated = sum(column.nbytes for column in ring.columns.values()) // 1024
assert not any(column.any() for column in ring.columns.values())
print(grown, allocated)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_columns_are_resident_from_the_start() -> None:
    # a fresh interpreter: in this one, memory freed by other tests may be resident already
    result = subprocess.run([sys.executable, "-c", RESIDENT_CHECK], capture_output=True,
                            text=True, check=True, timeout=120)
    grown, allocated = map(int, result.stdout.split())
    assert grown >= 0.9 * allocated, (grown, allocated)
