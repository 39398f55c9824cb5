"""HTX's market-symbols answer, as its docs show it, read into catalog records."""

from decimal import Decimal

from feedhandler.exchanges.base import Status
from feedhandler.exchanges.htx.instruments import parse
from feedhandler.instruments import Catalog

DOCS_EXAMPLE = {
    # GET /v1/settings/common/market-symbols?symbols=btcusdt, the example answer of HTX's
    # docs (https://www.htx.com/en-us/opend/newApiPages/?id=7ec516fc-7773-11ed-9966-0242ac110003)
    "status": "ok",
    "data": [{
        "symbol": "btcusdt", "bc": "btc", "qc": "usdt", "state": "online", "sp": "main",
        "tags": "", "lr": 5, "smlr": 3, "pp": 2, "ap": 6, "vp": 8, "minoa": 0.0001,
        "maxoa": 1000, "minov": 5, "lominoa": 0.0001, "lomaxoa": 1000, "lomaxba": 10000000,
        "lomaxsa": 1000, "smminoa": 0.0001, "blmlt": 1.1, "slmgt": 0.9, "smmaxoa": 100,
        "bmmaxov": 1000000, "msormlt": 0.1, "mbormlt": 0.1, "maxov": 2000000, "u": "btcusdt",
        "mfr": 0.035, "ct": "23:55:00", "rt": "00:00:00", "rthr": 4, "in": 16000,
        "at": "enabled", "tags2": "",
    }],
    "ts": "1641880897191",
    "full": 1,
}


def test_the_docs_example_is_btcusdt_at_its_precisions() -> None:
    [btc] = parse(DOCS_EXAMPLE)
    assert (btc.symbol, btc.venue_symbol, btc.base, btc.quote) == \
        ("BTC-USDT", "btcusdt", "BTC", "USDT")
    assert (btc.price_scale, btc.size_scale, btc.tick) == (2, 6, 1)
    assert (btc.tick_size, btc.lot_size, btc.min_size, btc.min_notional) == \
        (Decimal("0.01"), Decimal("0.000001"), Decimal("0.0001"), Decimal("5"))
    assert btc.status is Status.TRADING
    assert Catalog("htx", [btc], 0).find("BTCUSDT") is btc


def test_a_fine_tick_an_offline_and_a_suspended_symbol() -> None:
    item = DOCS_EXAMPLE["data"][0]
    document = {"status": "ok", "data": [
        {**item, "symbol": "shibusdt", "bc": "shib", "pp": 10, "ap": 2},
        {**item, "symbol": "abcusdt", "bc": "abc", "state": "offline"},
        {**item, "symbol": "defusdt", "bc": "def", "state": "suspend"}]}
    shib, abc, def_ = parse(document)
    assert (shib.price_scale, shib.size_scale, shib.tick_size) == (10, 2, Decimal("1e-10"))
    assert abc.status is Status.DELISTED and def_.status is Status.HALTED
