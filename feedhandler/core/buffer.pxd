"""A reusable parse buffer with simdjson's padding past the end of every message.

simdjson reads (but never interprets) up to ``PADDING`` bytes past a document, and Python
``bytes`` or picows' read buffer promise no such slack, so each message is copied once into
one of these. The allocation is zeroed once; growth is bounded by ``limit``.
"""

from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcpy, memset

cdef enum:
    PADDING = 64        # == SIMDJSON_PADDING (asserted where simdjson.h is included)


cdef struct PaddedBuffer:
    char* data
    size_t size          # bytes of the current message
    size_t capacity      # bytes a message may use before a reallocation
    size_t limit         # the largest message accepted


cdef inline int buffer_init(PaddedBuffer* b, size_t capacity, size_t limit) noexcept nogil:
    if capacity > limit:
        capacity = limit
    b.data = <char*>calloc(capacity + PADDING, 1)
    b.size = 0
    b.capacity = capacity if b.data != NULL else 0
    b.limit = limit
    return 0 if b.data != NULL else -1


cdef inline void buffer_free(PaddedBuffer* b) noexcept nogil:
    free(b.data)
    b.data = NULL
    b.size = b.capacity = 0


cdef inline int buffer_reserve(PaddedBuffer* b, size_t needed) noexcept nogil:
    """0 when ``needed`` bytes fit (growing if allowed), -1 past ``limit`` or out of memory."""
    cdef size_t capacity
    cdef char* grown
    if needed > b.limit:
        return -1
    if needed <= b.capacity:
        return 0
    capacity = b.capacity * 2 if b.capacity else 4096
    while capacity < needed:
        capacity *= 2
    if capacity > b.limit:
        capacity = b.limit
    grown = <char*>realloc(b.data, capacity + PADDING)
    if grown == NULL:
        return -1
    memset(grown + b.capacity, 0, capacity + PADDING - b.capacity)
    b.data = grown
    b.capacity = capacity
    return 0


cdef inline void buffer_shrink(PaddedBuffer* b, size_t capacity) noexcept nogil:
    """Gives back what one large message grew the buffer to (its content is dropped)."""
    cdef char* shrunk
    if capacity >= b.capacity:
        return
    shrunk = <char*>realloc(b.data, capacity + PADDING)
    if shrunk != NULL:      # a failed shrink keeps the larger block: still valid
        b.data = shrunk
        b.capacity = capacity
    b.size = 0


cdef inline int buffer_assign(PaddedBuffer* b, const char* p, size_t n) noexcept nogil:
    if buffer_reserve(b, n) < 0:
        return -1
    memcpy(b.data, p, n)
    b.size = n
    return 0


cdef inline int buffer_append(PaddedBuffer* b, const char* p, size_t n) noexcept nogil:
    if buffer_reserve(b, b.size + n) < 0:
        return -1
    memcpy(b.data + b.size, p, n)
    b.size += n
    return 0
