"""Messages the user sent while the connection was down, kept in order until it is back.

Bounded, because a venue that stays unreachable must not grow memory without limit; and loud
when full, because a silently dropped request (an order, an unsubscribe) is worse than an error.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class OutboxFull(RuntimeError):
    """The connection is down and its outbound queue holds ``capacity`` messages already."""


class Outbox:
    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError(f"outbox capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.messages: deque[bytes] = deque()
        self.high_water = 0

    def __len__(self) -> int:
        return len(self.messages)

    def put(self, message: bytes) -> None:
        if len(self.messages) >= self.capacity:
            raise OutboxFull(
                f"outbox full: {self.capacity} messages queued while disconnected; "
                "the message was not queued")
        self.messages.append(message)
        self.high_water = max(self.high_water, len(self.messages))

    def flush(self, send: Callable[[bytes], bool]) -> int:
        """Hands messages to ``send`` oldest first; stops, keeping the rest, when it returns
        False (the socket went away mid-flush). Returns how many were sent."""
        sent = 0
        while self.messages:
            if not send(self.messages[0]):
                break
            self.messages.popleft()
            sent += 1
        return sent
