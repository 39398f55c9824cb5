"""Gate.io spot private channels (spot.orders, spot.balances) end to end against the
simulated account.

Gate has no login: every subscribe carries its own signature. It keeps no backlog and sends
no snapshot on subscribe, so events while no socket is subscribed are gone (the client
reconciles over REST); what came before the drop and after the re-subscribe arrives once.
spot.orders reports cumulative ``filled`` and ``fee`` and no single fill; rejected orders are
never pushed.
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
from feedhandler.sim.gateio import GateioVenue as SimGateio
from feedhandler.sim.testing import until
from tests.api.test_private_binance import normal, seen

KEY = "sim-gate-key-Qm4Xr8TzV2"
SECRET = "sim-gate-secret-NEVER-PRINT-9d3b1c"
LISTINGS = (Listing("BTC_USDT", "BTC", "USDT", Decimal("60000.0"), Decimal("0.1"),
                    Decimal("0.01")),
            Listing("ETH_USDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.0001")))
BASES = {listing.symbol: (listing.base, listing.quote) for listing in LISTINGS}


def new_venue(clock=time.time) -> SimGateio:
    account = SimAccount(LISTINGS, {"BTC": Decimal("0.5"), "ETH": Decimal("4"),
                                    "USDT": Decimal("40000")}, seed=5)
    return SimGateio(symbols=["BTC_USDT", "ETH_USDT"], account=account,
                     api_keys={KEY: SECRET}, clock=clock)


class Session:
    def __init__(self, exchange: SimulatedExchange, venue: SimGateio,
                 credentials: Credentials) -> None:
        self.exchange, self.venue = exchange, venue
        self.fh = FeedHandler(endpoints={"gateio": {"ws_url": exchange.ws_url,
                                                    "rest_url": exchange.http_url}},
                              backoff_base=0.05, backoff_cap=0.2)
        self.got: list[object] = []
        self.fh.subscribe_orders("gateio", self.got.append, credentials=credentials)
        self.fh.subscribe_balance("gateio", self.got.append, credentials=credentials)
        assert venue.account is not None
        self.stream = AccountStream(exchange, venue.account, "", venue.render_account,
                                    route=venue.route_account)

    @property
    def connection(self):
        (state,) = self.fh.venues.values()
        (account,) = state.accounts.values()
        return account.connection


def truth(events: list[object]) -> list[tuple]:
    """What Gate pushes of these account events, as ``seen`` shows it: no rejects, the
    order's cumulative fee in the fee currency of its side, no single fill."""
    fees: dict[int, Decimal] = {}
    out = []
    for e in events:
        if isinstance(e, OrderEvent):
            if e.status == "REJECTED":
                continue
            fees[e.order_id] = fees.get(e.order_id, Decimal(0)) + e.fee
            base, quote = BASES[e.symbol]
            out.append(("order", unified(e.symbol), str(e.order_id), "t-" + e.client_id, e.side,
                        e.status, e.price, e.size, e.filled, Decimal(0), Decimal(0),
                        fees[e.order_id], base if e.side == "BUY" else quote))
        else:
            assert isinstance(e, BalanceEvent)
            out.append(("balance", e.asset, e.free, e.locked))
    return out


def rejected(event: object) -> bool:
    return isinstance(event, OrderEvent) and event.status == "REJECTED"


def assert_undelivered_is(stream: AccountStream, gone: list) -> None:
    """Every step while disconnected is undelivered; a step of only a rejected order (no
    frame at all) counts as undelivered too, whenever it happened."""
    undelivered = set(stream.undelivered)
    assert {e.seq for e in gone} <= undelivered and gone
    assert all(rejected(e) for e in stream.account.events
               if e.seq in undelivered and e not in gone)


def pushed(events: list[object]) -> int:
    return sum(not (isinstance(e, OrderEvent) and e.status == "REJECTED") for e in events)


@pytest.fixture
async def session():
    venue = new_venue()
    async with SimulatedExchange(venue, rate=None) as exchange:
        yield Session(exchange, venue, Credentials(KEY, SECRET))


async def test_orders_and_balances_equal_the_account_truth(session) -> None:
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(lambda: len(session.exchange.connections[0].topics) == 3)
        account = session.venue.account
        events = session.stream.step(40)
        rejected = account.place(LISTINGS[0], "BUY", Decimal("60000.0"), Decimal("1000"))
        assert [e.status for e in rejected] == ["REJECTED"]
        assert session.venue.render_account(rejected) == []   # Gate pushes no rejected order
        events += rejected + session.stream.step(40)
        await until(lambda: len(session.got) == pushed(events))
        await asyncio.sleep(0.05)
    assert normal([seen(e, False) for e in session.got]) == normal(truth(events))
    statuses = {e.status for e in session.got if isinstance(e, Order)}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
            OrderStatus.CANCELED} <= statuses
    assert any(isinstance(e, Order) and e.fee > 0 for e in session.got)
    assert all(b.scale == 9 for b in session.got if isinstance(b, Balance))


async def test_a_drop_mid_stream_loses_only_the_unsubscribed_window(session) -> None:
    stream = session.stream
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(lambda: len(session.exchange.connections[0].topics) == 3)
        before = stream.step(20)
        await until(lambda: len(session.got) == pushed(before))
        assert session.exchange.drop() == 1
        gone = stream.step(5)           # nobody subscribed: Gate keeps no backlog
        await until(lambda: session.connection.authentications == 2 and
                    session.connection.connected)
        await until(lambda: len(session.exchange.connections) == 1
                    and len(session.exchange.connections[0].topics) == 3)
        after = stream.step(20)
        await until(lambda: len(session.got) == pushed(before) + pushed(after))
        await asyncio.sleep(0.1)
    assert_undelivered_is(stream, gone)
    assert normal([seen(e, False) for e in session.got]) == normal(truth(before + after))
    assert not session.venue.auth_failures


@pytest.mark.parametrize("case", ["unknown key", "wrong secret", "stale time"])
async def test_a_refused_signature_surfaces_once_and_is_not_retried(case) -> None:
    skew = 120.0 if case == "stale time" else 0.0
    venue = new_venue(clock=lambda: time.time() + skew)
    async with SimulatedExchange(venue, rate=None) as exchange:
        credentials = {"unknown key": Credentials("unknown-key-0000", SECRET),
                       "wrong secret": Credentials(KEY, "not-the-secret-1234"),
                       "stale time": Credentials(KEY, SECRET)}[case]
        fh = FeedHandler(endpoints={"gateio": {"ws_url": exchange.ws_url,
                                               # no server time: the local clock signs
                                               "rest_url": exchange.http_url + "/missing"}},
                         backoff_base=0.01, backoff_cap=0.02)
        statuses = []
        fh.subscribe_orders("gateio", print, credentials=credentials)
        async with fh:
            (state,) = fh.venues.values()
            (account,) = state.accounts.values()
            connection = account.connection
            original = connection.on_status
            connection.on_status = lambda c, e: (statuses.append(e.kind), original(c, e))
            await until(lambda: fh.auth_errors)
            await asyncio.sleep(0.3)    # at a 10-20 ms backoff a retry loop would show here
            with pytest.raises(AuthError) as raised:
                await fh.wait_connected(1)
        assert raised.value.code == 4 and "Authentication fail" in str(raised.value)
        assert len(venue.auth_failures) == 1
        assert statuses.count(StatusKind.AUTH_FAILED) == 1
        assert connection.connects == 1 and not exchange.connections


async def test_the_signing_clock_is_learnt_from_the_venue() -> None:
    venue = new_venue(clock=lambda: time.time() + 120.0)  # 2 min ahead: beyond Gate's 60 s
    async with SimulatedExchange(venue, rate=None) as exchange:
        session = Session(exchange, venue, Credentials(KEY, SECRET))
        async with session.fh:
            await session.fh.wait_connected(10)
            await until(lambda: len(exchange.connections[0].topics) == 3)
            events = session.stream.step(10)
            await until(lambda: len(session.got) == pushed(events))
            assert abs(session.connection.adapter.clock.offset_ms - 120_000) < 5_000
    assert not venue.auth_failures


async def test_a_symbol_filter_subscribes_that_pair_only() -> None:
    venue = new_venue()
    async with SimulatedExchange(venue, rate=None) as exchange:
        got: list[Order] = []
        fh = FeedHandler(endpoints={"gateio": {"ws_url": exchange.ws_url,
                                               "rest_url": exchange.http_url}})
        fh.subscribe_orders("gateio", got.append, credentials=Credentials(KEY, SECRET),
                            symbol="ETH-USDT")
        assert venue.account is not None
        stream = AccountStream(exchange, venue.account, "", venue.render_account,
                               route=venue.route_account)
        async with fh:
            await fh.wait_connected(10)
            await until(lambda: set(exchange.connections[0].topics) == {"spot.orders:ETH_USDT"})
            events = stream.step(40)
            wanted = [e for e in events if isinstance(e, OrderEvent) and e.symbol == "ETH_USDT"
                      and e.status != "REJECTED"]
            assert wanted
            await until(lambda: len(got) == len(wanted))
    assert all(o.symbol == "ETH-USDT" and o.instrument is not None for o in got)
    assert [(o.order_id, o.filled) for o in got] == [(str(e.order_id), e.filled) for e in wanted]


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(lambda: len(session.exchange.connections[0].topics) == 3)
        events = session.stream.step(10)
        await until(lambda: len(session.got) == pushed(events))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    fh = FeedHandler(endpoints={"gateio": {"ws_url": session.exchange.ws_url,
                                           "rest_url": session.exchange.http_url}})
    fh.subscribe_balance("gateio", print, credentials=Credentials(KEY, SECRET + "x"))
    async with fh:
        await until(lambda: fh.auth_errors)
    print(fh.auth_errors[0], fh.stats())
    captured = capsys.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err]
                     + [repr(r.args) for r in caplog.records])
    assert "authentication failed" in text
    assert SECRET not in text and KEY not in text


async def test_a_malformed_frame_is_counted_and_the_stream_goes_on(session) -> None:
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(lambda: len(session.exchange.connections[0].topics) == 3)
        assert session.exchange.malformed() == 1
        bad = b'{"time":1,"channel":"spot.orders","event":"update","result":[{"id":"1"}]}'
        assert session.exchange.push("spot.orders:BTC_USDT", [bad]) == 1
        events = session.stream.step(10)
        await until(lambda: len(session.got) == pushed(events))
        decoder = session.connection.decoder
        assert decoder.errors == 2 and session.connection.connects == 1
    assert normal([seen(e, False) for e in session.got]) == normal(truth(events))


@pytest.mark.parametrize("exchange", ["gateio", "htx"])
async def test_spot_venues_offer_no_positions(exchange) -> None:
    fh = FeedHandler()
    with pytest.raises(UnsupportedError):
        fh.subscribe_positions(exchange, print, credentials=Credentials(KEY, SECRET))
    fh.subscribe_orders(exchange, print, credentials=Credentials(KEY, SECRET))
    fh.subscribe_balance(exchange, print, credentials=Credentials(KEY, SECRET))
