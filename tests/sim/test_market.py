"""The seeded market generator: determinism, book invariants, exact numbers, candles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedhandler.sim import (
    BestBidOffer,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketConfig,
    Side,
    Trade,
)

BTC = InstrumentSpec("BTCUSDT", "0.01", "0.00001", "60000.00")
ETH = InstrumentSpec("ETHUSDT", "0.01", "0.0001", "3000.00")


def make_market(seed: int = 7, **options: object) -> Market:
    return Market([BTC, ETH], MarketConfig(seed=seed, **options))  # type: ignore[arg-type]


def test_same_seed_same_stream_and_different_seed_different_stream() -> None:
    first = [event for events in make_market(7).steps(3000) for event in events]
    second = [event for events in make_market(7).steps(3000) for event in events]
    other = [event for events in make_market(8).steps(3000) for event in events]
    assert first == second
    assert first != other
    kinds = {type(event) for event in first}
    assert kinds == {BookUpdate, Trade, BestBidOffer, Candle}


def test_book_stays_uncrossed_at_depth_and_update_ids_chain() -> None:
    market = make_market(depth=40)
    last_ids = {symbol: market.book(symbol).update_id for symbol in market.symbols}
    for events in market.steps(5000):
        for event in events:
            if isinstance(event, BookUpdate):
                assert event.prev_update_id == last_ids[event.symbol]
                assert event.first_update_id == event.prev_update_id + 1
                assert event.last_update_id >= event.first_update_id
                last_ids[event.symbol] = event.last_update_id
        for symbol in market.symbols:
            book = market.book(symbol)
            assert book.bid_prices[-1] < book.ask_prices[0]
            assert 0 < len(book.bids) <= 40 and 0 < len(book.asks) <= 40
            assert book.bid_prices == sorted(book.bids) and book.ask_prices == sorted(book.asks)


def test_update_id_steps_leave_gaps_but_prev_chains() -> None:
    market = make_market(update_id_step=(1, 4))
    previous: dict[str, int] = {}
    jumps = 0
    for events in market.steps(2000):
        for event in events:
            if isinstance(event, BookUpdate):
                if event.symbol in previous:
                    assert event.prev_update_id == previous[event.symbol]
                jumps += event.first_update_id != event.prev_update_id + 1
                previous[event.symbol] = event.last_update_id
    assert jumps > 100


def test_book_at_equals_snapshot_plus_applied_updates() -> None:
    market = make_market()
    start = market.book("BTCUSDT").snapshot()
    bids, asks = dict(start.bids), dict(start.asks)
    checkpoints: list[tuple[int, dict[int, int], dict[int, int]]] = []
    for events in market.steps(4000):
        for event in events:
            if isinstance(event, BookUpdate) and event.symbol == "BTCUSDT":
                for side, levels in ((bids, event.bids), (asks, event.asks)):
                    for price, size in levels:
                        if size:
                            side[price] = size
                        else:
                            side.pop(price, None)
                if len(checkpoints) < 50 or event.last_update_id % 7 == 0:
                    checkpoints.append((event.last_update_id, dict(bids), dict(asks)))
    assert len(checkpoints) > 50
    for update_id, expected_bids, expected_asks in checkpoints:
        truth = market.book_at("BTCUSDT", update_id)
        assert (truth.bids, truth.asks) == (expected_bids, expected_asks)
    with pytest.raises(ValueError):
        market.book_at("BTCUSDT", market.book("BTCUSDT").update_id + 1)


def test_trades_hit_the_touch_and_bbo_matches_book() -> None:
    market = make_market()
    for _ in range(2000):
        before = {s: (market.book(s).best_bid(), market.book(s).best_ask())
                  for s in market.symbols}
        for event in market.step():
            if isinstance(event, Trade):
                bid, ask = before[event.symbol]
                assert bid is not None and ask is not None
                touch = ask if event.taker_side is Side.BUY else bid
                assert event.price == touch[0] and 1 <= event.size <= touch[1]
            if isinstance(event, BestBidOffer):
                book = market.book(event.symbol)
                assert (event.bid_price, event.bid_size) == book.best_bid()
                assert (event.ask_price, event.ask_size) == book.best_ask()
                assert event.update_id == book.update_id


def test_closed_candles_aggregate_their_trades() -> None:
    market = make_market(candle_intervals_ms=(1_000,))
    trades: list[Trade] = []
    closed: list[Candle] = []
    for events in market.steps(3000):
        for event in events:
            if isinstance(event, Trade) and event.symbol == "BTCUSDT":
                trades.append(event)
            if isinstance(event, Candle) and event.symbol == "BTCUSDT" and event.closed:
                closed.append(event)
    assert len(closed) > 10
    for candle in closed[1:]:
        inside = [t for t in trades if candle.open_ms <= t.ts_ms <= candle.close_ms]
        assert candle.trade_count == len(inside)
        assert candle.volume == sum(t.size for t in inside)
        assert candle.notional == sum(t.price * t.size for t in inside)
        assert candle.taker_buy_volume == sum(t.size for t in inside if t.taker_side is Side.BUY)
        if inside:
            assert (candle.open, candle.close) == (inside[0].price, inside[-1].price)
            assert candle.high == max(t.price for t in inside)
            assert candle.low == min(t.price for t in inside)
            assert (candle.first_trade_id, candle.last_trade_id) == \
                (inside[0].trade_id, inside[-1].trade_id)


def test_numbers_render_exactly() -> None:
    assert BTC.price_formatter()(5_999_997) == "59999.97"
    assert BTC.price_formatter(8)(5_999_997) == "59999.97000000"
    assert BTC.size_formatter(8)(1) == "0.00001000"
    assert BTC.notional_formatter(8)(5_999_997 * 3) == "1.79999910"
    futures = InstrumentSpec("BTCUSDT", "0.10", "0.001", "60000.00")
    assert futures.price_formatter()(600_001) == "60000.10"
    assert futures.price_ticks("60000.10") == 600_001
    with pytest.raises(ValueError):
        futures.price_ticks("60000.05")
    with pytest.raises(ValueError):
        BTC.size_lots("0.000001")
    with pytest.raises(ValueError):
        BTC.price_formatter(1)


@given(ticks=st.integers(min_value=0, max_value=10**15),
       decimals=st.sampled_from([None, 2, 8, 12]))
def test_price_round_trips_through_its_string(ticks: int, decimals: int | None) -> None:
    text = BTC.price_formatter(decimals)(ticks)
    assert "e" not in text
    assert BTC.price_ticks(text) == ticks


def test_a_relisting_keeps_the_book_and_candles_at_their_values_on_the_finer_grid() -> None:
    market = make_market()
    list(market.steps(500))
    before = market.book("BTCUSDT").snapshot()
    update_id = before.update_id
    spec, regrid = market.relist("BTCUSDT", "0.001", "0.000001")
    assert (spec.tick_size, spec.lot_size, regrid.price, regrid.size) == ("0.001", "0.000001",
                                                                          10, 10)
    after = market.book("BTCUSDT")
    assert after.bids == {p * 10: s * 10 for p, s in before.bids.items()}
    assert after.asks == {p * 10: s * 10 for p, s in before.asks.items()}
    assert market.book_at("BTCUSDT", update_id).bids == after.bids    # the history too
    events = [event for events in market.steps(500) for event in events
              if event.symbol == "BTCUSDT"]
    candles = [event for event in events if isinstance(event, Candle)]
    old_bid = before.top(1)[0][0][0]     # candles opened before: their prices in new ticks too
    assert candles and all(c.low > 5 * old_bid for c in candles)
    with pytest.raises(ValueError, match="must divide"):
        market.relist("ETHUSDT", "0.03", "0.0001")
