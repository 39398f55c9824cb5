"""Promise: garbage frames under the size limit do not leave memory behind.

A message just under ``max_message_size`` that is not JSON grows the listener's buffers and
the decoder's parser to its size (the parser to about 6x it); five 15 MiB frames used to keep
over 75 MB per connection. Once decoded (refused and counted), they shrink back: measured in
a fresh process, so nothing else moves the figure."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from picows import WSMsgType

from feedhandler.core.listener import FeedListener
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges.base import Rings
from feedhandler.exchanges.registry import venue

FRAME = 15 << 20            # under every venue's 16 MiB limit
FRAMES = 5
TRADE = (b'{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":7,"p":"20000.5","q":"0.25",'
         b'"T":1672515782136,"m":true,"M":true}')

MEASURE = textwrap.dedent("""
    import gzip, json, sys
    from picows import WSMsgType
    from feedhandler.core.listener import FeedListener
    from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
    from feedhandler.exchanges.base import Rings
    from feedhandler.exchanges.registry import venue

    def rss_kib():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    class Handler:
        def on_connected(self, transport): ...
        def on_disconnected(self): ...
        def on_batch(self, flags): ...
        def on_fatal(self, reason): ...

    name, size, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    adapter = venue(name).create()
    decoder = adapter.new_decoder(Rings(TradeRing(64), TickerRing(64), CandleRing(64)))
    listener = FeedListener(decoder, Handler(), max_message_size=adapter.max_message_size,
                            compression=adapter.compression)
    payload = b"{" + b"," * (size - 1)      # every byte a structural: the parser's worst case
    kind = WSMsgType.TEXT
    if adapter.compression != "none":
        payload, kind = gzip.compress(payload, 1), WSMsgType.BINARY
    before = rss_kib()
    for _ in range(frames):
        listener.feed_frame(kind, True, payload)
    print(json.dumps({"kept": (rss_kib() - before) << 10, "errors": decoder.errors,
                      "limit": adapter.max_message_size}))
""")


@pytest.mark.parametrize("name", ["binance", "htx"])   # htx: gzipped, inflated by the listener
def test_memory_kept_after_garbage_frames_stays_under_the_frame_limit(name: str) -> None:
    out = subprocess.run([sys.executable, "-c", MEASURE, name, str(FRAME), str(FRAMES)],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    measured = json.loads(out)
    assert measured["errors"] == FRAMES, "each garbage frame is refused and counted"
    assert measured["kept"] < measured["limit"] // 2, \
        f"{measured['kept'] >> 20} MiB kept after {FRAMES} garbage frames of {FRAME >> 20} MiB"


def binance_listener() -> tuple[FeedListener, object]:
    adapter = venue("binance").create()
    rings = Rings(TradeRing(64), TickerRing(64), CandleRing(64))
    decoder = adapter.new_decoder(rings)
    decoder.add_instrument("BTCUSDT", 0, 2, 8)
    return FeedListener(decoder, object(), max_message_size=adapter.max_message_size), rings


@pytest.mark.parametrize("fragments", [1, 3])
def test_after_a_large_frame_the_parser_shrinks_back_and_decoding_goes_on(fragments: int
                                                                           ) -> None:
    listener, rings = binance_listener()
    decoder = listener.decoder
    garbage = b"{" + b"," * (FRAME - 1)
    step = len(garbage) // fragments
    parts = [garbage[i * step:(i + 1) * step if i < fragments - 1 else None]
             for i in range(fragments)]
    for i, part in enumerate(parts):
        listener.feed_frame(WSMsgType.TEXT if i == 0 else WSMsgType.CONTINUATION,
                            i == fragments - 1, part)
    assert decoder.errors == 1
    assert decoder.parser_capacity <= 1 << 20, "the parser gave back what the frame grew"
    listener.feed_frame(WSMsgType.TEXT, True, TRADE)
    assert decoder.errors == 1
    assert rings.trades.write_count == 1      # type: ignore[attr-defined]


def test_a_large_valid_message_still_decodes() -> None:
    """Shrinking never costs a message: a 2 MiB trade (padded with a long field) parses,
    twice, the parser growing again for the second."""
    listener, rings = binance_listener()
    padding = json.dumps({"pad": "x" * (2 << 20)}).encode()
    message = TRADE[:-1] + b',"pad":' + padding + b"}"
    for _ in range(2):
        listener.feed_frame(WSMsgType.TEXT, True, message)
    assert listener.decoder.errors == 0, listener.decoder.last_error
    assert rings.trades.write_count == 2      # type: ignore[attr-defined]
