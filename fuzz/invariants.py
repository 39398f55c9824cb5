"""What must hold after any input, checked by the harnesses (a failure is a finding).

A decode succeeds or reports the error through its flags and counters; a book the decoder
still serves as valid is well formed (bids strictly descending, asks strictly ascending, no
zero or negative sizes, not crossed) and its sequence never went back; a book in any other
state is withdrawn (``valid`` False).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from feedhandler.core.book import ASK, BID, OrderBook
from feedhandler.core.decoder import BookSyncState, Decoded, Decoder


class BrokenInvariant(AssertionError):
    """The code under test did something it promises never to do."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BrokenInvariant(message)


def check_book(book: OrderBook, where: str) -> None:
    """A book served as valid is well formed."""
    if not book.valid:
        return
    bid_prices, bid_sizes = book.levels(BID)
    ask_prices, ask_sizes = book.levels(ASK)
    bids, asks = bid_prices.tolist(), ask_prices.tolist()
    check(all(a > b for a, b in pairwise(bids)),
          f"{where}: bids not strictly descending: {bids[:8]}")
    check(all(a < b for a, b in pairwise(asks)),
          f"{where}: asks not strictly ascending: {asks[:8]}")
    check(bool((bid_sizes > 0).all() and (ask_sizes > 0).all()),
          f"{where}: a zero or negative size is served")
    if bids and asks:
        check(bids[0] < asks[0],
              f"{where}: crossed book served as valid: bid {bids[0]} >= ask {asks[0]}")
    best = book.best_bid()
    check((best is None) == (not bids) and (best is None or best[0] == bids[0]),
          f"{where}: best_bid {best} disagrees with the levels")


@dataclass
class BookState:
    valid: bool
    sequence: int
    snapshots: int


# Venues whose book sequence may legitimately go back while chaining: OKX documents a rare
# seqId reset with prevSeqId still chaining (docs/venues/okx.md), which its decoder accepts
SEQUENCE_MAY_RESET = frozenset({"okx"})


class DecoderWatch:
    """Snapshots a decoder's counters and books before a message, checks them after."""

    def __init__(self, decoder: Decoder, venue: str = "") -> None:
        self.decoder = decoder
        self.monotonic = venue not in SEQUENCE_MAY_RESET
        self.stats = decoder.stats()
        self.books: dict[int, BookState] = {}
        for slot in range(decoder.slot_count):
            book = decoder.book(slot)
            if book is not None:
                self.books[slot] = BookState(book.valid, book.sequence,
                                             decoder.snapshot_count(slot))

    def after(self, flags: int, what: str) -> None:
        decoder = self.decoder
        stats = decoder.stats()
        before = self.stats
        check(stats["messages"] == before["messages"] + 1,
              f"{what}: messages {before['messages']} -> {stats['messages']}")
        for key, value in stats.items():
            check(value >= before[key], f"{what}: counter {key} went back")
        erred = stats["errors"] > before["errors"]
        check(erred == bool(flags & Decoded.ERROR),
              f"{what}: errors +{stats['errors'] - before['errors']} but flags {flags!r}")
        check(not erred or bool(decoder.last_error), f"{what}: an error without last_error")
        lost = (stats["gaps"] + stats["checksum_failures"]
                > before["gaps"] + before["checksum_failures"])
        resyncs = decoder.take_resync()
        check(lost == bool(flags & Decoded.RESYNC) == bool(resyncs),
              f"{what}: gap/checksum counters, RESYNC flag and take_resync disagree "
              f"({lost}, {flags!r}, {resyncs})")
        for slot, _reason in resyncs:
            book = decoder.book(slot)
            relived = slot in self.books and \
                decoder.snapshot_count(slot) > self.books[slot].snapshots
            check(book is None or not book.valid or relived,
                  f"{what}: slot {slot} resynced but valid with no snapshot since")
        for slot, state in self.books.items():
            book = decoder.book(slot)
            assert book is not None
            where = f"{what}: slot {slot}"
            check_book(book, where)
            sync = decoder.sync_state(slot)
            check(not book.valid or sync == BookSyncState.LIVE,
                  f"{where}: valid while the slot is {BookSyncState(sync).name}")
            if self.monotonic and book.valid and state.valid \
                    and decoder.snapshot_count(slot) == state.snapshots:
                check(book.sequence >= state.sequence,
                      f"{where}: sequence went back {state.sequence} -> {book.sequence}")
