"""Connection against the fake venue: replay, faults, heartbeat, outbox, unsubscribe, stop."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import socket
import ssl
import subprocess
import time
import warnings
from pathlib import Path

import pytest
from picows import WSMsgType

from feedhandler.exchanges.base import Channel, Heartbeat
from feedhandler.net import (
    Backoff,
    CapacityError,
    Connection,
    Decoded,
    OutboxFull,
    StatusKind,
)

FAST_HEARTBEAT = Heartbeat(ping_interval=0.3, pong_timeout=0.2)


def three_subs(kit):
    return [kit.sub(Channel.BOOK, "BTC-USDT"), kit.sub(Channel.TRADES, "BTC-USDT"),
            kit.sub(Channel.TICKER, "ETH-USDT")]


async def connected_with_books(kit, venue, connection, sessions=1):
    """Waits for the ``sessions``-th venue session to be replayed and every book live."""
    await kit.wait_until(lambda: len(venue.live()) == 1 and len(venue.sessions) == sessions
                         and connection.connected, what=f"session {sessions} connected")
    session = venue.sessions[-1]
    await kit.wait_until(lambda: len(session.subscribed()) == len(connection.subscriptions),
                         what="subscriptions received")
    books = [connection.book(s) for s in connection.subscriptions.values()
             if s.channel is Channel.BOOK]
    await kit.wait_until(lambda: all(b.valid for b in books), what="books live")


async def test_connect_subscribes_in_chunks_and_syncs_books(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue, args_per_request=2)
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await connected_with_books(kit, venue, connection)

    session = venue.sessions[0]
    assert session.requests("subscribe") == [["book:BTCUSDT", "trades:BTCUSDT"],
                                             ["ticker:ETHUSDT"]]
    slot = connection.slot_of(subs[0])
    assert adapter.syncs == [("BTCUSDT", slot)]
    assert connection.book(subs[0]).valid
    assert connection.book(subs[1]) is connection.book(subs[0])     # same instrument, one book
    assert connection.book(subs[2]) is None                           # no book on ETH
    assert [e.kind for e in log.of(StatusKind.CONNECTED)] == [StatusKind.CONNECTED]
    assert log.of(StatusKind.BOOK_RESYNCED)[0].slot == slot
    stats = connection.stats()
    assert stats["connects"] == 1 and stats["reconnects"] == 0
    assert stats["messages"] == 2 and stats["bytes"] > 0               # the two acks


def inject(venue, fault):
    if fault == "drop":
        venue.drop()
    elif fault == "close_1012":
        venue.close(1012, "service restart")
    elif fault == "close_4001":
        venue.close(4001, "session expired")
    else:
        venue.stall()


@pytest.mark.parametrize(("fault", "category", "detail"), [
    ("drop", "dropped", "connection lost"),
    ("close_1012", "closed_by_venue", "code 1012 'service restart'"),
    ("close_4001", "closed_by_venue", "code 4001 'session expired'"),
    ("stall", "heartbeat", "peer has not replied"),
])
async def test_reconnects_after_a_fault_and_replays_subscriptions_and_books(
        venue, make_connection, kit, fault, category, detail):
    adapter = kit.FakeAdapter(venue, heartbeat=FAST_HEARTBEAT)
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await connected_with_books(kit, venue, connection)
    first = venue.sessions[0]
    book = connection.book(subs[0])

    inject(venue, fault)
    await connected_with_books(kit, venue, connection, sessions=2)

    second = venue.sessions[1]
    assert sorted(second.subscribed()) == sorted(first.subscribed()) == sorted(
        kit.arg_of(s) for s in subs)
    slot = connection.slot_of(subs[0])
    assert adapter.syncs == [("BTCUSDT", slot), ("BTCUSDT", slot)]
    assert connection.book(subs[0]) is book and book.valid
    invalid = log.of(StatusKind.BOOK_INVALID)
    assert len(invalid) == 1 and invalid[0].slot == slot and detail in invalid[0].reason
    assert log.validity(StatusKind.BOOK_INVALID) == [False]            # withdrawn before notice
    assert detail in log.of(StatusKind.DISCONNECTED)[0].reason
    stats = connection.stats()
    assert stats["disconnect_reasons"] == {category: 1}
    assert stats["connects"] == 2 and stats["reconnects"] == 1


@pytest.mark.parametrize("text_ping", [False, True], ids=["ping_frame", "text_ping"])
async def test_heartbeat_detects_a_venue_that_stops_answering_pings(
        venue, make_connection, kit, text_ping):
    ping_interval, pong_timeout = 0.4, 0.25
    heartbeat = (Heartbeat(ping_interval, pong_timeout, b'{"op":"ping"}', b'"pong"') if text_ping
                 else Heartbeat(ping_interval, pong_timeout))
    adapter = kit.FakeAdapter(venue, heartbeat=heartbeat)
    log = kit.StatusLog()
    connection = make_connection(adapter, [kit.sub(Channel.TRADES, "BTC-USDT")], on_status=log)
    await kit.wait_until(lambda: connection.connected)
    session = venue.sessions[0]

    # answered pings keep an idle connection up
    await kit.wait_until(lambda: session.pings >= 2, timeout=2.0, what="two answered pings")
    assert connection.stats()["disconnects"] == 0

    venue.answer_pings = False
    await kit.wait_until(lambda: log.of(StatusKind.DISCONNECTED), timeout=3.0)
    detection = log.times(StatusKind.DISCONNECTED)[0] - session.last_sent
    print(f"heartbeat ({'text' if text_ping else 'frame'} ping): detected "
          f"{detection:.3f} s after the venue's last message "
          f"(ping_interval {ping_interval} + pong_timeout {pong_timeout})")
    assert pong_timeout <= detection <= ping_interval + pong_timeout + 0.15
    assert connection.stats()["disconnect_reasons"] == {"heartbeat": 1}

    venue.answer_pings = True
    await kit.wait_until(lambda: len(venue.sessions) == 2 and venue.sessions[1].subscribed())
    assert venue.sessions[1].subscribed() == ["trades:BTCUSDT"]


async def test_handshake_timeout_is_retried_and_subscriptions_replayed(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log, handshake_timeout=0.3)
    await connected_with_books(kit, venue, connection)

    proxy = await venue.slow_handshakes(dials=1, delay=1.0)
    venue.drop()
    await connected_with_books(kit, venue, connection, sessions=2)

    assert proxy.accepted == 1 and proxy.forwarded == 0     # the slow dial never reached it
    failed = log.of(StatusKind.CONNECT_FAILED)
    assert len(failed) == 1 and "TimeoutError" in failed[0].reason
    waited = log.times(StatusKind.CONNECT_FAILED)[0] - log.times(StatusKind.DISCONNECTED)[0]
    assert 0.3 <= waited < 0.3 + 0.05 + 0.25              # timeout + backoff cap + slack
    assert sorted(venue.sessions[1].subscribed()) == sorted(kit.arg_of(s) for s in subs)
    assert len(adapter.syncs) == 2
    assert connection.stats()["connect_failure_reasons"] == {"timeout": 1}


async def test_a_slow_handshake_within_the_timeout_connects(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    proxy = await venue.slow_handshakes(dials=1, delay=0.2)
    connection = make_connection(adapter, [kit.sub(Channel.TRADES, "BTC-USDT")],
                                 handshake_timeout=1.0)
    await kit.wait_until(lambda: connection.connected and venue.sessions[0].subscribed())
    assert proxy.forwarded == 1
    assert venue.sessions[0].subscribed() == ["trades:BTCUSDT"]
    assert connection.stats()["connect_failures"] == 0


async def test_connect_errors_are_retried(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"ws://127.0.0.1:{closed.getsockname()[1]}/ws"
    adapter.urls = [refused, refused]
    venue.reject_handshakes = 1
    log = kit.StatusLog()
    connection = make_connection(adapter, [kit.sub(Channel.TRADES, "BTC-USDT")], on_status=log)
    await kit.wait_until(lambda: connection.connected and venue.sessions[0].subscribed())
    assert connection.stats()["connect_failure_reasons"] == {"network": 2, "handshake": 1}
    assert "503" in log.of(StatusKind.CONNECT_FAILED)[2].reason
    assert venue.sessions[0].subscribed() == ["trades:BTCUSDT"]


async def test_measured_backoff_sequence_follows_the_seeded_full_jitter_draws(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    base, cap, reset_after, seed = 0.04, 0.16, 0.3, 11
    backoff = Backoff(base, cap, reset_after, rng=random.Random(seed))
    venue.reject_handshakes = 5
    connection = make_connection(adapter, [kit.sub(Channel.TRADES, "BTC-USDT")],
                                 backoff=backoff)
    await kit.wait_until(lambda: connection.connected)

    replica = random.Random(seed)
    ceilings = [min(cap, base * 2 ** n) for n in range(5)]
    expected = [replica.uniform(0, c) for c in ceilings]
    gaps = [b - a for a, b in zip(venue.attempts, venue.attempts[1:], strict=False)]
    print("backoff ceilings", ceilings)
    print("backoff expected", [round(d, 4) for d in expected])
    print("backoff measured", [round(g, 4) for g in gaps])
    assert len(gaps) == 5
    assert ceilings == [0.04, 0.08, 0.16, 0.16, 0.16]            # capped growth
    for gap, delay, ceiling in zip(gaps, expected, ceilings, strict=True):
        assert 0 <= delay <= ceiling
        assert delay - 0.005 <= gap <= delay + 0.06               # dial + HTTP round trip
    assert backoff.attempt == 5

    # stable for longer than reset_after: the next loss backs off from attempt 0 again
    await asyncio.sleep(reset_after + 0.05)
    venue.drop()
    await kit.wait_until(lambda: len(venue.sessions) == 2 and connection.connected)
    assert backoff.attempt == 1
    assert venue.attempts[-1] - venue.attempts[-2] > reset_after   # the long stable period


async def test_messages_sent_while_disconnected_arrive_in_order_after_the_resubscription(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue, args_per_request=1)
    log = kit.StatusLog()
    subs = three_subs(kit)
    slow = Backoff(base=0.3, cap=0.3, rng=kit.MaxRandom())            # 0.3 s offline
    connection = make_connection(adapter, subs, on_status=log, backoff=slow, outbox_capacity=3)
    await connected_with_books(kit, venue, connection)

    venue.drop()
    await kit.wait_until(lambda: log.of(StatusKind.DISCONNECTED))
    for n in (1, 2, 3):
        connection.send(json.dumps({"op": "order", "n": n}))
    with pytest.raises(OutboxFull):
        connection.send(b'{"op":"order","n":4}')
    assert connection.stats()["outbox_size"] == 3

    await connected_with_books(kit, venue, connection, sessions=2)
    await kit.wait_until(lambda: len(venue.sessions[1].received) == 6)
    ops = [(m["op"], m.get("n")) for m in venue.sessions[1].received]
    assert ops == [("subscribe", None)] * 3 + [("order", 1), ("order", 2), ("order", 3)]
    stats = connection.stats()
    assert stats["outbox_size"] == 0 and stats["outbox_high_water"] == 3

    connection.send(b'{"op":"order","n":5}')                            # connected: sent now
    await kit.wait_until(lambda: len(venue.sessions[1].received) == 7)
    assert connection.stats()["outbox_high_water"] == 3


async def test_control_replies_skip_the_replay_queue_but_user_messages_wait(
        venue, make_connection, kit):
    # 4 subscribe requests at 10/s take ~0.3 s: the venue pings during the replay and must
    # get its pong at once, while the user's message waits for the last subscribe
    adapter = kit.FakeAdapter(venue, args_per_request=1, requests_per_second=10.0)
    venue.ping_on_subscribe = True
    subs = [kit.sub(Channel.TRADES, s) for s in ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT")]
    connection = make_connection(adapter, subs)
    await kit.wait_until(lambda: venue.sessions and venue.sessions[0].received)
    connection.send(b'{"op":"order","n":1}')
    assert connection.stats()["outbox_size"] == 1
    await kit.wait_until(lambda: connection.connected and len(venue.sessions[0].received) == 9)
    ops = [m["op"] for m in venue.sessions[0].received]
    subscribes = [i for i, op in enumerate(ops) if op == "subscribe"]
    assert ops.index("server_pong") < subscribes[1]          # answered during the replay
    assert ops.count("server_pong") == 4
    assert ops.index("order") > subscribes[-1]               # held until the replay ended


async def test_unsubscribe_stops_delivery_and_is_sent_to_the_venue(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    log = kit.StatusLog()
    btc_trades, eth_trades = kit.sub(Channel.TRADES, "BTC-USDT"), kit.sub(Channel.TRADES,
                                                                          "ETH-USDT")
    btc_book = kit.sub(Channel.BOOK, "BTC-USDT")
    connection = make_connection(adapter, [btc_trades, eth_trades, btc_book], on_status=log)
    await connected_with_books(kit, venue, connection)
    book = connection.book(btc_book)
    slot = connection.slot_of(btc_book)
    assert venue.publish("trades:BTCUSDT", 1) == venue.publish("trades:ETHUSDT", 1) == 1
    await kit.wait_until(lambda: len(adapter.data) == 2)

    await connection.remove([btc_trades, btc_book])
    session = venue.sessions[0]
    await kit.wait_until(lambda: session.requests("unsubscribe"))
    assert session.requests("unsubscribe") == [["trades:BTCUSDT", "book:BTCUSDT"]]
    assert session.args == {"trades:ETHUSDT"}
    assert connection.book(btc_book) is None and not book.valid
    invalid = log.of(StatusKind.BOOK_INVALID)
    assert [(e.slot, e.reason) for e in invalid] == [(slot, "unsubscribed")]

    assert venue.publish("trades:BTCUSDT", 2) == 0
    venue.publish("trades:ETHUSDT", 2)
    await kit.wait_until(lambda: ("trades:ETHUSDT", 2) in adapter.data)
    assert ("trades:BTCUSDT", 2) not in adapter.data

    venue.drop()                                     # what was removed is not replayed
    await kit.wait_until(lambda: len(venue.sessions) == 2 and venue.sessions[1].subscribed())
    assert venue.sessions[1].subscribed() == ["trades:ETHUSDT"]
    assert len(adapter.syncs) == 1


async def test_add_at_runtime_subscribes_and_syncs_the_new_book(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    log = kit.StatusLog()
    connection = make_connection(adapter, [kit.sub(Channel.TRADES, "BTC-USDT")], on_status=log)
    await kit.wait_until(lambda: connection.connected)
    eth_book = kit.sub(Channel.BOOK, "ETH-USDT")
    await connection.add([eth_book, kit.sub(Channel.TRADES, "BTC-USDT")])   # one already there
    await kit.wait_until(lambda: connection.book(eth_book).valid)
    assert venue.sessions[0].requests("subscribe") == [["trades:BTCUSDT"], ["book:ETHUSDT"]]
    assert adapter.syncs == [("ETHUSDT", connection.slot_of(eth_book))]
    assert log.validity(StatusKind.BOOK_RESYNCED) == [True]


async def test_a_book_that_loses_sync_is_withdrawn_and_resynced(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    log = kit.StatusLog()
    batches = []
    book_sub = kit.sub(Channel.BOOK, "BTC-USDT")
    connection = make_connection(adapter, [book_sub], on_status=log,
                                 on_batch=lambda c, flags: batches.append(flags))
    await connected_with_books(kit, venue, connection)
    slot = connection.slot_of(book_sub)
    connection.decoder.mark_waiting(slot)            # what the decoder does on a gap
    connection.decoder.injected_resyncs.append((slot, "gap: 101 -> 103"))
    connection.listener.handler.on_batch(Decoded.RESYNC)

    assert log.of(StatusKind.BOOK_INVALID)[0].reason == "gap: 101 -> 103"
    assert log.validity(StatusKind.BOOK_INVALID) == [False]
    assert batches[-1] == Decoded.RESYNC
    await kit.wait_until(lambda: len(log.of(StatusKind.BOOK_RESYNCED)) == 2)
    assert connection.book(book_sub).valid
    assert adapter.syncs == [("BTCUSDT", slot)] * 2
    assert connection.stats()["disconnects"] == 0    # only the book was resynced


async def test_failed_book_syncs_are_retried_and_the_book_stays_withdrawn(
        venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    adapter.sync_failures = 2
    log = kit.StatusLog()
    book_sub = kit.sub(Channel.BOOK, "BTC-USDT")
    connection = make_connection(adapter, [book_sub], on_status=log)
    await connected_with_books(kit, venue, connection)
    failed = log.of(StatusKind.BOOK_SYNC_FAILED)
    assert len(failed) == 2 and "snapshot endpoint unavailable" in failed[0].reason
    assert log.validity(StatusKind.BOOK_SYNC_FAILED) == [False, False]
    assert len(adapter.syncs) == 3
    assert connection.stats()["sync_failures"] == 2


async def test_a_message_thrown_away_renews_the_connection(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue, max_message_size=4096)
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await connected_with_books(kit, venue, connection)
    transport = venue.sessions[0].transport
    transport.send(WSMsgType.TEXT, b"x" * 3000, fin=False)          # 6000 bytes in 2 frames
    transport.send(WSMsgType.CONTINUATION, b"x" * 3000, fin=True)

    await connected_with_books(kit, venue, connection, sessions=2)
    stats = connection.stats()
    assert stats["fatal_errors"] == 1 and "max_message_size" in stats["last_fatal_reason"]
    assert stats["disconnect_reasons"] == {"fatal": 1}
    assert sorted(venue.sessions[1].subscribed()) == sorted(kit.arg_of(s) for s in subs)
    assert log.validity(StatusKind.BOOK_INVALID) == [False]


async def test_adapter_requested_reconnect(venue, make_connection, kit):
    adapter = kit.FakeAdapter(venue)
    connection = make_connection(adapter, [kit.sub(Channel.TRADES, "BTC-USDT")])
    await kit.wait_until(lambda: connection.connected)
    connection.reconnect("venue announced maintenance")
    await kit.wait_until(lambda: len(venue.sessions) == 2 and connection.connected)
    assert connection.stats()["last_disconnect_reason"] == "venue announced maintenance"
    assert connection.stats()["disconnect_reasons"] == {"requested": 1}
    assert venue.sessions[0].close_code == 1001


async def test_stop_closes_cleanly_and_leaves_no_task(venue, make_connection, kit):
    before = kit.pending_tasks()
    adapter = kit.FakeAdapter(venue)
    log = kit.StatusLog()
    subs = three_subs(kit)
    connection = make_connection(adapter, subs, on_status=log)
    await connected_with_books(kit, venue, connection)
    book = connection.book(subs[0])

    await connection.stop()
    assert kit.pending_tasks() - before == set()
    await kit.wait_until(lambda: venue.sessions[0].closed.is_set())
    assert venue.sessions[0].close_code == 1000
    assert not connection.connected and not book.valid
    assert log.of(StatusKind.DISCONNECTED)[0].reason == "stopped"
    assert log.of(StatusKind.BOOK_INVALID)[0].slot == connection.slot_of(subs[0])


@pytest.mark.parametrize("phase", ["backoff", "handshake", "replay"])
async def test_stop_in_any_phase_leaves_no_task_and_no_open_socket(
        venue, make_connection, kit, phase):
    before = kit.pending_tasks()
    adapter = kit.FakeAdapter(venue, args_per_request=1, requests_per_second=2.0)
    subs = [kit.sub(Channel.TRADES, "BTC-USDT"), kit.sub(Channel.TRADES, "ETH-USDT")]
    proxy = await venue.slow_handshakes(dials=phase == "handshake", delay=5.0)
    venue.reject_handshakes = phase == "backoff"
    slow_retry = Backoff(base=5.0, cap=5.0, rng=kit.MaxRandom())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        connection = make_connection(adapter, subs, backoff=slow_retry, handshake_timeout=5.0)
        if phase == "backoff":
            await kit.wait_until(lambda: connection.stats()["connect_failures"] == 1)
        elif phase == "handshake":
            await kit.wait_until(lambda: proxy.accepted == 1)
        else:
            await kit.wait_until(lambda: venue.sessions and venue.sessions[0].subscribed())
            assert not connection.connected                       # the 2nd subscribe waits
        started = time.monotonic()
        await connection.stop()
        assert time.monotonic() - started < 0.5
        assert kit.pending_tasks() - before - proxy.tasks == set()
        await kit.wait_until(lambda: not venue.live() and not proxy.tasks, timeout=1.0)
        assert proxy.forwarded == 0
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_capacity_and_duplicate_book_are_refused_without_side_effects(venue, kit):
    adapter = kit.FakeAdapter(venue, streams_per_connection=2)
    connection = Connection(adapter, kit.rings(), [kit.sub(Channel.TRADES, "BTC-USDT")])
    with pytest.raises(CapacityError, match="2 streams per connection"):
        await connection.add([kit.sub(Channel.TRADES, "ETH-USDT"),
                              kit.sub(Channel.TRADES, "SOL-USDT")])
    book = kit.sub(Channel.BOOK, "ETH-USDT")
    deeper = type(book)(Channel.BOOK, book.instrument, depth=50)
    with pytest.raises(ValueError, match="one book per instrument"):
        Connection(kit.FakeAdapter(venue), kit.rings(), [book, deeper])
    assert list(connection.subscriptions) == [kit.sub(Channel.TRADES, "BTC-USDT").key]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_tls_is_verified_by_default(make_connection, kit, tmp_path):
    try:
        cert, key = self_signed_certificate(tmp_path)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl unavailable: {exc}")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    venue = kit.VenueServer(scheme="wss")
    await venue.start(ssl=server_context)
    try:
        trades = [kit.sub(Channel.TRADES, "BTC-USDT")]
        strict = make_connection(kit.FakeAdapter(venue), trades)
        await kit.wait_until(lambda: strict.stats()["connect_failures"] >= 2)
        assert strict.stats()["connect_failure_reasons"].keys() == {"tls"}
        assert "CERTIFICATE_VERIFY_FAILED" in strict.stats()["last_connect_failure"]
        assert venue.sessions == []
        await strict.stop()

        trusting = ssl.create_default_context(cafile=str(cert))
        verified = make_connection(kit.FakeAdapter(venue), trades, ssl_context=trusting)
        await kit.wait_until(lambda: verified.connected)
        unverified = make_connection(kit.FakeAdapter(venue), trades, verify_tls=False)
        await kit.wait_until(lambda: unverified.connected)
        assert [s.subscribed() for s in venue.sessions] == [["trades:BTCUSDT"]] * 2
        assert all(s.transport.is_secure for s in venue.sessions)
    finally:
        await venue.stop()
