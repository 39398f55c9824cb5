"""pytest-benchmark twins of ``bench/book.py``.

Run: ``python -m pytest bench/test_bench_book.py --benchmark-enable``.

Each round starts from the same ~1000-level snapshot and applies a batch of updates, each followed
by a best bid and ask read; per-update cost is the round time divided by the batch size.
"""

import numpy as np
import pytest
from sortedcontainers import SortedDict

from bench.book import (
    DISTRIBUTIONS,
    apply_sorteddict,
    loaded_book,
    make_snapshot,
    make_updates,
    python_rows,
)
from feedhandler.core.book import ASK, BID

UPDATES = 100_000
SORTED_DICT_UPDATES = 5_000


@pytest.fixture(scope="module", params=DISTRIBUTIONS)
def workload(request: pytest.FixtureRequest):
    rng = np.random.default_rng(2024)
    return make_snapshot(rng), make_updates(rng, UPDATES, request.param)


@pytest.mark.benchmark(group="book: 100k updates + best reads")
@pytest.mark.parametrize("ladder_width", [4096, 64])
def test_feedhandler(benchmark, workload, ladder_width: int) -> None:
    snapshot, updates = workload
    checksum = benchmark.pedantic(
        lambda book: book.bench_apply(*updates),
        setup=lambda: ((loaded_book(snapshot, ladder_width=ladder_width),), {}),
        rounds=20,
    )
    assert checksum > 0


@pytest.mark.benchmark(group="book: 5k updates + best reads")
def test_sorteddict(benchmark, workload) -> None:
    snapshot, updates = workload
    rows = python_rows(tuple(column[:SORTED_DICT_UPDATES] for column in updates))
    benchmark.pedantic(
        apply_sorteddict,
        setup=lambda: ((SortedDict(snapshot[BID]), SortedDict(snapshot[ASK]), rows), {}),
        rounds=5,
    )


@pytest.mark.benchmark(group="book: 5k updates + best reads")
def test_feedhandler_small_batch(benchmark, workload) -> None:
    """The SortedDict batch size, so the two can be compared in one group."""
    snapshot, updates = workload
    few = tuple(column[:SORTED_DICT_UPDATES] for column in updates)
    checksum = benchmark.pedantic(
        lambda book: book.bench_apply(*few),
        setup=lambda: ((loaded_book(snapshot),), {}),
        rounds=50,
    )
    assert checksum > 0
