"""HtxDecoder against the payload examples of HTX's spot WebSocket docs
(https://huobiapi.github.io/docs/spot/v1/en/#websocket-market-data), HTX's mbp sync rules,
kline closing, control messages, garbage, and hypothesis-generated update streams checked
against a model book."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.book import ASK, BID, OrderBook
from feedhandler.exchanges.htx.decoder import HtxDecoder

TRADES, TICKERS, CANDLES, BOOKS, CONTROL, ERROR, RESYNC = 1, 2, 4, 8, 16, 32, 64
INEXACT = 256
LIVE, WAITING = 2, 1

# the docs' examples, as the docs print them (comments dropped)
DOC_MBP_SNAPSHOT = b"""{
    "id": "id2",
    "rep": "market.btcusdt.mbp.150",
    "status": "ok",
    "data": {
        "seqNum": 100020142010,
        "bids": [
            [618.37, 71.594],
            [423.33, 77.726],
            [223.18, 47.997],
            [219.34, 24.82],
            [210.34, 94.463]
        ],
        "asks": [
            [650.59, 14.909733438479636],
            [650.63, 97.996],
            [650.77, 97.465],
            [651.23, 83.973],
            [651.42, 34.465]
        ]
    }
}"""
DOC_MBP_UPDATE = b"""{
    "ch": "market.btcusdt.mbp.150",
    "ts": 1573199608679,
    "tick": {
        "seqNum": 100020146795,
        "prevSeqNum": 100020146794,
        "asks": [
            [645.140000000000000000, 26.755973959140651643]
        ]
    }
}"""
DOC_TRADE = b"""{
  "ch": "market.btcusdt.trade.detail",
  "ts": 1630994963175,
  "tick": {
    "id": 137005445109,
    "ts": 1630994963173,
    "data": [
      {
        "id": 1.3700544510935929e+26,
        "ts": 1630994963173,
        "tradeId": 102523573486,
        "amount": 0.006754,
        "price": 52648.62,
        "direction": "buy"
      }
    ]
  }
}"""
DOC_BBO = b"""{
  "ch": "market.btcusdt.bbo",
  "ts": 1630994555540,
  "tick": {
    "seqId": 137005092174,
    "ask": 52665.69,
    "askSize": 1.502181,
    "bid": 52665.68,
    "bidSize": 1.09623,
    "quoteTime": 1630994555539,
    "symbol": "btcusdt"
  }
}"""
DOC_KLINE = b"""{
  "ch": "market.btcusdt.kline.1min",
  "ts": 1489474082831,
  "tick": {
    "id": 1489464480,
    "amount": 0.0,
    "count": 0,
    "open": 7962.62,
    "close": 7962.62,
    "low": 7962.62,
    "high": 7962.62,
    "vol": 0.0
  }
}"""
DOC_SUBBED = b'{"id":"id1","status":"ok","subbed":"market.btcusdt.kline.1min","ts":1489474081631}'
DOC_UNSUBBED = (b'{"id":"id4","status":"ok","unsubbed":"market.btcusdt.trade.detail",'
                b'"ts":1494326028889}')
DOC_ERROR = (b'{"id":"id2","status":"error","err-code":"bad-request",'
             b'"err-msg":"invalid topic market.invalidsymbol.kline.1min","ts":1494301904959}')
DOC_PING = b'{"ping":1492420473027}'


def decoder_with_book(scales=(8, 8), depth: int = 0) -> tuple[HtxDecoder, OrderBook, int]:
    decoder = HtxDecoder()
    book = OrderBook(*scales, depth_limit=depth)
    slot = decoder.add_instrument("btcusdt", 3, *scales, book)
    return decoder, book, slot


def levels(pairs) -> str:
    return ",".join(f"[{p},{s}]" for p, s in pairs)


def snapshot(seq: int, bids, asks, symbol: str = "btcusdt") -> bytes:
    return (f'{{"id":"id9","rep":"market.{symbol}.mbp.150","status":"ok","data":{{'
            f'"seqNum":{seq},"bids":[{levels(bids)}],"asks":[{levels(asks)}]}}}}').encode()


def update(seq: int, prev: int, bids=(), asks=(), symbol: str = "btcusdt") -> bytes:
    return (f'{{"ch":"market.{symbol}.mbp.150","ts":1573199608679,"tick":{{"seqNum":{seq},'
            f'"prevSeqNum":{prev},"bids":[{levels(bids)}],"asks":[{levels(asks)}]}}}}').encode()


def go_live(decoder: HtxDecoder, slot: int) -> int:
    """What the adapter's sync_book does once the snapshot is loaded."""
    decoder.mark_live(slot)
    return decoder.replay_pending(slot)


def side(book: OrderBook, which: int) -> dict[int, int]:
    prices, sizes = book.levels(which)
    return dict(zip(prices.tolist(), sizes.tolist(), strict=True))


# ---- mbp books -------------------------------------------------------------------------------

def test_doc_snapshot_loads_exactly_at_a_scale_that_holds_its_digits() -> None:
    decoder, book, slot = decoder_with_book(scales=(2, 15))
    assert decoder.feed(DOC_MBP_SNAPSHOT) == BOOKS
    assert decoder.snapshot_count(slot) == 1 and book.sequence == 100020142010
    assert side(book, BID)[61837] == 71594 * 10**12
    assert side(book, ASK)[65059] == 14909733438479636
    assert book.best_bid() == (61837, 71594 * 10**12) and book.ask_count == 5
    assert decoder.sync_state(slot) == WAITING and not book.valid   # live only once synced


def test_doc_sizes_past_the_scale_are_rounded_half_even_and_flagged() -> None:
    decoder, book, slot = decoder_with_book()
    assert decoder.feed(DOC_MBP_SNAPSHOT) == BOOKS | INEXACT
    assert decoder.snapshot_count(slot) == 1
    assert side(book, ASK)[65059 * 10**6] == 1490973344           # 14.909733438|479636
    decoder.feed(snapshot(100020146794, [(618.37, 1)], [(650.59, 2)]))
    go_live(decoder, slot)
    # 26.755973959140651643 has 18 decimals: rounded to 8; the price's zeros are exact
    assert decoder.feed(DOC_MBP_UPDATE) == BOOKS | INEXACT
    assert side(book, ASK)[64514 * 10**6] == 2675597396 and book.valid


def test_a_book_price_past_the_scale_is_never_rounded_into_a_key() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(snapshot(100020146794, [(618.37, 1)], [(650.59, 2)]))
    go_live(decoder, slot)
    update = DOC_MBP_UPDATE.replace(b"645.140000000000000000", b"645.140000001")
    assert decoder.feed(update) == ERROR | RESYNC
    assert not book.valid and decoder.take_resync()[0][0] == slot


def test_float_printed_trade_amounts_decode_rounded_and_flagged() -> None:
    """HTX prints amounts from doubles: real trades carry 17 significant digits."""
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 4, 2, 8)
    reader = decoder.trades.reader()
    float_trade = DOC_TRADE.replace(b"0.006754", b"338177.27271633345")
    assert decoder.feed(float_trade) == TRADES | INEXACT
    assert decoder.feed(DOC_TRADE) == TRADES
    rows = reader.read()
    assert rows.size.tolist() == [33817727271633, 675400]
    assert rows.inexact.tolist() == [1, 0] and rows.price.tolist() == [5264862] * 2


def test_updates_are_held_until_the_snapshot_then_stale_ones_dropped() -> None:
    decoder, book, slot = decoder_with_book()
    assert decoder.feed_many([update(10, 8, bids=[(100, 1)]),
                              update(12, 10, bids=[(100, 2)]),
                              update(15, 12, asks=[(101, 5)])]) == 0
    assert len(decoder.pending) == 3 and len(book) == 0
    decoder.feed(snapshot(11, [(100, 1), (99, 4)], [(102, 3)]))
    assert decoder.snapshot_count(slot) == 1
    assert go_live(decoder, slot) == BOOKS
    assert decoder.stale == 1          # seqNum 10 <= 11; 12 contains 11 and applies
    assert side(book, BID) == {10000000000: 200000000, 9900000000: 400000000}
    assert side(book, ASK) == {10100000000: 500000000, 10200000000: 300000000}
    assert book.sequence == 15 and book.valid and decoder.gaps == 0


def test_first_update_must_reach_back_to_the_snapshot() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed_many([update(20, 18, bids=[(100, 1)])])
    decoder.feed(snapshot(15, [(100, 1)], [(102, 3)]))
    assert go_live(decoder, slot) == RESYNC          # 16..18 are missing
    assert decoder.gaps == 1 and not book.valid
    assert "past the snapshot" in decoder.take_resync()[0][1]


def test_a_broken_chain_withdraws_the_book_and_holds_updates_again() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(snapshot(5, [(100, 1)], [(102, 3)]))
    go_live(decoder, slot)
    assert decoder.feed(update(6, 5, bids=[(100, 0)], asks=[(101, 1)])) == BOOKS
    assert side(book, BID) == {} and book.valid
    assert decoder.feed(update(9, 7, bids=[(99, 1)])) == RESYNC
    assert decoder.take_resync() == [(slot, "prevSeqNum 7 != previous seqNum 6")]
    assert decoder.sync_state(slot) == WAITING and not book.valid
    assert decoder.feed(update(10, 9)) == 0 and len(decoder.pending) == 1


def test_a_late_snapshot_for_a_live_book_is_ignored() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(snapshot(5, [(100, 1)], [(102, 3)]))
    go_live(decoder, slot)
    assert decoder.feed(snapshot(4, [(1, 1)], [(2, 3)])) == 0
    assert decoder.stale == 1 and book.best_bid() == (10000000000, 100000000)


def test_a_side_left_out_of_an_update_is_unchanged_and_depth_is_kept() -> None:
    decoder, book, slot = decoder_with_book(depth=5)
    decoder.feed(snapshot(1, [(100 - i, 1) for i in range(6)], [(102, 3)]))
    assert book.bid_count == 5
    go_live(decoder, slot)
    message = b'{"ch":"market.btcusdt.mbp.5","ts":1,"tick":{"seqNum":2,"prevSeqNum":1,' \
              b'"asks":[[101,2]]}}'
    assert decoder.feed(message) == BOOKS
    assert book.bid_count == 5 and book.best_ask() == (10100000000, 200000000)


def test_crossing_update_withdraws_the_book() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(snapshot(1, [(100, 1)], [(102, 3)]))
    go_live(decoder, slot)
    assert decoder.feed(update(2, 1, bids=[(103, 1)])) == RESYNC and not book.valid


def test_mbp_for_a_symbol_without_a_book_is_skipped() -> None:
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 1, 8, 8)
    assert decoder.feed(update(2, 1, bids=[(1, 1)])) == 0 and decoder.pending == []
    assert decoder.feed(snapshot(1, [], [])) == 0 and decoder.unknown == 1


# ---- trades, bbo, klines ------------------------------------------------------------------

def test_doc_trade_lands_in_the_trade_ring_by_trade_id() -> None:
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 4, 2, 6)
    assert decoder.feed(DOC_TRADE, ts_receive=9) == TRADES
    row = decoder.trades.reader(from_start=True).read()
    assert row.instrument.tolist() == [4] and row.trade_id.tolist() == [102523573486]
    assert row.price.tolist() == [5264862] and row.size.tolist() == [6754]
    assert row.side.tolist() == [1] and row.ts_exchange.tolist() == [1630994963173 * 10**6]
    assert row.ts_receive.tolist() == [9]


def test_doc_bbo_lands_in_the_ticker_ring() -> None:
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 4, 2, 6)
    assert decoder.feed(DOC_BBO) == TICKERS
    row = decoder.tickers.reader(from_start=True).read()
    assert (row.bid_price[0], row.bid_size[0]) == (5266568, 1096230)
    assert (row.ask_price[0], row.ask_size[0]) == (5266569, 1502181)
    assert row.ts_exchange[0] == 1630994555539 * 10**6 and row.last_price[0] == 0


def kline(open_seconds: int, close: str, amount: str = "1.5") -> bytes:
    return (f'{{"ch":"market.btcusdt.kline.5min","ts":1,"tick":{{"id":{open_seconds},'
            f'"open":10,"close":{close},"low":9,"high":12,"amount":{amount},"vol":15,'
            f'"count":3}}}}').encode()


def test_doc_kline_is_an_open_candle() -> None:
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 4, 2, 6)
    assert decoder.feed(DOC_KLINE) == CANDLES
    row = decoder.candles.reader(from_start=True).read()
    assert row.open_time.tolist() == [1489464480 * 10**9] and row.interval.tolist() == [60]
    assert row.open.tolist() == [796262] and row.volume.tolist() == [0]
    assert row.closed.tolist() == [0] and row.ts_exchange.tolist() == [1489474082831 * 10**6]


def test_a_later_kline_closes_the_previous_one_with_its_last_values() -> None:
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 4, 2, 6)
    decoder.feed_many([kline(600, "11"), kline(600, "11.5"), kline(900, "12"),
                       kline(600, "13")])
    rows = decoder.candles.reader(from_start=True).read()
    assert rows.open_time.tolist() == [t * 10**9 for t in (600, 600, 600, 900, 600)]
    assert rows.closed.tolist() == [0, 0, 1, 0, 1]
    assert rows.close.tolist() == [1100, 1150, 1150, 1200, 1300]
    assert rows.interval.tolist() == [300] * 5


def test_a_kline_amount_beyond_the_scale_is_rounded_not_refused() -> None:
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 4, 2, 6)
    assert decoder.feed(kline(600, "11", "25.634560123456789")) == CANDLES | INEXACT
    rows = decoder.candles.reader(from_start=True).read()
    assert rows.volume.tolist() == [25634560] and rows.inexact.tolist() == [1]


# ---- control, unknown, garbage ------------------------------------------------------------

def test_pings_acks_errors_and_other_replies_go_to_python() -> None:
    decoder = HtxDecoder()
    messages = [DOC_PING, DOC_SUBBED, DOC_UNSUBBED, DOC_ERROR,
                b'{"id":"id7","rep":"market.btcusdt.kline.1min","status":"ok","data":[]}']
    for message in messages:
        assert decoder.feed(message) == CONTROL
    assert decoder.take_control() == messages


def test_unknown_topics_and_symbols_are_counted_and_skipped() -> None:
    decoder = HtxDecoder()
    decoder.add_instrument("btcusdt", 1, 8, 8)
    for message in (b'{"ch":"market.btcusdt.detail","ts":1,"tick":{}}',
                    DOC_TRADE.replace(b"btcusdt", b"ethusdt"), b'{"action":"push"}'):
        assert decoder.feed(message) == 0
    assert decoder.unknown == 3 and decoder.errors == 0


@pytest.mark.parametrize("payload", [
    b"", b"[]", b"{", b'{"ch":5}', b'{"ch":"btcusdt.bbo","ts":1,"tick":{}}',
    b'{"ch":"market.btcusdt.kline.2min","ts":1,"tick":{}}',
    b'{"ch":"market.btcusdt.bbo","tick":{"bid":1,"ask":2}}',
    b'{"ch":"market.btcusdt.bbo","ts":1,"tick":[]}',
    b'{"ch":"market.btcusdt.bbo","ts":1,"tick":{"bid":"x","ask":2}}',
    b'{"ch":"market.btcusdt.trade.detail","ts":1,"tick":{"data":[{"price":1}]}}',
    b'{"ch":"market.btcusdt.trade.detail","ts":1,"tick":{"data":[7]}}',
    b'{"ch":"market.btcusdt.kline.1min","ts":1,"tick":{"open":1,"close":1}}',
    b'{"rep":7}', b'{"id":"id9","rep":"market.btcusdt.mbp.150","status":"ok"}',
])
def test_malformed_messages_fail_without_raising(payload: bytes) -> None:
    decoder = decoder_with_book()[0]
    assert decoder.feed(payload) == ERROR
    assert decoder.errors == 1 and decoder.last_error


def test_malformed_snapshot_leaves_the_book_empty_and_waiting() -> None:
    decoder, book, slot = decoder_with_book()
    assert decoder.feed(snapshot(3, [(100, 1)], [("x", 1)])) == ERROR
    assert len(book) == 0 and decoder.snapshot_count(slot) == 0
    assert decoder.sync_state(slot) == WAITING


# ---- generated streams against a model book -----------------------------------------------

LEVEL = st.tuples(st.sampled_from([BID, ASK]), st.integers(1, 12), st.integers(0, 5))


@st.composite
def streams(draw):
    """A snapshot position, then updates with random seqNum steps, each chained to the last;
    bids live on prices 1..12 and asks on 13..24 so the book never crosses."""
    changes = draw(st.lists(st.lists(LEVEL, max_size=4), min_size=2, max_size=25))
    steps = draw(st.lists(st.integers(1, 3), min_size=len(changes), max_size=len(changes)))
    at = draw(st.integers(0, len(changes) - 1))
    dropped = draw(st.sets(st.integers(0, len(changes) - 1), max_size=2))
    return changes, steps, at, dropped


@settings(max_examples=150, deadline=None)
@given(streams())
def test_generated_streams_equal_the_model_or_withdraw_the_book(stream) -> None:
    changes, steps, at, dropped = stream
    model: list[dict[int, int]] = [{}, {}]
    models, messages, seqs = [], [], []
    seq = 1000
    for levels_, step in zip(changes, steps, strict=True):
        prev, seq = seq, seq + step
        bids = [(p, s) for which, p, s in levels_ if which == BID]
        asks = [(p + 12, s) for which, p, s in levels_ if which == ASK]
        for price, size in bids + asks:
            target = model[BID if price <= 12 else ASK]
            if size:
                target[price] = size
            else:
                target.pop(price, None)
        messages.append(update(seq, prev, bids, asks))
        models.append((dict(model[BID]), dict(model[ASK])))
        seqs.append(seq)
    decoder, book, slot = decoder_with_book(scales=(0, 0))
    kept = [i for i in range(len(messages)) if i not in dropped]
    decoder.feed_many([messages[i] for i in kept if i <= at])
    decoder.feed(snapshot(seqs[at], sorted(models[at][BID].items()),
                          sorted(models[at][ASK].items())))
    flags = go_live(decoder, slot) | decoder.feed_many([messages[i] for i in kept if i > at])
    last = max([at, *kept])
    if any(at < i < last for i in dropped):
        assert flags & RESYNC and not book.valid and decoder.gaps == 1
    else:
        assert book.valid and decoder.gaps == 0 and book.sequence == seqs[last]
        assert side(book, BID) == models[last][BID] and side(book, ASK) == models[last][ASK]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(payload: bytes) -> None:
    decoder, book, _ = decoder_with_book()
    decoder.feed(payload)
    assert decoder.errors + decoder.unknown + len(decoder.control) <= 1
    assert not book.valid
