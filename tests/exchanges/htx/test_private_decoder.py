"""HtxPrivateDecoder on the docs' example pushes (``private_samples``), on
hypothesis-generated order/account streams, and on what must be refused."""

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.events import wide_units
from feedhandler.exchanges.htx.private import HtxPrivateDecoder
from tests.exchanges.htx import private_samples as samples

PRIVATE, CONTROL, ERROR = 128, 16, 32


def test_creation_and_cancellation_rows() -> None:
    d = HtxPrivateDecoder()
    assert d.feed(samples.ORDER_CREATION) == d.feed(samples.ORDER_CANCELLATION) == PRIVATE
    rows = d.orders.reader(from_start=True).read()
    assert list(rows.order_id) == [b"27163533", b"27163533"]
    assert list(rows.client_id) == [b"abc123", b"abc123"] and list(rows.side) == [-1, -1]
    assert list(rows.status) == [1, 4]
    assert (rows.price[0], rows.size[0], rows.filled[0]) == (77 * 10**8, 2 * 10**8, 0)
    # a cancellation carries no price or size: size is execAmt (absent here) + remainAmt
    assert (rows.price[1], rows.size[1], rows.filled[1]) == (0, 2 * 10**8, 0)
    assert rows.ts_exchange[0] == 1583853365586 * 10**6
    assert rows.ts_exchange[1] == 1583853475406 * 10**6
    assert (rows.fee[0], rows.fee_asset[0]) == (0, b"")


def test_the_trade_sample_needs_a_scale_that_holds_its_volume() -> None:
    d = HtxPrivateDecoder()
    assert d.feed(samples.ORDER_TRADE_FILLED) & PRIVATE    # 18 decimals at scale 8: rounded
    assert d.orders.reader(from_start=True).read().inexact.tolist() == [1]
    d = HtxPrivateDecoder()
    d.add_instrument("btcusdt", 4, 8, 18)
    assert d.feed(samples.ORDER_TRADE_FILLED) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert (row.instrument[0], row.status[0], row.side[0]) == (4, 3, -1)
    assert (row.last_price[0], row.last_size[0]) == (76 * 10**8, 1013157894736842100)
    assert (row.filled[0], row.size[0]) == (2 * 10**18, 10**16)
    assert row.ts_exchange[0] == 1583854188883 * 10**6


def test_account_pushes() -> None:
    d = HtxPrivateDecoder()
    assert d.feed(samples.ACCOUNT_BALANCE_MODE0) == PRIVATE
    row = d.balances.reader(from_start=True).read()
    assert (row.asset[0], row.total[0], row.has_totals[0]) == (b"btc", 2311100000, False)
    assert row.ts_exchange[0] == 1568601800000 * 10**6
    # 18 significant decimals do not fit an int64 at any scale that holds 2028 units: such a
    # row is kept at 18 decimals in 128 bits (the ``*_high`` columns), exactly
    assert d.feed(samples.ACCOUNT_AVAILABLE_MODE1) == PRIVATE
    assert d.feed(samples.ACCOUNT_BALANCE_MODE1) == PRIVATE
    row = d.balances.reader(from_start=True).read()
    assert row.scale.tolist() == [8, 18, 18] and row.inexact.tolist() == [0, 0, 0]
    assert wide_units(row.free_high[1], row.free[1]) == 2028699426619837209087
    assert wide_units(row.total_high[2], row.total[2]) == 2065100267619837209301
    assert row.total_high[0] == 0 and row.has_totals.tolist() == [False] * 3
    both = (b'{"action":"push","ch":"accounts.update#2","data":{"currency":"usdt",'
            b'"accountId":1,"balance":"100.5","available":"90.25","changeType":null,'
            b'"accountType":"trade","changeTime":null,"seqNum":7}}')
    assert d.feed(both) == PRIVATE
    row = d.balances.reader(from_start=True).read()
    assert (row.total[3], row.free[3], row.locked[3], row.has_totals[3]) == (
        10050000000, 9025000000, 1025000000, True)
    assert row.ts_exchange[3] == 0 and d.balance_updates == 4


def test_replies_and_pings_go_to_control() -> None:
    d = HtxPrivateDecoder()
    for message in (samples.AUTH_OK, samples.AUTH_FAIL, samples.ORDERS_SUB_ACK,
                    samples.ACCOUNTS_SUB_ACK, samples.PING):
        assert d.feed(message) == CONTROL
    assert len(d.take_control()) == 5
    assert d.feed(b'{"action":"push","ch":"trade.clearing#btcusdt#0","data":{}}') == 0
    assert d.unknown == 1


def test_malformed_pushes_are_typed_errors() -> None:
    d = HtxPrivateDecoder()
    for bad in (samples.ORDER_CREATION[:-3],
                samples.ORDER_CREATION.replace(b'"sell-limit"', b'"short-limit"'),
                samples.ORDER_CREATION.replace(b'"submitted"', b'"exploded"'),
                samples.ORDER_CREATION.replace(b'"orderPrice":"77.0', b'"orderPrice":"x77.0'),
                samples.ORDER_CREATION.replace(b'"symbol":"btcusdt",', b''),
                b'{"action":"push","ch":"orders#btcusdt","data":[]}',
                b'{"action":"push","ch":"accounts.update#2","data":{"currency":"btc"}}',
                b'{"ch":"orders#btcusdt","data":{}}'):
        assert d.feed(bad) == ERROR, bad
    assert d.order_updates == d.balance_updates == 0


amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)
events = st.fixed_dictionaries({
    "orderId": st.integers(1, 10**15), "clientOrderId": st.text("abc123-", max_size=16),
    "symbol": st.sampled_from(["btcusdt", "ethbtc"]),
    "type": st.sampled_from(["buy-limit", "sell-limit", "buy-ioc", "sell-limit-maker"]),
    "tradePrice": amounts, "tradeVolume": amounts, "execAmt": amounts,
    "orderPrice": amounts, "orderSize": amounts, "tradeTime": st.integers(10**12, 2 * 10**12),
    "orderStatus": st.sampled_from(["partial-filled", "filled"])})


@settings(max_examples=60, deadline=None)
@given(st.lists(events, min_size=1, max_size=20))
def test_generated_trade_pushes_decode_exactly(items) -> None:
    d = HtxPrivateDecoder()
    for item in items:
        data = {k: v if isinstance(v, int | str) else f"{v:.18f}" for k, v in item.items()}
        data["eventType"] = "trade"
        assert d.feed(json.dumps({"action": "push", "ch": f"orders#{item['symbol']}",
                                  "data": data}).encode()) == PRIVATE
    rows = d.orders.reader(from_start=True).read()
    assert [int(r) for r in rows.order_id] == [i["orderId"] for i in items]
    assert list(rows.last_price) == [int(i["tradePrice"] * 10**8) for i in items]
    assert list(rows.last_size) == [int(i["tradeVolume"] * 10**8) for i in items]
    assert list(rows.filled) == [int(i["execAmt"] * 10**8) for i in items]
    assert list(rows.side) == [1 if i["type"].startswith("buy") else -1 for i in items]
    assert list(rows.status) == [2 if i["orderStatus"] == "partial-filled" else 3
                                 for i in items]
    assert d.errors == 0
