"""The fault matrix, one test per venue x fault: the reaction the fault calls for (reconnect,
resync, a typed error, or a make-before-break rotation that withdraws no book) within the
bound computed from the backoff, heartbeat and snapshot settings, the user told (every book
hit withdrawn with a reason naming the cause, nothing served while withdrawn), and afterwards
every book equal to the simulator's true book; refused credentials reach the user once as an
AuthError and are not retried. A venue without the thing the fault acts on (a checksum, a
private stream) reports the cell n/a with the reason, as a skip.

The faults of one venue run in order on one simulator and FeedHandler (each starts from live,
true books), once per module for each venue; each test then checks its own cell."""

from __future__ import annotations

import pytest
import uvloop

from feedhandler.exchanges.registry import venues
from feedhandler.sim.matrix import FAULTS, Cell, Reaction, Settings, run_venue, venue_plans


async def venue_cells(name: str) -> dict[str, Cell]:
    [plan] = await venue_plans([name])
    return {cell.fault: cell for cell in await run_venue(plan, FAULTS, Settings())}


@pytest.fixture(scope="module", params=[info.name for info in venues()])
def matrix_row(request: pytest.FixtureRequest) -> dict[str, Cell]:
    return uvloop.run(venue_cells(request.param))


@pytest.mark.parametrize("fault", [fault.name for fault in FAULTS])
def test_fault_outcome(matrix_row: dict[str, Cell], fault: str) -> None:
    cell = matrix_row[fault]
    if not cell.applicable:
        pytest.skip(f"n/a: {cell.note}")
    assert not cell.problems, f"{cell.venue} {cell.fault}: " + "; ".join(cell.problems)
    observed = cell.observed
    assert observed is not None
    assert observed.reaction is cell.expected
    if observed.reaction in (Reaction.TYPED_ERROR, Reaction.NONE, Reaction.AUTH_ERROR,
                             Reaction.ROTATE):
        assert not observed.reasons, f"a book was withdrawn: {observed.reasons}"
        # an AuthError tells the user itself; a rotation has nothing to tell: no gap
        if observed.reaction in (Reaction.AUTH_ERROR, Reaction.ROTATE):
            assert 0 < observed.recovery <= cell.bound
    else:
        assert 0 < observed.recovery <= cell.bound
        assert observed.reasons, "the user was told nothing"
