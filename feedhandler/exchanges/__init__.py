"""The venues: ``feedhandler.exchanges.venues()`` lists them with what each supports."""

from feedhandler.exchanges.registry import UnsupportedError, VenueInfo, venue, venues

__all__ = ["UnsupportedError", "VenueInfo", "venue", "venues"]
