"""Registry of simulated venues, so that the command line and tests build any of them by name.

Adding a venue means writing its ``Venue`` subclass and one entry here; the framework and the
command line need no change.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from feedhandler.sim.venue import Venue


@dataclass(frozen=True)
class VenueEntry:
    factory: str
    """``"module:Class"`` of the ``Venue`` subclass, imported only when used."""
    markets: tuple[str, ...]
    """Accepted ``market`` values; the first is the default."""
    default_symbols: tuple[str, ...]


VENUES: dict[str, VenueEntry] = {
    "binance": VenueEntry("feedhandler.sim.binance:BinanceVenue", ("spot", "usdm"),
                          ("BTCUSDT", "ETHUSDT")),
    "kraken": VenueEntry("feedhandler.sim.kraken:KrakenVenue", ("spot",), ("BTC/USD", "ETH/USD")),
    "coinbase": VenueEntry("feedhandler.sim.coinbase:CoinbaseVenue", ("spot",),
                           ("BTC-USD", "ETH-USD")),
    "bybit": VenueEntry("feedhandler.sim.bybit:BybitVenue", ("spot", "linear"),
                        ("BTCUSDT", "ETHUSDT")),
    "gateio": VenueEntry("feedhandler.sim.gateio:GateioVenue", ("spot",),
                         ("BTC_USDT", "ETH_USDT")),
    "htx": VenueEntry("feedhandler.sim.htx:HtxVenue", ("spot",), ("btcusdt", "ethusdt")),
    "okx": VenueEntry("feedhandler.sim.okx:OkxVenue", ("spot",), ("BTC-USDT", "ETH-USDT")),
}


def create_venue(name: str, market: str | None = None,
                 symbols: Sequence[str] | None = None) -> Venue:
    """Build the registered venue ``name`` for ``market`` listing ``symbols``."""
    entry = VENUES[name]
    market = market or entry.markets[0]
    if market not in entry.markets:
        raise ValueError(f"{name} has no market {market!r}; choose from {entry.markets}")
    module_name, _, class_name = entry.factory.partition(":")
    venue_class = getattr(importlib.import_module(module_name), class_name)
    venue: Venue = venue_class(market=market, symbols=tuple(symbols or entry.default_symbols))
    return venue
