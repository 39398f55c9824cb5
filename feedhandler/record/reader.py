"""Reads recording files back: the header, then each block decompressed, checked as it goes.

Anything that does not parse raises ``RecordingError`` with the file and byte offset. A file
cut short inside its last block (the recorder was killed) is not an error when ``allow_cut``:
the whole records of that block are returned and ``cut`` says where the file ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from feedhandler.record.format import (
    BLOCK_HEAD,
    FILE_HEAD,
    MAGIC,
    MAX_BLOCK,
    MAX_HEADER,
    RECORD_HEAD,
    SUFFIX,
    VERSION,
    Kind,
    RecordingError,
)

KINDS = frozenset(int(kind) for kind in Kind)


@dataclass(frozen=True, slots=True)
class Block:
    offset: int        # of the block in its file
    data: bytes        # the records, decompressed
    whole: bool        # False: the file ended inside this block; data is what could be read


def recording_files(paths: list[str | Path]) -> list[Path]:
    """Files given as they are; a directory stands for its ``*.fhrec`` files in name order
    (which is recording order)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(path.glob(f"*{SUFFIX}"))
            if not found:
                raise RecordingError(str(path), 0, f"no {SUFFIX} files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise RecordingError(str(path), 0, "no such file")
    return files


class RecordingFile:
    """One file: ``header`` on opening, then ``blocks()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        try:
            self.stream: BinaryIO = self.path.open("rb")
        except OSError as exc:
            raise RecordingError(self.name, 0, f"cannot open: {exc.strerror or exc}") from exc
        self.size = self.path.stat().st_size
        self.cut: int | None = None     # where a cut-short file ended, once blocks() saw it
        try:
            self.header = self.read_header()
        except BaseException:
            self.stream.close()
            raise

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> RecordingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error(self, offset: int, reason: str) -> RecordingError:
        return RecordingError(self.name, offset, reason)

    def read_header(self) -> dict[str, Any]:
        head = self.stream.read(FILE_HEAD.size)
        if len(head) < FILE_HEAD.size:
            raise self.error(0, "too short to be a recording (no file header)")
        magic, version, _, length = FILE_HEAD.unpack(head)
        if magic != MAGIC:
            raise self.error(0, "not a feedhandler recording (bad magic)")
        if version != VERSION:
            raise self.error(8, f"recording format version {version}; this build reads "
                                f"version {VERSION}")
        if length > MAX_HEADER:
            raise self.error(12, f"header length {length} is implausible")
        text = self.stream.read(length)
        if len(text) < length:
            raise self.error(FILE_HEAD.size, "file ends inside its header")
        try:
            header = json.loads(text)
        except ValueError as exc:
            raise self.error(FILE_HEAD.size, f"header is not JSON: {exc}") from exc
        if not isinstance(header, dict) or not isinstance(header.get("connections"), list):
            raise self.error(FILE_HEAD.size, "header has no connection list")
        return header

    def blocks(self, allow_cut: bool) -> Iterator[Block]:
        decompressor = zstandard.ZstdDecompressor()
        while True:
            offset = self.stream.tell()
            head = self.stream.read(BLOCK_HEAD.size)
            if not head:
                return
            if len(head) < BLOCK_HEAD.size:
                yield self.cut_short(offset, b"", allow_cut)
                return
            compressed_length, raw_length = BLOCK_HEAD.unpack(head)
            if raw_length > MAX_BLOCK or compressed_length > MAX_BLOCK:
                raise self.error(offset, f"block lengths {compressed_length}/{raw_length} are "
                                         "implausible")
            frame = self.stream.read(compressed_length)
            if len(frame) < compressed_length:
                try:
                    partial = decompressor.decompressobj().decompress(frame)
                except zstandard.ZstdError:
                    partial = b""
                yield self.cut_short(offset, partial, allow_cut)
                return
            try:
                data = decompressor.decompress(frame, max_output_size=raw_length)
            except zstandard.ZstdError as exc:
                raise self.error(offset, f"corrupt block: {exc}") from exc
            if len(data) != raw_length:
                raise self.error(offset, f"block holds {len(data)} bytes, its head says "
                                         f"{raw_length}")
            yield Block(offset, data, True)

    def cut_short(self, offset: int, partial: bytes, allow_cut: bool) -> Block:
        if not allow_cut:
            raise self.error(offset, "file ends inside a block (only the last file of a "
                                     "recording may be cut short)")
        self.cut = offset
        return Block(offset, partial, False)

    def check_record(self, block: Block, position: int) -> tuple[int, int, int, int, int] | None:
        """The head (kind, flags, connection, length, ts) of the record at ``position``;
        None where a cut-short block ends; RecordingError for anything malformed."""
        data = block.data
        end = position + RECORD_HEAD.size
        if end > len(data) or end + RECORD_HEAD.unpack_from(data, position)[3] > len(data):
            if not block.whole:
                return None
            raise self.error(block.offset, f"record at {position} of the block runs past it")
        head: tuple[int, int, int, int, int] = RECORD_HEAD.unpack_from(data, position)
        if head[0] not in KINDS:
            raise self.error(block.offset, f"record at {position} of the block has unknown "
                                           f"kind {head[0]}")
        return head
