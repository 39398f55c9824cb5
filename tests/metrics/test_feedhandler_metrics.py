"""FeedHandler.metrics() and the Prometheus endpoint against the simulated Binance: the
counters agree with what was delivered and with the faults injected."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from feedhandler import BookStatus, BookUpdate, FeedHandler, Ticker, Trade
from feedhandler.metrics.snapshot import ConnectionMetrics
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.testing import pumping, until

VENUE = "binance"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedExchange]:
    async with SimulatedExchange(create_venue("binance", "spot", ["BTCUSDT"]), seed=3,
                                 rate=None, keepalive=None) as exchange:
        yield exchange


class Received:
    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self.tickers: list[Ticker] = []
        self.books: list[BookUpdate] = []

    def subscribe(self, fh: FeedHandler) -> None:
        fh.subscribe_trades(VENUE, "BTC-USDT", self.trades.append)
        fh.subscribe_ticker(VENUE, "BTC-USDT", self.tickers.append)
        fh.subscribe_order_book(VENUE, "BTC-USDT", self.books.append)

    def live_book_updates(self) -> int:
        return sum(1 for u in self.books if u.status is BookStatus.LIVE and not u.resynced)


def handler(sim: SimulatedExchange) -> FeedHandler:
    return FeedHandler(endpoints={VENUE: {"ws_url": sim.ws_url, "rest_url": sim.http_url}},
                       backoff_base=0.05, backoff_cap=0.2)


def only_connection(fh: FeedHandler) -> ConnectionMetrics:
    (connection,) = fh.metrics().venues[VENUE].connections
    return connection


async def test_counters_agree_with_what_was_delivered(sim: SimulatedExchange) -> None:
    fh = handler(sim)
    got = Received()
    got.subscribe(fh)
    async with fh:
        await until(lambda: any(u.resynced for u in got.books))
        async with pumping(sim, steps=3):
            await until(lambda: len(got.trades) >= 30 and got.live_book_updates() >= 30)
        await until(lambda: fh.book(VENUE, "BTC-USDT").valid)
        connection = only_connection(fh)
        trades, ticker, book = (connection.channels[name] for name in
                                ("trades", "ticker", "book"))
        # what was delivered to callbacks is what was timed, one sample per event
        assert trades.receive_to_callback.total == len(got.trades)
        assert ticker.receive_to_callback.total == len(got.tickers)
        assert book.receive_to_callback.total == got.live_book_updates()
        # Binance sends one trade per message, each with its event time
        assert trades.messages == len(got.trades) == trades.exchange_to_receive.total
        assert ticker.exchange_to_receive.total == 0    # bookTicker carries no event time
        assert book.exchange_to_receive.total == got.live_book_updates()
        assert ticker.messages == len(got.tickers)
        assert connection.messages == (sum(c.messages for c in connection.channels.values())
                                       + connection.control_messages
                                       + connection.other_messages + connection.decode_errors)
        assert connection.messages == fh.stats()["connections"][VENUE][0]["messages"]
        assert connection.bytes == fh.stats()["connections"][VENUE][0]["bytes"]
        assert 0 < trades.bytes and 0 < book.bytes
        assert (trades.subscriptions, ticker.subscriptions, book.subscriptions) == (1, 1, 1)
        assert connection.channels["ohlcv"].messages == 0
        assert connection.decode_errors == connection.gaps == connection.resyncs == 0
        assert connection.connected and connection.reconnects == 0
        totals = fh.metrics().totals
        assert totals.messages >= connection.messages and totals.connections == 1
        assert fh.stats()["latency"]["count"] == (len(got.trades) + len(got.tickers)
                                                  + got.live_book_updates())
    after = only_connection(fh)     # stopped: the snapshot still tells what the run did
    assert not after.connected and after.channels["trades"].messages == len(got.trades)


async def test_faults_show_up_as_errors_gaps_resyncs_and_reconnects(
        sim: SimulatedExchange) -> None:
    fh = handler(sim)
    got = Received()
    got.subscribe(fh)
    async with fh:
        await until(lambda: any(u.resynced for u in got.books))
        sim.malformed()
        await until(lambda: only_connection(fh).decode_errors == 1)
        sim.gap("BTCUSDT")
        async with pumping(sim, steps=3):
            await until(lambda: only_connection(fh).gaps == 1)
            await until(lambda: only_connection(fh).resyncs == 1)
            connection = only_connection(fh)
            assert connection.channels["book"].gaps == 1
            assert connection.channels["book"].resyncs == 1
            assert connection.channels["trades"].gaps == 0
            assert connection.reconnects == 0
            sim.drop()
            await until(lambda: only_connection(fh).reconnects == 1)
            await until(lambda: only_connection(fh).resyncs == 2)   # the book, after the drop
        connection = only_connection(fh)
        assert connection.disconnects == 1 and connection.decode_errors == 1
        assert connection.checksum_failures == 0


async def test_reset_metrics_counts_from_then_on(sim: SimulatedExchange) -> None:
    fh = handler(sim)
    got = Received()
    got.subscribe(fh)
    async with fh:
        await until(lambda: any(u.resynced for u in got.books))
        async with pumping(sim, steps=3):
            await until(lambda: len(got.trades) >= 10)
        await until(lambda: only_connection(fh).channels["trades"].messages == len(got.trades))
        before = fh.metrics()
        fh.reset_metrics()
        seen = len(got.trades)
        after_reset = only_connection(fh)
        assert after_reset.channels["trades"].messages == 0
        assert after_reset.channels["trades"].receive_to_callback.total == 0
        assert after_reset.channels["trades"].subscriptions == 1    # a level, not a count
        assert after_reset.connected
        async with pumping(sim, steps=3):
            await until(lambda: len(got.trades) >= seen + 10)
        await until(lambda: only_connection(fh).channels["trades"].messages
                    == len(got.trades) - seen)
        later = fh.metrics()
        trades = later.connection(f"{VENUE}#1").channels["trades"]
        assert trades.receive_to_callback.total == len(got.trades) - seen
        assert later.since_ns == before.taken_ns or later.since_ns >= before.taken_ns
        with pytest.raises(KeyError, match="no connection named 'nowhere'"):
            later.connection("nowhere")


# ---- Prometheus --------------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)\})? '
                    r'(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_strictly(text: str) -> dict[str, Any]:
    """Checks the text exposition format line by line: HELP and TYPE once per family before
    its samples, every sample of a declared family, counters ending in ``_total``, histogram
    buckets cumulative and ending at ``+Inf`` with the ``_count``. Returns
    {family: {"type": ..., "samples": [(name, labels, value)]}}."""
    assert text.endswith("\n")
    families: dict[str, Any] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in families, f"family {name} declared twice"
            families[name] = {"type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == current and families[name]["type"] is None, line
            assert kind in ("counter", "gauge", "histogram"), line
            assert kind != "counter" or name.endswith("_total"), line
            families[name]["type"] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels = match.group(1), dict(LABEL.findall(match.group(3) or ""))
            assert current is not None
            kind = families[current]["type"]
            allowed = ({f"{current}_bucket", f"{current}_sum", f"{current}_count"}
                       if kind == "histogram" else {current})
            assert name in allowed, f"{name} outside its family {current}"
            families[current]["samples"].append((name, labels, float(match.group(4))))
    for name, family in families.items():
        if family["type"] != "histogram":
            continue
        series: dict[tuple[Any, ...], list[tuple[float, float]]] = {}
        counts = {}
        for sample, labels, value in family["samples"]:
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            if sample.endswith("_bucket"):
                le = labels["le"]
                series.setdefault(key, []).append((float("inf") if le == "+Inf" else float(le),
                                                   value))
            elif sample.endswith("_count"):
                counts[key] = value
        for key, buckets in series.items():
            bounds = [le for le, _ in buckets]
            assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), (name, key)
            values = [value for _, value in buckets]
            assert values == sorted(values), f"{name}{key} buckets not cumulative"
            assert bounds[-1] == float("inf") and values[-1] == counts[key], (name, key)
    return families


async def test_the_prometheus_endpoint_serves_the_text_format(sim: SimulatedExchange) -> None:
    fh = handler(sim)
    got = Received()
    got.subscribe(fh)
    async with fh:
        server = await fh.serve_metrics(host="127.0.0.1", port=0)
        assert server.url == f"http://127.0.0.1:{server.port}/metrics" and server.port > 0
        await until(lambda: any(u.resynced for u in got.books))
        async with pumping(sim, steps=3):
            await until(lambda: len(got.trades) >= 20)
        await until(lambda: only_connection(fh).channels["trades"].messages == len(got.trades))
        fh.reset_metrics()    # the endpoint's counters do not go back
        async with aiohttp.ClientSession() as session, session.get(server.url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            text = await response.text()
    families = parse_strictly(text)
    labels = {"venue": VENUE, "connection": f"{VENUE}#1"}

    def value(family: str, sample: str | None = None, **more: str) -> float:
        wanted = {**labels, **more}
        found = [v for name, have, v in families[family]["samples"]
                 if name == (sample or family) and have == wanted]
        assert len(found) == 1, (family, wanted)
        return found[0]

    assert value("feedhandler_messages_total", channel="trades") == len(got.trades)
    assert value("feedhandler_subscriptions", channel="book") == 1
    assert value("feedhandler_connected") == 1
    assert value("feedhandler_gaps_total", channel="book") == 0
    histogram = "feedhandler_receive_to_callback_seconds"
    assert families[histogram]["type"] == "histogram"
    assert value(histogram, f"{histogram}_count", channel="trades") == len(got.trades)
    assert value(histogram, f"{histogram}_bucket", channel="trades", le="+Inf") == len(got.trades)
    assert 0 < value(histogram, f"{histogram}_sum", channel="trades") < len(got.trades)
    assert families["feedhandler_ring_overruns_total"]["samples"] == [
        ("feedhandler_ring_overruns_total", {}, 0.0)]
    # and the reference parser reads the same thing
    parsed = {family.name: family for family in text_string_to_metric_families(text)}
    assert parsed["feedhandler_messages"].type == "counter"
    assert parsed["feedhandler_receive_to_callback_seconds"].type == "histogram"
    trades = [s for s in parsed["feedhandler_messages"].samples
              if s.labels.get("channel") == "trades"]
    assert [s.value for s in trades] == [len(got.trades)]


async def test_the_endpoint_stops_with_the_feedhandler_and_a_busy_port_is_a_clear_error(
        sim: SimulatedExchange) -> None:
    fh = handler(sim)
    async with fh:
        server = await fh.serve_metrics(port=0)
        with pytest.raises(OSError, match=f"metrics endpoint: cannot listen on 127.0.0.1:"
                                          f"{server.port}"):
            await fh.serve_metrics(port=server.port)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(server.url):
                pass


@pytest.mark.parametrize("text", [
    "# HELP a_total x\n# TYPE a_total counter\na_total 1",                 # no final newline
    "# HELP a x\n# TYPE a counter\na 1\n",                                  # counter sans _total
    "# HELP a_total x\n# TYPE a_total counter\nb_total 1\n",               # outside its family
    '# HELP a_total x\n# TYPE a_total counter\na_total{x="1} 1\n',         # broken label
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1.0\"} 3\n"
    "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",                        # not cumulative
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
])
def test_the_strict_parser_rejects_broken_expositions(text: str) -> None:
    with pytest.raises(AssertionError):
        parse_strictly(text)
