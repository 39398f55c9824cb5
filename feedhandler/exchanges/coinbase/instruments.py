"""Coinbase instruments from the public ``GET /api/v3/brokerage/market/products`` (no
authentication): ``product_id``, ``base_currency_id`` / ``quote_currency_id``,
``price_increment`` (else ``quote_increment``), ``base_increment``, ``base_min_size``,
``quote_min_size``, ``status``, ``trading_disabled``, ``cancel_only`` and ``alias``.

A product whose ``alias`` names another (``BTC-USDC`` → ``BTC-USD``: Coinbase serves the
USDC books as the USD ones) is no instrument of its own: its id is an alias of the product
whose market data carries it."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from feedhandler.exchanges.base import Instrument, Status
from feedhandler.instruments.catalog import decimal_or_none, listing
from feedhandler.instruments.loader import CatalogSource
from feedhandler.net.rest import RestClient

REST_URL = "https://api.coinbase.com"
PATH = "/api/v3/brokerage/market/products"


def status(product: dict[str, Any]) -> Status:
    if product.get("status") == "delisted":
        return Status.DELISTED
    halted = product.get("trading_disabled") or product.get("cancel_only") \
        or product.get("status") != "online"
    return Status.HALTED if halted else Status.TRADING


def parse(document: dict[str, Any]) -> list[Instrument]:
    products = [p for p in document["products"] if p.get("product_type", "SPOT") == "SPOT"]
    aliases: dict[str, list[str]] = defaultdict(list)
    for product in products:
        if product.get("alias"):
            aliases[product["alias"]].append(product["product_id"])
    return [listing("coinbase", "spot", product["product_id"], product["base_currency_id"],
                    product["quote_currency_id"],
                    tick_size=decimal_or_none(product.get("price_increment")
                                              or product.get("quote_increment")),
                    lot_size=decimal_or_none(product.get("base_increment")),
                    min_size=decimal_or_none(product.get("base_min_size")),
                    min_notional=decimal_or_none(product.get("quote_min_size")),
                    status=status(product), aliases=aliases.get(product["product_id"], ()))
            for product in products if not product.get("alias")]


async def fetch(client: RestClient, base: str) -> list[Instrument]:
    return parse(json.loads(await client.get(base + PATH, {"product_type": "SPOT"})))


SOURCE = CatalogSource(REST_URL, fetch, f"{PATH}?product_type=SPOT")
