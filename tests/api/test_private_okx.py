"""OKX spot private stream end to end against the simulated account.

OKX replays no order update after a reconnect, but its ``account`` channel sends a snapshot
of every balance on subscribe: after a drop, the orders seen are exactly those pushed while
logged in (none lost, none twice) and the balances end equal to the account's truth.
Rejected orders are not pushed (on OKX the refusal is the order request's own reply).
"""

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import Balance, Order, OrderStatus
from feedhandler.exchanges import UnsupportedError
from feedhandler.net.connection import StatusKind
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import AccountStream, BalanceEvent, Listing, OrderEvent, SimAccount
from feedhandler.sim.catalog import unified
from feedhandler.sim.okx import OkxVenue as SimOkx
from feedhandler.sim.testing import until

KEY = "sim-okx-key-7f3c2b1a"
SECRET = "sim-okx-secret-NEVER-PRINT-0b8e6d4c"
PASSPHRASE = "sim-okx-pass-NEVER-PRINT-55aa"
LISTINGS = (Listing("BTC-USDT", "BTC", "USDT", Decimal("60000.0"), Decimal("0.1"),
                    Decimal("0.00001")),
            Listing("ETH-USDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.0001")))


def credentials(key: str = KEY, secret: str = SECRET, passphrase: str = PASSPHRASE):
    return Credentials(key, secret, passphrase)


def endpoints(exchange: SimulatedExchange) -> dict:
    return {"okx": {"ws_url": exchange.ws_url, "rest_url": exchange.http_url}}


def new_venue(**kwargs) -> SimOkx:
    account = SimAccount(LISTINGS, {"BTC": Decimal("2"), "ETH": Decimal("40"),
                                    "USDT": Decimal("250000")}, seed=5)
    return SimOkx(symbols=["BTC-USDT"], account=account,
                  api_keys={KEY: (SECRET, PASSPHRASE)}, **kwargs)


class Session:
    def __init__(self, exchange: SimulatedExchange, venue: SimOkx) -> None:
        self.exchange, self.venue = exchange, venue
        self.fh = FeedHandler(endpoints=endpoints(exchange), backoff_base=0.05, backoff_cap=0.2)
        self.orders: list[Order] = []
        self.balances: list[Balance] = []
        self.fh.subscribe_orders("okx", self.orders.append, credentials=credentials())
        self.fh.subscribe_balance("okx", self.balances.append, credentials=credentials())
        assert venue.account is not None
        self.stream = AccountStream(exchange, venue.account, "", venue.render_account,
                                    route=venue.route)

    @property
    def connection(self):
        (state,) = self.fh.venues.values()
        (account,) = state.accounts.values()
        return account.connection


def order_truth(e: OrderEvent) -> tuple:
    return (unified(e.symbol), str(e.order_id), e.client_id.replace("-", ""), e.side, e.status,
            e.price, e.size, e.filled, e.last_price, e.last_size, e.fee, e.fee_asset)


def order_seen(o: Order) -> tuple:
    return (o.symbol, o.order_id, o.client_id, "BUY" if o.side > 0 else "SELL", o.status.name,
            o.price, o.size, o.filled, o.last_price, o.last_size, o.fee, o.fee_asset)


def normal(rows: list[tuple]) -> list[tuple]:
    return [tuple(v.normalize() if isinstance(v, Decimal) else v for v in r) for r in rows]


def pushed_orders(events) -> list[OrderEvent]:
    return [e for e in events if isinstance(e, OrderEvent) and e.status != "REJECTED"]


def final_balances(balances: list[Balance]) -> dict[str, tuple]:
    out = {}
    for b in balances:
        assert b.has_totals and b.total == b.free + b.locked
        out[b.asset] = (b.free.normalize(), b.locked.normalize())
    return out


def account_truth(venue: SimOkx) -> dict[str, tuple]:
    account = venue.account
    assert account is not None
    return {asset: ((total - account.locked[asset]).normalize(),
                    account.locked[asset].normalize())
            for asset, total in account.balances.items()}


@pytest.fixture
async def session():
    venue = new_venue()
    async with SimulatedExchange(venue, rate=None) as exchange:
        yield Session(exchange, venue)


async def test_orders_and_balances_equal_the_account_truth(session) -> None:
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(lambda: len(session.balances) == 3)      # the account snapshot
        snapshot = final_balances(session.balances)
        assert snapshot == account_truth(session.venue)
        events = session.stream.step(60)
        wanted = pushed_orders(events)
        changes = [e for e in events if isinstance(e, BalanceEvent)]
        await until(lambda: len(session.orders) == len(wanted)
                    and len(session.balances) == 3 + len(changes))
        await asyncio.sleep(0.05)
    assert normal([order_seen(o) for o in session.orders]) == \
        normal([order_truth(e) for e in wanted])
    assert [(b.asset, b.free, b.locked) for b in session.balances[3:]] == \
        [(e.asset, e.free, e.locked) for e in changes]
    assert final_balances(session.balances) == account_truth(session.venue)
    statuses = {o.status for o in session.orders}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
            OrderStatus.CANCELED} <= statuses
    assert any(o.fee > 0 and o.fee_asset for o in session.orders)
    assert session.venue.login_replies == ["0"]


async def test_a_drop_mid_stream_loses_no_pushed_order_and_balances_end_true(session) -> None:
    stream = session.stream
    async with session.fh:
        await session.fh.wait_connected(10)
        before = stream.step(20)
        await until(lambda: len(session.orders) == len(pushed_orders(before)))
        assert session.exchange.drop() == 1
        gone = stream.step(5)
        await until(lambda: session.connection.authentications == 2 and
                    session.connection.connected)
        await until(lambda: any(c.topics for c in session.exchange.connections))
        after = stream.step(20)
        wanted = pushed_orders(before + after)
        await until(lambda: len(session.orders) == len(wanted))
        await until(lambda: final_balances(session.balances) == account_truth(session.venue))
        await asyncio.sleep(0.1)
    assert [e.seq for e in gone] == stream.undelivered and gone
    assert normal([order_seen(o) for o in session.orders]) == \
        normal([order_truth(e) for e in wanted])
    assert final_balances(session.balances) == account_truth(session.venue)
    assert session.venue.login_replies == ["0", "0"]     # a fresh login per socket


async def test_the_login_timestamp_follows_the_server_clock() -> None:
    """The server runs 90 s behind: a login stamped with the local clock would be expired."""
    venue = new_venue(clock=lambda: time.time() - 90)
    async with SimulatedExchange(venue, rate=None) as exchange:
        fh = FeedHandler(endpoints=endpoints(exchange))
        fh.subscribe_balance("okx", print, credentials=credentials())
        async with fh:
            await fh.wait_connected(10)
    assert venue.login_replies == ["0"]


@pytest.mark.parametrize("bad, code", [
    (credentials(key="unknown-key-0000"), "60005"),
    (credentials(secret="wrong-secret-5555"), "60007"),
    (credentials(passphrase="wrong-pass-7777"), "60024"),
])
async def test_a_refused_login_surfaces_once_and_is_not_retried(session, bad, code) -> None:
    fh = FeedHandler(endpoints=endpoints(session.exchange), backoff_base=0.01,
                     backoff_cap=0.02)
    statuses = []
    fh.subscribe_orders("okx", print, credentials=bad)
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
    assert raised.value.code == code
    assert session.venue.login_replies == [code]
    assert statuses.count(StatusKind.AUTH_FAILED) == 1
    assert len(session.exchange.history) == 1


async def test_a_key_without_passphrase_is_refused_at_subscribe() -> None:
    fh = FeedHandler()
    with pytest.raises(AuthError, match="passphrase"):
        fh.subscribe_orders("okx", print, credentials=Credentials(KEY, SECRET))
    with pytest.raises(UnsupportedError):
        fh.subscribe_positions("okx", print, credentials=credentials())


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.fh:
        await session.fh.wait_connected(10)
        events = session.stream.step(10)
        await until(lambda: len(session.orders) == len(pushed_orders(events)))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    fh = FeedHandler(endpoints=endpoints(session.exchange))
    fh.subscribe_balance("okx", print, credentials=credentials(secret=SECRET + "x"))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
    print(raised.value, fh.stats(), credentials())
    captured = capsys.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err, repr(raised.value)]
                     + [repr(r.args) for r in caplog.records])
    assert "authentication failed" in text
    for secret in (SECRET, PASSPHRASE, KEY):
        assert secret not in text


async def test_a_symbol_filter_gets_that_instrument_at_its_scales(session) -> None:
    got: list[Order] = []
    fh = FeedHandler(endpoints=endpoints(session.exchange))
    handle = fh.subscribe_orders("okx", got.append, credentials=credentials(),
                                 symbol="BTC-USDT")
    async with fh:
        await fh.wait_connected(10)
        events = session.stream.step(40)
        wanted = [e for e in pushed_orders(events) if e.symbol == "BTC-USDT"]
        assert wanted and len(wanted) < len(pushed_orders(events))
        await until(lambda: len(got) == len(wanted))
        fh.unsubscribe(handle)
        await until(lambda: not session.exchange.connections)
    assert all(o.instrument is not None and (o.price_scale, o.size_scale) == (1, 8)
               for o in got)
    assert normal([order_seen(o) for o in got]) == normal([order_truth(e) for e in wanted])


async def test_the_private_socket_is_kept_alive_with_text_ping(session) -> None:
    fh = FeedHandler(endpoints={"okx": {**endpoints(session.exchange)["okx"],
                                        "ping_interval": 0.1}})
    fh.subscribe_balance("okx", print, credentials=credentials())
    async with fh:
        await fh.wait_connected(10)
        (conn,) = session.exchange.connections
        await until(lambda: conn.received["ping"] >= 3)
        (state,) = fh.venues.values()
        (account,) = state.accounts.values()
        assert account.connection.connects == 1 and account.connection.connected
