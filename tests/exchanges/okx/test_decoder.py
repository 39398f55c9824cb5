"""OkxDecoder against the payload examples of OKX's v5 WebSocket docs, the checksum rule's
worked examples, OKX's seqId/prevSeqId rules, candles, events and garbage; and hypothesis
streams checked against a model book."""

import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import DecodeError
from feedhandler.exchanges.okx.decoder import OkxDecoder
from feedhandler.sim.okx import sample_messages

TRADES, TICKERS, CANDLES, BOOKS, CONTROL, ERROR, RESYNC = 1, 2, 4, 8, 16, 32, 64
LIVE, WAITING = 2, 1
BID, ASK = 0, 1

# https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
# (push example, reproduced from memory since the page cannot be read here; its "checksum" is
# not the CRC32 of the eight levels shown, so the tests substitute the value OKX's rule gives)
DOC_BOOKS_SNAPSHOT = {
    "arg": {"channel": "books", "instId": "BTC-USDT"},
    "action": "snapshot",
    "data": [{
        "asks": [["8476.98", "415", "0", "13"], ["8477", "7", "0", "2"],
                 ["8477.34", "85", "0", "1"], ["8477.56", "1", "0", "1"],
                 ["8505.84", "8", "0", "1"], ["8506.37", "85", "0", "1"],
                 ["8506.49", "2", "0", "1"], ["8506.96", "100", "0", "2"]],
        "bids": [["8476.97", "256", "0", "12"], ["8475.55", "101", "0", "1"],
                 ["8475.54", "100", "0", "1"], ["8475.3", "1", "0", "1"],
                 ["8475.2", "1", "0", "1"], ["8475", "1", "0", "1"],
                 ["8474.96", "1", "0", "1"], ["8474.82", "1", "0", "1"]],
        "ts": "1597026383085",
        "checksum": -855196043,
        "prevSeqId": -1,
        "seqId": 123456,
    }],
}
# the same page, "Checksum": the check string of two worked examples
DOC_CHECKSUM_EXAMPLES = [
    ({"bids": [["3366.1", "7", "0", "3"], ["3366", "6", "3", "4"]],
      "asks": [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"]]},
     "3366.1:7:3366.8:9:3366:6:3368:8"),
    ({"bids": [["3366.1", "7", "0", "3"]],
      "asks": [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"], ["3372", "8", "3", "4"]]},
     "3366.1:7:3366.8:9:3368:8:3372:8"),
]
# .../#order-book-trading-market-data-ws-trades-channel
DOC_TRADES = (b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
              b'"tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy",'
              b'"ts":"1630048897897","count":"3"}]}')
# .../#order-book-trading-market-data-ws-tickers-channel
DOC_TICKERS = (b'{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT",'
               b'"instId":"BTC-USDT","last":"9999.99","lastSz":"0.1","askPx":"9999.99",'
               b'"askSz":"11","bidPx":"8888.88","bidSz":"5","open24h":"9000",'
               b'"high24h":"10000","low24h":"8888.88","volCcy24h":"2222","vol24h":"2222",'
               b'"sodUtc0":"2222","sodUtc8":"2222","ts":"1597026383085"}]}')
# .../#order-book-trading-market-data-ws-candlesticks-channel
DOC_CANDLE = (b'{"arg":{"channel":"candle1D","instId":"BTC-USDT"},"data":[["1597026383085",'
              b'"8533.02","8553.74","8527.17","8548.26","45247","529.5858061",'
              b'"529.5858061","0"]]}')
# .../#order-book-trading-market-data-ws-order-book-channel (books5 push example)
DOC_BOOKS5 = (b'{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["8446","95",'
              b'"0","3"],["8447","1","0","1"]],"bids":[["8445","6","0","3"],["8444","1","0",'
              b'"1"]],"instId":"BTC-USDT","ts":"1597026383085","seqId":123456}]}')
# .../#overview-websocket-subscribe (response and failure examples) and the notice event
DOC_ACK = (b'{"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},'
           b'"connId":"a4d3ae55"}')
DOC_ERROR = (b'{"id":"1512","event":"error","code":"60012","msg":"Invalid request: {\\"op\\": '
             b'\\"subscribe\\", \\"argss\\":[{ \\"channel\\" : \\"books\\", \\"instId\\" : '
             b'\\"BTC-USDT\\"}]}","connId":"a4d3ae55"}')
DOC_NOTICE = (b'{"event":"notice","code":"64008","msg":"The connection will soon be closed for '
              b'a service upgrade. Please reconnect.","connId":"a4d3ae55"}')


def signed(crc: int) -> int:
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def rule_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX's rule, written out independently: top 25 each side, bid1:ask1:bid2:ask2..."""
    parts = []
    for i in range(25):
        for side in (bids, asks):
            if i < len(side):
                parts.append(f"{side[i][0]}:{side[i][1]}")
    return signed(zlib.crc32(":".join(parts).encode()))


def decoder_with_book(symbol: str = "BTC-USDT", scales=(2, 8), depth: int = 400):
    decoder = OkxDecoder()
    slot = decoder.add_instrument(symbol, 3, *scales,
                                  OrderBook(price_scale=scales[0], size_scale=scales[1]))
    decoder.configure_book(slot, depth)
    return decoder, slot


def message(action: str | None, bids, asks, seq: int, prev: int, checksum: int | None,
            channel: str = "books", symbol: str = "BTC-USDT") -> bytes:
    data: dict[str, object] = {"asks": asks, "bids": bids, "ts": "1597026383085"}
    if checksum is not None:
        data["checksum"] = checksum
    data["prevSeqId"] = prev
    data["seqId"] = seq
    body: dict[str, object] = {"arg": {"channel": channel, "instId": symbol}}
    if action is not None:
        body["action"] = action
    body["data"] = [data]
    return json.dumps(body).encode()


def doc_snapshot() -> tuple[bytes, dict]:
    body = json.loads(json.dumps(DOC_BOOKS_SNAPSHOT))
    data = body["data"][0]
    data["checksum"] = rule_checksum(data["bids"], data["asks"])
    return json.dumps(body).encode(), data


def go_live(decoder: OkxDecoder, slot: int) -> None:
    assert decoder.snapshot_loaded(slot)
    decoder.mark_live(slot)
    decoder.replay_pending(slot)


def levels(decoder: OkxDecoder, slot: int, side: int) -> list[tuple[int, int]]:
    prices, sizes = decoder.book(slot).levels(side)
    return list(zip(prices.tolist(), sizes.tolist(), strict=True))


def test_doc_snapshot_builds_the_book_and_verifies() -> None:
    decoder, slot = decoder_with_book()
    raw, data = doc_snapshot()
    assert decoder.feed(raw) == 0            # loaded, not served until sync_book marks it live
    assert decoder.stats()["errors"] == 0 and decoder.snapshot_loaded(slot)
    book = decoder.book(slot)
    assert book.best_bid() == (847697, 256 * 10**8) and book.best_ask() == (847698, 415 * 10**8)
    assert book.bid_count == book.ask_count == 8 and book.sequence == 123456
    assert decoder.book_checksum(slot) == data["checksum"]


def test_doc_illustrative_checksum_is_refused() -> None:
    decoder, slot = decoder_with_book()
    assert decoder.feed(json.dumps(DOC_BOOKS_SNAPSHOT).encode()) == RESYNC
    assert decoder.checksum_failures == 1 and not decoder.snapshot_loaded(slot)


@pytest.mark.parametrize("sides, text", DOC_CHECKSUM_EXAMPLES)
def test_doc_checksum_worked_examples(sides, text) -> None:
    decoder, slot = decoder_with_book(scales=(1, 8))
    expected = signed(zlib.crc32(text.encode()))
    raw = message("snapshot", sides["bids"], sides["asks"], 10, -1, expected)
    assert decoder.feed(raw) == 0 and decoder.stats()["checksum_failures"] == 0
    assert decoder.book_checksum(slot) == expected


def test_updates_chain_and_size_zero_deletes() -> None:
    decoder, slot = decoder_with_book()
    raw, data = doc_snapshot()
    decoder.feed(raw)
    go_live(decoder, slot)
    bids = [b for b in data["bids"] if b[0] != "8475.3"]
    asks = [data["asks"][0], ["8476.99", "3", "0", "1"], *data["asks"][1:]]
    update = message("update", [["8475.3", "0", "0", "0"]], [["8476.99", "3", "0", "1"]],
                     123457, 123456, rule_checksum(bids, asks))
    assert decoder.feed(update) == BOOKS
    assert levels(decoder, slot, ASK)[:2] == [(847698, 415 * 10**8), (847699, 3 * 10**8)]
    assert 847530 not in dict(levels(decoder, slot, BID))
    heartbeat = message("update", [], [], 123457, 123457, rule_checksum(bids, asks))
    assert decoder.feed(heartbeat) == BOOKS and decoder.stats()["gaps"] == 0


def test_a_skipped_seq_id_withdraws_the_book_untouched() -> None:
    decoder, slot = decoder_with_book()
    raw, _ = doc_snapshot()
    decoder.feed(raw)
    go_live(decoder, slot)
    before = levels(decoder, slot, ASK)
    lost = message("update", [], [["8476.99", "3", "0", "1"]], 123460, 123458, 1)
    assert decoder.feed(lost) == RESYNC
    assert decoder.gaps == 1 and decoder.sync_state(slot) == WAITING
    assert not decoder.book(slot).valid and levels(decoder, slot, ASK) == before
    assert decoder.take_resync() == [(slot, "prevSeqId 123458 > snapshot seqId 123456")]


def test_a_skipped_seq_id_after_the_first_update_withdraws_the_book() -> None:
    decoder, slot = decoder_with_book()
    raw, _ = doc_snapshot()
    decoder.feed(raw)
    go_live(decoder, slot)
    assert decoder.feed(message("update", [], [], 123457, 123456, 0)) == BOOKS
    assert decoder.feed(message("update", [], [], 123460, 123458, 0)) == RESYNC
    assert decoder.take_resync() == [(slot, "prevSeqId 123458 != last seqId 123457")]


def test_a_wrong_checksum_on_an_update_withdraws_the_book() -> None:
    decoder, slot = decoder_with_book()
    raw, data = doc_snapshot()
    decoder.feed(raw)
    go_live(decoder, slot)
    bad = message("update", [["8476.5", "1", "0", "1"]], [], 123457, 123456,
                  rule_checksum(data["bids"], data["asks"]))
    assert decoder.feed(bad) == RESYNC
    assert decoder.checksum_failures == 1 and not decoder.book(slot).valid


def test_a_zero_checksum_is_the_retired_field_and_only_the_sequence_is_checked() -> None:
    decoder, slot = decoder_with_book()
    raw, _ = doc_snapshot()
    decoder.feed(raw)
    go_live(decoder, slot)
    assert decoder.feed(message("update", [["8476.5", "1", "0", "1"]], [], 123457, 123456,
                                0)) == BOOKS
    assert decoder.feed(message("update", [], [], 123459, 123458, 0)) == RESYNC


def test_a_books_message_without_checksum_is_unchecked_and_without_sequence_an_error() -> None:
    decoder, slot = decoder_with_book()
    raw, _ = doc_snapshot()
    no_checksum = json.loads(raw)
    del no_checksum["data"][0]["checksum"]
    assert decoder.feed(json.dumps(no_checksum).encode()) == 0
    go_live(decoder, slot)
    assert decoder.feed(message("update", [["8476.5", "1", "0", "1"]], [], 123457, 123456,
                                None)) == BOOKS
    assert decoder.book(slot).valid and decoder.stats()["errors"] == 0
    assert decoder.feed(message("update", [], [], 123459, 123458, None)) == RESYNC
    decoder, slot = decoder_with_book()
    decoder.feed(raw)
    go_live(decoder, slot)
    no_seq = json.loads(message("update", [], [], 123457, 123456, 1))
    del no_seq["data"][0]["seqId"]
    assert decoder.feed(json.dumps(no_seq).encode()) == ERROR | RESYNC


def test_updates_before_the_snapshot_are_dropped_and_after_it_held_in_order() -> None:
    decoder, slot = decoder_with_book()
    raw, data = doc_snapshot()
    stale = message("update", [], [], 99, 98, 1)
    assert decoder.feed(stale) == 0 and decoder.pending == [(slot, stale)]
    decoder.feed(raw)
    assert decoder.pending == []
    bids = [data["bids"][0], ["8476.5", "1", "0", "1"], *data["bids"][1:]]
    held = message("update", [["8476.5", "1", "0", "1"]], [], 123457, 123456,
                   rule_checksum(bids, data["asks"]))
    assert decoder.feed(held) == 0 and decoder.book(slot).best_bid() == (847697, 256 * 10**8)
    decoder.mark_live(slot)
    assert decoder.replay_pending(slot) == BOOKS
    assert (847650, 10**8) in levels(decoder, slot, BID)
    assert decoder.book(slot).sequence == 123457 and decoder.stats()["gaps"] == 0


def test_a_new_snapshot_discards_updates_held_for_the_old_one() -> None:
    decoder, slot = decoder_with_book()
    raw, _ = doc_snapshot()
    decoder.feed(raw)
    decoder.feed(message("update", [], [], 123457, 123456, 1))
    assert decoder.pending
    decoder.feed(raw)
    assert not decoder.pending and decoder.snapshot_count(slot) == 2


def test_book_is_truncated_to_the_subscribed_depth_before_the_checksum() -> None:
    decoder, slot = decoder_with_book(depth=3)
    _, data = doc_snapshot()
    top = rule_checksum(data["bids"][:3], data["asks"][:3])
    decoder.feed(message("snapshot", data["bids"], data["asks"], 1, -1, top,
                         channel="books50-l2-tbt"))
    assert decoder.book(slot).bid_count == 3 and decoder.snapshot_loaded(slot)


def test_doc_books5_every_message_is_a_snapshot_without_checksum() -> None:
    decoder, slot = decoder_with_book(scales=(1, 8), depth=5)
    assert decoder.feed(DOC_BOOKS5) == 0 and decoder.snapshot_loaded(slot)
    go_live(decoder, slot)
    assert decoder.feed(DOC_BOOKS5.replace(b'"8446","95"', b'"8446","96"')) == BOOKS
    assert decoder.book(slot).best_ask() == (84460, 96 * 10**8)
    assert decoder.book(slot).bid_count == 2 and decoder.stats()["errors"] == 0


def test_unconfigured_book_defaults_to_the_books_depth() -> None:
    decoder = OkxDecoder()
    slot = decoder.add_instrument("BTC-USDT", 1, 2, 8, OrderBook(price_scale=2, size_scale=8))
    assert decoder.book(slot).depth_limit == 400


def test_doc_trades_land_in_the_trade_ring() -> None:
    decoder = OkxDecoder()
    decoder.add_instrument("BTC-USDT", 5, 1, 8)
    assert decoder.feed(DOC_TRADES, 77) == TRADES
    row = decoder.trades.reader(from_start=True).read()
    assert row.price[0] == 422199 and row.size[0] == 12060306
    assert row.side[0] == 1 and row.trade_id[0] == 130639474
    assert row.ts_exchange[0] == 1630048897897 * 10**6 and row.instrument[0] == 5


def test_doc_tickers_land_in_the_ticker_ring() -> None:
    decoder = OkxDecoder()
    decoder.add_instrument("BTC-USDT", 5, 2, 8)
    assert decoder.feed(DOC_TICKERS) == TICKERS
    row = decoder.tickers.reader(from_start=True).read()
    assert (row.bid_price[0], row.ask_price[0], row.last_price[0]) == \
        (888888, 999999, 999999)
    assert (row.bid_size[0], row.ask_size[0]) == (5 * 10**8, 11 * 10**8)


def test_an_empty_ticker_side_reads_as_zero() -> None:
    decoder = OkxDecoder()
    decoder.add_instrument("BTC-USDT", 5, 2, 8)
    assert decoder.feed(DOC_TICKERS.replace(b'"askPx":"9999.99","askSz":"11"',
                                            b'"askPx":"","askSz":""')) == TICKERS
    assert decoder.tickers.reader(from_start=True).read().ask_price[0] == 0


@pytest.mark.parametrize("bar, seconds", [("1D", 86400), ("1m", 60), ("4H", 14400),
                                          ("1Dutc", 86400), ("1s", 1), ("1W", 604800)])
def test_doc_candle_is_open_until_confirmed(bar: str, seconds: int) -> None:
    decoder = OkxDecoder()
    decoder.add_instrument("BTC-USDT", 5, 2, 8)
    raw = DOC_CANDLE.replace(b"candle1D", b"candle" + bar.encode())
    assert decoder.feed(raw) == CANDLES
    assert decoder.feed(raw.replace(b'"0"]]', b'"1"]]')) == CANDLES
    row = decoder.candles.reader(from_start=True).read()
    assert row.closed.tolist() == [0, 1] and row.interval[0] == seconds
    assert row.open_time[0] == 1597026383085 * 10**6
    assert (row.open[0], row.high[0], row.low[0], row.close[0]) == \
        (853302, 855374, 852717, 854826)
    assert row.volume[0] == 45247 * 10**8


def test_events_go_to_python_and_pong_does_not() -> None:
    decoder = OkxDecoder()
    for raw in (DOC_ACK, DOC_ERROR, DOC_NOTICE):
        assert decoder.feed(raw) == CONTROL
    assert decoder.feed(b"pong") == 0
    assert decoder.take_control() == [DOC_ACK, DOC_ERROR, DOC_NOTICE]


def test_unknown_channels_and_instruments_are_counted_and_skipped() -> None:
    decoder, _ = decoder_with_book()
    assert decoder.feed(DOC_TRADES.replace(b"BTC-USDT", b"ETH-USDT")) == 0
    assert decoder.feed(DOC_TRADES.replace(b'"trades"', b'"opt-summary"')) == 0
    assert decoder.feed(DOC_CANDLE.replace(b"candle1D", b"candle7X")) == 0
    assert decoder.feed(b'{"op":"something"}') == 0
    assert decoder.unknown == 4 and decoder.errors == 0


@pytest.mark.parametrize("payload", [
    b"", b"ping", b"[1,2]", b"{", b'{"arg":[]}', b'{"data":[],"arg":{}}',
    b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":{}}',
    b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"px":"x","sz":"1"}]}',
    b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"px":"1"}]}',
    b'{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1","2"]]}',
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{}]}',
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":"x"}]}',
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["',
])
def test_malformed_messages_fail_without_raising(payload: bytes) -> None:
    decoder, _ = decoder_with_book()
    assert decoder.feed(payload) & ERROR
    assert decoder.errors == 1 and decoder.last_error


# ---- streams ---------------------------------------------------------------------------------

STREAM = sample_messages(800, seed=3)


def simulated_decoder() -> tuple[OkxDecoder, int]:
    decoder = OkxDecoder()
    slot = decoder.add_instrument("BTC-USDT", 1, 1, 8, OrderBook(price_scale=1, size_scale=8))
    decoder.configure_book(slot, 400)
    return decoder, slot


def test_simulated_stream_decodes_without_a_single_failure() -> None:
    decoder, slot = simulated_decoder()
    decoder.feed(STREAM[0])
    go_live(decoder, slot)
    flags = decoder.feed_many(STREAM[1:])
    assert flags & BOOKS and flags & TRADES and flags & TICKERS and flags & CANDLES
    assert decoder.stats() == {"messages": 800, "errors": 0, "unknown": 0, "gaps": 0,
                               "checksum_failures": 0, "misrouted": 0}


UPDATES = [i for i, raw in enumerate(STREAM) if b'"action":"update"' in raw]


def wrong_checksum(raw: bytes) -> bytes:
    body = json.loads(raw)
    data = body["data"][0]
    data["checksum"] = data["checksum"] + 1 if data["checksum"] != -1 else 7
    return json.dumps(body).encode()


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(UPDATES[:-1]), st.sampled_from(["drop", "corrupt"]),
                       max_size=3))
def test_mutated_streams_never_serve_an_unverified_book(mutations) -> None:
    """A wrong checksum withdraws the book on its own message, a dropped update on the next
    book update (its prevSeqId no longer chains); the book stays withdrawn, and an untouched
    stream keeps it live."""
    stream = list(STREAM)
    for index, kind in mutations.items():
        stream[index] = b"" if kind == "drop" else wrong_checksum(stream[index])
    lost = False
    withdrawn_at = len(stream)
    for index in UPDATES:
        if mutations.get(index) == "drop":
            lost = True
        elif lost or mutations.get(index) == "corrupt":
            withdrawn_at = index
            break
    decoder, slot = simulated_decoder()
    decoder.feed(stream[0])
    go_live(decoder, slot)
    for position, raw in enumerate(stream[1:], start=1):
        if raw:
            decoder.feed(raw)
        assert decoder.book(slot).valid == (position < withdrawn_at), position
    assert (decoder.gaps + decoder.checksum_failures > 0) == bool(mutations)
    assert decoder.errors == 0


LEVEL = st.tuples(st.sampled_from([BID, ASK]), st.integers(1, 60), st.integers(0, 5))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(LEVEL, max_size=8), min_size=1, max_size=25))
def test_generated_update_streams_match_a_model_book(batches) -> None:
    """Snapshot then updates built from a dict model with the rule's checksum: the decoder's
    book equals the model's top 400 after every message."""
    model: dict[int, dict[int, int]] = {BID: {p: 1 for p in range(1, 20)},
                                        ASK: {p: 1 for p in range(101, 120)}}

    def text(side: int, price: int) -> str:
        return f"{price if side == BID else price + 100}.5"

    def wire(side: int) -> list[list[str]]:
        ordered = sorted(model[side].items(), reverse=side == BID)
        return [[text(side, p), str(s), "0", "1"] for p, s in ordered]

    decoder, slot = decoder_with_book(scales=(1, 0))
    snapshot = message("snapshot", wire(BID), wire(ASK), 1, -1,
                       rule_checksum(wire(BID), wire(ASK)))
    decoder.feed(snapshot)
    go_live(decoder, slot)
    for seq, batch in enumerate(batches, start=2):
        changes: dict[int, list[list[str]]] = {BID: [], ASK: []}
        for side, price, size in batch:
            if size:
                model[side][price] = size
            else:
                model[side].pop(price, None)
            changes[side].append([text(side, price), str(size), "0", "1"])
        raw = message("update", changes[BID], changes[ASK], seq, seq - 1,
                      rule_checksum(wire(BID), wire(ASK)))
        assert decoder.feed(raw) & BOOKS, decoder.last_error
        for side in (BID, ASK):
            expected = sorted(((int(float(p) * 10), int(s)) for p, s, *_ in wire(side)),
                              reverse=side == BID)
            assert levels(decoder, slot, side) == expected
    assert decoder.stats()["errors"] == decoder.gaps == decoder.checksum_failures == 0


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(payload: bytes) -> None:
    decoder, _ = decoder_with_book()
    decoder.feed(payload)
    assert decoder.errors + decoder.unknown + len(decoder.take_control()) <= 1


def rest_body(bids, asks, seq: int, code: str = "0") -> bytes:
    """A ``GET /api/v5/market/books`` answer (OKX's REST order book, with its seqId)."""
    return json.dumps({"code": code, "msg": "", "data": [
        {"asks": asks, "bids": bids, "ts": "1597026383085", "seqId": seq}]}).encode()


def test_rest_snapshot_then_okx_first_update_rule_then_strict_chaining() -> None:
    """OKX's REST procedure: held updates the snapshot covers are dropped, the first applied
    satisfies prevSeqId <= snapshot seqId < seqId, later ones chain exactly."""
    decoder, slot = decoder_with_book()
    _, data = doc_snapshot()
    covered = message("update", [["8476.5", "9", "0", "1"]], [], 123450, 123440, 0)
    straddling = message("update", [["8476.5", "1", "0", "1"]], [], 123460, 123450, 0)
    following = message("update", [], [["8476.99", "3", "0", "1"]], 123461, 123460, 0)
    for raw in (covered, straddling, following):
        assert decoder.feed(raw) == 0
    decoder.apply_snapshot(slot, rest_body(data["bids"], data["asks"], 123456))
    assert decoder.sync_state(slot) == LIVE and decoder.book(slot).sequence == 123456
    assert decoder.replay_pending(slot) == BOOKS
    book = decoder.book(slot)
    assert book.sequence == 123461 and (847650, 10**8) in levels(decoder, slot, BID)
    assert (847699, 3 * 10**8) in levels(decoder, slot, ASK)
    assert decoder.stats()["gaps"] == 0 and book.valid


def test_a_rest_snapshot_older_than_the_first_held_update_is_a_gap() -> None:
    decoder, slot = decoder_with_book()
    _, data = doc_snapshot()
    decoder.feed(message("update", [], [], 123470, 123460, 0))
    decoder.apply_snapshot(slot, rest_body(data["bids"], data["asks"], 123456))
    assert decoder.replay_pending(slot) == RESYNC
    assert decoder.take_resync() == [(slot, "prevSeqId 123460 > snapshot seqId 123456")]


@pytest.mark.parametrize("body", [
    b'{"code":"51001","msg":"Instrument ID does not exist","data":[]}',
    b'{"code":"0","msg":"","data":[]}',
    b'{"code":"0","msg":"","data":[{"asks":[],"bids":[],"ts":"1"}]}',
    b'{"code":"0","msg":"","data":[{"asks":[["x","1","0","1"]],"bids":[],"seqId":5}]}',
    b'not json',
])
def test_a_bad_rest_snapshot_raises_and_the_book_stays_withdrawn(body: bytes) -> None:
    decoder, slot = decoder_with_book()
    with pytest.raises(DecodeError):
        decoder.apply_snapshot(slot, body)
    assert decoder.sync_state(slot) == WAITING and not decoder.book(slot).valid
