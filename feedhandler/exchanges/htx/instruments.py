"""HTX instruments from ``GET /v1/settings/common/market-symbols``: ``symbol`` (the venue's
lower-case code), ``bc`` / ``qc`` (base and quote), ``state``, ``pp`` / ``ap`` (price and
amount precision as decimal counts: HTX's tick and lot steps are ``10**-pp`` and
``10**-ap``), ``minoa`` (minimum order amount) and ``minov`` (minimum order value), the
latter two JSON numbers. Preferred over ``/v2/settings/common/symbols``, which states the same
precisions (``tpp``, ``tap``) but no minimums."""

from __future__ import annotations

import json
from typing import Any

from feedhandler.exchanges.base import Instrument, Status
from feedhandler.instruments.catalog import decimal_or_none, listing
from feedhandler.instruments.loader import CatalogSource
from feedhandler.net.rest import RestClient

REST_URL = "https://api.huobi.pro"
PATH = "/v1/settings/common/market-symbols"
STATUSES = {"online": Status.TRADING, "pre-online": Status.HALTED, "suspend": Status.HALTED,
            "offline": Status.DELISTED}


def parse(document: dict[str, Any]) -> list[Instrument]:
    if document.get("status") != "ok":
        raise ValueError(f"htx market-symbols: {document.get('err-code')}: "
                         f"{document.get('err-msg')}")
    return [listing("htx", "spot", item["symbol"], item["bc"], item["qc"],
                    price_decimals=int(item["pp"]), size_decimals=int(item["ap"]),
                    min_size=decimal_or_none(item.get("minoa")),
                    min_notional=decimal_or_none(item.get("minov")),
                    status=STATUSES.get(item.get("state", ""), Status.HALTED))
            for item in document["data"]]


async def fetch(client: RestClient, base: str) -> list[Instrument]:
    return parse(json.loads(await client.get(base + PATH)))


SOURCE = CatalogSource(REST_URL, fetch, PATH)
