"""``feedhandler check-live``: is each venue still speaking the protocol we implement?

For each venue, one FeedHandler subscribes every public channel (ticker, book, trades, ohlcv)
of a few liquid instruments for ``--duration`` seconds and judges each channel:

- it delivered at least one message (a channel silent for the whole window is how a retired
  URL or stream name shows: it connects and then says nothing);
- no message failed to decode on the connections carrying it;
- its books went live, stayed in sequence and kept their checksums (no withdrawal after going
  live: every gap, checksum mismatch, failed sync or lost socket fails the channel);
- the venue refused none of its subscriptions;
- its timestamps are sane: the exchange time lies within ``--max-skew`` of the receive time
  (a candle's window must contain it). Against the simulators, whose market time is simulated,
  the simulator's market clock stands for the receive time.

Where credentials are in the environment (``FEEDHANDLER_<VENUE>_API_KEY`` ...), the private
channels are subscribed read-only (orders and balance; nothing is ever sent that trades) and
pass once the venue accepted the login. ``--simulated`` runs the same check against the
embedded simulators (private channels are then skipped). ``--record DIR`` records the traffic
with ``feedhandler.record``; ``--report FILE`` receives the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import json
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console

from feedhandler.api import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.auth.redact import redact
from feedhandler.cli.base import EXIT_FAILURE, EXIT_OK, Command, CommandError
from feedhandler.cli.demo import endpoint_options, positive_number, symbol_list
from feedhandler.cli.output import Column, print_line, print_table
from feedhandler.cli.record import name_list
from feedhandler.events import BookStatus, BookUpdate, Candle, Event, Ticker, Trade
from feedhandler.exchanges import VenueInfo, venue, venues
from feedhandler.exchanges.base import Channel
from feedhandler.exchanges.registry import UnsupportedError, sample_subscription
from feedhandler.record import Recorder
from feedhandler.sim import VENUES as SIMULATORS
from feedhandler.sim import SimulatedExchange, create_venue

DEFAULT_DURATION = 20.0         # seconds: every liquid channel speaks several times by then
DEFAULT_MAX_SKEW = 10.0         # seconds between exchange and receive time still called sane
CANDLE_TIMEFRAME = "1m"         # subscribed where offered, else the venue's first timeframe
SIMULATED_RATE = 500.0          # market events per second of each simulator
NS = 1_000_000_000

LIQUID: dict[str, tuple[str, ...]] = {
    # the most traded pairs of each venue (unified symbols); the quote currency differs
    "coinbase": ("BTC-USD", "ETH-USD"),
    "kraken": ("BTC-USD", "ETH-USD"),
}
LIQUID_DEFAULT = ("BTC-USDT", "ETH-USDT")


def liquid_symbols(info: VenueInfo) -> tuple[str, ...]:
    """The instruments checked on ``info`` when ``--symbol`` is not given: a few of its most
    liquid pairs. The one place that chooses them (an instrument catalog may take over)."""
    return LIQUID.get(info.name, LIQUID_DEFAULT)


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"      # not checked (private channels without credentials); fails nothing


@dataclass
class ChannelCheck:
    """What one channel of one venue delivered in the window, and what went wrong."""

    channel: str
    ws_url: str = ""                                         # where it was subscribed
    messages: int = 0
    timestamps_checked: int = 0
    timestamps_off: int = 0
    worst_skew_s: float = 0.0
    live_symbols: set[str] = field(default_factory=set)
    withdrawals: list[str] = field(default_factory=list)     # book reasons after going live
    problems: list[str] = field(default_factory=list)        # decided at the end
    skipped: str = ""
    note: str = ""                                           # a passing private channel's
    max_skew: float = DEFAULT_MAX_SKEW

    def skew(self, seconds: float) -> None:
        """One exchange timestamp, ``seconds`` ahead of the venue-side clock (< 0: behind)."""
        self.timestamps_checked += 1
        if abs(seconds) > abs(self.worst_skew_s):
            self.worst_skew_s = seconds
        if abs(seconds) > self.max_skew:
            self.timestamps_off += 1

    @property
    def verdict(self) -> Verdict:
        if self.skipped:
            return Verdict.SKIP
        return Verdict.FAIL if self.problems else Verdict.PASS

    @property
    def reason(self) -> str:
        if self.skipped:
            return self.skipped
        return "; ".join(self.problems) or self.note or f"{self.messages} messages"

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "verdict": self.verdict.value, "reason": self.reason,
                "ws_url": self.ws_url or None, "messages": self.messages,
                "timestamps_checked": self.timestamps_checked,
                "timestamps_off": self.timestamps_off,
                "worst_skew_s": round(self.worst_skew_s, 3)}


@dataclass
class VenueCheck:
    """One venue's channels, fed by the FeedHandler's callbacks while the window is open."""

    info: VenueInfo
    symbols: tuple[str, ...]
    max_skew: float
    reference_ns: Callable[[int], int]      # the venue-side clock at a message's receive time
    channels: dict[str, ChannelCheck] = field(default_factory=dict)
    error: str = ""                         # the venue could not be checked at all
    open: bool = True                       # events after the window are not judged

    def __post_init__(self) -> None:
        names = [c.value for c in self.info.channels] + \
            [c.value for c in self.info.private_channels]
        self.channels = {name: ChannelCheck(name, max_skew=self.max_skew) for name in names}

    @property
    def passed(self) -> bool:
        return not self.error and all(c.verdict is not Verdict.FAIL
                                      for c in self.channels.values())

    def on_event(self, event: Event) -> None:
        if not self.open:
            return
        if isinstance(event, BookUpdate):
            self.on_book(event)
            return
        if isinstance(event, Trade):
            check = self.channels[Channel.TRADES]
        elif isinstance(event, Ticker):
            check = self.channels[Channel.TICKER]
        elif isinstance(event, Candle):
            check = self.channels[Channel.OHLCV]
            check.messages += 1
            reference = self.reference_ns(event.ts_receive)
            if reference < event.open_time:
                check.skew((event.open_time - reference) / NS)
            else:   # within the candle's window, or that far after its close
                check.skew(-max(0, reference - event.open_time
                                - event.timeframe_seconds * NS) / NS)
            return
        else:
            return
        check.messages += 1
        if event.ts_exchange:
            check.skew((event.ts_exchange - self.reference_ns(event.ts_receive)) / NS)

    def on_book(self, update: BookUpdate) -> None:
        check = self.channels[Channel.BOOK]
        symbol = update.instrument.symbol
        if update.status is BookStatus.INVALID:
            if symbol in check.live_symbols:
                check.withdrawals.append(f"{symbol}: {update.reason}")
            return
        check.messages += 1
        if update.resynced:
            check.live_symbols.add(symbol)
        if update.ts_exchange:
            check.skew((update.ts_exchange - self.reference_ns(update.ts_receive)) / NS)

    def on_private(self, channel: Channel) -> Callable[[Event], None]:
        def count(event: Event) -> None:
            if self.open:
                self.channels[channel].messages += 1
        return count

    def judge(self, fh: FeedHandler, duration: float) -> None:
        """Turns the window's counts and the FeedHandler's counters into each channel's
        problems; called once, after the window closed and before the FeedHandler stops."""
        self.open = False
        state = fh.venues.get(self.info.name)
        if state is not None:
            for channel in self.info.channels:
                self.channels[channel].ws_url = redact(state.adapter.ws_url(
                    [sample_subscription(self.info, state.adapter, channel)]))
        connections = state.pool.connections if state and state.pool else []
        accounts = [a.connection for a in state.accounts.values()
                    if a.connection is not None] if state else []
        for connection in (*connections, *accounts):
            errors = connection.decoder.errors
            if not errors:
                continue
            carried = {s.channel.value for s in connection.subscriptions.values()}
            for name in carried:
                self.channels[name].problems.append(
                    f"{errors} decode errors (last: {connection.decoder.last_error})")
        failures = sorted({c.last_connect_failure for c in connections if c.last_connect_failure})
        for refusal in fh.refusals:
            if refusal.subscription.instrument.venue == self.info.name:
                self.channels[refusal.subscription.channel].problems.append(
                    f"refused: {refusal.reason}")
        for channel in self.info.channels:
            check = self.channels[channel]
            if check.problems:
                continue
            if not check.messages:
                check.problems.append(f"silent: no {channel.value} message in {duration:g} s "
                                      f"on {check.ws_url}"
                                      + (f" (connect failed: {failures[-1]})" if failures
                                         else ""))
            if channel is Channel.BOOK:
                # events carry the unified symbol, whatever spelling was asked for
                not_live = [s for s in self.symbols
                            if fh.instrument(self.info.name, s).symbol not in check.live_symbols]
                if not_live and check.messages:
                    check.problems.append(f"never live: {', '.join(not_live)}")
                if check.withdrawals:
                    check.problems.append(f"{len(check.withdrawals)} withdrawals after going "
                                          f"live (first: {check.withdrawals[0]})")
            if check.timestamps_off:
                check.problems.append(
                    f"{check.timestamps_off} of {check.timestamps_checked} timestamps more "
                    f"than {self.max_skew:g} s from the receive time "
                    f"(worst {check.worst_skew_s:+.1f} s)")

        for channel in self.info.private_channels:
            check = self.channels[channel]
            if not (check.skipped or check.note or check.problems):
                check.problems.append("no private stream answered")

    def as_json(self) -> dict[str, Any]:
        return {"venue": self.info.name, "passed": self.passed, "error": self.error or None,
                "symbols": list(self.symbols),
                "channels": [c.as_json() for c in self.channels.values()]}


@dataclass(frozen=True)
class CheckOptions:
    venues: tuple[str, ...] = ()            # empty: every registered venue
    symbols: tuple[str, ...] = ()           # empty: each venue's ``liquid_symbols``
    duration: float = DEFAULT_DURATION
    max_skew: float = DEFAULT_MAX_SKEW
    simulated: bool = False
    record: Path | None = None


Tamper = Callable[[str, SimulatedExchange], None]
"""Called with each venue's simulator before the check starts (tests make one misbehave)."""


async def check_venues(options: CheckOptions, tamper: Tamper | None = None) -> list[VenueCheck]:
    """Runs the check on every venue of ``options`` at once; one result per venue."""
    infos = [venue(name) for name in options.venues] if options.venues else venues()
    async with AsyncExitStack() as stack:
        endpoints: dict[str, dict[str, Any]] = {}
        checks: list[VenueCheck] = []
        for index, info in enumerate(infos):
            symbols = options.symbols or liquid_symbols(info)
            reference: Callable[[int], int] = receive_clock
            if options.simulated:
                try:
                    exchange = await simulator(stack, info, symbols, index)
                except ValueError as error:
                    check = VenueCheck(info, symbols, options.max_skew, reference,
                                       error=f"no simulator: {error}")
                    checks.append(check)
                    continue
                if tamper is not None:
                    tamper(info.name, exchange)
                endpoints[info.name] = endpoint_options(info, exchange)
                reference = market_clock(exchange)
            checks.append(VenueCheck(info, symbols, options.max_skew, reference))
        recorder = Recorder(options.record, prefix="check-live") if options.record else None
        fh = FeedHandler(endpoints=endpoints, recorder=recorder, backoff_base=0.2,
                         backoff_cap=2.0)
        for check in checks:
            if not check.error:
                subscribe(fh, check, private=not options.simulated)
        async with fh:
            await asyncio.sleep(options.duration)
            await authenticated(fh, checks)
            for check in checks:
                check.judge(fh, options.duration)
    return checks


async def simulator(stack: AsyncExitStack, info: VenueInfo, symbols: Sequence[str],
                    seed: int) -> SimulatedExchange:
    """The venue's simulator listing ``symbols``, its market moving on its own; ValueError
    when the venue has none."""
    adapter = info.create()
    try:
        entry = SIMULATORS.get(adapter.name)
        if entry is None or adapter.market not in entry.markets:
            raise ValueError(f"none for {adapter.name} {adapter.market}")
        simulated = create_venue(adapter.name, adapter.market,
                                 [adapter.venue_symbol(symbol) for symbol in symbols])
    finally:
        await adapter.close()
    return await stack.enter_async_context(
        SimulatedExchange(simulated, seed=seed, rate=SIMULATED_RATE))


def receive_clock(ts_receive: int) -> int:
    """A real venue's timestamps are compared with the receive time itself."""
    return ts_receive


def market_clock(exchange: SimulatedExchange) -> Callable[[int], int]:
    """The simulator's market time now, in ns: what its (simulated) timestamps are sent in."""
    return lambda ts_receive: exchange.market.now_ms * 1_000_000


def subscribe(fh: FeedHandler, check: VenueCheck, *, private: bool) -> None:
    """Every public channel of every symbol; the private channels, read-only, where the
    environment holds the venue's credentials (else they are skipped, with the reason)."""
    info = check.info
    for symbol in check.symbols:
        for channel in info.channels:
            if channel is Channel.TICKER:
                fh.subscribe_ticker(info.name, symbol, check.on_event)
            elif channel is Channel.TRADES:
                fh.subscribe_trades(info.name, symbol, check.on_event)
            elif channel is Channel.BOOK:
                fh.subscribe_order_book(info.name, symbol, check.on_event)
            elif channel is Channel.OHLCV:
                timeframe = CANDLE_TIMEFRAME if CANDLE_TIMEFRAME in info.timeframes \
                    else info.timeframes[0]
                fh.subscribe_ohlcv(info.name, symbol, timeframe, check.on_event)
    if not info.private_channels:
        return
    if not private:
        for channel in info.private_channels:
            check.channels[channel].skipped = "simulated run: private channels not checked"
        return
    try:
        credentials = Credentials.from_env(info.name)
    except AuthError as error:
        for channel in info.private_channels:
            check.channels[channel].skipped = f"not checked: {error.reason}"
        return
    for channel in info.private_channels:
        if channel is Channel.ORDERS:
            fh.subscribe_orders(info.name, check.on_private(channel), credentials=credentials)
        elif channel is Channel.BALANCE:
            fh.subscribe_balance(info.name, check.on_private(channel), credentials=credentials)
        else:
            fh.subscribe_positions(info.name, check.on_private(channel),
                                   credentials=credentials)


async def authenticated(fh: FeedHandler, checks: Sequence[VenueCheck]) -> None:
    """Each private stream's login: accepted (the channel passes, even if the account did
    nothing) or refused / not connected (it fails, with the reason)."""
    for check in checks:
        state = fh.venues.get(check.info.name)
        for account in state.accounts.values() if state else ():
            problem = ""
            if account.connection is None:
                problem = "private stream not started"
            elif account.connection.auth_error is not None:
                problem = f"authentication refused: {account.connection.auth_error}"
            elif not account.connection.authentications:
                problem = ("not authenticated in the window"
                           + (f" ({account.connection.last_connect_failure})"
                              if account.connection.last_connect_failure else ""))
            for handle in account.handles:
                result = check.channels[handle.channel]
                if problem:
                    result.problems.append(problem)
                else:
                    result.note = f"authenticated, {result.messages} messages"


# ---- the command -------------------------------------------------------------------------

def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--venue", type=name_list, default=(), metavar="LIST",
                        help="comma-separated venues, as `feedhandler venues` names them "
                             "(default: all)")
    parser.add_argument("--symbol", type=symbol_list, default=(), metavar="LIST",
                        help="comma-separated unified symbols checked on every venue "
                             "(default: a few of each venue's most liquid pairs)")
    parser.add_argument("--duration", type=positive_number, default=DEFAULT_DURATION,
                        metavar="SECONDS", help="how long each channel is watched "
                        "(default: %(default)g)")
    parser.add_argument("--max-skew", type=positive_number, default=DEFAULT_MAX_SKEW,
                        metavar="SECONDS", help="largest exchange-to-receive time difference "
                        "called sane (default: %(default)g)")
    parser.add_argument("--report", type=Path, metavar="FILE",
                        help="where the JSON report goes (default: "
                             "check-live-<UTC time>.json in the current directory)")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="also record the traffic (feedhandler record's format) into DIR")
    parser.add_argument("--simulated", action="store_true",
                        help="check against the embedded simulators instead of the venues")


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        for name in args.venue:
            venue(name)
    except UnsupportedError as error:
        args.parser.error(f"argument --venue: {error}")
    if args.record is not None:
        try:
            args.record.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"cannot write to {args.record}: "
                               f"{error.strerror or error}") from None
    options = CheckOptions(args.venue, args.symbol, args.duration, args.max_skew,
                           args.simulated, args.record)
    report = args.report or Path(time.strftime("check-live-%Y%m%dT%H%M%SZ.json",
                                               time.gmtime()))
    target = "the simulators" if options.simulated else "the venues"
    print_line(console, f"checking {len(options.venues) or len(venues())} venues against "
                        f"{target} for {options.duration:g} s ...")
    checks = uvloop.run(check_venues(options))
    rows = [(check.info.name, name, result.verdict.value, result.reason)
            for check in checks for name, result in check.channels.items()]
    rows += [(check.info.name, "-", Verdict.FAIL.value, check.error)
             for check in checks if check.error]
    print_table(console, "check-live", (Column("venue"), Column("channel"), Column("result"),
                                        Column("reason")), rows)
    passed = sum(check.passed for check in checks)
    try:
        report.write_text(json.dumps({
            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "simulated": options.simulated, "duration_s": options.duration,
            "max_skew_s": options.max_skew,
            "venues": [check.as_json() for check in checks]}, indent=2) + "\n")
    except OSError as error:
        raise CommandError(f"cannot write the report {report}: "
                           f"{error.strerror or error}") from None
    print_line(console, f"report: {report}")
    print_line(console, f"check-live: {len(checks)} venues, {passed} passed, "
                        f"{len(checks) - passed} failed")
    return EXIT_OK if passed == len(checks) else EXIT_FAILURE


COMMAND = Command(
    "check-live", "check every venue still speaks the protocol implemented (needs internet)",
    "Subscribe every public channel of a few liquid instruments on each venue for --duration "
    "seconds and report, per venue and channel, PASS or FAIL with the reason: messages "
    "decode, books go live and stay in sequence with their checksums, timestamps are sane, "
    "no channel is silent; with credentials in the environment, the private login (read-only). "
    "Writes a JSON report; --record keeps the traffic; --simulated checks the embedded "
    "simulators instead. Exit 0 when every venue passed, 1 otherwise.",
    configure, run)

