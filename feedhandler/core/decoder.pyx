# distutils: language = c++
"""Decoder base: the symbol table, book slots, counters and the queues to Python."""

import enum

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset
from libc.stdint cimport int32_t, int64_t, uint32_t

from feedhandler.core.book cimport OrderBook
from feedhandler.core.buffer cimport PaddedBuffer, buffer_assign, buffer_free, buffer_init
from feedhandler.core.fixedpoint cimport decimal_rounding
from feedhandler.core.ondemand cimport dom_parser, parser
from feedhandler.core.rings cimport CandleRing, TickerRing, TradeRing


class Decoded(enum.IntFlag):
    """What a decode produced (the DecodeFlag values of decoder.pxd, for Python)."""

    TRADES = DECODED_TRADES
    TICKERS = DECODED_TICKERS
    CANDLES = DECODED_CANDLES
    BOOKS = DECODED_BOOKS
    CONTROL = DECODED_CONTROL
    ERROR = DECODED_ERROR
    RESYNC = DECODED_RESYNC
    PRIVATE = DECODED_PRIVATE


MESSAGE_KINDS = ("error", "trades", "ticker", "ohlcv", "book", "private", "control", "other")
"""The names of the MessageKind values of decoder.pxd, in order."""


class BookSyncState(enum.IntEnum):
    NONE = SYNC_NONE
    WAITING = SYNC_WAITING
    LIVE = SYNC_LIVE


class DecodeError(ValueError):
    """A message the decoder could not use; the connection counts it and carries on."""


cdef inline uint32_t fnv1a(const char* p, size_t n) noexcept nogil:
    cdef uint32_t h = 2166136261u
    cdef size_t i
    for i in range(n):
        h = (h ^ <unsigned char>p[i]) * 16777619u
    return h


cdef class Decoder:
    """Base class: subclasses implement ``decode`` for one venue's wire format."""

    def __cinit__(self, *args, **kwargs):
        self.slot_capacity = 8
        self.slots = <Slot*>malloc(self.slot_capacity * sizeof(Slot))
        self.table_mask = 15
        self.table = <int32_t*>malloc((self.table_mask + 1) * sizeof(int32_t))
        self.dirty = <int32_t*>malloc(self.slot_capacity * sizeof(int32_t))
        if self.slots == NULL or self.table == NULL or self.dirty == NULL:
            raise MemoryError()
        memset(self.table, 0xFF, (self.table_mask + 1) * sizeof(int32_t))
        self.books = []
        self.control = []
        self.pending = []
        self.private_events = []
        self.resync_slots = []
        self.last_error = None
        self.rounding = &decimal_rounding   # this module's: a venue decoder binds its own

    def __init__(self, TradeRing trades=None, TickerRing tickers=None,
                 CandleRing candles=None):
        self.trades = trades if trades is not None else TradeRing()
        self.tickers = tickers if tickers is not None else TickerRing()
        self.candles = candles if candles is not None else CandleRing()

    def __dealloc__(self):
        free(self.slots)
        free(self.table)
        free(self.dirty)

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        return self.fail("decoder has no wire format")

    # ---- symbols and books -------------------------------------------------------------

    def add_instrument(self, key, int instrument, int price_scale, int size_scale,
                       OrderBook book=None) -> int:
        """Routes messages whose venue symbol is ``key`` (bytes as on the wire) to a slot."""
        cdef bytes raw = key.encode() if isinstance(key, str) else bytes(key)
        cdef int32_t slot
        if not 0 < len(raw) <= MAX_SYMBOL:
            raise ValueError(f"venue symbol must be 1..{MAX_SYMBOL} bytes: {raw!r}")
        if self.find_slot(raw, len(raw)) >= 0:
            raise ValueError(f"venue symbol already registered: {raw!r}")
        if self.slot_count == self.slot_capacity:
            self._grow_slots()
        slot = self.slot_count
        memset(&self.slots[slot], 0, sizeof(Slot))
        self.slots[slot].instrument = instrument
        self.slots[slot].price_scale = price_scale
        self.slots[slot].size_scale = size_scale
        self.slots[slot].key_length = len(raw)
        memcpy(self.slots[slot].key, <const char*>raw, len(raw))
        self.books.append(None)
        self.slot_count += 1
        if (self.slot_count * 2) > self.table_mask:
            self._rehash((self.table_mask + 1) * 2)
        else:
            self._insert(slot)
        if book is not None:
            self.set_book(slot, book)
        return slot

    def set_book(self, int slot, OrderBook book) -> None:
        """Attaches a book; it starts unsynchronised until the venue's snapshot arrives."""
        self._check_slot(slot)
        self.books[slot] = book
        self.slots[slot].has_book = book is not None
        self.slots[slot].sync = SYNC_WAITING if book is not None else SYNC_NONE
        if book is not None:
            book.valid = False

    def set_scales(self, int slot, int price_scale, int size_scale) -> None:
        """The scales a slot's numbers are parsed at from the next message on (the venue
        changed the instrument's tick or lot size); its book is the caller's to replace."""
        self._check_slot(slot)
        self.slots[slot].price_scale = price_scale
        self.slots[slot].size_scale = size_scale

    def slot_of(self, key) -> int:
        cdef bytes raw = key.encode() if isinstance(key, str) else bytes(key)
        return self.find_slot(raw, len(raw))

    def instrument_of(self, int slot) -> int:
        self._check_slot(slot)
        return self.slots[slot].instrument

    def book(self, int slot):
        self._check_slot(slot)
        return self.books[slot]

    def sync_state(self, int slot) -> int:
        self._check_slot(slot)
        return self.slots[slot].sync

    def mark_waiting(self, int slot) -> None:
        """Hold this book's updates until ``mark_live`` (a snapshot is being fetched; one that
        comes in-band counts only when newer than this call)."""
        self._check_slot(slot)
        self.slots[slot].sync = SYNC_WAITING
        self.slots[slot].loaded = 0
        if self.books[slot] is not None:
            (<OrderBook>self.books[slot]).valid = False

    def mark_live(self, int slot) -> None:
        """The snapshot is in: updates apply from now on, the first checked loosely."""
        self._check_slot(slot)
        self.slots[slot].sync = SYNC_LIVE
        self.slots[slot].fresh = 1
        if self.books[slot] is not None:
            (<OrderBook>self.books[slot]).valid = True

    def snapshot_loaded(self, int slot) -> bool:
        """An in-band snapshot is in and the updates since are held: ready for ``mark_live``."""
        self._check_slot(slot)
        return self.slots[slot].loaded != 0

    def snapshot_count(self, int slot) -> int:
        """Book snapshots the venue's own messages loaded into ``slot`` (REST ones are not
        counted); an in-band resync waits for this to grow."""
        self._check_slot(slot)
        return self.slots[slot].snapshots

    @property
    def slot_count(self) -> int:
        return self.slot_count

    cdef OrderBook book_at(self, int32_t slot):
        return <OrderBook>self.books[slot]

    cdef int32_t find_slot(self, const char* key, size_t n) noexcept nogil:
        cdef uint32_t i = fnv1a(key, n) & <uint32_t>self.table_mask
        cdef int32_t slot
        while True:
            slot = self.table[i]
            if slot < 0:
                return -1
            if <size_t>self.slots[slot].key_length == n and memcmp(self.slots[slot].key, key, n) == 0:
                return slot
            i = (i + 1) & <uint32_t>self.table_mask

    def _check_slot(self, int slot):
        if not 0 <= slot < self.slot_count:
            raise IndexError(f"no slot {slot}")

    def _grow_slots(self):
        cdef int32_t capacity = self.slot_capacity * 2
        cdef Slot* slots = <Slot*>realloc(self.slots, capacity * sizeof(Slot))
        if slots == NULL:
            raise MemoryError()
        self.slots = slots
        cdef int32_t* dirty = <int32_t*>realloc(self.dirty, capacity * sizeof(int32_t))
        if dirty == NULL:
            raise MemoryError()
        self.dirty = dirty
        self.slot_capacity = capacity

    def _rehash(self, int32_t size):
        cdef int32_t* table = <int32_t*>malloc(size * sizeof(int32_t))
        cdef int32_t slot
        if table == NULL:
            raise MemoryError()
        free(self.table)
        self.table = table
        self.table_mask = size - 1
        memset(self.table, 0xFF, size * sizeof(int32_t))
        for slot in range(self.slot_count):
            self._insert(slot)

    cdef void _insert(self, int32_t slot) noexcept:
        cdef uint32_t i = fnv1a(self.slots[slot].key, self.slots[slot].key_length) & <uint32_t>self.table_mask
        while self.table[i] >= 0:
            i = (i + 1) & <uint32_t>self.table_mask
        self.table[i] = slot

    # ---- what a decode hands to Python -----------------------------------------------------

    cdef void mark_dirty(self, int32_t slot) noexcept nogil:
        if not self.slots[slot].dirty:
            self.slots[slot].dirty = 1
            self.dirty[self.dirty_count] = slot
            self.dirty_count += 1

    def take_dirty(self) -> list:
        """Slots whose book changed since the last call (each once)."""
        cdef int32_t i
        out = []
        for i in range(self.dirty_count):
            out.append(self.dirty[i])
            self.slots[self.dirty[i]].dirty = 0
        self.dirty_count = 0
        return out

    def take_resync(self) -> list:
        """(slot, reason) for each book that lost sync since the last call."""
        out = self.resync_slots
        self.resync_slots = []
        return out

    def take_control(self) -> list:
        out = self.control
        self.control = []
        return out

    def take_pending(self, int slot) -> list:
        """The raw updates held for ``slot`` while it waited for a snapshot, oldest first."""
        keep = []
        out = []
        for held in self.pending:
            if held[0] == slot:
                out.append(held[1])
            else:
                keep.append(held)
        self.pending = keep
        return out

    def replay_pending(self, int slot) -> int:
        """Re-decodes the updates held while ``slot`` waited; stale ones are dropped by the
        venue's sequence rules. Returns the flags."""
        return self.feed_many(self.take_pending(slot))

    def take_private(self) -> list:
        out = self.private_events
        self.private_events = []
        return out

    cdef int fail(self, str reason) except -1:
        self.errors += 1
        self.last_error = reason
        return DECODED_ERROR

    cdef int lose_sync(self, int32_t slot, str reason, bint checksum) except -1:
        """A gap or checksum mismatch: the book is withdrawn until resynced, never served, and
        a snapshot loaded but not yet live no longer counts."""
        cdef OrderBook book = <OrderBook>self.books[slot]
        if checksum:
            self.checksum_failures += 1
        else:
            self.gaps += 1
        self.slots[slot].sync = SYNC_WAITING
        self.slots[slot].loaded = 0
        if book is not None:
            book.valid = False
        self.resync_slots.append((slot, reason))
        return DECODED_RESYNC

    cdef int misroute(self, int32_t slot, str reason, bint book_missed) except -1:
        """A message whose redundant fields (inner symbol, channel, depth) contradict the
        stream it was routed to by: counted (``misrouted``, and as a decode error), never
        applied. ``book_missed``: it came on the book's own stream, so it may have been the
        book's next update: a live book is withdrawn and resynced as after a gap."""
        cdef int flags
        self.misrouted += 1
        flags = self.fail(reason)
        if book_missed and self.slots[slot].has_book and self.slots[slot].sync == SYNC_LIVE:
            flags |= self.lose_sync(slot, reason, False)
        return flags

    cdef int hold(self, int32_t slot, const char* buf, size_t n) except -1:
        self.pending.append((slot, buf[:n]))
        return 0

    cdef int queue_control(self, const char* buf, size_t n) except -1:
        self.control.append(buf[:n])
        return DECODED_CONTROL

    cdef void trim(self) noexcept:
        """Parsers grow to the largest message they met and keep that (about 6x its size for
        On-Demand, 14x for the grammar check): after one over RETAINED_CAPACITY they are
        replaced by fresh ones, which grow again only as far as later messages need."""
        if self.json.capacity() > RETAINED_CAPACITY:
            self.json = parser()
        if self.grammar.capacity() > RETAINED_CAPACITY:
            self.grammar = dom_parser()

    @property
    def parser_capacity(self) -> int:
        """Bytes of message the parsers can take without growing (the larger of the two)."""
        return max(self.json.capacity(), self.grammar.capacity())

    # ---- REST depth snapshots ----------------------------------------------------------------

    def apply_snapshot(self, int slot, data) -> None:
        """Loads a REST depth snapshot body into the slot's book and makes it live; the caller
        then replays the updates held meanwhile. The venue's ``load_snapshot`` parses it. A
        snapshot that does not parse, or is crossed, raises DecodeError and the book stays
        withdrawn."""
        cdef const unsigned char[::1] raw = data
        cdef PaddedBuffer buffer
        self._check_slot(slot)
        if not self.slots[slot].has_book:
            raise ValueError(f"slot {slot} has no book")
        if buffer_init(&buffer, raw.shape[0], raw.shape[0]) < 0:
            raise MemoryError()
        try:
            if raw.shape[0]:
                buffer_assign(&buffer, <const char*>&raw[0], raw.shape[0])
            self.load_snapshot(slot, buffer.data, buffer.size)
        finally:
            buffer_free(&buffer)
        if (<OrderBook>self.books[slot]).crossed():
            raise DecodeError("depth snapshot is crossed (best bid >= best ask)")
        self.mark_live(slot)

    cdef int load_snapshot(self, int32_t slot, const char* buf, size_t n) except -1:
        """Parses a padded REST snapshot into the slot's book (venues with one override it)."""
        raise NotImplementedError(f"{type(self).__name__} takes no REST depth snapshot")

    # ---- Python entry points (tests, replay, benchmarks) ------------------------------------

    def feed(self, data, int64_t ts_receive=0) -> int:
        """Decodes one message from bytes (copied into a padded buffer); returns the flags."""
        return self.feed_many([data], ts_receive)

    def feed_many(self, messages, int64_t ts_receive=0) -> int:
        """Decodes each message with the loop in C (tests, replay, benchmarks); ORs the flags."""
        cdef PaddedBuffer buffer
        cdef int flags = 0
        cdef const unsigned char[::1] view
        cdef const char* data
        cdef Py_ssize_t size
        if buffer_init(&buffer, 4096, 1 << 30) < 0:
            raise MemoryError()
        try:
            for message in messages:
                if type(message) is bytes:
                    data = PyBytes_AS_STRING(message)
                    size = PyBytes_GET_SIZE(message)
                else:
                    view = message
                    size = view.shape[0]
                    data = <const char*>&view[0] if size else NULL
                buffer.size = 0
                if size and buffer_assign(&buffer, data, size) < 0:
                    raise MemoryError()
                self.messages += 1
                flags |= self.decode_message(buffer.data, buffer.size, ts_receive)
        finally:
            buffer_free(&buffer)
        return flags

    def inexact_kinds(self) -> dict:
        """{kind: messages} of the messages the listener fed this decoder that had a value
        rounded to its scale (flagged ``inexact`` on the rows they wrote)."""
        return {name: self.kind_inexact[kind] for kind, name in enumerate(MESSAGE_KINDS)}

    def message_kinds(self) -> dict:
        """{kind: (messages, bytes)} of the messages the listener fed this decoder, by what
        each produced (see ``MessageKind``): the per-channel counters, kept in C."""
        return {name: (self.kind_messages[kind], self.kind_bytes[kind])
                for kind, name in enumerate(MESSAGE_KINDS)}

    def stats(self) -> dict:
        return {
            "messages": self.messages,
            "errors": self.errors,
            "unknown": self.unknown,
            "gaps": self.gaps,
            "checksum_failures": self.checksum_failures,
            "misrouted": self.misrouted,
        }




cdef class PassthroughDecoder(Decoder):
    """Queues every message for Python: for control-only connections and for tests."""

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        return self.queue_control(buf, n)
