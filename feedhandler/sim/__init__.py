"""Simulated crypto exchanges on 127.0.0.1 for tests, benchmarks and demos.

``SimulatedExchange`` (server.py) serves a seeded ``Market`` (market.py) in the wire format of a
``Venue`` plugin (venue.py), such as ``BinanceVenue`` (binance.py); ``venues.py`` registers the
plugins by name for ``python -m feedhandler.sim``.
"""

from feedhandler.sim.market import (
    BestBidOffer,
    BookSnapshot,
    BookUpdate,
    Candle,
    InstrumentSpec,
    Market,
    MarketConfig,
    MarketEvent,
    Side,
    Trade,
)
from feedhandler.sim.server import FLOOD, SimConnection, SimulatedExchange, UnsupportedFault
from feedhandler.sim.venue import Keepalive, Venue
from feedhandler.sim.venues import VENUES, create_venue

__all__ = [
    "FLOOD",
    "VENUES",
    "BestBidOffer",
    "BookSnapshot",
    "BookUpdate",
    "Candle",
    "InstrumentSpec",
    "Keepalive",
    "Market",
    "MarketConfig",
    "MarketEvent",
    "Side",
    "SimConnection",
    "SimulatedExchange",
    "Trade",
    "UnsupportedFault",
    "Venue",
    "create_venue",
]
