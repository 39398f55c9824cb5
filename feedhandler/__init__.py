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
from feedhandler.exchanges.base import SubscriptionRefused

__all__ = ["RINGS_ONLY", "AuthError", "Balance", "BookMoved", "BookStatus", "BookUpdate",
           "Candle", "ConnectTimeout", "Credentials", "FeedHandler", "Handle", "Order",
           "OrderStatus", "Position", "Side", "SubscriptionRefused", "Ticker", "Trade"]
