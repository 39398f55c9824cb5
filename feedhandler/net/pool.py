"""Subscriptions spread over as many connections as the venue's limits require.

Venues cap the streams one connection may carry; past the cap they refuse or disconnect. The
pool fills connections up to ``streams_per_connection``, opens another when all are full, and
refuses loudly beyond ``max_connections`` rather than overloading a connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from feedhandler.exchanges.base import Rings, Subscription, VenueAdapter
from feedhandler.net.backoff import Backoff
from feedhandler.net.connection import (
    BatchCallback,
    CapacityError,
    Connection,
    StatusCallback,
)


class ConnectionPool:
    """Owns the connections of one venue adapter and routes each subscription to one of them.

    ``connection_options`` go to every ``Connection`` as they are (handshake_timeout, ...);
    each connection gets its own ``backoff_factory()`` so one flapping socket does not slow the
    others' reconnects. The callbacks receive the connection that produced the batch or status;
    its ``decoder`` and ``book(subscription)`` give access to the data.
    """

    def __init__(self, adapter: VenueAdapter, rings: Rings, *,
                 on_batch: BatchCallback | None = None, on_status: StatusCallback | None = None,
                 backoff_factory: Callable[[], Backoff] = Backoff,
                 **connection_options: Any) -> None:
        self.adapter = adapter
        self.rings = rings
        self.on_batch = on_batch
        self.on_status = on_status
        self.backoff_factory = backoff_factory
        self.connection_options = connection_options
        self.per_connection = adapter.limits.streams_per_connection
        self.max_connections = adapter.limits.max_connections
        self.connections: list[Connection] = []
        self.owners: dict[tuple[Any, ...], Connection] = {}
        self.opened = 0     # names connections uniquely over the pool's life
        # add/remove wait on subscribe pacing: one at a time, so each plans on settled counts
        self.lock = asyncio.Lock()

    async def add(self, subscriptions: Iterable[Subscription]) -> None:
        """Places each new subscription on a connection with room, opening connections as
        needed; raises ``CapacityError`` (placing nothing) past ``max_connections``."""
        async with self.lock:
            await self.place(subscriptions)

    async def place(self, subscriptions: Iterable[Subscription]) -> None:
        new: dict[tuple[Any, ...], Subscription] = {}
        for sub in subscriptions:
            if sub.key not in self.owners:
                new.setdefault(sub.key, sub)
        queues: dict[str, list[Subscription]] = {}
        for sub in new.values():
            queues.setdefault(self.adapter.endpoint_key(sub), []).append(sub)
        plan: list[tuple[Connection | None, list[Subscription]]] = []
        for endpoint, queue in queues.items():
            for connection in self.connections:
                room = self.per_connection - len(connection.subscriptions)
                if room > 0 and queue and self.endpoint_of(connection) == endpoint:
                    plan.append((connection, queue[:room]))
                    del queue[:room]
            while queue:
                plan.append((None, queue[:self.per_connection]))
                del queue[:self.per_connection]
        opening = sum(1 for connection, _ in plan if connection is None)
        if len(self.connections) + opening > self.max_connections:
            raise CapacityError(
                f"{self.adapter.name}: {len(new)} more subscriptions need {opening} more "
                f"connections; {len(self.connections)} of {self.max_connections} allowed are open "
                f"({self.per_connection} streams each)")
        for existing, chunk in plan:
            if existing is None:
                owner = self.open(chunk)
            else:
                owner = existing
                await owner.add(chunk)
            for sub in chunk:
                self.owners[sub.key] = owner

    async def remove(self, subscriptions: Iterable[Subscription]) -> None:
        """Unsubscribes on the owning connections; a connection left empty is closed."""
        async with self.lock:
            by_owner: dict[Connection, list[Subscription]] = {}
            for sub in subscriptions:
                owner = self.owners.pop(sub.key, None)
                if owner is not None:
                    by_owner.setdefault(owner, []).append(sub)
            for connection, subs in by_owner.items():
                await connection.remove(subs)
                if not connection.subscriptions:
                    self.connections.remove(connection)
                    await connection.stop()

    async def replace(self, subscriptions: Iterable[Subscription], reason: str) -> None:
        """Hands each owning connection the subscriptions' new instrument record (a changed
        tick or lot size; ``Connection.replace``)."""
        async with self.lock:
            by_owner: dict[Connection, list[Subscription]] = {}
            for sub in subscriptions:
                owner = self.owners.get(sub.key)
                if owner is not None:
                    by_owner.setdefault(owner, []).append(sub)
            for connection, subs in by_owner.items():
                await connection.replace(subs, reason)

    def endpoint_of(self, connection: Connection) -> str | None:
        """The endpoint a connection serves (None once it holds nothing)."""
        for sub in connection.subscriptions.values():
            return self.adapter.endpoint_key(sub)
        return None

    def connection_of(self, subscription: Subscription) -> Connection | None:
        return self.owners.get(subscription.key)

    async def stop(self) -> None:
        connections, self.connections = self.connections, []
        self.owners.clear()
        await asyncio.gather(*(connection.stop() for connection in connections))

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Returns once every connection is live; a timeout names each connection still down,
        the channels it carries and why it is down (its last connect failure)."""
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(c.wait_connected() for c in self.connections))
        except TimeoutError:
            down = [describe_down(c) for c in self.connections if not c.connected]
            raise TimeoutError(f"not connected within {timeout} s: " + "; ".join(down)) from None

    def stats(self) -> list[dict[str, Any]]:
        return [connection.stats() for connection in self.connections]

    def open(self, subscriptions: list[Subscription]) -> Connection:
        self.opened += 1
        connection = Connection(self.adapter, self.rings, subscriptions,
                                on_batch=self.on_batch, on_status=self.on_status,
                                backoff=self.backoff_factory(),
                                name=f"{self.adapter.name}#{self.opened}",
                                **self.connection_options)
        connection.start()
        self.connections.append(connection)
        return connection


def describe_down(connection: Connection) -> str:
    """``binance#2 (ohlcv BTC-USDT, trades BTC-USDT): <why it is down>``: its last connect
    failure, or the disconnect (and failures since) when it was up before."""
    carried = sorted({f"{s.channel} {s.instrument.symbol}".rstrip()
                      for s in connection.subscriptions.values()})
    if not connection.connects:
        reason = connection.last_connect_failure or "no answer yet"
    else:
        reason = f"disconnected: {connection.last_disconnect_reason}"
        if connection.last_connect_failure:
            reason += f"; last connect failure: {connection.last_connect_failure}"
    return f"{connection.name} ({', '.join(carried)}): {reason}"
