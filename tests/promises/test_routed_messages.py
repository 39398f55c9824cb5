"""Promise: a message whose own fields contradict the stream it is routed by is never applied.

Where a venue's message names its stream twice (a topic or stream name, and a symbol, depth
or event type inside), a disagreement means the message cannot be trusted for the book or
ring it would land in: the decoder counts it (``misrouted``, and as a decode error) and applies
nothing. The same message with agreeing fields is applied, so each case shows the check and not
some other refusal. A book message on the book's own stream that is refused may have been the
book's next update: a live book is withdrawn for a resync (Bybit ``data.s``); one on another
depth's stream (Bybit ``orderbook.200`` for a depth-50 book) leaves the book alone.

Kraken (v2 ``data[].symbol``) and Coinbase (``product_id``) name the symbol once, as the routing
key itself: there is nothing to cross-check, so they have no case here.
"""

from __future__ import annotations

import json
from typing import Any

from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import BookSyncState, Decoded
from feedhandler.exchanges.binance.decoder import BinanceDecoder
from feedhandler.exchanges.bybit.decoder import BybitDecoder
from feedhandler.exchanges.gateio.decoder import GateioDecoder
from feedhandler.exchanges.htx.decoder import HtxDecoder
from feedhandler.exchanges.okx.decoder import OkxDecoder


def refused(decoder: object, flags: int, misrouted: int) -> bool:
    stats = decoder.stats()  # type: ignore[attr-defined]
    return bool(flags & Decoded.ERROR) and stats["misrouted"] == misrouted


def levels(book: OrderBook) -> tuple[list[int], list[int], list[int], list[int]]:
    bids, asks = book.levels(0), book.levels(1)
    return bids[0].tolist(), bids[1].tolist(), asks[0].tolist(), asks[1].tolist()


# ---- Bybit: topic depth and data.s -----------------------------------------------------------

def bybit_book(topic: str, kind: str, update: int, symbol: str = "BTCUSDT",
               bid: str = "100.0") -> bytes:
    return json.dumps({"topic": topic, "type": kind, "ts": 1700000000000 + update,
                       "data": {"s": symbol, "b": [[bid, "1"]], "a": [["101.0", "2"]],
                                "u": update, "seq": update}}).encode()


def bybit_live() -> tuple[BybitDecoder, OrderBook, int]:
    decoder = BybitDecoder(spot=False)
    book = OrderBook(1, 3)
    slot = decoder.add_instrument("BTCUSDT", 0, 1, 3, book)
    decoder.add_instrument("ETHUSDT", 1, 1, 3, OrderBook(1, 3))
    decoder.configure_book(slot, 50)
    decoder.feed(bybit_book("orderbook.50.BTCUSDT", "snapshot", 100))
    decoder.mark_live(slot)
    return decoder, book, slot


def test_bybit_delta_of_another_depth_is_refused_and_the_book_kept() -> None:
    decoder, book, _ = bybit_live()
    before = levels(book)
    flags = decoder.feed(bybit_book("orderbook.200.BTCUSDT", "delta", 101, bid="99.0"))
    assert refused(decoder, flags, 1)
    assert levels(book) == before and book.sequence == 100
    assert book.valid, "another depth's stream: this book missed nothing"
    # the same delta on the subscribed depth applies
    assert decoder.feed(bybit_book("orderbook.50.BTCUSDT", "delta", 101, bid="99.0")) \
        == Decoded.BOOKS
    assert book.sequence == 101 and book.bid_count == 2


def test_bybit_delta_naming_another_symbol_is_refused_and_the_book_withdrawn() -> None:
    decoder, book, slot = bybit_live()
    before = levels(book)
    flags = decoder.feed(bybit_book("orderbook.50.BTCUSDT", "delta", 101, symbol="ETHUSDT",
                                    bid="99.0"))
    assert refused(decoder, flags, 1)
    assert levels(book) == before and book.sequence == 100
    assert flags & Decoded.RESYNC and not book.valid
    assert decoder.sync_state(slot) == BookSyncState.WAITING
    assert [s for s, _ in decoder.take_resync()] == [slot]


def test_bybit_trade_and_ticker_naming_another_symbol_are_refused() -> None:
    decoder, _, _ = bybit_live()
    trade: dict[str, Any] = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1,
             "data": [{"T": 1, "s": "ETHUSDT", "S": "Buy", "v": "0.5", "p": "100.5",
                       "i": "2290-1"}]}
    assert refused(decoder, decoder.feed(json.dumps(trade).encode()), 1)
    ticker: dict[str, Any] = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1,
              "data": {"symbol": "ETHUSDT", "lastPrice": "100.5", "bid1Price": "100.0",
                       "bid1Size": "1", "ask1Price": "101.0", "ask1Size": "1"}}
    assert refused(decoder, decoder.feed(json.dumps(ticker).encode()), 2)
    assert decoder.trades.write_count == 0 and decoder.tickers.write_count == 0
    trade["data"][0]["s"] = "BTCUSDT"
    ticker["data"]["symbol"] = "BTCUSDT"
    assert decoder.feed(json.dumps(trade).encode()) == Decoded.TRADES
    assert decoder.feed(json.dumps(ticker).encode()) == Decoded.TICKERS


# ---- Binance: combined stream name vs the event's type and symbol ----------------------------

def binance_depth(stream: str, symbol: str, first: int, last: int, event: str = "depthUpdate"
                  ) -> bytes:
    return json.dumps({"stream": stream, "data": {
        "e": event, "E": 1, "s": symbol, "U": first, "u": last,
        "b": [["99.00", "1.0"]], "a": []}}).encode()


def binance_live() -> tuple[BinanceDecoder, OrderBook, int]:
    decoder = BinanceDecoder()
    book = OrderBook(2, 8)
    slot = decoder.add_instrument("BTCUSDT", 0, 2, 8, book)
    decoder.add_instrument("ETHUSDT", 1, 2, 8, OrderBook(2, 8))
    decoder.apply_snapshot(slot, b'{"lastUpdateId":100,"bids":[["100.00","1.0"]],'
                                 b'"asks":[["101.00","1.0"]]}')
    return decoder, book, slot


def test_binance_depth_whose_symbol_is_not_the_streams_is_refused() -> None:
    decoder, book, _ = binance_live()
    before = levels(book)
    flags = decoder.feed(binance_depth("ethusdt@depth@100ms", "BTCUSDT", 101, 101))
    assert refused(decoder, flags, 1)
    assert levels(book) == before and book.sequence == 100 and book.valid
    flags = decoder.feed(binance_depth("btcusdt@trade", "BTCUSDT", 101, 101))
    assert refused(decoder, flags, 2), "a depthUpdate on a trade stream"
    assert levels(book) == before
    assert decoder.feed(binance_depth("btcusdt@depth@100ms", "BTCUSDT", 101, 101)) \
        == Decoded.BOOKS
    assert book.sequence == 101 and book.bid_count == 2


def test_binance_trade_whose_symbol_is_not_the_streams_is_refused() -> None:
    decoder, _, _ = binance_live()
    trade = {"stream": "btcusdt@trade", "data": {"e": "trade", "E": 1, "s": "ETHUSDT",
                                                 "t": 5, "p": "100.50", "q": "0.1", "T": 1,
                                                 "m": True, "M": True}}
    assert refused(decoder, decoder.feed(json.dumps(trade).encode()), 1)
    assert decoder.trades.write_count == 0
    trade["data"]["s"] = "BTCUSDT"  # type: ignore[index]
    assert decoder.feed(json.dumps(trade).encode()) == Decoded.TRADES


# ---- OKX: arg.instId vs data[].instId --------------------------------------------------------

def test_okx_items_whose_inst_id_is_not_the_args_are_refused() -> None:
    decoder = OkxDecoder()
    book = OrderBook(1, 8, depth_limit=5)
    slot = decoder.add_instrument("BTC-USDT", 0, 1, 8, book)
    decoder.add_instrument("ETH-USDT", 1, 1, 8)
    trade = {"arg": {"channel": "trades", "instId": "BTC-USDT"},
             "data": [{"instId": "ETH-USDT", "tradeId": "1", "px": "100.5", "sz": "0.1",
                       "side": "buy", "ts": "1"}]}
    ticker = {"arg": {"channel": "tickers", "instId": "BTC-USDT"},
              "data": [{"instType": "SPOT", "instId": "ETH-USDT", "last": "100.5",
                        "bidPx": "100", "bidSz": "1", "askPx": "101", "askSz": "1",
                        "ts": "1"}]}
    books5 = {"arg": {"channel": "books5", "instId": "BTC-USDT"},
              "data": [{"asks": [["101", "1", "0", "1"]], "bids": [["100", "1", "0", "1"]],
                        "instId": "ETH-USDT", "ts": "1", "seqId": 5}]}
    assert refused(decoder, decoder.feed(json.dumps(trade).encode()), 1)
    assert refused(decoder, decoder.feed(json.dumps(ticker).encode()), 2)
    assert refused(decoder, decoder.feed(json.dumps(books5).encode()), 3)
    assert decoder.trades.write_count == 0 and decoder.tickers.write_count == 0
    assert book.bid_count == 0 and not decoder.snapshot_loaded(slot)
    for message in (trade, ticker, books5):
        message["data"][0]["instId"] = "BTC-USDT"  # type: ignore[index]
    assert decoder.feed(json.dumps(trade).encode()) == Decoded.TRADES
    assert decoder.feed(json.dumps(ticker).encode()) == Decoded.TICKERS
    decoder.feed(json.dumps(books5).encode())
    assert decoder.snapshot_loaded(slot) and book.bid_count == 1


# ---- Gate.io: spot.obu levels vs the book's depth --------------------------------------------

def gateio_obu(symbol: str) -> bytes:
    return json.dumps({"channel": "spot.obu", "time_ms": 1, "result": {
        "t": 1, "full": True, "s": symbol, "u": 500, "b": [["100", "1"]],
        "a": [["101", "1"]]}}).encode()


def test_gateio_obu_push_of_another_depth_is_refused() -> None:
    decoder = GateioDecoder()
    book = OrderBook(8, 8, depth_limit=50)
    slot = decoder.add_instrument("BTC_USDT", 0, 8, 8, book)
    assert refused(decoder, decoder.feed(gateio_obu("ob.BTC_USDT.400")), 1)
    assert book.bid_count == 0 and decoder.snapshot_count(slot) == 0
    decoder.feed(gateio_obu("ob.BTC_USDT.50"))
    assert decoder.snapshot_count(slot) == 1 and book.bid_count == 1


# ---- HTX: ch depth and the bbo tick's symbol -------------------------------------------------

def test_htx_mbp_of_another_depth_and_bbo_of_another_symbol_are_refused() -> None:
    decoder = HtxDecoder()
    book = OrderBook(2, 6, depth_limit=20)
    slot = decoder.add_instrument("btcusdt", 0, 2, 6, book)
    decoder.add_instrument("ethusdt", 1, 2, 6)
    decoder.feed(b'{"id":"1","rep":"market.btcusdt.mbp.20","status":"ok","data":{"seqNum":1,'
                 b'"bids":[[100,1]],"asks":[[101,1]]}}')
    decoder.mark_live(slot)
    update = (b'{"ch":"market.btcusdt.mbp.%d","ts":1,"tick":{"seqNum":2,"prevSeqNum":1,'
              b'"bids":[[99,1]]}}')
    before = levels(book)
    assert refused(decoder, decoder.feed(update % 150), 1)
    assert levels(book) == before and book.valid
    bbo = (b'{"ch":"market.btcusdt.bbo","ts":1,"tick":{"seqId":1,"ask":101,"askSize":1,'
           b'"bid":100,"bidSize":1,"quoteTime":1,"symbol":"%s"}}')
    assert refused(decoder, decoder.feed(bbo % b"ethusdt"), 2)
    assert decoder.tickers.write_count == 0
    assert decoder.feed(update % 20) == Decoded.BOOKS and book.bid_count == 2
    assert decoder.feed(bbo % b"btcusdt") == Decoded.TICKERS
