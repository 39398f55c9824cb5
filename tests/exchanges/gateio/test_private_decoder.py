"""GateioPrivateDecoder on the docs' example notifications (``private_samples``), on
hypothesis-generated order/balance streams, and on what must be refused."""

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.exchanges.gateio.private import GateioPrivateDecoder
from tests.exchanges.gateio import private_samples as samples

PRIVATE, CONTROL, ERROR = 128, 16, 32


def decoder() -> GateioPrivateDecoder:
    return GateioPrivateDecoder(asset_scale=9)


def test_the_docs_order_put_is_a_new_order_row() -> None:
    d = decoder()
    assert d.feed(samples.ORDER_PUT) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert (row.order_id[0], row.client_id[0], row.symbol[0]) == (b"30784435", b"t-abc",
                                                                  b"BTC_USDT")
    assert (row.price[0], row.size[0], row.filled[0]) == (10001 * 10**8, 10**8, 0)
    assert (row.fee[0], row.fee_asset[0], row.fee_scale[0]) == (0, b"USDT", 9)
    assert (row.side[0], row.status[0]) == (-1, 1)
    assert row.ts_exchange[0] == 1605175506123 * 10**6


def test_the_docs_balance_is_exact_at_nine_decimals() -> None:
    d = decoder()
    assert d.feed(samples.BALANCE) == PRIVATE
    row = d.balances.reader(from_start=True).read()
    assert row.asset[0] == b"USDT" and row.has_totals[0]
    assert (row.total[0], row.free[0], row.delta[0]) == (1032951325075926, 1022943325075926,
                                                         100 * 10**9)
    assert row.locked[0] == row.total[0] - row.free[0]
    # at 8 decimals the same balance is rounded half-even, and the row says so
    eight = GateioPrivateDecoder()
    assert eight.feed(samples.BALANCE) & PRIVATE and eight.balance_updates == 1
    row = eight.balances.reader(from_start=True).read()
    assert (row.total[0], row.inexact[0]) == (103295132507593, 1)


def test_replies_go_to_control_and_other_channels_are_counted() -> None:
    d = decoder()
    assert d.feed(samples.SUBSCRIBE_OK) == CONTROL
    assert d.feed(samples.SUBSCRIBE_ERROR) == CONTROL
    assert d.take_control() == [samples.SUBSCRIBE_OK, samples.SUBSCRIBE_ERROR]
    assert d.feed(samples.USER_TRADE) == 0 and d.unknown == 1


def test_finish_says_filled_or_cancelled() -> None:
    d = decoder()
    done = samples.ORDER_PUT.replace(b'"event": "put"', b'"event": "finish", "finish_as": '
                                     b'"filled"').replace(b'"left": "1"', b'"left": "0"')
    gone = samples.ORDER_PUT.replace(b'"event": "put"', b'"event": "finish", "finish_as": '
                                     b'"cancelled"').replace(b'"left": "1"', b'"left": "0.4"')
    part = samples.ORDER_PUT.replace(b'"event": "put"', b'"event": "update"').replace(
        b'"left": "1"', b'"left": "0.25"').replace(b'"fee": "0"', b'"fee": "1.875"')
    amended = samples.ORDER_PUT.replace(b'"event": "put"', b'"event": "update"')
    assert d.feed(done) == d.feed(gone) == d.feed(part) == d.feed(amended) == PRIVATE
    rows = d.orders.reader(from_start=True).read()
    assert list(rows.status) == [3, 4, 2, 1]
    assert list(rows.filled) == [10**8, 60000000, 75000000, 0]
    assert rows.fee[2] == 1875000000


def test_malformed_orders_are_typed_errors() -> None:
    d = decoder()
    for bad in (samples.ORDER_PUT[:-5],
                samples.ORDER_PUT.replace(b'"side": "sell"', b'"side": "short"'),
                samples.ORDER_PUT.replace(b'"event": "put"', b'"event": "poof"'),
                samples.ORDER_PUT.replace(b'"left": "1"', b'"left": "2"'),
                samples.ORDER_PUT.replace(b'"result": [', b'"result": {"x": [').replace(
                    b'}]}', b'}]}}'),
                b'{"time": 1, "event": "update", "result": []}'):
        assert d.feed(bad) == ERROR, bad
    assert d.order_updates == 0 and d.errors == 6


def test_a_registered_pair_uses_its_scales() -> None:
    d = decoder()
    d.add_instrument("BTC_USDT", 11, 1, 4)
    assert d.feed(samples.ORDER_PUT) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert (row.instrument[0], row.price[0], row.size[0]) == (11, 100010, 10000)


amounts = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=4)
orders = st.fixed_dictionaries({
    "id": st.integers(1, 10**12).map(str), "text": st.text("abc-xyz0123", max_size=20),
    "currency_pair": st.sampled_from(["BTC_USDT", "ETH_BTC"]),
    "side": st.sampled_from(["buy", "sell"]), "event": st.sampled_from(["put", "update"]),
    "price": amounts, "amount": amounts, "fee": amounts,
    "fee_currency": st.sampled_from(["USDT", "BTC", "GT"]),
    "update_time_ms": st.integers(10**12, 2 * 10**12), "quarters_left": st.integers(0, 4)})
balances = st.fixed_dictionaries({
    "currency": st.sampled_from(["USDT", "BTC"]), "total": amounts, "change": amounts,
    "timestamp_ms": st.integers(10**12, 2 * 10**12).map(str)})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(orders, balances), min_size=1, max_size=20))
def test_generated_streams_decode_exactly(items) -> None:
    d = decoder()
    for item in items:
        if "id" in item:
            body = {**{k: str(v) for k, v in item.items()},
                    "left": str(item["amount"] * item["quarters_left"] / 4)}
            message = {"time": 1, "channel": "spot.orders", "event": "update",
                       "result": [body]}
        else:
            body = {**{k: str(v) for k, v in item.items()},
                    "available": str(item["total"] / 2)}
            message = {"time": 1, "channel": "spot.balances", "event": "update",
                       "result": [body]}
        assert d.feed(json.dumps(message).encode()) == PRIVATE
    rows = d.orders.reader(from_start=True).read()
    wanted = [i for i in items if "id" in i]
    assert [r.decode() for r in rows.order_id] == [i["id"] for i in wanted]
    assert list(rows.price) == [int(i["price"] * 10**8) for i in wanted]
    assert list(rows.fee) == [int(i["fee"] * 10**9) for i in wanted]
    filled = [int(i["amount"] * 10**8) - int(i["amount"] * i["quarters_left"] / 4 * 10**8)
              for i in wanted]
    assert list(rows.filled) == filled
    assert list(rows.status) == [2 if i["event"] == "update" and f else 1
                                 for i, f in zip(wanted, filled, strict=True)]
    held = d.balances.reader(from_start=True).read()
    wanted = [i for i in items if "id" not in i]
    assert list(held.total) == [int(i["total"] * 10**9) for i in wanted]
    assert list(held.free) == [int(i["total"] / 2 * 10**9) for i in wanted]
    assert d.errors == 0
