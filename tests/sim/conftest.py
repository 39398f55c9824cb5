"""Fixtures: Binance spot and USD-M simulators that publish only when a test advances them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from feedhandler.sim import SimulatedExchange, create_venue


@pytest.fixture
async def spot() -> AsyncIterator[SimulatedExchange]:
    """Binance spot with BTCUSDT and ETHUSDT, published only through ``advance``."""
    async with SimulatedExchange(create_venue("binance", "spot", ["BTCUSDT", "ETHUSDT"]),
                                 rate=None, keepalive=None) as sim:
        yield sim


@pytest.fixture
async def usdm() -> AsyncIterator[SimulatedExchange]:
    """Binance USD-M futures with BTCUSDT, published only through ``advance``."""
    async with SimulatedExchange(create_venue("binance", "usdm", ["BTCUSDT"]),
                                 rate=None, keepalive=None) as sim:
        yield sim
