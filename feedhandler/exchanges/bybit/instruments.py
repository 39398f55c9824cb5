"""Bybit instruments from ``GET /v5/market/instruments-info?category=spot|linear``, every page:
the answer's ``nextPageCursor`` is passed back as ``cursor`` until it is empty (linear is
paged, ``limit`` up to 1000; spot comes in one page). Spot: ``priceFilter.tickSize``,
``lotSizeFilter.basePrecision`` (the size step), ``minOrderQty``, ``minOrderAmt``. Linear:
``priceFilter.tickSize``, ``lotSizeFilter.qtyStep`` / ``minOrderQty`` /
``minNotionalValue``, ``contractType`` (only ``LinearPerpetual`` is taken)."""

from __future__ import annotations

import json
from typing import Any

from feedhandler.exchanges.base import Instrument, Kind, Status
from feedhandler.instruments.catalog import decimal_or_none, listing
from feedhandler.instruments.loader import CatalogSource
from feedhandler.net.rest import RestClient

REST_URL = "https://api.bybit.com"
PATH = "/v5/market/instruments-info"
PAGE_LIMIT = 1000
MAX_PAGES = 100            # a cursor that never ends is a broken answer, not a catalog
VENUES = {"spot": "bybit", "linear": "bybit-linear"}
STATUSES = {"Trading": Status.TRADING, "PreLaunch": Status.HALTED,
            "Delivering": Status.DELISTED, "Closed": Status.DELISTED}


def page(document: dict[str, Any], market: str) -> tuple[list[Instrument], str]:
    """One page's instruments and the cursor of the next ('' at the last)."""
    if document.get("retCode") != 0:
        raise ValueError(f"bybit instruments-info: {document.get('retCode')}: "
                         f"{document.get('retMsg')}")
    result = document["result"]
    out = []
    for item in result["list"]:
        if market == "linear" and item.get("contractType") != "LinearPerpetual":
            continue
        lot = item.get("lotSizeFilter", {})
        spot = market == "spot"
        out.append(listing(
            VENUES[market], market, item["symbol"], item["baseCoin"], item["quoteCoin"],
            tick_size=decimal_or_none(item.get("priceFilter", {}).get("tickSize")),
            lot_size=decimal_or_none(lot.get("basePrecision" if spot else "qtyStep")),
            kind=Kind.SPOT if spot else Kind.PERPETUAL,
            status=STATUSES.get(item.get("status", ""), Status.HALTED),
            min_size=decimal_or_none(lot.get("minOrderQty")),
            min_notional=decimal_or_none(lot.get("minOrderAmt" if spot
                                                 else "minNotionalValue")),
            contract_size=None if spot else decimal_or_none("1")))
    return out, str(result.get("nextPageCursor") or "")


def source(market: str) -> CatalogSource:
    async def fetch(client: RestClient, base: str) -> list[Instrument]:
        instruments: list[Instrument] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"category": market, "limit": PAGE_LIMIT}
            if cursor:
                params["cursor"] = cursor
            listed, cursor = page(json.loads(await client.get(base + PATH, params)), market)
            instruments += listed
            if not cursor:
                return instruments
        raise ValueError(f"bybit instruments-info: more than {MAX_PAGES} pages")
    return CatalogSource(REST_URL, fetch, f"{PATH}?category={market}")
