"""L2 order book on exact int64 fixed-point prices and sizes (the contract venue decoders use).

A price ``p`` means ``p / 10**price_scale``; a size ``s`` means ``s / 10**size_scale``.
Side 0 is bids, side 1 is asks. Every level lives in C memory whose size is bounded by
``max_levels`` per side; nothing here allocates a Python object per level.
"""

cimport cython
from libc.stdint cimport int64_t, uint64_t

cpdef enum:
    BID = 0
    ASK = 1

cpdef enum BookStatus:
    BOOK_OK = 0
    BOOK_FULL = 1        # max_levels reached: the book is no longer exact and must be resynced
    BOOK_BAD_LEVEL = 2   # price <= 0, size < 0 or side not 0/1
    BOOK_OFF_GRID = 3    # price not a multiple of tick (only when the book enforces its grid)

cdef const int64_t NO_PRICE = 0   # best_*_price() of an empty side


cdef struct LevelArray:
    # levels outside the ladder window, ascending by key (see Side) so the best is the tail;
    # used slots are [start, start + count) with free room at both ends, so inserting at
    # either end (snapshots arrive best-first or worst-first) and truncating are O(1)
    int64_t* keys
    int64_t* sizes
    Py_ssize_t start
    Py_ssize_t count
    Py_ssize_t capacity


cdef struct Ladder:
    # dense sizes for keys base + i*tick, i in [0, ladder_width); sizes[i] means something only
    # where bit i of the occupancy bitmap is set, so deletes and clears never touch sizes
    int64_t* sizes
    uint64_t* bitmap
    int64_t base         # a multiple of tick
    Py_ssize_t count
    Py_ssize_t best      # highest occupied slot, -1 when the ladder is empty


cdef struct Side:
    # keyed by price for bids and -price for asks, so on both sides the best level is the
    # highest key and one code path serves both
    Ladder ladder
    LevelArray outside   # every level that is off the tick grid or outside the ladder window


# final: the loops inside book.pyx call these methods directly and the compiler inlines them
# (8-9 ns instead of 14 per update + best reads); other modules still call through the vtable
@cython.final
cdef class OrderBook:
    cdef readonly int price_scale
    cdef readonly int size_scale
    cdef readonly int64_t tick
    cdef readonly Py_ssize_t depth_limit     # 0: unlimited; else truncate() keeps the best N
    cdef readonly Py_ssize_t view_depth      # 0: all; else the Python API shows the best N
    cdef readonly Py_ssize_t max_levels      # hard bound per side
    cdef public int64_t sequence             # venue sequence of the last applied update
    cdef public int64_t update_count         # levels applied since creation
    cdef public int64_t ts_exchange          # ns, of the last applied update
    cdef public int64_t ts_receive           # ns, of the last applied update
    cdef public bint valid                   # False while unsynchronised: never serve it then
    cdef readonly Py_ssize_t ladder_width    # slots in each side's dense window
    cdef uint64_t _span                      # ladder_width * tick
    cdef int64_t _min_base, _max_base        # window bases that keep every slot key in int64
    cdef Side sides[2]

    cdef int apply_level(self, int side, int64_t price, int64_t size) noexcept nogil
    cdef void clear_levels(self) noexcept nogil
    cdef void truncate_depth(self) noexcept nogil
    cdef int64_t best_price(self, int side) noexcept nogil
    cdef int64_t best_size(self, int side) noexcept nogil
    cdef Py_ssize_t level_count(self, int side) noexcept nogil
    cdef bint crossed(self) noexcept nogil
    cdef Py_ssize_t copy_top(self, int side, Py_ssize_t n, int64_t* prices, int64_t* sizes) noexcept nogil
    cdef Py_ssize_t shown(self, int side) noexcept nogil     # levels the Python API shows
