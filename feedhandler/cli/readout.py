"""``FeedHandler.metrics()`` as a table: a row per venue and channel, then the venue's total."""

from __future__ import annotations

from rich.console import Console

from feedhandler.cli.output import Column, format_count, format_ns, print_table
from feedhandler.metrics.histogram import LatencyHistogram
from feedhandler.metrics.snapshot import Metrics

COLUMNS = (Column("venue"), Column("channel"), Column("messages", "right"),
           Column("bytes", "right"), Column("errors", "right"), Column("gaps", "right"),
           Column("checksum", "right"),
           Column("resyncs", "right"), Column("reconnects", "right"), Column("p50", "right"),
           Column("p90", "right"), Column("p99", "right"), Column("max", "right"))


def latency_cells(histogram: LatencyHistogram) -> tuple[str, ...]:
    return (*(format_ns(histogram.percentile(q)) for q in (50, 90, 99)),
            format_ns(histogram.maximum))


def print_metrics(console: Console, metrics: Metrics, latency: str = "receive_to_callback",
                  note: str = "") -> None:
    """Channels with a subscription, then the venue's connections summed ("all": control and
    other messages too; decode errors and reconnects are only counted there); latencies from
    the ``latency``
    histograms (an attribute of ``ChannelMetrics``)."""
    rows = []
    for venue in metrics.venues.values():
        for channel in venue.channels.values():
            if channel.subscriptions:
                rows.append((venue.name, channel.channel, format_count(channel.messages),
                             format_count(channel.bytes), "-", str(channel.gaps),
                             str(channel.checksum_failures), str(channel.resyncs), "-",
                             *latency_cells(getattr(channel, latency))))
        totals = venue.totals
        rows.append((venue.name, "all", format_count(totals.messages),
                     format_count(totals.bytes), str(totals.decode_errors), str(totals.gaps),
                     str(totals.checksum_failures), str(totals.resyncs), str(totals.reconnects),
                     *latency_cells(getattr(totals, latency))))
    title = f"metrics: latency {latency.replace('_to_', ' → ').replace('_', ' ')}"
    print_table(console, title + (f" ({note})" if note else ""), COLUMNS, rows)
