"""``feedhandler run``: subscribe to real venues (or any endpoint) and write what arrives to
stdout, Redis Streams and/or Parquet files, until a duration or Ctrl-C.

Subscriptions come from flags (one venue) or a TOML file (any number), outputs from ``--out``
or the file. Everything is checked against the exchange registry before anything connects; a
bad flag or file exits 2 naming the offending key, a failure while running (a sink that cannot
be reached, a venue that never connected, any row lost: dropped behind or failed past the retry
bound) exits 1. Data goes to stdout only with ``--out stdout``; status lines and warnings go to
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import sys
import time
import tomllib
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvloop
from rich.console import Console

from feedhandler.api import RINGS_ONLY, FeedHandler
from feedhandler.cli import simulated
from feedhandler.cli.base import EXIT_INTERRUPTED, EXIT_OK, Command, CommandError
from feedhandler.cli.demo import Interrupts, positive_number, symbol_list
from feedhandler.exchanges.base import Channel
from feedhandler.exchanges.registry import UnsupportedError, venue
from feedhandler.instruments import CatalogUnavailableError, UnknownSymbolError
from feedhandler.sinks.base import (
    BOOK_DEPTH,
    BOOK_INTERVAL,
    DURABILITY_WINDOW,
    MARKET_CHANNELS,
    RETRY_FOR,
    Sink,
    SinkRunner,
)
from feedhandler.sinks.stdout import StdoutSink

EXIT_BAD_ARGUMENTS = 2          # as argparse exits for a bad flag
STATUS_INTERVAL = 5.0
CLOCK_SLACK = 0.01              # timers may fire this much early
DEFAULT_TIMEFRAME = "1m"        # when the venue offers it, else its first
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
CONFIG_KEYS = {"out", "duration", "book_depth", "book_interval", "status_interval",
               "retry_for", "durability_window", "subscribe", "endpoints", "redis", "parquet"}
SUBSCRIBE_KEYS = {"venue", "symbols", "channels", "timeframe", "depth"}
ENDPOINT_KEYS = {"ws_url", "rest_url"}
REDIS_KEYS: dict[str, tuple[Any, str]] = {
    "prefix": (str, "a string"), "maxlen": (int, "a whole number"),
    "cluster": (bool, "true or false")}
PARQUET_KEYS: dict[str, tuple[Any, str]] = {"rows_per_file": (int, "a whole number")}


class ConfigError(Exception):
    """A flag or config value that cannot be run: exit 2, with the key that is wrong."""


@dataclass(frozen=True)
class SubscriptionPlan:
    venue: str
    symbols: tuple[str, ...]
    channels: tuple[Channel, ...]
    timeframe: str | None
    depth: int | None


@dataclass
class RunPlan:
    subscriptions: list[SubscriptionPlan] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    endpoints: dict[str, dict[str, str]] = field(default_factory=dict)
    duration: float | None = None
    book_depth: int = BOOK_DEPTH
    book_interval: float = BOOK_INTERVAL
    status_interval: float = STATUS_INTERVAL
    retry_for: float = RETRY_FOR
    durability_window: float = DURABILITY_WINDOW
    redis: dict[str, Any] = field(default_factory=dict)
    parquet: dict[str, Any] = field(default_factory=dict)


# ---- arguments -------------------------------------------------------------------------------

def channel_list(text: str) -> tuple[Channel, ...]:
    names = {channel.value: channel for channel in MARKET_CHANNELS}
    channels = []
    for part in text.split(","):
        channel = names.get(part.strip().lower())
        if channel is None:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not a channel ({', '.join(names)})")
        channels.append(channel)
    return tuple(channels)


def endpoint(text: str) -> tuple[str, dict[str, str]]:
    name, equals, urls = text.partition("=")
    parts = [part.strip() for part in urls.split(",") if part.strip()]
    if not equals or not name or not 1 <= len(parts) <= 2:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not VENUE=WS_URL[,REST_URL], e.g. binance=ws://127.0.0.1:9001")
    return name.strip(), dict(zip(("ws_url", "rest_url"), parts, strict=False))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML file of subscriptions and outputs (see README); flags given "
                        "as well add a subscription and replace its outputs")
    parser.add_argument("--venue", metavar="NAME", help="venue to subscribe to, e.g. binance "
                        "(`feedhandler venues` lists them)")
    parser.add_argument("--symbol", type=symbol_list, action="append", metavar="LIST",
                        help="unified symbols, comma-separated or repeated (e.g. BTC-USDT)")
    parser.add_argument("--channel", type=channel_list, action="append", metavar="LIST",
                        help="trades, ticker, ohlcv, book; comma-separated or repeated "
                        "(default: every channel the venue offers)")
    parser.add_argument("--timeframe", metavar="TF",
                        help=f"candle timeframe (default: {DEFAULT_TIMEFRAME} when offered)")
    parser.add_argument("--depth", type=positive_int, metavar="N",
                        help="book depth to subscribe (default: the venue's)")
    parser.add_argument("--out", action="append", metavar="TARGET",
                        help="stdout (JSON lines), redis://HOST:PORT[/DB] (Redis Streams) or "
                        "parquet:DIR; repeat for several (default: stdout)")
    parser.add_argument("--endpoint", type=endpoint, action="append", metavar="VENUE=URL[,URL]",
                        help="connect VENUE to this WebSocket URL (and REST URL) instead of "
                        "the real one, e.g. a simulator")
    parser.add_argument("--duration", type=positive_number, metavar="SECONDS",
                        help="stop after SECONDS (default: run until Ctrl-C)")
    parser.add_argument("--book-depth", type=positive_int, metavar="N",
                        help=f"levels per side in book snapshots (default: {BOOK_DEPTH})")
    parser.add_argument("--book-interval", type=positive_number, metavar="SECONDS",
                        help="at most one snapshot of a changing book this often "
                        f"(default: {BOOK_INTERVAL:g})")
    parser.add_argument("--status-interval", type=positive_number, metavar="SECONDS",
                        help=f"a status line on stderr this often (default: {STATUS_INTERVAL:g})")
    parser.add_argument("--retry-for", type=non_negative_number, metavar="SECONDS",
                        help="retry a row Redis refused or a Parquet file that failed this long, "
                        f"then count it lost and exit 1 at the end (default: {RETRY_FOR:g})")
    parser.add_argument("--durability-window", type=positive_number, metavar="SECONDS",
                        help="Parquet: complete a file at least this often, the most a crash "
                        f"can lose (default: {DURABILITY_WINDOW:g})")
    simulated.add_option(parser)


def non_negative_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


# ---- the plan: config file, then flags, then the registry's word -----------------------------

def load_config(path: Path) -> RunPlan:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return plan_from_config(data, str(path))


def plan_from_config(data: dict[str, Any], name: str) -> RunPlan:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{name}: {key}: {problem}")

    def known(table: dict[str, Any], keys: set[str], where: str) -> None:
        for key in table:
            if key not in keys:
                raise fail(f"{where}{key}", f"unknown key (expected one of "
                           f"{', '.join(sorted(keys))})")

    def typed(value: Any, kind: type | tuple[type, ...], key: str, what: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise fail(key, f"must be {what}, got {value!r}")
        return value

    def positive(value: Any, key: str) -> float:
        number = typed(value, (int, float), key, "a positive number")
        if number <= 0:
            raise fail(key, f"must be a positive number, got {value!r}")
        return float(number)

    known(data, CONFIG_KEYS, "")
    plan = RunPlan()
    outputs = data.get("out", [])
    plan.outputs = [outputs] if isinstance(outputs, str) else list(
        typed(outputs, list, "out", "a target or a list of targets"))
    for i, target in enumerate(plan.outputs):
        typed(target, str, f"out[{i}]", "a string")
    if "duration" in data:
        plan.duration = positive(data["duration"], "duration")
    if "book_depth" in data:
        plan.book_depth = int(positive(typed(data["book_depth"], int, "book_depth",
                                             "a whole number"), "book_depth"))
    if "book_interval" in data:
        plan.book_interval = positive(data["book_interval"], "book_interval")
    if "status_interval" in data:
        plan.status_interval = positive(data["status_interval"], "status_interval")
    if "durability_window" in data:
        plan.durability_window = positive(data["durability_window"], "durability_window")
    if "retry_for" in data:
        retry_for = typed(data["retry_for"], (int, float), "retry_for", "a number >= 0")
        if not retry_for >= 0 or math.isinf(retry_for):
            raise fail("retry_for", f"must be a number >= 0, got {retry_for!r}")
        plan.retry_for = float(retry_for)
    for i, entry in enumerate(typed(data.get("subscribe", []), list, "subscribe",
                                    "a list of [[subscribe]] tables")):
        where = f"subscribe[{i}]"
        typed(entry, dict, where, "a table")
        known(entry, SUBSCRIBE_KEYS, f"{where}.")
        if "venue" not in entry:
            raise fail(f"{where}.venue", "missing")
        symbols = entry.get("symbols")
        if not isinstance(symbols, list) or not symbols:
            raise fail(f"{where}.symbols", "must be a non-empty list such as [\"BTC-USDT\"]")
        try:
            parsed_symbols = symbol_list(",".join(typed(s, str, f"{where}.symbols", "strings")
                                                  for s in symbols))
            channels = channel_list(",".join(entry["channels"])) if "channels" in entry \
                else ()
        except argparse.ArgumentTypeError as error:
            key = "channels" if "channel" in str(error) else "symbols"
            raise fail(f"{where}.{key}", str(error)) from None
        depth = entry.get("depth")
        if depth is not None:
            typed(depth, int, f"{where}.depth", "a whole number")
        plan.subscriptions.append(SubscriptionPlan(
            typed(entry["venue"], str, f"{where}.venue", "a venue name"), parsed_symbols,
            channels, typed(entry.get("timeframe", ""), str, f"{where}.timeframe",
                            "a string such as \"1m\"") or None, depth))
    for name_, options in typed(data.get("endpoints", {}), dict, "endpoints",
                                "a table of [endpoints.VENUE] tables").items():
        typed(options, dict, f"endpoints.{name_}", "a table")
        known(options, ENDPOINT_KEYS, f"endpoints.{name_}.")
        plan.endpoints[name_] = {key: typed(value, str, f"endpoints.{name_}.{key}", "a URL")
                                 for key, value in options.items()}
    for section, kinds in (("redis", REDIS_KEYS), ("parquet", PARQUET_KEYS)):
        options = typed(data.get(section, {}), dict, section, "a table")
        known(options, set(kinds), f"{section}.")
        for key, value in options.items():
            kind, what = kinds[key]
            typed(value, kind, f"{section}.{key}", what)
            if kind is int and value < 1:
                raise fail(f"{section}.{key}", f"must be at least 1, got {value!r}")
        setattr(plan, section, dict(options))
    return plan


def build_plan(args: argparse.Namespace) -> RunPlan:
    plan = load_config(args.config) if args.config is not None else RunPlan()
    flag_names = ("symbol", "channel", "timeframe", "depth")
    if args.venue is not None:
        if not args.symbol:
            raise ConfigError("--venue needs at least one --symbol")
        plan.subscriptions.append(SubscriptionPlan(
            args.venue, tuple(dict.fromkeys(s for group in args.symbol for s in group)),
            tuple(dict.fromkeys(c for group in args.channel or () for c in group)),
            args.timeframe, args.depth))
    elif any(getattr(args, name) is not None for name in flag_names):
        used = next(name for name in flag_names if getattr(args, name) is not None)
        raise ConfigError(f"--{used} needs --venue")
    if not plan.subscriptions:
        raise ConfigError("nothing to subscribe to: give --venue and --symbol, or --config")
    if args.out:
        plan.outputs = list(args.out)
    plan.outputs = plan.outputs or ["stdout"]
    for target in plan.outputs:
        check_output(target)
    for name, urls in args.endpoint or ():
        plan.endpoints[name] = urls
    for name in ("duration", "book_depth", "book_interval", "status_interval", "retry_for",
                 "durability_window"):
        if getattr(args, name) is not None:
            setattr(plan, name, getattr(args, name))
    return plan


def redacted(target: str) -> str:
    """``target`` fit to print: a password in a Redis URL becomes ``***``."""
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def check_output(target: str) -> None:
    if target == "stdout" or target.startswith(REDIS_SCHEMES):
        return
    if target.startswith("parquet:") and target.removeprefix("parquet:"):
        return
    raise ConfigError(f"--out {redacted(target)!r}: expected stdout, redis://HOST:PORT[/DB] or "
                      "parquet:DIR")


def subscribe(fh: FeedHandler, plan: RunPlan) -> int:
    """Every planned subscription, rings only; the registry's refusals are config errors."""
    count = 0
    for i, entry in enumerate(plan.subscriptions):
        where = f"subscription {i + 1} ({entry.venue})"
        try:
            info = venue(entry.venue)
            timeframe = entry.timeframe or (DEFAULT_TIMEFRAME if DEFAULT_TIMEFRAME in
                                            info.timeframes else next(iter(info.timeframes), None))
            for channel in entry.channels or tuple(info.channels):
                for symbol in entry.symbols:
                    match channel:
                        case Channel.TRADES:
                            fh.subscribe_trades(entry.venue, symbol, RINGS_ONLY)
                        case Channel.TICKER:
                            fh.subscribe_ticker(entry.venue, symbol, RINGS_ONLY)
                        case Channel.OHLCV:
                            fh.subscribe_ohlcv(entry.venue, symbol, timeframe or "",
                                               RINGS_ONLY)
                        case Channel.BOOK:
                            fh.subscribe_order_book(entry.venue, symbol, RINGS_ONLY,
                                                    depth=entry.depth)
                        case _:
                            raise ValueError(f"{channel} is not a market-data channel")
                    count += 1
        except (UnsupportedError, ValueError) as error:
            raise ConfigError(f"{where}: {error}") from None
        except TypeError as error:      # the venue's adapter refused an endpoint option
            raise ConfigError(f"endpoints.{entry.venue}: {error}") from None
    return count


def create_sink(target: str, plan: RunPlan) -> Sink:
    """Imports each sink only when asked for, so that stdout needs neither redis nor pyarrow."""
    try:
        if target == "stdout":
            return StdoutSink()
        if target.startswith(REDIS_SCHEMES):
            from feedhandler.sinks.redis_streams import RedisStreamSink
            return RedisStreamSink(target, retry_for=plan.retry_for, **plan.redis)
        from feedhandler.sinks.parquet import ParquetSink
        return ParquetSink(target.removeprefix("parquet:"), retry_for=plan.retry_for,
                           durability_window=plan.durability_window, **plan.parquet)
    except ImportError as error:
        raise CommandError(f"--out {redacted(target)}: {error.name} is not installed "
                           "(pip install 'feedhandler[sinks]')") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"--out {redacted(target)}: {error}") from None


# ---- the run ---------------------------------------------------------------------------------

def run(args: argparse.Namespace, console: Console) -> int:
    try:
        plan = build_plan(args)
        if not args.simulated:
            fh, subscriptions, sinks = prepare(plan)
    except ConfigError as error:
        print(f"feedhandler run: error: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    if args.simulated:
        return run_logged(simulated_run(plan))
    return run_logged(run_feed(fh, plan, sinks, subscriptions))


def prepare(plan: RunPlan) -> tuple[FeedHandler, int, list[Sink]]:
    """The FeedHandler subscribed as planned and the sinks (ConfigError for a bad plan)."""
    fh = FeedHandler(endpoints=plan.endpoints)
    subscriptions = subscribe(fh, plan)
    return fh, subscriptions, [create_sink(target, plan) for target in plan.outputs]


async def simulated_run(plan: RunPlan) -> int:
    """The run against the embedded simulators, each trading its venue's planned symbols."""
    wanted: dict[str, list[str]] = {}
    for entry in plan.subscriptions:
        wanted.setdefault(entry.venue, []).extend(entry.symbols)
    async with simulated.simulators(wanted) as endpoints:
        for name, options in endpoints.items():
            plan.endpoints[name] = {**options, **plan.endpoints.get(name, {})}
        try:
            fh, subscriptions, sinks = prepare(plan)
        except ConfigError as error:
            print(f"feedhandler run: error: {error}", file=sys.stderr)
            return EXIT_BAD_ARGUMENTS
        return await run_feed(fh, plan, sinks, subscriptions)


def run_logged(feed: Coroutine[Any, Any, int]) -> int:
    """Runs ``feed`` on uvloop with warnings logged to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        return uvloop.run(feed)
    except asyncio.CancelledError:
        print("feedhandler run: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        root.removeHandler(handler)


def status(started: float, fh: FeedHandler, runners: Sequence[SinkRunner]) -> str:
    connections = [c for per_venue in fh.stats()["connections"].values() for c in per_venue]
    up = sum(1 for c in connections if c["connected"])
    return (f"feedhandler run: {time.monotonic() - started:6.1f}s  connections {up}/"
            f"{len(connections)}  " + "  ".join(runner.status_line() for runner in runners))


async def run_feed(fh: FeedHandler, plan: RunPlan, sinks: list[Sink],
                   subscriptions: int) -> int:
    runners = [SinkRunner(fh, sink, book_depth=plan.book_depth,
                          book_interval=plan.book_interval) for sink in sinks]
    started = time.monotonic()
    with Interrupts().installed() as interrupts:
        async with contextlib.AsyncExitStack() as stack:
            for runner, target in zip(runners, plan.outputs, strict=True):
                try:
                    await runner.start()
                except Exception as error:
                    raise CommandError(f"--out {redacted(target)}: cannot open: "
                                       f"{type(error).__name__}: {error}") from None
                stack.push_async_callback(runner.stop)
            print(f"feedhandler run: {subscriptions} subscriptions, writing to "
                  f"{', '.join(map(redacted, plan.outputs))}", file=sys.stderr, flush=True)
            loop = asyncio.get_running_loop()
            for sink in sinks:
                if isinstance(sink, StdoutSink):     # `run | head`: stop when head does
                    def stop_soon(stop: asyncio.Event = interrupts.stop) -> None:
                        loop.call_soon_threadsafe(stop.set)
                    sink.on_reader_gone = stop_soon
            try:
                await stack.enter_async_context(fh)
            except UnknownSymbolError as error:
                print(f"feedhandler run: error: {error}", file=sys.stderr)
                return EXIT_BAD_ARGUMENTS
            except CatalogUnavailableError as error:
                raise CommandError(str(error)) from None
            deadline = math.inf if plan.duration is None else started + plan.duration
            next_status = started + plan.status_interval
            while not interrupts.stop.is_set() and time.monotonic() < deadline - CLOCK_SLACK:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(interrupts.stop.wait(), max(
                        0.0, min(next_status, deadline) - time.monotonic()))
                if time.monotonic() >= next_status - CLOCK_SLACK:
                    print(status(started, fh, runners), file=sys.stderr, flush=True)
                    next_status += plan.status_interval
            interrupts.abandonable = False
            never = never_connected(fh)
    print(f"feedhandler run: done after {time.monotonic() - started:.1f}s  "
          + "  ".join(runner.status_line() for runner in runners), file=sys.stderr, flush=True)
    gone = [sink for sink in sinks if isinstance(sink, StdoutSink) and sink.reader_gone]
    if gone:
        print("feedhandler run: stopped: stdout was closed by its reader", file=sys.stderr)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no flush error
    problems = [f"{runner.sink.name}: {runner.stats.lost():,} rows lost "
                f"({sum(runner.stats.failed.values()):,} failed, "
                f"{sum(runner.stats.dropped.values()):,} dropped behind)"
                for runner in runners if runner.stats.lost() and runner.sink not in gone]
    problems += [f"{name} never connected: {reason}" for name, reason in never.items()]
    if fh.refusals and not fh.handles:
        problems.append("every subscription was refused: "
                        + "; ".join(refusal.reason for refusal in fh.refusals[:5]))
    if problems:
        raise CommandError("; ".join(problems))
    return EXIT_OK


def never_connected(fh: FeedHandler) -> dict[str, str]:
    """Venues none of whose connections ever came up, with the last reason given."""
    found = {}
    for name, connections in fh.stats()["connections"].items():
        if connections and not any(c["connected"] or c["reconnects"] or c["messages"]
                                   for c in connections):
            found[name] = next((c["last_connect_failure"] for c in connections
                                if c["last_connect_failure"]), "no answer")
    return found


COMMAND = Command(
    "run", "subscribe to venues and write the data to stdout, Redis or Parquet",
    "Subscribe to venues (from flags for one venue, or a TOML --config for any number) and "
    "write every trade, ticker, candle and top-N book snapshot to stdout as JSON lines, to "
    "Redis Streams (one stream per venue/channel/symbol) and/or to Parquet files, exact "
    "decimals throughout. Status lines go to stderr: rows written (Redis acknowledged them, "
    "their Parquet file is complete), dropped (the sink fell a ring behind), failed (refused "
    "past --retry-for), retried, held and pending. Exits 2 for a bad flag or config (naming "
    "the key), 1 when a sink cannot be opened, a venue never connects or any row is lost.",
    configure, run)
