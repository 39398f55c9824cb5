"""OkxPrivateDecoder on the docs' payloads (private_samples.py), on hypothesis-generated
simulator streams, and on what must be refused."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedhandler.exchanges.okx.private import OkxPrivateDecoder
from feedhandler.sim.account import BalanceEvent, Listing, OrderEvent, SimAccount
from feedhandler.sim.okx import OkxVenue as SimOkx
from tests.exchanges.okx import private_samples as samples

PRIVATE, CONTROL, ERROR = 128, 16, 32
ACCOUNT = (b'{"arg":{"channel":"account","uid":"44705892343619584"},"eventType":"snapshot",'
           b'"data":[{"uTime":"1597026383085","totalEq":"41624.32","details":[{"availBal":'
           b'"1.5","cashBal":"2","ccy":"BTC","frozenBal":"0.5","uTime":"1597026383000"},'
           b'{"availBal":"","cashBal":"10.25","ccy":"USDT","frozenBal":""}]}]}')


def test_the_docs_filled_order_is_one_exact_row_with_the_fee_charged_positive() -> None:
    d = OkxPrivateDecoder()
    d.add_instrument("BTC-USDT", 4, 1, 8)
    assert d.feed(samples.ORDER_FILLED_SPOT) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert row.symbol[0] == b"BTC-USDT" and row.instrument[0] == 4
    assert row.order_id[0] == b"452197707845865472" and row.client_id[0] == b""
    assert row.side[0] == -1 and row.status[0] == 3
    assert (row.price[0], row.size[0], row.filled[0]) == (315271, 100000, 100000)
    assert (row.last_price[0], row.last_size[0]) == (315271, 100000)
    assert row.fee[0] == 2522168 and row.fee_asset[0] == b"USDT"    # fillFee -0.02522168
    assert row.ts_exchange[0] == 1654084353264 * 10**6 and row.sequence[0] == 1654084353264


def test_a_push_without_a_fill_carries_no_fee() -> None:
    d = OkxPrivateDecoder()
    live = samples.ORDER_FILLED_SPOT.replace(b'"state":"filled"', b'"state":"live"').replace(
        b'"fillSz":"0.001"', b'"fillSz":"0"').replace(b'"fillPx":"31527.1"', b'"fillPx":""')
    assert d.feed(live) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert row.status[0] == 1 and (row.last_price[0], row.last_size[0], row.fee[0]) == (0, 0, 0)
    assert row.fee_asset[0] == b""


def test_account_details_are_balances() -> None:
    d = OkxPrivateDecoder()
    assert d.feed(ACCOUNT) == PRIVATE
    b = d.balances.reader(from_start=True).read()
    assert list(b.asset) == [b"BTC", b"USDT"]
    assert list(b.total) == [2 * 10**8, 1025000000]
    assert list(b.free) == [150000000, 0] and list(b.locked) == [50000000, 0]
    assert list(b.ts_exchange) == [1597026383000 * 10**6, 1597026383085 * 10**6]


@pytest.mark.parametrize("raw", [samples.LOGIN_OK, samples.LOGIN_FAILED,
                                 samples.LOGIN_INVALID_SIGN,
                                 b'{"event":"subscribe","arg":{"channel":"account"}}'])
def test_events_go_to_the_adapter(raw: bytes) -> None:
    d = OkxPrivateDecoder()
    assert d.feed(raw) == CONTROL and d.take_control() == [raw]


def test_pong_is_consumed_and_other_channels_counted() -> None:
    d = OkxPrivateDecoder()
    assert d.feed(b"pong") == 0
    assert d.feed(samples.POSITIONS_SNAPSHOT) == 0       # no derivatives on this adapter
    assert d.feed(b'{"data":[]}') == 0
    assert d.unknown == 2 and d.errors == 0


@pytest.mark.parametrize("raw", [
    b"pon",
    b'{"arg":{"channel":"orders"},"data":[',
    b'{"arg":{},"data":[]}',
    b'{"arg":{"channel":"orders"},"data":{}}',
    samples.ORDER_FILLED_SPOT.replace(b'"state":"filled"', b'"state":"sleeping"'),
    samples.ORDER_FILLED_SPOT.replace(b'"side":"sell"', b'"side":"up"'),
    samples.ORDER_FILLED_SPOT.replace(b'"sz":"0.001"', b'"sz":""'),
    samples.ORDER_FILLED_SPOT.replace(b'"fillPx":"31527.1"', b'"fillPx":"abc"'),
    ACCOUNT.replace(b'"cashBal":"2"', b'"cashBal":"92233720368.54775808"'),
    ACCOUNT.replace(b'"ccy":"BTC",', b''),
])
def test_malformed_frames_are_typed_errors(raw: bytes) -> None:
    d = OkxPrivateDecoder()
    assert d.feed(raw) & ERROR
    assert d.errors == 1 and d.last_error


LISTINGS = (Listing("BTC-USDT", "BTC", "USDT", Decimal("60000.0"), Decimal("0.1"),
                    Decimal("0.00001")),)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), steps=st.integers(1, 60))
def test_generated_account_streams_decode_to_the_account_truth(seed: int, steps: int) -> None:
    account = SimAccount(LISTINGS, {"BTC": Decimal("3"), "USDT": Decimal("500000")}, seed=seed)
    venue = SimOkx(symbols=["BTC-USDT"], account=account)
    d = OkxPrivateDecoder()
    events = []
    for _ in range(steps):
        step = account.step()
        events += step
        for frame in venue.render_account(step):
            assert d.feed(frame) & ERROR == 0, d.last_error
    orders = [e for e in events if isinstance(e, OrderEvent) and e.status != "REJECTED"]
    rows = d.orders.reader(from_start=True).read()
    assert [i.decode() for i in rows.order_id] == [str(e.order_id) for e in orders]
    assert list(zip(rows.filled, rows.last_size, rows.last_price, rows.fee, strict=True)) == [
        (int(e.filled * 10**8), int(e.last_size * 10**8), int(e.last_price * 10**8),
         int(e.fee * 10**8)) for e in orders]
    balances = [e for e in events if isinstance(e, BalanceEvent)]
    b = d.balances.reader(from_start=True).read()
    assert list(zip(b.free, b.locked, strict=True)) == [
        (int(e.free * 10**8), int(e.locked * 10**8)) for e in balances]
    assert d.errors == 0 and d.unknown == 0


FRAMES = [samples.ORDER_FILLED_SPOT, ACCOUNT, samples.LOGIN_OK, samples.POSITIONS_SNAPSHOT]


@settings(max_examples=300, deadline=None)
@given(frame=st.sampled_from(FRAMES), cuts=st.lists(st.tuples(st.integers(0, 4000),
                                                              st.binary(max_size=4)),
                                                    min_size=1, max_size=4))
def test_mutated_frames_never_crash_and_keep_the_rings_sane(frame: bytes, cuts) -> None:
    d = OkxPrivateDecoder()
    data = bytearray(frame)
    for at, junk in cuts:
        at %= len(data) + 1
        data[at:at + len(junk)] = junk
    flags = d.feed(bytes(data))
    assert flags in (0, PRIVATE, CONTROL, ERROR, PRIVATE | ERROR)
    assert (flags & ERROR != 0) == (d.errors == 1)
    assert d.orders.write_count + d.balances.write_count <= 2
