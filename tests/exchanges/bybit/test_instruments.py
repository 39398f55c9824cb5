"""Bybit's instruments-info answers, as its docs show them, read into catalog records; every
page of a paged answer read."""

from decimal import Decimal

import pytest

from feedhandler.exchanges.base import Kind, Status
from feedhandler.exchanges.bybit import instruments
from feedhandler.instruments import load_instruments
from feedhandler.sim import SimulatedExchange
from feedhandler.sim.bybit import BybitVenue as SimBybit

# GET /v5/market/instruments-info, the example answers of Bybit's docs
# (https://bybit-exchange.github.io/docs/v5/market/instrument), risk parameters shortened
SPOT_EXAMPLE = {
    "retCode": 0, "retMsg": "OK",
    "result": {"category": "spot", "list": [{
        "symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "innovation": "0",
        "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
        "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.00000001",
                          "minOrderQty": "0.000048", "maxOrderQty": "71.73956243",
                          "minOrderAmt": "1", "maxOrderAmt": "2000000"},
        "priceFilter": {"tickSize": "0.01"},
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}}]},
    "retExtInfo": {}, "time": 1672712468011,
}
LINEAR_EXAMPLE = {
    "retCode": 0, "retMsg": "OK",
    "result": {"category": "linear", "list": [{
        "symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading",
        "baseCoin": "BTC", "quoteCoin": "USDT", "launchTime": "1585526400000",
        "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00",
                           "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.10", "maxPrice": "199999.80", "tickSize": "0.10"},
        "lotSizeFilter": {"maxOrderQty": "100.000", "maxMktOrderQty": "100.000",
                          "minOrderQty": "0.001", "qtyStep": "0.001",
                          "postOnlyMaxOrderQty": "1000.000", "minNotionalValue": "5"},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT",
        "copyTrading": "both", "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None}],
        "nextPageCursor": ""},
    "retExtInfo": {}, "time": 1707186451514,
}


def test_the_spot_docs_example() -> None:
    [btc], cursor = instruments.page(SPOT_EXAMPLE, "spot")
    assert cursor == ""
    assert (btc.venue, btc.symbol, btc.venue_symbol, btc.kind) == \
        ("bybit", "BTC-USDT", "BTCUSDT", Kind.SPOT)
    assert (btc.tick_size, btc.lot_size, btc.min_size, btc.min_notional) == \
        (Decimal("0.01"), Decimal("0.000001"), Decimal("0.000048"), Decimal("1"))
    assert (btc.price_scale, btc.size_scale, btc.tick) == (2, 6, 1)


def test_the_linear_docs_example_is_a_perpetual() -> None:
    [btc], _ = instruments.page(LINEAR_EXAMPLE, "linear")
    assert (btc.venue, btc.symbol, btc.kind, btc.status) == \
        ("bybit-linear", "BTC-USDT-PERP", Kind.PERPETUAL, Status.TRADING)
    assert (btc.tick_size, btc.lot_size, btc.min_notional, btc.contract_size) == \
        (Decimal("0.1"), Decimal("0.001"), Decimal("5"), Decimal("1"))
    assert (btc.price_scale, btc.size_scale, btc.tick) == (1, 3, 1)
    dated = {**LINEAR_EXAMPLE["result"]["list"][0], "contractType": "LinearFutures"}
    assert instruments.page({**LINEAR_EXAMPLE, "result": {"list": [dated]}}, "linear")[0] == []


async def test_every_page_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instruments, "PAGE_LIMIT", 37)
    venue = SimBybit("linear", symbols=["BTCUSDT"])
    async with SimulatedExchange(venue) as sim:
        listed = await load_instruments("bybit-linear", endpoints={"rest_url": sim.http_url})
    assert [i.venue_symbol for i in listed] == [entry.symbol for entry in venue.catalog]
    assert len(listed) > 10 * 37
