"""OrderTable: open addressing with linear probing over FNV-1a of the order id; removal
shifts back the entries probed past the hole, so no tombstones accumulate."""

from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy, memset


cdef inline uint64_t fnv1a(const char* p, size_t n) noexcept nogil:
    cdef uint64_t h = 14695981039346656037ULL
    cdef size_t i
    for i in range(n):
        h = (h ^ <unsigned char>p[i]) * 1099511628211ULL
    return h


cdef class OrderTable:
    """Live orders of one private stream; ``slots`` is a power of two."""

    def __cinit__(self, size_t slots=8192):
        if slots < 4 or slots & (slots - 1):
            raise ValueError("OrderTable slots must be a power of two >= 4")
        self.slots = <OrderState*>calloc(slots, sizeof(OrderState))
        if self.slots == NULL:
            raise MemoryError()
        self.mask = slots - 1
        self.capacity = slots // 4 * 3

    def __dealloc__(self):
        free(self.slots)

    cdef OrderState* find(self, const char* order_id, size_t n, bint create) noexcept nogil:
        """The order's entry; a zeroed new one when ``create``; NULL when absent and not
        created, or when the table is full. ``n`` must not exceed ORDER_ID_WIDTH."""
        cdef size_t i = fnv1a(order_id, n) & self.mask
        cdef OrderState* state
        while True:
            state = &self.slots[i]
            if not state.used:
                break
            if state.order_id_size == n and memcmp(state.order_id, order_id, n) == 0:
                return state
            i = (i + 1) & self.mask
        if not create or self.tracked >= self.capacity:
            return NULL
        memset(state, 0, sizeof(OrderState))
        state.used = True
        memcpy(state.order_id, order_id, n)
        state.order_id_size = n
        self.tracked += 1
        return state

    cdef void forget(self, OrderState* state) noexcept nogil:
        cdef size_t hole = state - self.slots
        cdef size_t j = hole, home
        while True:
            j = (j + 1) & self.mask
            if not self.slots[j].used:
                break
            home = fnv1a(self.slots[j].order_id, self.slots[j].order_id_size) & self.mask
            if (hole <= j and hole < home <= j) or (hole > j and (home > hole or home <= j)):
                continue
            self.slots[hole] = self.slots[j]
            hole = j
        self.slots[hole].used = False
        self.tracked -= 1

    cdef void clear(self) noexcept nogil:
        memset(self.slots, 0, (self.mask + 1) * sizeof(OrderState))
        self.tracked = 0
