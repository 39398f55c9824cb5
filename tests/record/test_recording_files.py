"""The recording container on its own: rotation, headers that restate, cut-short and corrupt
files, pacing, and a recorder that cannot write leaving the feed alone."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from feedhandler.core.listener import wall_clock_ns
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.exchanges.base import Channel, Instrument, Rings, Subscription
from feedhandler.exchanges.registry import venue
from feedhandler.net.connection import Connection
from feedhandler.record import Recorder, RecordingError, Replay
from feedhandler.record.format import Kind, file_head, pack_json
from feedhandler.record.reader import RecordingFile
from feedhandler.record.writer import RecordingWriter


def trade(trade_id: int) -> bytes:
    return (b'{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":%d,"p":"%d.5","q":"0.25",'
            b'"T":1672515782136,"m":true,"M":true}' % (trade_id, 20000 + trade_id))


def record_trades(directory: Path, count: int, *, block_bytes: int = 2048,
                  rotate_bytes: int | None = None, spacing_ns: int = 0) -> Recorder:
    """A binance connection (never dialled) recorded with ``count`` trades, one per read."""
    recorder = Recorder(directory, rotate_bytes=rotate_bytes)
    recorder.writer.block_bytes = block_bytes
    adapter = venue("binance").create()
    instrument = Instrument(0, "binance", "BTC-USDT", "BTCUSDT", "spot", 2, 8)
    rings = Rings(TradeRing(1 << 14), TickerRing(16), CandleRing(16))
    connection = Connection(adapter, rings, [Subscription(Channel.TRADES, instrument)],
                            recorder=recorder)
    assert connection.tap is not None
    start = wall_clock_ns()
    for i in range(count):
        connection.tap.frame(trade(i), False, start + i * spacing_ns)
        connection.tap.read_end(start + i * spacing_ns)
    recorder.close()
    return recorder


def replayed_trade_ids(paths: list[Path], **options: object) -> list[int]:
    replay = Replay(paths)
    reader = replay.fh.trades.reader()
    replay.run(**options)  # type: ignore[arg-type]
    return reader.read().trade_id.tolist() if reader.pending else []


def test_every_trade_comes_back_in_order(tmp_path: Path) -> None:
    recorder = record_trades(tmp_path, 500)
    assert recorder.errors == 0 and recorder.frames == 500
    assert replayed_trade_ids(recorder.files) == list(range(500))


def test_rotation_starts_files_that_sort_and_restate_the_connections(tmp_path: Path) -> None:
    recorder = record_trades(tmp_path, 3000, rotate_bytes=4096)
    files = recorder.files
    assert len(files) >= 3
    assert files == sorted(files) == sorted(tmp_path.glob("*.fhrec"))
    assert replayed_trade_ids([tmp_path]) == list(range(3000))   # a directory: all, in order
    with RecordingFile(files[1]) as second:
        (connection,) = second.header["connections"]
        assert connection["venue"] == "binance" and connection["subscriptions"][0]["symbol"] \
            == "BTC-USDT"
        assert connection["setup"][0][0] == "add_instrument"
    # a later file alone replays: its header sets the connection up
    alone = replayed_trade_ids(files[1:])
    assert alone and alone == list(range(alone[0], 3000))


def test_a_file_cut_short_replays_up_to_its_last_whole_record(tmp_path: Path) -> None:
    (path,) = record_trades(tmp_path, 400).files
    whole = path.read_bytes()
    # 1 byte short: only the last block's checksum is missing, every record is whole
    for keep, most in ((len(whole) - 1, 400), (len(whole) - 700, 399), (len(whole) // 2, 399)):
        path.write_bytes(whole[:keep])
        replay = Replay([path])
        reader = replay.fh.trades.reader()
        stats = replay.run()
        ids = reader.read().trade_id.tolist()
        assert ids == list(range(len(ids))), keep       # a prefix, nothing skipped
        assert 0 < len(ids) <= most, keep
        assert stats.cut and str(path) in stats.cut[0]


def test_only_the_last_file_may_be_cut_short(tmp_path: Path) -> None:
    files = record_trades(tmp_path, 3000, rotate_bytes=4096).files
    first = files[0].read_bytes()
    files[0].write_bytes(first[:-10])
    with pytest.raises(RecordingError) as error:
        Replay(files).run()
    assert error.value.path == str(files[0]) and error.value.offset > 0


def test_a_corrupt_block_is_a_typed_error_naming_file_and_offset(tmp_path: Path) -> None:
    (path,) = record_trades(tmp_path, 400).files
    data = bytearray(path.read_bytes())
    with RecordingFile(path) as recording:
        offsets = [block.offset for block in recording.blocks(allow_cut=False)]
    target = offsets[len(offsets) // 2]
    data[target + 40] ^= 0xFF                                 # inside the zstd frame
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError) as error:
        Replay([path]).run()
    assert error.value.path == str(path) and error.value.offset == target
    assert "corrupt block" in str(error.value)


@pytest.mark.parametrize("content, reason", [
    (b"", "too short"),
    (b"not a recording at all, just text", "bad magic"),
])
def test_what_is_not_a_recording_is_said_so(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.fhrec"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=reason):
        Replay([path]).run()


def test_a_record_of_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.writer.append(99, 0, 0, 0, b"??")
    recorder.close()
    with pytest.raises(RecordingError, match="unknown kind 99"):
        Replay(recorder.files).run()


def test_a_frame_of_an_unknown_connection_is_refused(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.writer.append(Kind.FRAME, 0, 5, 0, trade(1))
    recorder.close()
    with pytest.raises(RecordingError, match="unknown connection 5"):
        Replay(recorder.files).run()


def test_real_time_replay_honours_the_recorded_receive_times(tmp_path: Path) -> None:
    recorder = record_trades(tmp_path, 40, spacing_ns=10_000_000)     # 0.39 s recorded
    started = time.perf_counter()
    assert replayed_trade_ids(recorder.files, speed=1.0) == list(range(40))
    assert time.perf_counter() - started >= 0.38
    started = time.perf_counter()
    replayed_trade_ids(recorder.files)                                 # full speed
    assert time.perf_counter() - started < 0.38


def test_a_recorder_that_cannot_write_counts_and_the_feed_goes_on(tmp_path: Path) -> None:
    recorder = record_trades(tmp_path, 10)
    tap = recorder.taps[0]
    tap.frame(trade(11), False, wall_clock_ns())                       # writer is closed
    assert recorder.errors == 1 and "closed" in recorder.last_error
    rings = tap.decoder.trades
    flags = tap.proxy.feed(trade(12))                                  # the decoder still works
    assert flags & 1 and rings.write_count == 1
    assert np.asarray(rings.columns["trade_id"])[0] == 12


def test_a_call_that_cannot_be_recorded_is_counted_and_still_made(tmp_path: Path) -> None:
    recorder = record_trades(tmp_path / "a", 1)
    tap = recorder.taps[0]
    with pytest.raises(TypeError):                     # the decoder's own refusal, unchanged
        tap.proxy.mark_live(object())
    assert recorder.errors == 1 and "cannot record a object argument" in recorder.last_error


def test_records_and_headers_that_do_not_say_what_they_should_are_typed_errors(
        tmp_path: Path) -> None:
    recorder = record_trades(tmp_path / "ok", 1)
    path = recorder.files[0]
    with RecordingFile(path) as recording:
        header = recording.header
    broken = tmp_path / "header.fhrec"
    broken.write_bytes(file_head(header | {"connections": [{"id": 0}]}))
    with pytest.raises(RecordingError, match="header: KeyError"):
        Replay([broken]).run()
    for payload in (b"\x05", b"\x09\x00\x00\x00[1,2", b'\x07\x00\x00\x00["nope"]'):
        again = Recorder(tmp_path / f"bad-{len(payload)}")
        again.writer.append(Kind.CONNECTION, 0, 0, 0, pack_json(
            {"id": 0, "name": "x", "venue": "binance", "market": "spot"}))
        again.writer.append(Kind.CALL, 0, 0, 0, payload)
        again.close()
        with pytest.raises(RecordingError, match=r"record at \d+ of the block \(CALL\)"):
            Replay(again.files).run()


def test_rotation_by_time(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path, lambda: {"connections": []}, rotate_seconds=0.05,
                             flush_seconds=0.01)
    for round_ in range(3):
        writer.append(Kind.STATUS, 0, 0, 0, pack_json({"round": round_}))
        writer.append(Kind.STATUS, 0, 0, 20_000_000, pack_json({"round": round_}))  # flushes
        time.sleep(0.06)
    writer.close()
    assert len(writer.files) == 3
    for index, path in enumerate(writer.files):
        with RecordingFile(path) as recording:
            assert recording.header["file_index"] == index
            (block,) = recording.blocks(allow_cut=False)
            assert block.data.count(b'{"round":%d}' % index) == 2
