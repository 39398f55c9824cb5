"""Rows as text fields and back: the exact wire form the stdout and Redis sinks share.

Every price and size is an exact decimal string ("67012.5", never a float); times are integer
ns since the epoch. ``fields`` turns a batch into one ``{name: text}`` per row (one
``tolist`` per column, then plain Python per row: these sinks pay per row anyway), and
``event`` turns such fields back into the same typed events FeedHandler callbacks receive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
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
    number = batch.start
    for i, instrument_id in enumerate(columns["instrument"]):
        instrument = instruments[instrument_id]
        yield instrument, number + i, ROW_FIELDS[batch.channel](columns, i, instrument)


def _times(columns: dict[str, list[Any]], i: int) -> dict[str, str]:
    return {"ts_exchange": str(columns["ts_exchange"][i]),
            "ts_receive": str(columns["ts_receive"][i])}


def _trade(columns: dict[str, list[Any]], i: int, instrument: Instrument) -> dict[str, str]:
    return {"price": to_text(columns["price"][i], instrument.price_scale),
            "size": to_text(columns["size"][i], instrument.size_scale),
            "side": SIDE_NAMES[columns["side"][i]], "trade_id": str(columns["trade_id"][i]),
            **_times(columns, i)}


def _ticker(columns: dict[str, list[Any]], i: int, instrument: Instrument) -> dict[str, str]:
    price, size = instrument.price_scale, instrument.size_scale
    row = {"bid_price": to_text(columns["bid_price"][i], price),
           "bid_size": to_text(columns["bid_size"][i], size),
           "ask_price": to_text(columns["ask_price"][i], price),
           "ask_size": to_text(columns["ask_size"][i], size), **_times(columns, i)}
    if columns["last_price"][i]:
        row["last_price"] = to_text(columns["last_price"][i], price)
    return row


def _candle(columns: dict[str, list[Any]], i: int, instrument: Instrument) -> dict[str, str]:
    price = instrument.price_scale
    return {"interval": str(columns["interval"][i]), "open_time": str(columns["open_time"][i]),
            "open": to_text(columns["open"][i], price), "high": to_text(columns["high"][i], price),
            "low": to_text(columns["low"][i], price), "close": to_text(columns["close"][i], price),
            "volume": to_text(columns["volume"][i], instrument.size_scale),
            "closed": "1" if columns["closed"][i] else "0", **_times(columns, i)}


def _book(columns: dict[str, list[Any]], i: int, instrument: Instrument) -> dict[str, str]:
    row = {"sequence": str(columns["sequence"][i]), **_times(columns, i)}
    for side in ("bid", "ask"):
        count = columns[f"{side}_count"][i]
        prices, sizes = columns[f"{side}_price"][i], columns[f"{side}_size"][i]
        row[f"{side}s"] = json.dumps(
            [[to_text(prices[k], instrument.price_scale), to_text(sizes[k], instrument.size_scale)]
             for k in range(count)], separators=(",", ":"))
    return row


ROW_FIELDS = {Channel.TRADES: _trade, Channel.TICKER: _ticker, Channel.OHLCV: _candle,
              Channel.BOOK: _book}


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
            return BookUpdate(instrument, book, BookStatus.LIVE, False, "", book.sequence,
                              ts_exchange, ts_receive)
    raise ValueError(f"no events for channel {channel!r}")


def _levels(levels: list[list[str]], price: int, size: int) -> tuple[list[int], list[int]]:
    return [to_fixed(p, price) for p, _ in levels], [to_fixed(s, size) for _, s in levels]


def instrument_json(instrument: Instrument) -> str:
    """What a consumer needs to rebuild ``instrument`` (its id is the publisher's own)."""
    described = asdict(instrument)
    del described["id"]
    return json.dumps(described, separators=(",", ":"))


def instrument_from_json(instrument_id: int, text: str | bytes) -> Instrument:
    return Instrument(instrument_id, **json.loads(text))
