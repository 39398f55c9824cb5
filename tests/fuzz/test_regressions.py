"""Inputs the fuzzers (fuzz/) found, minimized, each with the behaviour now required."""

import pytest

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState, DecodeError
from feedhandler.core.fixedpoint import TOO_PRECISE, DecimalError, to_fixed
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.gateio.decoder import GateioDecoder

# decoder-binance: a REST depth snapshot whose best bid is above its best ask was loaded and
# the book served as valid (the diffs' crossed check never saw it)
BINANCE_CROSSED_SNAPSHOT = b'{"lastUpdateId":8812316,"bids":[["3000.98","0.5934"]],' \
                           b'"asks":[["3000.01","1.2"]]}'
GATEIO_CROSSED_SNAPSHOT = b'{"id":123456,"current":1,"update":1,"asks":[["1.16","1"]],' \
                          b'"bids":[["1.17","2"]]}'


@pytest.mark.parametrize(("decoder_class", "key", "body"), [
    (BinanceDecoder, "BTCUSDT", BINANCE_CROSSED_SNAPSHOT),
    (GateioDecoder, "BTC_USDT", GATEIO_CROSSED_SNAPSHOT),
])
def test_a_crossed_rest_snapshot_is_refused_and_the_book_stays_withdrawn(
        decoder_class, key: str, body: bytes) -> None:
    decoder = decoder_class()
    book = OrderBook(8, 8)
    slot = decoder.add_instrument(key, 1, 8, 8, book)
    with pytest.raises(DecodeError, match="crossed"):
        decoder.apply_snapshot(slot, body)
    assert not book.valid
    assert decoder.sync_state(slot) == BookSyncState.WAITING
    uncrossed = body.replace(b"3000.98", b"2999.98").replace(b'"1.17"', b'"1.15"')
    decoder.apply_snapshot(slot, uncrossed)          # the retry with a sane snapshot goes live
    assert book.valid and not book.is_crossed


# decoder-coinbase: a level2 message whose sequence_num restarts withdraws the live books and
# its snapshot event makes one live again in the same message; the snapshot was not counted,
# so nothing told "withdrawn, then reloaded" from "withdrawn but still served"
COINBASE_RESTART_WITH_SNAPSHOT = (
    b'{"channel":"l2_data","timestamp":"2023-11-14T22:13:21.082000Z","sequence_num":0,'
    b'"events":[{"type":"snapshot","product_id":"ETH-USDT","updates":['
    b'{"side":"bid","event_time":"2023-11-14T22:13:21.082000Z","price_level":"99.94",'
    b'"new_quantity":"0.0000001"},{"side":"offer","event_time":"2023-11-14T22:13:21.082000Z",'
    b'"price_level":"100.5","new_quantity":"2"}]}]}')


def test_a_coinbase_snapshot_that_relives_a_withdrawn_book_is_counted() -> None:
    from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder

    decoder = CoinbaseDecoder()
    books = [OrderBook(10, 8), OrderBook(10, 8)]
    for slot, product in enumerate(("BTC-USDT", "ETH-USDT")):
        decoder.add_instrument(product, slot, 10, 8, books[slot])
        decoder.feed(COINBASE_RESTART_WITH_SNAPSHOT.replace(b"ETH-USDT", product.encode())
                     .replace(b'"sequence_num":0', b'"sequence_num":%d' % (slot + 1)))
        decoder.announce(slot)
    assert all(book.valid for book in books)
    counts = [decoder.snapshot_count(slot) for slot in (0, 1)]
    assert counts == [1, 1]
    decoder.feed(COINBASE_RESTART_WITH_SNAPSHOT)
    assert sorted(slot for slot, _ in decoder.take_resync()) == [0, 1]
    assert not books[0].valid                       # withdrawn, no snapshot for it
    assert books[1].valid and decoder.snapshot_count(1) == 2   # withdrawn, then reloaded


# decimal (sanitized build, UBSan): more than 19 zeros between the point and the first
# significant digit indexed POW10[20] and beyond while folding them into a zero mantissa;
# the value came out right only because the out-of-bounds factor was multiplied by zero
@pytest.mark.parametrize(("text", "scale", "value"), [
    (b"0.000000000000000000001e21", 0, 1),
    (b"0." + b"0" * 40 + b"5e41", 0, 5),
    (b"-0." + b"0" * 25 + b"12e30", 2, -1200000),
])
def test_many_leading_fraction_zeros_parse_exactly(text: bytes, scale: int, value: int) -> None:
    assert to_fixed(text, scale) == value


def test_many_leading_fraction_zeros_are_too_precise_at_a_small_scale() -> None:
    with pytest.raises(DecimalError) as raised:
        to_fixed(b"0.000000000000000000001", 8)
    assert raised.value.status == TOO_PRECISE


# decoder-binance-usdm: a bookTicker (or trade) carrying a malformed kline object was counted
# as an error but its ticker row was still written and the flags said TICKERS, not ERROR
BINANCE_TICKER_WITH_BAD_KLINE = (
    b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":8812741,"E":1700000001006,'
    b'"T":1001017,"s":"BTCUSDT","k":{"t":1699999980001,"T":1700000039999,"s":"BTCUSDT",'
    b'"i":"1m","o":"3000.01","c":"30code2"},"b":"3000.02","B":"0.275","a":"3000.06",'
    b'"A":"2.738"}}')


@pytest.mark.parametrize("futures", [False, True])
def test_a_message_with_a_malformed_kline_is_an_error_and_writes_nothing(futures: bool) -> None:
    from feedhandler.core.decoder import Decoded

    decoder = BinanceDecoder(futures=futures)
    decoder.add_instrument("BTCUSDT", 1, 8, 8)
    flags = decoder.feed(BINANCE_TICKER_WITH_BAD_KLINE)
    assert flags == Decoded.ERROR
    assert decoder.errors == 1 and decoder.last_error == "malformed number in kline"
    assert decoder.tickers.write_count == 0 and decoder.candles.write_count == 0


# decoder-bybit: an in-band orderbook snapshot whose bids reach above its asks was loaded and
# served as valid (Bybit sends no checksum, and nothing looked at the crossing)
BYBIT_CROSSED_SNAPSHOT = (
    b'{"topic":"orderbook.50.ETHUSDT","type":"snapshot","ts":1700000000069,"data":{'
    b'"s":"ETHUSDT","b":[["2999.98","0.05934"],["3000.55","0.02184"]],'
    b'"a":[["3000.01","0.5"],["3000.02","1"]],"u":1,"seq":1}}')


@pytest.mark.parametrize("live", [False, True])
def test_a_crossed_bybit_book_is_withdrawn(live: bool) -> None:
    from feedhandler.core.decoder import Decoded
    from feedhandler.exchanges.bybit.decoder import BybitDecoder

    decoder = BybitDecoder(spot=True)
    book = OrderBook(2, 5)
    slot = decoder.add_instrument("ETHUSDT", 3, 2, 5, book)
    decoder.configure_book(slot, 50)
    if live:
        decoder.feed(BYBIT_CROSSED_SNAPSHOT.replace(b'["3000.55","0.02184"]',
                                                    b'["2999.97","0.1"]'))
        decoder.mark_live(slot)
        assert book.valid
    assert decoder.feed(BYBIT_CROSSED_SNAPSHOT) & Decoded.RESYNC
    assert not book.valid and not decoder.snapshot_loaded(slot)
    assert decoder.take_resync() == [(slot, "crossed book after update")]


# private-binance: a balance list whose first entry decodes and whose rest is garbage wrote
# the first row but flagged only ERROR, and the FeedHandler delivers private rows on PRIVATE
# only: the row waited, unreported, for the account's next message
BINANCE_BALANCES_THEN_GARBAGE = (b'{"e":"outboundAccountPosition","E":1700000018007,"u":'
                                 b'1700000018007,"B":[{"a":"ETH","f":"39.99598960","l":'
                                 b'"0.00340000"}' + b"\x00" * 8 + b']}')


def test_rows_written_before_an_error_are_reported_with_it() -> None:
    from feedhandler.exchanges.binance.private import BinancePrivateDecoder

    PRIVATE, ERROR = 128, 32
    decoder = BinancePrivateDecoder()
    assert decoder.feed(BINANCE_BALANCES_THEN_GARBAGE) == PRIVATE | ERROR
    assert decoder.errors == 1 and decoder.balance_updates == 1
    rows = decoder.balances.reader(from_start=True).read()
    assert list(rows.asset) == [b"ETH"] and list(rows.free) == [3999598960]
    assert decoder.feed(b'{"e":"outboundAccountPosition","B":[}') == ERROR   # nothing written


# private-<every venue> (sanitized, UBSan): an order without a client id (or fee asset) has
# that text as (NULL, 0), and put_text passed the NULL to memcpy; only a sanitized replay of
# this input sees the undefined behaviour, this test keeps the input and the row it must give
HTX_CANCEL_WITHOUT_CLIENT_ID = (b'{"action":"push","ch":"orders#ethusdt","data":{"orderId":'
                                b'1040,"type":"buy-8-1040","symbol":"ethusdt","lastAmaet":"0",'
                                b'"orderStatus":"canceled","eventType":"cancellation"}}')


def test_an_order_without_client_id_or_fee_asset_writes_empty_text() -> None:
    from feedhandler.exchanges.htx.private import HtxPrivateDecoder

    decoder = HtxPrivateDecoder()
    decoder.add_instrument("ethusdt", 0, 2, 4)
    assert decoder.feed(HTX_CANCEL_WITHOUT_CLIENT_ID) == 128
    row = decoder.orders.reader(from_start=True).read()
    assert list(row.order_id) == [b"1040"] and list(row.status) == [4]
    assert list(row.client_id) == [b""] and list(row.fee_asset) == [b""]


# private-okx (sanitized, UBSan): a missing comma inside ``arg`` passed iterate_whole (the
# brackets balance) and On-Demand's unordered lookups, which rewind and assume that what they
# walked before was well formed, reached simdjson's unreachable code. Decoders that look
# fields up out of order (OKX, Bybit, Coinbase private) now check the grammar first
OKX_ACCOUNT_WITHOUT_A_COMMA = (b'{"arg":{"channel":"account"1700000039319"","uid":"6144884747'
                               b'91936"},"eventType":"event_update","Xdata":[{"uTime":"1700000'
                               b'000117","totalEq":"0","details":[{"availBal":"499999.","ordFro'
                               b'zen":"0.899922","uTime":"1700000000117","upl":"0"}]}]}')
OKX_ACCOUNT_KEYS_WITHOUT_A_COMMA = (b'{"arg":{"channel":"account""baseInterest","uid":"614488'
                                    b'474791936"},"eventType":"event_update","d2ata":[]}')


@pytest.mark.parametrize("venue", ["okx", "bybit", "coinbase"])
@pytest.mark.parametrize("message", [OKX_ACCOUNT_WITHOUT_A_COMMA,
                                     OKX_ACCOUNT_KEYS_WITHOUT_A_COMMA])
def test_an_unordered_lookup_never_walks_a_broken_message(venue: str, message: bytes) -> None:
    import importlib

    ERROR = 32
    module = importlib.import_module(f"feedhandler.exchanges.{venue}.private")
    decoder = getattr(module, f"{venue.capitalize()}PrivateDecoder")()
    assert decoder.feed(message) == ERROR
    assert decoder.errors == 1 and decoder.last_error == "not JSON"
    assert decoder.order_updates == decoder.balance_updates == 0
