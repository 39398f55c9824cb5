"""Connection.rotate against the fake venue: make before break, its fallbacks, lifetimes."""

from __future__ import annotations

import asyncio

from feedhandler.exchanges.base import Channel
from feedhandler.net import StatusKind


def three_subs(kit):
    return [kit.sub(Channel.BOOK, "BTC-USDT"), kit.sub(Channel.TRADES, "BTC-USDT"),
            kit.sub(Channel.TICKER, "ETH-USDT")]


async def live(kit, venue, connection, sessions=1):
    await kit.wait_until(lambda: len(venue.sessions) == sessions and connection.connected,
                         what=f"session {sessions} connected")
    books = [connection.book(s) for s in connection.subscriptions.values()
             if s.channel is Channel.BOOK]
    await kit.wait_until(lambda: all(b.valid for b in books), what="books live")


class ValidityWatch:
    """Samples a book's validity every millisecond: a rotation must never withdraw it."""

    def __init__(self, book):
        self.book = book
        self.samples: list[bool] = []
        self.task = asyncio.get_running_loop().create_task(self.watch())

    async def watch(self):
        while True:
            self.samples.append(bool(self.book.valid))
            await asyncio.sleep(0.001)

    async def stop(self) -> list[bool]:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        return self.samples


async def test_rotate_subscribes_a_replacement_then_closes_the_old_socket(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    adapter.sync_delay = 0.2
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await live(kit, venue, connection)
    book = connection.book(subs[0])
    first = venue.sessions[0]
    watch = ValidityWatch(book)
    mark = len(log.events)

    connection.rotate("serverShutdown")
    connection.rotate("serverShutdown")            # while one runs: ignored
    await kit.wait_until(lambda: len(venue.sessions) == 2, what="replacement dialled")
    second = venue.sessions[1]
    await kit.wait_until(lambda: sorted(second.subscribed()) == sorted(kit.arg_of(s) for s in subs),
                         what="replacement subscribed")
    assert first.is_open and not first.closed.is_set()   # the old one still delivers
    await kit.wait_until(lambda: connection.stats()["rotations"] == 1, what="switched")
    await kit.wait_until(lambda: first.closed.is_set(), what="old socket closed")

    assert all(await watch.stop())
    assert first.close_code == 1000
    assert connection.book(subs[0]) is book and book.valid
    assert log.events[mark:] == []             # no BOOK_INVALID, no DISCONNECTED
    stats = connection.stats()
    assert stats["rotations"] == 1 and stats["rotation_failures"] == 0
    assert stats["reconnects"] == 0 and stats["disconnects"] == 0
    assert len(venue.sessions) == 2 and connection.connected
    # delivery and sends now go through the replacement
    connection.send(b'{"op":"hello"}')
    await kit.wait_until(lambda: {"op": "hello"} in second.received, what="sent on replacement")


async def test_a_replacement_that_cannot_be_dialled_falls_back_to_a_reconnect(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await live(kit, venue, connection)
    adapter.urls.append("ws://127.0.0.1:1/")     # nothing listens there: the dial is refused

    connection.rotate("serverShutdown")
    await live(kit, venue, connection, sessions=2)

    stats = connection.stats()
    assert stats["rotation_failures"] == 1 and stats["rotations"] == 0
    assert "ConnectionRefusedError" in stats["last_rotation_failure"]
    assert stats["disconnect_reasons"] == {"requested": 1} and stats["reconnects"] == 1
    invalid = log.of(StatusKind.BOOK_INVALID)
    assert len(invalid) == 1 and "rotation failed" in invalid[0].reason
    assert log.validity(StatusKind.BOOK_INVALID) == [False]
    assert len(log.of(StatusKind.BOOK_RESYNCED)) == 2


async def test_a_replacement_whose_book_sync_fails_falls_back_to_a_reconnect(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await live(kit, venue, connection)
    adapter.sync_failures = 1

    connection.rotate("serverShutdown")
    await live(kit, venue, connection, sessions=3)    # the replacement, then the reconnect

    stats = connection.stats()
    assert stats["rotation_failures"] == 1 and stats["rotations"] == 0
    assert "snapshot endpoint unavailable" in stats["last_rotation_failure"]
    assert venue.sessions[1].closed.is_set()         # the replacement was let go
    assert len(log.of(StatusKind.BOOK_INVALID)) == 1


async def test_a_replacement_slower_than_the_rotation_timeout_falls_back(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, rotation_timeout=0.3)
    await live(kit, venue, connection)
    adapter.sync_delay = 1.0

    connection.rotate("serverShutdown")
    await kit.wait_until(lambda: connection.stats()["rotation_failures"] == 1, what="gave up")
    assert connection.stats()["last_rotation_failure"] == "TimeoutError"
    adapter.sync_delay = 0.01
    await live(kit, venue, connection, sessions=3)


async def test_the_documented_lifetime_rotates_each_socket_before_it_ends(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    adapter.connection_lifetime = 0.8                # rotates 0.2 s before the end
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await live(kit, venue, connection)
    watch = ValidityWatch(connection.book(subs[0]))

    await kit.wait_until(lambda: connection.stats()["rotations"] >= 3, timeout=5.0,
                         what="three rotations")
    assert all(await watch.stop())
    assert log.of(StatusKind.BOOK_INVALID) == []
    assert connection.stats()["reconnects"] == 0
    closed = [s for s in venue.sessions if s.closed.is_set()]
    assert len(closed) >= 3 and all(s.close_code == 1000 for s in closed)


async def test_an_unplanned_drop_during_a_rotation_reconnects(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    adapter.sync_delay = 0.3
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await live(kit, venue, connection)

    connection.rotate("serverShutdown")
    await kit.wait_until(lambda: len(venue.sessions) == 2, what="replacement dialled")
    venue.sessions[0].transport.disconnect(graceful=False)
    await kit.wait_until(lambda: connection.stats()["rotation_failures"] == 1, what="gave up")
    assert "ended first" in connection.stats()["last_rotation_failure"]
    await live(kit, venue, connection, sessions=3)
    assert connection.stats()["disconnect_reasons"] == {"dropped": 1}
    assert "connection lost" in log.of(StatusKind.BOOK_INVALID)[0].reason


async def test_add_during_a_rotation_waits_and_subscribes_on_the_replacement(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    adapter.sync_delay = 0.2
    subs = three_subs(kit)
    connection = make_connection(adapter, subs)
    await live(kit, venue, connection)

    connection.rotate("serverShutdown")
    await kit.wait_until(lambda: len(venue.sessions) == 2, what="replacement dialled")
    extra = kit.sub(Channel.BOOK, "SOL-USDT")
    await connection.add([extra])
    assert connection.stats()["rotations"] == 1
    await kit.wait_until(lambda: kit.arg_of(extra) in venue.sessions[1].subscribed(),
                         what="added on the replacement")
    await kit.wait_until(lambda: connection.book(extra).valid, what="new book live")


async def test_stop_during_a_rotation_leaves_no_task_and_no_open_socket(
        venue, make_connection, kit):
    before = kit.pending_tasks()
    adapter = kit.FakeAdapter(venue)
    adapter.sync_delay = 1.0
    connection = make_connection(adapter, three_subs(kit))
    await live(kit, venue, connection)
    adapter.sync_delay = 5.0
    connection.rotate("serverShutdown")
    await kit.wait_until(lambda: len(venue.sessions) == 2 and venue.sessions[1].subscribed(),
                         what="replacement subscribing")

    await connection.stop()
    assert kit.pending_tasks() - before == set()
    await kit.wait_until(lambda: all(s.closed.is_set() for s in venue.sessions),
                         what="both sockets closed")
    assert connection.rotation is None


async def test_each_connection_keeps_one_lifetime_timer_over_reconnects(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    adapter.connection_lifetime = 3600.0
    connection = make_connection(adapter, three_subs(kit))
    await live(kit, venue, connection)
    for sessions in (2, 3, 4):
        venue.drop()
        await live(kit, venue, connection, sessions=sessions)
    timers = [t for t in kit.pending_tasks() if t.get_name().endswith(":lifetime")]
    assert len(timers) == 1


def announcing_adapter(kit, venue):
    """The fake adapter, rotating its link on a ``serverShutdown`` event as the Binance
    adapter does."""

    class Announcing(kit.FakeAdapter):
        def handle_control(self, link, raw):
            if b"serverShutdown" in raw:
                link.rotate("serverShutdown")
                return
            super().handle_control(link, raw)

    return Announcing(venue)


async def test_a_shutdown_announced_by_the_venue_rotates_the_connection(
        venue, make_connection, kit):
    adapter = announcing_adapter(kit, venue)
    log = kit.StatusLog()
    connection = make_connection(adapter, three_subs(kit), on_status=log)
    await live(kit, venue, connection)
    mark = len(log.events)

    venue.sessions[0].send({"event": "serverShutdown"})
    await kit.wait_until(lambda: connection.stats()["rotations"] == 1, what="rotated")
    assert log.events[mark:] == [] and venue.sessions[0].close_code == 1000


async def test_a_shutdown_announced_on_the_replacement_rotates_again_after_the_switch(
        venue, make_connection, kit):
    adapter = announcing_adapter(kit, venue)
    adapter.sync_delay = 0.2
    log = kit.StatusLog()
    connection = make_connection(adapter, three_subs(kit), on_status=log)
    await live(kit, venue, connection)
    mark = len(log.events)

    connection.rotate("connection lifetime ending")
    await kit.wait_until(lambda: len(venue.sessions) == 2 and venue.sessions[1].subscribed(),
                         what="replacement subscribing")
    venue.sessions[1].send({"event": "serverShutdown"})
    await kit.wait_until(lambda: connection.stats()["rotations"] == 2, what="rotated twice")
    assert len(venue.sessions) == 3 and venue.sessions[1].closed.is_set()
    assert log.events[mark:] == []
