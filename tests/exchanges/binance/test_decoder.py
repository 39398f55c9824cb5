"""BinanceDecoder against the payload examples of Binance's docs, sequence rules, garbage."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import DecodeError
from feedhandler.exchanges.binance.decoder import BinanceDecoder

TRADES, TICKERS, CANDLES, BOOKS, CONTROL, ERROR, RESYNC = 1, 2, 4, 8, 16, 32, 64

# verbatim from Binance's "WebSocket Streams" documentation
DOC_TRADE = (b'{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100",'
             b'"T":1672515782136,"m":true,"M":true}')
DOC_AGG_TRADE = (b'{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001",'
                 b'"q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}')
DOC_BOOK_TICKER = (b'{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000",'
                   b'"a":"25.36520000","A":"40.66000000"}')
DOC_KLINE = (b'{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,'
             b'"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010",'
             b'"c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,'
             b'"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}')
DOC_DEPTH = (b'{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,'
             b'"b":[["0.0024","10"]],"a":[["0.0026","100"]]}')


def decoder_with_book(futures: bool = False, symbol: str = "BNBBTC"):
    decoder = BinanceDecoder(futures=futures)
    book = OrderBook(8, 8)
    slot = decoder.add_instrument(symbol, 3, 8, 8, book)
    return decoder, book, slot


def snapshot(last_update: int, bids, asks) -> bytes:
    return json.dumps({"lastUpdateId": last_update, "bids": bids, "asks": asks}).encode()


def depth(first: int, last: int, bids=(), asks=(), previous=None, symbol="BNBBTC") -> bytes:
    event = {"e": "depthUpdate", "E": 1, "s": symbol, "U": first, "u": last}
    if previous is not None:
        event["pu"] = previous  # Binance sends pu before the levels
    event["b"] = [list(level) for level in bids]
    event["a"] = [list(level) for level in asks]
    return json.dumps(event).encode()


def test_doc_trade_lands_in_the_trade_ring() -> None:
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 3, 8, 8)
    assert decoder.feed(DOC_TRADE, ts_receive=99) == TRADES
    row = decoder.trades.reader(from_start=True).read()
    assert row.instrument.tolist() == [3]
    assert row.price.tolist() == [100_000] and row.size.tolist() == [10_000_000_000]
    assert row.side.tolist() == [-1]  # buyer is maker: the taker sold
    assert row.trade_id.tolist() == [12345]
    assert row.ts_exchange.tolist() == [1672515782136 * 1_000_000]
    assert row.ts_receive.tolist() == [99]


def test_doc_agg_trade_uses_the_aggregate_id() -> None:
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 3, 8, 8)
    assert decoder.feed(DOC_AGG_TRADE) == TRADES
    assert decoder.trades.reader(from_start=True).read().trade_id.tolist() == [12345]


def test_doc_book_ticker_without_event_type() -> None:
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBUSDT", 4, 8, 8)
    assert decoder.feed(DOC_BOOK_TICKER) == TICKERS
    row = decoder.tickers.reader(from_start=True).read()
    assert (row.bid_price[0], row.bid_size[0]) == (2_535_190_000, 3_121_000_000)
    assert (row.ask_price[0], row.ask_size[0]) == (2_536_520_000, 4_066_000_000)


def test_doc_kline() -> None:
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 3, 8, 8)
    assert decoder.feed(DOC_KLINE) == CANDLES
    row = decoder.candles.reader(from_start=True).read()
    assert row.interval.tolist() == [60]
    assert row.open_time.tolist() == [1672515780000 * 1_000_000]
    assert (row.open[0], row.high[0], row.low[0], row.close[0]) == (
        100_000, 250_000, 150_000, 200_000)
    assert row.volume.tolist() == [100_000_000_000] and row.closed.tolist() == [0]


def test_combined_stream_wrapper() -> None:
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 3, 8, 8)
    wrapped = b'{"stream":"bnbbtc@trade","data":' + DOC_TRADE + b"}"
    assert decoder.feed(wrapped) == TRADES


def test_acks_and_errors_go_to_python() -> None:
    decoder = BinanceDecoder()
    assert decoder.feed(b'{"result":null,"id":1}') == CONTROL
    assert decoder.feed(b'{"error":{"code":2,"msg":"Invalid request"},"id":2}') == CONTROL
    assert decoder.take_control() == [
        b'{"result":null,"id":1}', b'{"error":{"code":2,"msg":"Invalid request"},"id":2}']


def test_spot_sync_buffers_until_snapshot_then_applies_the_rules() -> None:
    decoder, book, slot = decoder_with_book()
    assert not book.valid
    assert decoder.feed(depth(150, 155, bids=[("0.0020", "1")])) == 0  # held
    assert decoder.feed(DOC_DEPTH) == 0  # held
    decoder.apply_snapshot(slot, snapshot(158, [["0.0023", "5"]], [["0.0027", "1"]]))
    assert book.valid
    flags = decoder.replay_pending(slot)
    assert flags == BOOKS
    # 150..155 was stale (u <= 158), 157..160 straddles 159 and applies
    assert book.best_bid() == (240_000, 1_000_000_000)
    assert book.best_ask() == (260_000, 10_000_000_000)
    assert book.sequence == 160
    assert decoder.feed(depth(161, 163, asks=[("0.0026", "0")])) == BOOKS
    assert book.best_ask() == (270_000, 100_000_000)
    assert decoder.take_dirty() == [slot]


def test_spot_gap_withdraws_the_book_and_asks_for_resync() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(160, [["0.0023", "5"]], [["0.0027", "1"]]))
    assert decoder.feed(depth(161, 161, bids=[("0.0024", "1")])) == BOOKS
    assert decoder.feed(depth(163, 165, bids=[("0.0025", "1")])) == RESYNC
    assert not book.valid
    assert book.best_bid() == (240_000, 100_000_000)  # the gapped update was not applied
    assert decoder.take_resync() == [(slot, "U 163 != previous u 161 + 1")]
    assert decoder.stats()["gaps"] == 1
    # while resyncing, updates are held rather than applied
    assert decoder.feed(depth(166, 166, bids=[("0.0026", "1")])) == 0
    assert len(decoder.pending) == 1


def test_snapshot_older_than_the_first_update_is_a_gap() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(depth(170, 175))
    decoder.apply_snapshot(slot, snapshot(160, [["0.0023", "5"]], [["0.0027", "1"]]))
    assert decoder.replay_pending(slot) == RESYNC
    assert not book.valid


def test_futures_chain_on_pu() -> None:
    decoder, book, slot = decoder_with_book(futures=True, symbol="BTCUSDT")
    decoder.apply_snapshot(slot, snapshot(100, [["100.0", "1"]], [["101.0", "1"]]))
    assert decoder.feed(depth(90, 99, previous=89, symbol="BTCUSDT")) == 0  # u < lastUpdateId
    assert decoder.feed(depth(95, 105, bids=[("100.5", "2")], previous=94,
                              symbol="BTCUSDT")) == BOOKS
    assert decoder.feed(depth(106, 110, bids=[("100.6", "2")], previous=105,
                              symbol="BTCUSDT")) == BOOKS
    assert book.best_bid() == (10_060_000_000, 200_000_000)
    assert decoder.feed(depth(112, 115, previous=111, symbol="BTCUSDT")) == RESYNC
    assert decoder.take_resync()[0][1] == "pu 111 != previous u 110"


def test_crossed_result_is_never_served() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(1, [["0.0023", "5"]], [["0.0027", "1"]]))
    assert decoder.feed(depth(2, 2, bids=[("0.0030", "1")])) == RESYNC
    assert not book.valid
    assert decoder.take_resync() == [(slot, "crossed book after update")]


def test_server_shutdown_goes_to_the_adapter_raw_or_combined() -> None:
    decoder = BinanceDecoder(futures=True)
    raw = b'{"e":"serverShutdown","E":1778198400000}'
    combined = b'{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1778198400000}}'
    assert decoder.feed(raw) == CONTROL and decoder.feed(combined) == CONTROL
    assert decoder.take_control() == [raw, combined]
    assert decoder.stats()["unknown"] == 0 and decoder.stats()["errors"] == 0


def test_unknown_symbols_and_events_are_counted_and_skipped() -> None:
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 3, 8, 8)
    assert decoder.feed(DOC_TRADE.replace(b"BNBBTC", b"ETHBTC")) == 0
    assert decoder.feed(b'{"e":"outboundAccountPosition","E":1}') == 0
    assert decoder.stats()["unknown"] == 2
    assert decoder.stats()["errors"] == 0


@pytest.mark.parametrize(
    "garbage",
    [
        b"", b"{", b"[]", b"null", b"not json", b'{"e":"trade"', b"\xff\xfe\x00",
        b'{"e":"trade","s":"BNBBTC","p":"abc","q":"1"}',
        b'{"e":"trade","s":"BNBBTC","p":1e400,"q":"1"}',
        b'{"e":"depthUpdate","s":"BNBBTC","U":1,"u":2,"b":[["1"]],"a":[]}',
        b'{"e":"depthUpdate","s":"BNBBTC","U":1,"u":2,"b":"x","a":[]}',
        b'{"e":"kline","s":"BNBBTC","k":{"i":"7q","o":"1"}}',
        b'{"stream":"x"}',
        b'{"e":5}',
    ],
)
def test_malformed_messages_are_errors_not_crashes(garbage: bytes) -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(1, [["0.0023", "5"]], [["0.0027", "1"]]))
    before = (book.best_bid(), book.best_ask())
    flags = decoder.feed(garbage)
    assert flags & ERROR or flags == 0
    assert decoder.stats()["errors"] + decoder.stats()["unknown"] >= 1
    if flags & ERROR:
        assert decoder.last_error
    if book.valid:
        assert (book.best_bid(), book.best_ask()) == before


def test_a_malformed_level_midway_withdraws_the_book() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(1, [["0.0023", "5"]], [["0.0027", "1"]]))
    flags = decoder.feed(b'{"e":"depthUpdate","E":1,"s":"BNBBTC","U":2,"u":2,'
                         b'"b":[["0.0021","1"],["bad","1"]],"a":[]}')
    assert flags & ERROR and flags & RESYNC
    assert not book.valid


def test_a_trade_past_its_scale_is_rounded_half_even_and_flagged_not_dropped() -> None:
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 3, 8, 8)
    reader = decoder.trades.reader()
    flags = decoder.feed(b'{"e":"trade","E":1,"s":"BNBBTC","t":1,"p":"1.123456785",'
                         b'"q":"0.000000015","T":1,"m":true}')
    assert flags & TRADES and not flags & ERROR
    rows = reader.read()
    assert rows.price.tolist() == [112345678] and rows.size.tolist() == [2]    # ties to even
    assert rows.inexact.tolist() == [1]
    decoder.feed(DOC_TRADE)                 # the next row is exact again
    assert reader.read().inexact.tolist() == [0]


def test_a_book_price_past_its_scale_withdraws_the_book_and_a_size_is_rounded() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(1, [["0.0023", "5"]], [["0.0027", "1"]]))
    decoder.mark_live(slot)
    assert decoder.feed(depth(2, 2, bids=[("0.0021", "1.000000005")])) & BOOKS
    assert book.top(0, 2)[1].tolist() == [500000000, 100000000]     # 1.00000000|5 -> even
    flags = decoder.feed(depth(3, 3, bids=[("0.002100001", "1")]))   # a key cannot be rounded
    assert flags & ERROR and flags & RESYNC
    assert not book.valid


def test_bad_snapshot_raises_and_leaves_the_book_unsynced() -> None:
    decoder, book, slot = decoder_with_book()
    for bad in (b"nope", b'{"bids":[],"asks":[]}',
                b'{"lastUpdateId":1,"bids":[["x","1"]],"asks":[]}'):
        with pytest.raises(DecodeError):
            decoder.apply_snapshot(slot, bad)
        assert not book.valid
        assert book.best_bid() is None


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(raw: bytes) -> None:
    decoder, _book, _slot = decoder_with_book()
    decoder.feed(raw)
    assert decoder.stats()["messages"] == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from([*list("eEsUubaptqTmkB"), "pu", "stream", "data", "x"]),
                      children, max_size=8),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.sampled_from(["e", "E", "s", "U", "u", "b", "a", "p", "q", "k", "pu"]),
                       json_values, max_size=9))
def test_structured_garbage_never_corrupts_a_live_book(event: dict) -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(1, [["0.0023", "5"]], [["0.0027", "1"]]))
    event.setdefault("s", "BNBBTC")
    decoder.feed(json.dumps(event).encode())
    if book.valid:
        assert not book.is_crossed
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid[0] < ask[0]


def test_futures_first_update_may_start_right_after_the_snapshot() -> None:
    decoder, book, slot = decoder_with_book(futures=True, symbol="BTCUSDT")
    decoder.apply_snapshot(slot, snapshot(100, [["100.0", "1"]], [["101.0", "1"]]))
    assert decoder.feed(depth(101, 104, bids=[("100.5", "2")], previous=100,
                              symbol="BTCUSDT")) == BOOKS
    assert book.valid and book.sequence == 104


def test_updates_held_for_several_books_stay_with_their_own_book() -> None:
    decoder = BinanceDecoder()
    books = [OrderBook(8, 8), OrderBook(8, 8)]
    slots = [decoder.add_instrument(s, i, 8, 8, b)
             for i, (s, b) in enumerate(zip(["AAA", "BBB"], books, strict=True))]
    decoder.feed(depth(10, 11, symbol="AAA"))
    decoder.feed(depth(20, 21, symbol="BBB"))
    decoder.feed(depth(12, 13, symbol="AAA"))
    assert len(decoder.take_pending(slots[0])) == 2
    assert decoder.take_pending(slots[1]) == [depth(20, 21, symbol="BBB")]
    assert decoder.pending == []
