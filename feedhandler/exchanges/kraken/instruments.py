"""Kraken instruments from REST ``GET /0/public/AssetPairs``.

REST rather than the WebSocket v2 ``instrument`` channel: the catalog is loaded (and cached)
before any socket is dialled, by the same REST machinery as every venue's, and AssetPairs
states the same precisions: ``pair_decimals`` is the v2 ``price_precision`` and
``lot_decimals`` its ``qty_precision``, the decimals Kraken's book checksum formats prices
and quantities with, so they are the fixed-point scales exactly. ``wsname`` (``XBT/USD``)
gives the v2 symbol once Kraken's legacy asset names are renamed (``BTC/USD``)."""

from __future__ import annotations

import json
from typing import Any

from feedhandler.exchanges.base import Instrument, Status
from feedhandler.instruments.catalog import decimal_or_none, listing
from feedhandler.instruments.loader import CatalogSource
from feedhandler.net.rest import RestClient

REST_URL = "https://api.kraken.com"
PATH = "/0/public/AssetPairs"
V2_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
"""Legacy asset names ``wsname`` still uses, and the v2 names."""


def v2_asset(name: str) -> str:
    return V2_ASSETS.get(name.upper(), name.upper())


def parse(document: dict[str, Any]) -> list[Instrument]:
    if document.get("error"):
        raise ValueError(f"kraken AssetPairs: {document['error']}")
    out = []
    for key, pair in document["result"].items():
        wsname = pair.get("wsname")
        if not wsname or pair.get("aclass_base", "currency") != "currency":
            continue          # dark-pool pairs (no wsname) are not streamed
        base, _, quote = wsname.partition("/")
        base, quote = v2_asset(base), v2_asset(quote)
        out.append(listing(
            "kraken", "spot", f"{base}/{quote}", base, quote,
            tick_size=decimal_or_none(pair.get("tick_size")),
            price_decimals=int(pair["pair_decimals"]),
            size_decimals=int(pair["lot_decimals"]),
            min_size=decimal_or_none(pair.get("ordermin")),
            min_notional=decimal_or_none(pair.get("costmin")),
            status=Status.TRADING if pair.get("status", "online") == "online"
            else Status.HALTED,
            aliases=(key, wsname, pair.get("altname", ""))))
    return out



async def fetch(client: RestClient, base: str) -> list[Instrument]:
    return parse(json.loads(await client.get(base + PATH)))


SOURCE = CatalogSource(REST_URL, fetch, PATH)
