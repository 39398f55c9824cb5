"""The venue's clock as seen from here, for signatures and expiries the venue checks.

Venues refuse a signed request whose timestamp is too far from their own clock (Binance
``recvWindow``, Bybit ``expires``, OKX 30 s, Gate.io 60 s): a private stream signs with
``clock.now_ms()``, which adds the offset learned from a server-time REST call
(``learn``) or from the venue's own timestamps (``observe``).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ServerClock:
    """Local wall clock plus the venue's offset, in milliseconds."""

    def __init__(self, local_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.local_ms = local_ms
        self.offset_ms = 0
        self.learned = False

    def now_ms(self) -> int:
        return self.local_ms() + self.offset_ms

    def learn(self, server_ms: int, sent_ms: int, received_ms: int) -> None:
        """A server-time answer that left at ``sent_ms`` and arrived at ``received_ms``
        (local): the server stamped it about half-way."""
        self.offset_ms = server_ms - (sent_ms + received_ms) // 2
        self.learned = True

    def observe(self, server_ms: int) -> None:
        """A venue timestamp on a message just received: the venue's clock was at least that
        far on, so an offset that puts us behind it is raised (one-way latency is ignored)."""
        behind = server_ms - self.local_ms()
        if not self.learned or behind > self.offset_ms:
            self.offset_ms = behind
            self.learned = True
