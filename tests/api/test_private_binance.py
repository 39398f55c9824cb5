"""Binance spot and USD-M private streams end to end against the simulated account.

What the simulator does while no session is connected follows Binance: the user data stream
keeps no backlog, so events of that time are never delivered (the client reconciles over
REST); events before the drop and after the re-authentication arrive exactly once.
"""

import asyncio
import logging
import pickle
from decimal import Decimal

import pytest

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import Balance, Order, OrderStatus, Position
from feedhandler.exchanges import UnsupportedError
from feedhandler.net.connection import StatusKind
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import (
    AccountStream,
    BalanceEvent,
    Listing,
    OrderEvent,
    PositionEvent,
    SimAccount,
)
from feedhandler.sim.binance import USER_TOPIC
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.catalog import unified
from feedhandler.sim.testing import until

KEY = "sim-api-key-7Hq2Lx9PzW4m"
SECRET = "sim-secret-NEVER-PRINT-4f9c2a7e1b"
LISTINGS = (Listing("BTCUSDT", "BTC", "USDT", Decimal("60000.00"), Decimal("0.01"),
                    Decimal("0.00001")),
            Listing("ETHUSDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.0001")))
FUTURES_LISTINGS = (Listing("BTCUSDT", "BTC", "USDT", Decimal("60000.0"), Decimal("0.1"),
                            Decimal("0.001")),
                    Listing("ETHUSDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                            Decimal("0.001")))
"""USD-M's grids, as its exchangeInfo lists them (the decoders keep those decimals)."""


def new_account(market: str, seed: int = 3) -> SimAccount:
    if market == "spot":
        return SimAccount(LISTINGS, {"BTC": Decimal("2"), "ETH": Decimal("40"),
                                     "USDT": Decimal("250000")}, seed=seed)
    return SimAccount(FUTURES_LISTINGS, {"USDT": Decimal("100000")}, futures=True, seed=seed)


class Session:
    """A simulated Binance with an account, and a FeedHandler subscribed to all of it."""

    def __init__(self, market: str, exchange: SimulatedExchange, venue: SimBinance,
                 credentials: Credentials, keepalive: float = 1800.0) -> None:
        self.market, self.exchange, self.venue = market, exchange, venue
        self.name = "binance" if market == "spot" else "binance-usdm"
        self.fh = FeedHandler(endpoints={self.name: {
            "ws_url": exchange.ws_url, "rest_url": exchange.http_url,
            "listen_key_keepalive": keepalive}}, backoff_base=0.05, backoff_cap=0.2)
        self.got: list[object] = []
        self.fh.subscribe_orders(self.name, self.got.append, credentials=credentials)
        self.fh.subscribe_balance(self.name, self.got.append, credentials=credentials)
        if market == "usdm":
            self.fh.subscribe_positions(self.name, self.got.append, credentials=credentials)
        assert venue.account is not None
        self.stream = AccountStream(exchange, venue.account, USER_TOPIC, venue.render_account)

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
        if futures:
            return ("balance", event.asset, event.free + event.locked, event.change)
        return ("balance", event.asset, event.free, event.locked)
    assert isinstance(event, PositionEvent)
    return ("position", unified(event.symbol, futures), event.amount, event.entry_price,
            event.unrealized_pnl)


def seen(event: object, futures: bool) -> tuple:
    if isinstance(event, Order):
        return ("order", event.symbol, event.order_id, event.client_id,
                "BUY" if event.side > 0 else "SELL", event.status.name, event.price,
                event.size, event.filled, event.last_price, event.last_size, event.fee,
                event.fee_asset)
    if isinstance(event, Balance):
        assert event.has_totals
        if futures:
            return ("balance", event.asset, event.total, event.delta)
        assert event.total == event.free + event.locked
        return ("balance", event.asset, event.free, event.locked)
    assert isinstance(event, Position)
    return ("position", event.symbol, event.amount, event.entry_price, event.unrealized_pnl)


def normal(values: list[tuple]) -> dict[str, list[tuple]]:
    """Per kind, in order (Binance sends a step's order event before the account event that
    carries its balances, so only the order within a kind is defined); Decimals normalised."""
    out: dict[str, list[tuple]] = {"order": [], "balance": [], "position": []}
    for t in values:
        out[t[0]].append(tuple(v.normalize() if isinstance(v, Decimal) else v for v in t))
    return out


@pytest.fixture(params=["spot", "usdm"])
async def session(request):
    venue = SimBinance(request.param, symbols=["BTCUSDT", "ETHUSDT"],
                       account=new_account(request.param), api_keys={KEY: SECRET})
    async with SimulatedExchange(venue, rate=None) as exchange:
        yield Session(request.param, exchange, venue, Credentials(KEY, SECRET))


async def test_orders_balances_positions_equal_the_account_truth(session) -> None:
    futures = session.market == "usdm"
    async with session.fh:
        await session.fh.wait_connected(10)
        events = session.stream.step(60)
        await until(lambda: len(session.got) == len(events))
        await asyncio.sleep(0.05)
    assert normal([seen(e, futures) for e in session.got]) == \
        normal([truth(e, futures) for e in events])
    statuses = {e.status for e in session.got if isinstance(e, Order)}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
            OrderStatus.CANCELED} <= statuses
    assert any(isinstance(e, Order) and e.fee > 0 for e in session.got)
    if futures:
        assert any(isinstance(e, Position) and e.amount != 0 for e in session.got)
    rows = session.fh.orders.reader(from_start=True).read()
    assert len(rows) == sum(isinstance(e, Order) for e in session.got)


async def test_a_drop_mid_stream_loses_only_what_binance_would_and_duplicates_nothing(
        session) -> None:
    futures = session.market == "usdm"
    stream = session.stream
    async with session.fh:
        await session.fh.wait_connected(10)
        before = stream.step(20)
        await until(lambda: len(session.got) == len(before))
        assert session.exchange.drop() == 1
        gone = stream.step(5)           # no session is connected: Binance keeps no backlog
        await until(lambda: session.connection.authentications == 2 and
                    session.connection.connected)
        await until(lambda: len(session.exchange.connections) == 1)
        after = stream.step(20)
        await until(lambda: len(session.got) == len(before) + len(after))
        await asyncio.sleep(0.1)
    assert [e.seq for e in gone] == stream.undelivered and gone
    assert stream.delivered == [e.seq for e in before + after]
    assert normal([seen(e, futures) for e in session.got]) == \
        normal([truth(e, futures) for e in before + after])
    posts = [m for m, status in session.venue.user_stream_requests if m == "POST"]
    assert len(posts) == 2              # re-authenticated: the listen key asked for again


async def test_a_refused_key_surfaces_once_and_is_not_retried(session) -> None:
    bad = Credentials("unknown-key-0000", "whatever-secret-1234")
    fh = FeedHandler(endpoints={session.name: {"ws_url": session.exchange.ws_url,
                                               "rest_url": session.exchange.http_url}},
                     backoff_base=0.01, backoff_cap=0.02)
    statuses = []
    fh.subscribe_orders(session.name, print, credentials=bad)
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
    assert raised.value.code == -2015
    assert "Invalid API-key" in str(raised.value)
    assert session.venue.user_stream_requests == [("POST", 401)]
    assert statuses.count(StatusKind.AUTH_FAILED) == 1
    assert fh.auth_errors == [raised.value]
    assert connection.connects == 0 and connection.connect_failures == 0


async def test_the_listen_key_is_kept_alive_and_renewed_when_it_expires(session) -> None:
    session = Session(session.market, session.exchange, session.venue,
                      Credentials(KEY, SECRET), keepalive=0.05)
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(lambda: session.venue.user_stream_requests.count(("PUT", 200)) >= 2)
        first = next(iter(session.venue.listen_keys))
        assert session.exchange.push(USER_TOPIC, session.venue.expire_listen_keys()) == 1
        await until(lambda: session.connection.authentications == 2 and
                    session.connection.connected)
        assert next(iter(session.venue.listen_keys)) != first
        events = session.stream.step(5)
        await until(lambda: len(session.got) == len(events))
    assert ("DELETE", 200) in session.venue.user_stream_requests   # released at stop
    assert not session.venue.listen_keys


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = Credentials(KEY, SECRET)
    async with session.fh:
        await session.fh.wait_connected(10)
        events = session.stream.step(10)
        await until(lambda: len(session.got) == len(events))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    bad = Credentials(KEY + "x", SECRET)
    fh = FeedHandler(endpoints={session.name: {"ws_url": session.exchange.ws_url,
                                               "rest_url": session.exchange.http_url}})
    fh.subscribe_balance(session.name, print, credentials=bad)
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
    print(repr(credentials), str(credentials), credentials, raised.value, fh.stats())
    with pytest.raises(TypeError) as pickled:
        pickle.dumps(credentials)
    captured = capsys.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err, str(pickled.value),
                      repr(raised.value)] + [repr(r.args) for r in caplog.records])
    assert "authentication failed" in text and "Credentials(key=" in text
    assert SECRET not in text
    assert KEY not in text


async def test_private_channels_a_venue_lacks_are_refused_at_once() -> None:
    fh = FeedHandler()
    credentials = Credentials(KEY, SECRET)
    with pytest.raises(UnsupportedError):
        fh.subscribe_positions("binance", print, credentials=credentials)
    with pytest.raises(UnsupportedError):
        fh.subscribe_positions("bybit", print, credentials=credentials)
    with pytest.raises(AuthError, match="FEEDHANDLER_BINANCE_USDM_API_KEY"):
        fh.subscribe_orders("binance-usdm", print)


async def test_a_symbol_filter_gets_that_instrument_at_its_scales(session) -> None:
    got: list[Order] = []
    fh = FeedHandler(endpoints={session.name: {"ws_url": session.exchange.ws_url,
                                               "rest_url": session.exchange.http_url}})
    handle = fh.subscribe_orders(session.name, got.append, credentials=Credentials(KEY, SECRET),
                                 symbol="BTC-USDT")
    async with fh:
        await fh.wait_connected(10)
        events = session.stream.step(40)
        wanted = [e for e in events if isinstance(e, OrderEvent) and e.symbol == "BTCUSDT"]
        assert wanted and len(wanted) < sum(isinstance(e, OrderEvent) for e in events)
        await until(lambda: len(got) == len(wanted))
        assert fh.stats()["private"][session.name][0]["authentications"] == 1
        fh.unsubscribe(handle)
        await until(lambda: not session.exchange.connections)
    symbol = "BTC-USDT" if session.market == "spot" else "BTC-USDT-PERP"
    assert all(o.symbol == symbol and o.instrument is not None for o in got)
    assert [(o.order_id, o.filled) for o in got] == [(str(e.order_id), e.filled) for e in wanted]
