"""Order book: one level update then a best bid and best ask read, per update.

Books of ~1000 levels per side (1200 possible ticks per side, 1/6 of updates are deletes), prices
uniform over the range or near the top (geometric distance from mid, mean 30 ticks). The
feedhandler loop runs in C (``bench_apply``); the Python libraries run in a Python loop, which
is how they are used. All implementations must end with the same book.

Run: ``python bench/book.py``; the last line is the headline (uniform distribution).
"""

import argparse
import time
from collections.abc import Callable

import numpy as np
from order_book import OrderBook as FloatOrderBook
from sortedcontainers import SortedDict

from feedhandler.core.book import ASK, BID, OrderBook

TICKS_PER_SIDE = 1200
MID = 10_000_000
NEAR_TOP_MEAN_TICKS = 30
DISTRIBUTIONS = ("uniform", "near-top")
FEEDHANDLER = "feedhandler (C loop, ladder_width=4096)"
SORTED_DICT = "sortedcontainers.SortedDict (Python loop)"

Levels = dict[int, int]
Updates = tuple[np.ndarray, np.ndarray, np.ndarray]


def make_snapshot(rng: np.random.Generator, tick: int = 1) -> tuple[Levels, Levels]:
    """~1000 of the 1200 ticks per side: the steady state of 5/6 sets, 1/6 deletes."""
    distance = np.arange(1, TICKS_PER_SIDE + 1)
    books: list[Levels] = []
    for sign in (-1, 1):
        kept = distance[rng.random(TICKS_PER_SIDE) < 5 / 6]
        sizes = rng.integers(1, 10**8, len(kept))
        books.append(dict(zip(((MID + sign * kept) * tick).tolist(), sizes.tolist(), strict=True)))
    return books[BID], books[ASK]


def make_updates(rng: np.random.Generator, n: int, distribution: str, tick: int = 1) -> Updates:
    side = rng.integers(0, 2, n).astype(np.int8)
    if distribution == "uniform":
        distance = rng.integers(1, TICKS_PER_SIDE + 1, n)
    else:
        distance = np.minimum(rng.geometric(1 / NEAR_TOP_MEAN_TICKS, n), TICKS_PER_SIDE)
    price = np.where(side == BID, MID - distance, MID + distance).astype(np.int64) * tick
    size = np.where(rng.random(n) < 1 / 6, 0, rng.integers(1, 10**8, n)).astype(np.int64)
    return side, price, size


def loaded_book(snapshot: tuple[Levels, Levels], **book_options: int) -> OrderBook:
    book = OrderBook(**book_options)
    bids, asks = snapshot
    book.replace(
        np.fromiter(bids, np.int64),
        np.fromiter(bids.values(), np.int64),
        np.fromiter(asks, np.int64),
        np.fromiter(asks.values(), np.int64),
    )
    return book


def python_rows(updates: Updates) -> list[tuple[int, int, int]]:
    return list(zip(*(column.tolist() for column in updates), strict=True))


def book_levels(book: OrderBook) -> tuple[Levels, Levels]:
    sides = []
    for side in (BID, ASK):
        prices, sizes = book.levels(side)
        sides.append(dict(zip(prices.tolist(), sizes.tolist(), strict=True)))
    return sides[BID], sides[ASK]


def run_feedhandler(
    snapshot: tuple[Levels, Levels], updates: Updates, **book_options: int
) -> tuple[float, tuple[Levels, Levels]]:
    book = loaded_book(snapshot, **book_options)
    start = time.perf_counter_ns()
    book.bench_apply(*updates)
    return time.perf_counter_ns() - start, book_levels(book)


def run_feedhandler_python_loop(
    snapshot: tuple[Levels, Levels], updates: Updates
) -> tuple[float, tuple[Levels, Levels]]:
    """The same book driven one call at a time from Python: what a Python caller pays."""
    book = loaded_book(snapshot)
    apply_delta, best_bid, best_ask = book.apply_delta, book.best_bid, book.best_ask
    rows = python_rows(updates)
    start = time.perf_counter_ns()
    for side, price, size in rows:
        apply_delta(side, price, size)
        best_bid()
        best_ask()
    return time.perf_counter_ns() - start, book_levels(book)


def apply_sorteddict(bids: SortedDict, asks: SortedDict, rows: list[tuple[int, int, int]]) -> None:
    """The timed SortedDict loop: set or delete, then peek at both best levels."""
    books = (bids, asks)
    for side, price, size in rows:
        if size:
            books[side][price] = size
        else:
            books[side].pop(price, None)
        if bids:
            bids.peekitem(-1)
        if asks:
            asks.peekitem(0)


def run_sorteddict(
    snapshot: tuple[Levels, Levels], updates: Updates
) -> tuple[float, tuple[Levels, Levels]]:
    bids, asks = SortedDict(snapshot[BID]), SortedDict(snapshot[ASK])
    rows = python_rows(updates)
    start = time.perf_counter_ns()
    apply_sorteddict(bids, asks, rows)
    return time.perf_counter_ns() - start, (dict(bids), dict(asks))


def run_order_book(
    snapshot: tuple[Levels, Levels], updates: Updates
) -> tuple[float, tuple[Levels, Levels]]:
    """order_book 0.6.1 keys on floats (integral here, so exact); plain floats, not numpy ones,
    because numpy scalar keys make it several times slower."""
    book = FloatOrderBook()
    sides = (book.bids, book.asks)
    for side, levels in zip(sides, snapshot, strict=True):
        for price, size in levels.items():
            side[float(price)] = float(size)
    rows = zip(
        updates[0].tolist(), *(column.astype(float).tolist() for column in updates[1:]), strict=True
    )
    start = time.perf_counter_ns()
    for side, price, size in rows:
        if size:
            sides[side][price] = size
        else:
            try:
                del sides[side][price]
            except KeyError:
                pass
        if len(book.bids):
            book.bids.index(0)
        if len(book.asks):
            book.asks.index(0)
    elapsed = time.perf_counter_ns() - start
    final = book.to_dict()
    return elapsed, tuple(
        {int(price): int(size) for price, size in final[name].items()} for name in ("bid", "ask")
    )


Runner = Callable[..., tuple[float, tuple[Levels, Levels]]]


def best_of(repeats: int, runner: Runner, *args: object, **kwargs: int) -> tuple[float, object]:
    """Fastest of ``repeats`` runs on fresh books: the least disturbed by the other core's load."""
    runs = [runner(*args, **kwargs) for _ in range(repeats)]
    return min(elapsed for elapsed, _ in runs), runs[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1_000_000)
    parser.add_argument("--slow-updates", type=int, default=20_000, help="for order_book")
    parser.add_argument("--python-updates", type=int, default=200_000, help="Python-loop rows")
    parser.add_argument("--repeats", type=int, default=5, help="runs of the C loop, best kept")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    table: dict[tuple[str, str], float] = {}
    for distribution in DISTRIBUTIONS:
        rng = np.random.default_rng(args.seed)
        snapshot = make_snapshot(rng)
        updates = make_updates(rng, args.updates, distribution)
        few = tuple(column[: args.slow_updates] for column in updates)
        some = tuple(column[: args.python_updates] for column in updates)
        scaled_snapshot = make_snapshot(np.random.default_rng(args.seed), tick=1000)
        scaled = make_updates(
            np.random.default_rng(args.seed + 1), args.updates, distribution, 1000
        )

        fh_ns, fh_final = best_of(args.repeats, run_feedhandler, snapshot, updates)
        sd_ns, sd_final = run_sorteddict(snapshot, updates)
        assert fh_final == sd_final, "feedhandler and SortedDict disagree"
        narrow_ns, narrow_final = best_of(
            args.repeats, run_feedhandler, snapshot, updates, ladder_width=64
        )
        assert narrow_final == fh_final, "ladder_width=64 disagrees"
        scaled_ns, _ = best_of(args.repeats, run_feedhandler, scaled_snapshot, scaled, tick=1000)
        py_ns, py_final = run_feedhandler_python_loop(snapshot, some)
        assert py_final == run_feedhandler(snapshot, some)[1], "Python loop disagrees"
        ob_ns, ob_final = run_order_book(snapshot, few)
        assert ob_final == run_feedhandler(snapshot, few)[1], "order_book disagrees"

        per_update = {
            FEEDHANDLER: fh_ns / args.updates,
            "feedhandler, ladder_width=64 (mostly sorted arrays)": narrow_ns / args.updates,
            "feedhandler, tick=1000 (slot by division)": scaled_ns / args.updates,
            "feedhandler, Python loop (apply_delta + best_*)": py_ns / len(some[0]),
            SORTED_DICT: sd_ns / args.updates,
            f"order_book 0.6.1 (Python loop, {len(few[0]):,} updates)": ob_ns / len(few[0]),
        }
        table.update(((name, distribution), ns) for name, ns in per_update.items())

    names = list(dict.fromkeys(name for name, _ in table))
    width = max(map(len, names))
    print(f"{'ns per update + best bid/ask read':<{width}}  {'uniform':>10}  {'near-top':>10}")
    for name in names:
        cells = "  ".join(f"{table[name, dist]:>10.1f}" for dist in DISTRIBUTIONS)
        print(f"{name:<{width}}  {cells}")
    fh, sd = table[FEEDHANDLER, "uniform"], table[SORTED_DICT, "uniform"]
    print(f"book: {fh:.1f} ns/update, SortedDict {sd:.1f} ns, ratio {sd / fh:.1f}x")


if __name__ == "__main__":
    main()
