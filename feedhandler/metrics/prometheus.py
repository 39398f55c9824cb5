"""The metrics in the Prometheus text exposition format (version 0.0.4), and an aiohttp server
for ``GET /metrics``.

Counters end in ``_total`` and only grow (``reset_metrics`` does not touch them); latencies are
histograms in seconds with cumulative ``_bucket{le=...}`` series, ``_sum`` and ``_count``. Every
series is labelled with ``venue`` and ``connection``; per-channel ones with ``channel``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from feedhandler.metrics import snapshot
from feedhandler.metrics.histogram import UPPER_EDGES, LatencyHistogram
from feedhandler.metrics.snapshot import ChannelMetrics, ConnectionMetrics, Metrics

if TYPE_CHECKING:
    from feedhandler.api import FeedHandler

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "feedhandler_"

# 4 bounds a decade from 1 µs to 10 s: every fifth bucket edge of the histograms, so each
# bound counts exactly the samples at or below it
BOUNDS = tuple(index for index in range(59, len(UPPER_EDGES), 5))

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Family:
    name: str
    kind: str          # counter, gauge, histogram
    help: str


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels_text(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in labels) + "}"


def number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


def histogram_lines(name: str, labels: Labels, histogram: LatencyHistogram) -> Iterator[str]:
    counts = histogram.counts
    cumulative = 0
    upto = 0
    for index in BOUNDS:
        cumulative += sum(counts[upto:index + 1])
        upto = index + 1
        le = repr(UPPER_EDGES[index] / 1e9)
        yield f"{name}_bucket{labels_text((*labels, ('le', le)))} {cumulative}"
    yield f"{name}_bucket{labels_text((*labels, ('le', '+Inf')))} {histogram.total}"
    yield f"{name}_sum{labels_text(labels)} {number(histogram.sum_ns / 1e9)}"
    yield f"{name}_count{labels_text(labels)} {histogram.total}"


ConnectionValue = Callable[[ConnectionMetrics], float]
ChannelValue = Callable[[ChannelMetrics], float]

CONNECTION_SERIES: tuple[tuple[Family, ConnectionValue], ...] = (
    (Family("connected", "gauge", "1 while the connection is up and subscribed"),
     lambda c: int(c.connected)),
    (Family("received_bytes_total", "counter", "WebSocket payload bytes received"),
     lambda c: c.bytes),
    (Family("decode_errors_total", "counter", "Messages that could not be decoded"),
     lambda c: c.decode_errors),
    (Family("misrouted_total", "counter",
            "Decode errors that were messages contradicting their stream (symbol, depth, "
            "channel): refused, never applied"),
     lambda c: c.misrouted),
    (Family("control_messages_total", "counter",
            "Messages for the connection itself: acks, pings, errors"),
     lambda c: c.control_messages),
    (Family("other_messages_total", "counter",
            "Messages that wrote nothing: book updates held for a snapshot, stale, ignored"),
     lambda c: c.other_messages),
    (Family("reconnects_total", "counter", "Connections made again after the first"),
     lambda c: c.reconnects),
    (Family("rotations_total", "counter",
            "Planned replacements made before the old socket closed, without a gap"),
     lambda c: c.rotations),
    (Family("disconnects_total", "counter", "Sockets that ended"), lambda c: c.disconnects),
    (Family("connect_failures_total", "counter", "Dials that failed"),
     lambda c: c.connect_failures),
)

CHANNEL_SERIES: tuple[tuple[Family, ChannelValue], ...] = (
    (Family("subscriptions", "gauge", "Subscriptions the connection carries"),
     lambda c: c.subscriptions),
    (Family("messages_total", "counter", "Messages decoded, by the channel they carried"),
     lambda c: c.messages),
    (Family("message_bytes_total", "counter", "Bytes of those messages, as decoded"),
     lambda c: c.bytes),
    (Family("inexact_messages_total", "counter",
            "Messages with a value past its scale's decimals, rounded half-even"),
     lambda c: c.inexact),
    (Family("gaps_total", "counter", "Sequence gaps that withdrew a book"), lambda c: c.gaps),
    (Family("checksum_failures_total", "counter", "Book checksum mismatches"),
     lambda c: c.checksum_failures),
    (Family("resyncs_total", "counter", "Books made live again after having been live"),
     lambda c: c.resyncs),
)

HISTOGRAMS = (
    (Family("exchange_to_receive_seconds", "histogram",
            "From the venue's event time to our socket read (clocks of two machines)"),
     "exchange_to_receive"),
    (Family("receive_to_callback_seconds", "histogram",
            "From our socket read to the event handed to its callback"),
     "receive_to_callback"),
)

FEEDHANDLER_SERIES: tuple[tuple[Family, Callable[[Metrics], float]], ...] = (
    (Family("ring_overruns_total", "counter", "Ring rows overwritten before delivery"),
     lambda m: m.ring_overruns),
    (Family("dropped_events_total", "counter", "Events dropped because the queue was full"),
     lambda m: m.dropped_events),
    (Family("callback_errors_total", "counter", "User callbacks that raised"),
     lambda m: m.callback_errors),
)


def header(family: Family) -> Iterator[str]:
    yield f"# HELP {PREFIX}{family.name} {family.help}"
    yield f"# TYPE {PREFIX}{family.name} {family.kind}"


def exposition(metrics: Metrics) -> str:
    """The whole exposition: one block per metric family, series in a stable order."""
    connections = [(c, (("venue", c.venue), ("connection", c.name)))
                   for venue in metrics.venues.values() for c in venue.connections]
    lines: list[str] = []
    for family, value in FEEDHANDLER_SERIES:
        lines += [*header(family), f"{PREFIX}{family.name} {number(value(metrics))}"]
    for family, connection_value in CONNECTION_SERIES:
        lines += header(family)
        lines += [f"{PREFIX}{family.name}{labels_text(labels)} {number(connection_value(c))}"
                  for c, labels in connections]
    for family, channel_value in CHANNEL_SERIES:
        lines += header(family)
        lines += [f"{PREFIX}{family.name}{labels_text((*labels, ('channel', name)))} "
                  f"{number(channel_value(channel))}"
                  for c, labels in connections for name, channel in c.channels.items()]
    for family, attribute in HISTOGRAMS:
        lines += header(family)
        for c, labels in connections:
            for name, channel in c.channels.items():
                lines += histogram_lines(f"{PREFIX}{family.name}",
                                         (*labels, ("channel", name)),
                                         getattr(channel, attribute))
    return "\n".join(lines) + "\n"


class MetricsServer:
    """``GET /metrics`` on ``host:port``: the FeedHandler's counters as they are at each scrape."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self.runner = runner
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}/metrics"

    @classmethod
    async def start(cls, fh: FeedHandler, host: str, port: int) -> MetricsServer:
        async def scrape(request: web.Request) -> web.Response:
            text = exposition(snapshot.read(fh, fh.latencies))
            return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

        app = web.Application()
        app.router.add_get("/metrics", scrape)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            await runner.cleanup()
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise OSError(f"metrics endpoint: cannot listen on {host}:{port}: "
                          f"{reason.lower()}") from error
        return cls(runner, host, runner.addresses[0][1])

    async def close(self) -> None:
        await self.runner.cleanup()
