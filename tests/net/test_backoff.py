"""Backoff: full-jitter bounds, capped growth and the reset after a stable connection."""

import random

import pytest

from feedhandler.net import Backoff


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_are_uniform_draws_below_the_capped_exponential_ceiling() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    replica = random.Random(7)
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    delays = [backoff.next_delay() for _ in ceilings]
    assert delays == [replica.uniform(0.0, c) for c in ceilings]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert backoff.attempt == len(ceilings)


def test_ceiling_doubles_then_stays_at_the_cap_without_overflow() -> None:
    backoff = Backoff(base=0.25, cap=5.0)
    assert [backoff.ceiling(n) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.ceiling(10_000) == 5.0


def test_jitter_spreads_delays_over_the_whole_range() -> None:
    backoff = Backoff(base=1.0, cap=1.0, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(4000)]
    assert min(delays) < 0.01 and max(delays) > 0.99
    assert 0.47 < sum(delays) / len(delays) < 0.53
    assert sum(d < 0.5 for d in delays) / len(delays) == pytest.approx(0.5, abs=0.03)


def test_attempts_reset_only_after_a_connection_stayed_up_reset_after_seconds(kit) -> None:
    clock = FakeClock()
    backoff = Backoff(base=0.5, cap=8.0, reset_after=30.0, rng=kit.MaxRandom(), clock=clock)
    assert [backoff.next_delay() for _ in range(4)] == [0.5, 1.0, 2.0, 4.0]

    backoff.connected()
    clock.now += 29.9                             # a short-lived connection: keep backing off
    assert backoff.next_delay() == 8.0
    assert backoff.attempt == 5

    backoff.connected()
    clock.now += 30.0                             # stable for reset_after: start over
    assert backoff.next_delay() == 0.5
    assert backoff.next_delay() == 1.0            # failed dials after it grow again
    assert backoff.attempt == 2


def test_a_failed_dial_does_not_count_as_uptime(kit) -> None:
    clock = FakeClock()
    backoff = Backoff(base=1.0, cap=64.0, reset_after=10.0, rng=kit.MaxRandom(), clock=clock)
    backoff.connected()
    clock.now += 5.0
    assert backoff.next_delay() == 1.0
    clock.now += 60.0                             # long outage, never connected meanwhile
    assert backoff.next_delay() == 2.0


@pytest.mark.parametrize("kwargs", [{"base": 0.0}, {"base": 2.0, "cap": 1.0},
                                    {"reset_after": -1.0}])
def test_rejects_nonsense_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
