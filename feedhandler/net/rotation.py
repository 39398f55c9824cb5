"""Make before break: the replacement socket of a planned rotation, brought up beside the
socket it replaces.

A venue that announces a shutdown (Binance ``serverShutdown``) or a connection nearing its
documented lifetime (``VenueAdapter.connection_lifetime``) gets a replacement instead of a
reconnect. The replacement has its own decoder, fresh books and its own rings ("held" rows):
it subscribes everything and syncs every book through the adapter's usual ``sync_book`` while
the old socket keeps delivering. At the switch (``Connection.switch``, one step of the event
loop) the replacement's books are copied into the books the user holds, its decoder becomes
the connection's, and the held rows go into the shared rings by this handoff rule:

- a held trade is dropped when the shared ring still holds a row of the same instrument with
  the same trade id, exchange time, price, size and side (the old socket delivered it); every
  other held trade is appended, in the order the replacement received them;
- a held ticker or candle row is appended only when it is newer (exchange time; for candles
  open time, then exchange time) than the newest the shared ring holds for the same
  instrument (and candle interval): the old socket's are current until the switch.

So a trade that crossed the switch is delivered exactly once, as long as the shared ring still
holds the old socket's rows of the rotation (it keeps ``capacity`` rows; if the replacement
held more than its ring keeps, the rotation fails and falls back to a reconnect).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from feedhandler.auth.redact import redact
from feedhandler.core.rings import CandleRing, Ring, TickerRing, TradeRing
from feedhandler.exchanges.base import Rings, Subscription

if TYPE_CHECKING:
    from feedhandler.auth.credentials import AuthError
    from feedhandler.core.decoder import Decoder
    from feedhandler.net.connection import Connection, Dial

class RotationFailed(RuntimeError):
    """The replacement could not be made: the connection reconnects instead."""


def retained(ring: Ring) -> dict[str, np.ndarray]:
    """Every row ``ring`` still holds, oldest first, as one array per column."""
    reader = ring.reader(from_start=True)
    batches = []
    while reader.pending:
        batches.append(reader.read().columns)
    if not batches:
        return {name: column[:0] for name, column in ring.columns.items()}
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}


def held_rows(ring: Ring) -> dict[str, np.ndarray]:
    """Every row the replacement wrote into its own ``ring``; a ring that overwrote some of
    them cannot be handed over."""
    if ring.write_count > ring.capacity:
        raise RotationFailed(f"the replacement held more than {ring.capacity} rows")
    return retained(ring)


class Replacement:
    """The replacement socket of one rotation: its dial, its decoder (writing into held rings
    until the switch) and the ``Link`` the adapter subscribes and syncs books through."""

    def __init__(self, connection: Connection, dial: Dial, reason: str) -> None:
        self.connection = connection
        self.dial = dial
        self.reason = reason
        shared = connection.decoder
        self.rings = Rings(TradeRing(shared.trades.capacity), TickerRing(shared.tickers.capacity),
                           CandleRing(shared.candles.capacity))
        self.decoder: Decoder = connection.adapter.new_decoder(self.rings)
        for instrument in connection.slot_instruments:   # the same slots, in the same order
            self.decoder.add_instrument(instrument.venue_symbol, instrument.id,
                                        instrument.price_scale, instrument.size_scale)
        for slot, subscription in connection.book_subscriptions.items():
            self.decoder.set_book(slot, connection.book_factory(subscription))
        self.carried = frozenset(connection.subscriptions)
        self.failure: str | None = None
        self.failed = asyncio.Event()
        self.ended = asyncio.Event()          # switched, or given up
        self.announced: str | None = None     # a shutdown announced on the replacement

    # ---- the Link the adapter sees for the replacement socket --------------------------------

    def send(self, message: bytes | str) -> None:
        payload = message.encode() if isinstance(message, str) else message
        if not self.connection.write(self.dial, payload):
            self.connection.stale_sends += 1

    def reconnect(self, reason: str) -> None:
        self.fail(reason)

    def rotate(self, reason: str) -> None:
        """The replacement's own server announced a shutdown: the connection rotates again
        once it has switched to it."""
        self.announced = reason

    def refuse(self, subscriptions: Sequence[Subscription], reason: str) -> None:
        self.fail(f"refused on the replacement: {reason}")

    def authenticated(self) -> None:
        """Public streams only rotate: there is no login to answer."""

    def reject_auth(self, error: AuthError) -> None:
        self.fail(str(error))

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = redact(reason)
            self.failed.set()


def hand_over(held: Rings, shared: Rings, instruments: Sequence[int]) -> int:
    """Appends the rows a replacement ``held`` that the old socket did not deliver to the
    ``shared`` rings, by the rule in the module docstring (``instruments``: the connection's);
    returns the trades handed over."""
    ids = np.asarray(instruments, dtype=np.int32)
    trades = held_rows(held.trades)
    tickers = held_rows(held.tickers)
    candles = held_rows(held.candles)

    sent = retained(shared.trades)
    mine = np.isin(sent["instrument"], ids)
    delivered = set(zip(*(sent[name][mine].tolist() for name in TRADE_KEY), strict=True))
    handed = 0
    rows = zip(*(trades[name].tolist() for name in (*TRADE_KEY, "ts_receive")), strict=True)
    for *key, ts_receive in rows:
        if tuple(key) in delivered:
            continue
        instrument, ts_exchange, price, size, side, trade_id = key
        shared.trades.append(instrument, ts_exchange, ts_receive, price, size, side, trade_id)
        handed += 1

    sent = retained(shared.tickers)
    mine = np.isin(sent["instrument"], ids)
    newest_ticker: dict[int, int] = {}
    for instrument, ts_exchange in zip(sent["instrument"][mine].tolist(),
                                       sent["ts_exchange"][mine].tolist(), strict=True):
        newest_ticker[instrument] = max(newest_ticker.get(instrument, ts_exchange), ts_exchange)
    for row in zip(*(tickers[name].tolist() for name in TICKER_COLUMNS), strict=True):
        if row[1] > newest_ticker.get(row[0], -1):
            shared.tickers.append(*row)

    sent = retained(shared.candles)
    mine = np.isin(sent["instrument"], ids)
    newest: dict[tuple[int, int], tuple[int, int]] = {}
    for instrument, interval, open_time, ts_exchange in zip(
            *(sent[name][mine].tolist() for name in CANDLE_ORDER), strict=True):
        series, order = (instrument, interval), (open_time, ts_exchange)
        newest[series] = max(newest.get(series, order), order)
    for (instrument, ts_exchange, ts_receive, open_time, interval, open_, high, low, close,
         volume, closed) in zip(*(candles[name].tolist() for name in CANDLE_COLUMNS),
                                strict=True):
        if (open_time, ts_exchange) > newest.get((instrument, interval), (-1, -1)):
            shared.candles.append(instrument, ts_exchange, ts_receive, open_time, interval,
                                  open_, high, low, close, volume, bool(closed))
    return handed


TRADE_KEY = ("instrument", "ts_exchange", "price", "size", "side", "trade_id")
TICKER_COLUMNS = ("instrument", "ts_exchange", "ts_receive", "bid_price", "bid_size",
                  "ask_price", "ask_size", "last_price")
CANDLE_COLUMNS = ("instrument", "ts_exchange", "ts_receive", "open_time", "interval", "open",
                  "high", "low", "close", "volume", "closed")
CANDLE_ORDER = ("instrument", "interval", "open_time", "ts_exchange")
