"""Token bucket: bursts up to the bucket, then exactly the venue's rate, waiters in order."""

import asyncio
import time

import pytest

from feedhandler.net import RateLimiter


class VirtualTime:
    """A clock that ``sleep`` advances, so pacing is checked exactly and instantly."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_burst_then_paced_at_the_rate() -> None:
    vt = VirtualTime()
    limiter = RateLimiter(10.0, burst=2, clock=vt.clock, sleep=vt.sleep)
    done = []
    for _ in range(5):
        await limiter.acquire()
        done.append(round(vt.now, 9))
    assert done == [0.0, 0.0, 0.1, 0.2, 0.3]
    assert limiter.waited == pytest.approx(0.3)


async def test_idle_time_refills_up_to_the_burst_only() -> None:
    vt = VirtualTime()
    limiter = RateLimiter(5.0, burst=3, clock=vt.clock, sleep=vt.sleep)
    for _ in range(3):
        await limiter.acquire()
    vt.now += 100.0
    start = vt.now
    for _ in range(4):
        await limiter.acquire()
    assert vt.now - start == pytest.approx(0.2)   # 3 saved tokens, the 4th waits 1/5 s


async def test_concurrent_waiters_are_served_in_arrival_order() -> None:
    limiter = RateLimiter(50.0, burst=1)
    order: list[int] = []

    async def take(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    started = time.monotonic()
    await asyncio.gather(*(take(n) for n in range(6)))
    elapsed = time.monotonic() - started
    assert order == list(range(6))
    assert 5 / 50.0 - 0.01 <= elapsed < 0.5


async def test_a_request_larger_than_the_bucket_is_refused() -> None:
    with pytest.raises(ValueError):
        await RateLimiter(2.0, burst=2).acquire(3)
