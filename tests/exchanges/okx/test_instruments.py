"""OKX's instruments answer, as its docs show it, read into catalog records."""

from decimal import Decimal

from feedhandler.exchanges.base import Kind, Status
from feedhandler.exchanges.okx.instruments import parse
from feedhandler.instruments import Catalog

DOCS_EXAMPLE = {
    # GET /api/v5/public/instruments?instType=SPOT, the example answer of OKX's docs
    # (https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments)
    "code": "0",
    "data": [{
        "alias": "", "auctionEndTime": "", "baseCcy": "BTC", "category": "1", "ctMult": "",
        "ctType": "", "ctVal": "", "ctValCcy": "", "expTime": "", "instFamily": "",
        "instId": "BTC-USDT", "instType": "SPOT", "lever": "10", "listTime": "1606468572000",
        "lotSz": "0.00000001", "maxIcebergSz": "9999999999.0000000000000000",
        "maxLmtAmt": "1000000", "maxLmtSz": "9999999999", "maxMktAmt": "1000000",
        "maxMktSz": "", "maxStopSz": "", "maxTriggerSz": "9999999999.0000000000000000",
        "maxTwapSz": "9999999999.0000000000000000", "minSz": "0.00001", "optType": "",
        "quoteCcy": "USDT", "settleCcy": "", "state": "live", "ruleType": "normal", "stk": "",
        "tickSz": "0.1", "uly": "",
    }],
    "msg": "",
}


def test_the_docs_example_is_one_spot_instrument_at_its_precisions() -> None:
    [btc] = parse(DOCS_EXAMPLE)
    assert (btc.venue, btc.symbol, btc.venue_symbol, btc.base, btc.quote) == \
        ("okx", "BTC-USDT", "BTC-USDT", "BTC", "USDT")
    assert btc.kind is Kind.SPOT and btc.status is Status.TRADING
    assert (btc.tick_size, btc.lot_size, btc.min_size) == \
        (Decimal("0.1"), Decimal("0.00000001"), Decimal("0.00001"))
    assert (btc.price_scale, btc.size_scale, btc.tick) == (1, 8, 1)
    assert Catalog("okx", [btc], 0).resolve("btc/usdt") is btc


def test_a_fine_tick_and_a_suspended_instrument() -> None:
    base = DOCS_EXAMPLE["data"][0]
    document = {"code": "0", "msg": "", "data": [
        {**base, "instId": "PEPE-USDT", "baseCcy": "PEPE", "tickSz": "0.000000001",
         "lotSz": "1", "minSz": "100000"},
        {**base, "instId": "ABC-USDT", "baseCcy": "ABC", "state": "suspend"}]}
    pepe, abc = parse(document)
    assert (pepe.price_scale, pepe.size_scale, pepe.tick) == (9, 0, 1)
    assert abc.status is Status.HALTED
