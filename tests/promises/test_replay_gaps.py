"""Promise: replay never passes silently over a missing recording file.

Each file's header carries its ``file_index``; a file missing from the middle of a recording is
an error naming it, unless the caller asks to continue: then the gap is reported and every book
is withdrawn across it until the recording resyncs it, as a live reconnect would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedhandler import BookUpdate
from feedhandler.cli import main as cli_main
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
from feedhandler.events import BookStatus
from feedhandler.exchanges.base import Channel, Instrument, Rings, Subscription
from feedhandler.exchanges.registry import venue
from feedhandler.net.connection import Connection, StatusKind
from feedhandler.record import Recorder, RecordingError, Replay

DELTAS_PER_RESYNC = 60
RESYNCS = 6


def book_message(kind: str, update: int) -> bytes:
    """A Bybit linear orderbook.50 push; each update moves the best bid by one tick."""
    bid = 20000 + update % 50
    return json.dumps({"topic": "orderbook.50.BTCUSDT", "type": kind, "ts": 1700000000000 + update,
                       "data": {"s": "BTCUSDT", "b": [[f"{bid}.0", f"{1 + update % 7}"]],
                                "a": [[f"{20100 + update % 3}.0", "2"]], "u": update,
                                "seq": update}}).encode()


def record_book(directory: Path) -> Recorder:
    """A Bybit book connection (never dialled) recorded over many small files: a snapshot and
    ``mark_live`` (the adapter's sync) every DELTAS_PER_RESYNC deltas, as after each resync."""
    recorder = Recorder(directory, rotate_bytes=2048)
    recorder.writer.block_bytes = 1024
    adapter = venue("bybit").create()
    instrument = Instrument(0, "bybit", "BTC-USDT", "BTCUSDT", adapter.market,
                            price_scale=2, size_scale=4)
    rings = Rings(TradeRing(16), TickerRing(16), CandleRing(16))
    connection = Connection(adapter, rings,
                            [Subscription(Channel.BOOK, instrument, depth=50)], recorder=recorder)
    tap = connection.tap
    assert tap is not None
    slot = connection.decoder.slot_of("BTCUSDT")
    update = 1000
    for _ in range(RESYNCS):
        connection.decoder.mark_waiting(slot)
        update += 1
        tap.frame(book_message("snapshot", update), False, update)
        tap.read_end(update)
        connection.decoder.mark_live(slot)
        connection.notify(StatusKind.BOOK_RESYNCED, "", slot, connection.book_subscriptions[slot])
        for _ in range(DELTAS_PER_RESYNC):
            update += 1
            tap.frame(book_message("delta", update), False, update)
            tap.read_end(update)
    recorder.close()
    return recorder


def replay_with_updates(paths: list[Path],
                        allow_gaps: bool = False) -> tuple[Replay, list[BookUpdate]]:
    replay = Replay(paths, allow_gaps=allow_gaps)
    updates: list[BookUpdate] = []
    replay.fh.subscribe_order_book("bybit", "BTC-USDT", updates.append, depth=50)
    replay.run()
    return replay, updates


def test_a_missing_middle_file_is_an_error_naming_it(tmp_path: Path) -> None:
    files = record_book(tmp_path).files
    assert len(files) >= 5
    missing = files[2]
    missing.unlink()
    with pytest.raises(RecordingError) as error:
        Replay([tmp_path]).run()
    assert error.value.path == str(files[3])
    assert missing.name in str(error.value) and "file index 2" in str(error.value)


def test_the_command_line_refuses_the_gap_unless_allowed(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    files = record_book(tmp_path).files
    files[1].unlink()
    assert cli_main(["replay", str(tmp_path)]) != 0
    assert files[1].name in capsys.readouterr().err
    assert cli_main(["replay", "--allow-gaps", str(tmp_path)]) == 0
    assert f"recording gap: missing {files[1].name}" in capsys.readouterr().out


def test_allowed_gap_is_reported_and_books_are_withdrawn_until_resynced(tmp_path: Path) -> None:
    files = record_book(tmp_path).files
    whole, whole_updates = replay_with_updates(files)
    missing = files[2]
    missing.unlink()
    kept = [path for path in files if path != missing]

    replay, updates = replay_with_updates(kept, allow_gaps=True)

    (gap,) = replay.stats.gaps
    assert gap.missing == (2,) and gap.names == (missing.name,)
    assert gap.after == str(files[1]) and gap.before == str(files[3])
    assert replay.stats.withdrawn == 1
    invalid = [i for i, u in enumerate(updates) if u.status is BookStatus.INVALID
               and "recording gap" in u.reason]
    assert len(invalid) == 1, "the book is withdrawn once, across the gap"
    after = updates[invalid[0] + 1:]
    assert after, "the book comes back"
    assert after[0].status is BookStatus.LIVE and after[0].resynced, \
        "nothing is served across the gap until a snapshot after it resyncs the book"
    # from that resync on, the very same book as the whole recording replayed
    book, whole_book = replay.book("bybit", "BTC-USDT"), whole.book("bybit", "BTC-USDT")
    assert book.valid and book.sequence == whole_book.sequence
    for side in (0, 1):
        for mine, theirs in zip(book.levels(side), whole_book.levels(side), strict=True):
            assert mine.tolist() == theirs.tolist()
    assert [u.sequence for u in after] == [u.sequence for u in whole_updates
                                           if u.sequence >= after[0].sequence]
