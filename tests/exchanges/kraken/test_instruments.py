"""Kraken's AssetPairs answer, as its docs show it, read into catalog records."""

from decimal import Decimal

from feedhandler.exchanges.base import Status
from feedhandler.exchanges.kraken.instruments import parse
from feedhandler.instruments import Catalog

DOCS_EXAMPLE = {
    # GET /0/public/AssetPairs?pair=XXBTZUSD, the example answer of Kraken's docs
    # (https://docs.kraken.com/api/docs/rest-api/get-tradable-asset-pairs), fee tiers shortened
    "error": [],
    "result": {
        "XXBTZUSD": {
            "altname": "XBTUSD", "wsname": "XBT/USD", "aclass_base": "currency",
            "base": "XXBT", "aclass_quote": "currency", "quote": "ZUSD", "lot": "unit",
            "cost_decimals": 5, "pair_decimals": 1, "lot_decimals": 8, "lot_multiplier": 1,
            "leverage_buy": [2, 3, 4, 5], "leverage_sell": [2, 3, 4, 5],
            "fees": [[0, 0.26], [50000, 0.24]], "fees_maker": [[0, 0.16], [50000, 0.14]],
            "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
            "ordermin": "0.0001", "costmin": "0.5", "tick_size": "0.1", "status": "online",
            "long_position_limit": 270, "short_position_limit": 180,
        },
    },
}


def test_the_docs_example_is_btc_usd_at_the_checksum_precisions() -> None:
    [btc] = parse(DOCS_EXAMPLE)
    assert (btc.symbol, btc.venue_symbol, btc.base, btc.quote) == \
        ("BTC-USD", "BTC/USD", "BTC", "USD")
    assert (btc.price_scale, btc.size_scale) == (1, 8), "pair_decimals, lot_decimals"
    assert (btc.tick_size, btc.lot_size, btc.min_size, btc.min_notional) == \
        (Decimal("0.1"), Decimal("1e-8"), Decimal("0.0001"), Decimal("0.5"))
    assert btc.status is Status.TRADING
    catalog = Catalog("kraken", [btc], 0)
    for spelling in ("XBT/USD", "XBTUSD", "XXBTZUSD", "btc/usd", "BTC-USD", "xbt-usd"):
        assert catalog.find(spelling) is btc, spelling


def test_legacy_names_cancel_only_and_dark_pools() -> None:
    pair = DOCS_EXAMPLE["result"]["XXBTZUSD"]
    document = {"error": [], "result": {
        "XDGUSD": {**pair, "altname": "XDGUSD", "wsname": "XDG/USD", "pair_decimals": 7,
                   "lot_decimals": 8, "tick_size": "0.0000001", "status": "cancel_only"},
        "XXBTZUSD.d": {**pair, "altname": "XBTUSD.d", "wsname": None}}}
    [doge] = parse(document)
    assert (doge.symbol, doge.venue_symbol, doge.price_scale) == ("DOGE-USD", "DOGE/USD", 7)
    assert doge.status is Status.HALTED
