"""Kraken spot private streams end to end against the simulated account.

Kraken replays nothing after a reconnect, but every private subscribe opens with a snapshot
(open orders on ``executions``, balances on ``balances``), so after a drop the events of the
gap are missing while the state is whole again: the test checks both. Updates carry only what
changed; the rows are whole because the decoder merges them by order id.
"""

import asyncio
import logging
import time
from decimal import Decimal

import aiohttp
import pytest

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import Balance, Order, OrderStatus
from feedhandler.exchanges import UnsupportedError
from feedhandler.exchanges.kraken import auth
from feedhandler.net.connection import StatusKind
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.account import AccountStream, BalanceEvent, Listing, OrderEvent, SimAccount
from feedhandler.sim.catalog import unified
from feedhandler.sim.kraken import INVALID_SESSION, PRIVATE_PATH
from feedhandler.sim.kraken import KrakenVenue as SimKraken
from feedhandler.sim.testing import until

KEY = "sim-kraken-key-Jx7Pq2Rm4T"
SECRET = "c2ltLWtyYWtlbi1zZWNyZXQtTkVWRVItUFJJTlQtN2UxYjRjOWQ="   # base64, as Kraken's
LISTINGS = (Listing("BTC/USD", "BTC", "USD", Decimal("60000.0"), Decimal("0.1"),
                    Decimal("0.0001")),
            Listing("ETH/USD", "ETH", "USD", Decimal("3000.00"), Decimal("0.01"),
                    Decimal("0.001")))
CHANNELS = {"executions", "balances"}


def new_account(seed: int = 5) -> SimAccount:
    return SimAccount(LISTINGS, {"BTC": Decimal("2"), "ETH": Decimal("40"),
                                 "USD": Decimal("250000")}, seed=seed)


def endpoints(exchange: SimulatedExchange, **extra: object) -> dict:
    return {"kraken": {"ws_url": exchange.ws_url, "rest_url": exchange.http_url,
                       "private_ws_url": f"ws://{exchange.host}:{exchange.port}{PRIVATE_PATH}",
                       **extra}}


class Session:
    """A simulated Kraken with an account, and a FeedHandler subscribed to all of it."""

    def __init__(self, exchange: SimulatedExchange, venue: SimKraken,
                 credentials: Credentials) -> None:
        self.exchange, self.venue = exchange, venue
        self.fh = FeedHandler(endpoints=endpoints(exchange), backoff_base=0.05, backoff_cap=0.2)
        self.got: list[object] = []
        self.fh.subscribe_orders("kraken", self.got.append, credentials=credentials)
        self.fh.subscribe_balance("kraken", self.got.append, credentials=credentials)
        assert venue.account is not None
        self.account = venue.account
        self.stream = AccountStream(exchange, venue.account, "", venue.render_account,
                                    route=venue.route)

    @property
    def connection(self):
        (state,) = self.fh.venues.values()
        (account,) = state.accounts.values()
        return account.connection

    def subscribed(self) -> bool:
        return any(CHANNELS <= set(c.topics) for c in self.exchange.connections)


def truth(event: object) -> tuple:
    """What Kraken streams of an account event (None: nothing, see sim/kraken.py)."""
    if isinstance(event, OrderEvent):
        return ("order", unified(event.symbol), str(event.order_id), event.client_id,
                event.side,
                event.status, event.price, event.size, event.filled, event.last_price,
                event.last_size, event.fee, event.fee_asset)
    assert isinstance(event, BalanceEvent)
    return ("balance", event.asset, event.free + event.locked, event.change)


def streamed(events: list) -> list:
    return [e for e in events if not (isinstance(e, OrderEvent) and e.status == "REJECTED")
            and not (isinstance(e, BalanceEvent) and e.change == 0)]


def seen(event: object) -> tuple:
    if isinstance(event, Order):
        return ("order", event.symbol, event.order_id, event.client_id,
                "BUY" if event.side > 0 else "SELL", event.status.name, event.price,
                event.size, event.filled, event.last_price, event.last_size, event.fee,
                event.fee_asset)
    assert isinstance(event, Balance) and event.has_totals
    assert event.free == event.total and event.locked == 0    # Kraken reports totals only
    return ("balance", event.asset, event.total, event.delta)


def normal(values: list[tuple]) -> list[tuple]:
    return [tuple(v.normalize() if isinstance(v, Decimal) else v for v in t) for t in values]


def by_kind(values: list[tuple]) -> dict[str, list[tuple]]:
    """Each channel in its arrival order (orders and balances reach their callbacks in
    separate batches, so their interleaving is not kept)."""
    out: dict[str, list[tuple]] = {"order": [], "balance": []}
    for t in normal(values):
        out[t[0]].append(t)
    return out


def balances_snapshot(account: SimAccount) -> list[tuple]:
    return normal([("balance", asset, total, Decimal(0))
                   for asset, total in account.balances.items()])


def open_orders(account: SimAccount) -> dict[str, tuple]:
    return {str(o.event.order_id): normal([(o.event.status, o.event.price, o.event.size,
                                            o.event.filled)])[0]
            for o in account.orders.values() if o.event.status in ("NEW", "PARTIALLY_FILLED")}


@pytest.fixture
async def session():
    venue = SimKraken(symbols=["BTC/USD", "ETH/USD"], account=new_account(),
                      api_keys={KEY: SECRET})
    async with SimulatedExchange(venue, rate=None) as exchange:
        yield Session(exchange, venue, Credentials(KEY, SECRET))


async def test_orders_and_balances_equal_the_account_truth(session) -> None:
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(session.subscribed)
        await until(lambda: len(session.got) == len(session.account.balances))
        snapshot = normal([seen(e) for e in session.got])
        events = session.stream.step(80)
        expected = streamed(events)
        await until(lambda: len(session.got) == len(snapshot) + len(expected))
        await asyncio.sleep(0.05)
        decoder = session.connection.listener.decoder
    assert snapshot == balances_snapshot(new_account())
    assert by_kind([seen(e) for e in session.got[len(snapshot):]]) == \
        by_kind([truth(e) for e in expected])
    statuses = {e.status for e in session.got if isinstance(e, Order)}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
            OrderStatus.CANCELED} <= statuses
    assert any(isinstance(e, Order) and e.fee > 0 for e in session.got)
    news = sum(isinstance(e, OrderEvent) and e.status == "NEW" for e in events)
    completed = sum(isinstance(e, OrderEvent) and e.status == "FILLED" for e in events)
    assert decoder.pending_news == news and decoder.fill_echoes == completed
    assert decoder.orphans == 0 and decoder.errors == 0
    assert decoder.open_orders() == len(open_orders(session.account))
    assert session.venue.token_replies == [[]]


async def test_a_drop_mid_stream_then_the_snapshots_restore_the_account_state(
        session) -> None:
    stream = session.stream
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(session.subscribed)
        before = streamed(stream.step(30))
        first = len(session.account.balances)
        await until(lambda: len(session.got) == first + len(before))
        assert session.exchange.drop() == 1
        gone = stream.step(6)           # nobody subscribed: Kraken replays none of it
        await until(lambda: session.connection.authentications == 2 and session.subscribed())
        open_now = open_orders(session.account)
        balances_now = balances_snapshot(session.account)
        resumed = first + len(before) + len(open_now) + len(balances_now)
        await until(lambda: len(session.got) == resumed)
        after = streamed(stream.step(30))
        await until(lambda: len(session.got) == resumed + len(after))
        await asyncio.sleep(0.1)
        tracked = session.connection.listener.decoder.open_orders()
    assert tracked == len(open_orders(session.account))   # orders ended in the gap not held
    assert [e.seq for e in gone] == stream.undelivered and gone
    got = [seen(e) for e in session.got]
    assert by_kind(got[first:first + len(before)]) == by_kind([truth(e) for e in before])
    restored = session.got[first + len(before):resumed]
    orders = {e.order_id: normal([(e.status.name, e.price, e.size, e.filled)])[0]
              for e in restored if isinstance(e, Order)}
    assert orders == open_now           # every open order, as the account holds it
    assert normal([seen(e) for e in restored if isinstance(e, Balance)]) == balances_now
    assert by_kind(got[resumed:]) == by_kind([truth(e) for e in after])   # no duplicate
    assert session.venue.token_replies == [[], []]        # a fresh token per socket


@pytest.mark.parametrize("credentials, error", [
    (Credentials("unknown-key-0000", SECRET), "EAPI:Invalid key"),
    (Credentials(KEY, "d3Jvbmctc2VjcmV0LTU1NTU="), "EAPI:Invalid signature"),
])
async def test_a_refused_key_surfaces_once_and_is_not_retried(session, credentials,
                                                              error) -> None:
    fh = FeedHandler(endpoints=endpoints(session.exchange), backoff_base=0.01,
                     backoff_cap=0.02)
    statuses = []
    fh.subscribe_orders("kraken", print, credentials=credentials)
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
    assert error in str(raised.value)
    assert session.venue.token_replies == [[error]]
    assert statuses.count(StatusKind.AUTH_FAILED) == 1
    assert fh.auth_errors == [raised.value]
    assert not session.exchange.history         # refused before any socket was opened


async def test_a_secret_that_is_not_base64_is_refused_before_any_request(session) -> None:
    fh = FeedHandler(endpoints=endpoints(session.exchange))
    fh.subscribe_orders("kraken", print, credentials=Credentials(KEY, "not base64 at all!"))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
    assert "base64" in str(raised.value) and "not base64 at all" not in str(raised.value)
    assert session.venue.token_replies == [] and not session.exchange.history


async def test_a_refused_token_on_subscribe_surfaces_once(session) -> None:
    """The token answer passes, the subscribe is refused (token unknown to the server, as
    one issued elsewhere or expired): the typed error, no retry."""
    session.venue.tokens.clear()
    original = session.venue._issue_token

    def issue_and_forget(request):
        errors, result = original(request)
        session.venue.tokens.clear()
        return errors, result

    session.venue._issue_token = issue_and_forget
    fh = FeedHandler(endpoints=endpoints(session.exchange), backoff_base=0.01,
                     backoff_cap=0.02)
    fh.subscribe_balance("kraken", print, credentials=Credentials(KEY, SECRET))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
        await asyncio.sleep(0.3)
    assert INVALID_SESSION in str(raised.value)
    assert session.venue.subscribe_refusals == [INVALID_SESSION]
    assert session.venue.token_replies == [[]]
    assert fh.auth_errors == [raised.value]


async def test_the_simulator_checks_nonce_signature_and_token() -> None:
    venue = SimKraken(account=new_account(), api_keys={KEY: SECRET},
                      clock=lambda: time.time())
    async with SimulatedExchange(venue, rate=None) as exchange:
        async with aiohttp.ClientSession() as http:
            async def token(nonce: int, secret: str = SECRET) -> dict:
                path, headers, body = auth.token_request(KEY, secret, nonce)
                async with http.post(exchange.http_url + path, headers=headers,
                                     data=body) as response:
                    return await response.json()

            ok = await token(1000)
            replay = await token(1000)
            bad = await token(1001, "d3Jvbmctc2VjcmV0LTU1NTU=")
            url = f"ws://{exchange.host}:{exchange.port}{PRIVATE_PATH}"
            async with http.ws_connect(url) as ws:
                await ws.receive()                                          # status
                await ws.send_str(auth.subscribe_message("balances", "not-a-token"))
                refused = (await ws.receive()).json()
                await ws.send_str(auth.subscribe_message("balances", ok["result"]["token"]))
                accepted = (await ws.receive()).json()
                snapshot = (await ws.receive()).json()
    assert ok["error"] == [] and ok["result"]["expires"] == 900
    assert replay == {"error": ["EAPI:Invalid nonce"]}
    assert bad == {"error": ["EAPI:Invalid signature"]}
    assert refused["success"] is False and refused["error"] == INVALID_SESSION
    assert accepted["success"] is True and accepted["result"] == {"channel": "balances",
                                                                  "snapshot": True}
    assert snapshot["type"] == "snapshot" and snapshot["sequence"] == 1
    assert {b["asset"] for b in snapshot["data"]} == {"BTC", "ETH", "USD"}


async def test_an_unused_token_expires_after_900_s() -> None:
    now = [time.time()]
    venue = SimKraken(account=new_account(), api_keys={KEY: SECRET}, clock=lambda: now[0])
    async with SimulatedExchange(venue, rate=None) as exchange:
        async with aiohttp.ClientSession() as http:
            path, headers, body = auth.token_request(KEY, SECRET, 5)
            async with http.post(exchange.http_url + path, headers=headers,
                                 data=body) as response:
                issued = (await response.json())["result"]["token"]
            now[0] += 901
            url = f"ws://{exchange.host}:{exchange.port}{PRIVATE_PATH}"
            async with http.ws_connect(url) as ws:
                await ws.receive()
                await ws.send_str(auth.subscribe_message("executions", issued))
                reply = (await ws.receive()).json()
    assert reply["success"] is False and reply["error"] == INVALID_SESSION


async def test_no_secret_in_any_log_output(session, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    async with session.fh:
        await session.fh.wait_connected(10)
        await until(session.subscribed)
        first = len(session.account.balances)
        events = streamed(session.stream.step(10))
        await until(lambda: len(session.got) == first + len(events))
        session.exchange.drop()
        await until(lambda: session.connection.authentications == 2)
    fh = FeedHandler(endpoints=endpoints(session.exchange))
    fh.subscribe_balance("kraken", print,
                         credentials=Credentials(KEY, "d3Jvbmctc2VjcmV0LTU1NTU="))
    async with fh:
        with pytest.raises(AuthError) as raised:
            await fh.wait_connected(5)
    print(raised.value, fh.stats())
    captured = capsys.readouterr()
    text = "\n".join([caplog.text, captured.out, captured.err, repr(raised.value)]
                     + [repr(r.args) for r in caplog.records])
    tokens = [t for t in session.venue.tokens]
    assert "authentication failed" in text or "Invalid signature" in text
    assert SECRET not in text and KEY not in text
    assert tokens and not any(t in text for t in tokens)


async def test_the_private_socket_is_kept_alive_with_method_ping(session) -> None:
    fh = FeedHandler(endpoints=endpoints(session.exchange, ping_interval=0.1))
    fh.subscribe_balance("kraken", print, credentials=Credentials(KEY, SECRET))
    async with fh:
        await fh.wait_connected(10)
        (conn,) = session.exchange.connections
        await until(lambda: conn.received["ping"] >= 3)
        (state,) = fh.venues.values()
        (account,) = state.accounts.values()
        assert account.connection.connects == 1 and account.connection.connected


async def test_kraken_has_no_positions() -> None:
    fh = FeedHandler()
    with pytest.raises(UnsupportedError):
        fh.subscribe_positions("kraken", print, credentials=Credentials(KEY, SECRET))
