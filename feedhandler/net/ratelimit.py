"""Token bucket that paces requests to the venue's published rate.

Venues disconnect (or ban) clients that exceed their request rate, which would turn a
resubscription storm after a reconnect into a reconnect loop; pacing on our side avoids it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """``rate`` tokens per second, at most ``burst`` saved up; waiters are served in order."""

    def __init__(self, rate: float, burst: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")
        self.clock = clock
        self.sleep = sleep
        self.tokens = self.burst
        self.updated = clock()
        self.waited = 0.0          # total seconds callers were held back
        self.lock = asyncio.Lock()

    def refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, tokens: float = 1.0) -> None:
        if tokens > self.burst:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.burst}")
        async with self.lock:
            self.refill()
            while self.tokens < tokens:
                wait = (tokens - self.tokens) / self.rate
                self.waited += wait
                await self.sleep(wait)
                self.refill()
            self.tokens -= tokens
