"""``wait_connected()`` covers every subscription, made before or after the start, and a
timeout names each venue that is not connected with its last error; ``run()`` raises when a
venue never connected instead of returning as if it had run."""

import asyncio
import socket
from collections.abc import Iterator

import pytest

from feedhandler import ConnectTimeout, FeedHandler, load_instruments
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.binance import BinanceVenue as SimBinance
from feedhandler.sim.coinbase import CoinbaseVenue as SimCoinbase

SYMBOL = "BTC-USDT"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port held by a socket that never listens: every connect to it is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def endpoints(url: str, rest_url: str) -> dict[str, str]:
    return {"ws_url": url, "rest_url": rest_url}


async def test_subscriptions_made_after_the_start_are_waited_for() -> None:
    async with SimulatedExchange(SimBinance("spot", symbols=["BTCUSDT"]), seed=1,
                                 rate=200) as exchange, \
            SimulatedExchange(SimCoinbase(symbols=["BTC-USD"]), seed=1, rate=200) as other:
        fh = FeedHandler(endpoints={
            "binance": endpoints(exchange.ws_url, exchange.http_url),
            "coinbase": endpoints(other.ws_url, other.http_url)},
            backoff_base=0.05, backoff_cap=0.2)
        async with fh:
            handles = [fh.subscribe_trades("binance", SYMBOL, lambda trade: None),
                       fh.subscribe_trades("coinbase", "BTC-USD", lambda trade: None)]
            await fh.wait_connected(10)
            for handle in handles:
                connection = fh.connection(handle)
                assert connection is not None and connection.connected, handle.exchange


async def catalog_url() -> str:
    """The REST URL of a simulated Binance whose catalog is now in the disk cache (the
    simulator is gone afterwards: the sockets then meet nothing but the cache answers)."""
    async with SimulatedExchange(SimBinance("spot", symbols=["BTCUSDT"]), seed=1) as exchange:
        await load_instruments("binance", endpoints={"rest_url": exchange.http_url})
        return exchange.http_url


async def test_a_timeout_names_the_venue_and_its_last_error(silent_port: int) -> None:
    fh = FeedHandler(endpoints={"binance": endpoints(f"ws://127.0.0.1:{silent_port}",
                                                     await catalog_url())},
                     backoff_base=0.05, backoff_cap=0.2)
    async with fh:
        fh.subscribe_trades("binance", SYMBOL, lambda trade: None)
        with pytest.raises(ConnectTimeout) as raised:
            await fh.wait_connected(1.0)
    assert list(raised.value.venues) == ["binance"]
    assert "binance#1 (trades BTC-USDT): ConnectionRefusedError" in str(raised.value), raised.value


async def test_a_subscription_whose_catalog_cannot_load_is_named(silent_port: int) -> None:
    """Nothing answers for the catalog either: the subscription is never placed, and the
    timeout says so rather than returning as if all were connected."""
    url = f"127.0.0.1:{silent_port}"
    fh = FeedHandler(endpoints={"binance": endpoints(f"ws://{url}", f"http://{url}")},
                     backoff_base=0.05, backoff_cap=0.2)
    async with fh:
        fh.subscribe_trades("binance", SYMBOL, lambda trade: None)
        with pytest.raises(ConnectTimeout) as raised:
            await fh.wait_connected(1.0)
    assert list(raised.value.venues) == ["binance"]
    assert "BTC-USDT trades: its instrument catalog is not loaded" in str(raised.value)


def test_run_raises_when_a_venue_never_connected(silent_port: int) -> None:
    fh = FeedHandler(endpoints={"binance": endpoints(f"ws://127.0.0.1:{silent_port}",
                                                     asyncio.run(catalog_url()))},
                     backoff_base=0.05, backoff_cap=0.2)
    fh.subscribe_trades("binance", SYMBOL, lambda trade: None)
    with pytest.raises(ConnectTimeout) as raised:
        fh.run(duration=1.5)
    assert list(raised.value.venues) == ["binance"]
    assert "binance#1 (trades BTC-USDT): ConnectionRefusedError" in str(raised.value), raised.value
