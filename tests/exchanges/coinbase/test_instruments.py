"""Coinbase's public products answer, as its docs show it, read into catalog records."""

from decimal import Decimal

from feedhandler.exchanges.base import Status
from feedhandler.exchanges.coinbase.instruments import parse
from feedhandler.instruments import Catalog

PRODUCT = {
    # one product of GET /api/v3/brokerage/market/products, the example answer of Coinbase's
    # docs (https://docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/public/list-public-products)
    "product_id": "BTC-USD", "price": "140.21", "price_percentage_change_24h": "9.43%",
    "volume_24h": "1908432", "volume_percentage_change_24h": "9.43%",
    "base_increment": "0.00000001", "quote_increment": "0.01", "quote_min_size": "1",
    "quote_max_size": "150000000", "base_min_size": "0.00000001", "base_max_size": "3400",
    "base_name": "Bitcoin", "quote_name": "US Dollar", "watched": True, "is_disabled": False,
    "new": True, "status": "online", "cancel_only": False, "limit_only": False,
    "post_only": False, "trading_disabled": False, "auction_mode": True,
    "product_type": "SPOT", "quote_currency_id": "USD", "base_currency_id": "BTC",
    "mid_market_price": "140.22", "alias": "", "alias_to": ["BTC-USDC"],
    "base_display_symbol": "BTC", "quote_display_symbol": "USD", "view_only": True,
    "price_increment": "0.01", "display_name": "BTC-USD", "product_venue": "CBE",
    "approximate_quote_24h_volume": "1908432",
}
DOCS_EXAMPLE = {"products": [
    PRODUCT,
    {**PRODUCT, "product_id": "BTC-USDC", "quote_currency_id": "USDC", "alias": "BTC-USD",
     "alias_to": [], "display_name": "BTC-USDC"},
], "num_products": 2}


def test_the_docs_example_and_its_usdc_alias_are_one_instrument() -> None:
    [btc] = parse(DOCS_EXAMPLE)
    assert (btc.symbol, btc.venue_symbol, btc.base, btc.quote) == \
        ("BTC-USD", "BTC-USD", "BTC", "USD")
    assert (btc.tick_size, btc.lot_size, btc.min_size, btc.min_notional) == \
        (Decimal("0.01"), Decimal("1e-8"), Decimal("1e-8"), Decimal("1"))
    assert (btc.price_scale, btc.size_scale, btc.tick) == (2, 8, 1)
    assert btc.status is Status.TRADING
    assert Catalog("coinbase", [btc], 0).find("BTC-USDC") is btc


def test_disabled_and_delisted_products() -> None:
    halted, gone = parse({"products": [
        {**PRODUCT, "product_id": "ABC-USD", "base_currency_id": "ABC", "alias_to": [],
         "trading_disabled": True},
        {**PRODUCT, "product_id": "DEF-USD", "base_currency_id": "DEF", "alias_to": [],
         "status": "delisted"}]})
    assert halted.status is Status.HALTED and gone.status is Status.DELISTED
