"""hand_over: the rows a rotation's replacement held, put into the shared rings once."""

from __future__ import annotations

import pytest

from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges.base import Rings
from feedhandler.net.rotation import RotationFailed, hand_over, retained

MINE, OTHER = 1, 2


def rings(capacity: int = 64) -> Rings:
    return Rings(TradeRing(capacity), TickerRing(capacity), CandleRing(capacity))


def trade(ring: TradeRing, instrument: int, trade_id: int, ts: int = 0) -> None:
    ring.append(instrument, ts or trade_id * 10, 5, 100 + trade_id, 7, 1, trade_id)


def trade_ids(ring: TradeRing, instrument: int = MINE) -> list[int]:
    rows = retained(ring)
    return [t for i, t in zip(rows["instrument"].tolist(), rows["trade_id"].tolist(),
                              strict=True) if i == instrument]


def test_trades_the_old_socket_delivered_are_dropped_and_the_rest_appended_in_order():
    shared, held = rings(), rings()
    for trade_id in (1, 2, 3, 4):          # the old socket, up to the switch
        trade(shared.trades, MINE, trade_id)
    trade(shared.trades, OTHER, 5)         # another connection's instrument, same id as below
    for trade_id in (3, 4, 5, 6):          # the replacement, subscribed while 3 was in flight
        trade(held.trades, MINE, trade_id)

    assert hand_over(held, shared, [MINE]) == 2
    assert trade_ids(shared.trades) == [1, 2, 3, 4, 5, 6]
    assert trade_ids(shared.trades, OTHER) == [5]


def test_a_trade_with_the_same_id_but_other_fields_is_a_different_trade():
    shared, held = rings(), rings()
    trade(shared.trades, MINE, 0, ts=100)   # venues without trade ids write 0
    trade(held.trades, MINE, 0, ts=100)
    trade(held.trades, MINE, 0, ts=200)
    assert hand_over(held, shared, [MINE]) == 1
    assert retained(shared.trades)["ts_exchange"].tolist() == [100, 200]


def test_tickers_and_candles_are_appended_only_when_newer_than_the_old_sockets():
    shared, held = rings(), rings()
    shared.tickers.append(MINE, 20, 0, 1, 1, 2, 2, 0)
    for ts in (10, 20, 30):
        held.tickers.append(MINE, ts, 0, 1, 1, 2, 2, 0)
    held.tickers.append(OTHER, 5, 0, 1, 1, 2, 2, 0)      # none delivered yet: newer
    shared.candles.append(MINE, 20, 0, 1000, 60, 1, 2, 1, 2, 3, False)
    held.candles.append(MINE, 20, 0, 1000, 60, 1, 2, 1, 2, 3, False)   # the same update
    held.candles.append(MINE, 25, 0, 1000, 60, 1, 2, 1, 2, 4, True)    # its close: newer
    held.candles.append(MINE, 25, 0, 1000, 300, 1, 2, 1, 2, 4, False)  # another interval

    hand_over(held, shared, [MINE, OTHER])
    tickers = retained(shared.tickers)
    assert list(zip(tickers["instrument"].tolist(), tickers["ts_exchange"].tolist(),
                    strict=True)) == [(MINE, 20), (MINE, 30), (OTHER, 5)]
    candles = retained(shared.candles)
    assert list(zip(candles["interval"].tolist(), candles["closed"].tolist(),
                    strict=True)) == [(60, 0), (60, 1), (300, 0)]


def test_a_replacement_that_held_more_than_its_ring_keeps_cannot_hand_over():
    shared, held = rings(), rings(capacity=4)
    for trade_id in range(5):
        trade(held.trades, MINE, trade_id + 1)
    with pytest.raises(RotationFailed, match="held more than 4 rows"):
        hand_over(held, shared, [MINE])
    assert shared.trades.write_count == 0
