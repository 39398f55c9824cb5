"""feedhandler: fast, exact crypto-exchange market data for Python."""

from feedhandler.api import RINGS_ONLY, FeedHandler, Handle
from feedhandler.events import BookStatus, BookUpdate, Candle, Side, Ticker, Trade

__all__ = ["RINGS_ONLY", "BookStatus", "BookUpdate", "Candle", "FeedHandler", "Handle", "Side",
           "Ticker", "Trade"]
