"""``feedhandler demo``: every registered venue against its own simulator, watched live.

Each venue the exchange registry lists gets a ``SimulatedExchange`` on 127.0.0.1 (found in the
simulator registry by its adapter's name and market); one FeedHandler subscribes to every
channel the venue offers for each symbol; faults are injected while it runs; at the end the
markets stop, and every book is compared with the simulator's true book. Nothing here names a
venue, so the demo grows as venues are registered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import inspect
import logging
import math
import re
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, assert_never

import uvloop
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from feedhandler.api import FeedHandler
from feedhandler.cli.account import AccountDemo
from feedhandler.cli.base import EXIT_INTERRUPTED, EXIT_OK, Command, CommandError
from feedhandler.cli.output import (
    Column,
    decimals_of,
    format_count,
    format_ns,
    print_line,
    print_table,
)
from feedhandler.cli.readout import print_metrics
from feedhandler.core.book import OrderBook
from feedhandler.events import BookStatus, BookUpdate, Candle, Ticker, Trade, exact
from feedhandler.exchanges import VenueInfo, venues
from feedhandler.exchanges.base import Channel
from feedhandler.metrics import LatencyHistogram
from feedhandler.sim import VENUES as SIMULATORS
from feedhandler.sim import SimulatedExchange, create_venue

DEFAULT_SYMBOLS = ("BTC-USDT", "ETH-USDT")
LISTED = 10          # instruments of each simulator's catalog the demo adds to --symbols
CANDLE_TIMEFRAME = "1m"          # shown when the venue offers it, else its first timeframe
FAULT_WINDOW = (0.25, 0.6)       # faults fall in this part of the run: books are live before
                                 # the first and have time to recover after the last
FAULT_ROUND = 10.0               # seconds per round of faults when running until Ctrl-C
BACKOFF = (0.2, 2.0)             # local simulators: reconnect within a fraction of a second
CONNECT_TIMEOUT = 10.0           # a venue not connected by then is reported, the rest go on
                                 # (12 Gate.io symbols take ~30 requests at 5 per second: 6 s)
SETTLE_TIMEOUT = 15.0            # for books hit by the last fault to be live again (the same
                                 # ~6 s of paced subscribes after a reconnect, then the syncs)
QUIET = 0.2                      # no book update for this long: the FeedHandler has caught up
PUBLISH_PERIOD = 0.005           # the markets move in steps this far apart
POLL_PERIOD = 0.25               # counters are read, and the live view redrawn, this often
PLAIN_PERIOD = 1.0               # a status line this often when stdout is not a terminal
RATE_PERIOD = 1.0                # rates are counts over about this many seconds
CLOCK_SLACK = 0.01               # timers may fire this much early
JOURNAL_LINES = 8

SYMBOL = re.compile(r"[A-Z0-9]+(?:[-/_:][A-Z0-9]+)*")
"""A symbol in any spelling the catalogs resolve: BTC-USDT, BTCUSDT, XBT/USD, BTC/USDT:USDT."""


# ---- arguments -------------------------------------------------------------------------------

def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def symbol_list(text: str) -> tuple[str, ...]:
    symbols = tuple(part.strip().upper() for part in text.split(","))
    for symbol in symbols:
        if not SYMBOL.fullmatch(symbol):
            raise argparse.ArgumentTypeError(
                f"{symbol!r} is not a symbol such as BTC-USDT or BTC/USDT")
    if len(set(symbols)) < len(symbols):
        raise argparse.ArgumentTypeError(f"a symbol is listed twice in {text!r}")
    return symbols


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535)")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=positive_number, metavar="SECONDS",
                        help="stop after SECONDS (default: run until Ctrl-C)")
    parser.add_argument("--symbols", type=symbol_list, default=DEFAULT_SYMBOLS,
                        metavar="LIST", help="comma-separated unified symbols "
                        f"(default: {','.join(DEFAULT_SYMBOLS)})")
    parser.add_argument("--listed", type=int, default=LISTED, metavar="N",
                        help="also N instruments each venue's simulator lists, the finest "
                        "ticks among them (default: %(default)s)")
    parser.add_argument("--rate", type=positive_number, default=1000.0, metavar="N",
                        help="market events per second from each simulator "
                        "(default: %(default)g)")
    parser.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True,
                        help="inject faults on every venue (a lost book message, a bad "
                        "checksum where books carry one, a dropped connection) to watch books "
                        "resync and connections recover (default: on)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the simulated markets (venue i uses S+i; "
                        "default: %(default)s)")
    parser.add_argument("--metrics-port", type=port_number, metavar="PORT",
                        help="serve the metrics in the Prometheus text format at "
                        "http://127.0.0.1:PORT/metrics while the demo runs (0: any free port)")


@dataclass(frozen=True)
class DemoOptions:
    duration: float | None
    symbols: tuple[str, ...]
    rate: float
    faults: bool
    seed: int
    metrics_port: int | None = None
    listed: int = 0


def run(args: argparse.Namespace, console: Console) -> int:
    options = DemoOptions(args.duration, args.symbols, args.rate, args.faults, args.seed,
                          args.metrics_port, max(0, args.listed))
    try:
        return uvloop.run(run_demo(options, console))
    except asyncio.CancelledError:
        print("feedhandler demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# ---- what the user sees ----------------------------------------------------------------------

class Journal:
    """Notable moments (faults, withdrawn and resynced books, reconnects, warnings) stamped
    with the run time: the last few show under the live table, or each is printed at once."""

    def __init__(self, echo: Callable[[str], None] | None) -> None:
        self.echo = echo
        self.lines: deque[Text] = deque(maxlen=JOURNAL_LINES)
        self.started: float | None = None
        self.closed = False

    def start(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since ``start``: the run's clock, which starts once everything is connected."""
        return 0.0 if self.started is None else time.monotonic() - self.started

    def close(self) -> None:
        """The run is over: what the FeedHandler's shutdown does to the books is not news."""
        self.closed = True

    def add(self, text: str, style: str = "") -> None:
        if self.closed:
            return
        line = f"{self.elapsed():6.1f}s  {text}"
        self.lines.append(Text(line, style=style, no_wrap=True, overflow="ellipsis"))
        if self.echo is not None:
            self.echo(line)


class JournalHandler(logging.Handler):
    """Log records into the journal, so that warnings do not tear the live view."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(logging.WARNING)
        self.journal = journal

    def emit(self, record: logging.LogRecord) -> None:
        self.journal.add(f"{record.levelname.lower()}: {record.getMessage()}", "yellow")


@dataclass(eq=False)
class SymbolView:
    """One venue/symbol as its callbacks see it. Latencies go into its own histogram and into
    its venue's and the run's, so that no histogram has to be merged."""

    venue: str
    symbol: str
    venue_symbol: str
    journal: Journal
    histograms: tuple[LatencyHistogram, ...]
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    trades: int = 0
    book_updates: int = 0
    resyncs: int = 0
    status: BookStatus | None = None    # None until a first snapshot made the book live
    last_book_update: float = 0.0       # monotonic
    price_decimals: int = 0             # most decimals seen, so prices keep a steady width
    trades_per_s: float = 0.0
    trades_sampled: int = 0

    @property
    def name(self) -> str:
        return f"{self.venue} {self.symbol}"

    def received(self, ts_receive: int) -> None:
        ns = time.time_ns() - ts_receive
        self.latency.record(ns)
        for histogram in self.histograms:
            histogram.record(ns)

    def on_trade(self, trade: Trade) -> None:
        self.trades += 1
        self.received(trade.ts_receive)

    def on_market_data(self, event: Ticker | Candle) -> None:
        self.received(event.ts_receive)

    def on_book(self, update: BookUpdate) -> None:
        self.book_updates += 1
        self.last_book_update = time.monotonic()
        if update.status is BookStatus.INVALID:
            if self.status is not BookStatus.INVALID:
                self.journal.add(f"{self.name} book INVALID: {update.reason}", "red")
        elif update.resynced:
            if self.status is not None:
                self.resyncs += 1
            self.journal.add(f"{self.name} book {'resynced' if self.status else 'live'}",
                             "green")
        else:
            self.received(update.ts_receive)
        self.status = update.status

    def price(self, book: OrderBook, level: tuple[int, int] | None) -> str:
        """The level's price, exact: every decimal the venue sent, none invented."""
        if level is None:
            return "-"
        value = exact(level[0], book.price_scale)
        self.price_decimals = max(self.price_decimals, decimals_of(value))
        return f"{value:.{self.price_decimals}f}"


@dataclass(frozen=True)
class SimulatedVenue:
    """A registered venue and the simulator that speaks its protocol."""

    info: VenueInfo
    simulator: str                   # key in ``feedhandler.sim.VENUES``
    market: str
    venue_symbols: dict[str, str]    # unified symbol -> the venue's form


@dataclass(eq=False)
class VenueView:
    """One venue: its simulator, its symbols and its connections' counters."""

    plan: SimulatedVenue
    exchange: SimulatedExchange
    symbols: list[SymbolView]
    journal: Journal
    latency: LatencyHistogram
    messages: int = 0
    messages_sampled: int = 0
    messages_per_s: float = 0.0
    reconnects: int = 0
    connected: bool = False
    ever_connected: bool = False     # a venue reconnecting at the end is waited for, not skipped
    last_connect_failure: str = ""

    @property
    def name(self) -> str:
        return self.plan.info.name

    def update(self, connections: list[dict[str, Any]]) -> None:
        """Takes the counters of this venue's connections from ``FeedHandler.stats()``."""
        self.connected = bool(connections) and all(c["connected"] for c in connections)
        self.ever_connected = self.ever_connected or self.connected
        if self.connected:   # between a disconnect and the next dial, the count is doubled
            self.messages = sum(c["messages"] for c in connections)
        self.last_connect_failure = next(
            (c["last_connect_failure"] for c in connections if c["last_connect_failure"]), "")
        reconnects = sum(c["reconnects"] for c in connections)
        if reconnects > self.reconnects:
            reasons = sorted({c["last_disconnect_reason"] for c in connections} - {""})
            self.journal.add(f"{self.name} reconnected (was: {', '.join(reasons)})", "green")
        self.reconnects = reconnects


@dataclass(frozen=True)
class Fault:
    """Something that goes wrong at a venue, and how its simulator makes it happen."""

    label: str
    per_symbol: bool
    applies: Callable[[SimulatedExchange], bool]
    inject: Callable[[SimulatedExchange, str], int]   # (exchange, venue symbol) -> connections


FAULTS = (
    Fault("book message lost", True, lambda exchange: True,
          lambda exchange, venue_symbol: exchange.gap(venue_symbol)),
    Fault("bad book checksum", True, lambda exchange: exchange.venue.has_checksum,
          lambda exchange, venue_symbol: exchange.corrupt_checksum(venue_symbol)),
    Fault("dropped connection", False, lambda exchange: True,
          lambda exchange, venue_symbol: exchange.drop()),
)


@dataclass(frozen=True)
class BookCheck:
    view: SymbolView
    problem: str        # empty when the book equals the simulator's


# ---- the run ---------------------------------------------------------------------------------

class Demo:
    """The simulators, the FeedHandler subscribed to all of them, and the views they feed."""

    def __init__(self, options: DemoOptions, journal: Journal, venues: list[VenueView],
                 fh: FeedHandler, latency: LatencyHistogram, failures: list[str]) -> None:
        self.options = options
        self.journal = journal
        self.venues = venues
        self.fh = fh
        self.latency = latency       # of every venue
        self.failures = failures     # venues that could not take part, and why
        self.faults: Counter[str] = Counter()
        self.markets: list[asyncio.Task[None]] = []
        self.account: AccountDemo | None = None

    @classmethod
    async def open(cls, options: DemoOptions, journal: Journal, stack: AsyncExitStack) -> Demo:
        """Starts a simulator per venue, subscribes everything and waits (boundedly) until
        connected; a venue that cannot take part is reported and the others go on."""
        failures: list[str] = []
        exchanges: list[tuple[SimulatedVenue, SimulatedExchange]] = []
        for index, plan in enumerate(await simulated_venues(options.symbols, journal)):
            try:
                plan = with_listed(plan, options.listed)
                simulator = create_venue(plan.simulator, plan.market,
                                         list(plan.venue_symbols.values()))
            except ValueError as error:
                failures.append(f"{plan.info.name}: {error}")
                continue
            exchanges.append((plan, await stack.enter_async_context(
                SimulatedExchange(simulator, seed=options.seed + index, rate=None))))
        fh = FeedHandler(endpoints={plan.info.name: endpoint_options(plan.info, exchange)
                                    for plan, exchange in exchanges},
                         backoff_base=BACKOFF[0], backoff_cap=BACKOFF[1])
        latency = LatencyHistogram()
        venues: list[VenueView] = []
        for plan, exchange in exchanges:
            venue_latency = LatencyHistogram()
            views = [SymbolView(plan.info.name, symbol, venue_symbol, journal,
                                (venue_latency, latency))
                     for symbol, venue_symbol in plan.venue_symbols.items()]
            venue = VenueView(plan, exchange, views, journal, venue_latency)
            try:
                for view in venue.symbols:
                    subscribe_everything(fh, plan.info, view)
            except (TypeError, ValueError) as error:   # e.g. its adapter refused the options
                failures.append(f"{plan.info.name}: {error}")
                continue
            venues.append(venue)
        for failure in failures:
            journal.add(f"left out {failure}", "bold red")
        if not venues:
            raise CommandError("no registered venue could be simulated: "
                               + ("; ".join(failures) or "none has a simulator"))
        demo = cls(options, journal, venues, fh, latency, failures)
        await stack.enter_async_context(fh)
        if options.metrics_port is not None:
            try:
                server = await fh.serve_metrics("127.0.0.1", options.metrics_port)
            except OSError as error:
                raise CommandError(str(error)) from None
            journal.add(f"metrics served at {server.url}")
        await demo.wait_connected()
        journal.start()
        demo.account = await AccountDemo.open(stack, options.seed, journal.add)
        demo.markets = [asyncio.create_task(publish(venue.exchange, options.rate))
                        for venue in venues]
        demo.markets.append(asyncio.create_task(demo.account.run()))
        stack.push_async_callback(demo.stop_markets)
        return demo

    async def wait_connected(self) -> None:
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            self.poll()
            if all(venue.connected for venue in self.venues):
                return
            await asyncio.sleep(0.05)
        for venue in self.venues:
            if not venue.connected:
                self.journal.add(f"{venue.name} not connected after {CONNECT_TIMEOUT:g} s: "
                                 f"{venue.last_connect_failure or 'no answer'}", "bold red")

    def elapsed(self) -> float:
        return self.journal.elapsed()

    @property
    def symbol_views(self) -> Iterator[SymbolView]:
        for venue in self.venues:
            yield from venue.symbols

    async def watch(self, stop: asyncio.Event, report: Callable[[], None],
                    report_every: float) -> None:
        """Polls the FeedHandler's counters a few times a second and calls ``report`` every
        ``report_every`` seconds, until the duration is over or ``stop`` is set."""
        deadline = math.inf if self.options.duration is None else self.options.duration
        self.poll()
        self.sample_rates(0.0)
        sampled_at = 0.0
        next_report = report_every
        while not stop.is_set() and (now := self.elapsed()) < deadline - CLOCK_SLACK:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(),
                                       min(POLL_PERIOD, next_report - now, deadline - now))
            self.poll()
            now = self.elapsed()
            if now - sampled_at >= RATE_PERIOD - CLOCK_SLACK:
                self.sample_rates(now - sampled_at)
                sampled_at = now
            if now >= next_report - CLOCK_SLACK or stop.is_set():
                report()
                while next_report <= now + CLOCK_SLACK:
                    next_report += report_every

    def poll(self) -> None:
        connections = self.fh.stats()["connections"]
        for venue in self.venues:
            venue.update(connections.get(venue.name, []))

    def sample_rates(self, seconds: float) -> None:
        """Rates over the last ``seconds``; 0 only sets where the next interval starts."""
        for venue in self.venues:
            if seconds:
                venue.messages_per_s = (venue.messages - venue.messages_sampled) / seconds
            venue.messages_sampled = venue.messages
            for view in venue.symbols:
                if seconds:
                    view.trades_per_s = (view.trades - view.trades_sampled) / seconds
                view.trades_sampled = view.trades

    async def inject_faults(self) -> None:
        """Every fault on every venue it applies to, spread over the run (or over each round
        of ``FAULT_ROUND`` seconds when the run has no duration), each round on the next
        symbol of --symbols (the catalog's instruments the demo adds trade too thinly for a fault
        on one to show within a short run)."""
        window = self.options.duration or FAULT_ROUND
        round_number = 0
        asked = len(self.options.symbols)
        while True:
            plan = [(fault, venue, venue.symbols[(index + round_number) % asked])
                    for fault in FAULTS for index, venue in enumerate(self.venues)
                    if fault.applies(venue.exchange)]
            first, last = (share * window for share in FAULT_WINDOW)
            step = (last - first) / max(1, len(plan) - 1)
            for position, (fault, venue, view) in enumerate(plan):
                at = round_number * window + first + position * step
                await asyncio.sleep(max(0.0, at - self.elapsed()))
                self.inject(fault, venue, view)
            if self.options.duration is not None:
                return
            round_number += 1

    def inject(self, fault: Fault, venue: VenueView, view: SymbolView) -> None:
        target = view.name if fault.per_symbol else venue.name
        if fault.inject(venue.exchange, view.venue_symbol):
            self.faults[fault.label] += 1
            self.journal.add(f"fault: {fault.label} on {target}", "bold magenta")
        else:
            self.journal.add(f"fault skipped: {fault.label} on {target}, no connection is open",
                             "yellow")

    async def stop_markets(self) -> None:
        for task in self.markets:
            task.cancel()
        await asyncio.gather(*self.markets, return_exceptions=True)
        self.markets.clear()

    def book(self, view: SymbolView) -> OrderBook | None:
        try:
            return self.fh.book(view.venue, view.symbol)
        except KeyError:
            return None

    async def settle(self) -> None:
        """Waits (boundedly) until every book of a venue that connected is live, a venue still
        replaying its subscribes after a late fault included, with the markets still moving (a
        sync may need an update after its snapshot); then stops the markets and waits until
        the FeedHandler has taken in everything the simulators sent."""
        views = [view for venue in self.venues if venue.ever_connected
                 for view in venue.symbols]

        def live() -> bool:
            return all((book := self.book(view)) is not None and book.valid for view in views)

        def settled() -> bool:
            quiet_since = time.monotonic() - QUIET
            return live() and all(view.last_book_update < quiet_since for view in views)

        await wait_a_while_for(live)
        await self.stop_markets()
        await wait_a_while_for(settled)

    def check_books(self) -> list[BookCheck]:
        return [BookCheck(view, compare_book(self.book(view), venue.exchange, view.venue_symbol))
                for venue in self.venues for view in venue.symbols]


async def wait_a_while_for(condition: Callable[[], bool]) -> None:
    """Returns once ``condition()`` holds, or after ``SETTLE_TIMEOUT`` regardless."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_TIMEOUT):
            while not condition():
                await asyncio.sleep(0.05)


async def publish(exchange: SimulatedExchange, rate: float) -> None:
    """Moves ``exchange``'s market at ``rate`` events per second until cancelled. The demo
    paces the markets itself so that it can stop them before comparing books; after a stall
    it skips ahead rather than bursting."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    published = 0
    while True:
        await asyncio.sleep(PUBLISH_PERIOD)
        due = int((loop.time() - started) * rate)
        if due - published > rate:
            published = due - int(rate * PUBLISH_PERIOD)
        while published < due:
            published += len(exchange.advance(1))


async def simulated_venues(symbols: Sequence[str], journal: Journal) -> list[SimulatedVenue]:
    """The registered venues that have a simulator, with each symbol in the venue's form."""
    found = []
    for info in venues():
        adapter = info.create()
        try:
            entry = SIMULATORS.get(adapter.name)
            if entry is None or adapter.market not in entry.markets:
                journal.add(f"{info.name} skipped: no simulator for {adapter.name} "
                            f"{adapter.market}", "yellow")
                continue
            found.append(SimulatedVenue(info, adapter.name, adapter.market,
                                        {symbol: adapter.venue_symbol(symbol)
                                         for symbol in symbols}))
        finally:
            await adapter.close()
    return found


def with_listed(plan: SimulatedVenue, count: int) -> SimulatedVenue:
    """The plan and ``count`` more instruments its simulator lists as trading: a third of
    them its finest ticks (1e-9 on most venues), the others in listing order."""
    listings = [listing for listing in create_venue(plan.simulator, plan.market).catalog
                if listing.status == "trading"
                and listing.symbol not in plan.venue_symbols.values()]
    finest = sorted(listings, key=lambda listing: Decimal(listing.tick_size))[:count // 3]
    chosen = finest + [listing for listing in listings if listing not in finest]
    extra = {f"{listing.base}-{listing.quote}": listing.symbol
             for listing in chosen[:count]}
    return dataclasses.replace(plan, venue_symbols={**plan.venue_symbols, **extra})


def endpoint_options(info: VenueInfo, exchange: SimulatedExchange) -> dict[str, str]:
    """The simulator's URLs as the endpoint options the venue's adapter takes: a venue that
    needs no REST snapshot takes no ``rest_url``."""
    offered = {"ws_url": exchange.ws_url, "rest_url": exchange.http_url}
    parameters = inspect.signature(info.factory).parameters.values()
    if any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters):
        return offered
    names = {parameter.name for parameter in parameters}
    return {name: url for name, url in offered.items() if name in names}


def subscribe_everything(fh: FeedHandler, info: VenueInfo, view: SymbolView) -> None:
    """Every channel the venue offers, for one symbol."""
    for channel in info.channels:
        match channel:
            case Channel.BOOK:
                fh.subscribe_order_book(info.name, view.symbol, view.on_book)
            case Channel.TRADES:
                fh.subscribe_trades(info.name, view.symbol, view.on_trade)
            case Channel.TICKER:
                fh.subscribe_ticker(info.name, view.symbol, view.on_market_data)
            case Channel.OHLCV:
                timeframe = CANDLE_TIMEFRAME if CANDLE_TIMEFRAME in info.timeframes \
                    else info.timeframes[0]
                fh.subscribe_ohlcv(info.name, view.symbol, timeframe, view.on_market_data)
            case Channel.ORDERS | Channel.BALANCE | Channel.POSITIONS:
                pass   # private channels need credentials (subscribe_orders and the like)
            case _:
                assert_never(channel)


def compare_book(book: OrderBook | None, exchange: SimulatedExchange, venue_symbol: str) -> str:
    """What differs between ``book`` and the simulator's true book now (its best
    levels it shows or keeps, when it shows or keeps only some); empty when nothing does."""
    if book is None or not book.valid:
        return "not live at the end of the run"
    market = exchange.market
    spec = market.instrument(venue_symbol)
    tick, lot = Decimal(spec.tick_size), Decimal(spec.lot_size)
    price_unit = Decimal(1).scaleb(-book.price_scale)
    size_unit = Decimal(1).scaleb(-book.size_scale)
    true_bids, true_asks = market.book(venue_symbol).snapshot().top(
        book.view_depth or book.depth_limit or None)
    for side, side_name, true_levels in ((0, "bids", true_bids), (1, "asks", true_asks)):
        prices, sizes = book.levels(side)
        ours = {int(price) * price_unit: int(size) * size_unit
                for price, size in zip(prices, sizes, strict=True)}
        theirs = {price * tick: size * lot for price, size in true_levels}
        differing = sum(1 for price in ours.keys() | theirs.keys()
                        if ours.get(price) != theirs.get(price))
        if differing:
            return f"{differing} of {len(theirs)} {side_name} differ"
    return ""


@contextlib.contextmanager
def logs_to(handler: logging.Handler) -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class Interrupts:
    """Ctrl-C (or SIGTERM) ends the run in order, with its summary. A second one abandons
    whatever is being waited for (connecting, the run, books recovering); the shutdown that
    follows is bounded and is not interrupted."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.abandonable = True
        self.main = asyncio.current_task()

    def __call__(self) -> None:
        if self.stop.is_set() and self.abandonable and self.main is not None:
            self.main.cancel()
        self.stop.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupts]:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self)
        try:
            yield self
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)


async def run_demo(options: DemoOptions, console: Console) -> int:
    interactive = console.is_terminal
    journal = Journal(None if interactive else lambda line: print_line(console, line))
    if interactive:
        handler: logging.Handler = JournalHandler(journal)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    with logs_to(handler), Interrupts().installed() as interrupts:
        async with AsyncExitStack() as stack:
            demo = await Demo.open(options, journal, stack)
            faults = asyncio.create_task(demo.inject_faults()) if options.faults else None
            try:
                await show(demo, console, interrupts.stop)
                if faults is not None and options.duration is not None \
                        and not interrupts.stop.is_set():
                    # a loaded machine runs late: every planned fault still goes in
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(faults), options.duration)
            finally:
                if faults is not None:
                    faults.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await faults
            duration = demo.elapsed()
            await demo.settle()
            checks = demo.check_books()
            demo.poll()
            metrics = demo.fh.metrics()
            journal.close()
            interrupts.abandonable = False
        print_summary(console, demo, checks, duration)
        print_metrics(console, metrics, note="exchange → receive is left out: simulators "
                      "stamp events with simulated time")
    wrong = sum(1 for check in checks if check.problem)
    if wrong or demo.failures:
        raise CommandError("; ".join(
            [*demo.failures,
             *([f"{wrong} of {len(checks)} books differ from the simulator's"] if wrong else [])]))
    return EXIT_OK


# ---- rendering -------------------------------------------------------------------------------

async def show(demo: Demo, console: Console, stop: asyncio.Event) -> None:
    """The live view on a terminal; a status line a second otherwise (logs, CI)."""
    if console.is_terminal:
        with Live(live_view(demo), console=console, auto_refresh=False) as live:
            await demo.watch(stop, lambda: live.update(live_view(demo), refresh=True),
                             POLL_PERIOD)
    else:
        await demo.watch(stop, lambda: print_line(console, status_line(demo)), PLAIN_PERIOD)


BOOK_STATUS_STYLE = {"LIVE": "bold green", "INVALID": "bold red", "SYNCING": "yellow"}

LIVE_COLUMNS = (Column("symbol"), Column("book"), Column("bid", "right"),
                Column("ask", "right"), Column("trades/s", "right"), Column("p50", "right"),
                Column("p99", "right"), Column("resyncs", "right"))


def book_cells(demo: Demo, view: SymbolView) -> tuple[Text, str, str]:
    book = demo.book(view)
    if book is not None and book.valid:
        return (Text("LIVE", BOOK_STATUS_STYLE["LIVE"]), view.price(book, book.best_bid()),
                view.price(book, book.best_ask()))
    status = "INVALID" if view.status is BookStatus.INVALID else "SYNCING"
    return Text(status, BOOK_STATUS_STYLE[status]), "-", "-"


def symbol_cells(demo: Demo, view: SymbolView) -> list[Text]:
    status, bid, ask = book_cells(demo, view)
    return [Text(view.symbol), status, Text(bid), Text(ask),
            Text(format_count(view.trades_per_s)), Text(format_ns(view.latency.percentile(50))),
            Text(format_ns(view.latency.percentile(99))), Text(str(view.resyncs))]


def venue_title(venue: VenueView) -> Text:
    connection = Text("up", "green") if venue.connected else Text("down", "bold red")
    return Text.assemble((venue.name, "bold"), f" · {venue.plan.info.title} · ", connection,
                         f" · {format_count(venue.messages_per_s)} msg/s · reconnects "
                         f"{venue.reconnects}")


def live_view(demo: Demo) -> RenderableType:
    """A block per venue (its connection, then a row per symbol), columns aligned across
    blocks, so that the view stays within 80 columns however many venues there are."""
    options = demo.options
    rows = [[symbol_cells(demo, view) for view in venue.symbols] for venue in demo.venues]
    widths = [max([len(column.header), *(len(cells[i]) for block in rows for cells in block)])
              for i, column in enumerate(LIVE_COLUMNS)]

    def table(block: list[list[Text]]) -> Padding:
        grid = Table(box=None, show_header=not block, header_style="bold dim",
                     padding=(0, 1), pad_edge=False)
        for column, width in zip(LIVE_COLUMNS, widths, strict=True):
            grid.add_column(column.header, justify=column.justify, width=width, no_wrap=True)
        for cells in block:
            grid.add_row(*cells)
        return Padding(grid, (0, 0, 0, 2))

    blocks: list[RenderableType] = [
        Text(f"feedhandler demo · {len(demo.venues)} venues · {options.rate:g} events/s per "
             "simulator", style="bold"),
        table([])]
    for venue, block in zip(demo.venues, rows, strict=True):
        blocks += [venue_title(venue), table(block)]
    journal = list(demo.journal.lines)
    journal += [Text("")] * (JOURNAL_LINES - len(journal))
    until = f"{options.duration:g} s" if options.duration else "Ctrl-C"
    blocks += [Panel(Group(*journal), title="events", title_align="left", border_style="dim"),
               Text(f"{demo.elapsed():.1f} s, until {until} · faults "
                    f"{'on' if options.faults else 'off'} · latency is receive → callback",
                    style="dim")]
    return Group(*blocks)


def status_line(demo: Demo) -> str:
    views = list(demo.symbol_views)
    live = sum(1 for view in views if (book := demo.book(view)) is not None and book.valid)
    return (f"{demo.elapsed():6.1f}s  msgs/s "
            f"{format_count(sum(venue.messages_per_s for venue in demo.venues))}  trades/s "
            f"{format_count(sum(view.trades_per_s for view in views))}  books live "
            f"{live}/{len(views)}  p50 {format_ns(demo.latency.percentile(50))}  p99 "
            f"{format_ns(demo.latency.percentile(99))}  resyncs "
            f"{sum(view.resyncs for view in views)}  reconnects "
            f"{sum(venue.reconnects for venue in demo.venues)}")


SUMMARY_COLUMNS = (Column("venue"), Column("messages", "right"), Column("trades", "right"),
                   Column("book updates", "right"), Column("resyncs", "right"),
                   Column("reconnects", "right"), Column("p50", "right"), Column("p99", "right"),
                   Column("wrong books", "right"))


def print_summary(console: Console, demo: Demo, checks: list[BookCheck],
                  duration: float) -> None:
    wrong = [check for check in checks if check.problem]
    wrong_views = {check.view for check in wrong}

    def row(name: str, venues: list[VenueView], latency: LatencyHistogram) -> tuple[str, ...]:
        views = [view for venue in venues for view in venue.symbols]
        return (name, format_count(sum(venue.messages for venue in venues)),
                format_count(sum(view.trades for view in views)),
                format_count(sum(view.book_updates for view in views)),
                str(sum(view.resyncs for view in views)),
                str(sum(venue.reconnects for venue in venues)),
                format_ns(latency.percentile(50)), format_ns(latency.percentile(99)),
                str(sum(1 for view in views if view in wrong_views)))

    rows = [row(venue.name, [venue], venue.latency) for venue in demo.venues]
    if len(demo.venues) > 1:
        rows.append(row("total", demo.venues, demo.latency))
    print_table(console, f"summary: {duration:.1f} s, latency receive → callback",
                SUMMARY_COLUMNS, rows)
    if demo.account is not None:
        print_line(console, demo.account.summary())
    injected = ", ".join(f"{label} {count}" for label, count in demo.faults.items())
    print_line(console, f"faults injected: {injected or 'none'}")
    for failure in demo.failures:
        print_line(console, f"LEFT OUT {failure}", "bold red")
    for check in wrong:
        print_line(console, f"WRONG BOOK {check.view.name}: {check.problem}", "bold red")
    print_line(console, f"wrong books: {len(wrong)} of {len(checks)} compared with the "
               "simulator's true book", "bold red" if wrong else "bold green")


COMMAND = Command(
    "demo", "watch every venue live against its simulator, with faults",
    "Start one simulated exchange per registered venue on 127.0.0.1, subscribe to every "
    "channel of every venue, inject faults, and show books, rates, latency, resyncs and "
    "reconnects live (plain lines once a second when stdout is not a terminal). At the end the "
    "markets stop and every book is compared with the simulator's true book; exits 1 if any "
    "differs or a venue could not take part.",
    configure, run)
