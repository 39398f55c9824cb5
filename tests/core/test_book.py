"""The order book against a plain two-dict reference model.

Small ladders (64-128 slots) and prices clustered around anchors that are far apart make the
window re-centre often, so the ladder, the sorted arrays and the moves between them are all
exercised; ticks > 1 add off-grid prices that must live outside the ladder.
"""

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from feedhandler.core.book import ASK, BID, BookError, BookStatus, OrderBook
from feedhandler.core.fixedpoint import to_text

MAX_PRICE = 2**63 - 1
ANCHORS = (1, 1_000, 10_000_000, 2**40, MAX_PRICE)


class ReferenceBook:
    """Two dicts and a sort: obviously right, and slow."""

    def __init__(self, max_levels: int = 65536, depth_limit: int = 0) -> None:
        self.max_levels = max_levels
        self.depth_limit = depth_limit
        self.sides: tuple[dict[int, int], dict[int, int]] = ({}, {})

    def apply(self, side: int, price: int, size: int) -> BookStatus:
        if side not in (BID, ASK) or price <= 0 or size < 0:
            return BookStatus.BOOK_BAD_LEVEL
        levels = self.sides[side]
        if size == 0:
            levels.pop(price, None)
        elif price in levels or len(levels) < self.max_levels:
            levels[price] = size
        else:
            return BookStatus.BOOK_FULL
        return BookStatus.BOOK_OK

    def ordered(self, side: int) -> list[tuple[int, int]]:
        return sorted(self.sides[side].items(), reverse=side == BID)

    def truncate(self) -> None:
        if self.depth_limit:
            for side in (BID, ASK):
                kept = self.ordered(side)[: self.depth_limit]
                self.sides[side].clear()
                self.sides[side].update(kept)

    def replace(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> BookStatus:
        rows = [(BID, p, s) for p, s in bids] + [(ASK, p, s) for p, s in asks]
        if any(price <= 0 or size < 0 for _, price, size in rows):
            return BookStatus.BOOK_BAD_LEVEL
        loaded: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for side, price, size in rows:
            if size:
                loaded[side][price] = size
            else:
                loaded[side].pop(price, None)
        if max(len(loaded[BID]), len(loaded[ASK])) > self.max_levels:
            return BookStatus.BOOK_FULL
        self.sides = loaded
        return BookStatus.BOOK_OK

    def crossed(self) -> bool:
        bids, asks = self.sides
        return bool(bids) and bool(asks) and max(bids) >= min(asks)


def assert_same(book: OrderBook, model: ReferenceBook) -> None:
    for side, best in ((BID, book.best_bid()), (ASK, book.best_ask())):
        expected = model.ordered(side)
        prices, sizes = book.levels(side)
        assert list(zip(prices.tolist(), sizes.tolist(), strict=True)) == expected
        assert best == (expected[0] if expected else None)
    assert book.bid_count == len(model.sides[BID])
    assert book.ask_count == len(model.sides[ASK])
    assert len(book) == book.bid_count + book.ask_count
    assert book.is_crossed == model.crossed()


def status_of(call) -> BookStatus:
    try:
        call()
    except BookError as error:
        return error.status
    return BookStatus.BOOK_OK


sides = st.sampled_from((BID, ASK))
sizes = st.one_of(st.integers(1, 10**6), st.just(MAX_PRICE))
# (anchor, ticks from it, remainder mod tick: non-zero means off the grid)
price_parts = st.tuples(
    st.sampled_from(ANCHORS),
    st.integers(-300, 300),
    st.one_of(st.just(0), st.just(0), st.integers(1, 10**6)),
)
anywhere = st.integers(1, MAX_PRICE)


class BookMachine(RuleBasedStateMachine):
    """Random set/delete/snapshot/clear/truncate sequences; the book must equal the model after
    every step."""

    @initialize(
        tick=st.sampled_from((1, 1, 7, 100)),
        ladder_width=st.sampled_from((64, 128, 4096)),
        max_levels=st.sampled_from((6, 40, 65536)),
        depth_limit=st.sampled_from((0, 0, 3, 10)),
    )
    def create(self, tick: int, ladder_width: int, max_levels: int, depth_limit: int) -> None:
        self.tick = tick
        self.book = OrderBook(
            tick=tick, ladder_width=ladder_width, max_levels=max_levels, depth_limit=depth_limit
        )
        self.model = ReferenceBook(max_levels, depth_limit)

    def price(self, parts: tuple[int, int, int]) -> int:
        anchor, ticks, remainder = parts
        return min(max(anchor + ticks * self.tick + remainder % self.tick, 1), MAX_PRICE)

    def apply(self, side: int, price: int, size: int) -> None:
        expected = self.model.apply(side, price, size)
        assert status_of(lambda: self.book.apply_delta(side, price, size)) == expected

    @rule(side=sides, parts=price_parts, size=sizes)
    def set_level(self, side: int, parts: tuple[int, int, int], size: int) -> None:
        self.apply(side, self.price(parts), size)

    @rule(side=sides, price=anywhere, size=sizes)
    def set_level_anywhere(self, side: int, price: int, size: int) -> None:
        self.apply(side, price, size)

    @rule(side=sides, parts=price_parts)
    def delete_level(self, side: int, parts: tuple[int, int, int]) -> None:
        self.apply(side, self.price(parts), 0)

    @precondition(lambda self: any(self.model.sides))
    @rule(side=sides, index=st.integers(0, 10**6))
    def delete_existing(self, side: int, index: int) -> None:
        side = side if self.model.sides[side] else 1 - side
        levels = self.model.ordered(side)
        self.apply(side, levels[index % len(levels)][0], 0)

    @precondition(lambda self: any(self.model.sides))
    @rule(side=sides)
    def delete_best(self, side: int) -> None:
        side = side if self.model.sides[side] else 1 - side
        self.apply(side, self.model.ordered(side)[0][0], 0)

    @rule(
        side=st.integers(-2, 3),
        price=st.integers(-5, MAX_PRICE),
        size=st.integers(-5, 10),
    )
    def maybe_bad_level(self, side: int, price: int, size: int) -> None:
        self.apply(side, price, size)

    @rule(rows=st.lists(st.tuples(sides, price_parts, st.one_of(st.just(0), sizes)), max_size=30))
    def apply_batch(self, rows: list[tuple[int, tuple[int, int, int], int]]) -> None:
        levels = [(side, self.price(parts), size) for side, parts, size in rows]
        expected = BookStatus.BOOK_OK
        for level in levels:
            expected = self.model.apply(*level)
            if expected != BookStatus.BOOK_OK:
                break
        columns = list(zip(*levels, strict=True)) or [(), (), ()]
        batch = (
            np.array(columns[0], dtype=np.int8),
            np.array(columns[1], dtype=np.int64),
            np.array(columns[2], dtype=np.int64),
        )
        assert status_of(lambda: self.book.apply_deltas(*batch)) == expected

    @rule(
        bids=st.lists(st.tuples(price_parts, st.one_of(st.just(0), sizes)), max_size=60),
        asks=st.lists(st.tuples(price_parts, st.one_of(st.just(0), sizes)), max_size=60),
        bad=st.sampled_from((None, None, None, "price", "size")),
    )
    def replace(self, bids, asks, bad: str | None) -> None:
        bid_rows = [(self.price(parts), size) for parts, size in bids]
        ask_rows = [(self.price(parts), size) for parts, size in asks]
        if bad and ask_rows:
            price, size = ask_rows[-1]
            ask_rows[-1] = (0, size) if bad == "price" else (price, -1)
        expected = self.model.replace(bid_rows, ask_rows)
        columns = [
            np.array([row[i] for row in rows], dtype=np.int64)
            for rows in (bid_rows, ask_rows)
            for i in (0, 1)
        ]
        assert status_of(lambda: self.book.replace(*columns)) == expected

    @rule()
    def clear(self) -> None:
        self.book.clear()
        self.model.sides = ({}, {})

    @rule()
    def truncate(self) -> None:
        self.book.truncate()
        self.model.truncate()

    @rule(side=sides, n=st.integers(0, 12))
    def read_top(self, side: int, n: int) -> None:
        expected = self.model.ordered(side)[:n]
        prices, sizes = self.book.top(side, n)
        assert list(zip(prices.tolist(), sizes.tolist(), strict=True)) == expected
        into_prices = np.full(n, -1, dtype=np.int64)
        into_sizes = np.full(n, -1, dtype=np.int64)
        count = self.book.top_into(side, into_prices, into_sizes)
        assert count == len(expected)
        assert into_prices[:count].tolist() == [price for price, _ in expected]
        assert into_sizes[:count].tolist() == [size for _, size in expected]
        assert (into_prices[count:] == -1).all()

    @invariant()
    def matches_model(self) -> None:
        assert_same(self.book, self.model)


BookMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=80, deadline=None)
TestBookMachine = BookMachine.TestCase


def replay_random_walk(seed: int, updates: int, tick: int, ladder_width: int) -> None:
    """A long stream whose touch drifts and jumps, through apply_deltas, checked at checkpoints."""
    rng = np.random.default_rng(seed)
    book = OrderBook(tick=tick, ladder_width=ladder_width)
    model = ReferenceBook()
    mid = np.cumsum(rng.integers(-3, 4, updates)) * tick + 10**9
    mid[updates // 3 :] += 10**6 * tick  # one jump far beyond any window
    side = rng.integers(0, 2, updates).astype(np.int8)
    distance = rng.geometric(1 / 40, updates) * tick + rng.integers(0, tick, updates) * (
        rng.random(updates) < 0.1
    )
    price = np.where(side == BID, mid - distance, mid + distance).astype(np.int64)
    size = np.where(rng.random(updates) < 1 / 6, 0, rng.integers(1, 10**8, updates))
    for start in range(0, updates, updates // 10):
        chunk = slice(start, start + updates // 10)
        book.apply_deltas(side[chunk], price[chunk], size[chunk])
        for level in zip(
            side[chunk].tolist(), price[chunk].tolist(), size[chunk].tolist(), strict=True
        ):
            model.apply(*level)
        assert_same(book, model)


@pytest.mark.parametrize(("tick", "ladder_width"), [(1, 64), (1, 4096), (5, 256)])
def test_long_random_walk_matches_model(tick: int, ladder_width: int) -> None:
    replay_random_walk(
        seed=tick * ladder_width, updates=300_000, tick=tick, ladder_width=ladder_width
    )


def test_off_grid_price_can_be_the_best() -> None:
    book = OrderBook(tick=10, ladder_width=64)
    for price in (100, 90, 105, 95):
        book.apply_delta(BID, price, price)
    assert book.best_bid() == (105, 105)
    assert book.levels(BID)[0].tolist() == [105, 100, 95, 90]
    book.apply_delta(BID, 105, 0)
    assert book.best_bid() == (100, 100)


def test_touch_jump_far_away_and_back() -> None:
    book = OrderBook(ladder_width=64)
    for price in range(1000, 1100):
        book.apply_delta(ASK, price, 1)
    book.apply_delta(ASK, 10, 7)
    assert book.best_ask() == (10, 7)
    book.apply_delta(ASK, 10, 0)
    assert book.best_ask() == (1000, 1)
    for price in range(1000, 1099):
        book.apply_delta(ASK, price, 0)
    assert book.best_ask() == (1099, 1)
    assert book.ask_count == 1


def test_bad_levels_raise_and_leave_the_book_unchanged() -> None:
    book = OrderBook()
    book.apply_delta(BID, 100, 1)
    count = book.update_count
    for side, price, size in ((BID, 0, 1), (ASK, -5, 1), (BID, 100, -1), (2, 100, 1)):
        with pytest.raises(BookError) as raised:
            book.apply_delta(side, price, size)
        assert raised.value.status == BookStatus.BOOK_BAD_LEVEL
        assert isinstance(raised.value, ValueError)
    assert book.best_bid() == (100, 1)
    assert len(book) == 1
    assert book.update_count == count


def test_full_side_refuses_new_levels_and_marks_the_book_invalid() -> None:
    book = OrderBook(max_levels=3, ladder_width=64)
    book.valid = True
    for price in (100, 101, 10**12):  # the last one lives outside the ladder
        book.apply_delta(BID, price, 1)
    book.apply_delta(BID, 101, 5)  # replacing an existing level is still fine
    assert book.valid
    for price in (99, 10**15):
        with pytest.raises(BookError) as raised:
            book.apply_delta(BID, price, 1)
        assert raised.value.status == BookStatus.BOOK_FULL
    assert not book.valid
    assert book.levels(BID)[0].tolist() == [10**12, 101, 100]
    book.apply_delta(ASK, 200, 1)  # the limit is per side
    assert book.ask_count == 1


def test_apply_deltas_stops_at_the_first_refused_row() -> None:
    book = OrderBook()
    rows = (
        np.array([BID, ASK, BID, ASK], dtype=np.int8),
        np.array([100, 105, 0, 106], dtype=np.int64),
        np.array([1, 2, 3, 4], dtype=np.int64),
    )
    with pytest.raises(BookError, match="row 2") as raised:
        book.apply_deltas(*rows)
    assert raised.value.status == BookStatus.BOOK_BAD_LEVEL
    assert book.best_bid() == (100, 1)
    assert book.best_ask() == (105, 2)
    assert book.ask_count == 1
    with pytest.raises(ValueError, match="same length"):
        book.apply_deltas(rows[0], rows[1][:2], rows[2])


def test_replace_refuses_bad_or_oversized_snapshots_without_touching_the_book() -> None:
    book = OrderBook(max_levels=2)
    book.apply_delta(BID, 50, 5)
    bad = np.array([10, 0], dtype=np.int64), np.array([1, 1], dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    with pytest.raises(BookError) as raised:
        book.replace(*bad, empty, empty)
    assert raised.value.status == BookStatus.BOOK_BAD_LEVEL
    three = np.array([1, 2, 3], dtype=np.int64), np.ones(3, dtype=np.int64)
    with pytest.raises(BookError) as raised:
        book.replace(empty, empty, *three)
    assert raised.value.status == BookStatus.BOOK_FULL
    with pytest.raises(TypeError):
        book.replace(np.array([1.5]), np.array([1]), empty, empty)
    with pytest.raises(ValueError, match="2 prices but 1 sizes"):
        book.replace(empty, empty, [1, 2], [1])
    assert book.levels(BID)[0].tolist() == [50]
    assert book.ask_count == 0


def test_replace_accepts_any_order_and_lets_the_last_row_win() -> None:
    book = OrderBook(ladder_width=64)
    book.replace([7, 3, 10**15, 7, 5], [1, 2, 3, 4, 0], [9, 8, 9], [1, 1, 0])
    assert book.levels(BID)[0].tolist() == [10**15, 7, 3]
    assert book.levels(BID)[1].tolist() == [3, 4, 2]
    assert book.levels(ASK)[0].tolist() == [8]
    assert book.update_count == 8


def test_depth_limit_keeps_the_best_levels_on_truncate() -> None:
    book = OrderBook(depth_limit=2, tick=10, ladder_width=64)
    for price in (100, 95, 90, 10**9, 3):
        book.apply_delta(BID, price, 1)
    assert book.bid_count == 5
    book.truncate()
    assert book.levels(BID)[0].tolist() == [10**9, 100]
    unlimited = OrderBook()
    for price in (1, 2, 3):
        unlimited.apply_delta(ASK, price, 1)
    unlimited.truncate()
    assert unlimited.ask_count == 3


def test_truncate_can_empty_the_ladder_under_off_grid_levels() -> None:
    book = OrderBook(depth_limit=3, tick=10, ladder_width=64)
    for price in (100, 90, 105, 107, 109):
        book.apply_delta(BID, price, 1)
    book.truncate()
    assert book.levels(BID)[0].tolist() == [109, 107, 105]
    for price in (109, 107, 105):
        book.apply_delta(BID, price, 0)
    assert book.best_bid() is None
    book.apply_delta(BID, 50, 2)
    assert book.best_bid() == (50, 2)
    assert book.levels(BID)[0].tolist() == [50]


def test_top_float_converts_by_the_scales() -> None:
    book = OrderBook(price_scale=2, size_scale=3)
    book.apply_delta(ASK, 10_050, 1_500)
    book.apply_delta(ASK, 10_100, 2)
    prices, sizes = book.top_float(ASK, 5)
    assert prices.dtype == np.float64
    assert prices.tolist() == [100.5, 101.0]
    assert sizes.tolist() == [1.5, 0.002]


def test_repr_shows_exact_decimals() -> None:
    book = OrderBook(price_scale=8, size_scale=8)
    assert "best_bid=None" in repr(book)
    book.apply_delta(BID, 6_512_345_678_901, 1)
    book.apply_delta(ASK, 6_512_345_678_902, 12_345_678)
    text = repr(book)
    assert f"best_bid={to_text(6_512_345_678_901, 8)} x 0.00000001" in text
    assert "best_ask=65123.45678902 x 0.12345678" in text


def test_empty_book_reads() -> None:
    book = OrderBook()
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert not book.is_crossed
    assert len(book) == 0
    assert book.top(BID, 5)[0].size == 0
    book.apply_delta(ASK, 5, 0)  # deleting an absent level is fine
    assert book.update_count == 1


def test_crossed_when_best_bid_reaches_best_ask() -> None:
    book = OrderBook()
    book.apply_delta(BID, 100, 1)
    book.apply_delta(ASK, 101, 1)
    assert not book.is_crossed
    book.apply_delta(ASK, 100, 1)
    assert book.is_crossed


def test_bench_apply_checksums_the_best_reads() -> None:
    rng = np.random.default_rng(7)
    sides_ = rng.integers(0, 2, 5000).astype(np.int8)
    prices = np.where(sides_ == BID, 1000, 1200) + rng.integers(-150, 150, 5000)
    sizes_ = np.where(rng.random(5000) < 1 / 6, 0, rng.integers(1, 100, 5000))
    model = ReferenceBook()
    expected = 0
    for level in zip(sides_.tolist(), prices.tolist(), sizes_.tolist(), strict=True):
        model.apply(*level)
        for side in (BID, ASK):
            best = model.ordered(side)[:1]
            expected += sum(best[0]) if best else 0
    book = OrderBook(ladder_width=64)
    assert book.bench_apply(sides_, prices, sizes_) == expected % 2**64
    assert_same(book, model)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tick": 0},
        {"ladder_width": 100},
        {"ladder_width": 0},
        {"max_levels": 0},
        {"depth_limit": -1},
        {"price_scale": 19},
        {"tick": 2**60, "ladder_width": 64},
    ],
)
def test_constructor_rejects_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        OrderBook(**kwargs)


def test_bench_apply_raises_on_a_refused_row() -> None:
    book = OrderBook()
    rows = np.array([BID, BID], dtype=np.int8), np.array([5, -5]), np.array([1, 1])
    with pytest.raises(BookError):
        book.bench_apply(*rows)
    assert book.best_bid() == (5, 1)
    with pytest.raises(ValueError, match="same length"):
        book.bench_apply(rows[0], rows[1][:1], rows[2])


def test_side_and_count_arguments_are_checked() -> None:
    book = OrderBook()
    with pytest.raises(ValueError):
        book.top(2, 1)
    with pytest.raises(ValueError):
        book.levels(-1)
    with pytest.raises(ValueError):
        book.top(BID, -1)


def test_view_depth_cuts_what_the_python_api_shows_not_what_the_book_holds() -> None:
    book = OrderBook(price_scale=0, size_scale=0, depth_limit=10, view_depth=3)
    for price in range(1, 11):
        book.apply_delta(0, price, price)
        book.apply_delta(1, 100 + price, price)
    assert book.levels(0)[0].tolist() == [10, 9, 8]
    assert book.top(1, 50)[0].tolist() == [101, 102, 103]
    assert (book.bid_count, book.ask_count, len(book)) == (3, 3, 6)
    prices = np.zeros(8, dtype=np.int64)
    sizes = np.zeros(8, dtype=np.int64)
    assert book.top_into(0, prices, sizes) == 3
    book.apply_delta(0, 10, 0)          # the best goes: the fourth held level moves up
    assert book.levels(0)[0].tolist() == [9, 8, 7]
    with pytest.raises(ValueError, match="view_depth"):
        OrderBook(view_depth=-1)
