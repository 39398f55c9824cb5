"""What the FeedHandler records per connection on top of the counters its decoder keeps in C:
the two latency histograms of each channel and the books resynced."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from feedhandler.exchanges.base import Channel
from feedhandler.metrics.histogram import LatencyHistogram

if TYPE_CHECKING:
    from feedhandler.net.connection import Connection


class ChannelLatency:
    """exchange → receive (the venue's event time to our socket read, from the ring rows and
    book stamps) and receive → callback (socket read to the moment the event is handed to its
    callback or queue)."""

    __slots__ = ("exchange_to_receive", "receive_to_callback")

    def __init__(self) -> None:
        self.exchange_to_receive = LatencyHistogram()
        self.receive_to_callback = LatencyHistogram()


class ConnectionRecord:
    """One connection's histograms, as attributes: the delivery path reads them once per batch."""

    __slots__ = ("book", "channels", "ohlcv", "private", "resyncs", "synced_slots", "ticker",
                 "trades")

    def __init__(self) -> None:
        self.trades = ChannelLatency()
        self.ticker = ChannelLatency()
        self.ohlcv = ChannelLatency()
        self.book = ChannelLatency()
        self.private = ChannelLatency()       # orders, balances, positions of an account
        self.channels = {Channel.TRADES: self.trades, Channel.TICKER: self.ticker,
                         Channel.OHLCV: self.ohlcv, Channel.BOOK: self.book}
        self.resyncs = 0                      # a book live again after having been live
        self.synced_slots: set[int] = set()   # books that were live once

    def book_live(self, slot: int) -> None:
        """A book sync finished: the first for a slot is its start, any later one a resync."""
        if slot in self.synced_slots:
            self.resyncs += 1
        else:
            self.synced_slots.add(slot)


class LatencyRecorder:
    """The records of the FeedHandler's connections, made on a connection's first batch."""

    def __init__(self) -> None:
        self.records: dict[Connection, ConnectionRecord] = {}
        self.created_ns = time.time_ns()

    def of(self, connection: Connection) -> ConnectionRecord:
        record = self.records.get(connection)
        if record is None:
            record = self.records[connection] = ConnectionRecord()
        return record

    def keep_only(self, connections: set[Connection]) -> None:
        """Forgets the connections that were closed (their pool dropped them)."""
        for gone in self.records.keys() - connections:
            del self.records[gone]
