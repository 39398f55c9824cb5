"""Writes records into rotating recording files, one zstd frame per block (see ``format``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from feedhandler.record.codec import append_record
from feedhandler.record.format import BLOCK_HEAD, SUFFIX, file_head

BLOCK_BYTES = 1 << 20          # records gathered before a block is compressed and written
FLUSH_SECONDS = 1.0            # ... or once they span this much recorded time: bounds what a
                               # kill loses (an idle feed is flushed by its next record or close)


class RecordingWriter:
    """Appends records to ``<prefix>-<start>-<index>.fhrec`` files in ``directory``.

    A new file starts once the current one reaches ``rotate_bytes`` (compressed) or is
    ``rotate_seconds`` old; names sort in recording order. ``header`` is called for each new
    file: its JSON header restates what a replay starting at that file needs.
    """

    def __init__(self, directory: str | Path, header: Callable[[], dict[str, Any]], *,
                 prefix: str = "feed", rotate_bytes: int | None = None,
                 rotate_seconds: float | None = None, level: int = 1,
                 block_bytes: int = BLOCK_BYTES, flush_seconds: float = FLUSH_SECONDS) -> None:
        if rotate_bytes is not None and rotate_bytes <= 0:
            raise ValueError(f"rotate_bytes must be positive, got {rotate_bytes}")
        if rotate_seconds is not None and rotate_seconds <= 0:
            raise ValueError(f"rotate_seconds must be positive, got {rotate_seconds}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.header = header
        self.prefix = prefix
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.block_bytes = block_bytes
        self.flush_seconds = flush_seconds
        self.compressor = zstandard.ZstdCompressor(level=level, write_checksum=True,
                                                   write_content_size=True)
        self.stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.files: list[Path] = []
        self.file: BinaryIO | None = None
        self.file_bytes = 0
        self.file_opened = 0.0
        self.block = bytearray()
        self.block_started_ns = 0     # receive time of the block's first record
        self.flush_ns = int(flush_seconds * 1e9)
        self.raw_bytes = 0             # record bytes written, before compression
        self.compressed_bytes = 0      # bytes written to files (headers and blocks)
        self.closed = False

    def append(self, kind: int, flags: int, connection: int, ts_ns: int,
               payload: bytes) -> None:
        """One record (see ``format``); the block is written once full or old enough."""
        block = self.block
        if not block:
            if self.closed:
                raise ValueError("recording writer is closed")
            # a file starts with a block: its header restates the state before this record
            if self.file is None or self.rotation_due():
                self.open_next()
            self.block_started_ns = ts_ns
        if (append_record(block, kind, flags, connection, ts_ns, payload) >= self.block_bytes
                or ts_ns - self.block_started_ns >= self.flush_ns):
            self.flush()

    def flush(self) -> None:
        """Compresses and writes the records gathered so far as one block."""
        if not self.block:
            return
        assert self.file is not None
        raw = bytes(self.block)
        self.block.clear()
        frame = self.compressor.compress(raw)
        self.file.write(BLOCK_HEAD.pack(len(frame), len(raw)))
        self.file.write(frame)
        self.file.flush()
        self.file_bytes += BLOCK_HEAD.size + len(frame)
        self.compressed_bytes += BLOCK_HEAD.size + len(frame)
        self.raw_bytes += len(raw)

    def rotation_due(self) -> bool:
        if self.rotate_bytes is not None and self.file_bytes >= self.rotate_bytes:
            return True
        return (self.rotate_seconds is not None
                and time.monotonic() - self.file_opened >= self.rotate_seconds)

    def open_next(self) -> None:
        if self.file is not None:
            self.file.close()
        path = self.directory / f"{self.prefix}-{self.stamp}-{len(self.files):05d}{SUFFIX}"
        self.file = path.open("xb")
        self.files.append(path)
        head = file_head(self.header() | {"file_index": len(self.files) - 1})
        self.file.write(head)
        self.file_bytes = len(head)
        self.compressed_bytes += len(head)
        self.file_opened = time.monotonic()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self.flush()
        finally:
            self.closed = True
            if self.file is not None:
                self.file.close()
                self.file = None
