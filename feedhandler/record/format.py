"""The recording container: a versioned file of zstd-compressed blocks of typed records.

A file is::

    MAGIC (8 bytes) | version u16 | reserved u16 | header length u32 | header (JSON, utf-8)
    block*          : compressed length u32 | raw length u32 | one zstd frame (checksummed)

Each block is an independent zstd frame, so a file cut short (the process was killed while
recording) loses only its last, partial block: the reader decompresses what is there and keeps
every whole record. A block holds records back to back::

    kind u8 | flags u8 | connection u16 | payload length u32 | ts_ns i64 | payload

``FRAME`` payloads are the messages exactly as they came off the wire (compressed ones still
compressed); the other kinds are what the book state depends on besides frames (decoder calls
such as REST snapshots, ``mark_live``, held updates replayed) and what replay delivers as live
(status events, and ``READ_END`` where a socket read ended, so that callbacks come in the same
batches), see ``feedhandler.record.tap``.
"""

from __future__ import annotations

import enum
import json
import struct
from typing import Any

MAGIC = b"FHREC\r\n\x1a"       # the \r\n\x1a catch text-mode mangling, as in PNG
VERSION = 1
SUFFIX = ".fhrec"
FILE_HEAD = struct.Struct("<8sHHI")
BLOCK_HEAD = struct.Struct("<II")
RECORD_HEAD = struct.Struct("<BBHIq")
MAX_BLOCK = 64 << 20           # a raw block longer than this is corruption, not data
MAX_HEADER = 16 << 20
FLAG_BINARY = 1                # FRAME: it arrived as a BINARY frame (else TEXT)


class Kind(enum.IntEnum):
    FRAME = 1          # one whole WebSocket message as received
    CALL = 2           # a decoder call that changes state: [method, args...] + raw bytes
    CONNECTION = 3     # a connection is recorded from here on: {id, name, venue, market}
    SUBSCRIBED = 4     # subscriptions a connection took on: [subscription...]
    UNSUBSCRIBED = 5   # subscriptions a connection let go: [subscription...]
    STATUS = 6         # a status event the connection reported: {kind, reason, slot}
    READ_END = 7       # the socket read that brought the frames before it ended: deliver


class RecordingError(Exception):
    """A recording that cannot be read: names the file and the byte offset where it went wrong."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__(f"{path}: at byte {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


def pack_json(value: Any, raw: bytes = b"") -> bytes:
    """A JSON document (length-prefixed) followed by raw bytes: CALL arguments and bodies."""
    text = json.dumps(value, separators=(",", ":")).encode()
    return struct.pack("<I", len(text)) + text + raw


def unpack_json(payload: bytes) -> tuple[Any, bytes]:
    (length,) = struct.unpack_from("<I", payload)
    if 4 + length > len(payload):
        raise ValueError("JSON part runs past the record")
    return json.loads(payload[4:4 + length]), payload[4 + length:]


def file_head(header: dict[str, Any]) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    return FILE_HEAD.pack(MAGIC, VERSION, 0, len(text)) + text
