"""L2 order book on exact int64 fixed point (prices at ``price_scale``, sizes at ``size_scale``)."""

import enum
from typing import TypeAlias, final

import numpy as np
import numpy.typing as npt

BID: int
ASK: int

class BookStatus(enum.IntEnum):
    BOOK_OK = 0
    BOOK_FULL = 1
    BOOK_BAD_LEVEL = 2
    BOOK_OFF_GRID = 3

class BookError(ValueError):
    """A refused level: BOOK_FULL means resync the book, BOOK_BAD_LEVEL means bad input."""

    status: BookStatus
    def __init__(self, status: int, message: str) -> None: ...

_Int64Array: TypeAlias = npt.NDArray[np.int64]

@final
class OrderBook:
    """Exact L2 book: a dense tick ladder near the touch, sorted arrays for everything else.

    ``tick`` only decides which prices get the fast ladder; off-grid prices are still exact.
    ``max_levels`` bounds each side's memory; the ladder costs ``16 * ladder_width`` bytes.
    """

    @property
    def price_scale(self) -> int: ...
    @property
    def size_scale(self) -> int: ...
    @property
    def tick(self) -> int: ...
    @property
    def depth_limit(self) -> int: ...
    @property
    def view_depth(self) -> int:
        """0: the Python API shows every level held; else the best N per side (depth_limit
        and the C contract still see them all)."""
    @property
    def max_levels(self) -> int: ...
    @property
    def ladder_width(self) -> int: ...
    sequence: int
    update_count: int
    ts_exchange: int
    ts_receive: int
    valid: bool
    """False until the owner has synchronised the book, and after BOOK_FULL: never serve it then."""

    def __init__(
        self,
        price_scale: int = 8,
        size_scale: int = 8,
        tick: int = 1,
        depth_limit: int = 0,
        max_levels: int = 65536,
        ladder_width: int = 4096,
        view_depth: int = 0,
    ) -> None: ...
    def apply_delta(self, side: int, price: int, size: int) -> None:
        """size 0 deletes; a refused level raises BookError and leaves the book unchanged."""
    def apply_deltas(
        self, sides: npt.NDArray[np.int8], prices: _Int64Array, sizes: _Int64Array
    ) -> None:
        """Loop in C; stops at the first refused row and raises, earlier rows stay applied."""
    def replace(
        self,
        bid_prices: npt.ArrayLike,
        bid_sizes: npt.ArrayLike,
        ask_prices: npt.ArrayLike,
        ask_sizes: npt.ArrayLike,
    ) -> None:
        """Snapshot in any row order, as if cleared and applied row by row; a refused snapshot
        leaves the book unchanged. update_count grows by the number of rows."""
    def clear(self) -> None: ...
    def truncate(self) -> None:
        """Keeps the best depth_limit levels per side, for venues that send top-N books."""
    def best_bid(self) -> tuple[int, int] | None: ...
    def best_ask(self) -> tuple[int, int] | None: ...
    def event_fields(self) -> tuple[int, int, int, int, int, int, int, int]:
        """(sequence, ts_exchange, ts_receive, bid_price, bid_size, ask_price, ask_size,
        update_count), 0 for an empty side: what a BookUpdate captures."""
    def top(self, side: int, n: int) -> tuple[_Int64Array, _Int64Array]: ...
    def top_into(self, side: int, prices: _Int64Array, sizes: _Int64Array) -> int:
        """No allocation, for polling loops; returns how many levels were written."""
    def top_float(
        self, side: int, n: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Floats only at the edge, for plotting and models; trading logic should use top()."""
    def levels(self, side: int) -> tuple[_Int64Array, _Int64Array]: ...
    @property
    def bid_count(self) -> int: ...
    @property
    def ask_count(self) -> int: ...
    @property
    def is_crossed(self) -> bool: ...
    def __len__(self) -> int: ...
    def bench_apply(
        self, sides: npt.NDArray[np.int8], prices: _Int64Array, sizes: _Int64Array
    ) -> int:
        """Benchmark loop in C: apply, then read best bid and ask; returns a checksum of reads."""
