"""LatencyHistogram: exact bucket edges, percentiles, batches, merging and baselines."""

from __future__ import annotations

import numpy as np
import pytest

from feedhandler.metrics import UPPER_EDGES, LatencyHistogram


def bucket_of(histogram: LatencyHistogram) -> list[int]:
    return [index for index, count in enumerate(histogram.counts) for _ in range(count)]


def test_upper_edges_are_about_12_percent_apart_and_exact_at_each_decade() -> None:
    assert len(UPPER_EDGES) == 200 and list(UPPER_EDGES) == sorted(UPPER_EDGES)
    assert UPPER_EDGES[59] == 1_000 and UPPER_EDGES[119] == 1_000_000
    assert UPPER_EDGES[-1] == 10_000_000_000
    assert UPPER_EDGES[60] == 1_122 and UPPER_EDGES[64] == 1_778


@pytest.mark.parametrize(("ns", "bucket"), [(0, 0), (1, 0), (999, 59), (1_000, 59),
                                            (1_001, 60), (1_122, 60), (1_123, 61),
                                            (10_000_000_000, 199), (10**12, 200)])
def test_a_latency_falls_in_the_bucket_whose_upper_edge_is_at_or_above_it(
        ns: int, bucket: int) -> None:
    histogram = LatencyHistogram()
    histogram.record(ns)
    assert bucket_of(histogram) == [bucket]
    assert bucket == 200 or ns <= UPPER_EDGES[bucket]
    assert bucket == 0 or ns > UPPER_EDGES[bucket - 1]


def test_percentiles_are_bucket_edges_capped_by_the_maximum() -> None:
    histogram = LatencyHistogram()
    assert histogram.percentile(50) == 0.0 and histogram.summary()["count"] == 0
    for ns in [100] * 90 + [5_000] * 9 + [2_000_000]:
        histogram.record(ns)
    assert histogram.percentile(50) == UPPER_EDGES[39] == 100
    assert histogram.percentile(90) == 100
    assert histogram.percentile(99) == 5_011   # the edge of the bucket holding 5,000
    assert histogram.percentile(100) == 2_000_000   # the maximum, not its bucket's edge
    assert histogram.summary() == {"count": 100, "p50_ns": 100.0, "p90_ns": 100.0,
                                   "p99_ns": 5_011.0, "max_ns": 2_000_000.0}
    assert histogram.sum_ns == 90 * 100 + 9 * 5_000 + 2_000_000


def test_a_negative_delta_counts_as_zero_and_is_reported() -> None:
    histogram = LatencyHistogram()
    histogram.record(-500)
    assert histogram.negative == 1 and histogram.sum_ns == 0 and bucket_of(histogram) == [0]


def test_record_deltas_takes_a_ring_batch_and_skips_rows_without_an_exchange_time() -> None:
    histogram = LatencyHistogram()
    received = np.array([1_000, 2_000, 3_000, 4_000], dtype=np.int64)
    exchanged = np.array([900, 0, 2_000, 4_100], dtype=np.int64)
    histogram.record_deltas(received[::1], exchanged)
    assert histogram.total == 3 and histogram.sum_ns == 100 + 1_000 + 0
    assert histogram.negative == 1
    with pytest.raises(ValueError, match="4 later values but 3 earlier"):
        histogram.record_deltas(received, exchanged[:3])
    with pytest.raises(TypeError, match="1-d int64"):
        histogram.record_deltas(received.astype(np.int32), exchanged)
    strided = LatencyHistogram()                       # every other row: views with a stride
    strided.record_deltas(received[::2], exchanged[::2])
    assert strided.total == 2 and strided.sum_ns == 100 + 1_000


def test_record_since_measures_from_a_wall_clock_stamp() -> None:
    import time
    histogram = LatencyHistogram()
    histogram.record_since(0)                      # no stamp: nothing recorded
    assert histogram.total == 0
    before = time.time_ns()
    histogram.record_since(before - 1_000_000)     # 1 ms ago
    assert histogram.total == 1
    assert 1_000_000 <= histogram.maximum < 1_000_000 + (time.time_ns() - before) + 1


def test_merge_copy_since_and_reset() -> None:
    a, b = LatencyHistogram(), LatencyHistogram()
    for ns in (10, 20):
        a.record(ns)
    b.record(5_000)
    baseline = a.copy()
    a.merge(b)
    assert a.total == 3 and a.maximum == 5_000 and baseline.total == 2
    later = a.since(baseline)
    assert later.total == 1 and later.sum_ns == 5_000 and bucket_of(later) == bucket_of(b)
    assert a.since(a.copy()).total == 0 and a.since(a.copy()).maximum == 0
    a.reset()
    assert a.total == a.sum_ns == a.maximum == 0 and not any(a.counts)
