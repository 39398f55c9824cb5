"""Connection manager: self-healing venue connections and the pool that shards across them."""

from feedhandler.net.backoff import Backoff
from feedhandler.net.connection import (
    CapacityError,
    Connection,
    Decoded,
    StatusEvent,
    StatusKind,
)
from feedhandler.net.outbox import Outbox, OutboxFull
from feedhandler.net.pool import ConnectionPool
from feedhandler.net.ratelimit import RateLimiter

__all__ = [
    "Backoff",
    "CapacityError",
    "Connection",
    "ConnectionPool",
    "Decoded",
    "Outbox",
    "OutboxFull",
    "RateLimiter",
    "StatusEvent",
    "StatusKind",
]
