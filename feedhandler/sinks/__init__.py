"""Sinks: the FeedHandler's rings and books written elsewhere (stdout, Redis Streams, Parquet)
off the event loop's critical path; ``SinkRunner`` (base.py) feeds any ``Sink``."""

from feedhandler.sinks.base import Batch, BlockingSink, Sink, SinkClosed, SinkRunner, SinkStats

__all__ = ["Batch", "BlockingSink", "Sink", "SinkClosed", "SinkRunner", "SinkStats"]
