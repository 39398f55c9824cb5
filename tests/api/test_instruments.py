"""Instruments from the venues' own metadata (their simulators'): every listed symbol works at
the venue's precision, one symbol rule, and nothing silently empty."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest

from feedhandler import FeedHandler, Instrument, UnknownSymbolError
from feedhandler.auth.redact import forget_secret, register_secret
from feedhandler.cli.demo import compare_book
from feedhandler.exchanges.base import Kind, Status
from feedhandler.instruments import CatalogUnavailableError, load_instruments
from feedhandler.instruments.loader import cache_dir
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.testing import until
from feedhandler.sim.venues import create_venue

VENUES = {
    # registry name: (simulator, market, traded venue symbols, fine-tick unified symbol,
    #                 spellings of BTC that must all be the one instrument)
    "binance": ("binance", "spot", ["BTCUSDT", "PEPEUSDT"], "PEPE-USDT",
                ["BTC-USDT", "btcusdt", "BTCUSDT", "BTC/USDT", "btc_usdt"]),
    "binance-usdm": ("binance", "usdm", ["BTCUSDT", "1000PEPEUSDT"], "1000PEPE-USDT-PERP",
                     ["BTC-USDT-PERP", "BTC-USDT", "BTCUSDT", "BTC/USDT:USDT", "btcusdt"]),
    "okx": ("okx", "spot", ["BTC-USDT", "PEPE-USDT"], "PEPE-USDT",
            ["BTC-USDT", "btc-usdt", "BTCUSDT", "BTC/USDT", "BTC_USDT"]),
    "kraken": ("kraken", "spot", ["BTC/USD", "PEPE/USD"], "PEPE-USD",
               ["BTC-USD", "XBT/USD", "BTC/USD", "XBTUSD", "btc-usd"]),
    "htx": ("htx", "spot", ["btcusdt", "pepeusdt"], "PEPE-USDT",
            ["BTC-USDT", "btcusdt", "BTCUSDT", "BTC/USDT", "btc_usdt"]),
    "bybit": ("bybit", "spot", ["BTCUSDT", "PEPEUSDT"], "PEPE-USDT",
              ["BTC-USDT", "BTCUSDT", "btcusdt", "BTC/USDT", "BTC_USDT"]),
    "bybit-linear": ("bybit", "linear", ["BTCUSDT", "1000PEPEUSDT"], "1000PEPE-USDT-PERP",
                     ["BTC-USDT-PERP", "BTCUSDT", "BTC-USDT", "BTC/USDT:USDT", "btcusdt"]),
    "gateio": ("gateio", "spot", ["BTC_USDT", "PEPE_USDT"], "PEPE-USDT",
               ["BTC-USDT", "BTC_USDT", "btc_usdt", "BTCUSDT", "BTC/USDT"]),
    "coinbase": ("coinbase", "spot", ["BTC-USD", "PEPE-USD"], "PEPE-USD",
                 ["BTC-USD", "btc-usd", "BTC/USD", "BTC-USDC", "BTCUSD"]),
}
FINEST_TICK = {"binance": Decimal("1e-8"), "binance-usdm": Decimal("1e-8")}
"""The finest tick each venue's simulator trades (Binance prints 8 decimals: no 1e-9 tick);
1e-9 elsewhere."""
NO_DELISTED = {"binance", "okx", "kraken"}
"""Binance spot states no delisting (a delisted pair stays listed in BREAK: halted); OKX and
Kraken drop a delisted instrument from their answer."""


def simulator(name: str, rate: float | None = None) -> SimulatedExchange:
    sim_name, market, symbols, _, _ = VENUES[name]
    return SimulatedExchange(create_venue(sim_name, market, symbols), seed=3, rate=rate)


def endpoints(name: str, sim: SimulatedExchange) -> dict[str, dict[str, str]]:
    return {name: {"ws_url": sim.ws_url, "rest_url": sim.http_url}}


@pytest.mark.parametrize("name", VENUES)
async def test_the_simulator_lists_hundreds_of_instruments_at_real_precisions(name: str) -> None:
    async with simulator(name) as sim:
        started = time.perf_counter()
        instruments = await load_instruments(name, endpoints={"rest_url": sim.http_url})
        elapsed = time.perf_counter() - started
    assert len(instruments) >= 300 and elapsed < 5
    assert all(isinstance(i, Instrument) and i.venue == name for i in instruments)
    statuses = {i.status for i in instruments}
    assert statuses == {Status.TRADING, Status.HALTED} | (
        set() if name in NO_DELISTED else {Status.DELISTED})
    perpetuals = name in ("binance-usdm", "bybit-linear")
    assert {i.kind for i in instruments} == {Kind.PERPETUAL if perpetuals else Kind.SPOT}
    assert all((i.contract_size is not None) == perpetuals for i in instruments)
    assert any(len(i.aliases) > 0 for i in instruments) == (name in ("kraken", "coinbase"))
    finest = min(i.tick_size for i in instruments if i.tick_size is not None)
    assert finest == FINEST_TICK.get(name, Decimal("1e-9"))
    for instrument in instruments:
        assert instrument.tick_size is not None and instrument.lot_size is not None
        assert Decimal(instrument.tick) == instrument.tick_size.scaleb(instrument.price_scale)
        assert instrument.lot_size.scaleb(instrument.size_scale) % 1 == 0
        suffix = "-PERP" if instrument.kind is Kind.PERPETUAL else ""
        assert instrument.symbol == f"{instrument.base}-{instrument.quote}{suffix}"


@pytest.mark.parametrize("name", VENUES)
async def test_a_fine_tick_book_goes_live_and_equals_the_true_book(name: str) -> None:
    _, _, symbols, fine, _ = VENUES[name]
    async with simulator(name) as sim:
        fh = FeedHandler(endpoints=endpoints(name, sim), backoff_base=0.05, backoff_cap=0.2)
        fh.subscribe_order_book(name, fine)
        async with fh:
            instrument = fh.instrument(name, fine)
            assert instrument.venue_symbol == symbols[1]
            assert instrument.tick_size == FINEST_TICK.get(name, Decimal("1e-9"))
            await until(lambda: fh.book(name, fine).valid, 10)
            for _ in range(20):
                sim.advance(5)
                await until(lambda: not compare_book(fh.book(name, fine), sim, symbols[1]), 10)
            # synced once and never lost: on Kraken and OKX every update's checksum, computed
            # at the catalog's precisions, matched (a mismatch resyncs the book)
            [connection] = fh.stats()["connections"][name]
            assert connection["books_synced"] == 1 and connection["sync_failures"] == 0


@pytest.mark.parametrize("name", VENUES)
async def test_every_spelling_is_one_subscription_and_book(name: str) -> None:
    spellings = VENUES[name][4]
    async with simulator(name, rate=500) as sim:
        fh = FeedHandler(endpoints=endpoints(name, sim), backoff_base=0.05, backoff_cap=0.2)
        trades: list = []
        handles = [fh.subscribe_trades(name, spelling, trades.append) for spelling in spellings]
        fh.subscribe_order_book(name, spellings[1])
        async with fh:
            canonical = fh.instrument(name, spellings[0]).symbol
            assert {h.subscription.key for h in handles} == {handles[0].subscription.key}
            await until(lambda: len(trades) >= 3 * len(spellings), 10)
            for spelling in spellings:
                assert fh.book(name, spelling) is fh.book(name, canonical)
            await until(lambda: fh.book(name, canonical).valid, 10)
            streams = fh.stats()["connections"][name]
            assert sum(c["subscriptions"] for c in streams) == 2
    assert {trade.symbol for trade in trades} == {canonical}


@pytest.mark.parametrize("name", VENUES)
async def test_an_unlisted_symbol_fails_at_subscribe_with_suggestions(name: str) -> None:
    async with simulator(name) as sim:
        fh = FeedHandler(endpoints=endpoints(name, sim))
        await fh.load_instruments(name)
        btc = VENUES[name][4][0]
        typo = btc + "X"
        with pytest.raises(UnknownSymbolError) as raised:
            fh.subscribe_trades(name, typo, print)
        assert raised.value.venue == name and repr(typo) in str(raised.value)
        assert raised.value.suggestions and len(raised.value.suggestions) <= 5
        assert raised.value.suggestions[0] == fh.instrument(name, btc).symbol
        assert not sim.connections and not fh.handles, "no socket, no handle"
        if name not in NO_DELISTED:
            delisted = next(i for i in fh.instruments(name) if i.status is Status.DELISTED)
            with pytest.raises(UnknownSymbolError, match="delisted"):
                fh.subscribe_ticker(name, delisted.symbol)


async def test_an_unlisted_symbol_fails_at_start_before_any_socket() -> None:
    async with simulator("binance") as sim:
        fh = FeedHandler(endpoints=endpoints("binance", sim))
        fh.subscribe_trades("binance", "BTC-USDT", print)
        fh.subscribe_trades("binance", "NOPE-USDT", print)    # catalog not loaded yet
        with pytest.raises(UnknownSymbolError, match="NOPE-USDT"):
            await fh.start()
        assert not sim.connections
        await fh.stop()


def test_empty_symbols_and_uncallable_callbacks_fail_at_subscribe() -> None:
    fh = FeedHandler()
    with pytest.raises(ValueError, match="empty symbol"):
        fh.subscribe_trades("binance", "  ", print)
    with pytest.raises(TypeError, match="callable"):
        fh.subscribe_trades("binance", "BTC-USDT", "print")   # type: ignore[arg-type]


async def test_a_fresh_cache_is_used_without_asking_the_venue() -> None:
    async with simulator("binance") as sim:
        listed = await load_instruments("binance", endpoints={"rest_url": sim.http_url})
    # the simulator is gone: a fresh cache answers alone, and a FeedHandler resolves at once
    again = await load_instruments("binance", endpoints={"rest_url": sim.http_url})
    assert again == listed
    fh = FeedHandler(endpoints=endpoints("binance", sim))
    handle = fh.subscribe_trades("binance", "btcusdt", print)
    assert handle.symbol == "BTC-USDT" and handle.subscription.instrument.id == 0


async def test_a_stale_cache_is_used_with_a_warning_when_the_venue_is_down(
        caplog: pytest.LogCaptureFixture) -> None:
    async with simulator("binance") as sim:
        url = sim.http_url
        listed = await load_instruments("binance", endpoints={"rest_url": url})
    [path] = Path(cache_dir()).glob("instruments-binance-*.json")
    document = json.loads(path.read_text())
    document["fetched"] -= 7 * 24 * 3600
    path.write_text(json.dumps(document))
    with caplog.at_level(logging.WARNING):
        stale = await load_instruments("binance", endpoints={"rest_url": url}, timeout=3)
    assert stale == listed
    assert any("cached instruments from 168.0 h ago" in r.getMessage() for r in caplog.records)


async def test_no_cache_and_the_venue_down_is_an_error_naming_the_venue() -> None:
    async with simulator("binance") as sim:
        url = sim.http_url
    with pytest.raises(CatalogUnavailableError, match=r"^binance: cannot load its instruments"):
        await load_instruments("binance", endpoints={"rest_url": url}, timeout=3)
    fh = FeedHandler(endpoints={"binance": {"rest_url": url, "ws_url": url}})
    fh.subscribe_trades("binance", "BTC-USDT", print)
    with pytest.raises(CatalogUnavailableError, match="binance"):
        await fh.start()
    await fh.stop()


async def test_a_symbol_the_cached_catalog_lacks_refreshes_it_before_failing() -> None:
    """A new listing: the cache (an hour old, still fresh) lacks it; the subscribe does not
    fail at once but start() asks the venue again, and the symbol resolves."""
    async with simulator("binance", rate=300) as sim:
        await load_instruments("binance", endpoints={"rest_url": sim.http_url})
        [path] = Path(cache_dir()).glob("instruments-binance-*.json")
        document = json.loads(path.read_text())
        document["instruments"] = [i for i in document["instruments"]
                                   if i["symbol"] != "PEPE-USDT"]
        document["fetched"] -= 3600
        path.write_text(json.dumps(document))
        fh = FeedHandler(endpoints=endpoints("binance", sim))
        trades: list = []
        handle = fh.subscribe_trades("binance", "PEPE-USDT", trades.append)
        assert handle.subscription.instrument.id == -1, "not resolved yet"
        async with fh:
            assert handle.subscription.instrument.symbol == "PEPE-USDT"
            assert handle.subscription.instrument.tick_size == Decimal("1e-8")
            await until(lambda: len(trades) >= 2, 10)
        assert "PEPE-USDT" in {i["symbol"] for i in json.loads(path.read_text())["instruments"]}


async def test_a_catalog_error_never_shows_a_secret_of_the_url() -> None:
    secret = "tok-3b9f1c7d2e8a4f60"
    register_secret(secret)
    try:
        async with simulator("binance") as sim:
            url = f"{sim.http_url}/{secret}?key=hunter22"
            with pytest.raises(CatalogUnavailableError) as raised:
                await load_instruments("binance", endpoints={"rest_url": url}, timeout=3)
    finally:
        forget_secret(secret)
    assert secret not in str(raised.value) and "hunter22" not in str(raised.value)
    assert "<redacted>" in str(raised.value)


async def test_a_running_feedhandler_refreshes_its_catalogs_on_schedule() -> None:
    async with simulator("binance", rate=300) as sim:
        fh = FeedHandler(endpoints=endpoints("binance", sim), instruments_refresh=0.2)
        fh.subscribe_trades("binance", "BTC-USDT", print)
        async with fh:
            first = fh.venues["binance"].catalog
            assert first is not None
            await until(lambda: fh.venues["binance"].catalog is not first, 5)
            assert fh.venues["binance"].catalog.fetched > first.fetched  # type: ignore[union-attr]
            assert len(fh.instruments("binance")) == len(first)


async def test_a_handle_unsubscribed_before_its_catalog_loaded_is_never_subscribed() -> None:
    async with simulator("binance", rate=300) as sim:
        fh = FeedHandler(endpoints=endpoints("binance", sim))
        trades: list = []
        dropped = fh.subscribe_trades("binance", "ETH-USDT", print)
        fh.subscribe_trades("binance", "BTC-USDT", trades.append)
        fh.unsubscribe(dropped)
        async with fh:
            await until(lambda: len(trades) >= 2, 10)
            assert not dropped.active
            assert [c["subscriptions"] for c in fh.stats()["connections"]["binance"]] == [1]
