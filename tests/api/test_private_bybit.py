"""Bybit spot and linear private streams end to end against the simulated account.

Bybit keeps no backlog for a private stream: events while no session is authenticated are
never delivered (the client reconciles over REST), those before the drop and after the
re-authentication arrive exactly once. Fills arrive as ``execution`` records (with the
fill's fee); the ``order`` topic's fill states repeat them and are not rows.
"""

import asyncio
import json
import logging
import time
from decimal import Decimal

import aiohttp
import pytest

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import Balance, Order, OrderStatus, Position
from feedhandler.exchanges import UnsupportedError
from feedhandler.exchanges.bybit import auth
from feedhandler.net.connection import StatusKind
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import AccountStream, BalanceEvent, OrderEvent, PositionEvent
from feedhandler.sim.bybit import BybitVenue as SimBybit
from feedhandler.sim.catalog import unified
from feedhandler.sim.testing import until
from tests.api.test_private_binance import new_account

KEY = "sim-bybit-key-Q8r3Tn5Vw2"
SECRET = "sim-bybit-secret-NEVER-PRINT-9d3e7a1c"


def endpoints(name: str, exchange: SimulatedExchange) -> dict:
    return {name: {"ws_url": exchange.ws_url, "rest_url": exchange.http_url,
                   "private_ws_url": f"ws://{exchange.host}:{exchange.port}/v5/private"}}


class Session:
    """A simulated Bybit with an account, and a FeedHandler subscribed to all of it."""

    def __init__(self, market: str, exchange: SimulatedExchange, venue: SimBybit,
                 credentials: Credentials) -> None:
        self.market, self.exchange, self.venue = market, exchange, venue
        self.name = "bybit" if market == "spot" else "bybit-linear"
        self.fh = FeedHandler(endpoints=endpoints(self.name, exchange), backoff_base=0.05,
                              backoff_cap=0.2)
        self.got: list[object] = []
        self.fh.subscribe_orders(self.name, self.got.append, credentials=credentials)
        self.fh.subscribe_balance(self.name, self.got.append, credentials=credentials)
        if market == "linear":
            self.fh.subscribe_positions(self.name, self.got.append, credentials=credentials)
        assert venue.account is not None
        self.stream = AccountStream(exchange, venue.account, "", venue.render_account,
                                    route=venue.route)

    @property
    def connection(self):
        (state,) = self.fh.venues.values()
        (account,) = state.accounts.values()
        return account.connection


def truth(event: object, futures: bool) -> tuple:
    if isinstance(event, OrderEvent):
        return ("order", unified(event.symbol, futures), str(event.order_id), event.client_id,
                event.side,
                event.status, event.price, event.size, event.filled, event.last_price,
                event.last_size, event.fee, event.fee_asset)
    if isinstance(event, BalanceEvent):
        return ("balance", event.asset, event.free, event.locked)
    assert isinstance(event, PositionEvent)
    return ("position", unified(event.symbol, futures), event.amount, event.entry_price,
            event.unrealized_pnl)


def seen(event: object) -> tuple:
    if isinstance(event, Order):
        return ("order", event.symbol, event.order_id, event.client_id,
                "BUY" if event.side > 0 else "SELL", event.status.name, event.price,
                event.size, event.filled, event.last_price, event.last_size, event.fee,
                event.fee_asset)
    if isinstance(event, Balance):
        assert event.has_totals and event.total == event.free + event.locked
        return ("balance", event.asset, event.free, event.locked)
    assert isinstance(event, Position)
    return ("position", event.symbol, event.amount, event.entry_price, event.unrealized_pnl)


def normal(values: list[tuple]) -> list[tuple]:
    """In arrival order (the simulator pushes a step's frames in the account's order, on one
    socket); Decimals normalised."""
    return [tuple(v.normalize() if isinstance(v, Decimal) else v for v in t) for t in values]


def by_kind(values: list[tuple]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {"order": [], "balance": [], "position": []}
    for t in normal(values):
        out[t[0]].append(t)
    return out


@pytest.fixture(params=["spot", "linear"])
async def session(request):
    futures = request.param == "linear"
    venue = SimBybit(request.param, symbols=["BTCUSDT", "ETHUSDT"],
                     account=new_account("usdm" if futures else "spot"),
                     api_keys={KEY: SECRET})
    async with SimulatedExchange(venue, rate=None) as exchange:
        yield Session(request.param, exchange, venue, Credentials(KEY, SECRET))


async def test_orders_balances_positions_equal_the_account_truth(session) -> None:
    async with session.fh:
        await session.fh.wait_connected(10)
        events = session.stream.step(60)
        await until(lambda: len(session.got) == len(events))
        await asyncio.sleep(0.05)
        fill_echoes = session.connection.listener.decoder.fill_echoes
    futures = session.market == "linear"
    assert by_kind([seen(e) for e in session.got]) == by_kind([truth(e, futures) for e in events])
    statuses = {e.status for e in session.got if isinstance(e, Order)}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
            OrderStatus.CANCELED} <= statuses
    assert any(isinstance(e, Order) and e.fee > 0 for e in session.got)
    if session.market == "linear":
        assert any(isinstance(e, Position) and e.amount < 0 for e in session.got)
        assert any(isinstance(e, Position) and e.amount > 0 for e in session.got)
    fills = sum(isinstance(e, OrderEvent) and e.last_size > 0 for e in events)
    assert fills and fill_echoes == fills     # every fill's order record, not a row
    rows = session.fh.orders.reader(from_start=True).read()
    assert len(rows) == sum(isinstance(e, Order) for e in session.got)
    assert session.venue.auth_replies == [(True, "")]


async def test_a_drop_mid_stream_loses_only_what_bybit_would_and_duplicates_nothing(
        session) -> None:
    stream = session.stream
    async with session.fh:
        await session.fh.wait_connected(10)
        before = stream.step(20)
        await until(lambda: len(session.got) == len(before))
        assert session.exchange.drop() == 1
        gone = stream.step(5)           # nobody authenticated: Bybit keeps no backlog
        await until(lambda: session.connection.authentications == 2 and
                    session.connection.connected)
        await until(lambda: any(c.topics for c in session.exchange.connections))
        after = stream.step(20)
        await until(lambda: len(session.got) == len(before) + len(after))
        await asyncio.sleep(0.1)
    assert [e.seq for e in gone] == stream.undelivered and gone
    assert stream.delivered == [e.seq for e in before + after]
    assert by_kind([seen(e) for e in session.got]) == by_kind(
        [truth(e, session.market == "linear") for e in before + after])
    assert session.venue.auth_replies == [(True, ""), (True, "")]   # a fresh auth per socket


async def test_the_auth_expiry_follows_the_server_clock() -> None:
    """The server runs 60 s ahead: an expiry of local now + 10 s would be refused as past;
    the adapter reads /v5/market/time first and signs on Bybit's clock."""
    venue = SimBybit("spot", account=new_account("spot"), api_keys={KEY: SECRET},
                     clock=lambda: time.time() + 60)
    async with SimulatedExchange(venue, rate=None) as exchange:
        fh = FeedHandler(endpoints=endpoints("bybit", exchange))
        fh.subscribe_balance("bybit", print, credentials=Credentials(KEY, SECRET))
        async with fh:
            await fh.wait_connected(10)
    assert venue.auth_replies == [(True, "")]


@pytest.mark.parametrize("credentials, ret_msg", [
    (Credentials("unknown-key-0000", SECRET), "Request not authorized"),
    (Credentials(KEY, "wrong-secret-5555"), "Request not authorized"),
])
async def test_a_refused_key_surfaces_once_and_is_not_retried(session, credentials,
                                                              ret_msg) -> None:
    fh = FeedHandler(endpoints=endpoints(session.name, session.exchange),
                     backoff_base=0.01, backoff_cap=0.02)
    statuses = []
    fh.subscribe_orders(session.name, print, credentials=credentials)
    async with fh:
        (state,) = fh.venues.values()
        (account,) = state.accounts.values()
        connection = account.connection
        original = connection.on_status
        connection.on_status = lambda c, e: (statuses.append(e.kind), original(c, e))
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
        await asyncio.sleep(0.3)        # at a 10-20 ms backoff a retry loop would show here
        with pytest.raises(AuthError):
            await fh.wait_connected(1)
    assert ret_msg in str(raised.value)
    assert session.venue.auth_replies == [(False, ret_msg)]
    assert statuses.count(StatusKind.AUTH_FAILED) == 1
    assert fh.auth_errors == [raised.value]
    assert len(session.exchange.history) == 1


async def test_the_simulator_refuses_a_past_expiry_and_unauthenticated_subscribes() -> None:
    venue = SimBybit("linear", account=new_account("usdm"), api_keys={KEY: SECRET})
    async with SimulatedExchange(venue, rate=None) as exchange:
        got: list[dict] = []
        url = f"ws://{exchange.host}:{exchange.port}/v5/private"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.send_str(auth.subscribe_message(["order.linear"]))
            got.append(json.loads((await ws.receive()).data))
            past = int(time.time() * 1000) - 1
            await ws.send_str(auth.auth_message(KEY, SECRET, past))
            got.append(json.loads((await ws.receive()).data))
    assert got[0]["success"] is False and "needs auth first" in got[0]["ret_msg"]
    assert got[1]["success"] is False and got[1]["ret_msg"] == "Params Error"
    assert got[1]["op"] == "auth"


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.fh:
        await session.fh.wait_connected(10)
        events = session.stream.step(10)
        await until(lambda: len(session.got) == len(events))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    fh = FeedHandler(endpoints=endpoints(session.name, session.exchange))
    fh.subscribe_balance(session.name, print, credentials=Credentials(KEY, SECRET + "x"))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
    print(raised.value, fh.stats())
    captured = capsys.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err, repr(raised.value)]
                     + [repr(r.args) for r in caplog.records])
    assert "authentication failed" in text
    assert SECRET not in text
    assert KEY not in text


async def test_spot_has_no_positions() -> None:
    fh = FeedHandler()
    with pytest.raises(UnsupportedError):
        fh.subscribe_positions("bybit", print, credentials=Credentials(KEY, SECRET))
    fh.subscribe_positions("bybit-linear", print, credentials=Credentials(KEY, SECRET))


async def test_the_private_socket_is_kept_alive_with_op_ping(session) -> None:
    fh = FeedHandler(endpoints={session.name: {
        **endpoints(session.name, session.exchange)[session.name], "ping_interval": 0.1}})
    fh.subscribe_balance(session.name, print, credentials=Credentials(KEY, SECRET))
    async with fh:
        await fh.wait_connected(10)
        (conn,) = session.exchange.connections
        await until(lambda: conn.received["ping"] >= 3)
        (state,) = fh.venues.values()
        (account,) = state.accounts.values()
        assert account.connection.connects == 1 and account.connection.connected
