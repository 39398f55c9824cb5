"""HTX spot private stream (``/ws/v2``: orders#, accounts.update#2) end to end against the
simulated account.

Every socket authenticates with ``req auth`` before subscribing. accounts.update opens with
every asset's value, so after a reconnect the balances equal the account's truth even though
the changes pushed while disconnected are gone; orders# has no snapshot: order events before
the drop and after the re-authentication arrive once, those in between never.
"""

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import Balance, Order, OrderStatus, wide_units
from feedhandler.net.connection import StatusKind
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import AccountStream, BalanceEvent, Listing, OrderEvent, SimAccount
from feedhandler.sim.catalog import unified
from feedhandler.sim.htx import HtxVenue as SimHtx
from feedhandler.sim.testing import until
from tests.api.test_private_binance import normal, seen
from tests.api.test_private_gateio import assert_undelivered_is

KEY = "sim-htx-access-key-3fK9wQ"
SECRET = "sim-htx-secret-NEVER-PRINT-77ab01"
LISTINGS = (Listing("btcusdt", "BTC", "USDT", Decimal("60000.00"), Decimal("0.01"),
                    Decimal("0.0001")),
            Listing("ethusdt", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.001")))
ASSETS = 3


def new_venue(clock=time.time) -> SimHtx:
    account = SimAccount(LISTINGS, {"BTC": Decimal("2"), "ETH": Decimal("40"),
                                    "USDT": Decimal("250000")}, seed=9)
    return SimHtx(symbols=["btcusdt", "ethusdt"], account=account, api_keys={KEY: SECRET},
                  clock=clock)


class Session:
    def __init__(self, exchange: SimulatedExchange, venue: SimHtx,
                 credentials: Credentials, rest_url: str | None = None) -> None:
        self.exchange, self.venue = exchange, venue
        self.fh = FeedHandler(endpoints={"htx": {
            "ws_url": exchange.ws_url, "rest_url": rest_url or exchange.http_url}},
            backoff_base=0.05, backoff_cap=0.2)
        self.got: list[object] = []
        self.fh.subscribe_orders("htx", self.got.append, credentials=credentials)
        self.fh.subscribe_balance("htx", self.got.append, credentials=credentials)
        assert venue.account is not None
        self.stream = AccountStream(exchange, venue.account, "", venue.render_account,
                                    route=venue.route_account)

    @property
    def connection(self):
        (state,) = self.fh.venues.values()
        (account,) = state.accounts.values()
        return account.connection

    async def subscribed(self) -> None:
        await self.fh.wait_connected(10)
        await until(lambda: len(self.exchange.connections) == 1
                    and len(self.exchange.connections[0].topics) == 3)


def truth(events: list[object]) -> list[tuple]:
    """What orders# and accounts.update carry of these events, as ``seen`` shows them: no
    rejects, no fees, no price on a cancellation."""
    out = []
    for e in events:
        if isinstance(e, OrderEvent):
            if e.status == "REJECTED":
                continue
            price = Decimal(0) if e.status == "CANCELED" else e.price
            out.append(("order", unified(e.symbol), str(e.order_id), e.client_id, e.side,
                        e.status,
                        price, e.size, e.filled, e.last_price, e.last_size, Decimal(0), ""))
        else:
            assert isinstance(e, BalanceEvent)
            out.append(("balance", e.asset.lower(), e.free, e.locked))
    return out


def pushed(events: list[object]) -> int:
    return sum(not (isinstance(e, OrderEvent) and e.status == "REJECTED") for e in events)


def account_truth(account: SimAccount) -> dict[str, tuple[Decimal, Decimal]]:
    return {asset.lower(): (total - account.locked[asset], account.locked[asset])
            for asset, total in account.balances.items()}


def last_balances(got: list[object]) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.locked) for b in got if isinstance(b, Balance)}


@pytest.fixture
async def session():
    venue = new_venue()
    async with SimulatedExchange(venue, rate=None) as exchange:
        yield Session(exchange, venue, Credentials(KEY, SECRET))


async def test_orders_and_balances_equal_the_account_truth(session) -> None:
    async with session.fh:
        await session.subscribed()
        await until(lambda: len(session.got) == ASSETS)    # accounts.update's opening values
        opening = list(session.got)
        events = session.stream.step(60)
        await until(lambda: len(session.got) == ASSETS + pushed(events))
        await asyncio.sleep(0.05)
        assert session.connection.authentications == 1 and not session.venue.auth_failures
    assert last_balances(opening) == {"btc": (Decimal(2), 0), "eth": (Decimal(40), 0),
                                      "usdt": (Decimal(250000), 0)}
    assert normal([seen(e, False) for e in session.got[ASSETS:]]) == normal(truth(events))
    statuses = {e.status for e in session.got if isinstance(e, Order)}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
            OrderStatus.CANCELED} <= statuses
    assert last_balances(session.got) == account_truth(session.venue.account)


async def test_a_drop_mid_stream_reauthenticates_and_restores_the_balances(session) -> None:
    stream = session.stream
    async with session.fh:
        await session.subscribed()
        before = stream.step(20)
        await until(lambda: len(session.got) == ASSETS + pushed(before))
        assert session.exchange.drop() == 1
        gone = stream.step(6)
        await until(lambda: session.connection.authentications == 2 and
                    session.connection.connected)
        await session.subscribed()
        await until(lambda: len(session.got) == 2 * ASSETS + pushed(before))
        assert last_balances(session.got) == account_truth(session.venue.account)
        after = stream.step(20)
        await until(lambda: len(session.got) == 2 * ASSETS + pushed(before) + pushed(after))
        await asyncio.sleep(0.1)
    assert_undelivered_is(stream, gone)
    orders = [seen(e, False) for e in session.got if isinstance(e, Order)]
    assert normal(orders)["order"] == normal(truth(before + after))["order"]
    assert len({(o[2], o[5], o[8]) for o in orders}) == len(orders)   # nothing twice
    assert last_balances(session.got) == account_truth(session.venue.account)


@pytest.mark.parametrize("case", ["unknown key", "wrong secret", "stale timestamp"])
async def test_a_refused_auth_surfaces_once_and_is_not_retried(case) -> None:
    skew = 600.0 if case == "stale timestamp" else 0.0
    venue = new_venue(clock=lambda: time.time() + skew)
    async with SimulatedExchange(venue, rate=None) as exchange:
        credentials = {"unknown key": Credentials("unknown-key-0000", SECRET),
                       "wrong secret": Credentials(KEY, "not-the-secret-1234"),
                       "stale timestamp": Credentials(KEY, SECRET)}[case]
        fh = FeedHandler(endpoints={"htx": {"ws_url": exchange.ws_url,
                                            # no server time: the local clock signs
                                            "rest_url": exchange.http_url + "/missing"}},
                         backoff_base=0.01, backoff_cap=0.02)
        statuses = []
        fh.subscribe_orders("htx", print, credentials=credentials)
        async with fh:
            (state,) = fh.venues.values()
            (account,) = state.accounts.values()
            connection = account.connection
            original = connection.on_status
            connection.on_status = lambda c, e: (statuses.append(e.kind), original(c, e))
            with pytest.raises(AuthError) as raised:
                await fh.wait_connected(5)
            await asyncio.sleep(0.3)    # at a 10-20 ms backoff a retry loop would show here
        assert raised.value.code == 2002 and "auth.fail" in str(raised.value)
        assert len(venue.auth_failures) == 1
        assert statuses.count(StatusKind.AUTH_FAILED) == 1
        assert connection.connects == 0 and not exchange.connections


async def test_the_signing_clock_is_learnt_from_the_venue() -> None:
    venue = new_venue(clock=lambda: time.time() + 600.0)   # beyond HTX's 5 minutes
    async with SimulatedExchange(venue, rate=None) as exchange:
        session = Session(exchange, venue, Credentials(KEY, SECRET))
        async with session.fh:
            await session.subscribed()
            assert abs(session.connection.adapter.clock.offset_ms - 600_000) < 5_000
    assert not venue.auth_failures


async def test_the_venue_ping_is_answered(session) -> None:
    session.venue.keepalive = type(session.venue.keepalive)(0.1, 0.5, text=True,
                                                            pong_must_echo=True)
    async with SimulatedExchange(session.venue, rate=None) as exchange:
        s = Session(exchange, session.venue, Credentials(KEY, SECRET))
        async with s.fh:
            await s.subscribed()
            conn = exchange.connections[0]
            await asyncio.sleep(1.5)    # three pong timeouts: an unanswered ping closes it
            assert exchange.connections == [conn] and conn.received["pong"] >= 3
            assert s.connection.authentications == 1


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.fh:
        await session.subscribed()
        events = session.stream.step(10)
        await until(lambda: len(session.got) == ASSETS + pushed(events))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    fh = FeedHandler(endpoints={"htx": {"ws_url": session.exchange.ws_url,
                                        "rest_url": session.exchange.http_url}})
    fh.subscribe_balance("htx", print, credentials=Credentials(KEY, SECRET + "x"))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
    print(raised.value, fh.stats())
    captured = capsys.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err]
                     + [repr(r.args) for r in caplog.records])
    assert "authentication failed" in text
    assert SECRET not in text and KEY not in text


async def test_private_topics_are_refused_on_the_public_endpoint(session) -> None:
    venue = session.venue
    request = venue.parse(venue.open_session("/ws", {}).state, b'{"sub":"orders#btcusdt"}')
    assert request.error is not None and "/ws/v2" in request.detail
    private = venue.open_session("/ws/v2", {})
    assert private.compression == "none"
    refused = venue.parse(private.state, b'{"action":"sub","ch":"orders#btcusdt"}')
    assert b"invalid.auth.state" in venue.handle_other(private.state, refused)[0]


async def test_a_malformed_frame_is_counted_and_the_stream_goes_on(session) -> None:
    async with session.fh:
        await session.subscribed()
        await until(lambda: len(session.got) == ASSETS)
        assert session.exchange.malformed() == 1
        bad = b'{"action":"push","ch":"orders#btcusdt","data":{"orderId":1}}'
        assert session.exchange.push("orders#btcusdt", [bad]) == 1
        events = session.stream.step(10)
        await until(lambda: len(session.got) == ASSETS + pushed(events))
        decoder = session.connection.decoder
        assert decoder.errors == 2 and session.connection.connects == 1
    assert normal([seen(e, False) for e in session.got[ASSETS:]]) == normal(truth(events))


async def test_an_18_decimal_balance_round_trips_exactly() -> None:
    """HTX's docs' balance: 22 significant digits, held in 128 bits at 18 decimals through the
    decoder, the BalanceRing, the Balance event and the batch reader."""
    amount = Decimal("2028.699426619837209087")
    account = SimAccount(LISTINGS, {"BTC": amount, "USDT": Decimal("250000")}, seed=9)
    venue = SimHtx(symbols=["btcusdt"], account=account, api_keys={KEY: SECRET})
    async with SimulatedExchange(venue, rate=None) as exchange:
        session = Session(exchange, venue, Credentials(KEY, SECRET))
        reader = session.fh.balances.reader()
        async with session.fh:
            await session.fh.wait_connected(10)
            await until(lambda: {"btc", "usdt"} <= set(last_balances(session.got)))
        rows = reader.read()
    assert last_balances(session.got)["btc"] == (amount, 0)
    assert last_balances(session.got)["usdt"] == (Decimal(250000), 0)
    btc = next(i for i, asset in enumerate(rows.asset) if asset == b"btc")
    assert rows.scale[btc] == 18 and rows.inexact[btc] == 0
    assert wide_units(rows.free_high[btc], rows.free[btc]) == 2028699426619837209087
    usdt = next(i for i, asset in enumerate(rows.asset) if asset == b"usdt")
    assert (rows.scale[usdt], rows.free[usdt], rows.free_high[usdt]) == (8, 25 * 10**12, 0)
