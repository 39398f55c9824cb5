"""BinancePrivateDecoder on payloads shaped like the user-data-stream examples of Binance's
docs (field names per docs/venues/binance.md), and on what must be refused. Spot events come
wrapped by the WebSocket API (``{"subscriptionId":..,"event":{...}}``); USD-M events raw."""

import pytest

from feedhandler.exchanges.binance.private import BinancePrivateDecoder

PRIVATE, CONTROL, ERROR = 128, 16, 32

EXECUTION_REPORT = (
    b'{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW",'
    b'"S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000",'
    b'"F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE",'
    b'"i":4293153,"l":"0.50000000","z":"0.50000000","L":"0.10264410","n":"0.00012345",'
    b'"N":"BNB","T":1499405658657,"t":42,"I":8641984,"w":true,"m":false,"M":false,'
    b'"O":1499405658657,"Z":"0.05132205","Y":"0.05132205","Q":"0.00000000"}')
ACCOUNT_POSITION = (b'{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,'
                    b'"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"},'
                    b'{"a":"BTC","f":"1.5","l":"0.25"}]}')
BALANCE_UPDATE = (b'{"e":"balanceUpdate","E":1573200697110,"a":"BTC","d":"100.00000000",'
                  b'"T":1573200697068}')
ORDER_TRADE_UPDATE = (
    b'{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT",'
    b'"c":"TEST","S":"SELL","o":"TRAILING_STOP_MARKET","f":"GTC","q":"0.001","p":"0",'
    b'"ap":"0","sp":"7103.04","x":"NEW","X":"NEW","i":8886774,"l":"0","z":"0","L":"0",'
    b'"N":"USDT","n":"0","T":1568879465650,"t":0,"b":"0","a":"9.91","m":false,"R":false,'
    b'"wt":"CONTRACT_PRICE","ot":"TRAILING_STOP_MARKET","ps":"LONG","cp":false,'
    b'"AP":"7476.89","cr":"5.0","pP":false,"si":0,"ss":0,"rp":"0"}}')
ACCOUNT_UPDATE = (
    b'{"e":"ACCOUNT_UPDATE","E":1564745798939,"T":1564745798938,"a":{"m":"ORDER",'
    b'"B":[{"a":"USDT","wb":"122624.12345678","cw":"100.12345678","bc":"50.12345678"}],'
    b'"P":[{"s":"BTCUSDT","pa":"-20","ep":"6563.66500","bep":"6563.6","cr":"0",'
    b'"up":"2850.21200","mt":"isolated","iw":"13200.70726908","ps":"SHORT"}]}}')


def wrapped(event: bytes, subscription: int = 0) -> bytes:
    """A spot event as the WebSocket API sends it."""
    return b'{"subscriptionId":%d,"event":%s}' % (subscription, event)


def test_execution_report_is_one_exact_order_row() -> None:
    d = BinancePrivateDecoder()
    assert d.feed(wrapped(EXECUTION_REPORT)) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert row.order_id[0] == b"4293153" and row.client_id[0] == b"mUvoqJxFIILMdfAW5iGSOW"
    assert row.symbol[0] == b"ETHBTC" and row.instrument[0] == -1
    assert (row.price[0], row.size[0], row.filled[0]) == (10264410, 100000000, 50000000)
    assert (row.last_price[0], row.last_size[0], row.fee[0]) == (10264410, 50000000, 12345)
    assert row.fee_asset[0] == b"BNB" and row.side[0] == 1 and row.status[0] == 2
    assert row.ts_exchange[0] == 1499405658657 * 10**6


def test_a_cancel_reports_the_original_client_id() -> None:
    d = BinancePrivateDecoder()
    cancel = EXECUTION_REPORT.replace(b'"C":""', b'"C":"original-id"').replace(
        b'"X":"PARTIALLY_FILLED"', b'"X":"CANCELED"')
    assert d.feed(wrapped(cancel)) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert row.client_id[0] == b"original-id" and row.status[0] == 4


def test_a_wrapped_event_decodes_wherever_the_wrapper_puts_its_fields() -> None:
    d = BinancePrivateDecoder()
    assert d.feed(b'{"event":%s,"subscriptionId":3}' % ACCOUNT_POSITION) == PRIVATE
    assert d.feed(wrapped(BALANCE_UPDATE, 3)) == PRIVATE
    assert d.feed(wrapped(EXECUTION_REPORT, 3)) == PRIVATE
    b = d.balances.reader(from_start=True).read()
    assert list(b.asset) == [b"ETH", b"BTC", b"BTC"] and list(b.delta) == [0, 0, 100 * 10**8]
    assert d.orders.reader(from_start=True).read().order_id[0] == b"4293153"
    assert d.errors == 0


def test_ws_api_replies_and_connection_events_go_to_the_adapter() -> None:
    d = BinancePrivateDecoder()
    messages = [
        b'{"id":"uds-1","status":200,"result":{"subscriptionId":0}}',
        b'{"id":"uds-2","status":401,"error":{"code":-2015,"msg":"Invalid API-key, IP, or '
        b'permissions for action."}}',
        wrapped(b'{"e":"eventStreamTerminated","E":1728973001334}'),
        b'{"event":{"e":"serverShutdown","E":1770123456789}}',
    ]
    for raw in messages:
        assert d.feed(raw) == CONTROL
    assert d.take_control() == messages
    assert d.errors == 0 and d.unknown == 0


def test_registered_symbols_use_their_scales() -> None:
    d = BinancePrivateDecoder(futures=True)
    d.add_instrument("BTCUSDT", 7, 2, 3)
    assert d.feed(ORDER_TRADE_UPDATE) == PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert row.instrument[0] == 7 and row.size[0] == 1 and row.price_scale[0] == 2
    assert d.feed(ORDER_TRADE_UPDATE.replace(b'"q":"0.001"', b'"q":"0.0015"')) & PRIVATE
    row = d.orders.reader(from_start=True).read()
    assert (row.size[1], row.inexact.tolist()) == (2, [0, 1])    # 1.5 lots: ties to even


def test_balances_and_positions() -> None:
    d = BinancePrivateDecoder(futures=True)
    assert d.feed(ACCOUNT_POSITION) == PRIVATE
    assert d.feed(BALANCE_UPDATE) == PRIVATE
    assert d.feed(ACCOUNT_UPDATE) == PRIVATE
    b = d.balances.reader(from_start=True).read()
    assert list(b.asset) == [b"ETH", b"BTC", b"BTC", b"USDT"]
    assert list(b.free) == [10000 * 10**8, 150000000, 0, 10012345678]
    assert list(b.total) == [10000 * 10**8, 175000000, 0, 12262412345678]
    assert list(b.delta) == [0, 0, 100 * 10**8, 5012345678]
    assert list(b.has_totals) == [1, 1, 0, 1]
    p = d.positions.reader(from_start=True).read()
    assert p.amount[0] == -20 * 10**8 and p.entry_price[0] == 656366500000
    assert p.unrealized_pnl[0] == 285021200000 and p.side[0] == -1


def test_a_balance_beyond_int64_at_the_asset_scale_is_a_decode_error() -> None:
    d = BinancePrivateDecoder()
    huge = ACCOUNT_POSITION.replace(b'"f":"1.5"', b'"f":"100000000000000.5"')
    assert d.feed(huge) & ERROR
    assert "beyond the asset scale" in d.last_error
    assert d.balances.write_count == 1          # the entry before it, nothing wrong written


def test_listen_key_expired_goes_to_the_adapter() -> None:
    d = BinancePrivateDecoder()
    raw = b'{"e":"listenKeyExpired","E":"1736996475556","listenKey":"abc"}'
    assert d.feed(raw) == CONTROL and d.take_control() == [raw] and d.expirations == 1


@pytest.mark.parametrize("raw", [
    b'{"e":"executionReport",', b"[1,2]", b'{"e":"executionReport","E":1,"s":"X","X":"NEW"}',
    EXECUTION_REPORT.replace(b'"X":"PARTIALLY_FILLED"', b'"X":"SOMETHING"'),
    EXECUTION_REPORT.replace(b'"c":"mUvoqJxFIILMdfAW5iGSOW"', b'"c":"' + b"x" * 49 + b'"'),
    ACCOUNT_UPDATE.replace(b'"pa":"-20"', b'"pa":[1]'),
    EXECUTION_REPORT.replace(b'"S":"BUY"', b'"S":"UP"'),
    b'{"subscriptionId":0,"event":[1]}', b'{"subscriptionId":0,"event":{"e":7}}',
    wrapped(EXECUTION_REPORT.replace(b'"X":"PARTIALLY_FILLED"', b'"X":1')),
    wrapped(b'{"e":"executionReport","E":1}'),
])
def test_malformed_events_are_typed_errors(raw: bytes) -> None:
    d = BinancePrivateDecoder()
    assert d.feed(raw) & ERROR   # an ACCOUNT_UPDATE keeps the balances read before the error
    assert d.errors == 1 and d.last_error
    assert d.orders.write_count == 0 and d.positions.write_count == 0


def test_unknown_events_are_counted() -> None:
    d = BinancePrivateDecoder()
    assert d.feed(wrapped(b'{"e":"listStatus","E":1}')) == 0
    assert d.feed(wrapped(b'{"e":"externalLockUpdate","E":1,"a":"BTC","d":"1"}')) == 0
    assert d.feed(b'{"e":"MARGIN_CALL","E":1,"cw":"3.1"}') == 0
    assert d.feed(b"{}") == 0
    assert d.unknown == 4 and d.errors == 0
