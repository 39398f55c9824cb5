"""The picows listener that turns frames into decoded rows with no Python call per frame."""

from libc.stdint cimport int64_t

from picows.picows cimport WSFrame, WSListener, WSMsgType, WSTransport

from feedhandler.core.buffer cimport PaddedBuffer
from feedhandler.core.decoder cimport Decoder


cdef extern from "zlib.h" nogil:
    ctypedef struct z_stream:
        unsigned char* next_in
        unsigned int avail_in
        unsigned char* next_out
        unsigned int avail_out
        const char* msg


cdef enum Compression:
    COMPRESSION_NONE = 0
    COMPRESSION_ZLIB = 1     # gzip or zlib header, detected per message (HTX gzips every frame)
    COMPRESSION_RAW = 2      # raw deflate without header


cdef class FeedListener(WSListener):
    cdef readonly Decoder decoder
    cdef readonly object handler
    cdef readonly WSTransport transport
    cdef PaddedBuffer message         # the message being decoded (inflated or copied)
    cdef PaddedBuffer compressed      # fragments of a compressed message until its last frame
    cdef z_stream stream
    cdef bint stream_ready
    cdef int compression
    cdef int flags                    # DecodeFlags gathered since the last batch
    cdef bint assembling
    cdef bint assembling_binary
    cdef bytes ping_payload           # a venue text ping; None means WebSocket PING frames
    cdef bytes pong_marker            # bytes that identify the venue's text pong
    cdef public object recorder       # feedhandler.record tap given each whole message; None: off
    cdef readonly int64_t frames
    cdef readonly int64_t messages
    cdef readonly int64_t bytes_received
    cdef readonly int64_t last_receive_ns
    cdef readonly int64_t oversize
    cdef readonly int64_t inflate_failures
    cdef readonly int64_t decoder_exceptions

    cdef int receive_frame(self, WSMsgType kind, bint fin, const char* p, size_t n,
                           int64_t now) except -1
    cdef int receive_whole(self, const char* p, size_t n, bint binary, int64_t now) except -1
    cdef void release_large(self) noexcept
    cdef int record(self, const char* p, size_t n, bint binary, int64_t now) except -1
    cdef int finish_message(self, bint binary, int64_t now) except -1
    cdef int inflate_into_message(self, const char* p, size_t n) noexcept
    cdef int fatal(self, str reason) except -1
    cdef int append_fragment(self, const char* p, size_t n) except -1
    cdef int inflate_failed(self, str reason) noexcept
    cdef int window_bits(self) noexcept
    cdef void deliver(self)
