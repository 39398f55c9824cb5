"""``feedhandler replay``: feed recordings back through the decoders and say what came out."""

from __future__ import annotations

import argparse
from collections import Counter
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from feedhandler.cli.base import EXIT_OK, Command, CommandError
from feedhandler.cli.demo import positive_number
from feedhandler.cli.output import Column, format_count, print_line, print_table
from feedhandler.core.book import OrderBook
from feedhandler.record import RecordingError, Replay
from feedhandler.record.replay import ReplayStats

PROGRESS_BYTES = 8 << 20       # recordings smaller than this replay too fast for a bar

COLUMNS = (Column("venue"), Column("symbol"), Column("trades", "right"),
           Column("tickers", "right"), Column("candles", "right"), Column("book"),
           Column("bid", "right"), Column("ask", "right"))


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE",
                        help=".fhrec files in recording order, or directories of them")
    parser.add_argument("--speed", type=positive_number, metavar="X",
                        help="pace by the recorded receive times, X times as fast (1 = real "
                        "time; default: as fast as possible)")
    parser.add_argument("--allow-gaps", action="store_true",
                        help="continue across recording files missing from the sequence (each "
                        "header carries its file index): every book is withdrawn across the "
                        "gap until the recording resyncs it (default: a missing file is an "
                        "error)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: on a terminal, for recordings over "
                        f"{PROGRESS_BYTES >> 20} MB)")


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        replay = Replay(args.paths, allow_gaps=args.allow_gaps)
        size = sum(path.stat().st_size for path in replay.files)
    except (RecordingError, OSError) as error:
        raise CommandError(str(error)) from None
    show = args.progress if args.progress is not None else (
        console.is_terminal and size > PROGRESS_BYTES)
    try:
        if show:
            with Progress("replaying", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                          console=console, transient=True) as progress:
                task = progress.add_task("replay", total=size)
                stats = replay.run(args.speed,
                                   lambda done, total: progress.update(task, completed=done))
        else:
            stats = replay.run(args.speed)
    except RecordingError as error:
        raise CommandError(str(error)) from None
    report(console, replay, stats)
    return EXIT_OK


def report(console: Console, replay: Replay, stats: ReplayStats) -> None:
    fh = replay.fh
    counts: dict[str, Counter[int]] = {}
    for name, ring in (("trades", fh.trades), ("tickers", fh.tickers),
                       ("candles", fh.candles)):
        reader = ring.reader(from_start=True)
        counts[name] = Counter(reader.read().instrument.tolist()) if reader.pending else Counter()
    rows = []
    for instrument in fh.by_id:
        try:
            book: OrderBook | None = replay.book(instrument.venue, instrument.symbol)
        except KeyError:
            book = None
        rows.append((instrument.venue, instrument.symbol,
                     *(format_count(counts[name][instrument.id])
                       for name in ("trades", "tickers", "candles")),
                     "-" if book is None else ("live" if book.valid else "withdrawn"),
                     price(book, 0), price(book, 1)))
    rate = stats.frames / stats.seconds if stats.seconds else 0.0
    print_table(console, f"{format_count(stats.frames)} messages from {stats.files} files "
                         f"({stats.recorded_seconds:.1f} s recorded) replayed in "
                         f"{stats.seconds:.2f} s: {format_count(rate)} msg/s", COLUMNS, rows)
    if stats.fatal or stats.call_errors:
        print_line(console, f"as when recorded: {stats.fatal} messages thrown away, "
                            f"{stats.call_errors} book sync steps failed")
    for gap in stats.gaps:
        print_line(console, f"recording gap: {gap}; books withdrawn across it until resynced",
                   "yellow")
    for cut in stats.cut:
        print_line(console, f"recording cut short: {cut}; replayed up to its last whole record",
                   "yellow")


def price(book: OrderBook | None, side: int) -> str:
    """The book's best price on ``side`` as it stood at the end (rings keep no book)."""
    best = None if book is None else book.best_bid() if side == 0 else book.best_ask()
    if book is None or best is None:
        return "-"
    return str(Decimal(best[0]).scaleb(-book.price_scale))


COMMAND = Command(
    "replay", "feed recordings back through the decoders, as fast as possible or paced",
    "Replay .fhrec recordings made by `feedhandler record` (or a FeedHandler given a "
    "Recorder) through the same listeners and decoders: compressed messages are inflated "
    "again, REST snapshots and book sync steps are applied where they were, so the books "
    "and rows come out exactly as they were recorded. Prints what each instrument produced "
    "and the replay rate. A corrupt recording is reported with its file and byte offset; a "
    "last file cut short replays up to its last whole record. A file missing from the "
    "sequence is an error unless --allow-gaps: then books are withdrawn across the gap.",
    configure, run)
