"""Stdout (or any text stream): one JSON object per row, exact decimal strings, for pipes
and ``jq``. Written on the sink's own thread, since a full pipe blocks the writer."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from feedhandler.exchanges.base import Channel
from feedhandler.sinks.base import Batch, BlockingSink
from feedhandler.sinks.records import fields


class StdoutSink(BlockingSink):
    name = "stdout"

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream
        self.lines = 0

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
        if lines:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
            self.lines += len(lines)

    def stats(self) -> dict[str, int]:
        return {"lines": self.lines}
