"""No secret in any log line, status reason, stats entry, repr or exception text: the places a
secret passes (a listen key or token in a WebSocket or REST URL, a venue echoing it in a close
reason) are run against the simulator with every logger at DEBUG, and the registered secret
must appear nowhere, while the events it travelled with are still reported (redacted)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest

from feedhandler import BookStatus, BookUpdate, FeedHandler
from feedhandler.auth.redact import REDACTED, forget_secret, redact, register_secret
from feedhandler.instruments.loader import cache_path, load_catalog, source_of, write_cache
from feedhandler.net.rest import RestError
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.testing import until

LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
TOKEN = "2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2LGzEexample"


class Captured(logging.Handler):
    """Every record of every logger, formatted with its traceback if any."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Captured]:
    root = logging.getLogger()
    handler, level = Captured(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    register_secret(LISTEN_KEY)
    register_secret(TOKEN)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        forget_secret(LISTEN_KEY)
        forget_secret(TOKEN)


def test_redact_replaces_registered_secrets_and_query_values() -> None:
    register_secret(LISTEN_KEY)
    try:
        assert redact(f"wss://stream/ws/{LISTEN_KEY}") == f"wss://stream/ws/{REDACTED}"
        assert redact("GET https://h/api?signature=abc123&recvWindow=5000 -> 400") == \
            f"GET https://h/api?signature={REDACTED}&recvWindow={REDACTED} -> 400"
        assert redact("venue closed with code 1013 'maintenance'") == \
            "venue closed with code 1013 'maintenance'"
    finally:
        forget_secret(LISTEN_KEY)
    assert redact(f"/ws/{LISTEN_KEY}") == f"/ws/{LISTEN_KEY}"   # forgotten
    with pytest.raises(ValueError):
        register_secret("short")


def test_rest_error_text_carries_no_secret() -> None:
    register_secret(TOKEN)
    try:
        error = RestError(f"https://api.example/{TOKEN}/depth?listenKey=abc", 401,
                          f'{{"msg":"bad token {TOKEN}"}}')
    finally:
        forget_secret(TOKEN)
    assert TOKEN not in str(error) and "listenKey=abc" not in str(error)
    assert "401" in str(error) and REDACTED in str(error)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def everything_shown(fh: FeedHandler, logs: Captured, updates: list[BookUpdate]) -> str:
    texts = [*logs.lines, repr(fh.stats()), repr(fh), *(repr(u) for u in updates)]
    for state in fh.venues.values():
        texts.append(repr(state.adapter))
        texts.extend(repr(c) for c in (state.pool.connections if state.pool else ()))
    return "\n".join(texts)


async def test_secrets_in_urls_and_venue_replies_are_never_shown(logs: Captured) -> None:
    venue = create_venue("binance", "spot", ["BTCUSDT"])
    async with SimulatedExchange(venue, rate=None, keepalive=None) as sim:
        # the REST base carries the token (and refuses it): every snapshot fails with a
        # RestError naming the URL; the venue then closes with a reason quoting the listen key
        # its instruments cached for that REST base: the snapshots are what fails there
        catalog = await load_catalog("binance", endpoints={"rest_url": sim.http_url})
        write_cache(cache_path("binance", source_of("binance"), f"{sim.http_url}/{TOKEN}"),
                    catalog)
        fh = FeedHandler(endpoints={"binance": {
            "ws_url": sim.ws_url, "rest_url": f"{sim.http_url}/{TOKEN}"}},
            backoff_base=0.02, backoff_cap=0.05, handshake_timeout=2.0)
        updates: list[BookUpdate] = []
        fh.subscribe_order_book("binance", "BTC-USDT", updates.append)
        dead = FeedHandler(endpoints={"binance": {
            "ws_url": f"ws://127.0.0.1:{closed_port()}/ws/{LISTEN_KEY}?listenKey={LISTEN_KEY}",
            "rest_url": sim.http_url}}, backoff_base=0.02, backoff_cap=0.05)
        dead.subscribe_trades("binance", "BTC-USDT", print)
        async with fh, dead:
            await until(lambda: any(u.reason.startswith("sync failed") for u in updates))
            await until(lambda: bool(sim.connections))
            sim.close(4001, f"listenKey {LISTEN_KEY} expired")
            await until(lambda: any("venue closed" in u.reason for u in updates))
            [dial] = dead.venues["binance"].pool.connections   # type: ignore[union-attr]
            await until(lambda: dial.connect_failures >= 2)
            await asyncio.sleep(0.05)
            shown = everything_shown(fh, logs, updates) + everything_shown(dead, logs, [])
    assert LISTEN_KEY not in shown and TOKEN not in shown
    reasons = [u.reason for u in updates if u.status is BookStatus.INVALID]
    assert any(REDACTED in r and "RestError" in r for r in reasons), reasons
    assert any(REDACTED in r and "4001" in r for r in reasons), reasons
    assert any("connect failed" in line for line in logs.lines)


def test_tls_is_verified_by_default_and_the_opt_out_is_explicit() -> None:
    import ssl

    from feedhandler.net.connection import Connection

    default = FeedHandler()
    default.subscribe_trades("binance", "BTC-USDT", print)
    assert default.verify_tls
    adapter = default.venues["binance"].adapter
    assert adapter.rest.verify_tls   # type: ignore[attr-defined]
    rings = default.rings
    verified = Connection(adapter, rings).tls_context("wss://stream.binance.com:9443/stream")
    assert verified is not None and verified.verify_mode is ssl.CERT_REQUIRED
    assert verified.check_hostname
    opted_out = FeedHandler(verify_tls=False)
    opted_out.subscribe_trades("binance", "BTC-USDT", print)
    insecure_adapter = opted_out.venues["binance"].adapter
    assert not insecure_adapter.rest.verify_tls   # type: ignore[attr-defined]
    insecure = Connection(insecure_adapter, opted_out.rings, verify_tls=False).tls_context(
        "wss://stream.binance.com:9443/stream")
    assert insecure is not None and insecure.verify_mode is ssl.CERT_NONE
    assert Connection(adapter, rings).tls_context("ws://127.0.0.1:1/ws") is None
