# distutils: language = c++
"""LatencyHistogram: nanosecond latencies counted into fixed log buckets, in C.

Bucket ``b`` holds the latencies above ``UPPER_EDGES[b - 1]`` and up to ``UPPER_EDGES[b]``
(integer ns, about 10**((b + 1) / 20)), so a bucket's upper edge is a Prometheus ``le`` bound
exactly. Recording costs a binary search over 200 int64 edges and no Python object; from
Python, one call records one latency or a whole ring batch of them.
"""

cimport numpy as cnp
from libc.math cimport floor, pow
from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

cnp.import_array()

cdef int64_t EDGES[BUCKETS - 1]


cdef void fill_edges() noexcept:
    cdef int b
    for b in range(BUCKETS - 1):
        EDGES[b] = <int64_t>floor(pow(10.0, (b + 1) / <double>BUCKETS_PER_DECADE) + 1e-6)


fill_edges()

UPPER_EDGES: tuple = tuple(EDGES[b] for b in range(BUCKETS - 1))
"""The upper edge (ns, inclusive) of every bucket but the last, which is unbounded."""


cdef inline int bucket_of(int64_t ns) noexcept nogil:
    cdef int lo = 0
    cdef int hi = BUCKETS - 1      # EDGES[hi - 1] < ns <= EDGES[hi], with EDGES[BUCKETS-1] = inf
    cdef int mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if ns <= EDGES[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline int64_t wall_clock_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef class LatencyHistogram:
    """Counts latencies (ns) for p50/p90/p99/max read-outs and Prometheus buckets."""

    def __cinit__(self):
        memset(self.counts_, 0, sizeof(self.counts_))

    cdef void add(self, int64_t ns) noexcept nogil:
        if ns < 0:
            self.negative += 1
            ns = 0
        self.counts_[bucket_of(ns)] += 1
        self.total += 1
        self.sum_ns += ns
        if ns > self.maximum:
            self.maximum = ns

    cpdef void record(self, int64_t ns):
        self.add(ns)

    cpdef void record_since(self, int64_t ts_ns):
        """The time from ``ts_ns`` (CLOCK_REALTIME ns, as ``ts_receive``) to now; 0 is skipped."""
        if ts_ns > 0:
            self.add(wall_clock_ns() - ts_ns)

    def record_deltas(self, cnp.ndarray later not None, cnp.ndarray earlier not None):
        """``later[i] - earlier[i]`` for every row whose ``earlier`` is set (a venue that sends
        no exchange time leaves ``ts_exchange`` at 0): one call per ring batch. Takes int64
        vectors through numpy's C API: a typed memoryview would cost more than the rows."""
        cdef Py_ssize_t i, n
        cdef char* later_data
        cdef char* earlier_data
        cdef Py_ssize_t later_step, earlier_step
        cdef int64_t before
        for vector in (later, earlier):
            if cnp.PyArray_NDIM(vector) != 1 or cnp.PyArray_TYPE(vector) != cnp.NPY_INT64:
                raise TypeError("record_deltas takes 1-d int64 arrays")
        n = cnp.PyArray_DIM(later, 0)
        if cnp.PyArray_DIM(earlier, 0) != n:
            raise ValueError(f"{n} later values but {cnp.PyArray_DIM(earlier, 0)} earlier ones")
        later_data = <char*>cnp.PyArray_DATA(later)
        earlier_data = <char*>cnp.PyArray_DATA(earlier)
        later_step = cnp.PyArray_STRIDE(later, 0)
        earlier_step = cnp.PyArray_STRIDE(earlier, 0)
        for i in range(n):
            before = (<int64_t*>(earlier_data + i * earlier_step))[0]
            if before > 0:
                self.add((<int64_t*>(later_data + i * later_step))[0] - before)

    @property
    def counts(self) -> list:
        """Samples per bucket (``len(UPPER_EDGES) + 1`` of them, the last unbounded)."""
        return [self.counts_[b] for b in range(BUCKETS)]

    def percentile(self, double q) -> float:
        """The upper edge (ns) of the bucket holding the q-th percentile, at most the maximum
        seen; 0 when empty."""
        cdef double rank = q / 100.0 * self.total
        cdef int64_t seen = 0
        cdef int b
        if self.total == 0:
            return 0.0
        for b in range(BUCKETS):
            seen += self.counts_[b]
            if seen >= rank and seen > 0:
                if b == BUCKETS - 1 or EDGES[b] > self.maximum:
                    return float(self.maximum)
                return float(EDGES[b])
        return float(self.maximum)

    def summary(self) -> dict:
        return {"count": self.total, "p50_ns": self.percentile(50),
                "p90_ns": self.percentile(90), "p99_ns": self.percentile(99),
                "max_ns": float(self.maximum)}

    def merge(self, LatencyHistogram other not None) -> None:
        """Adds ``other``'s samples to this histogram."""
        cdef int b
        for b in range(BUCKETS):
            self.counts_[b] += other.counts_[b]
        self.total += other.total
        self.sum_ns += other.sum_ns
        self.negative += other.negative
        if other.maximum > self.maximum:
            self.maximum = other.maximum

    def copy(self) -> LatencyHistogram:
        cdef LatencyHistogram out = LatencyHistogram()
        memcpy(out.counts_, self.counts_, sizeof(self.counts_))
        out.total = self.total
        out.sum_ns = self.sum_ns
        out.maximum = self.maximum
        out.negative = self.negative
        return out

    def since(self, LatencyHistogram baseline not None) -> LatencyHistogram:
        """The samples recorded after ``baseline`` (an earlier ``copy()`` of this histogram).
        The maximum cannot be taken apart: it is this histogram's when samples were added
        since, else 0."""
        cdef LatencyHistogram out = LatencyHistogram()
        cdef int b
        for b in range(BUCKETS):
            out.counts_[b] = self.counts_[b] - baseline.counts_[b]
        out.total = self.total - baseline.total
        out.sum_ns = self.sum_ns - baseline.sum_ns
        out.negative = self.negative - baseline.negative
        out.maximum = self.maximum if out.total else 0
        return out

    def reset(self) -> None:
        memset(self.counts_, 0, sizeof(self.counts_))
        self.total = 0
        self.sum_ns = 0
        self.maximum = 0
        self.negative = 0

    def __repr__(self) -> str:
        return (f"LatencyHistogram(count={self.total}, p50={self.percentile(50):.0f}ns, "
                f"p99={self.percentile(99):.0f}ns, max={self.maximum}ns)")
