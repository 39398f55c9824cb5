"""The connection manager's private-stream lifecycle, venue-independent: pre-dial
authenticate, login before any subscribe, fresh login after a reconnect, a refused key
stopping for good, an unanswered login retried (the steps every PrivateVenue relies on)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.core.decoder import Decoder, PassthroughDecoder
from feedhandler.exchanges.base import (
    Channel,
    ConnectionLimits,
    Heartbeat,
    Link,
    PrivateVenue,
    Rings,
    Subscription,
)
from feedhandler.net import StatusKind
from feedhandler.net.clock import ServerClock


class FakePrivate(PrivateVenue):
    """Logs in with ``{"op":"login","n":<dial>,"ts":<clock>}``; the test plays the venue."""

    name = "fake"

    def __init__(self, venue: Any, *, login_timeout: float = 5.0) -> None:
        self.venue = venue
        self.credentials = Credentials("fake-key-123456", "fake-secret")
        self.clock = ServerClock(lambda: 1_000)
        self.login_timeout = login_timeout
        self.limits = ConnectionLimits(8, 8, 200.0)
        self.heartbeat = Heartbeat(ping_interval=5.0, pong_timeout=2.0)
        self.authentications = 0
        self.logins = 0
        self.refuse_authenticate = False

    async def authenticate(self, link: Link) -> None:
        self.authentications += 1
        if self.refuse_authenticate:
            raise AuthError("fake", "key refused", 401)

    def ws_url(self, subscriptions: Sequence[Subscription]) -> str:
        return self.venue.dial_url()

    def login_requests(self) -> list[bytes]:
        self.logins += 1
        return [json.dumps({"op": "login", "n": self.logins, "ts": self.clock.now_ms()}).encode()]

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("-", "")

    def new_decoder(self, rings: Rings) -> Decoder:
        return PassthroughDecoder(rings.trades, rings.tickers, rings.candles)

    def subscribe_requests(self, subscriptions: Sequence[Subscription]) -> list[bytes]:
        return [json.dumps({"op": "subscribe", "args": [s.channel.value
                                                        for s in subscriptions]}).encode()]

    def handle_control(self, link: Link, raw: bytes) -> None:
        message = json.loads(raw)
        if message.get("event") == "login":
            if message["ok"]:
                link.authenticated()
            else:
                link.reject_auth(AuthError("fake", message["msg"], message["code"]))


def ops(session: Any) -> list[str]:
    return [m["op"] for m in session.received]


async def test_subscribes_and_queued_sends_wait_for_the_login_answer(
        venue, kit, make_connection) -> None:
    adapter = FakePrivate(venue)
    statuses = kit.StatusLog()
    connection = make_connection(adapter, [kit.sub(Channel.ORDERS, "BTC-USDT")],
                                 on_status=statuses)
    connection.send(b'{"op":"hello"}')
    await kit.wait_until(lambda: venue.live() and venue.live()[0].received, what="login")
    session = venue.live()[0]
    await asyncio.sleep(0.1)
    assert ops(session) == ["login"]                 # nothing else before the answer
    assert session.received[0]["ts"] == 1_000        # signed with the venue clock
    session.send({"event": "login", "ok": True})
    await connection.wait_connected(3)
    await kit.wait_until(lambda: len(session.received) == 3, what="subscribe")
    assert ops(session) == ["login", "subscribe", "hello"]
    # a lost socket: authenticate and log in afresh, then resubscribe
    venue.drop()
    await kit.wait_until(lambda: len(venue.live()) == 1 and venue.live()[0] is not session
                         and venue.live()[0].received, what="second login")
    second = venue.live()[0]
    assert second.received[0]["n"] == 2 and adapter.authentications == 2
    second.send({"event": "login", "ok": True})
    await kit.wait_until(lambda: ops(second) == ["login", "subscribe"], what="resubscribe")
    assert connection.authentications == 2
    assert not statuses.of(StatusKind.AUTH_FAILED)


async def test_a_refused_login_stops_for_good(venue, kit, make_connection) -> None:
    adapter = FakePrivate(venue)
    statuses = kit.StatusLog()
    connection = make_connection(adapter, [kit.sub(Channel.ORDERS, "BTC-USDT")],
                                 on_status=statuses)
    await kit.wait_until(lambda: venue.live() and venue.live()[0].received, what="login")
    venue.live()[0].send({"event": "login", "ok": False, "msg": "invalid signature",
                          "code": 10004})
    try:
        await connection.wait_connected(3)
    except AuthError as exc:
        assert exc.code == 10004 and "invalid signature" in str(exc)
    else:
        raise AssertionError("wait_connected returned")
    await asyncio.sleep(0.3)                         # backoff is 20-50 ms: a loop would show
    assert len(venue.sessions) == 1 and adapter.logins == 1
    assert len(statuses.of(StatusKind.AUTH_FAILED)) == 1


async def test_a_refused_pre_dial_never_dials(venue, kit, make_connection) -> None:
    adapter = FakePrivate(venue)
    adapter.refuse_authenticate = True
    connection = make_connection(adapter, [kit.sub(Channel.ORDERS, "BTC-USDT")])
    try:
        await connection.wait_connected(3)
    except AuthError:
        pass
    else:
        raise AssertionError("wait_connected returned")
    await asyncio.sleep(0.2)
    assert adapter.authentications == 1 and not venue.sessions


async def test_an_unanswered_login_is_transient_and_retried(venue, kit, make_connection) -> None:
    adapter = FakePrivate(venue, login_timeout=0.1)
    connection = make_connection(adapter, [kit.sub(Channel.ORDERS, "BTC-USDT")])
    await kit.wait_until(lambda: adapter.logins >= 3, what="retried logins")
    assert connection.auth_error is None and connection.connect_failures >= 2
