"""Gate.io instruments from ``GET /api/v4/spot/currency_pairs``: ``id`` (``BTC_USDT``),
``base``, ``quote``, ``precision`` (price decimals), ``amount_precision`` (amount decimals),
``min_base_amount``, ``min_quote_amount``, ``trade_status`` and ``delisting_time``. Gate.io's
price and amount steps are ``10**-precision`` and ``10**-amount_precision``."""

from __future__ import annotations

import json
import time
from typing import Any

from feedhandler.exchanges.base import Instrument, Status
from feedhandler.instruments.catalog import decimal_or_none, listing
from feedhandler.instruments.loader import CatalogSource
from feedhandler.net.rest import RestClient

REST_URL = "https://api.gateio.ws"
PATH = "/api/v4/spot/currency_pairs"


def status(pair: dict[str, Any], now: float) -> Status:
    """``tradable`` trades; ``untradable``, ``buyable`` (buy only), ``sellable`` (sell only)
    are halted; a ``delisting_time`` (s) in the past is delisted whatever the status."""
    delisting = int(pair.get("delisting_time") or 0)
    if 0 < delisting <= now:
        return Status.DELISTED
    return Status.TRADING if pair.get("trade_status") == "tradable" else Status.HALTED


def parse(document: list[dict[str, Any]], now: float | None = None) -> list[Instrument]:
    if not isinstance(document, list):
        raise ValueError(f"gateio currency_pairs: not a list: {str(document)[:200]}")
    at = time.time() if now is None else now
    return [listing("gateio", "spot", pair["id"], pair["base"], pair["quote"],
                    price_decimals=int(pair["precision"]),
                    size_decimals=int(pair["amount_precision"]),
                    min_size=decimal_or_none(pair.get("min_base_amount")),
                    min_notional=decimal_or_none(pair.get("min_quote_amount")),
                    status=status(pair, at))
            for pair in document]


async def fetch(client: RestClient, base: str) -> list[Instrument]:
    return parse(json.loads(await client.get(base + PATH)))


SOURCE = CatalogSource(REST_URL, fetch, PATH)
