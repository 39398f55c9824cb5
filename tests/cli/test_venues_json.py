"""``feedhandler venues --json``: one entry per registered venue, each channel with the
WebSocket URL its adapter dials for it (OKX candles on /business, HTX books on /feed), the REST
base, book depths and the private channels with their stream's URL."""

import json
from urllib.parse import urlsplit

import pytest

from feedhandler.auth.redact import redact
from feedhandler.cli import main
from feedhandler.exchanges import venues
from feedhandler.exchanges.base import PRIVATE_CHANNELS, Channel

KEYS = {"name", "title", "market", "channels", "endpoints", "rest_url", "timeframes",
        "book_depths", "book_integrity", "private_channels", "private_ws_url"}


@pytest.fixture(scope="module")
def listed() -> dict[str, dict]:
    capture = pytest.MonkeyPatch()
    lines: list[str] = []
    capture.setattr("builtins.print", lambda text, **_: lines.append(text))
    try:
        assert main(["venues", "--json"]) == 0
    finally:
        capture.undo()
    return {entry["name"]: entry for entry in json.loads("".join(lines))}


def test_every_registered_venue_is_listed_once(listed) -> None:
    assert list(listed) == [info.name for info in venues()]


@pytest.mark.parametrize("name", [info.name for info in venues()])
def test_the_shape_of_each_venue(listed, name: str) -> None:
    entry, info = listed[name], next(i for i in venues() if i.name == name)
    assert set(entry) == KEYS
    assert entry["market"] == info.market and entry["title"] == info.title
    assert entry["channels"] == [c.value for c in info.channels]
    assert set(entry["endpoints"]) == set(entry["channels"])
    for endpoint in entry["endpoints"].values():
        assert set(endpoint) == {"ws_url", "endpoint"}
        assert urlsplit(endpoint["ws_url"]).scheme == "wss" and isinstance(
            endpoint["endpoint"], str)
    assert urlsplit(entry["rest_url"]).scheme == "https"
    assert entry["book_depths"] == list(info.book_depths)
    assert all(isinstance(depth, int) for depth in entry["book_depths"])
    assert entry["timeframes"] == list(info.timeframes)
    assert set(entry["private_channels"]) <= {c.value for c in PRIVATE_CHANNELS}
    assert entry["private_channels"] == [c.value for c in info.private_channels]
    private = entry["private_ws_url"]
    assert private is None or urlsplit(private).scheme == "wss"


def test_channels_on_separate_endpoints_show_their_own_url(listed) -> None:
    okx = listed["okx"]["endpoints"]
    assert okx[Channel.OHLCV]["ws_url"].endswith("/ws/v5/business")
    assert okx[Channel.BOOK]["ws_url"].endswith("/ws/v5/public")
    assert (okx[Channel.OHLCV]["endpoint"], okx[Channel.TICKER]["endpoint"]) == \
        ("business", "public")
    htx = listed["htx"]["endpoints"]
    assert htx[Channel.BOOK]["ws_url"] != htx[Channel.TRADES]["ws_url"]
    assert listed["okx"]["private_ws_url"].endswith("/ws/v5/private")


def test_describing_the_venues_registers_no_secret(listed) -> None:
    """The placeholder credentials a private stream's URL is read with are not secrets."""
    assert redact("unused placeholder text") == "unused placeholder text"
