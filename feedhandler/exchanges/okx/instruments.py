"""OKX instruments from ``GET /api/v5/public/instruments?instType=SPOT``: ``instId``,
``baseCcy``, ``quoteCcy``, ``tickSz``, ``lotSz``, ``minSz``, ``state``. The book checksum
prints each level's price and size as OKX sent them; the decoder rebuilds that text from the
fixed-point values at these scales (``tickSz`` and ``lotSz`` decimals), without trailing
zeros, so any scale at least the venue's precision checksums the same."""

from __future__ import annotations

import json
from typing import Any

from feedhandler.exchanges.base import Instrument, Status
from feedhandler.instruments.catalog import decimal_or_none, listing
from feedhandler.instruments.loader import CatalogSource
from feedhandler.net.rest import RestClient

REST_URL = "https://www.okx.com"
PATH = "/api/v5/public/instruments"
STATUSES = {"live": Status.TRADING, "suspend": Status.HALTED, "preopen": Status.HALTED,
            "test": Status.HALTED, "rebase": Status.HALTED}


def parse(document: dict[str, Any]) -> list[Instrument]:
    if str(document.get("code")) != "0":
        raise ValueError(f"okx instruments: code {document.get('code')}: {document.get('msg')}")
    return [listing("okx", "spot", item["instId"], item["baseCcy"], item["quoteCcy"],
                    tick_size=decimal_or_none(item.get("tickSz")),
                    lot_size=decimal_or_none(item.get("lotSz")),
                    min_size=decimal_or_none(item.get("minSz")),
                    status=STATUSES.get(item.get("state", ""), Status.HALTED))
            for item in document["data"] if item.get("instType", "SPOT") == "SPOT"]


async def fetch(client: RestClient, base: str) -> list[Instrument]:
    return parse(json.loads(await client.get(base + PATH, {"instType": "SPOT"})))


SOURCE = CatalogSource(REST_URL, fetch, f"{PATH}?instType=SPOT")
