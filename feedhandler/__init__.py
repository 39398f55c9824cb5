"""feedhandler: fast, exact crypto-exchange market data for Python."""

from feedhandler.api import RINGS_ONLY, FeedHandler, Handle
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import (
    Balance,
    BookStatus,
    BookUpdate,
    Candle,
    Order,
    OrderStatus,
    Position,
    Side,
    Ticker,
    Trade,
)
from feedhandler.exchanges.base import Instrument, SubscriptionRefused
from feedhandler.instruments import (
    CatalogUnavailableError,
    UnknownSymbolError,
    load_instruments,
    load_instruments_sync,
)

__all__ = ["RINGS_ONLY", "AuthError", "Balance", "BookStatus", "BookUpdate", "Candle",
           "CatalogUnavailableError", "Credentials", "FeedHandler", "Handle", "Instrument",
           "Order", "OrderStatus", "Position", "Side", "SubscriptionRefused", "Ticker", "Trade",
           "UnknownSymbolError", "load_instruments", "load_instruments_sync"]
