"""A dict-based client following Binance's documented local-book procedure reproduces the
simulator's true book exactly, on spot and USD-M; plus the REST depth endpoint itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from feedhandler.sim import InstrumentSpec, SimulatedExchange, create_venue
from feedhandler.sim.binance import BinanceVenue
from feedhandler.sim.testing import connect, http_get


class BinanceBookClient:
    """Binance's "How to manage a local order book correctly", spot or USD-M rules."""

    def __init__(self, spec: InstrumentSpec, futures: bool) -> None:
        self.spec = spec
        self.futures = futures
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.snapshot_id: int | None = None
        self.last_u: int | None = None
        self.applied = 0

    def load_snapshot(self, snapshot: dict[str, Any]) -> None:
        self.snapshot_id = snapshot["lastUpdateId"]
        self.bids = {self.spec.price_ticks(p): self.spec.size_lots(q) for p, q in snapshot["bids"]}
        self.asks = {self.spec.price_ticks(p): self.spec.size_lots(q) for p, q in snapshot["asks"]}

    def on_event(self, event: dict[str, Any]) -> None:
        """Apply one diff after the snapshot; raise AssertionError on a broken sequence."""
        assert self.snapshot_id is not None
        first, last = event["U"], event["u"]
        if self.last_u is None:
            if self.futures:
                if last < self.snapshot_id:
                    return
                assert first <= self.snapshot_id <= last, "first event does not cover snapshot"
            else:
                if last <= self.snapshot_id:
                    return
                assert first <= self.snapshot_id + 1 <= last, "first event does not cover snapshot"
        elif self.futures:
            assert event["pu"] == self.last_u, f"gap: pu {event['pu']} != previous u {self.last_u}"
        else:
            assert first == self.last_u + 1, f"gap: U {first} != previous u {self.last_u} + 1"
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price_text, size_text in levels:
                price, size = self.spec.price_ticks(price_text), self.spec.size_lots(size_text)
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
        self.last_u = last
        self.applied += 1


@pytest.mark.parametrize(("market", "depth_path", "ws_path"),
                         [("spot", "/api/v3/depth", "/ws"),
                          ("usdm", "/fapi/v1/depth", "/public/ws")])
async def test_synced_book_equals_true_book(market: str, depth_path: str, ws_path: str) -> None:
    venue = create_venue("binance", market, ["BTCUSDT", "ETHUSDT"])
    async with SimulatedExchange(venue, rate=4000, keepalive=None, seed=11) as sim:
        client = await connect(sim.ws_url + ws_path + "/btcusdt@depth@100ms")
        buffered = [json.loads(await client.next_text()) for _ in range(5)]
        snapshot = (await http_get(f"{sim.http_url}{depth_path}?symbol=BTCUSDT&limit=1000")).json()
        book = BinanceBookClient(sim.market.instrument("BTCUSDT"), futures=market == "usdm")
        book.load_snapshot(snapshot)
        assert buffered[0]["u"] < snapshot["lastUpdateId"], "snapshot should postdate buffering"
        for event in buffered:
            book.on_event(event)
        while book.applied < 300:
            book.on_event(json.loads(await client.next_text()))
        assert book.last_u is not None
        truth = sim.market.book_at("BTCUSDT", book.last_u)
        assert book.bids == truth.bids
        assert book.asks == truth.asks
        assert len(book.bids) > 10 and max(book.bids) < min(book.asks)


async def test_spot_depth_snapshot_respects_limit_and_weights(spot: SimulatedExchange) -> None:
    reply = await http_get(spot.http_url + "/api/v3/depth?symbol=ETHUSDT&limit=7")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"lastUpdateId", "bids", "asks"}
    assert len(body["bids"]) == len(body["asks"]) == 7
    spec = spot.market.instrument("ETHUSDT")
    bid_prices = [spec.price_ticks(p) for p, _ in body["bids"]]
    ask_prices = [spec.price_ticks(p) for p, _ in body["asks"]]
    assert bid_prices == sorted(bid_prices, reverse=True) and ask_prices == sorted(ask_prices)
    truth_bids, truth_asks = spot.market.book_at("ETHUSDT", body["lastUpdateId"]).top(7)
    assert [(spec.price_ticks(p), spec.size_lots(q)) for p, q in body["bids"]] == truth_bids
    assert [(spec.price_ticks(p), spec.size_lots(q)) for p, q in body["asks"]] == truth_asks
    assert all(len(price.split(".")[1]) == 8 for price, _ in body["bids"])
    assert reply.headers["x-mbx-used-weight-1m"] == "5"
    default = (await http_get(spot.http_url + "/api/v3/depth?symbol=ETHUSDT")).json()
    assert len(default["bids"]) == 50  # default limit 100, but the book has 50 levels


async def test_depth_snapshot_errors(spot: SimulatedExchange, usdm: SimulatedExchange) -> None:
    missing = await http_get(spot.http_url + "/api/v3/depth")
    assert missing.status == 400 and missing.json()["code"] == -1102
    unknown = await http_get(spot.http_url + "/api/v3/depth?symbol=DOGEUSDT")
    assert unknown.status == 400 and unknown.json() == {"code": -1121, "msg": "Invalid symbol."}
    bad_limit = await http_get(usdm.http_url + "/fapi/v1/depth?symbol=BTCUSDT&limit=7")
    assert bad_limit.status == 400 and bad_limit.json()["code"] == -1130
    futures = (await http_get(usdm.http_url + "/fapi/v1/depth?symbol=BTCUSDT&limit=5")).json()
    assert set(futures) == {"lastUpdateId", "E", "T", "bids", "asks"}
    assert len(futures["bids"]) == 5
    assert (await http_get(usdm.http_url + "/api/v3/depth?symbol=BTCUSDT")).status == 404


async def test_request_weight_limit_answers_429() -> None:
    minute_start = 1_699_999_980.0
    clock = iter(minute_start + offset for offset in (10.0, 20.0, 30.0, 61.0))
    venue = BinanceVenue("spot", ["BTCUSDT"], rest_weight_limit=60, clock=lambda: next(clock))
    async with SimulatedExchange(venue, rate=None, keepalive=None) as sim:
        url = sim.http_url + "/api/v3/depth?symbol=BTCUSDT&limit=1000"
        first = await http_get(url)
        assert first.status == 200 and first.headers["x-mbx-used-weight-1m"] == "50"
        second = await http_get(url)
        assert second.status == 429
        assert second.json()["code"] == -1003
        assert second.headers["retry-after"] == "40"
        small = await http_get(sim.http_url + "/api/v3/depth?symbol=BTCUSDT&limit=5")
        assert small.status == 200 and small.headers["x-mbx-used-weight-1m"] == "55"
        next_minute = await http_get(url)
        assert next_minute.status == 200 and next_minute.headers["x-mbx-used-weight-1m"] == "50"
