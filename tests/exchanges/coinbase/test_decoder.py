"""CoinbaseDecoder against the payload examples of Coinbase's docs, the sequence_num rules,
snapshots, candles, garbage and hypothesis-generated streams checked against a model."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState
from feedhandler.exchanges.coinbase.decoder import CoinbaseDecoder

TRADES, TICKERS, CANDLES, BOOKS, CONTROL, ERROR, RESYNC = 1, 2, 4, 8, 16, 32, 64
LIVE, WAITING = BookSyncState.LIVE, BookSyncState.WAITING
P, S = 10, 8        # the price and size scales the Coinbase adapter uses

# verbatim from "Advanced Trade WebSocket Channels",
# https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-channels
DOC_HEARTBEATS = b"""{
  "channel": "heartbeats",
  "client_id": "",
  "timestamp": "2023-06-23T20:31:26.122969572Z",
  "sequence_num": 0,
  "events": [
    {
      "current_time": "2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
      "heartbeat_counter": "3049"
    }
  ]
}"""
DOC_CANDLES = b"""{
  "channel": "candles",
  "client_id": "",
  "timestamp": "2023-06-09T20:19:35.39625135Z",
  "sequence_num": 0,
  "events": [
    {
      "type": "snapshot",
      "candles": [
        {
          "start": "1688998200",
          "high": "1867.72",
          "low": "1865.63",
          "open": "1867.38",
          "close": "1866.81",
          "volume": "0.20269406",
          "product_id": "ETH-USD"
        }
      ]
    }
  ]
}"""
DOC_MARKET_TRADES = b"""{
  "channel": "market_trades",
  "client_id": "",
  "timestamp": "2023-02-09T20:19:35.39625135Z",
  "sequence_num": 0,
  "events": [
    {
      "type": "snapshot",
      "trades": [
        {
          "trade_id": "000000000",
          "product_id": "ETH-USD",
          "price": "1260.01",
          "size": "0.3",
          "side": "BUY",
          "time": "2019-08-14T20:42:27.265Z"
        }
      ]
    }
  ]
}"""
DOC_STATUS = b"""{
  "channel": "status",
  "client_id": "",
  "timestamp": "2023-02-09T20:29:49.753424311Z",
  "sequence_num": 0,
  "events": [
    {
      "type": "snapshot",
      "products": [
        {
          "product_type": "SPOT",
          "id": "BTC-USD",
          "base_currency": "BTC",
          "quote_currency": "USD",
          "base_increment": "0.00000001",
          "quote_increment": "0.01",
          "display_name": "BTC/USD",
          "status": "online",
          "status_message": "",
          "min_market_funds": "1"
        }
      ]
    }
  ]
}"""
DOC_TICKER = b"""{
  "channel": "ticker",
  "client_id": "",
  "timestamp": "2023-02-09T20:30:37.167359596Z",
  "sequence_num": 0,
  "events": [
    {
      "type": "snapshot",
      "tickers": [
        {
          "type": "ticker",
          "product_id": "BTC-USD",
          "price": "21932.98",
          "volume_24_h": "16038.28770938",
          "low_24_h": "21835.29",
          "high_24_h": "23011.18",
          "low_52_w": "15460",
          "high_52_w": "48240",
          "price_percent_chg_24_h": "-4.15775596190603",
          "best_bid": "21931.98",
          "best_bid_quantity": "8000.21",
          "best_ask": "21933.98",
          "best_ask_quantity": "8038.07770938"
        }
      ]
    }
  ]
}"""
DOC_LEVEL2 = b"""{
  "channel": "l2_data",
  "client_id": "",
  "timestamp": "2023-02-09T20:32:50.714964855Z",
  "sequence_num": 0,
  "events": [
    {
      "type": "snapshot",
      "product_id": "BTC-USD",
      "updates": [
        {
          "side": "bid",
          "event_time": "1970-01-01T00:00:00Z",
          "price_level": "21921.73",
          "new_quantity": "0.06317902"
        },
        {
          "side": "bid",
          "event_time": "1970-01-01T00:00:00Z",
          "price_level": "21921.3",
          "new_quantity": "0.02"
        }
      ]
    }
  ]
}"""


def ns(text: str) -> int:
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0"))


def units(text: str, scale: int) -> int:
    whole, _, fraction = text.partition(".")
    return int(whole + fraction.ljust(scale, "0"))


def with_books(*products: str, max_levels: int = 65536):
    decoder = CoinbaseDecoder()
    books = []
    for instrument, product in enumerate(products):
        book = OrderBook(P, S, max_levels=max_levels)
        decoder.add_instrument(product, instrument, P, S, book)
        books.append(book)
    return decoder, books


def message(channel: str, sequence: int | None, events: list, **extra) -> bytes:
    body: dict = {"channel": channel, "timestamp": "2023-02-09T20:32:50.714964855Z", **extra}
    if sequence is not None:
        body["sequence_num"] = sequence
    body["events"] = events
    return json.dumps(body).encode()


def level2(sequence: int | None, kind: str, product: str, *levels: tuple[str, str, str]) -> bytes:
    return message("l2_data", sequence, [{"type": kind, "product_id": product, "updates": [
        {"side": side, "event_time": "2023-02-09T20:32:50.7Z", "price_level": price,
         "new_quantity": size} for side, price, size in levels]}])


def trades(sequence: int, kind: str, *rows: tuple[str, str, str]) -> bytes:
    return message("market_trades", sequence, [{"type": kind, "trades": [
        {"trade_id": trade_id, "product_id": "BTC-USD", "price": "100.5", "size": "0.1",
         "side": side, "time": "2023-02-09T20:19:35.1Z"} for trade_id, side, _ in rows]}])


def levels(book, side: int) -> dict[int, int]:
    prices, sizes = book.levels(side)
    return dict(zip(prices.tolist(), sizes.tolist(), strict=True))


def rows(ring) -> list[dict]:
    batch = ring.reader(from_start=True).read()
    names = list(batch.columns)
    return [dict(zip(names, values, strict=True))
            for values in zip(*(batch.columns[n].tolist() for n in names), strict=True)]


# ---- the documentation's examples ------------------------------------------------------------

def test_doc_heartbeats_status_and_errors_go_to_python() -> None:
    decoder = CoinbaseDecoder()
    error = b'{"type":"error","message":"Failed to subscribe"}'
    assert decoder.feed(DOC_HEARTBEATS) == CONTROL
    assert decoder.feed(DOC_STATUS.replace(b'"sequence_num": 0', b'"sequence_num": 1')) \
        == CONTROL
    assert decoder.feed(error) == CONTROL
    assert decoder.take_control() == [DOC_HEARTBEATS, DOC_STATUS.replace(
        b'"sequence_num": 0', b'"sequence_num": 1'), error]
    assert decoder.sequence == 1 and decoder.errors == 0


def test_doc_candle_is_an_open_five_minute_candle() -> None:
    decoder = CoinbaseDecoder()
    decoder.add_instrument("ETH-USD", 5, P, S)
    assert decoder.feed(DOC_CANDLES, ts_receive=7) == CANDLES
    [row] = rows(decoder.candles)
    assert row["instrument"] == 5 and row["interval"] == 300 and row["closed"] == 0
    assert row["open_time"] == 1688998200 * 1_000_000_000
    assert (row["open"], row["high"], row["low"], row["close"]) == (
        units("1867.38", P), units("1867.72", P), units("1865.63", P), units("1866.81", P))
    assert row["volume"] == units("0.20269406", S)
    assert row["ts_exchange"] == ns("2023-06-09T20:19:35.39625135Z") and row["ts_receive"] == 7


def test_doc_market_trades_snapshot_is_history_and_the_side_is_the_makers() -> None:
    decoder = CoinbaseDecoder()
    decoder.add_instrument("ETH-USD", 2, P, S)
    assert decoder.feed(DOC_MARKET_TRADES) == 0     # trades from before the subscription
    live = DOC_MARKET_TRADES.replace(b'"snapshot"', b'"update"').replace(
        b'"trade_id": "000000000"', b'"trade_id": "000000001"').replace(
        b'"sequence_num": 0', b'"sequence_num": 1')
    assert decoder.feed(live, ts_receive=9) == TRADES
    [row] = rows(decoder.trades)
    assert row["instrument"] == 2 and row["trade_id"] == 1
    assert row["side"] == -1            # the maker bought: the taker sold
    assert (row["price"], row["size"]) == (units("1260.01", P), units("0.3", S))
    assert row["ts_exchange"] == ns("2019-08-14T20:42:27.265Z") and row["ts_receive"] == 9


def test_doc_ticker() -> None:
    decoder = CoinbaseDecoder()
    decoder.add_instrument("BTC-USD", 1, P, S)
    assert decoder.feed(DOC_TICKER) == TICKERS
    [row] = rows(decoder.tickers)
    assert (row["bid_price"], row["bid_size"]) == (units("21931.98", P), units("8000.21", S))
    assert (row["ask_price"], row["ask_size"]) == (units("21933.98", P),
                                                   units("8038.07770938", S))
    assert row["last_price"] == units("21932.98", P)
    assert row["ts_exchange"] == ns("2023-02-09T20:30:37.167359596Z")


def test_doc_level2_snapshot_makes_the_book_live_and_quiet_until_announced() -> None:
    decoder, (book,) = with_books("BTC-USD")
    assert decoder.sync_state(0) == WAITING and not book.valid
    assert decoder.feed(DOC_LEVEL2, ts_receive=3) == 0      # the sync announces it
    assert decoder.sync_state(0) == LIVE and book.valid
    assert levels(book, 0) == {units("21921.73", P): units("0.06317902", S),
                               units("21921.3", P): units("0.02", S)}
    assert levels(book, 1) == {}
    assert book.sequence == 0 and book.ts_receive == 3
    assert book.ts_exchange == ns("2023-02-09T20:32:50.714964855Z")
    update = level2(1, "update", "BTC-USD", ("offer", "21922", "1.5"),
                    ("bid", "21921.3", "0"))
    assert decoder.feed(update) == 0
    assert decoder.take_dirty() == []
    decoder.announce(0)
    assert decoder.feed(level2(2, "update", "BTC-USD", ("offer", "21922", "2"))) == BOOKS
    assert decoder.take_dirty() == [0]
    assert levels(book, 0) == {units("21921.73", P): units("0.06317902", S)}
    assert levels(book, 1) == {units("21922", P): units("2", S)}


# ---- sequence_num ------------------------------------------------------------------------------

def live_books(*products: str):
    decoder, books = with_books(*products)
    for sequence, product in enumerate(products):
        decoder.feed(level2(sequence, "snapshot", product, ("bid", "100", "1"),
                            ("offer", "101", "1")))
        decoder.announce(sequence)
    return decoder, books


def test_a_gap_withdraws_every_book_of_the_connection() -> None:
    decoder, books = live_books("BTC-USD", "ETH-USD", "SOL-USD")
    decoder.mark_waiting(2)                         # its sync is already running
    flags = decoder.feed(trades(5, "update", ("7", "SELL", "")))
    assert flags == RESYNC | TRADES                 # the trade itself is fine
    assert decoder.take_resync() == [
        (slot, "sequence_num 5 after 2: 2 message(s) lost") for slot in range(3)]
    assert not any(book.valid for book in books) and decoder.gaps == 3
    assert rows(decoder.trades)[0]["side"] == 1     # the maker sold: the taker bought
    # updates wait for the snapshot, which replaces the book
    assert decoder.feed(level2(6, "update", "BTC-USD", ("bid", "99", "5"))) == 0
    assert decoder.feed(level2(7, "snapshot", "BTC-USD", ("bid", "98", "2"))) == 0
    assert levels(books[0], 0) == {units("98", P): units("2", S)} and books[0].valid


def test_a_restarted_numbering_withdraws_live_books_only() -> None:
    decoder, _ = live_books("BTC-USD", "ETH-USD")
    decoder.mark_waiting(1)                         # e.g. the socket was renewed
    assert decoder.feed(message("subscriptions", 0, [{"subscriptions": {}}])) \
        == RESYNC | CONTROL
    assert decoder.take_resync() == [(0, "sequence_num restarted at 0 after 1")]
    assert decoder.restarts == 1 and decoder.sequence == 0
    assert decoder.feed(level2(1, "snapshot", "ETH-USD", ("bid", "1", "1"))) == 0
    assert decoder.feed(level2(1, "update", "ETH-USD", ("bid", "2", "1"))) == RESYNC
    assert decoder.restarts == 2


def test_every_channel_takes_a_number() -> None:
    decoder, _ = live_books("BTC-USD")
    stream = [DOC_HEARTBEATS, DOC_TICKER, DOC_MARKET_TRADES, DOC_CANDLES, DOC_STATUS,
              b'{"channel":"user","sequence_num":0,"events":[]}']
    for sequence, raw in enumerate(stream, start=1):
        flags = decoder.feed(raw.replace(b'"sequence_num": 0', f'"sequence_num": {sequence}'
                                         .encode()).replace(b'"sequence_num":0',
                                                            f'"sequence_num":{sequence}'.encode()))
        assert not flags & RESYNC, raw
    assert decoder.sequence == len(stream) and decoder.gaps == 0 and decoder.unknown == 3


def test_l2_data_without_sequence_num_cannot_be_trusted() -> None:
    decoder, books = live_books("BTC-USD")
    assert decoder.feed(level2(None, "update", "BTC-USD", ("bid", "99", "1"))) == ERROR | RESYNC
    assert not books[0].valid and levels(books[0], 0) == {units("100", P): units("1", S)}


# ---- book rules --------------------------------------------------------------------------------

def test_a_snapshot_on_a_live_book_replaces_it_and_is_reported() -> None:
    decoder, books = live_books("BTC-USD")
    assert decoder.feed(level2(1, "snapshot", "BTC-USD", ("offer", "102", "3"),
                               ("ask", "103", "1"))) == BOOKS
    assert levels(books[0], 0) == {} and levels(books[0], 1) == {
        units("102", P): units("3", S), units("103", P): units("1", S)}


@pytest.mark.parametrize("bad", [
    ("sell", "99", "1"), ("bid", "abc", "1"), ("bid", "99", "-"), ("bid", "99", "1e400")])
def test_a_malformed_level_withdraws_every_book(bad) -> None:
    decoder, books = live_books("BTC-USD", "ETH-USD")
    flags = decoder.feed(level2(2, "update", "BTC-USD", ("bid", "99.5", "1"), bad))
    assert flags & ERROR and flags & RESYNC
    assert sorted(slot for slot, _ in decoder.take_resync()) == [0, 1]
    assert not any(book.valid for book in books)


def test_a_level_missing_a_field_is_malformed() -> None:
    decoder, books = live_books("BTC-USD")
    raw = message("l2_data", 1, [{"type": "update", "product_id": "BTC-USD",
                                  "updates": [{"side": "bid", "price_level": "99"}]}])
    assert decoder.feed(raw) & ERROR and not books[0].valid


def test_a_book_that_refuses_a_level_or_crosses_is_withdrawn() -> None:
    decoder, (book,) = with_books("BTC-USD", max_levels=1)
    flags = decoder.feed(level2(0, "snapshot", "BTC-USD", ("bid", "99", "1"), ("bid", "98", "1")))
    assert flags == RESYNC and decoder.take_resync() == [(0, "book rejected a level")]
    assert not book.valid and decoder.sync_state(0) == WAITING
    flags = decoder.feed(level2(1, "snapshot", "BTC-USD", ("bid", "101", "1"),
                                ("offer", "100", "1")))
    assert flags == RESYNC and decoder.take_resync() == [(0, "crossed book")]


def test_events_of_unknown_products_are_skipped_and_the_rest_applied() -> None:
    decoder, books = live_books("BTC-USD")
    raw = message("l2_data", 1, [
        {"type": "update", "product_id": "DOGE-USD", "updates": [
            {"side": "bid", "event_time": "", "price_level": "1", "new_quantity": "1"}]},
        {"type": "update", "product_id": "BTC-USD", "updates": [
            {"side": "bid", "event_time": "", "price_level": "99", "new_quantity": "4"}]}])
    assert decoder.feed(raw) == BOOKS and decoder.unknown == 1
    assert levels(books[0], 0) == {units("100", P): units("1", S), units("99", P): units("4", S)}


def test_any_key_order() -> None:
    decoder, books = with_books("BTC-USD")
    raw = (b'{"events":[{"updates":[{"new_quantity":"2","price_level":"99.5","event_time":"",'
           b'"side":"bid"}],"product_id":"BTC-USD","type":"snapshot"}],"sequence_num":4,'
           b'"timestamp":"2023-02-09T20:32:50Z","channel":"l2_data"}')
    assert decoder.feed(raw) == 0 and books[0].valid and decoder.sequence == 4
    assert levels(books[0], 0) == {units("99.5", P): units("2", S)}


# ---- trades, tickers, candles --------------------------------------------------------------------

def test_trade_ids_that_are_not_int64_integers_are_kept_unknown() -> None:
    decoder = CoinbaseDecoder()
    decoder.add_instrument("BTC-USD", 0, P, S)
    raw = trades(0, "update", ("a1b2", "SELL", ""), ("99999999999999999999", "BUY", ""),
                 ("42", "OTHER", ""))
    assert decoder.feed(raw) == TRADES
    assert [(r["trade_id"], r["side"]) for r in rows(decoder.trades)] == [
        (-1, 1), (-1, -1), (42, 0)]


def test_a_trades_snapshot_passes_on_only_trades_newer_than_those_seen() -> None:
    decoder = CoinbaseDecoder()
    decoder.add_instrument("BTC-USD", 0, P, S)
    assert decoder.feed(trades(0, "snapshot", ("10", "BUY", ""), ("9", "BUY", ""))) == 0
    assert decoder.feed(trades(1, "update", ("11", "BUY", ""))) == TRADES
    # a reconnect: the snapshot repeats 11 and brings 12 and 13, newest first
    assert decoder.feed(trades(0, "snapshot", ("13", "BUY", ""), ("12", "SELL", ""),
                               ("11", "BUY", ""))) == TRADES
    assert [r["trade_id"] for r in rows(decoder.trades)] == [11, 13, 12]


def test_ticker_batch_has_no_best_bid_or_ask() -> None:
    decoder = CoinbaseDecoder()
    decoder.add_instrument("BTC-USD", 0, P, S)
    raw = message("ticker_batch", 0, [{"type": "update", "tickers": [
        {"type": "ticker", "product_id": "BTC-USD", "price": "101.25"}]}])
    assert decoder.feed(raw) == TICKERS
    [row] = rows(decoder.tickers)
    assert row["last_price"] == units("101.25", P)
    assert row["bid_price"] == row["ask_price"] == row["bid_size"] == row["ask_size"] == 0


def candle(sequence: int, start: int, close: str) -> bytes:
    return message("candles", sequence, [{"type": "update", "candles": [
        {"start": str(start), "high": "110", "low": "90", "open": "100", "close": close,
         "volume": "3", "product_id": "BTC-USD"}]}])


def test_a_candle_is_closed_by_the_next_one_with_its_last_values() -> None:
    decoder = CoinbaseDecoder()
    decoder.add_instrument("BTC-USD", 0, P, S)
    for sequence, (start, close) in enumerate([(600, "101"), (600, "102"), (900, "103"),
                                               (300, "99")]):
        assert decoder.feed(candle(sequence, start, close)) == CANDLES
    assert [(r["open_time"] // 10**9, r["close"] // 10**P, r["closed"])
            for r in rows(decoder.candles)] == [
        (600, 101, 0), (600, 102, 0), (600, 102, 1), (900, 103, 0), (300, 99, 1)]


# ---- garbage and generated streams -------------------------------------------------------------

def test_garbage_is_counted_never_fatal() -> None:
    decoder, books = live_books("BTC-USD")
    garbage = [b"", b"not json", b"[1,2]", b'{"channel":5}', b'{"channel":"l2_data"',
               b'{"channel":"l2_data","sequence_num":1,"events":[{"type":"update",'
               b'"product_id":"BTC-USD","updates":[{"side":1}]}]}',
               b'{"channel":"ticker","sequence_num":"x"}', b'{"foo":1}',
               b'{"channel":"market_trades","sequence_num":2,"events":{}}',
               b'{"channel":"candles","sequence_num":3,"events":[{"candles":[{"start":"x",'
               b'"product_id":"BTC-USD"}]}]}']
    for raw in garbage[:5]:
        decoder.feed(raw)
    assert decoder.errors == 5 and books[0].valid     # no number read: nothing known lost
    assert decoder.feed(garbage[5]) == ERROR | RESYNC     # an unreadable level2 update
    assert not books[0].valid
    for raw in garbage[6:]:
        decoder.feed(raw)
    assert decoder.errors == 9 and decoder.unknown == 1 and decoder.messages == 11


documents = [DOC_HEARTBEATS, DOC_CANDLES, DOC_MARKET_TRADES, DOC_STATUS, DOC_TICKER, DOC_LEVEL2,
             level2(1, "update", "BTC-USD", ("bid", "21921.5", "3"), ("offer", "21930", "0"))]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(documents), st.integers(0, 600),
                          st.integers(0, 255)), max_size=20))
def test_mutated_documents_never_crash_nor_leave_a_live_book_crossed(edits) -> None:
    decoder, books = with_books("BTC-USD", "ETH-USD")
    for raw, position, byte in edits:
        mutated = bytearray(raw)
        if mutated:
            mutated[position % len(mutated)] = byte
        decoder.feed(bytes(mutated[:len(mutated) - position % 7]))
    for slot, book in enumerate(books):
        if book.valid:
            assert decoder.sync_state(slot) == LIVE and not book.is_crossed


@st.composite
def streams(draw):
    """Snapshots and updates of one book with bids below 100 and asks above, numbered with
    occasional gaps and restarts."""
    steps = []
    sequence = 0
    for _ in range(draw(st.integers(1, 40))):
        jump = draw(st.sampled_from([1] * 8 + [2, 3, -2]))
        sequence = max(0, sequence + jump)
        kind = draw(st.sampled_from(["snapshot", "update", "update", "update"]))
        changes = draw(st.lists(st.tuples(st.booleans(), st.integers(1, 30),
                                          st.integers(0, 5)), max_size=6))
        steps.append((sequence, kind, changes))
    return steps


@settings(max_examples=300, deadline=None)
@given(streams())
def test_a_live_book_always_equals_a_model_of_the_documented_rules(stream) -> None:
    decoder, (book,) = with_books("BTC-USD")
    live, last, model = False, None, {0: {}, 1: {}}
    for sequence, kind, changes in stream:
        if last is not None and sequence != last + 1:
            live = False                  # a gap, or a restart while live
        last = sequence
        if kind == "snapshot":
            model, live = {0: {}, 1: {}}, True
        if kind == "snapshot" or live:
            for is_bid, offset, size in changes:
                price = 100 - offset if is_bid else 100 + offset
                side = model[0 if is_bid else 1]
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
        levels_ = [("bid" if is_bid else "offer", str(100 - offset if is_bid else 100 + offset),
                    str(size)) for is_bid, offset, size in changes]
        decoder.feed(level2(sequence, kind, "BTC-USD", *levels_))
        decoder.take_resync()
        assert book.valid == live == (decoder.sync_state(0) == LIVE)
        if live:
            assert levels(book, 0) == {units(str(p), P): units(str(s), S)
                                       for p, s in model[0].items()}
            assert levels(book, 1) == {units(str(p), P): units(str(s), S)
                                       for p, s in model[1].items()}
