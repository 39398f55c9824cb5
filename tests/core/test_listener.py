"""FeedListener driven with picows test frames: batching, fragments, inflate, limits."""

import gzip
import zlib

import pytest
from picows import WSMsgType
from picows.picows import _make_test_ws_frame

from feedhandler.core.decoder import PassthroughDecoder
from feedhandler.core.listener import FeedListener, wall_clock_ns
from feedhandler.exchanges.binance.decoder import BinanceDecoder

CONTROL, ERROR, TRADES = 16, 32, 1
TRADE = (b'{"e":"trade","E":1672515782136,"s":"BNBBTC","t":%d,"p":"0.001","q":"100",'
         b'"T":1672515782136,"m":true,"M":true}')


class Handler:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.fatal: list[str] = []

    def on_connected(self, transport) -> None: ...
    def on_disconnected(self) -> None: ...

    def on_batch(self, flags: int) -> None:
        self.batches.append(flags)

    def on_fatal(self, reason: str) -> None:
        self.fatal.append(reason)


class FakeTransport:
    """Only what on_ws_frame touches for data frames (never called for them)."""


def frame(kind, payload: bytes, fin: bool = True, last: bool = True, rsv1: bool = False):
    f = _make_test_ws_frame(kind, payload, fin, rsv1)
    assert f.last_in_buffer in (0, 1)
    return f


def deliver(listener: FeedListener, frames) -> None:
    for f in frames:
        listener.on_ws_frame(None, f)
    listener.flush()


def trade_listener(**options):
    decoder = BinanceDecoder()
    decoder.add_instrument("BNBBTC", 1, 8, 8)
    handler = Handler()
    return FeedListener(decoder, handler, **options), decoder, handler


def test_frames_decode_into_the_ring_with_a_receive_timestamp() -> None:
    listener, decoder, handler = trade_listener()
    before = wall_clock_ns()
    deliver(listener, [frame(WSMsgType.TEXT, TRADE % i) for i in range(3)])
    rows = decoder.trades.reader(from_start=True).read()
    assert rows.trade_id.tolist() == [0, 1, 2]
    assert all(before <= ts <= wall_clock_ns() for ts in rows.ts_receive.tolist())
    assert (listener.frames, listener.messages) == (3, 3)
    assert handler.batches and all(flags == TRADES for flags in handler.batches)


def test_one_python_call_per_socket_read() -> None:
    listener, _decoder, handler = trade_listener()
    frames = [frame(WSMsgType.TEXT, TRADE % i) for i in range(5)]
    last_flags = [f.last_in_buffer for f in frames]
    for f in frames:
        listener.on_ws_frame(None, f)
    # test frames all claim last_in_buffer, so each delivers; nothing is left to flush
    assert len(handler.batches) == sum(last_flags)
    listener.flush()
    assert len(handler.batches) == sum(last_flags)


def test_fragmented_text_message_is_reassembled() -> None:
    listener, decoder, handler = trade_listener()
    message = TRADE % 42
    parts = [message[:10], message[10:50], message[50:]]
    deliver(listener, [
        frame(WSMsgType.TEXT, parts[0], fin=False),
        frame(WSMsgType.CONTINUATION, parts[1], fin=False),
        frame(WSMsgType.CONTINUATION, parts[2], fin=True),
    ])
    assert decoder.trades.reader(from_start=True).read().trade_id.tolist() == [42]
    assert handler.fatal == []


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress])
def test_gzip_and_zlib_binary_frames_are_inflated(compress) -> None:
    listener, decoder, _handler = trade_listener(compression="gzip")
    deliver(listener, [frame(WSMsgType.BINARY, compress(TRADE % i)) for i in range(3)])
    assert decoder.trades.reader(from_start=True).read().trade_id.tolist() == [0, 1, 2]
    assert listener.inflate_failures == 0


def test_raw_deflate_and_fragmented_compressed_message() -> None:
    listener, decoder, _handler = trade_listener(compression="deflate")
    packer = zlib.compressobj(wbits=-15)
    blob = packer.compress(TRADE % 7) + packer.flush()
    deliver(listener, [
        frame(WSMsgType.BINARY, blob[:5], fin=False),
        frame(WSMsgType.CONTINUATION, blob[5:], fin=True),
    ])
    assert decoder.trades.reader(from_start=True).read().trade_id.tolist() == [7]


def test_feed_many_takes_the_frame_path_without_delivering() -> None:
    listener, decoder, handler = trade_listener(compression="gzip", max_message_size=4096)
    zipped = [gzip.compress(TRADE % i) for i in range(3)]
    assert listener.feed_many([*zipped, b"", gzip.compress(b"x" * 5000)], binary=True) == 5
    assert decoder.trades.reader(from_start=True).read().trade_id.tolist() == [0, 1, 2]
    assert (listener.frames, listener.messages) == (5, 3)
    assert (listener.inflate_failures, listener.oversize) == (2, 1)   # b"" truncated, bomb
    assert handler.batches == [] and len(handler.fatal) == 2
    assert listener.feed_many([TRADE % 3, b"{", b"x" * 5000]) == 3   # TEXT: never inflated
    assert listener.oversize == 2 and decoder.trades.write_count == 4
    listener.flush()
    assert handler.batches == [TRADES | ERROR]


def test_corrupt_compressed_frame_is_fatal_not_a_crash() -> None:
    listener, decoder, handler = trade_listener(compression="gzip")
    deliver(listener, [frame(WSMsgType.BINARY, b"\x1f\x8b\x08\x00garbage-garbage")])
    assert listener.inflate_failures == 1
    assert handler.fatal == ["corrupt compressed message"]
    deliver(listener, [frame(WSMsgType.BINARY, gzip.compress(TRADE % 1))])
    assert decoder.trades.write_count == 1


def test_oversize_messages_are_refused_and_reported() -> None:
    listener, decoder, handler = trade_listener(max_message_size=64)
    deliver(listener, [frame(WSMsgType.TEXT, b"x" * 65)])
    assert listener.oversize == 1 and "exceeds max_message_size" in handler.fatal[0]
    assert decoder.messages == 0
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    zipped, _, zipped_handler = trade_listener(max_message_size=4096, compression="gzip")
    deliver(zipped, [frame(WSMsgType.BINARY, bomb)])
    assert zipped.oversize == 1 and zipped_handler.fatal


def test_fragments_past_the_limit_are_refused() -> None:
    listener, decoder, handler = trade_listener(max_message_size=100)
    deliver(listener, [
        frame(WSMsgType.TEXT, b"a" * 60, fin=False),
        frame(WSMsgType.CONTINUATION, b"b" * 60, fin=True),
    ])
    assert listener.oversize == 1 and handler.fatal
    assert decoder.messages == 0


def test_continuation_without_start_is_fatal() -> None:
    listener, _decoder, handler = trade_listener()
    deliver(listener, [frame(WSMsgType.CONTINUATION, b"}", fin=True)])
    assert handler.fatal == ["continuation frame without a message"]


def test_malformed_json_is_flagged_and_counted() -> None:
    listener, decoder, handler = trade_listener()
    deliver(listener, [frame(WSMsgType.TEXT, b"{oops")])
    assert handler.batches == [ERROR]
    assert decoder.errors == 1


def test_venue_text_pong_is_recognised() -> None:
    decoder = PassthroughDecoder()
    listener = FeedListener(decoder, Handler(), ping_payload=b"ping", pong_marker=b"pong")
    assert listener.is_user_specific_pong(frame(WSMsgType.TEXT, b"pong"))
    assert listener.is_user_specific_pong(frame(WSMsgType.TEXT, b'{"op":"pong","ts":1}'))
    assert not listener.is_user_specific_pong(frame(WSMsgType.TEXT, b'{"e":"trade"}'))
    assert listener.is_user_specific_pong(frame(WSMsgType.PONG, b""))


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        FeedListener(PassthroughDecoder(), Handler(), compression="brotli")
    with pytest.raises(ValueError):
        FeedListener(PassthroughDecoder(), Handler(), ping_payload=b"ping")


def test_messages_with_rounded_values_are_counted_per_channel() -> None:
    listener, decoder, _ = trade_listener()
    inexact = TRADE.replace(b'"q":"100"', b'"q":"0.000000015"')
    deliver(listener, [frame(WSMsgType.TEXT, TRADE % 1), frame(WSMsgType.TEXT, inexact % 2),
                       frame(WSMsgType.TEXT, TRADE % 3)])
    assert decoder.message_kinds()["trades"][0] == 3
    assert decoder.inexact_kinds()["trades"] == 1 and decoder.inexact_kinds()["book"] == 0
    rows = decoder.trades.reader(from_start=True).read()
    assert rows.inexact.tolist() == [0, 1, 0] and rows.size.tolist()[1] == 2
