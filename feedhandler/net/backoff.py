"""Reconnect delays: exponential backoff with full jitter.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the reconnects of
many clients dropped at the same moment, so a venue restart is not met by a synchronised
stampede; the cap bounds how long a feed can stay dark once the venue is back.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

MAX_EXPONENT = 62   # beyond this the ceiling is the cap for any sane base; keeps 2**n finite


class Backoff:
    """Delay before each dial: ``uniform(0, min(cap, base * 2**attempt))``.

    ``attempt`` counts consecutive failures. It starts again from 0 once a connection stayed up
    for ``reset_after`` seconds, so one flap after hours of service is retried quickly while a
    venue that accepts and drops at once is backed off ever further.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, reset_after: float = 60.0, *,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        if reset_after < 0:
            raise ValueError(f"reset_after must be >= 0, got {reset_after}")
        self.base = base
        self.cap = cap
        self.reset_after = reset_after
        self.rng = rng if rng is not None else random.Random()
        self.clock = clock
        self.attempt = 0
        self.connected_since: float | None = None

    def ceiling(self, attempt: int) -> float:
        """The largest delay the ``attempt``-th retry may draw."""
        return min(self.cap, self.base * 2.0 ** min(attempt, MAX_EXPONENT))

    def connected(self) -> None:
        """A connection came up: its uptime decides whether the next failure starts over."""
        self.connected_since = self.clock()

    def next_delay(self) -> float:
        """Seconds to wait before the next dial; call once per failed dial or lost connection."""
        if (self.connected_since is not None
                and self.clock() - self.connected_since >= self.reset_after):
            self.attempt = 0
        self.connected_since = None
        delay = self.rng.uniform(0.0, self.ceiling(self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
        self.connected_since = None
