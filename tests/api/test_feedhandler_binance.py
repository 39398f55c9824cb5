"""FeedHandler end to end against the simulated Binance: every channel, books exact."""

import asyncio
from decimal import Decimal

import pytest

from feedhandler import RINGS_ONLY, BookStatus, BookUpdate, Candle, FeedHandler, Ticker, Trade
from feedhandler.core.decoder import Decoded
from feedhandler.exchanges import UnsupportedError
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.testing import until


def book_levels(book, side: int) -> dict[Decimal, Decimal]:
    prices, sizes = book.levels(side)
    scale_p, scale_s = Decimal(10) ** -book.price_scale, Decimal(10) ** -book.size_scale
    return {int(p) * scale_p: int(s) * scale_s for p, s in zip(prices, sizes, strict=True)}


def true_levels(sim: SimulatedExchange, symbol: str, update_id: int) -> tuple[dict, dict]:
    spec = sim.market.instrument(symbol)
    tick, lot = Decimal(spec.tick_size), Decimal(spec.lot_size)
    snap = sim.market.book_at(symbol, update_id)
    return ({p * tick: s * lot for p, s in snap.bids.items()},
            {p * tick: s * lot for p, s in snap.asks.items()})


@pytest.fixture(params=["spot", "usdm"])
async def sim(request):
    venue = SimBinance(request.param, symbols=["BTCUSDT", "ETHUSDT"])
    async with SimulatedExchange(venue, seed=7, rate=2000) as exchange:
        yield request.param, exchange


def handler_for(market: str, exchange: SimulatedExchange) -> tuple[FeedHandler, str]:
    name = "binance" if market == "spot" else "binance-usdm"
    endpoints = {name: {"ws_url": exchange.ws_url, "rest_url": exchange.http_url}}
    return FeedHandler(endpoints=endpoints, backoff_base=0.05, backoff_cap=0.2), name


async def test_every_channel_delivers_and_the_book_equals_the_true_book(sim) -> None:
    market, exchange = sim
    fh, name = handler_for(market, exchange)
    got: dict[type, list] = {Trade: [], Ticker: [], Candle: [], BookUpdate: []}
    fh.subscribe_trades(name, "BTC-USDT", lambda e: got[Trade].append(e))
    fh.subscribe_ticker(name, "BTC-USDT", lambda e: got[Ticker].append(e))
    fh.subscribe_ohlcv(name, "BTC-USDT", "1m", lambda e: got[Candle].append(e))
    fh.subscribe_order_book(name, "BTC-USDT", lambda e: got[BookUpdate].append(e))
    async with fh:
        await until(lambda: all(len(v) >= 3 for v in got.values()))
        book = fh.book(name, "BTC-USDT")
        await until(lambda: book.valid)
        bids, asks = true_levels(exchange, "BTCUSDT", book.sequence)
        assert book_levels(book, 0) == bids
        assert book_levels(book, 1) == asks
    trade = got[Trade][0]
    # the unified perpetual form: "BTC-USDT" subscribed it on binance-usdm
    assert trade.symbol == ("BTC-USDT" if market == "spot" else "BTC-USDT-PERP")
    assert trade.exchange == name
    assert trade.price > 0 and trade.size > 0 and trade.ts_receive >= trade.ts_exchange > 0
    assert got[BookUpdate][0].resynced and got[BookUpdate][0].status is BookStatus.LIVE
    assert got[Ticker][-1].bid < got[Ticker][-1].ask
    assert fh.stats()["overruns"] == 0


async def test_gap_triggers_resync_and_the_user_is_told(sim) -> None:
    market, exchange = sim
    fh, name = handler_for(market, exchange)
    updates: list[BookUpdate] = []
    fh.subscribe_order_book(name, "ETH-USDT", updates.append)
    async with fh:
        # a gap on the first update after the snapshot is rightly reported as the snapshot
        # not straddling: let one update apply first, so that this gap is a "previous u" one
        await until(lambda: any(u.resynced for u in updates) and not updates[-1].resynced)
        exchange.gap("ETHUSDT")
        await until(lambda: any(u.status is BookStatus.INVALID for u in updates))
        invalid_at = next(i for i, u in enumerate(updates) if u.status is BookStatus.INVALID)
        await until(lambda: any(u.resynced for u in updates[invalid_at:]))
        resynced_at = next(i for i, u in enumerate(updates) if i > invalid_at and u.resynced)
        book = fh.book(name, "ETH-USDT")
        await until(lambda: book.valid)
        bids, asks = true_levels(exchange, "ETHUSDT", book.sequence)
        assert book_levels(book, 0) == bids and book_levels(book, 1) == asks
    assert "previous u" in updates[invalid_at].reason
    # nothing was served between the gap and the rebuilt book
    assert all(u.status is BookStatus.INVALID for u in updates[invalid_at:resynced_at])
    assert updates[resynced_at].status is BookStatus.LIVE


async def test_unsupported_requests_fail_at_once() -> None:
    fh = FeedHandler()
    with pytest.raises(UnsupportedError):
        fh.subscribe_ohlcv("binance", "BTC-USDT", "7m")
    with pytest.raises(UnsupportedError):
        fh.subscribe_trades("nowhere", "BTC-USDT")
    with pytest.raises(UnsupportedError):
        fh.subscribe_order_book("binance", "BTC-USDT", depth=1001)


async def test_async_iteration_and_unsubscribe(sim) -> None:
    market, exchange = sim
    fh, name = handler_for(market, exchange)
    handle = fh.subscribe_trades(name, "BTC-USDT")
    async with fh:
        seen = []
        async for event in fh:
            seen.append(event)
            if len(seen) == 5:
                break
        assert all(isinstance(e, Trade) for e in seen)
        fh.unsubscribe(handle)
        await until(lambda: any(c.received["unsubscribe"] for c in exchange.history))
        await asyncio.sleep(0.05)
        while not fh.queue.empty():
            fh.queue.get_nowait()
        await asyncio.sleep(0.3)
        assert fh.queue.empty()
        assert not handle.active


async def test_batch_interface_hands_ring_rows_without_event_objects(sim) -> None:
    market, exchange = sim
    fh, name = handler_for(market, exchange)
    reader = fh.trades.reader()
    ids: list[int] = []
    reads: list[int] = []

    def on_read(flags: int) -> None:
        reads.append(flags)
        while reader.pending:
            ids.extend(reader.read().trade_id.tolist())

    fh.subscribe_batches(on_read)
    fh.subscribe_trades(name, "BTC-USDT", RINGS_ONLY)
    async with fh:
        await until(lambda: len(ids) >= 20)
    assert fh.queue.empty()                       # nothing was turned into an event
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert any(flags & Decoded.TRADES for flags in reads)


def subscribe_all(fh: FeedHandler, name: str, got: dict[type, list]) -> None:
    fh.subscribe_trades(name, "BTC-USDT", got.setdefault(Trade, []).append)
    fh.subscribe_ohlcv(name, "BTC-USDT", "1m", got.setdefault(Candle, []).append)
    fh.subscribe_ticker(name, "BTC-USDT", got.setdefault(Ticker, []).append)
    fh.subscribe_order_book(name, "BTC-USDT", got.setdefault(BookUpdate, []).append)


async def test_usdm_books_and_tickers_come_from_public_trades_and_candles_from_market() -> None:
    venue = SimBinance("usdm", symbols=["BTCUSDT"])
    async with SimulatedExchange(venue, seed=3, rate=2000) as exchange:
        # each endpoint's URL given on its own; the base points nowhere
        fh = FeedHandler(endpoints={"binance-usdm": {
            "ws_url": "ws://127.0.0.1:9", "rest_url": exchange.http_url,
            "public_ws_url": exchange.ws_url + "/public/stream",
            "market_ws_url": exchange.ws_url + "/market/stream"}})
        got: dict[type, list] = {}
        subscribe_all(fh, "binance-usdm", got)
        async with fh:
            await until(lambda: len(got) == 4 and all(len(v) >= 3 for v in got.values()))
            book = fh.book("binance-usdm", "BTC-USDT")
            await until(lambda: book.valid)
            bids, asks = true_levels(exchange, "BTCUSDT", book.sequence)
            assert book_levels(book, 0) == bids and book_levels(book, 1) == asks
        served = {conn.path.split("?")[0]: sorted(conn.topics) for conn in exchange.history}
    assert served == {"/public/stream": ["btcusdt@bookTicker", "btcusdt@depth@100ms"],
                      "/market/stream": ["btcusdt@aggTrade", "btcusdt@kline_1m"]}


async def test_server_shutdown_rotates_the_connection_and_the_books_stay_exact() -> None:
    venue = SimBinance("spot", symbols=["BTCUSDT", "ETHUSDT"])
    async with SimulatedExchange(venue, seed=5, rate=2000) as exchange:
        fh, name = handler_for("spot", exchange)
        updates: list[BookUpdate] = []
        fh.subscribe_order_book(name, "BTC-USDT", updates.append)
        fh.subscribe_trades(name, "ETH-USDT", RINGS_ONLY)
        async with fh:
            await until(lambda: any(u.resynced for u in updates))
            (connection,) = fh.venues[name].pool.connections  # type: ignore[union-attr]
            shutdown_at = len(updates)
            assert exchange.server_shutdown() == 1
            await until(lambda: connection.stats()["rotations"] == 1 and connection.connected)
            await until(lambda: len(exchange.connections) == 1)
            book = fh.book(name, "BTC-USDT")
            assert book.valid
            bids, asks = true_levels(exchange, "BTCUSDT", book.sequence)
            assert book_levels(book, 0) == bids and book_levels(book, 1) == asks
            stats = connection.stats()
            during = updates[shutdown_at:]
    # make before break: the book was never withdrawn across the announced shutdown
    assert during and all(u.status is BookStatus.LIVE for u in during), during
    assert stats["reconnects"] == 0 and stats["rotation_failures"] == 0
    assert stats["decoder"]["unknown"] == 0 and stats["decoder"]["errors"] == 0
    assert exchange.history[0].faults["server_shutdown"] == 1


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_against_the_retired_protocol_the_client_fails_visibly(market: str) -> None:
    """Legacy spot market data is unchanged (so it flows); legacy USD-M has only /stream:
    the connections for each USD-M tier fail to dial, wait_connected times out."""
    venue = SimBinance(market, symbols=["BTCUSDT"], protocol="legacy")
    async with SimulatedExchange(venue, seed=3, rate=1000) as exchange:
        fh, name = handler_for(market, exchange)
        statuses: list[tuple[str, str]] = []
        got: dict[type, list] = {}
        subscribe_all(fh, name, got)
        async with fh:
            pool = fh.venues[name].pool
            assert pool is not None
            for connection in pool.connections:
                original = connection.on_status
                connection.on_status = lambda c, e, original=original: (
                    statuses.append((c.adapter.ws_url(list(c.subscriptions.values())),
                                     e.reason)), original(c, e))  # type: ignore[misc]
            if market == "spot":
                await fh.wait_connected(5)
                await until(lambda: len(got) == 4 and all(got.values()))
                return
            with pytest.raises(TimeoutError) as raised:
                await fh.wait_connected(1.5)
            failures = {connection.adapter.endpoint_key(next(iter(
                connection.subscriptions.values()))): connection.stats()
                for connection in pool.connections}
    assert sorted(failures) == ["market", "public"]
    # the error names every channel left without a connection, and why
    message = str(raised.value)
    for channel in ("book", "ticker", "trades", "ohlcv"):
        assert f"{channel} BTC-USDT" in message
    assert message.count("received 404") == 2
    for stats in failures.values():
        assert stats["connects"] == 0 and stats["connect_failures"] >= 1
        assert "404" in stats["last_connect_failure"]
    assert {url.rsplit("/", 2)[-2] for url, _ in statuses} == {"market", "public"}
    assert all("404" in reason for _, reason in statuses)
    assert not any(got.values())
