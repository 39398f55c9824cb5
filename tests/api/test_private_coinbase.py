"""Coinbase Advanced Trade ``user`` channel (orders) end to end against the simulated account.

Coinbase reports only each order's cumulative figures; fills are derived from their changes.
It replays nothing after a reconnect, but the subscribe brings a snapshot of the open orders:
after a drop the state is whole again, while the updates of the gap are not delivered.
"""

import asyncio
import json
import logging
import secrets
import time
from decimal import Decimal

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import Order, OrderStatus
from feedhandler.exchanges import UnsupportedError
from feedhandler.exchanges.coinbase import auth
from feedhandler.net.connection import StatusKind
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import AccountStream, Listing, OrderEvent, SimAccount
from feedhandler.sim.catalog import unified
from feedhandler.sim.coinbase import AUTH_FAILURE, USER
from feedhandler.sim.coinbase import CoinbaseVenue as SimCoinbase
from feedhandler.sim.testing import until

KEY = "organizations/sim-org-3f2a/apiKeys/sim-key-9b7c"
LISTINGS = (Listing("BTC-USD", "BTC", "USD", Decimal("60000.00"), Decimal("0.01"),
                    Decimal("0.00001")),
            Listing("ETH-USD", "ETH", "USD", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.0001")))


def pem() -> str:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()


SECRET = pem()
OTHER_SECRET = pem()


def new_account(seed: int = 7) -> SimAccount:
    """Small balances, so some orders are rejected (FAILED on Coinbase)."""
    return SimAccount(LISTINGS, {"BTC": Decimal("0.0002"), "ETH": Decimal("0.004"),
                                 "USD": Decimal("20")}, seed=seed)


def endpoints(exchange: SimulatedExchange) -> dict:
    return {"coinbase": {"ws_url": exchange.ws_url, "private_ws_url": exchange.ws_url,
                         "rest_url": exchange.http_url}}


class Session:
    def __init__(self, exchange: SimulatedExchange, venue: SimCoinbase,
                 credentials: Credentials) -> None:
        self.exchange, self.venue = exchange, venue
        self.fh = FeedHandler(endpoints=endpoints(exchange), backoff_base=0.05, backoff_cap=0.2)
        self.got: list[Order] = []
        self.fh.subscribe_orders("coinbase", self.got.append, credentials=credentials)
        assert venue.account is not None
        self.account = venue.account
        self.stream = AccountStream(exchange, venue.account, USER, venue.render_account)

    @property
    def connection(self):
        (state,) = self.fh.venues.values()
        (account,) = state.accounts.values()
        return account.connection

    def subscribed(self) -> bool:
        return any(USER in c.topics for c in self.exchange.connections)


def truth(venue: SimCoinbase, e: OrderEvent) -> tuple:
    """What the user channel lets one know of an account event: fees in the quote."""
    fee = venue.fee_in_quote(e) if e.last_size else Decimal(0)
    return ("order", unified(e.symbol), str(e.order_id), e.client_id, e.side, e.status, e.price,
            e.size, e.filled, e.last_price, e.last_size, fee,
            e.symbol.split("-")[1] if e.last_size else "")


def seen(o: Order) -> tuple:
    return ("order", o.symbol, o.order_id, o.client_id, "BUY" if o.side > 0 else "SELL",
            o.status.name, o.price, o.size, o.filled, o.last_price, o.last_size, o.fee,
            o.fee_asset)


def normal(values: list[tuple]) -> list[tuple]:
    return [tuple(v.normalize() if isinstance(v, Decimal) else v for v in t) for t in values]


def orders_of(events: list) -> list[OrderEvent]:
    return [e for e in events if isinstance(e, OrderEvent)]


def open_orders(account: SimAccount) -> dict[str, tuple]:
    return {str(o.event.order_id): normal([(o.event.status, o.event.price, o.event.size,
                                            o.event.filled)])[0]
            for o in account.orders.values() if o.event.status in ("NEW", "PARTIALLY_FILLED")}


@pytest.fixture
async def session():
    venue = SimCoinbase(symbols=["BTC-USD", "ETH-USD"], account=new_account(),
                        api_keys={KEY: SECRET})
    async with SimulatedExchange(venue, rate=None) as exchange:
        yield Session(exchange, venue, Credentials(KEY, SECRET))


async def test_orders_equal_the_account_truth(session) -> None:
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(session.subscribed)
        events = orders_of(session.stream.step(80))
        await until(lambda: len(session.got) == len(events))
        await asyncio.sleep(0.05)
        decoder = session.connection.listener.decoder
        (conn,) = session.exchange.connections
        topics = set(conn.topics)
    assert normal([seen(o) for o in session.got]) == \
        normal([truth(session.venue, e) for e in events])
    statuses = {o.status for o in session.got}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
            OrderStatus.CANCELED, OrderStatus.REJECTED} <= statuses
    assert decoder.fills == sum(e.last_size > 0 for e in events) > 0
    assert decoder.open_orders() == len(open_orders(session.account))
    assert decoder.errors == 0
    assert session.venue.auth_replies == [""]
    assert {"user", "heartbeats"} <= topics        # heartbeats keep the socket busy


async def test_a_drop_then_the_snapshot_restores_the_open_orders(session) -> None:
    stream = session.stream
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(session.subscribed)
        before = orders_of(stream.step(30))
        await until(lambda: len(session.got) == len(before))
        assert session.exchange.drop() == 1
        gone = stream.step(6)
        await until(lambda: session.connection.authentications == 2 and session.subscribed())
        open_now = open_orders(session.account)
        resumed = len(before) + len(open_now)
        await until(lambda: len(session.got) == resumed)
        after = orders_of(stream.step(30))
        await until(lambda: len(session.got) == resumed + len(after))
        await asyncio.sleep(0.1)
        tracked = session.connection.listener.decoder.open_orders()
    assert [e.seq for e in gone] == stream.undelivered and gone
    got = normal([seen(o) for o in session.got])
    assert got[:len(before)] == normal([truth(session.venue, e) for e in before])
    restored = {o.order_id: normal([(o.status.name, o.price, o.size, o.filled)])[0]
                for o in session.got[len(before):resumed]}
    assert restored == open_now
    assert all(o.last_size == 0 for o in session.got[len(before):resumed])  # no fake fills
    assert got[resumed:] == normal([truth(session.venue, e) for e in after])
    assert tracked == len(open_orders(session.account))
    assert session.venue.auth_replies == ["", ""]       # a fresh JWT per subscribe


@pytest.mark.parametrize("credentials", [
    Credentials("organizations/sim-org-3f2a/apiKeys/unknown", SECRET),
    Credentials(KEY, OTHER_SECRET),
])
async def test_a_refused_key_surfaces_once_and_is_not_retried(session, credentials) -> None:
    fh = FeedHandler(endpoints=endpoints(session.exchange), backoff_base=0.01,
                     backoff_cap=0.02)
    statuses = []
    fh.subscribe_orders("coinbase", print, credentials=credentials)
    async with fh:
        (state,) = fh.venues.values()
        (account,) = state.accounts.values()
        connection = account.connection
        original = connection.on_status
        connection.on_status = lambda c, e: (statuses.append(e.kind), original(c, e))
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
        await asyncio.sleep(0.3)
    assert AUTH_FAILURE in str(raised.value)
    assert len(session.venue.auth_replies) == 1 and session.venue.auth_replies[0]
    assert statuses.count(StatusKind.AUTH_FAILED) == 1
    assert fh.auth_errors == [raised.value]
    assert len(session.exchange.history) == 1


async def test_a_secret_that_is_no_key_is_refused_before_dialling(session) -> None:
    fh = FeedHandler(endpoints=endpoints(session.exchange))
    fh.subscribe_orders("coinbase", print, credentials=Credentials(KEY, "not a key"))
    async with fh:
        with pytest.raises(AuthError):
            await fh.wait_connected(5)
    assert not session.exchange.history


async def test_the_jwt_is_made_on_the_server_clock() -> None:
    """The server runs 300 s ahead: a JWT on the local clock would not be valid yet there."""
    venue = SimCoinbase(account=new_account(), api_keys={KEY: SECRET},
                        clock=lambda: time.time() + 300)
    async with SimulatedExchange(venue, rate=None) as exchange:
        fh = FeedHandler(endpoints=endpoints(exchange))
        fh.subscribe_orders("coinbase", print, credentials=Credentials(KEY, SECRET))
        async with fh:
            await fh.wait_connected(10)
            await until(lambda: venue.auth_replies)
    assert venue.auth_replies == [""]


async def test_the_simulator_refuses_expired_and_foreign_jwts() -> None:
    venue = SimCoinbase(account=new_account(), api_keys={KEY: SECRET})
    now = int(time.time())
    async with SimulatedExchange(venue, rate=None) as exchange:
        async with aiohttp.ClientSession() as http, http.ws_connect(exchange.ws_url) as ws:
            replies = []
            for token in (auth.build_ws_jwt(KEY, SECRET, now - 121, secrets.token_hex()),
                          auth.build_ws_jwt(KEY, OTHER_SECRET, now, secrets.token_hex()),
                          auth.build_ws_jwt(KEY, SECRET, now, secrets.token_hex())):
                await ws.send_str(auth.subscribe_message(token))
                replies.append(json.loads((await ws.receive()).data))
            snapshot = json.loads((await ws.receive()).data)
    assert replies[0] == {"type": "error", "message": AUTH_FAILURE}
    assert replies[1] == {"type": "error", "message": AUTH_FAILURE}
    assert replies[2]["channel"] == "subscriptions"
    assert snapshot["channel"] == "user" and snapshot["events"][0]["type"] == "snapshot"
    assert venue.auth_replies[0] == "JWT expired"
    assert venue.auth_replies[1] == "JWT signature does not verify"


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(session.subscribed)
        events = orders_of(session.stream.step(10))
        await until(lambda: len(session.got) == len(events))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    fh = FeedHandler(endpoints=endpoints(session.exchange))
    fh.subscribe_orders("coinbase", print, credentials=Credentials(KEY, OTHER_SECRET))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
    print(raised.value, fh.stats())
    captured = capsys.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err, repr(raised.value)]
                     + [repr(r.args) for r in caplog.records])
    assert AUTH_FAILURE in text
    for secret in (SECRET, OTHER_SECRET):
        body = "".join(secret.splitlines()[1:-1])
        assert body[:40] not in text and body[-40:] not in text
    assert KEY not in text


async def test_coinbase_offers_orders_only() -> None:
    fh = FeedHandler()
    for subscribe in (fh.subscribe_balance, fh.subscribe_positions):
        with pytest.raises(UnsupportedError):
            subscribe("coinbase", print, credentials=Credentials(KEY, SECRET))
