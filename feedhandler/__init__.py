"""feedhandler: fast, exact crypto-exchange market data for Python."""

from feedhandler.api import RINGS_ONLY, ConnectTimeout, FeedHandler, Handle
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.events import (
    Balance,
    BookMoved,
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

__all__ = ["RINGS_ONLY", "AuthError", "Balance", "BookMoved", "BookStatus", "BookUpdate",
           "Candle", "CatalogUnavailableError", "ConnectTimeout", "Credentials", "FeedHandler",
           "Handle", "Instrument", "Order", "OrderStatus", "Position", "Side",
           "SubscriptionRefused", "Ticker", "Trade", "UnknownSymbolError", "load_instruments",
           "load_instruments_sync"]
