"""The typed metrics snapshot: per venue → per connection → per channel, plus totals.

Everything is read when the snapshot is taken: message and byte counts from the counters the
decoder keeps in C (by what each message produced), gaps and checksum failures from the
decoder, reconnects from the connection, histograms from the FeedHandler's latencies. Counts are
since the FeedHandler started, or since ``FeedHandler.reset_metrics()``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from feedhandler.exchanges.base import Channel, PrivateVenue
from feedhandler.metrics.histogram import LatencyHistogram
from feedhandler.metrics.latency import ChannelLatency, ConnectionRecord, LatencyRecorder

if TYPE_CHECKING:
    from feedhandler.api import FeedHandler
    from feedhandler.net.connection import Connection


@dataclass(frozen=True)
class Latency:
    """A histogram's read-out in ns: percentiles are bucket upper edges (about 12% wide)."""

    count: int
    p50_ns: float
    p90_ns: float
    p99_ns: float
    max_ns: float
    mean_ns: float

    @classmethod
    def of(cls, histogram: LatencyHistogram) -> Latency:
        count = histogram.total
        return cls(count, histogram.percentile(50), histogram.percentile(90),
                   histogram.percentile(99), float(histogram.maximum),
                   histogram.sum_ns / count if count else 0.0)


def merged(histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
    out = LatencyHistogram()
    for histogram in histograms:
        out.merge(histogram)
    return out


@dataclass(frozen=True)
class ChannelMetrics:
    """One subscription channel of one connection (or, in a venue's ``channels``, of all).
    ``bytes`` are as decoded (after inflation); ``inexact`` counts the messages with a value
    that had more decimals than its scale (rounded half-even, the rows flagged ``inexact``);
    gaps, checksum failures and resyncs are the book channel's."""

    channel: str
    subscriptions: int = field(metadata={"gauge": True})   # a level now, not a count
    messages: int
    bytes: int
    inexact: int
    gaps: int
    checksum_failures: int
    resyncs: int
    exchange_to_receive: LatencyHistogram
    receive_to_callback: LatencyHistogram


@dataclass(frozen=True)
class ConnectionMetrics:
    """One connection. ``messages`` counts every message decoded: its channels', plus control
    (acks, pings), private, ``decode_errors`` and ``other_messages`` (book updates held while a
    snapshot is fetched, stale or ignored ones). ``bytes`` are as received on the socket."""

    venue: str
    name: str
    connected: bool
    messages: int
    bytes: int
    decode_errors: int
    misrouted: int              # of those, messages whose fields contradict their stream
    control_messages: int
    other_messages: int
    gaps: int
    checksum_failures: int
    resyncs: int
    reconnects: int
    rotations: int              # planned replacements made without a gap (net/rotation.py)
    disconnects: int
    connect_failures: int
    channels: dict[str, ChannelMetrics]

    @property
    def exchange_to_receive(self) -> LatencyHistogram:
        return merged(c.exchange_to_receive for c in self.channels.values())

    @property
    def receive_to_callback(self) -> LatencyHistogram:
        return merged(c.receive_to_callback for c in self.channels.values())


@dataclass(frozen=True)
class Totals:
    """Sums over connections, histograms merged."""

    connections: int
    connected: int
    messages: int
    bytes: int
    decode_errors: int
    gaps: int
    checksum_failures: int
    resyncs: int
    reconnects: int
    exchange_to_receive: LatencyHistogram
    receive_to_callback: LatencyHistogram

    @classmethod
    def of(cls, connections: Iterable[ConnectionMetrics]) -> Totals:
        connections = list(connections)
        return cls(connections=len(connections),
                   connected=sum(c.connected for c in connections),
                   exchange_to_receive=merged(c.exchange_to_receive for c in connections),
                   receive_to_callback=merged(c.receive_to_callback for c in connections),
                   **{name: sum(getattr(c, name) for c in connections)
                      for name in ("messages", "bytes", "decode_errors", "gaps",
                                   "checksum_failures", "resyncs", "reconnects")})


@dataclass(frozen=True)
class VenueMetrics:
    name: str
    connections: tuple[ConnectionMetrics, ...]

    @property
    def totals(self) -> Totals:
        return Totals.of(self.connections)

    @property
    def channels(self) -> dict[str, ChannelMetrics]:
        """Each channel over all the venue's connections."""
        by_channel: dict[str, list[ChannelMetrics]] = {}
        for connection in self.connections:
            for name, channel in connection.channels.items():
                by_channel.setdefault(name, []).append(channel)
        return {name: ChannelMetrics(
                    channel=name,
                    exchange_to_receive=merged(c.exchange_to_receive for c in parts),
                    receive_to_callback=merged(c.receive_to_callback for c in parts),
                    **{counter: sum(getattr(c, counter) for c in parts)
                       for counter in ("subscriptions", "messages", "bytes", "inexact", "gaps",
                                       "checksum_failures", "resyncs")})
                for name, parts in by_channel.items()}


@dataclass(frozen=True)
class Metrics:
    """What ``FeedHandler.metrics()`` returns. ``since_ns`` is when counting started (start
    of the FeedHandler or the last reset), ``taken_ns`` when this was read (CLOCK_REALTIME)."""

    venues: dict[str, VenueMetrics]
    totals: Totals
    ring_overruns: int
    dropped_events: int
    callback_errors: int
    since_ns: int
    taken_ns: int

    def connection(self, name: str) -> ConnectionMetrics:
        for venue in self.venues.values():
            for connection in venue.connections:
                if connection.name == name:
                    return connection
        raise KeyError(f"no connection named {name!r}")


# ---- reading -------------------------------------------------------------------------------

CHANNELS = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)
PRIVATE = "private"


def channel_metrics(connection: Connection, record: ConnectionRecord, channel: Channel,
                    kinds: dict[str, tuple[int, int]]) -> ChannelMetrics:
    counts = connection.decoder_stats()
    latency: ChannelLatency = record.channels[channel]
    book = channel is Channel.BOOK
    messages, size = kinds.get(channel.value, (0, 0))
    return ChannelMetrics(
        channel.value, sum(1 for s in connection.subscriptions.values() if s.channel is channel),
        messages, size, connection.inexact_kinds()[channel.value],
        counts["gaps"] if book else 0, counts["checksum_failures"] if book else 0,
        record.resyncs if book else 0, latency.exchange_to_receive.copy(),
        latency.receive_to_callback.copy())


def connection_metrics(venue: str, connection: Connection,
                       record: ConnectionRecord) -> ConnectionMetrics:
    kinds = connection.message_kinds()
    stats = connection.stats()
    return ConnectionMetrics(
        venue, connection.name, connection.connected,
        sum(messages for messages, _ in kinds.values()), stats["bytes"], kinds["error"][0],
        stats["decoder"]["misrouted"], kinds["control"][0], kinds["other"][0],
        stats["decoder"]["gaps"], stats["decoder"]["checksum_failures"], record.resyncs,
        connection.reconnects, connection.rotations, connection.disconnects,
        connection.connect_failures,
        {channel.value: channel_metrics(connection, record, channel, kinds)
         for channel in CHANNELS} if not isinstance(connection.adapter, PrivateVenue) else
        {PRIVATE: private_metrics(connection, record, kinds)})


def private_metrics(connection: Connection, record: ConnectionRecord,
                    kinds: dict[str, tuple[int, int]]) -> ChannelMetrics:
    """An account's stream is one channel: its orders, balances and positions arrive mixed."""
    messages, size = kinds.get(PRIVATE, (0, 0))
    return ChannelMetrics(PRIVATE, len(connection.subscriptions), messages, size,
                          connection.decoder.inexact_kinds()[PRIVATE], 0, 0, 0,
                          record.private.exchange_to_receive.copy(),
                          record.private.receive_to_callback.copy())


def read(fh: FeedHandler, latencies: LatencyRecorder) -> Metrics:
    """The absolute counters now (since the FeedHandler was made): of the connections open,
    or once stopped, of those it had, so that a snapshot after ``fh.run()`` still tells."""
    venues = {}
    live: set[Connection] = set()
    for name, state in fh.venues.items():
        if state.pool is not None:
            connections = list(state.pool.connections)
        else:
            connections = [c for c in latencies.records if c.adapter is state.adapter]
        connections += [account.connection for account in state.accounts.values()
                        if account.connection is not None]
        live.update(connections)
        venues[name] = VenueMetrics(name, tuple(
            connection_metrics(name, connection, latencies.of(connection))
            for connection in connections))
    latencies.keep_only(live)
    return Metrics(venues, Totals.of(c for v in venues.values() for c in v.connections),
                   fh.overruns, fh.dropped_events, fh.callback_errors, latencies.created_ns,
                   time.time_ns())


# ---- since a reset -------------------------------------------------------------------------

T = TypeVar("T")


def difference(now: T, then: T | None) -> T:
    """``now`` minus ``then`` field by field (counters subtract, histograms keep the samples
    recorded since); booleans, names and the like are ``now``'s."""
    if then is None:
        return now
    if isinstance(now, LatencyHistogram):
        assert isinstance(then, LatencyHistogram)
        return now.since(then)  # type: ignore[return-value]
    if isinstance(now, bool) or isinstance(now, str):
        return now
    if isinstance(now, int):
        return now - then  # type: ignore[operator, return-value]
    if isinstance(now, dict):
        assert isinstance(then, dict)
        return {key: difference(value, then.get(key)) for key, value in now.items()}  # type: ignore[return-value]
    changes: dict[str, Any] = {
        part.name: difference(getattr(now, part.name), getattr(then, part.name))
        for part in dataclasses.fields(now)  # type: ignore[arg-type]
        if not part.metadata.get("gauge")}
    return dataclasses.replace(now, **changes)  # type: ignore[type-var]


def since(now: Metrics, baseline: Metrics | None) -> Metrics:
    """``now`` counted from ``baseline`` on; a connection opened since counts from zero."""
    if baseline is None:
        return now
    before = {(c.venue, c.name): c for v in baseline.venues.values() for c in v.connections}

    def counted(connection: ConnectionMetrics) -> ConnectionMetrics:
        then = before.get((connection.venue, connection.name))
        if then is not None and connection.messages < then.messages:
            then = None   # the name was given again, to a connection opened after a restart
        return difference(connection, then)

    venues = {name: VenueMetrics(name, tuple(counted(c) for c in venue.connections))
              for name, venue in now.venues.items()}
    return Metrics(venues, Totals.of(c for v in venues.values() for c in v.connections),
                   now.ring_overruns - baseline.ring_overruns,
                   now.dropped_events - baseline.dropped_events,
                   now.callback_errors - baseline.callback_errors,
                   baseline.taken_ns, now.taken_ns)
