# distutils: language = c++
"""L2 order book: a dense tick ladder around the touch, sorted arrays for every other level.

Why this shape: venues update mostly near the touch, and the hot path reads the best bid and ask
after every update. A dense window of ``ladder_width`` slots (sizes indexed by
``(key - base) / tick`` plus an occupancy bitmap scanned with clz/ctz) makes both O(1). Levels
the window cannot hold (deep levels, prices far from the touch, prices off the tick grid) stay
exact in sorted arrays, so no price is ever rounded or dropped. Measured with ``bench/book.py``
(1 M updates, ~1000 levels per side, best bid and ask read after each, same run): 8-9 ns per
update with the ladder; 45 ns uniform / 17 ns near-top when ~95% of levels sit in the sorted
arrays (``ladder_width=64``); 0.9-1.6 us for ``SortedDict``. Dividing by a tick other than 1
cost nothing measurable, and caching the best level instead of deriving it could save at most
the 2 ns that the four best reads cost, so neither has a special path.

Both sides are keyed so that the best level is the highest key (``price`` for bids, ``-price``
for asks): one code path serves both. The window is re-centred, in O(levels), when the touch
leaves its upper three quarters; the touch lands 3/4 of the way up, so it must move a quarter
window up or half a window down before the next re-centre.
"""

from libc.stdint cimport INT64_MAX, int8_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memmove, memset

import numpy as np

from feedhandler.core.fixedpoint cimport format_decimal

cdef extern from *:
    """
    /* best key of an empty side: lower than every key, since keys are +-[1, INT64_MAX] */
    static const int64_t feedhandler_book_empty_key = INT64_MIN;
    """
    const int64_t EMPTY_KEY "feedhandler_book_empty_key"
    int count_leading_zeros "__builtin_clzll"(unsigned long long bits) nogil
    int count_trailing_zeros "__builtin_ctzll"(unsigned long long bits) nogil

cdef const uint64_t ONE = 1


class BookError(ValueError):
    """A level the book refused; ``status`` tells a resync (BOOK_FULL) from bad input."""

    def __init__(self, int status, str message):
        self.status = BookStatus(status)
        super().__init__(message)


# ---- occupancy bitmap -------------------------------------------------------------------------

cdef inline Py_ssize_t highest_below(const uint64_t* bitmap, Py_ssize_t slot) noexcept nogil:
    """Highest occupied slot < ``slot``, -1 if none."""
    cdef Py_ssize_t word = slot >> 6
    cdef uint64_t bits = bitmap[word] & ((ONE << (slot & 63)) - 1)
    while bits == 0:
        if word == 0:
            return -1
        word -= 1
        bits = bitmap[word]
    return (word << 6) + 63 - count_leading_zeros(bits)


cdef inline Py_ssize_t lowest_from(
    const uint64_t* bitmap, Py_ssize_t words, Py_ssize_t slot
) noexcept nogil:
    """Lowest occupied slot >= ``slot``, -1 if none."""
    cdef Py_ssize_t word = slot >> 6
    cdef uint64_t bits
    if word >= words:
        return -1
    bits = bitmap[word] & (~<uint64_t>0 << (slot & 63))
    while bits == 0:
        word += 1
        if word == words:
            return -1
        bits = bitmap[word]
    return (word << 6) + count_trailing_zeros(bits)


# ---- sorted level array with free room at both ends -------------------------------------------

cdef inline Py_ssize_t lower_bound(const LevelArray* levels, int64_t key) noexcept nogil:
    """Index (from ``start``) of the first key >= ``key``. Branch-free steps, since a random
    lookup's comparisons cannot be predicted: 67 -> 45 ns per update with ladder_width=64."""
    cdef const int64_t* keys = levels.keys + levels.start
    cdef const int64_t* first = keys
    cdef Py_ssize_t n = levels.count
    cdef Py_ssize_t half
    if n == 0:
        return 0
    while n > 1:
        half = n >> 1
        first += half * (first[half - 1] < key)
        n -= half
    return (first - keys) + (first[0] < key)


cdef bint reserve(LevelArray* levels, Py_ssize_t needed, Py_ssize_t limit) noexcept nogil:
    """Grows to hold ``needed`` levels, never past ``limit``; False when memory runs out."""
    cdef Py_ssize_t capacity
    cdef int64_t* grown
    if needed <= levels.capacity:
        return True
    capacity = max(needed, 2 * levels.capacity, 64)
    capacity = min(capacity, max(limit, needed))
    grown = <int64_t*>realloc(levels.keys, capacity * sizeof(int64_t))
    if grown == NULL:
        return False
    levels.keys = grown
    grown = <int64_t*>realloc(levels.sizes, capacity * sizeof(int64_t))
    if grown == NULL:
        return False
    levels.sizes = grown
    levels.capacity = capacity
    return True


cdef void spread(LevelArray* levels) noexcept nogil:
    """Moves the used slots to the middle so that both ends have free room again."""
    cdef Py_ssize_t start = (levels.capacity - levels.count) >> 1
    memmove(levels.keys + start, levels.keys + levels.start, levels.count * sizeof(int64_t))
    memmove(levels.sizes + start, levels.sizes + levels.start, levels.count * sizeof(int64_t))
    levels.start = start


cdef bint insert_at(
    LevelArray* levels, Py_ssize_t pos, int64_t key, int64_t size, Py_ssize_t limit
) noexcept nogil:
    """Inserts before ``pos``, moving whichever part is shorter; False when memory runs out."""
    cdef bint move_head
    cdef int64_t* keys
    cdef int64_t* sizes
    if levels.count == levels.capacity:
        if not reserve(levels, levels.count + 1, limit):
            return False
        spread(levels)
    move_head = pos < levels.count - pos
    if (levels.start == 0) if move_head else (levels.start + levels.count == levels.capacity):
        spread(levels)
    keys = levels.keys + levels.start
    sizes = levels.sizes + levels.start
    if levels.start > 0 and (move_head or levels.start + levels.count == levels.capacity):
        memmove(keys - 1, keys, pos * sizeof(int64_t))
        memmove(sizes - 1, sizes, pos * sizeof(int64_t))
        levels.start -= 1
    else:
        memmove(keys + pos + 1, keys + pos, (levels.count - pos) * sizeof(int64_t))
        memmove(sizes + pos + 1, sizes + pos, (levels.count - pos) * sizeof(int64_t))
    levels.keys[levels.start + pos] = key
    levels.sizes[levels.start + pos] = size
    levels.count += 1
    return True


cdef void erase_at(LevelArray* levels, Py_ssize_t pos) noexcept nogil:
    """Removes the level at ``pos``, moving whichever part is shorter."""
    cdef int64_t* keys = levels.keys + levels.start
    cdef int64_t* sizes = levels.sizes + levels.start
    cdef Py_ssize_t after = levels.count - 1 - pos
    if pos < after:
        memmove(keys + 1, keys, pos * sizeof(int64_t))
        memmove(sizes + 1, sizes, pos * sizeof(int64_t))
        levels.start += 1
    else:
        memmove(keys + pos, keys + pos + 1, after * sizeof(int64_t))
        memmove(sizes + pos, sizes + pos + 1, after * sizeof(int64_t))
    levels.count -= 1


# ---- one side: ladder + outside levels ---------------------------------------------------------

cdef inline int64_t best_level(OrderBook book, const Side* side, int64_t* size) noexcept nogil:
    """The best key, EMPTY_KEY (size 0) for an empty side: the ladder's best or the array's tail."""
    cdef int64_t key = EMPTY_KEY
    cdef Py_ssize_t tail
    size[0] = 0
    if side.ladder.best >= 0:
        key = side.ladder.base + side.ladder.best * book.tick
        size[0] = side.ladder.sizes[side.ladder.best]
    if side.outside.count:
        tail = side.outside.start + side.outside.count - 1
        if side.outside.keys[tail] > key:
            key = side.outside.keys[tail]
            size[0] = side.outside.sizes[tail]
    return key


cdef inline int64_t best_key(OrderBook book, const Side* side) noexcept nogil:
    cdef int64_t size
    return best_level(book, side, &size)


cdef inline Py_ssize_t slot_of(OrderBook book, const Ladder* ladder, int64_t key) noexcept nogil:
    """The ladder slot of ``key``, -1 when it is outside the window or off the tick grid."""
    cdef uint64_t offset = <uint64_t>key - <uint64_t>ladder.base
    cdef uint64_t slot = offset / <uint64_t>book.tick
    if offset >= book._span or slot * <uint64_t>book.tick != offset:
        return -1
    return <Py_ssize_t>slot


cdef inline void occupy(Ladder* ladder, Py_ssize_t slot, int64_t size) noexcept nogil:
    """Fills an empty slot that is above every occupied one (levels arrive in key order)."""
    ladder.bitmap[slot >> 6] |= ONE << (slot & 63)
    ladder.sizes[slot] = size
    ladder.count += 1
    ladder.best = slot


cdef inline int64_t window_base(OrderBook book, int64_t touch) noexcept nogil:
    """The base that puts ``touch`` 3/4 of the way up the window (clamped to int64)."""
    cdef int64_t below = <int64_t>(book.ladder_width - (book.ladder_width >> 2)) * book.tick
    cdef int64_t remainder
    if touch < book._min_base + below:
        return book._min_base
    remainder = touch % book.tick
    if remainder < 0:
        remainder += book.tick
    return min(touch - remainder - below, book._max_base)


cdef void recentre(OrderBook book, Side* side, int64_t touch) noexcept nogil:
    """Rebuilds the window around ``touch``: the ladder empties into the sorted array, then the
    on-grid levels of the new window move back; O(levels). Left as is when memory runs out,
    which costs speed only."""
    cdef Ladder* ladder = &side.ladder
    cdef LevelArray* outside = &side.outside
    cdef int64_t base = window_base(book, touch)
    cdef Py_ssize_t total = ladder.count + outside.count
    cdef Py_ssize_t read, write, slot
    cdef int64_t key
    if base == ladder.base or not reserve(outside, total, book.max_levels):
        return
    memmove(outside.keys, outside.keys + outside.start, outside.count * sizeof(int64_t))
    memmove(outside.sizes, outside.sizes + outside.start, outside.count * sizeof(int64_t))
    outside.start = 0
    # merge from the back: the ladder yields its keys in descending order
    read = outside.count - 1
    write = total - 1
    slot = ladder.best
    while slot >= 0:
        key = ladder.base + slot * book.tick
        while read >= 0 and outside.keys[read] > key:
            outside.keys[write] = outside.keys[read]
            outside.sizes[write] = outside.sizes[read]
            write -= 1
            read -= 1
        outside.keys[write] = key
        outside.sizes[write] = ladder.sizes[slot]
        write -= 1
        slot = highest_below(ladder.bitmap, slot)
    outside.count = total
    memset(ladder.bitmap, 0, (book.ladder_width >> 6) * sizeof(uint64_t))
    ladder.count = 0
    ladder.best = -1
    ladder.base = base
    # every key from base up lies in the new window (none is above the touch): pull the on-grid
    # ones into the ladder and close the gaps they leave
    read = lower_bound(outside, base)
    write = read
    while read < outside.count:
        slot = slot_of(book, ladder, outside.keys[read])
        if slot >= 0:
            occupy(ladder, slot, outside.sizes[read])
        else:
            outside.keys[write] = outside.keys[read]
            outside.sizes[write] = outside.sizes[read]
            write += 1
        read += 1
    outside.count = write


cdef void follow_touch(OrderBook book, Side* side) noexcept nogil:
    """Re-centres when the touch left the upper three quarters of the window."""
    cdef int64_t touch = best_key(book, side)
    cdef uint64_t offset
    if touch == EMPTY_KEY:
        return
    offset = <uint64_t>touch - <uint64_t>side.ladder.base
    if offset >= book._span or offset < <uint64_t>(book.ladder_width >> 2) * <uint64_t>book.tick:
        recentre(book, side, touch)


cdef inline int set_in_ladder(
    OrderBook book, Side* side, Py_ssize_t slot, int64_t size
) noexcept nogil:
    """The hot path. Only a new best in the window's lowest quarter or a deleted best can move
    the touch out of the upper three quarters, so only those look at the window."""
    cdef Ladder* ladder = &side.ladder
    cdef uint64_t* word = &ladder.bitmap[slot >> 6]
    cdef uint64_t bit = ONE << (slot & 63)
    if size > 0:
        ladder.sizes[slot] = size  # harmless if refused below: unset slots' sizes mean nothing
        if word[0] & bit:
            return BOOK_OK
        if ladder.count + side.outside.count >= book.max_levels:
            return BOOK_FULL
        word[0] |= bit
        ladder.count += 1
        if slot > ladder.best:
            ladder.best = slot
            if slot < (book.ladder_width >> 2):
                follow_touch(book, side)
        return BOOK_OK
    if word[0] & bit:
        word[0] &= ~bit
        ladder.count -= 1
        if slot == ladder.best:
            ladder.best = highest_below(ladder.bitmap, slot)
            follow_touch(book, side)
    return BOOK_OK


cdef int set_outside(OrderBook book, Side* side, int64_t key, int64_t size) noexcept nogil:
    """Only a new or removed tail (the best outside level) can move the touch. Out of memory is
    reported as BOOK_FULL: either way the book can no longer follow the venue."""
    cdef LevelArray* outside = &side.outside
    cdef Py_ssize_t pos = lower_bound(outside, key)
    cdef bint found = pos < outside.count and outside.keys[outside.start + pos] == key
    if size > 0:
        if found:
            outside.sizes[outside.start + pos] = size
            return BOOK_OK
        if side.ladder.count + outside.count >= book.max_levels:
            return BOOK_FULL
        if not insert_at(outside, pos, key, size, book.max_levels):
            return BOOK_FULL
        if pos == outside.count - 1:
            follow_touch(book, side)
        return BOOK_OK
    if found:
        erase_at(outside, pos)
        if pos == outside.count:
            follow_touch(book, side)
    return BOOK_OK


cdef void load_sorted(
    OrderBook book, Side* side, const int64_t* keys, const int64_t* sizes, Py_ssize_t n
) noexcept nogil:
    """Fills an empty side from n > 0 ascending unique keys; ``side.outside`` must hold n."""
    cdef Py_ssize_t i, slot
    side.ladder.base = window_base(book, keys[n - 1])
    side.outside.start = 0
    for i in range(n):
        slot = slot_of(book, &side.ladder, keys[i])
        if slot >= 0:
            occupy(&side.ladder, slot, sizes[i])
        else:
            side.outside.keys[side.outside.count] = keys[i]
            side.outside.sizes[side.outside.count] = sizes[i]
            side.outside.count += 1


# ---- Python-side helpers ----------------------------------------------------------------------

cdef str decimal_text(int64_t value, int scale):
    cdef char text[48]
    cdef size_t length = format_decimal(value, scale, -1, text)
    return text[:length].decode("ascii")


cdef str level_text(OrderBook book, int side):
    if book.level_count(side) == 0:
        return "None"
    return (
        f"{decimal_text(book.best_price(side), book.price_scale)} x "
        f"{decimal_text(book.best_size(side), book.size_scale)}"
    )


cdef object book_error(OrderBook book, int status, int side, int64_t price, int64_t size):
    if status == BOOK_FULL:
        return BookError(
            status,
            f"side {side} already holds max_levels={book.max_levels} levels; resync the book",
        )
    return BookError(status, f"bad level: side={side} price={price} size={size}")


cdef int check_side(int side) except -1:
    if side != BID and side != ASK:
        raise ValueError(f"side must be 0 (bids) or 1 (asks), got {side}")
    return side


def _snapshot_keys(prices, sizes, int side):
    """Snapshot rows -> ascending unique keys with sizes > 0, the last row of a price winning as if
    the rows were applied in order."""
    prices = _int64_array(prices, "prices")
    sizes = _int64_array(sizes, "sizes")
    if prices.shape != sizes.shape:
        raise ValueError(f"{len(prices)} prices but {len(sizes)} sizes")
    bad = np.flatnonzero((prices <= 0) | (sizes < 0))
    if bad.size:
        i = bad[0]
        raise BookError(
            BOOK_BAD_LEVEL, f"bad level: side={side} price={prices[i]} size={sizes[i]}"
        )
    keys = prices if side == BID else -prices
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    sizes = sizes[order]
    last_of_price = np.ones(len(keys), dtype=bool)
    last_of_price[: len(keys) - 1] = keys[1:] != keys[: len(keys) - 1]
    keep = last_of_price & (sizes > 0)
    return np.ascontiguousarray(keys[keep]), np.ascontiguousarray(sizes[keep])


def _int64_array(values, str name):
    array = np.asarray(values)
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be a 1-d integer array, got {array.dtype} {array.shape}")
    return array.astype(np.int64, casting="safe", copy=False)


cdef class OrderBook:
    """Exact L2 book on int64 fixed point; see the module docstring for the structure."""

    def __cinit__(
        self,
        int price_scale=8,
        int size_scale=8,
        int64_t tick=1,
        Py_ssize_t depth_limit=0,
        Py_ssize_t max_levels=65536,
        Py_ssize_t ladder_width=4096,
        Py_ssize_t view_depth=0,
    ):
        cdef int i
        cdef Side* side
        if not 0 <= price_scale <= 18 or not 0 <= size_scale <= 18:
            raise ValueError("price_scale and size_scale must be within 0..18")
        if tick <= 0:
            raise ValueError(f"tick must be > 0, got {tick}")
        if depth_limit < 0:
            raise ValueError(f"depth_limit must be >= 0, got {depth_limit}")
        if view_depth < 0:
            raise ValueError(f"view_depth must be >= 0, got {view_depth}")
        if max_levels <= 0:
            raise ValueError(f"max_levels must be > 0, got {max_levels}")
        if ladder_width < 64 or ladder_width % 64:
            raise ValueError(f"ladder_width must be a positive multiple of 64, got {ladder_width}")
        if tick > (<int64_t>1 << 62) // ladder_width:
            raise ValueError("ladder_width * tick must be <= 2**62")
        self.price_scale = price_scale
        self.size_scale = size_scale
        self.tick = tick
        self.depth_limit = depth_limit
        self.view_depth = view_depth
        self.max_levels = max_levels
        self.ladder_width = ladder_width
        self._span = <uint64_t>ladder_width * <uint64_t>tick
        self._min_base = -(INT64_MAX // tick) * tick
        self._max_base = ((INT64_MAX - <int64_t>self._span + 1) // tick) * tick
        for i in range(2):
            side = &self.sides[i]
            side.ladder.sizes = <int64_t*>malloc(ladder_width * sizeof(int64_t))
            side.ladder.bitmap = <uint64_t*>calloc(ladder_width >> 6, sizeof(uint64_t))
            if side.ladder.sizes == NULL or side.ladder.bitmap == NULL:
                raise MemoryError()
            side.ladder.best = -1

    def __dealloc__(self):
        cdef int i
        cdef Side* side
        for i in range(2):
            side = &self.sides[i]
            free(side.ladder.sizes)
            free(side.ladder.bitmap)
            free(side.outside.keys)
            free(side.outside.sizes)

    # ---- the contract (book.pxd) ------------------------------------------------------------

    cdef int apply_level(self, int side, int64_t price, int64_t size) noexcept nogil:
        cdef Side* levels
        cdef int64_t key
        cdef Py_ssize_t slot
        cdef int status
        if <unsigned int>side > 1 or price <= 0 or size < 0:
            return BOOK_BAD_LEVEL
        levels = &self.sides[side]
        key = -price if side else price
        slot = slot_of(self, &levels.ladder, key)
        if slot >= 0:
            status = set_in_ladder(self, levels, slot, size)
        else:
            status = set_outside(self, levels, key, size)
        if status == BOOK_OK:
            self.update_count += 1
        elif status == BOOK_FULL:
            self.valid = False
        return status

    cdef void clear_levels(self) noexcept nogil:
        cdef int i
        cdef Side* side
        for i in range(2):
            side = &self.sides[i]
            memset(side.ladder.bitmap, 0, (self.ladder_width >> 6) * sizeof(uint64_t))
            side.ladder.count = 0
            side.ladder.best = -1
            side.outside.count = 0
            side.outside.start = side.outside.capacity >> 1

    cdef void truncate_depth(self) noexcept nogil:
        cdef int i
        cdef Side* side
        cdef Py_ssize_t excess, slot, dropped_outside
        if self.depth_limit <= 0:
            return
        for i in range(2):
            side = &self.sides[i]
            excess = side.ladder.count + side.outside.count - self.depth_limit
            if excess <= 0:
                continue
            # drop the lowest keys, merging the ladder (from slot 0 up) with the array head
            slot = lowest_from(side.ladder.bitmap, self.ladder_width >> 6, 0)
            dropped_outside = 0
            while excess > 0:
                if slot >= 0 and (
                    dropped_outside == side.outside.count
                    or side.ladder.base + slot * self.tick
                    < side.outside.keys[side.outside.start + dropped_outside]
                ):
                    side.ladder.bitmap[slot >> 6] &= ~(ONE << (slot & 63))
                    side.ladder.count -= 1
                    slot = lowest_from(side.ladder.bitmap, self.ladder_width >> 6, slot + 1)
                else:
                    dropped_outside += 1
                excess -= 1
            side.outside.start += dropped_outside
            side.outside.count -= dropped_outside
            if side.ladder.count == 0:
                side.ladder.best = -1

    cdef int64_t best_price(self, int side) noexcept nogil:
        cdef int64_t key
        if <unsigned int>side > 1:
            return NO_PRICE
        key = best_key(self, &self.sides[side])
        if key == EMPTY_KEY:
            return NO_PRICE
        return -key if side else key

    cdef int64_t best_size(self, int side) noexcept nogil:
        cdef int64_t size = 0
        if <unsigned int>side <= 1:
            best_level(self, &self.sides[side], &size)
        return size

    cdef Py_ssize_t level_count(self, int side) noexcept nogil:
        if <unsigned int>side > 1:
            return 0
        return self.sides[side].ladder.count + self.sides[side].outside.count

    cdef bint crossed(self) noexcept nogil:
        cdef int64_t bid = best_key(self, &self.sides[BID])
        cdef int64_t ask = best_key(self, &self.sides[ASK])
        return bid != EMPTY_KEY and ask != EMPTY_KEY and bid >= -ask

    cdef Py_ssize_t copy_top(
        self, int side, Py_ssize_t n, int64_t* prices, int64_t* sizes
    ) noexcept nogil:
        cdef Side* levels
        cdef Py_ssize_t slot, first, tail, written = 0
        cdef int64_t ladder_key, outside_key
        cdef int64_t sign = -1 if side else 1
        if <unsigned int>side > 1:
            return 0
        levels = &self.sides[side]
        slot = levels.ladder.best
        first = levels.outside.start
        tail = first + levels.outside.count - 1
        # merge the ladder (walking down from its best) with the array (walking down its tail)
        while written < n and (slot >= 0 or tail >= first):
            ladder_key = levels.ladder.base + slot * self.tick if slot >= 0 else EMPTY_KEY
            outside_key = levels.outside.keys[tail] if tail >= first else EMPTY_KEY
            if ladder_key > outside_key:
                prices[written] = sign * ladder_key
                sizes[written] = levels.ladder.sizes[slot]
                slot = highest_below(levels.ladder.bitmap, slot)
            else:
                prices[written] = sign * outside_key
                sizes[written] = levels.outside.sizes[tail]
                tail -= 1
            written += 1
        return written

    # ---- Python API --------------------------------------------------------------------------
    # What a user reads is cut to ``view_depth``: a book of depth 7 served from a venue's
    # 10-level stream keeps all 10 (the deeper levels move up when better ones go, and the
    # venue's checksum covers them) and shows 7. The C contract above sees every level held.

    cdef Py_ssize_t shown(self, int side) noexcept nogil:
        cdef Py_ssize_t held = self.level_count(side)
        return held if self.view_depth == 0 or held < self.view_depth else self.view_depth

    def apply_delta(self, int side, int64_t price, int64_t size):
        """Sets (size > 0) or deletes (size == 0) one level; raises BookError, book unchanged."""
        cdef int status = self.apply_level(side, price, size)
        if status != BOOK_OK:
            raise book_error(self, status, side, price, size)

    def apply_deltas(self, const int8_t[:] sides, const int64_t[:] prices, const int64_t[:] sizes):
        """Applies rows in order with the loop in C; stops at the first refused row and raises,
        leaving the rows before it applied."""
        cdef Py_ssize_t n = sides.shape[0]
        cdef Py_ssize_t i = 0
        cdef int status = BOOK_OK
        if prices.shape[0] != n or sizes.shape[0] != n:
            raise ValueError("sides, prices and sizes must have the same length")
        # the GIL stays held: releasing it would let another thread mutate this book mid-loop
        while i < n:
            status = self.apply_level(sides[i], prices[i], sizes[i])
            if status != BOOK_OK:
                break
            i += 1
        if status != BOOK_OK:
            error = book_error(self, status, sides[i], prices[i], sizes[i])
            error.args = (f"row {i}: {error.args[0]}",)
            raise error

    def replace(self, bid_prices, bid_sizes, ask_prices, ask_sizes):
        """Loads a snapshot (rows in any order, size 0 rows skipped, the last row of a repeated
        price wins); validated before the book is touched, so a refused snapshot changes
        nothing."""
        cdef const int64_t[::1] bid_keys, bid_level_sizes, ask_keys, ask_level_sizes
        bid_keys, bid_level_sizes = _snapshot_keys(bid_prices, bid_sizes, BID)
        ask_keys, ask_level_sizes = _snapshot_keys(ask_prices, ask_sizes, ASK)
        if bid_keys.shape[0] > self.max_levels or ask_keys.shape[0] > self.max_levels:
            raise BookError(
                BOOK_FULL,
                f"snapshot has {bid_keys.shape[0]} bids and {ask_keys.shape[0]} asks, "
                f"more than max_levels={self.max_levels}",
            )
        if not (
            reserve(&self.sides[BID].outside, bid_keys.shape[0], self.max_levels)
            and reserve(&self.sides[ASK].outside, ask_keys.shape[0], self.max_levels)
        ):
            raise MemoryError()
        self.clear_levels()
        if bid_keys.shape[0]:
            load_sorted(
                self, &self.sides[BID], &bid_keys[0], &bid_level_sizes[0], bid_keys.shape[0]
            )
        if ask_keys.shape[0]:
            load_sorted(
                self, &self.sides[ASK], &ask_keys[0], &ask_level_sizes[0], ask_keys.shape[0]
            )
        self.update_count += len(bid_prices) + len(ask_prices)

    def clear(self):
        self.clear_levels()

    def truncate(self):
        """Keeps the best ``depth_limit`` levels per side (no-op when depth_limit is 0)."""
        self.truncate_depth()

    def best_bid(self):
        cdef int64_t price = self.best_price(BID)
        if price == NO_PRICE:
            return None
        return price, self.best_size(BID)

    def best_ask(self):
        cdef int64_t price = self.best_price(ASK)
        if price == NO_PRICE:
            return None
        return price, self.best_size(ASK)

    def event_fields(self):
        """``(sequence, ts_exchange, ts_receive, bid_price, bid_size, ask_price, ask_size,
        update_count)`` in one call, 0 for an empty side: what a ``BookUpdate`` captures so it
        keeps stating the book as it was when it happened, at the cost of one tuple."""
        return (self.sequence, self.ts_exchange, self.ts_receive, self.best_price(BID),
                self.best_size(BID), self.best_price(ASK), self.best_size(ASK),
                self.update_count)

    def top(self, int side, Py_ssize_t n):
        """Up to ``n`` levels best first, as fresh int64 arrays."""
        cdef int64_t[::1] price_view, size_view
        check_side(side)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        n = min(n, self.shown(side))
        prices = np.empty(n, dtype=np.int64)
        sizes = np.empty(n, dtype=np.int64)
        if n:
            price_view = prices
            size_view = sizes
            self.copy_top(side, n, &price_view[0], &size_view[0])
        return prices, sizes

    def top_into(self, int side, int64_t[::1] prices, int64_t[::1] sizes):
        """Fills the caller's arrays best first without allocating; returns the level count."""
        check_side(side)
        if prices.shape[0] == 0 or sizes.shape[0] == 0:
            return 0
        return self.copy_top(side, min(prices.shape[0], sizes.shape[0], self.shown(side)),
                             &prices[0], &sizes[0])

    def top_float(self, int side, Py_ssize_t n):
        """``top`` divided by the scales: exact int64 inside, floats only at the edge."""
        prices, sizes = self.top(side, n)
        return prices / 10.0 ** self.price_scale, sizes / 10.0 ** self.size_scale

    def levels(self, int side):
        return self.top(side, self.shown(check_side(side)))

    @property
    def bid_count(self):
        return self.shown(BID)

    @property
    def ask_count(self):
        return self.shown(ASK)

    @property
    def is_crossed(self):
        return self.crossed()

    def __len__(self):
        return self.shown(BID) + self.shown(ASK)

    def bench_apply(self, const int8_t[:] sides, const int64_t[:] prices, const int64_t[:] sizes):
        """Benchmark loop in C: applies each row, then reads best bid and ask price and size.

        Returns the wrapped uint64 sum of those reads, so the reads cannot be optimised away and
        a test can check them."""
        cdef Py_ssize_t n = sides.shape[0]
        cdef Py_ssize_t i = 0
        cdef int status = BOOK_OK
        cdef uint64_t checksum = 0
        if prices.shape[0] != n or sizes.shape[0] != n:
            raise ValueError("sides, prices and sizes must have the same length")
        while i < n:
            status = self.apply_level(sides[i], prices[i], sizes[i])
            if status != BOOK_OK:
                break
            checksum += <uint64_t>self.best_price(BID) + <uint64_t>self.best_size(BID)
            checksum += <uint64_t>self.best_price(ASK) + <uint64_t>self.best_size(ASK)
            i += 1
        if status != BOOK_OK:
            raise book_error(self, status, sides[i], prices[i], sizes[i])
        return checksum

    def __repr__(self):
        return (
            f"OrderBook(bids={self.shown(BID)}, asks={self.shown(ASK)}, "
            f"best_bid={level_text(self, BID)}, best_ask={level_text(self, ASK)}, "
            f"price_scale={self.price_scale}, size_scale={self.size_scale}, tick={self.tick}, "
            f"valid={bool(self.valid)})"
        )
