"""Binance's exchangeInfo answers, as its docs show them, read into catalog records."""

from decimal import Decimal

from feedhandler.exchanges.base import Kind, Status
from feedhandler.exchanges.binance.instruments import parse
from feedhandler.instruments import Catalog

SPOT_EXAMPLE = {
    # GET /api/v3/exchangeInfo, the example answer of Binance's docs
    # (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/general-endpoints),
    # with the filters of https://developers.binance.com/docs/binance-spot-api-docs/filters
    "timezone": "UTC", "serverTime": 1565246363776, "rateLimits": [], "exchangeFilters": [],
    "symbols": [{
        "symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "baseAssetPrecision": 8,
        "quoteAsset": "BTC", "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT",
                       "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.00000100",
             "maxPrice": "100000.00000000", "tickSize": "0.00000100"},
            {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000",
             "stepSize": "0.00100000"},
            {"filterType": "NOTIONAL", "minNotional": "0.00010000", "applyMinToMarket": True,
             "maxNotional": "10000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5}],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"]}],
}
USDM_EXAMPLE = {
    # GET /fapi/v1/exchangeInfo, the example answer of Binance's docs (one symbol, shortened:
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information)
    "exchangeFilters": [], "rateLimits": [], "serverTime": 1565613908500, "assets": [],
    "symbols": [{
        "symbol": "BLZUSDT", "pair": "BLZUSDT", "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1598252400000, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": "BLZ", "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": 5, "quantityPrecision": 0, "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": ["STORAGE"],
        "settlePlan": 0, "triggerProtect": "0.15",
        "filters": [
            {"filterType": "PRICE_FILTER", "maxPrice": "300", "minPrice": "0.0001",
             "tickSize": "0.0001"},
            {"filterType": "LOT_SIZE", "maxQty": "10000000", "minQty": "1", "stepSize": "1"},
            {"filterType": "MARKET_LOT_SIZE", "maxQty": "590119", "minQty": "1",
             "stepSize": "1"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": "5.0"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1500",
             "multiplierDown": "0.8500", "multiplierDecimal": 4}],
        "OrderType": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        "liquidationFee": "0.010000", "marketTakeBound": "0.30"}],
    "timezone": "UTC",
}


def test_the_spot_docs_example() -> None:
    [eth] = parse(SPOT_EXAMPLE, "spot")
    assert (eth.venue, eth.symbol, eth.venue_symbol, eth.base, eth.quote, eth.kind) == \
        ("binance", "ETH-BTC", "ETHBTC", "ETH", "BTC", Kind.SPOT)
    assert (eth.tick_size, eth.lot_size, eth.min_size, eth.min_notional) == \
        (Decimal("0.000001"), Decimal("0.001"), Decimal("0.001"), Decimal("0.0001"))
    assert (eth.price_scale, eth.size_scale, eth.tick) == (6, 3, 1), "padding dropped"
    assert eth.status is Status.TRADING and eth.contract_size is None
    catalog = Catalog("binance", [eth], 0)
    for spelling in ("ETHBTC", "ethbtc", "ETH/BTC", "eth_btc", "ETH-BTC"):
        assert catalog.find(spelling) is eth, spelling


def test_the_usdm_docs_example_is_a_perpetual_at_least_at_its_precisions() -> None:
    [blz] = parse(USDM_EXAMPLE, "usdm")
    assert (blz.venue, blz.symbol, blz.venue_symbol, blz.kind, blz.market) == \
        ("binance-usdm", "BLZ-USDT-PERP", "BLZUSDT", Kind.PERPETUAL, "usdm")
    assert (blz.tick_size, blz.lot_size, blz.min_size, blz.min_notional, blz.contract_size) \
        == (Decimal("0.0001"), Decimal("1"), Decimal("1"), Decimal("5"), Decimal("1"))
    assert (blz.price_scale, blz.size_scale, blz.tick) == (5, 0, 10), \
        "pricePrecision 5 > the tick's 4 decimals: the tick is 10 units at scale 5"
    catalog = Catalog("binance-usdm", [blz], 0)
    for spelling in ("BLZUSDT", "BLZ-USDT", "BLZ/USDT:USDT", "blz-usdt-perp"):
        assert catalog.find(spelling) is blz, spelling
    dated = {**USDM_EXAMPLE["symbols"][0], "contractType": "CURRENT_QUARTER"}
    assert parse({"symbols": [dated]}, "usdm") == []
    closing = {**USDM_EXAMPLE["symbols"][0], "status": "CLOSE"}
    assert parse({"symbols": [closing]}, "usdm")[0].status is Status.DELISTED
