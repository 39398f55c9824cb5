"""Rows as text fields and back: the exact wire form the stdout and Redis sinks share.

Every price and size is an exact decimal string ("67012.5", never a float); times are integer
ns since the epoch. ``fields`` turns a batch into one ``{name: text}`` per row (one
``tolist`` per column, then plain Python per row: these sinks pay per row anyway), and
``event`` turns such fields back into the same typed events FeedHandler callbacks receive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from feedhandler.core.book import OrderBook
from feedhandler.core.fixedpoint import to_fixed, to_text
from feedhandler.events import SIDES, BookStatus, BookUpdate, Candle, Event, Ticker, Trade
from feedhandler.exchanges.base import Channel, Instrument
from feedhandler.sinks.base import Batch

SIDE_NAMES = {1: "buy", -1: "sell", 0: "unknown"}
SIDE_VALUES = {name: value for value, name in SIDE_NAMES.items()}

Row = tuple[Instrument, int, dict[str, str]]   # instrument, row number, fields


def fields(batch: Batch, instruments: Sequence[Instrument]) -> Iterator[Row]:
    """Each row of ``batch`` as text fields, with its instrument and row number."""
    columns = {name: column.tolist() for name, column in batch.columns.items()}
    rows = ROW_FIELDS[batch.channel](columns, [instruments[i] for i in columns["instrument"]])
    for number, (instrument, row) in enumerate(rows, batch.start):
        yield instrument, number, row


Columns = dict[str, list[Any]]
Fields = Iterator[tuple[Instrument, dict[str, str]]]


def _trades(columns: Columns, instruments: list[Instrument]) -> Fields:
    for instrument, price, size, side, trade_id, ts_exchange, ts_receive in zip(
            instruments, columns["price"], columns["size"], columns["side"],
            columns["trade_id"], columns["ts_exchange"], columns["ts_receive"], strict=True):
        yield instrument, {
            "price": to_text(price, instrument.price_scale),
            "size": to_text(size, instrument.size_scale), "side": SIDE_NAMES[side],
            "trade_id": str(trade_id), "ts_exchange": str(ts_exchange),
            "ts_receive": str(ts_receive)}


def _tickers(columns: Columns, instruments: list[Instrument]) -> Fields:
    for instrument, bid, bid_size, ask, ask_size, last, ts_exchange, ts_receive in zip(
            instruments, columns["bid_price"], columns["bid_size"], columns["ask_price"],
            columns["ask_size"], columns["last_price"], columns["ts_exchange"],
            columns["ts_receive"], strict=True):
        price, size = instrument.price_scale, instrument.size_scale
        row = {"bid_price": to_text(bid, price), "bid_size": to_text(bid_size, size),
               "ask_price": to_text(ask, price), "ask_size": to_text(ask_size, size),
               "ts_exchange": str(ts_exchange), "ts_receive": str(ts_receive)}
        if last:
            row["last_price"] = to_text(last, price)
        yield instrument, row


def _candles(columns: Columns, instruments: list[Instrument]) -> Fields:
    for (instrument, interval, open_time, open_, high, low, close, volume, closed, ts_exchange,
         ts_receive) in zip(instruments, columns["interval"], columns["open_time"],
                            columns["open"], columns["high"], columns["low"], columns["close"],
                            columns["volume"], columns["closed"], columns["ts_exchange"],
                            columns["ts_receive"], strict=True):
        price = instrument.price_scale
        yield instrument, {
            "interval": str(interval), "open_time": str(open_time),
            "open": to_text(open_, price), "high": to_text(high, price),
            "low": to_text(low, price), "close": to_text(close, price),
            "volume": to_text(volume, instrument.size_scale), "closed": "1" if closed else "0",
            "ts_exchange": str(ts_exchange), "ts_receive": str(ts_receive)}


def _books(columns: Columns, instruments: list[Instrument]) -> Fields:
    for i, instrument in enumerate(instruments):
        row = {"sequence": str(columns["sequence"][i]),
               "ts_exchange": str(columns["ts_exchange"][i]),
               "ts_receive": str(columns["ts_receive"][i])}
        for side in ("bid", "ask"):
            count = columns[f"{side}_count"][i]
            prices, sizes = columns[f"{side}_price"][i], columns[f"{side}_size"][i]
            row[f"{side}s"] = json.dumps(
                [[to_text(prices[k], instrument.price_scale),
                  to_text(sizes[k], instrument.size_scale)] for k in range(count)],
                separators=(",", ":"))
        yield instrument, row


ROW_FIELDS = {Channel.TRADES: _trades, Channel.TICKER: _tickers, Channel.OHLCV: _candles,
              Channel.BOOK: _books}


# ---- back to events --------------------------------------------------------------------------

def event(channel: Channel, instrument: Instrument, row: Mapping[str, str]) -> Event:
    """The typed event a FeedHandler callback would have received for ``row``; a book
    snapshot becomes a LIVE ``BookUpdate`` whose book holds the snapshot's levels."""
    price, size = instrument.price_scale, instrument.size_scale
    ts_exchange, ts_receive = int(row["ts_exchange"]), int(row["ts_receive"])
    match channel:
        case Channel.TRADES:
            return Trade(instrument, to_fixed(row["price"], price), to_fixed(row["size"], size),
                         SIDES[SIDE_VALUES[row["side"]]], int(row["trade_id"]), ts_exchange,
                         ts_receive)
        case Channel.TICKER:
            last = row.get("last_price")
            return Ticker(instrument, to_fixed(row["bid_price"], price),
                          to_fixed(row["bid_size"], size), to_fixed(row["ask_price"], price),
                          to_fixed(row["ask_size"], size), to_fixed(last, price) if last else 0,
                          ts_exchange, ts_receive)
        case Channel.OHLCV:
            return Candle(instrument, int(row["interval"]), int(row["open_time"]),
                          to_fixed(row["open"], price), to_fixed(row["high"], price),
                          to_fixed(row["low"], price), to_fixed(row["close"], price),
                          to_fixed(row["volume"], size), row["closed"] == "1", ts_exchange,
                          ts_receive)
        case Channel.BOOK:
            bids, asks = json.loads(row["bids"]), json.loads(row["asks"])
            book = OrderBook(price_scale=price, size_scale=size,
                             depth_limit=max(len(bids), len(asks), 1))
            book.replace(*_levels(bids, price, size), *_levels(asks, price, size))
            book.valid = True
            book.sequence = int(row["sequence"])
            book.ts_exchange, book.ts_receive = ts_exchange, ts_receive
            return BookUpdate.capture(instrument, book, BookStatus.LIVE, False, "")
    raise ValueError(f"no events for channel {channel!r}")


def _levels(levels: list[list[str]], price: int, size: int) -> tuple[list[int], list[int]]:
    return [to_fixed(p, price) for p, _ in levels], [to_fixed(s, size) for _, s in levels]


def instrument_json(instrument: Instrument) -> str:
    """What a consumer needs to rebuild ``instrument`` (its id is the publisher's own)."""
    return json.dumps(instrument.to_dict(), separators=(",", ":"))


def instrument_from_json(instrument_id: int, text: str | bytes) -> Instrument:
    return Instrument.from_dict(json.loads(text), instrument_id)
