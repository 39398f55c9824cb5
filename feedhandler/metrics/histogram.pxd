"""LatencyHistogram: nanosecond latencies counted into fixed log buckets, in C."""

from libc.stdint cimport int64_t

cdef enum:
    BUCKETS_PER_DECADE = 20     # each bucket about 12% wide
    DECADES = 10                # 1 ns .. 10 s; the last bucket holds everything slower
    BUCKETS = BUCKETS_PER_DECADE * DECADES + 1


cdef class LatencyHistogram:
    cdef int64_t counts_[BUCKETS]
    cdef readonly int64_t total
    cdef readonly int64_t sum_ns
    cdef readonly int64_t maximum
    cdef readonly int64_t negative     # deltas below 0 (the two clocks disagree), counted as 0

    cdef void add(self, int64_t ns) noexcept nogil
    cpdef void record(self, int64_t ns)
    cpdef void record_since(self, int64_t ts_ns)
