"""The Decoder every venue decoder extends, and the flags a decode reports to the listener.

``decode`` runs on each complete message (in a padded buffer, see ``buffer.pxd``). It writes
trades, tickers and candles straight into the shared rings and levels into the books, and
only reports, through flags, what the Python side must look at once per socket read.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcmp

from feedhandler.core.book cimport OrderBook
from feedhandler.core.fixedpoint cimport Rounding
from feedhandler.core.ondemand cimport dom_parser, parser
from feedhandler.core.rings cimport CandleRing, TickerRing, TradeRing

cdef enum DecodeFlag:
    DECODED_TRADES = 1
    DECODED_TICKERS = 2
    DECODED_CANDLES = 4
    DECODED_BOOKS = 8       # a book changed: its slot is in the dirty list
    DECODED_CONTROL = 16    # a message was queued in ``control`` for Python (acks, pings, errors)
    DECODED_ERROR = 32      # malformed or unusable message: counted, ``last_error`` says why
    DECODED_RESYNC = 64     # a book lost sync (gap, checksum): its slot is in the resync list
    DECODED_PRIVATE = 128   # an order/balance/position event was queued
    DECODED_INEXACT = 256   # a value had more decimals than its scale: rounded half-even

cdef enum MessageKind:       # what a message was, from the flags its decode returned
    KIND_ERROR = 0          # reported an error, whatever else it wrote
    KIND_TRADES = 1
    KIND_TICKER = 2
    KIND_OHLCV = 3
    KIND_BOOK = 4           # changed a book or lost its sync
    KIND_PRIVATE = 5
    KIND_CONTROL = 6
    KIND_OTHER = 7          # wrote nothing: book updates held for a snapshot, stale, ignored
    KINDS = 8

cdef inline int message_kind(int flags) noexcept nogil:
    if flags & DECODED_ERROR:
        return KIND_ERROR
    if flags & DECODED_TRADES:
        return KIND_TRADES
    if flags & DECODED_TICKERS:
        return KIND_TICKER
    if flags & DECODED_CANDLES:
        return KIND_OHLCV
    if flags & (DECODED_BOOKS | DECODED_RESYNC):
        return KIND_BOOK
    if flags & DECODED_PRIVATE:
        return KIND_PRIVATE
    if flags & DECODED_CONTROL:
        return KIND_CONTROL
    return KIND_OTHER

cdef enum BookSync:
    SYNC_NONE = 0           # no book on this slot
    SYNC_WAITING = 1        # updates are buffered in ``pending`` until a snapshot arrives
    SYNC_LIVE = 2           # updates apply directly

cdef enum:
    MAX_SYMBOL = 48
    RETAINED_CAPACITY = 1 << 20   # parse capacity kept past a message: trimmed back beyond

cdef struct Slot:
    int32_t instrument      # the FeedHandler-wide instrument id written into ring rows
    int price_scale
    int size_scale
    uint8_t sync            # BookSync
    uint8_t dirty           # already in the dirty list this batch
    uint8_t has_book
    uint8_t fresh           # the next update is the first after a snapshot
    uint8_t loaded          # an in-band snapshot is in, awaiting mark_live; later updates held
    int32_t key_length
    char key[MAX_SYMBOL]    # the venue's symbol bytes as they appear on the wire
    int64_t snapshots       # book snapshots loaded into this slot so far


cdef class Decoder:
    cdef public TradeRing trades
    cdef public TickerRing tickers
    cdef public CandleRing candles
    cdef readonly int64_t messages
    cdef readonly int64_t errors
    cdef readonly int64_t unknown
    cdef readonly int64_t gaps
    cdef readonly int64_t checksum_failures
    cdef readonly int64_t misrouted     # messages whose own fields contradict their stream
    cdef int64_t kind_messages[KINDS]   # messages off the socket by MessageKind (the listener
    cdef int64_t kind_bytes[KINDS]      # counts them); bytes as decoded, after inflation
    cdef int64_t kind_inexact[KINDS]    # of those, the messages with a value rounded
    # the rounded-value counter of the module whose parser this decoder's decode runs (each
    # venue module binds its own ``&decimal_rounding`` in __cinit__)
    cdef Rounding* rounding
    cdef public list control        # raw messages Python must act on, in arrival order
    cdef public list pending        # (slot, raw) book updates held while a snapshot is in flight
    cdef public list private_events # raw private-channel messages (orders, balances, positions)
    cdef public str last_error
    cdef list books                 # OrderBook or None per slot
    cdef Slot* slots
    cdef int32_t* table             # open-addressing hash: venue symbol -> slot index, -1 empty
    cdef int32_t table_mask
    cdef int32_t slot_count
    cdef int32_t slot_capacity
    cdef int32_t* dirty
    cdef int32_t dirty_count
    cdef list resync_slots
    cdef parser json                # On-Demand parser: grows to the largest message (see trim)
    cdef dom_parser grammar         # full grammar check, for decoders that look fields up
                                    # out of order (``iterate_validated``)

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1
    cdef inline int decode_message(self, const char* buf, size_t n,
                                   int64_t ts_receive) except -1:
        """``decode``, with ``DECODED_INEXACT`` added when it rounded a value."""
        cdef uint64_t rounded = self.rounding.count
        cdef int flags = self.decode(buf, n, ts_receive)
        return flags | DECODED_INEXACT if self.rounding.count != rounded else flags
    cdef inline void count_message(self, int flags, size_t n) noexcept nogil:
        cdef int kind = message_kind(flags)
        self.kind_messages[kind] += 1
        self.kind_bytes[kind] += <int64_t>n
        if flags & DECODED_INEXACT:
            self.kind_inexact[kind] += 1
    cdef int32_t find_slot(self, const char* key, size_t n) noexcept nogil
    cdef OrderBook book_at(self, int32_t slot)
    cdef void mark_dirty(self, int32_t slot) noexcept nogil
    cdef int fail(self, str reason) except -1
    cdef int lose_sync(self, int32_t slot, str reason, bint checksum) except -1
    cdef int misroute(self, int32_t slot, str reason, bint book_missed) except -1
    cdef inline bint is_key_of(self, int32_t slot, const char* p, size_t n) noexcept nogil:
        """Whether ``p[:n]`` is the venue symbol ``slot`` was registered with."""
        return <size_t>self.slots[slot].key_length == n and \
            memcmp(self.slots[slot].key, p, n) == 0
    cdef int hold(self, int32_t slot, const char* buf, size_t n) except -1
    cdef int queue_control(self, const char* buf, size_t n) except -1
    cdef int load_snapshot(self, int32_t slot, const char* buf, size_t n) except -1
    cdef void _insert(self, int32_t slot) noexcept
    cdef void trim(self) noexcept


cdef class PassthroughDecoder(Decoder):
    pass
