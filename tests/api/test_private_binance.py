"""Binance spot and USD-M private streams end to end against the simulated account.

Spot subscribes on the WebSocket API (``userDataStream.subscribe.signature``, signed afresh on
every connection with an HMAC or an Ed25519 key); USD-M uses a listen key on
``/private/ws?listenKey=..&events=..``. What the simulator does while no session is connected
follows Binance: the user data stream keeps no backlog, so events of that time are never
delivered (the client reconciles over REST); events before the drop and after the
re-subscription arrive exactly once.
"""

import asyncio
import logging
import pickle
import time
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.auth.redact import redact
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
ED25519 = ed25519.Ed25519PrivateKey.generate()
ED25519_PEM = ED25519.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
ED25519_PUBLIC = ED25519.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
SUBSCRIBE = "userDataStream.subscribe.signature"
LISTINGS = (Listing("BTCUSDT", "BTC", "USDT", Decimal("60000.00"), Decimal("0.01"),
                    Decimal("0.00001")),
            Listing("ETHUSDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.0001")))
FUTURES_LISTINGS = (Listing("BTCUSDT", "BTC", "USDT", Decimal("60000.0"), Decimal("0.1"),
                            Decimal("0.001")),
                    Listing("ETHUSDT", "ETH", "USDT", Decimal("3000.00"), Decimal("0.01"),
                            Decimal("0.001")))
"""USD-M's grids, as its exchangeInfo lists them (the decoders keep those decimals)."""
# flavour: (market, the secret the client holds, what the venue keeps of the key)
FLAVOURS = {"spot-hmac": ("spot", SECRET, SECRET),
            "spot-ed25519": ("spot", ED25519_PEM, ED25519_PUBLIC),
            "usdm": ("usdm", SECRET, SECRET)}


def new_account(market: str, seed: int = 3) -> SimAccount:
    if market == "spot":
        return SimAccount(LISTINGS, {"BTC": Decimal("2"), "ETH": Decimal("40"),
                                     "USDT": Decimal("250000")}, seed=seed)
    return SimAccount(FUTURES_LISTINGS, {"USDT": Decimal("100000")}, futures=True, seed=seed)


def endpoints(name: str, exchange: SimulatedExchange, **options: object) -> dict:
    return {name: {"ws_url": exchange.ws_url, "rest_url": exchange.http_url, **options}}


class Session:
    """A simulated Binance with an account, and a FeedHandler subscribed to all of it."""

    def __init__(self, market: str, exchange: SimulatedExchange, venue: SimBinance,
                 credentials: Credentials, keepalive: float = 1800.0) -> None:
        self.market, self.exchange, self.venue = market, exchange, venue
        self.credentials = credentials
        self.name = "binance" if market == "spot" else "binance-usdm"
        self.fh = FeedHandler(endpoints=endpoints(self.name, exchange,
                                                  listen_key_keepalive=keepalive),
                              backoff_base=0.05, backoff_cap=0.2)
        self.got: list[object] = []
        self.fh.subscribe_orders(self.name, self.got.append, credentials=credentials)
        self.fh.subscribe_balance(self.name, self.got.append, credentials=credentials)
        if market == "usdm":
            self.fh.subscribe_positions(self.name, self.got.append, credentials=credentials)
        assert venue.account is not None
        self.stream = AccountStream(exchange, venue.account, USER_TOPIC, venue.render_account,
                                    route=venue.user_topic)

    @property
    def connection(self):
        (state,) = self.fh.venues.values()
        (account,) = state.accounts.values()
        return account.connection

    def subscribes(self) -> list[tuple[str, int]]:
        return [r for r in self.venue.user_stream_requests if r[0] == SUBSCRIBE]


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


def open_session(flavour: str, exchange_options: dict | None = None, **venue_options):
    market, secret, account_key = FLAVOURS[flavour]
    venue = SimBinance(market, symbols=["BTCUSDT", "ETHUSDT"], account=new_account(market),
                       api_keys={KEY: account_key}, **venue_options)
    return market, venue, Credentials(KEY, secret), SimulatedExchange(
        venue, rate=None, **(exchange_options or {}))


@pytest.fixture(params=list(FLAVOURS))
async def session(request):
    market, venue, credentials, exchange = open_session(request.param)
    async with exchange:
        yield Session(market, exchange, venue, credentials)


@pytest.fixture(params=["spot-hmac", "spot-ed25519"])
async def spot(request):
    market, venue, credentials, exchange = open_session(request.param)
    async with exchange:
        yield Session(market, exchange, venue, credentials)


@pytest.fixture
async def usdm():
    market, venue, credentials, exchange = open_session("usdm")
    async with exchange:
        yield Session(market, exchange, venue, credentials)


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
    if futures:
        posts = [m for m, status in session.venue.user_stream_requests if m == "POST"]
        assert len(posts) == 2          # re-authenticated: the listen key asked for again
        return
    # subscribed again on the new socket, signed afresh; no listen key anywhere
    assert session.subscribes() == [(SUBSCRIBE, 200), (SUBSCRIBE, 200)]
    first, second = session.venue.subscribe_params
    assert second["timestamp"] != first["timestamp"]
    assert second["signature"] != first["signature"]
    assert not any(m in ("POST", "PUT", "DELETE") for m, _ in session.venue.user_stream_requests)


@pytest.mark.parametrize("flavour", list(FLAVOURS))
async def test_a_refused_key_surfaces_once_and_is_not_retried(flavour: str) -> None:
    market, venue, _, exchange = open_session(flavour)
    name = "binance" if market == "spot" else "binance-usdm"
    bad = Credentials("unknown-key-0000", FLAVOURS[flavour][1])
    async with exchange:
        fh = FeedHandler(endpoints=endpoints(name, exchange), backoff_base=0.01,
                         backoff_cap=0.02)
        statuses = []
        fh.subscribe_orders(name, print, credentials=bad)
        async with fh:
            (state,) = fh.venues.values()
            (account,) = state.accounts.values()
            connection = account.connection
            original = connection.on_status
            connection.on_status = lambda c, e: (statuses.append(e.kind), original(c, e))
            with pytest.raises(AuthError) as raised:
                await fh.wait_connected(5)
            await asyncio.sleep(0.3)    # at a 10-20 ms backoff a retry loop would show here
            with pytest.raises(AuthError):
                await fh.wait_connected(1)
    assert raised.value.code == -2015
    assert "Invalid API-key" in str(raised.value)
    assert venue.user_stream_requests == [(SUBSCRIBE if market == "spot" else "POST", 401)]
    assert statuses.count(StatusKind.AUTH_FAILED) == 1
    assert fh.auth_errors == [raised.value]
    assert connection.connects == 0 and connection.connect_failures == 0


@pytest.mark.parametrize("secret", [SECRET + "-wrong", ed25519.Ed25519PrivateKey.generate(
    ).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()).decode()], ids=["hmac", "ed25519"])
async def test_a_refused_signature_is_an_auth_error_never_retried(spot, secret: str) -> None:
    fh = FeedHandler(endpoints=endpoints("binance", spot.exchange), backoff_base=0.01,
                     backoff_cap=0.02)
    fh.subscribe_balance("binance", print, credentials=Credentials(KEY, secret))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
        await asyncio.sleep(0.3)
    assert raised.value.code == -1022 and "Signature" in str(raised.value)
    assert spot.subscribes() == [(SUBSCRIBE, 400)]


async def test_the_signature_is_timed_on_binance_clock() -> None:
    """The simulated venue's clock runs an hour ahead: a timestamp from the local clock would
    be refused (-1021); the one learned from /api/v3/time is accepted."""
    market, venue, credentials, exchange = open_session(
        "spot-ed25519", clock=lambda: time.time() + 3600)
    async with exchange:
        session = Session(market, exchange, venue, credentials)
        async with session.fh:
            await session.fh.wait_connected(10)
            events = session.stream.step(10)
            await until(lambda: len(session.got) == len(events))
    (params,) = venue.subscribe_params
    assert abs(params["timestamp"] - (time.time() + 3600) * 1000) < 5000
    assert session.subscribes() == [(SUBSCRIBE, 200)]


async def test_a_terminated_event_stream_is_subscribed_again_on_the_same_socket(spot) -> None:
    async with spot.fh:
        await spot.fh.wait_connected(10)
        before = spot.stream.step(10)
        await until(lambda: len(spot.got) == len(before))
        assert spot.exchange.end_topic(USER_TOPIC, spot.venue.event_stream_terminated()) == 1
        await until(lambda: len(spot.subscribes()) == 2)
        await until(lambda: USER_TOPIC in spot.exchange.connections[0].topics)
        after = spot.stream.step(10)
        await until(lambda: len(spot.got) == len(before) + len(after))
        stats = spot.connection.stats()
        terminations = spot.connection.adapter.terminations
    assert spot.subscribes() == [(SUBSCRIBE, 200), (SUBSCRIBE, 200)]
    assert stats["reconnects"] == 0 and stats["connects"] == 1 and terminations == 1
    assert normal([seen(e, False) for e in spot.got]) == \
        normal([truth(e, False) for e in before + after])


async def test_server_shutdown_on_the_ws_api_rotates_and_subscribes_again(spot) -> None:
    async with spot.fh:
        await spot.fh.wait_connected(10)
        assert spot.exchange.server_shutdown() == 1
        await until(lambda: spot.connection.authentications == 2 and spot.connection.connected)
        await until(lambda: len(spot.exchange.connections) == 1)
        events = spot.stream.step(10)
        await until(lambda: len(spot.got) == len(events))
        stats = spot.connection.stats()
    assert stats["last_disconnect_reason"] == "serverShutdown"
    assert spot.subscribes() == [(SUBSCRIBE, 200), (SUBSCRIBE, 200)]


async def test_usdm_dials_private_ws_with_the_key_and_events_in_the_query(usdm, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with usdm.fh:
        await usdm.fh.wait_connected(10)
        (key,) = usdm.venue.listen_keys
        (conn,) = usdm.exchange.connections
        events = usdm.stream.step(20)
        await until(lambda: len(usdm.got) == len(events))
        url = usdm.connection.adapter.ws_url([])
    assert conn.path == (f"/private/ws?listenKey={key}"
                         "&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/listenKeyExpired")
    assert key not in redact(url) and "listenKey=<redacted>" in redact(url)
    assert key not in caplog.text


async def test_the_listen_key_is_kept_alive_and_renewed_when_it_expires(usdm) -> None:
    session = Session(usdm.market, usdm.exchange, usdm.venue, usdm.credentials,
                      keepalive=0.05)
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(lambda: session.venue.user_stream_requests.count(("PUT", 200)) >= 2)
        first = next(iter(session.venue.listen_keys))
        expired = session.venue.expire_listen_keys()
        assert session.exchange.push(session.venue.user_topic(expired[0]), expired) == 1
        await until(lambda: session.connection.authentications == 2 and
                    session.connection.connected)
        assert next(iter(session.venue.listen_keys)) != first
        events = session.stream.step(5)
        await until(lambda: len(session.got) == len(events))
    assert ("DELETE", 200) in session.venue.user_stream_requests   # released at stop
    assert not session.venue.listen_keys


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = session.credentials
    async with session.fh:
        await session.fh.wait_connected(10)
        events = session.stream.step(10)
        await until(lambda: len(session.got) == len(events))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    bad = Credentials(KEY + "x", credentials.secret)
    fh = FeedHandler(endpoints=endpoints(session.name, session.exchange))
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
    secret_lines = [line for line in credentials.secret.splitlines() if "-----" not in line]
    assert all(line not in text for line in secret_lines)
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
    fh = FeedHandler(endpoints=endpoints(session.name, session.exchange))
    handle = fh.subscribe_orders(session.name, got.append, credentials=session.credentials,
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


@pytest.mark.parametrize("flavour", ["spot-hmac", "usdm"])
async def test_against_the_retired_protocol_the_private_stream_fails_visibly(
        flavour: str, caplog) -> None:
    """The simulator speaks the retired protocol (spot: listen keys only; USD-M: the key on
    /ws/<listenKey>): the current client's dial is refused, it says so on every attempt
    (the private connection of the account's channels), and wait_connected times out."""
    caplog.set_level(logging.WARNING)
    market, venue, credentials, exchange = open_session(flavour, protocol="legacy")
    async with exchange:
        session = Session(market, exchange, venue, credentials)
        statuses: list[tuple[StatusKind, str]] = []
        async with session.fh:
            connection = session.connection
            original = connection.on_status
            connection.on_status = lambda c, e: (statuses.append((e.kind, e.reason)),
                                                 original(c, e))
            with pytest.raises(TimeoutError) as raised:
                await session.fh.wait_connected(1.5)
            events = session.stream.step(10)
            await asyncio.sleep(0.1)
            stats = connection.stats()
    assert not session.got and session.stream.undelivered == [e.seq for e in events]
    assert stats["connects"] == 0 and stats["connect_failures"] >= 2
    assert statuses and all(kind is StatusKind.CONNECT_FAILED and "404" in reason
                            for kind, reason in statuses)
    assert f"{session.name}:private: connect failed" in caplog.text
    assert f"{session.name}:private (balance, orders" in str(raised.value)
    assert "received 404" in str(raised.value)
