"""BybitDecoder against the payload examples of Bybit's v5 public WebSocket docs, Bybit's book
rules (snapshot, u continuity, u == 1 restart), merged tickers, klines, op replies, garbage,
and hypothesis-generated book streams checked against a plain dict model."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.book import OrderBook
from feedhandler.exchanges.bybit.decoder import BybitDecoder

TRADES, TICKERS, CANDLES, BOOKS, CONTROL, ERROR, RESYNC = 1, 2, 4, 8, 16, 32, 64
LIVE, WAITING = 2, 1

# https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook (response example, the
# snapshot's elided levels left out)
DOC_BOOK_SNAPSHOT = b"""{
    "topic": "orderbook.50.BTCUSDT",
    "type": "snapshot",
    "ts": 1672304484978,
    "data": {
        "s": "BTCUSDT",
        "b": [
            ["16493.50", "0.006"],
            ["16493.00", "0.100"]
        ],
        "a": [
            ["16611.00", "0.029"],
            ["16612.00", "0.213"]
        ],
        "u": 18521288,
        "seq": 7961638724
    },
    "cts": 1672304484976
}"""
DOC_BOOK_DELTA = b"""{
    "topic": "orderbook.50.BTCUSDT",
    "type": "delta",
    "ts": 1672304484978,
    "data": {
        "s": "BTCUSDT",
        "b": [["16493.50", "0"], ["16490.00", "1.250"]],
        "a": [["16611.00", "0.035"]],
        "u": 18521289,
        "seq": 7961638725
    },
    "cts": 1672304484976
}"""
# https://bybit-exchange.github.io/docs/v5/websocket/public/trade (response example)
DOC_TRADE = b"""{
    "topic": "publicTrade.BTCUSDT",
    "type": "snapshot",
    "ts": 1672304486868,
    "data": [
        {
            "T": 1672304486865,
            "s": "BTCUSDT",
            "S": "Buy",
            "v": "0.001",
            "p": "16578.50",
            "L": "PlusTick",
            "i": "20f43950-d8dd-5b31-9112-a178eb6023af",
            "BT": false
        }
    ]
}"""
# https://bybit-exchange.github.io/docs/v5/websocket/public/ticker (linear response example,
# the fields the decoder does not read trimmed)
DOC_LINEAR_TICKER = b"""{
    "topic": "tickers.BTCUSDT",
    "type": "snapshot",
    "data": {
        "symbol": "BTCUSDT",
        "tickDirection": "PlusTick",
        "price24hPcnt": "0.017103",
        "lastPrice": "17216.00",
        "prevPrice24h": "16926.50",
        "highPrice24h": "17281.50",
        "lowPrice24h": "16915.00",
        "markPrice": "17217.33",
        "indexPrice": "17227.36",
        "bid1Price": "17215.50",
        "bid1Size": "84.489",
        "ask1Price": "17216.00",
        "ask1Size": "83.020"
    },
    "cs": 24987956059,
    "ts": 1673272861686
}"""
# the same page: a spot ticker carries no bid or ask
DOC_SPOT_TICKER = b"""{
    "topic": "tickers.BTCUSDT",
    "ts": 1673853746003,
    "type": "snapshot",
    "cs": 2588407389,
    "data": {
        "symbol": "BTCUSDT",
        "lastPrice": "21109.77",
        "highPrice24h": "21426.99",
        "lowPrice24h": "20575",
        "prevPrice24h": "20704.93",
        "volume24h": "6780.866843",
        "turnover24h": "141946527.22907118",
        "price24hPcnt": "0.0196",
        "usdIndexPrice": "21120.2400136"
    }
}"""
# https://bybit-exchange.github.io/docs/v5/websocket/public/kline (response example)
DOC_KLINE = b"""{
    "topic": "kline.5.BTCUSDT",
    "data": [
        {
            "start": 1672324800000,
            "end": 1672325099999,
            "interval": "5",
            "open": "16649.5",
            "close": "16677",
            "high": "16677",
            "low": "16608",
            "volume": "2.081",
            "turnover": "34666.4005",
            "confirm": false,
            "timestamp": 1672324988882
        }
    ],
    "ts": 1672324988882,
    "type": "snapshot"
}"""
# https://bybit-exchange.github.io/docs/v5/ws/connect (subscribe ack, spot and linear pongs)
DOC_ACK = (b'{"success":true,"ret_msg":"","conn_id":"3cd84cb1-4d06-4a05-930a-2efe5fc70f0f",'
           b'"req_id":"","op":"subscribe"}')
DOC_SPOT_PONG = (b'{"success":true,"ret_msg":"pong",'
                 b'"conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}')
DOC_LINEAR_PONG = (b'{"req_id":"100001","op":"pong","args":["1675418560633"],'
                   b'"conn_id":"cfcb4ocsvfriu23r3er0-1b"}')
REFUSED = (b'{"success":false,"ret_msg":"error:handler not found,topic:orderbook.40.BTCUSDT",'
           b'"conn_id":"x","req_id":"7","op":"subscribe"}')


def decoder_with_book(spot: bool = False, depth: int = 50):
    decoder = BybitDecoder(spot=spot)
    book = OrderBook(price_scale=2, size_scale=3)
    slot = decoder.add_instrument("BTCUSDT", 3, 2, 3, book)
    decoder.configure_book(slot, depth)
    return decoder, book, slot


def go_live(decoder: BybitDecoder, slot: int) -> None:
    """What the adapter's sync_book does once a snapshot is loaded."""
    assert decoder.snapshot_loaded(slot)
    decoder.mark_live(slot)
    decoder.replay_pending(slot)


def book_message(kind: str, update: int, bids=(), asks=(), symbol: str = "BTCUSDT",
                 depth: int = 50) -> bytes:
    def side(pairs) -> str:
        return ",".join(f'["{p}","{q}"]' for p, q in pairs)
    return (f'{{"topic":"orderbook.{depth}.{symbol}","type":"{kind}","ts":1672304484978,'
            f'"data":{{"s":"{symbol}","b":[{side(bids)}],"a":[{side(asks)}],"u":{update},'
            f'"seq":1}},"cts":1672304484976}}').encode()


# ---- books --------------------------------------------------------------------------------

def test_doc_snapshot_and_delta_build_the_book() -> None:
    decoder, book, slot = decoder_with_book()
    assert decoder.feed(DOC_BOOK_SNAPSHOT, ts_receive=5) == 0    # loaded, not yet served
    assert decoder.snapshot_loaded(slot) and decoder.snapshot_count(slot) == 1
    assert decoder.sync_state(slot) == WAITING and not book.valid
    go_live(decoder, slot)
    assert book.valid and book.best_bid() == (1649350, 6) and book.best_ask() == (1661100, 29)
    assert book.ts_exchange == 1672304484978_000000 and book.ts_receive == 5
    assert decoder.feed(DOC_BOOK_DELTA) == BOOKS
    assert book.best_bid() == (1649300, 100)                       # 16493.50 deleted
    assert book.levels(0)[0].tolist() == [1649300, 1649000]          # best first
    assert book.best_ask() == (1661100, 35)
    assert decoder.last_update(slot) == 18521289 and book.sequence == 18521289
    assert decoder.errors == 0 and decoder.gaps == 0


def test_a_skipped_update_id_withdraws_the_book() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(DOC_BOOK_SNAPSHOT)
    go_live(decoder, slot)
    assert decoder.feed(book_message("delta", 18521290, bids=[("1.00", "1")])) == RESYNC
    assert not book.valid and decoder.sync_state(slot) == WAITING
    assert decoder.take_resync() == [(slot, "update id 18521290 after 18521288")]
    assert decoder.gaps == 1 and book.best_bid() == (1649350, 6)  # the bad delta not applied


def test_a_repeated_update_id_is_a_gap_too() -> None:
    decoder, _, slot = decoder_with_book()
    decoder.feed(DOC_BOOK_SNAPSHOT)
    go_live(decoder, slot)
    assert decoder.feed(book_message("delta", 18521288)) == RESYNC


def test_u_equal_one_is_a_fresh_snapshot_even_when_typed_delta() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(DOC_BOOK_SNAPSHOT)
    go_live(decoder, slot)
    restart = book_message("delta", 1, bids=[("100.00", "2")], asks=[("101.00", "3")])
    assert decoder.feed(restart) == BOOKS
    assert book.valid and decoder.gaps == 0 and decoder.snapshot_count(slot) == 2
    assert book.levels(0)[0].tolist() == [10000] and book.levels(1)[0].tolist() == [10100]
    assert decoder.feed(book_message("delta", 2, bids=[("99.00", "1")])) == BOOKS


def test_deltas_before_the_snapshot_are_dropped_and_after_it_held_in_order() -> None:
    decoder, book, slot = decoder_with_book()
    assert decoder.feed(book_message("delta", 18521287, bids=[("1.00", "1")])) == 0
    assert decoder.skipped == 1
    decoder.feed(DOC_BOOK_SNAPSHOT)
    decoder.feed_many([DOC_BOOK_DELTA, book_message("delta", 18521290, asks=[("16611.00", "0")])])
    assert len(decoder.pending) == 2 and not book.valid
    go_live(decoder, slot)
    assert book.valid and decoder.last_update(slot) == 18521290
    assert book.best_ask() == (1661200, 213)


def test_a_new_snapshot_discards_deltas_held_for_the_old_one() -> None:
    decoder, _, slot = decoder_with_book()
    decoder.feed_many([DOC_BOOK_SNAPSHOT, DOC_BOOK_DELTA])
    assert len(decoder.pending) == 1
    decoder.feed(book_message("snapshot", 18521300, bids=[("1.00", "1")], asks=[("2.00", "1")]))
    assert decoder.pending == [] and decoder.snapshot_count(slot) == 2


def test_mark_waiting_forgets_a_loaded_snapshot() -> None:
    decoder, _, slot = decoder_with_book()
    decoder.feed(DOC_BOOK_SNAPSHOT)
    decoder.mark_waiting(slot)
    assert not decoder.snapshot_loaded(slot)
    assert decoder.feed(DOC_BOOK_DELTA) == 0 and decoder.skipped == 1


def test_the_book_is_truncated_to_the_subscribed_depth() -> None:
    decoder, book, slot = decoder_with_book(depth=1)
    decoder.feed(DOC_BOOK_SNAPSHOT.replace(b'"orderbook.50.', b'"orderbook.1.'))
    go_live(decoder, slot)
    assert book.levels(0)[0].tolist() == [1649350] and book.levels(1)[0].tolist() == [1661100]


def test_malformed_levels_withdraw_a_live_book() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(DOC_BOOK_SNAPSHOT)
    go_live(decoder, slot)
    bad = DOC_BOOK_DELTA.replace(b'"0.035"', b'"abc"')
    assert decoder.feed(bad) == ERROR | RESYNC
    assert not book.valid and decoder.errors == 1


# ---- tickers --------------------------------------------------------------------------------

def test_doc_linear_ticker_then_partial_deltas_are_merged() -> None:
    decoder = BybitDecoder(spot=False)
    decoder.add_instrument("BTCUSDT", 4, 2, 3)
    assert decoder.feed(DOC_LINEAR_TICKER, ts_receive=9) == TICKERS
    delta = (b'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT",'
             b'"bid1Price":"17215.00","bid1Size":"1.5"},"cs":24987956060,"ts":1673272861700}')
    last_only = (b'{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT",'
                 b'"lastPrice":"17215.50"},"cs":24987956061,"ts":1673272861800}')
    assert decoder.feed_many([delta, last_only]) == TICKERS
    rows = decoder.tickers.reader(from_start=True).read()
    assert rows.instrument.tolist() == [4, 4, 4]
    assert rows.bid_price.tolist() == [1721550, 1721500, 1721500]
    assert rows.bid_size.tolist() == [84489, 1500, 1500]
    assert rows.ask_price.tolist() == [1721600] * 3 and rows.ask_size.tolist() == [83020] * 3
    assert rows.last_price.tolist() == [1721600, 1721600, 1721550]
    assert rows.ts_exchange[0] == 1673272861686_000000 and rows.ts_receive[0] == 9


def test_spot_ticker_takes_its_bid_and_ask_from_orderbook_one() -> None:
    decoder = BybitDecoder(spot=True)
    decoder.add_instrument("BTCUSDT", 1, 2, 6)
    assert decoder.feed(DOC_SPOT_TICKER) == 0          # no bid or ask known yet
    top = book_message("snapshot", 7, bids=[("21109.70", "0.5")], asks=[("21109.80", "1.25")],
                       depth=1)
    assert decoder.feed(top) == TICKERS
    assert decoder.feed(DOC_SPOT_TICKER) == TICKERS
    rows = decoder.tickers.reader(from_start=True).read()
    assert rows.bid_price.tolist() == [2110970] * 2 and rows.ask_price.tolist() == [2110980] * 2
    assert rows.bid_size.tolist() == [500000] * 2 and rows.ask_size.tolist() == [1250000] * 2
    assert rows.last_price.tolist() == [2110977, 2110977]
    one_sided = book_message("snapshot", 8, asks=[("21109.80", "1")], depth=1)
    assert decoder.feed(one_sided) == 0                 # an empty side: nothing to report


def test_on_linear_orderbook_one_is_an_ordinary_book() -> None:
    decoder, book, slot = decoder_with_book(spot=False, depth=1)
    assert decoder.feed(book_message("snapshot", 5, bids=[("1.00", "1")], asks=[("2.00", "1")],
                                     depth=1)) == 0
    go_live(decoder, slot)
    assert book.valid and book.best_bid() == (100, 1000)


# ---- trades, klines, replies --------------------------------------------------------------

def test_doc_trade_lands_in_the_trade_ring_with_its_uuid_hashed() -> None:
    decoder = BybitDecoder(spot=False)
    decoder.add_instrument("BTCUSDT", 2, 2, 3)
    assert decoder.feed(DOC_TRADE, ts_receive=3) == TRADES
    assert decoder.feed(DOC_TRADE) == TRADES
    rows = decoder.trades.reader(from_start=True).read()
    assert rows.price.tolist() == [1657850] * 2 and rows.size.tolist() == [1] * 2
    assert rows.side.tolist() == [1, 1]
    assert rows.ts_exchange[0] == 1672304486865_000000 and rows.ts_receive[0] == 3
    assert rows.trade_id[0] == rows.trade_id[1] > 0


def test_numeric_spot_trade_ids_are_kept_and_sells_are_minus_one() -> None:
    decoder = BybitDecoder(spot=True)
    decoder.add_instrument("BTCUSDT", 2, 2, 3)
    sell = DOC_TRADE.replace(b'"Buy"', b'"Sell"').replace(
        b'"20f43950-d8dd-5b31-9112-a178eb6023af"', b'"2290000000036455162"')
    decoder.feed(sell)
    rows = decoder.trades.reader(from_start=True).read()
    assert rows.trade_id.tolist() == [2290000000036455162] and rows.side.tolist() == [-1]


def test_doc_kline_lands_in_the_candle_ring_open_then_closed() -> None:
    decoder = BybitDecoder(spot=False)
    decoder.add_instrument("BTCUSDT", 6, 1, 3)
    assert decoder.feed(DOC_KLINE, ts_receive=4) == CANDLES
    assert decoder.feed(DOC_KLINE.replace(b'"confirm": false', b'"confirm": true')) == CANDLES
    rows = decoder.candles.reader(from_start=True).read()
    assert rows.interval.tolist() == [300, 300] and rows.closed.tolist() == [0, 1]
    assert rows.open_time[0] == 1672324800000_000000
    assert (rows.open[0], rows.high[0], rows.low[0], rows.close[0]) == (166495, 166770, 166080,
                                                                        166770)
    assert rows.volume[0] == 2081 and rows.ts_exchange[0] == 1672324988882_000000


@pytest.mark.parametrize(("interval", "seconds"), [("1", 60), ("720", 43200), ("D", 86400),
                                                   ("W", 604800), ("M", 2592000)])
def test_every_kline_interval_has_its_length(interval: str, seconds: int) -> None:
    decoder = BybitDecoder()
    decoder.add_instrument("BTCUSDT", 6, 1, 3)
    decoder.feed(DOC_KLINE.replace(b'"5"', f'"{interval}"'.encode()))
    assert decoder.candles.reader(from_start=True).read().interval.tolist() == [seconds]


def test_acks_and_errors_go_to_python_and_pongs_do_not() -> None:
    decoder = BybitDecoder()
    assert decoder.feed_many([DOC_SPOT_PONG, DOC_LINEAR_PONG]) == 0
    assert decoder.feed(DOC_ACK) == CONTROL and decoder.feed(REFUSED) == CONTROL
    assert decoder.take_control() == [DOC_ACK, REFUSED]


def test_unknown_topics_and_symbols_are_counted_and_skipped() -> None:
    decoder, _, _ = decoder_with_book()
    assert decoder.feed(b'{"topic":"liquidation.BTCUSDT","type":"snapshot","data":{}}') == 0
    assert decoder.feed(DOC_TRADE.replace(b"BTCUSDT", b"ETHUSDT")) == 0
    assert decoder.feed(b'{"success":true}') == 0
    assert decoder.unknown == 3 and decoder.errors == 0


@pytest.mark.parametrize("payload", [
    b"", b"not json", b"[1,2]", b'{"topic":5}', b'{"topic":"orderbook"}',
    b'{"topic":"publicTrade.BTCUSDT","type":"snapshot"}',
    b'{"topic":"publicTrade.BTCUSDT","data":[1]}',
    b'{"topic":"publicTrade.BTCUSDT","data":[{"p":"x","v":"1"}]}',
    b'{"topic":"publicTrade.BTCUSDT","data":[{"p":"1"}]}',
    b'{"topic":"kline.5.BTCUSDT","data":[{"start":1,"interval":"7x"}]}',
    b'{"topic":"tickers.BTCUSDT","ts":"now","data":{}}',
    b'{"topic":"tickers.BTCUSDT","data":{"bid1Price":"1.2.3"}}',
    b'{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"b":[]}}',
    b'{"topic":"orderbook.50.BTCUSDT","data":{"u":3}}',
    b'{"op":7}',
])
def test_malformed_messages_fail_without_raising(payload: bytes) -> None:
    decoder, _, _ = decoder_with_book()
    assert decoder.feed(payload) & ERROR
    assert decoder.errors == 1 and decoder.last_error


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_nor_change_a_live_book(payload: bytes) -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(DOC_BOOK_SNAPSHOT)
    go_live(decoder, slot)
    decoder.feed(payload)
    assert not book.valid or (book.best_bid(), book.best_ask()) == ((1649350, 6), (1661100, 29))


# ---- generated streams against a model book -----------------------------------------------

LEVEL = st.tuples(st.booleans(), st.integers(1, 40), st.integers(0, 5))
"""(is bid, price in cents above 100.00 for asks / below for bids, size; 0 deletes)."""


def render(levels) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    bids = [(f"{100 - price / 100:.2f}", f"{size}.000") for is_bid, price, size in levels
            if is_bid]
    asks = [(f"{100 + price / 100:.2f}", f"{size}.000") for is_bid, price, size in levels
            if not is_bid]
    return bids, asks


def apply(model: dict[bool, dict[int, int]], levels, snapshot: bool) -> None:
    if snapshot:
        model[True].clear()
        model[False].clear()
    for is_bid, price, size in levels:
        key = 10000 - price if is_bid else 10000 + price
        if size:
            model[is_bid][key] = size * 1000
        else:
            model[is_bid].pop(key, None)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["delta", "delta", "delta", "snapshot", "gap"]),
                          st.lists(LEVEL, max_size=6)), min_size=1, max_size=30))
def test_generated_streams_match_a_model_book(steps) -> None:
    """Snapshots replace, deltas apply in u order, a skipped u withdraws the book until the next
    snapshot: whenever the book is served it equals the model."""
    decoder, book, slot = decoder_with_book(depth=1000)
    model: dict[bool, dict[int, int]] = {True: {}, False: {}}
    decoder.feed(book_message("snapshot", 10, depth=1000))
    go_live(decoder, slot)
    update, in_sync = 10, True
    for kind, levels in steps:
        update += 2 if kind == "gap" else 1
        bids, asks = render(levels)
        flags = decoder.feed(book_message("snapshot" if kind == "snapshot" else "delta", update,
                                          bids, asks, depth=1000))
        if kind == "snapshot":
            apply(model, levels, True)
            in_sync = True
            if decoder.sync_state(slot) != LIVE:
                go_live(decoder, slot)
        elif kind == "gap" and in_sync:
            assert flags & RESYNC
            in_sync = False
        elif in_sync:
            apply(model, levels, False)
        assert book.valid == in_sync
        if in_sync:
            bid_prices, bid_sizes = book.levels(0)
            ask_prices, ask_sizes = book.levels(1)
            assert dict(zip(bid_prices.tolist(), bid_sizes.tolist(), strict=True)) == model[True]
            assert dict(zip(ask_prices.tolist(), ask_sizes.tolist(), strict=True)) == model[False]


def test_the_model_test_renders_levels_on_the_price_grid() -> None:
    bids, asks = render([(True, 1, 2), (False, 40, 0)])
    assert bids == [("99.99", "2.000")] and asks == [("100.40", "0.000")]
    assert json.loads(book_message("delta", 3, bids, asks))["data"]["u"] == 3
