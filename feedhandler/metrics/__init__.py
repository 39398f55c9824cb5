"""Counters and latency histograms: what each connection and channel did, read as a snapshot
(``FeedHandler.metrics()``) or scraped as Prometheus text (``FeedHandler.serve_metrics``)."""

from feedhandler.metrics.histogram import UPPER_EDGES, LatencyHistogram

__all__ = ["UPPER_EDGES", "LatencyHistogram"]
