"""ConnectionPool against the fake venue: sharding by the venue's limits, routing, stop."""

from __future__ import annotations

import asyncio

import pytest

from feedhandler.exchanges.base import Channel
from feedhandler.net import CapacityError, ConnectionPool, StatusKind


def subscriptions(kit, symbols):
    """A book and a trades stream per symbol."""
    return [kit.sub(channel, symbol) for symbol in symbols
            for channel in (Channel.BOOK, Channel.TRADES)]


@pytest.fixture
async def pool(venue, kit):
    adapter = kit.FakeAdapter(venue, streams_per_connection=3, args_per_request=2,
                              max_connections=3)
    log = kit.StatusLog()
    pool = ConnectionPool(adapter, kit.rings(), on_status=log, backoff_factory=kit.fast_backoff,
                          handshake_timeout=2.0)
    pool.log = log
    yield pool
    await pool.stop()


async def test_subscriptions_spread_over_connections_within_the_limit(venue, kit, pool):
    subs = [*subscriptions(kit, ["BTC-USDT", "ETH-USDT", "SOL-USDT"]),
            kit.sub(Channel.TICKER, "XRP-USDT")]                            # 7 streams
    await pool.add(subs)
    await pool.wait_connected(3.0)
    await kit.wait_until(lambda: sum(len(s.subscribed()) for s in venue.sessions) == 7)

    assert len(venue.sessions) == 3
    per_session = [s.subscribed() for s in venue.sessions]
    assert sorted(len(args) for args in per_session) == [1, 3, 3]
    assert sorted(arg for args in per_session for arg in args) == sorted(
        kit.arg_of(s) for s in subs)                                        # each exactly once
    assert all(len(s.args) <= 3 for s in venue.sessions)
    owners = {pool.connection_of(s) for s in subs}
    assert owners == set(pool.connections) and len(owners) == 3
    assert set(pool.log.sources(StatusKind.CONNECTED)) == owners       # one event each
    assert len(pool.log.of(StatusKind.CONNECTED)) == 3
    books = [pool.connection_of(s).book(s) for s in subs if s.channel is Channel.BOOK]
    await kit.wait_until(lambda: all(b.valid for b in books))


async def test_more_than_max_connections_is_refused_and_nothing_is_placed(venue, kit, pool):
    await pool.add(subscriptions(kit, ["BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT"]))
    await pool.wait_connected(3.0)                                          # 8 streams: 3+3+2
    extra = [kit.sub(Channel.TICKER, "ADA-USDT"), kit.sub(Channel.TICKER, "DOGE-USDT")]

    with pytest.raises(CapacityError, match="3 of 3 allowed"):
        await pool.add(extra)                                               # 10 > 3 * 3
    assert len(pool.connections) == 3 and len(pool.owners) == 8
    assert all(pool.connection_of(s) is None for s in extra)

    await pool.add(extra[:1])                                               # the 9th still fits
    await kit.wait_until(lambda: "ticker:ADAUSDT" in {a for s in venue.sessions for a in s.args})
    assert len(venue.sessions) == 3
    assert all(len(s.args) == 3 for s in venue.sessions)


async def test_concurrent_adds_fill_connections_without_exceeding_the_limits(venue, kit):
    adapter = kit.FakeAdapter(venue, streams_per_connection=3, max_connections=2,
                              requests_per_second=20.0)               # adds wait for tokens
    pool = ConnectionPool(adapter, kit.rings(), backoff_factory=kit.fast_backoff)
    try:
        await pool.add(subscriptions(kit, ["BTC-USDT"]))
        await pool.wait_connected(3.0)
        await asyncio.gather(pool.add(subscriptions(kit, ["ETH-USDT"])),
                             pool.add(subscriptions(kit, ["SOL-USDT"])))
        await kit.wait_until(lambda: sum(len(s.args) for s in venue.sessions) == 6)
        assert len(pool.connections) == len(venue.sessions) == 2
        assert [len(s.args) for s in venue.sessions] == [3, 3]
    finally:
        await pool.stop()


async def test_unsubscribe_goes_to_the_owning_connection(venue, kit, pool):
    subs = subscriptions(kit, ["BTC-USDT", "ETH-USDT", "SOL-USDT"])        # 6 streams: 3+3
    await pool.add(subs)
    await pool.wait_connected(3.0)
    await kit.wait_until(lambda: sum(len(s.args) for s in venue.sessions) == 6)
    first, second = (next(s for s in venue.sessions if kit.arg_of(sub) in s.args)
                     for sub in (subs[0], subs[5]))
    assert first is not second

    await pool.remove([subs[4]])
    await kit.wait_until(lambda: second.requests("unsubscribe"))
    assert second.requests("unsubscribe") == [[kit.arg_of(subs[4])]]
    assert first.requests("unsubscribe") == []
    assert pool.connection_of(subs[4]) is None

    # a connection left with nothing to carry is closed; room is reused before opening more
    await pool.remove(subs[:3])
    await kit.wait_until(lambda: first.closed.is_set())
    assert first.close_code == 1000 and len(pool.connections) == 1
    await pool.add([kit.sub(Channel.TICKER, "XRP-USDT")])
    await kit.wait_until(lambda: "ticker:XRPUSDT" in second.args)
    assert len(venue.sessions) == 2


async def test_stop_closes_every_connection_and_leaves_no_task(venue, kit, pool):
    before = kit.pending_tasks()
    await pool.add(subscriptions(kit, ["BTC-USDT", "ETH-USDT", "SOL-USDT"]))
    await pool.wait_connected(3.0)
    assert len(venue.live()) == 2

    await pool.stop()
    assert kit.pending_tasks() - before == set()
    await kit.wait_until(lambda: not venue.live())
    assert [s.close_code for s in venue.sessions] == [1000, 1000]
    assert pool.connections == []


async def test_subscriptions_of_different_endpoints_never_share_a_connection(venue, kit):
    class TwoEndpointAdapter(kit.FakeAdapter):
        def endpoint_key(self, subscription):
            return "trades" if subscription.channel is Channel.TRADES else ""

    adapter = TwoEndpointAdapter(venue, streams_per_connection=3, max_connections=4)
    pool = ConnectionPool(adapter, kit.rings(), backoff_factory=kit.fast_backoff,
                          handshake_timeout=2.0)
    try:
        await pool.add(subscriptions(kit, ["BTC-USDT", "ETH-USDT"]))   # 2 books, 2 trades
        await pool.add([kit.sub(Channel.TRADES, "SOL-USDT")])          # joins the trades one
        await pool.wait_connected(3.0)
        await kit.wait_until(lambda: sum(len(s.subscribed()) for s in venue.sessions) == 5)

        assert len(pool.connections) == 2
        channels = [{sub.channel for sub in c.subscriptions.values()} for c in pool.connections]
        assert sorted(map(sorted, channels)) == [[Channel.BOOK], [Channel.TRADES]]
        assert sorted(len(c.subscriptions) for c in pool.connections) == [2, 3]
    finally:
        await pool.stop()
