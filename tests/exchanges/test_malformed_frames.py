"""Every venue decoder refuses a frame whose brackets do not balance or that goes on after
its root value, even when the fields it reads are intact (On-Demand reads lazily)."""

import pytest

from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges.base import Rings
from feedhandler.exchanges.registry import venues

ERROR = 32
GOOD = b'{"channel":"status","data":[{"a":1}]}'
BROKEN = [
    GOOD + b"x",                                  # trailing scalar
    GOOD + b' {"b":2}',                           # a second document
    GOOD[:-3] + b"\x00]}",                        # the inner object never closes
    GOOD[:-1],                                    # the root never closes
    b'{"channel":"status","data":[{"a":1}]]}',    # one bracket too many
]


@pytest.mark.parametrize("info", venues(), ids=lambda info: info.name)
@pytest.mark.parametrize("frame", BROKEN)
def test_broken_frames_are_decode_errors(info, frame: bytes) -> None:
    decoder = info.create().new_decoder(Rings(TradeRing(16), TickerRing(16), CandleRing(16)))
    assert decoder.feed(frame) & ERROR
    assert decoder.errors == 1 and "JSON" in (decoder.last_error or "")
