"""Stdout (or any text stream): one JSON object per row, exact decimal strings, for pipes
and ``jq``. Written on the sink's own thread, since a full pipe blocks the writer."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from feedhandler.exchanges.base import Channel
from feedhandler.sinks.base import Batch, BlockingSink, SinkClosed
from feedhandler.sinks.records import fields

log = logging.getLogger(__name__)


class StdoutSink(BlockingSink):
    name = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream
        self.lines = 0
        self.reader_gone = False
        self.on_reader_gone: Callable[[], None] | None = None
        """Called (on the sink's thread) when the reader closes the pipe, as ``head`` does."""

    def write_blocking(self, batches: list[Batch]) -> None:
        stream = self.stream or sys.stdout
        lines = []
        for batch in batches:
            book = batch.channel is Channel.BOOK
            for instrument, _, row in fields(batch, self.instruments):
                line: dict[str, Any] = {"venue": instrument.venue, "symbol": instrument.symbol,
                                        "channel": batch.channel.value, **row}
                if book:     # levels as arrays here, not the JSON text a Redis field holds
                    line["bids"], line["asks"] = json.loads(row["bids"]), json.loads(row["asks"])
                lines.append(json.dumps(line, separators=(",", ":")))
        if self.reader_gone:
            raise SinkClosed
        if lines:
            try:
                stream.write("\n".join(lines) + "\n")
                stream.flush()
            except BrokenPipeError:
                self.reader_gone = True
                log.warning("stdout sink: the reader closed the pipe; rows from now on are lost")
                if self.on_reader_gone is not None:
                    self.on_reader_gone()
                raise SinkClosed from None
            self.lines += len(lines)

    def stats(self) -> dict[str, int]:
        return {"lines": self.lines}
