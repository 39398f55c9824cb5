"""Latency histograms: log-spaced buckets, constant memory, no object kept per sample."""

from __future__ import annotations

import math

import numpy as np

BUCKETS_PER_DECADE = 20
MAX_DECADES = 10   # 1 ns .. 10 s
LAST_BUCKET = BUCKETS_PER_DECADE * MAX_DECADES


class LatencyHistogram:
    """Counts nanosecond latencies in log buckets (about 12% wide) for p50/p99 read-outs."""

    def __init__(self) -> None:
        self.counts = [0] * (BUCKETS_PER_DECADE * MAX_DECADES + 1)   # a list: numpy scalar
        self.total = 0                                                # += costs 10x more
        self.maximum = 0

    def record(self, ns: int) -> None:
        bucket = int(math.log10(ns) * BUCKETS_PER_DECADE) if ns > 1 else 0
        self.counts[bucket if bucket < LAST_BUCKET else LAST_BUCKET] += 1
        self.total += 1
        if ns > self.maximum:
            self.maximum = ns

    def percentile(self, q: float) -> float:
        """The upper edge (ns) of the bucket holding the q-th percentile; 0 when empty."""
        if self.total == 0:
            return 0.0
        rank = q / 100.0 * self.total
        bucket = int(np.searchsorted(np.cumsum(self.counts), rank, side="left"))
        return float(10 ** ((bucket + 1) / BUCKETS_PER_DECADE))

    def summary(self) -> dict[str, float]:
        return {"count": self.total, "p50_ns": self.percentile(50),
                "p99_ns": self.percentile(99), "max_ns": float(self.maximum)}

    def reset(self) -> None:
        self.counts = [0] * len(self.counts)
        self.total = 0
        self.maximum = 0
