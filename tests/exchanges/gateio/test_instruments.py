"""Gate.io's currency_pairs answer, as its docs show it, read into catalog records."""

from decimal import Decimal

from feedhandler.exchanges.base import Status
from feedhandler.exchanges.gateio.instruments import parse
from feedhandler.instruments import Catalog

DOCS_EXAMPLE = [
    # GET /api/v4/spot/currency_pairs, the example answer of Gate.io's docs
    # (https://www.gate.io/docs/developers/apiv4/en/#list-all-currency-pairs-supported)
    {"id": "ETH_USDT", "base": "ETH", "base_name": "Ethereum", "quote": "USDT",
     "quote_name": "Tether", "fee": "0.2", "min_base_amount": "0.001",
     "min_quote_amount": "1.0", "max_base_amount": "10000", "max_quote_amount": "10000000",
     "amount_precision": 3, "precision": 6, "trade_status": "tradable",
     "sell_start": 1516378650, "buy_start": 1516378650, "delisting_time": 0,
     "type": "normal", "trade_url": "https://www.gate.io/trade/BTC_USDT", "st_tag": False},
]


def test_the_docs_example_is_eth_usdt_at_its_precisions() -> None:
    [eth] = parse(DOCS_EXAMPLE)
    assert (eth.symbol, eth.venue_symbol, eth.base, eth.quote) == \
        ("ETH-USDT", "ETH_USDT", "ETH", "USDT")
    assert (eth.price_scale, eth.size_scale, eth.tick) == (6, 3, 1)
    assert (eth.tick_size, eth.lot_size, eth.min_size, eth.min_notional) == \
        (Decimal("0.000001"), Decimal("0.001"), Decimal("0.001"), Decimal("1"))
    assert eth.status is Status.TRADING
    assert Catalog("gateio", [eth], 0).find("eth-usdt") is eth


def test_untradable_and_delisted_pairs() -> None:
    pair = DOCS_EXAMPLE[0]
    halted, delisted, leaving = parse([
        {**pair, "id": "ABC_USDT", "base": "ABC", "trade_status": "sellable"},
        {**pair, "id": "DEF_USDT", "base": "DEF", "trade_status": "untradable",
         "delisting_time": 1_700_000_000},
        {**pair, "id": "GHI_USDT", "base": "GHI", "delisting_time": 1_900_000_000}],
        now=1_800_000_000)
    assert halted.status is Status.HALTED and delisted.status is Status.DELISTED
    assert leaving.status is Status.TRADING, "a delisting announced for later still trades"
