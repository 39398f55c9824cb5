"""Binance instruments from ``GET /api/v3/exchangeInfo`` (spot) and ``GET /fapi/v1/exchangeInfo``
(USD-M): each symbol's ``PRICE_FILTER`` tickSize, ``LOT_SIZE`` stepSize / minQty and
``NOTIONAL`` (spot) or ``MIN_NOTIONAL`` (spot's older filter; USD-M's ``notional``). USD-M
lists only its ``PERPETUAL`` contracts here (the dated ones are no registry venue)."""

from __future__ import annotations

import json
from typing import Any

from feedhandler.exchanges.base import Instrument, Kind, Status
from feedhandler.instruments.catalog import decimal_or_none, listing
from feedhandler.instruments.loader import CatalogSource
from feedhandler.net.rest import RestClient

PATHS = {"spot": "/api/v3/exchangeInfo", "usdm": "/fapi/v1/exchangeInfo"}
REST_URLS = {"spot": "https://api.binance.com", "usdm": "https://fapi.binance.com"}
VENUES = {"spot": "binance", "usdm": "binance-usdm"}
STATUSES = {"TRADING": Status.TRADING, "END_OF_DAY": Status.HALTED, "HALT": Status.HALTED,
            "BREAK": Status.HALTED, "PRE_TRADING": Status.HALTED,
            "POST_TRADING": Status.HALTED, "AUCTION_MATCH": Status.HALTED,
            "PENDING_TRADING": Status.HALTED, "SETTLING": Status.HALTED,
            "DELIVERING": Status.DELISTED, "DELIVERED": Status.DELISTED,
            "CLOSE": Status.DELISTED}


def parse(document: dict[str, Any], market: str) -> list[Instrument]:
    out = []
    for symbol in document["symbols"]:
        if market == "usdm" and symbol.get("contractType") != "PERPETUAL":
            continue
        filters = {f.get("filterType"): f for f in symbol.get("filters", ())}
        price = filters.get("PRICE_FILTER", {})
        lot = filters.get("LOT_SIZE", {})
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        out.append(listing(
            VENUES[market], market, symbol["symbol"], symbol["baseAsset"], symbol["quoteAsset"],
            tick_size=decimal_or_none(price.get("tickSize")),
            lot_size=decimal_or_none(lot.get("stepSize")),
            price_decimals=symbol.get("pricePrecision") if market == "usdm" else None,
            size_decimals=symbol.get("quantityPrecision") if market == "usdm" else None,
            kind=Kind.PERPETUAL if market == "usdm" else Kind.SPOT,
            status=STATUSES.get(symbol.get("status", ""), Status.HALTED),
            min_size=decimal_or_none(lot.get("minQty")),
            min_notional=decimal_or_none(notional.get("minNotional") or notional.get("notional")),
            contract_size=decimal_or_none("1") if market == "usdm" else None))
    return out


def source(market: str) -> CatalogSource:
    async def fetch(client: RestClient, base: str) -> list[Instrument]:
        return parse(json.loads(await client.get(base + PATHS[market])), market)
    return CatalogSource(REST_URLS[market], fetch, PATHS[market])
