# distutils: language = c++
"""FeedListener: frames -> padded buffer -> venue decoder, one Python call per socket read.

The handler (the connection manager) sees ``on_connected(transport)``, ``on_batch(flags)``
once per socket read that produced something, ``on_fatal(reason)`` when a message had to be
thrown away (oversize, corrupt compression: the stream is no longer trustworthy, so the
connection must be renewed and its books resynced) and ``on_disconnected()``.
"""

from libc.stdint cimport int64_t
from libc.string cimport memset
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from picows.picows cimport WSFrame, WSListener, WSMsgType, WSTransport

from feedhandler.core.buffer cimport (
    PaddedBuffer,
    buffer_append,
    buffer_assign,
    buffer_free,
    buffer_init,
    buffer_reserve,
    buffer_shrink,
)
from feedhandler.core.decoder cimport DECODED_ERROR, RETAINED_CAPACITY, Decoder

cdef size_t MESSAGE_CAPACITY = 64 << 10    # the message buffer's usual size


cdef extern from "<string.h>" nogil:
    void* memmem(const void* haystack, size_t n, const void* needle, size_t m)


cdef extern from *:
    """
    #if defined(__GLIBC__)
    #include <malloc.h>
    static inline void feedhandler_release_heap(void) { malloc_trim(0); }
    #else
    static inline void feedhandler_release_heap(void) {}
    #endif
    """
    void release_heap "feedhandler_release_heap"() noexcept nogil


cdef extern from "zlib.h" nogil:
    int Z_OK
    int Z_STREAM_END
    int Z_BUF_ERROR
    int Z_NO_FLUSH
    int MAX_WBITS
    int inflateInit2(z_stream* strm, int window_bits)
    int inflate(z_stream* strm, int flush)
    int inflateReset2(z_stream* strm, int window_bits)
    int inflateEnd(z_stream* strm)


cdef inline int64_t now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


def wall_clock_ns() -> int:
    """The clock receive timestamps are taken with (CLOCK_REALTIME, ns)."""
    return now_ns()


COMPRESSION = {"none": COMPRESSION_NONE, "zlib": COMPRESSION_ZLIB, "gzip": COMPRESSION_ZLIB,
               "deflate": COMPRESSION_RAW}


cdef class FeedListener(WSListener):
    def __init__(self, Decoder decoder, handler, *, Py_ssize_t max_message_size=16 << 20,
                 str compression="none", bytes ping_payload=None, bytes pong_marker=None):
        """``compression`` applies to BINARY frames; TEXT frames are always plain JSON."""
        if compression not in COMPRESSION:
            raise ValueError(f"compression must be one of {sorted(COMPRESSION)}")
        if (ping_payload is None) != (pong_marker is None):
            raise ValueError("a venue text ping needs both ping_payload and pong_marker")
        self.decoder = decoder
        self.handler = handler
        self.compression = COMPRESSION[compression]
        self.ping_payload = ping_payload
        self.pong_marker = pong_marker
        if buffer_init(&self.message, MESSAGE_CAPACITY, max_message_size) < 0:
            raise MemoryError()
        if buffer_init(&self.compressed, 0, max_message_size) < 0:
            raise MemoryError()
        if self.compression != COMPRESSION_NONE:
            memset(&self.stream, 0, sizeof(z_stream))
            if inflateInit2(&self.stream, self.window_bits()) != Z_OK:
                raise MemoryError("zlib inflateInit2 failed")
            self.stream_ready = True

    def __dealloc__(self):
        buffer_free(&self.message)
        buffer_free(&self.compressed)
        if self.stream_ready:
            inflateEnd(&self.stream)

    cdef int window_bits(self) noexcept:
        return -MAX_WBITS if self.compression == COMPRESSION_RAW else MAX_WBITS + 32

    @property
    def max_message_size(self) -> int:
        return self.message.limit

    # ---- picows callbacks ----------------------------------------------------------------

    cpdef on_ws_connected(self, WSTransport transport):
        self.transport = transport
        self.last_receive_ns = now_ns()
        self.handler.on_connected(transport)

    cpdef on_ws_disconnected(self, WSTransport transport):
        self.handler.on_disconnected()

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef int64_t now = now_ns()
        cdef WSMsgType kind = frame.msg_type
        cdef size_t n = <size_t>frame.payload_size
        self.frames += 1
        self.bytes_received += n
        self.last_receive_ns = now
        if kind == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif self.receive_frame(kind, frame.fin, frame.payload_ptr, n, now):
            return
        if frame.last_in_buffer:
            if self.recorder is not None:
                self.recorder.read_end(now)
            if self.flags:
                self.deliver()

    cpdef send_user_specific_ping(self, WSTransport transport):
        if self.ping_payload is None:
            transport.send_ping()
        else:
            transport.send(WSMsgType.TEXT, self.ping_payload)

    cpdef is_user_specific_pong(self, WSFrame frame):
        if frame.msg_type == WSMsgType.PONG:
            return True
        if self.pong_marker is None or frame.msg_type != WSMsgType.TEXT:
            return False
        return memmem(frame.payload_ptr, frame.payload_size,
                      <const char*>self.pong_marker, len(self.pong_marker)) != NULL

    # ---- internals -----------------------------------------------------------------------

    cdef int receive_frame(self, WSMsgType kind, bint fin, const char* p, size_t n,
                           int64_t now) except -1:
        """A data frame: whole messages decoded, fragments assembled (RFC 6455 5.4); 1 when
        the frame broke the message sequence (the socket's other frames are not delivered)."""
        if kind == WSMsgType.TEXT or kind == WSMsgType.BINARY:
            if self.assembling:
                self.fatal("new message before the previous fragmented one ended")
                return 1
            self.assembling_binary = kind == WSMsgType.BINARY
            if fin:
                self.receive_whole(p, n, self.assembling_binary, now)
            else:
                self.assembling = True
                self.compressed.size = 0
                self.message.size = 0
                self.append_fragment(p, n)
        elif kind == WSMsgType.CONTINUATION:
            if not self.assembling:
                self.fatal("continuation frame without a message")
                return 1
            if self.append_fragment(p, n) == 0 and fin:
                self.assembling = False
                if self.assembling_binary and self.compression != COMPRESSION_NONE:
                    if self.recorder is not None:
                        self.record(self.compressed.data, self.compressed.size, True, now)
                    if self.inflate_into_message(self.compressed.data, self.compressed.size) == 0:
                        self.finish_message(True, now)
                else:
                    if self.recorder is not None:
                        self.record(self.message.data, self.message.size, self.assembling_binary,
                                    now)
                    self.finish_message(self.assembling_binary, now)
        if not self.assembling:
            self.release_large()
        return 0

    cdef int receive_whole(self, const char* p, size_t n, bint binary, int64_t now) except -1:
        """One unfragmented message: inflated or copied into ``message``, then decoded."""
        if self.recorder is not None:
            self.record(p, n, binary, now)
        if binary and self.compression != COMPRESSION_NONE:
            if self.inflate_into_message(p, n) == 0:
                self.finish_message(True, now)
        elif buffer_assign(&self.message, p, n) < 0:
            self.oversize += 1
            self.fatal(f"message of {n} bytes exceeds max_message_size {self.message.limit}")
        else:
            self.finish_message(binary, now)
        return 0

    cdef void release_large(self) noexcept:
        """After a message that grew the buffers past RETAINED_CAPACITY (a large or garbage
        frame under the size limit): they and the decoder's parsers shrink back, so a connection
        holds memory for the messages it usually gets, not for the largest it ever got."""
        if self.message.capacity <= RETAINED_CAPACITY and \
                self.compressed.capacity <= RETAINED_CAPACITY:
            return
        buffer_shrink(&self.message, MESSAGE_CAPACITY)
        buffer_shrink(&self.compressed, 0)
        self.decoder.trim()
        # glibc raises its mmap and trim thresholds to the size of the blocks just freed, so the
        # next large message would come from the heap and stay there: hand the heap's free top
        # back now (rare: only after a message over RETAINED_CAPACITY)
        release_heap()

    cdef int record(self, const char* p, size_t n, bint binary, int64_t now) except -1:
        """Hands the whole message, as it came off the wire (still compressed), to the
        recorder; its errors are its own (counted there), never the stream's."""
        self.recorder.frame(p[:n], binary, now)
        return 0

    cdef int append_fragment(self, const char* p, size_t n) except -1:
        cdef PaddedBuffer* target = &self.message
        if self.assembling_binary and self.compression != COMPRESSION_NONE:
            target = &self.compressed
        if buffer_append(target, p, n) < 0:
            self.assembling = False
            self.oversize += 1
            self.fatal(f"fragmented message exceeds max_message_size {self.message.limit}")
            return 1
        return 0

    cdef int inflate_into_message(self, const char* p, size_t n) noexcept:
        """Inflates one whole compressed message into ``message``; -1 (and fatal) on failure."""
        cdef int status
        cdef size_t produced
        if inflateReset2(&self.stream, self.window_bits()) != Z_OK:
            return self.inflate_failed("zlib reset failed")
        self.stream.next_in = <unsigned char*>p
        self.stream.avail_in = <unsigned int>n
        self.message.size = 0
        while True:
            if self.message.capacity - self.message.size < 4096:
                if buffer_reserve(&self.message, self.message.capacity * 2) < 0:
                    if buffer_reserve(&self.message, self.message.limit) < 0 or \
                            self.message.capacity == self.message.size:
                        self.oversize += 1
                        return self.inflate_failed("inflated message exceeds max_message_size")
            self.stream.next_out = <unsigned char*>self.message.data + self.message.size
            self.stream.avail_out = <unsigned int>(self.message.capacity - self.message.size)
            status = inflate(&self.stream, Z_NO_FLUSH)
            produced = (self.message.capacity - self.message.size) - self.stream.avail_out
            self.message.size += produced
            if status == Z_STREAM_END:
                return 0
            if status != Z_OK and not (status == Z_BUF_ERROR and self.stream.avail_in > 0):
                return self.inflate_failed("corrupt compressed message")
            if self.stream.avail_in == 0 and produced == 0:
                return self.inflate_failed("truncated compressed message")

    cdef int inflate_failed(self, str reason) noexcept:
        self.inflate_failures += 1
        try:
            self.fatal(reason)
        except BaseException:
            pass
        return -1

    cdef int finish_message(self, bint binary, int64_t now) except -1:
        cdef int decoded
        self.messages += 1
        self.decoder.messages += 1
        try:
            decoded = self.decoder.decode_message(self.message.data, self.message.size, now)
        except Exception as exc:
            self.decoder_exceptions += 1
            self.decoder.last_error = f"{type(exc).__name__}: {exc}"
            decoded = DECODED_ERROR
        self.flags |= decoded
        self.decoder.count_message(decoded, self.message.size)
        return 0

    cdef int fatal(self, str reason) except -1:
        self.handler.on_fatal(reason)
        return 0

    cdef void deliver(self):
        cdef int flags = self.flags
        self.flags = 0
        self.handler.on_batch(flags)

    def feed_many(self, list messages, bint binary=False) -> int:
        """Decodes whole messages (``bytes``; as BINARY frames when ``binary``, so inflated
        when the venue compresses) exactly as if they had arrived on the socket, without
        delivering: replay and benchmarks drive the same path as live frames."""
        cdef bytes message
        cdef Py_ssize_t n
        for message in messages:
            n = len(message)
            self.frames += 1
            self.bytes_received += n
            self.receive_whole(<const char*>message, <size_t>n, binary, now_ns())
            self.release_large()
        return len(messages)

    def feed_frame(self, int kind, bint fin, bytes payload) -> None:
        """One data frame (``kind`` a WSMsgType: TEXT, BINARY or CONTINUATION) as if it had
        arrived on the socket, without delivering: the fuzzers and tests drive reassembly
        through it."""
        if kind != WSMsgType.TEXT and kind != WSMsgType.BINARY and kind != WSMsgType.CONTINUATION:
            raise ValueError(f"not a data frame type: {kind}")
        self.frames += 1
        self.bytes_received += len(payload)
        self.receive_frame(<WSMsgType>kind, fin, <const char*>payload, <size_t>len(payload),
                           now_ns())

    def flush(self) -> None:
        """Delivers what was decoded but not yet handed over (used by tests and replay)."""
        if self.flags:
            self.deliver()
