"""GateioDecoder against the payload examples of Gate's Spot WebSocket v4 and REST v4 docs,
the local-order-book rules (checked against a dict model on generated streams), garbage."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState, DecodeError
from feedhandler.exchanges.gateio.decoder import GateioDecoder

TRADES, TICKERS, CANDLES, BOOKS, CONTROL, ERROR, RESYNC = 1, 2, 4, 8, 16, 32, 64
INEXACT = 256     # a value past its scale was rounded (the doc's "B" has 10 decimals)
E8 = 10**8

# the examples of https://www.gate.io/docs/developers/apiv4/ws/en/ (docs/venues/gateio.md)
DOC_TRADE = (b'{"time":1606292218,"time_ms":1606292218231,"channel":"spot.trades",'
             b'"event":"update","result":{"id":309143071,"create_time":1606292218,'
             b'"create_time_ms":"1606292218213.4578","side":"sell","currency_pair":"GT_USDT",'
             b'"amount":"16.4700000000","price":"0.4705000000","range":"2436-2436"}}')
DOC_TICKER = (b'{"time":1669107766,"time_ms":1669107766406,"channel":"spot.tickers",'
              b'"event":"update","result":{"currency_pair":"BTC_USDT","last":"15743.4",'
              b'"lowest_ask":"15744.4","highest_bid":"15743.5","change_percentage":"-1.8254",'
              b'"base_volume":"9110.473081735","quote_volume":"145082083.2535",'
              b'"high_24h":"16280.9","low_24h":"15468.5"}}')
DOC_BOOK_TICKER = (b'{"time":1606293275,"time_ms":1606293275723,"channel":"spot.book_ticker",'
                   b'"event":"update","result":{"t":1606293275123,"u":48733182,"s":"BTC_USDT",'
                   b'"b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}}')
DOC_DEPTH = (b'{"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update",'
             b'"event":"update","result":{"t":1606294781123,"e":"depthUpdate","E":1606294781,'
             b'"s":"BTC_USDT","U":48776301,"u":48776306,"b":[["19137.74","0.0001"],'
             b'["19088.37","0"]],"a":[["19137.75","0.6135"]]}}')
DOC_CANDLE = (b'{"time":1606292600,"time_ms":1606292600376,"channel":"spot.candlesticks",'
              b'"event":"update","result":{"t":"1606292580","v":"2362.32035","c":"19128.1",'
              b'"h":"19128.1","l":"19128.1","o":"19128.1","n":"1m_BTC_USDT","a":"3.8283",'
              b'"w":true}}')
DOC_SUBSCRIBED = (b'{"time":1606292218,"time_ms":1606292218231,"channel":"spot.trades",'
                  b'"event":"subscribe","result":{"status":"success"}}')
DOC_ERROR = (b'{"time":1606292218,"time_ms":1606292218231,"channel":"spot.trades",'
             b'"event":"subscribe","error":{"code":2,"message":"unknown currency pair GT_USDT"},'
             b'"result":null}')
DOC_PONG = (b'{"time":1545404023,"time_ms":1545404023123,"channel":"spot.pong","event":"",'
            b'"result":null}')
# https://www.gate.io/docs/developers/apiv4/en/#retrieve-order-book (with_id=true)
DOC_SNAPSHOT = (b'{"id":123456,"current":1623898993123,"update":1623898993121,'
                b'"asks":[["1.52","1.151"],["1.53","1.218"]],'
                b'"bids":[["1.17","201.863"],["1.16","725.464"]]}')


def decoder_with_book(pair: str = "BTC_USDT") -> tuple[GateioDecoder, OrderBook, int]:
    decoder = GateioDecoder()
    book = OrderBook(8, 8)
    slot = decoder.add_instrument(pair, 7, 8, 8, book)
    return decoder, book, slot


def snapshot(snapshot_id: int, bids, asks) -> bytes:
    return json.dumps({"id": snapshot_id, "current": 1, "update": 1,
                       "asks": [list(a) for a in asks], "bids": [list(b) for b in bids]}).encode()


def depth(first: int, last: int, bids=(), asks=(), pair: str = "BTC_USDT",
          full: bool = False) -> bytes:
    result: dict = {"t": 1606294781123}
    if full:
        result["full"] = True
    result.update({"e": "depthUpdate", "E": 1606294781, "s": pair, "U": first, "u": last,
                   "b": [list(b) for b in bids], "a": [list(a) for a in asks]})
    return json.dumps({"time": 1, "time_ms": 1000, "channel": "spot.order_book_update",
                       "event": "update", "result": result}).encode()


def levels(book: OrderBook, side: int) -> dict[int, int]:
    prices, sizes = book.levels(side)
    return dict(zip(prices.tolist(), sizes.tolist(), strict=True))


def test_doc_trade_lands_in_the_trade_ring() -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("GT_USDT", 3, 8, 8)
    assert decoder.feed(DOC_TRADE, ts_receive=99) == TRADES
    row = decoder.trades.reader(from_start=True).read()
    assert row.instrument.tolist() == [3]
    assert row.price.tolist() == [47_050_000] and row.size.tolist() == [1_647_000_000]
    assert row.side.tolist() == [-1]
    assert row.trade_id.tolist() == [309143071]
    assert row.ts_exchange.tolist() == [1606292218213457800]  # the fractional ms kept, as ns
    assert row.ts_receive.tolist() == [99]


def test_doc_book_ticker_is_the_best_bid_and_ask_with_sizes() -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("BTC_USDT", 4, 8, 10)
    assert decoder.feed(DOC_BOOK_TICKER) == TICKERS
    row = decoder.tickers.reader(from_start=True).read()
    assert (row.bid_price[0], row.bid_size[0]) == (19177_79000000, 3341504)
    assert (row.ask_price[0], row.ask_size[0]) == (19179_38000000, 900_000_000)
    assert row.last_price[0] == 0
    assert row.ts_exchange[0] == 1606293275123 * 1_000_000


def test_doc_ticker_carries_last_and_the_best_prices_without_sizes() -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("BTC_USDT", 4, 8, 8)
    assert decoder.feed(DOC_TICKER) == TICKERS
    row = decoder.tickers.reader(from_start=True).read()
    assert (row.bid_price[0], row.ask_price[0], row.last_price[0]) == (
        15743_50000000, 15744_40000000, 15743_40000000)
    assert (row.bid_size[0], row.ask_size[0]) == (0, 0)
    assert row.ts_exchange[0] == 1669107766406 * 1_000_000


def test_doc_candle_reads_the_pair_and_interval_from_n_and_volume_from_a() -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("BTC_USDT", 5, 8, 8)
    assert decoder.feed(DOC_CANDLE) == CANDLES
    row = decoder.candles.reader(from_start=True).read()
    assert row.instrument.tolist() == [5] and row.interval.tolist() == [60]
    assert row.open_time.tolist() == [1606292580 * 10**9]
    assert row.close.tolist() == [19128_10000000] and row.volume.tolist() == [382_830_000]
    assert row.closed.tolist() == [1]
    still_open = DOC_CANDLE.replace(b'"w":true', b'"w":false').replace(b'"1m_', b'"10s_')
    assert decoder.feed(still_open) == CANDLES
    row = decoder.candles.reader(from_start=True).read()
    assert row.closed.tolist() == [1, 0] and row.interval.tolist() == [60, 10]


@pytest.mark.parametrize(("interval", "seconds"), [
    ("10s", 10), ("5m", 300), ("4h", 14400), ("8h", 28800), ("1d", 86400), ("7d", 604800),
    ("30d", 2592000)])
def test_every_gate_interval_is_understood(interval: str, seconds: int) -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("BTC_USDT", 5, 8, 8)
    assert decoder.feed(DOC_CANDLE.replace(b'"1m_', f'"{interval}_'.encode())) == CANDLES
    assert decoder.candles.reader(from_start=True).read().interval.tolist() == [seconds]


def test_doc_snapshot_then_doc_update_builds_the_book() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(48776300, [["19088.37", "2"], ["19000", "1"]],
                                          [["19137.75", "1"], ["19200", "3"]]))
    assert decoder.sync_state(slot) == BookSyncState.LIVE and book.valid
    assert decoder.feed(DOC_DEPTH) == BOOKS
    assert levels(book, 0) == {19137_74000000: 10_000, 19000 * E8: E8}   # "0" deleted
    assert levels(book, 1) == {19137_75000000: 61_350_000, 19200 * E8: 3 * E8}
    assert book.sequence == 48776306
    assert book.ts_exchange == 1606294781123 * 1_000_000
    assert decoder.take_dirty() == [slot]


def test_doc_rest_snapshot_loads_id_and_levels() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, DOC_SNAPSHOT)
    assert book.sequence == 123456
    assert levels(book, 0) == {117_000_000: 20_186_300_000, 116_000_000: 72_546_400_000}
    assert levels(book, 1) == {152_000_000: 115_100_000, 153_000_000: 121_800_000}


@pytest.mark.parametrize("body", [
    b'{"current":1,"update":1,"asks":[],"bids":[]}',          # asked without with_id=true
    b'{"id":5,"asks":[["1","x"]],"bids":[]}',
    b'{"id":5,"bids":[]}',
    b'[1,2]',
    b'',
])
def test_a_bad_snapshot_raises_and_leaves_the_book_empty_and_waiting(body: bytes) -> None:
    decoder, book, slot = decoder_with_book()
    with pytest.raises(DecodeError):
        decoder.apply_snapshot(slot, body)
    assert decoder.sync_state(slot) == BookSyncState.WAITING and not book.valid
    assert levels(book, 0) == {} and levels(book, 1) == {}


def test_updates_are_held_until_the_snapshot_then_stale_ones_dropped() -> None:
    decoder, book, slot = decoder_with_book()
    assert decoder.feed_many([depth(90, 95, bids=[["1", "1"]]),
                              depth(96, 101, bids=[["2", "1"]]),
                              depth(102, 104, asks=[["3", "1"]])]) == 0
    assert len(decoder.pending) == 3
    decoder.apply_snapshot(slot, snapshot(100, [["1", "5"]], [["4", "1"]]))
    assert decoder.replay_pending(slot) == BOOKS
    # 90..95 is older than id 100 and dropped; 96..101 covers id + 1 = 101
    assert levels(book, 0) == {E8: 5 * E8, 2 * E8: E8}
    assert levels(book, 1) == {3 * E8: E8, 4 * E8: E8}
    assert book.sequence == 104 and decoder.gaps == 0


def test_a_first_update_past_the_snapshot_is_a_gap() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(100, [["1", "5"]], [["4", "1"]]))
    assert decoder.feed(depth(102, 103, bids=[["2", "1"]])) == RESYNC
    assert not book.valid and decoder.gaps == 1
    [(resync_slot, reason)] = decoder.take_resync()
    assert resync_slot == slot and "does not cover snapshot id 100" in reason


def test_a_later_gap_withdraws_the_book_and_what_follows_is_held() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(100, [["1", "5"]], [["4", "1"]]))
    assert decoder.feed(depth(101, 101)) == BOOKS
    assert decoder.feed(depth(103, 104, bids=[["2", "1"]])) == RESYNC
    assert decoder.take_resync() == [(slot, "U 103 != previous u 101 + 1")]
    assert levels(book, 0) == {E8: 5 * E8}, "the gapped update is not applied"
    assert decoder.feed(depth(105, 106)) == 0 and len(decoder.pending) == 1


def test_a_full_update_replaces_the_book_whatever_its_ids() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(100, [["1", "5"]], [["4", "1"]]))
    assert decoder.feed(depth(0, 500, bids=[["2", "1"]], asks=[["3", "2"]], full=True)) == BOOKS
    assert levels(book, 0) == {2 * E8: E8} and levels(book, 1) == {3 * E8: 2 * E8}
    assert book.sequence == 500
    assert decoder.feed(depth(501, 502, bids=[["2", "0"]])) == BOOKS
    assert levels(book, 0) == {}


def test_a_crossed_book_after_an_update_withdraws_it() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(100, [["1", "5"]], [["4", "1"]]))
    assert decoder.feed(depth(101, 101, bids=[["5", "1"]])) == RESYNC
    assert not book.valid


def test_malformed_levels_withdraw_a_live_book() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(48776300, [["1", "5"]], [["19200", "1"]]))
    bad = DOC_DEPTH.replace(b'["19088.37","0"]', b'["19088.37"]')
    assert decoder.feed(bad) == ERROR | RESYNC
    assert not book.valid and decoder.errors == 1


def test_levels_before_the_ids_are_refused() -> None:
    decoder, _, slot = decoder_with_book()
    decoder.apply_snapshot(slot, snapshot(100, [["1", "5"]], [["4", "1"]]))
    early = (b'{"time":1,"time_ms":1,"channel":"spot.order_book_update","event":"update",'
             b'"result":{"s":"BTC_USDT","b":[["2","1"]],"U":101,"u":101}}')
    assert decoder.feed(early) == ERROR
    assert "before s, U or u" in decoder.last_error


def test_depth_of_a_pair_without_a_book_is_ignored() -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("BTC_USDT", 1, 8, 8)
    assert decoder.feed(DOC_DEPTH) == 0 and decoder.errors == 0 and not decoder.pending


def test_acks_and_errors_go_to_python_and_the_pong_does_not() -> None:
    decoder = GateioDecoder()
    assert decoder.feed(DOC_SUBSCRIBED) == CONTROL
    assert decoder.feed(DOC_ERROR) == CONTROL
    assert decoder.feed(DOC_PONG) == 0
    assert decoder.take_control() == [DOC_SUBSCRIBED, DOC_ERROR]
    assert decoder.unknown == 0 and decoder.errors == 0


def test_unknown_channels_and_pairs_are_counted_and_skipped() -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("BTC_USDT", 1, 8, 8)
    order_book = (b'{"time":1,"time_ms":1,"channel":"spot.order_book","event":"update",'
                  b'"result":{"t":1,"lastUpdateId":5,"s":"BTC_USDT","bids":[],"asks":[]}}')
    assert decoder.feed(order_book) == 0
    assert decoder.feed(DOC_TRADE) == 0                 # GT_USDT is not subscribed here
    assert decoder.feed(DOC_CANDLE.replace(b"BTC_USDT", b"ETH_USDT")) == 0
    assert decoder.feed(b'{"time":1,"channel":"spot.trades"}') == 0
    assert decoder.unknown == 4 and decoder.errors == 0


@pytest.mark.parametrize("payload", [
    b"",
    b"[]",
    b"not json",
    b'{"time":1,"channel":',
    b'{"result":{"id":1},"channel":"spot.trades","event":"update"}',
    b'{"channel":7,"event":"update","result":{}}',
    b'{"channel":"spot.trades","event":"update","result":[1]}',
    DOC_TRADE.replace(b'"price":"0.4705000000"', b'"price":"abc"'),
    DOC_TRADE.replace(b'"amount":"16.4700000000",', b""),
    DOC_BOOK_TICKER.replace(b'"A":"0.09"', b'"A":null'),
    DOC_CANDLE.replace(b'"n":"1m_BTC_USDT"', b'"n":"1m"'),
    DOC_CANDLE.replace(b'"1m_', b'"1y_'),
    DOC_CANDLE.replace(b'"w":true', b'"w":"yes"'),
    DOC_DEPTH.replace(b'"u":48776306', b'"u":"x"'),
    DOC_DEPTH.replace(b'"U":48776301,', b""),
])
def test_malformed_messages_fail_without_raising(payload: bytes) -> None:
    decoder = GateioDecoder()
    decoder.add_instrument("BTC_USDT", 1, 8, 8, OrderBook(8, 8))
    decoder.add_instrument("GT_USDT", 2, 8, 8)
    assert decoder.feed(payload) & ~INEXACT == ERROR
    assert decoder.errors == 1 and decoder.last_error


class ModelBook:
    """Gate's "how to maintain local order book" over dicts: the reference the decoder is
    checked against."""

    def __init__(self, snapshot_id: int, bids: dict[int, int], asks: dict[int, int],
                 straddle: bool = True) -> None:
        """``straddle``: the first update may start before ``snapshot_id + 1`` (REST
        snapshots); a spot.obu full push wants ``U == u + 1`` from the start."""
        self.last = snapshot_id
        self.sides = (dict(bids), dict(asks))
        self.fresh = straddle
        self.valid = True

    def apply(self, first: int, last: int, bids, asks) -> None:
        if not self.valid or last < self.last + 1:
            return
        if (not first <= self.last + 1 <= last) if self.fresh else first != self.last + 1:
            self.valid = False
            return
        for side, changes in zip(self.sides, (bids, asks), strict=True):
            for price, size in changes:
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
        self.last = last
        self.fresh = False


# a stream is a list of (skip before, ids covered, bid changes, ask changes); bids stay below
# 100 and asks above, so the book never crosses
change = st.tuples(st.integers(1, 99), st.integers(0, 3))
stream = st.lists(st.tuples(st.sampled_from([0] * 8 + [1, -3]), st.integers(1, 4),
                            st.lists(change, max_size=4),
                            st.lists(change.map(lambda c: (c[0] + 100, c[1])), max_size=4)),
                  max_size=40)


@pytest.mark.parametrize("use_obu", [False, True], ids=["order_book_update", "obu"])
@settings(max_examples=150, deadline=None)
@given(stream, st.integers(0, 6))
def test_generated_streams_match_the_model_book(use_obu, events, snapshot_after) -> None:
    decoder, book, slot = decoder_with_book()
    render = obu if use_obu else depth
    messages, ranges = [], []
    next_id = 1000
    for skip, width, bids, asks in events:
        first = next_id + skip
        last = first + width - 1
        next_id = last + 1
        ranges.append((first, last, bids, asks))
        messages.append(render(first, last, [[str(p), str(s)] for p, s in bids],
                               [[str(p), str(s)] for p, s in asks]))
    snapshot_id = 999 + snapshot_after
    model = ModelBook(snapshot_id, {50 * E8: E8}, {150 * E8: E8}, straddle=not use_obu)
    assert decoder.feed_many(messages[:3]) == 0            # held while waiting
    if use_obu:
        decoder.feed(obu(None, snapshot_id, [["50", "1"]], [["150", "1"]], full=True))
        decoder.mark_live(slot)
    else:
        decoder.apply_snapshot(slot, snapshot(snapshot_id, [["50", "1"]], [["150", "1"]]))
    decoder.replay_pending(slot)
    decoder.feed_many(messages[3:])
    for first, last, bids, asks in ranges:
        model.apply(first, last, [(p * E8, s * E8) for p, s in bids],
                    [(p * E8, s * E8) for p, s in asks])
    assert book.valid == model.valid
    assert decoder.gaps == (0 if model.valid else 1)
    if model.valid:
        assert (levels(book, 0), levels(book, 1)) == model.sides
        assert book.sequence == model.last
    assert decoder.errors == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(payload: bytes) -> None:
    decoder, _, slot = decoder_with_book()
    decoder.apply_snapshot(slot, DOC_SNAPSHOT)
    decoder.feed(payload)
    assert decoder.messages == 1


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([DOC_TRADE, DOC_TICKER, DOC_BOOK_TICKER, DOC_DEPTH, DOC_CANDLE]),
       st.integers(0, 400), st.binary(min_size=1, max_size=3))
def test_mutated_doc_messages_never_crash(message: bytes, at: int, junk: bytes) -> None:
    decoder = GateioDecoder()
    for pair in (b"GT_USDT", b"BTC_USDT"):
        decoder.add_instrument(pair, 1, 8, 8, OrderBook(8, 8))
    at = at % len(message)
    flags = decoder.feed(message[:at] + junk + message[at + 1:])
    assert flags & ~(TRADES | TICKERS | CANDLES | ERROR | CONTROL | INEXACT) == 0


def obu(first: int | None, last: int, bids=(), asks=(), symbol: str = "ob.BTC_USDT.50",
        full: bool = False) -> bytes:
    """A spot.obu push in the shape of Gate's announcement 45317 (no event field)."""
    result: dict = {"t": 1748572394325}
    if full:
        result["full"] = True
    result["s"] = symbol
    if first is not None:
        result["U"] = first
    result.update({"u": last, "b": [list(b) for b in bids], "a": [list(a) for a in asks]})
    return json.dumps({"channel": "spot.obu", "result": result,
                       "time_ms": 1748572394331}).encode()


def test_obu_full_push_loads_a_waiting_book_without_serving_it() -> None:
    decoder, book, slot = decoder_with_book()
    assert decoder.feed(obu(500, 501, bids=[["9", "9"]])) == 0       # held: nothing loaded
    assert decoder.snapshot_count(slot) == 0 and len(decoder.pending) == 1
    assert decoder.feed(obu(None, 510, [["1", "2"]], [["3", "4"]], full=True)) == 0
    assert decoder.snapshot_count(slot) == 1
    assert not book.valid and decoder.sync_state(slot) == BookSyncState.WAITING
    assert decoder.take_dirty() == []
    assert levels(book, 0) == {E8: 2 * E8} and book.sequence == 510
    assert decoder.feed(obu(511, 512, asks=[["3", "0"], ["5", "1"]])) == 0   # held
    decoder.mark_live(slot)
    assert decoder.replay_pending(slot) == BOOKS       # 500..501 stale, 511..512 applied
    assert levels(book, 0) == {E8: 2 * E8} and levels(book, 1) == {5 * E8: E8}
    assert book.sequence == 512 and book.valid


def test_obu_updates_must_chain_exactly() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(obu(None, 510, [["1", "2"]], [["3", "4"]], full=True))
    decoder.mark_live(slot)
    assert decoder.feed(obu(511, 511, bids=[["2", "1"]])) == BOOKS
    assert decoder.feed(obu(509, 511)) == 0                    # stale
    assert decoder.feed(obu(513, 514)) == RESYNC
    assert decoder.take_resync() == [(slot, "U 513 != previous u 511 + 1")]
    assert decoder.snapshot_count(slot) == 1
    assert decoder.feed(obu(None, 600, [["1", "1"]], [["2.5", "1"]], full=True)) == 0
    assert decoder.snapshot_count(slot) == 2 and levels(book, 1) == {250_000_000: E8}


def test_obu_full_push_replaces_a_live_book() -> None:
    decoder, book, slot = decoder_with_book()
    decoder.feed(obu(None, 510, [["1", "2"]], [["3", "4"]], full=True))
    decoder.mark_live(slot)
    assert decoder.feed(obu(None, 700, [["2", "1"]], [["4", "1"]], full=True)) == BOOKS
    assert levels(book, 0) == {2 * E8: E8} and levels(book, 1) == {4 * E8: E8}
    assert book.sequence == 700


@pytest.mark.parametrize("symbol", ["BTC_USDT", "ob.BTC_USDT", "ob..50", "xx.BTC_USDT.50"])
def test_obu_symbols_must_be_ob_pair_levels(symbol: str) -> None:
    decoder, _, _ = decoder_with_book()
    assert decoder.feed(obu(None, 5, symbol=symbol, full=True)) == ERROR
    assert "ob.<pair>.<levels>" in decoder.last_error


def test_obu_of_an_unknown_pair_is_skipped_and_its_ack_is_control() -> None:
    decoder, _, _ = decoder_with_book()
    assert decoder.feed(obu(None, 5, symbol="ob.ETH_USDT.400", full=True)) == 0
    assert decoder.unknown == 1
    ack = (b'{"time":1748572394,"time_ms":1748572394271,"conn_id":"b61f70b2e6bcca91",'
           b'"channel":"spot.obu","event":"subscribe","payload":["ob.BTC_USDT.50"],'
           b'"result":{"status":"success"}}')
    assert decoder.feed(ack) == CONTROL


def test_a_broken_obu_full_push_is_not_counted_as_loaded() -> None:
    decoder, book, slot = decoder_with_book()
    broken = obu(None, 510, [["1", "2"]], [["3"]], full=True)
    assert decoder.feed(broken) == ERROR | RESYNC
    crossed = obu(None, 511, [["5", "2"]], [["3", "1"]], full=True)
    assert decoder.feed(crossed) == RESYNC
    assert decoder.snapshot_count(slot) == 0 and not book.valid
