# distutils: language = c++
"""The two per-record loops, in C: appending a record while recording, and feeding the FRAME
records of a decompressed block to a listener during replay.

Replay spends its time in ``feed_frames``: one Python call per run of frames from one
connection, not one per frame. The record layout is ``format.RECORD_HEAD`` (little-endian, as
written on x86-64 and aarch64 alike).
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport INT64_MAX, int64_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from feedhandler.core.listener cimport FeedListener

cdef enum:
    HEAD_SIZE = 16
    KIND_FRAME = 1
    KIND_READ_END = 7
    FLAG_BINARY = 1


def append_record(bytearray block, int kind, int flags, int connection, int64_t ts_ns,
                  bytes payload) -> int:
    """Appends one record (head and payload) to ``block`` in place; returns its new size."""
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(block)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(payload)
    cdef uint16_t owner = <uint16_t>connection
    cdef uint32_t length = <uint32_t>n
    cdef char* out
    if not 0 <= connection <= 0xFFFF or not 0 <= kind <= 0xFF or not 0 <= flags <= 0xFF:
        raise ValueError(f"record head out of range: kind {kind} flags {flags} "
                         f"connection {connection}")
    if n > 0xFFFFFFFF:
        raise ValueError(f"record payload of {n} bytes is too long")
    PyByteArray_Resize(block, size + HEAD_SIZE + n)
    out = PyByteArray_AS_STRING(block) + size
    out[0] = <char><uint8_t>kind
    out[1] = <char><uint8_t>flags
    memcpy(out + 2, &owner, 2)
    memcpy(out + 4, &length, 4)
    memcpy(out + 8, &ts_ns, 8)
    memcpy(out + HEAD_SIZE, PyBytes_AS_STRING(payload), n)
    return size + HEAD_SIZE + n


def feed_frames(FeedListener listener, const unsigned char[::1] block, Py_ssize_t offset,
                int connection, int64_t until_ns=INT64_MAX, bint through_reads=False) -> tuple:
    """Feeds the FRAME records of ``connection`` from ``offset`` on through ``listener``
    exactly as if they had been received (their recorded receive time included), stopping at
    the first other record, one received after ``until_ns``, or a record cut short; the
    connection's READ_END (where live delivery happened) is passed and ends the run unless
    ``through_reads``. Returns (offset reached, frames fed, whether a READ_END ended the run);
    nothing is delivered (the caller flushes)."""
    cdef Py_ssize_t end = block.shape[0]
    cdef const unsigned char* base
    cdef uint16_t owner
    cdef uint32_t length
    cdef int64_t ts
    cdef Py_ssize_t fed = 0
    cdef bint read_ended = False
    if offset < 0 or end == 0:
        return offset, 0, False
    base = &block[0]
    while offset + HEAD_SIZE <= end:
        memcpy(&owner, base + offset + 2, 2)
        memcpy(&length, base + offset + 4, 4)
        memcpy(&ts, base + offset + 8, 8)
        if owner != connection:
            break
        if base[offset] == KIND_READ_END and length == 0:
            offset += HEAD_SIZE
            if through_reads:
                continue
            read_ended = True
            break
        if base[offset] != KIND_FRAME or ts > until_ns:
            break
        if offset + HEAD_SIZE + <Py_ssize_t>length > end:
            break
        listener.frames += 1
        listener.bytes_received += length
        listener.receive_whole(<const char*>(base + offset + HEAD_SIZE), length,
                               (base[offset + 1] & FLAG_BINARY) != 0, ts)
        offset += HEAD_SIZE + length
        fed += 1
    return offset, fed, read_ended
