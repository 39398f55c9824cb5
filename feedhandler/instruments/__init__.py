"""Instrument catalogs: each venue's instruments from its own metadata, one symbol rule."""

from feedhandler.exchanges.base import Instrument, Kind, Status
from feedhandler.instruments.catalog import Catalog, UnknownSymbolError
from feedhandler.instruments.loader import (
    CatalogUnavailableError,
    load_catalog,
    load_instruments,
    load_instruments_sync,
)

__all__ = ["Catalog", "CatalogUnavailableError", "Instrument", "Kind", "Status",
           "UnknownSymbolError", "load_catalog", "load_instruments", "load_instruments_sync"]
