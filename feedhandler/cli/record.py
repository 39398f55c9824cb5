"""``feedhandler record``: subscribe as asked and write every received message to disk."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import signal
import sys
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console

from feedhandler.api import RINGS_ONLY, FeedHandler
from feedhandler.cli import simulated
from feedhandler.cli.base import EXIT_OK, Command, CommandError
from feedhandler.cli.demo import DEFAULT_SYMBOLS, positive_number, symbol_list
from feedhandler.cli.output import Column, format_count, print_line, print_table
from feedhandler.exchanges.base import Channel
from feedhandler.exchanges.registry import UnsupportedError, VenueInfo, venue
from feedhandler.instruments import CatalogUnavailableError, UnknownSymbolError
from feedhandler.record import Recorder

EXIT_BAD_ARGUMENTS = 2       # as argparse exits for a bad flag: here an unlisted symbol

DEFAULT_VENUES = ("binance",)
DEFAULT_CHANNELS = tuple(channel.value for channel in Channel)


def name_list(text: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("the list is empty")
    return names


def channel_list(text: str) -> tuple[str, ...]:
    names = name_list(text)
    known = {channel.value for channel in Channel}
    for name in names:
        if name not in known:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a channel; choose from {', '.join(sorted(known))}")
    return names


def endpoint(text: str) -> tuple[str, str, str | None]:
    name, separator, urls = text.partition("=")
    ws_url, _, rest_url = urls.partition(",")
    if not separator or not name or not ws_url.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not VENUE=WS_URL[,REST_URL] (e.g. binance=ws://127.0.0.1:9001)")
    if rest_url and not rest_url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{rest_url!r} is not an http(s) URL")
    return name.lower(), ws_url, rest_url or None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--venues", type=name_list, default=DEFAULT_VENUES, metavar="LIST",
                        help="comma-separated venues, as `feedhandler venues` names them "
                        f"(default: {','.join(DEFAULT_VENUES)})")
    parser.add_argument("--symbols", type=symbol_list, default=DEFAULT_SYMBOLS, metavar="LIST",
                        help="comma-separated unified symbols "
                        f"(default: {','.join(DEFAULT_SYMBOLS)})")
    parser.add_argument("--channels", type=channel_list, default=DEFAULT_CHANNELS,
                        metavar="LIST", help="comma-separated channels among "
                        f"{','.join(DEFAULT_CHANNELS)}; a venue's missing ones are skipped "
                        "(default: all)")
    parser.add_argument("--timeframe", default="1m", metavar="TF",
                        help="candle timeframe; a venue without it records its first "
                        "(default: %(default)s)")
    parser.add_argument("--endpoint", type=endpoint, action="append", default=[],
                        metavar="VENUE=WS_URL[,REST_URL]",
                        help="connect VENUE here instead of its real URLs (repeatable)")
    parser.add_argument("--duration", type=positive_number, metavar="SECONDS",
                        help="stop after SECONDS (default: run until Ctrl-C)")
    parser.add_argument("--out", type=Path, default=Path("recordings"), metavar="DIR",
                        help="directory the .fhrec files go to (default: %(default)s)")
    parser.add_argument("--rotate-mb", type=positive_number, default=256.0, metavar="MB",
                        help="start a new file once one holds MB megabytes "
                        "(default: %(default)g)")
    parser.add_argument("--rotate-minutes", type=positive_number, metavar="MIN",
                        help="start a new file every MIN minutes as well")
    parser.add_argument("--prefix", default="feed", help="file name prefix "
                        "(default: %(default)s)")
    simulated.add_option(parser)


def endpoint_options(info: VenueInfo, ws_url: str, rest_url: str | None) -> dict[str, Any]:
    parameters = inspect.signature(info.factory).parameters
    options: dict[str, Any] = {"ws_url": ws_url}
    if rest_url is not None:
        if "rest_url" not in parameters:
            raise CommandError(f"{info.name} takes no REST URL (its books come in-band)")
        options["rest_url"] = rest_url
    return options


def subscribe(fh: FeedHandler, info: VenueInfo, symbols: tuple[str, ...],
              channels: tuple[str, ...], timeframe: str) -> int:
    """Subscribes what the venue offers of ``channels``; returns how many subscriptions."""
    count = 0
    for symbol in symbols:
        for channel in info.channels:
            if channel.value not in channels:
                continue
            if channel is Channel.OHLCV:
                frame = timeframe if timeframe in info.timeframes else info.timeframes[0]
                fh.subscribe_ohlcv(info.name, symbol, frame, RINGS_ONLY)
            elif channel is Channel.BOOK:
                fh.subscribe_order_book(info.name, symbol, RINGS_ONLY)
            elif channel is Channel.TRADES:
                fh.subscribe_trades(info.name, symbol, RINGS_ONLY)
            else:
                fh.subscribe_ticker(info.name, symbol, RINGS_ONLY)
            count += 1
    return count


async def record_venues(args: argparse.Namespace, console: Console, infos: list[VenueInfo],
                        endpoints: dict[str, dict[str, Any]], recorder: Recorder) -> FeedHandler:
    """Subscribes and records, against the embedded simulators with ``--simulated``."""
    async with contextlib.AsyncExitStack() as stack:
        if args.simulated:
            started = await stack.enter_async_context(simulated.simulators(
                {info.name: args.symbols for info in infos}))
            endpoints = {**started, **endpoints}
        fh = FeedHandler(endpoints=endpoints, recorder=recorder)
        subscriptions = sum(subscribe(fh, info, args.symbols, args.channels, args.timeframe)
                            for info in infos)
        if not subscriptions:
            raise CommandError("none of the venues offers any of --channels")
        until = "until Ctrl-C" if args.duration is None else f"{args.duration:g} s"
        print_line(console, f"recording {subscriptions} subscriptions on "
                            f"{', '.join(info.name for info in infos)} to {args.out}/ ({until})")
        await record(fh, args.duration)
    return fh


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        infos = [venue(name) for name in args.venues]
    except UnsupportedError as error:
        raise CommandError(str(error)) from None
    endpoints: dict[str, dict[str, Any]] = {}
    for name, ws_url, rest_url in args.endpoint:
        if name not in args.venues:
            raise CommandError(f"--endpoint for {name}, which is not among --venues")
        endpoints[name] = endpoint_options(venue(name), ws_url, rest_url)
    try:
        recorder = Recorder(args.out, prefix=args.prefix, rotate_bytes=int(args.rotate_mb * 1e6),
                            rotate_seconds=args.rotate_minutes * 60 if args.rotate_minutes
                            else None)
    except OSError as error:
        raise CommandError(f"cannot write to {args.out}: {error.strerror or error}") from None
    try:
        fh = uvloop.run(record_venues(args, console, infos, endpoints, recorder))
    except UnknownSymbolError as error:
        print(f"feedhandler record: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except CatalogUnavailableError as error:
        raise CommandError(str(error)) from None
    if fh.refusals and not fh.handles:
        raise CommandError("every subscription was refused: "
                           + "; ".join(refusal.reason for refusal in fh.refusals[:5]))
    stats = recorder.stats()
    rows = [(str(path), format_count(path.stat().st_size)) for path in recorder.files]
    print_table(console, f"{format_count(stats['frames'])} messages, "
                         f"{format_count(stats['raw_bytes'])} bytes recorded "
                         f"into {format_count(stats['compressed_bytes'])}",
                (Column("file"), Column("bytes", "right")), rows)
    if stats["errors"]:
        raise CommandError(f"{stats['errors']} records could not be written: "
                           f"{recorder.last_error}")
    if not stats["frames"]:
        raise CommandError("nothing was received: check the venues' URLs and the network")
    return EXIT_OK


async def record(fh: FeedHandler, duration: float | None) -> None:
    """Runs until ``duration`` or Ctrl-C (the recording is then closed in order)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with fh:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)


COMMAND = Command(
    "record", "record venues' messages to compressed files, for replay",
    "Subscribe to the venues, symbols and channels given and write every message received "
    "(as it came off the wire, with its receive time), every REST snapshot and every book "
    "sync step to zstd-compressed .fhrec files in --out, rotated by size or time. "
    "`feedhandler replay` feeds them back through the same decoders. Real venue URLs unless "
    "--endpoint says otherwise. Ctrl-C stops and closes the files in order.",
    configure, run)
