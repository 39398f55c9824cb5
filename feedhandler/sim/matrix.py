"""The fault matrix: every registered venue against its simulator, under every fault the
simulator framework offers, each outcome checked and timed.

For each venue one simulator and one FeedHandler (fast backoff, short heartbeats, a small
message limit) run the faults one after the other. Before each fault every book must be live
and equal to the simulator's true book; the fault goes in while the market moves; then the
cell checks the reaction (reconnect, resync or a typed error), that it came within the bound
computed from the settings, that every affected book was withdrawn with a reason and served
again, that nothing was served while withdrawn, and, with the market stopped, that every book
equals the true book. A fault the venue has nothing for (``UnsupportedFault``) is "n/a" with
the reason. ``python -m feedhandler.sim.matrix`` (or ``bench/faults.py``) prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import enum
import inspect
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from rich.console import Console

from feedhandler.api import FeedHandler
from feedhandler.auth.credentials import Credentials
from feedhandler.cli.demo import Journal, SimulatedVenue, compare_book, simulated_venues
from feedhandler.cli.output import Column, print_line, print_table
from feedhandler.events import BookStatus, BookUpdate
from feedhandler.exchanges.base import VenueAdapter
from feedhandler.exchanges.registry import venue as venue_info
from feedhandler.net.connection import Connection, StatusEvent, StatusKind
from feedhandler.net.pool import ConnectionPool
from feedhandler.sim.account import SimAccount
from feedhandler.sim.server import SimulatedExchange, UnsupportedFault
from feedhandler.sim.testing import pumping, until
from feedhandler.sim.venues import create_venue

SYMBOLS = ("BTC-USDT", "ETH-USDT")
EXTRA_SYMBOL = "SOL-USDT"      # the book subscribed while subscribes are refused
CLOSE_CODES = ((1000, "normal"), (1001, "going away"), (1011, "internal error"),
               (1013, "try again later"), (4000, "venue-specific"))
REJECTION = "Invalid request: simulated rejection"
REVOKED_SECRETS = ("matrix-revoked-api-key-0001", "matrix-revoked-secret-0001",
                   "matrix-revoked-passphrase")
REVOKED = Credentials(*REVOKED_SECRETS)
"""Credentials the simulator's account does not know: a key revoked at the venue."""


Scope = Literal["all", "first", "new", "none"]


class Reaction(enum.StrEnum):
    RECONNECT = "reconnect"        # the socket was renewed and every book resynced
    ROTATE = "rotate"              # a replacement socket took over before the old one closed
    RESYNC = "resync"              # the books hit were withdrawn and resynced, socket kept
    TYPED_ERROR = "typed error"    # a decode error was counted, books untouched
    AUTH_ERROR = "auth error"      # AuthError to the user once, no retry loop, books untouched
    NONE = "none"                  # nothing visible happened


@dataclass(frozen=True)
class Settings:
    """What the FeedHandler is configured with, and what the bounds are computed from."""

    backoff_base: float = 0.05
    backoff_cap: float = 0.25
    handshake_timeout: float = 2.0
    ping_interval: float = 0.4
    pong_timeout: float = 0.4
    snapshot_timeout: float = 3.0       # adapters that take one: an in-band snapshot's wait
    requests_per_second: float = 50.0   # adapters that take one
    max_message_size: int = 128 << 10
    slack: float = 2.0
    """Allowance for a loaded event loop, added once to every bound."""
    wait: float = 30.0
    """How long a cell waits for a condition before failing: generous, so that a loaded
    machine is not mistaken for a broken reaction (the bound is asserted separately)."""

    @property
    def heartbeat_detection(self) -> float:
        """A silent socket is pinged after ``ping_interval`` and given up ``pong_timeout``
        later."""
        return self.ping_interval + self.pong_timeout

    @property
    def stall_seconds(self) -> float:
        """Long enough that only the heartbeat can end it."""
        return 10 * self.heartbeat_detection + self.slack

    @property
    def slow_handshake_seconds(self) -> float:
        """Longer than a dial may take: the first redial times out."""
        return self.handshake_timeout + 1.0


@dataclass
class Observed:
    """What a cell saw, taken from the FeedHandler's book updates and connection events."""

    reaction: Reaction
    recovery: float                 # seconds from the fault to the last affected book live
    reasons: list[str]              # INVALID reasons served to the user, in order
    statuses: list[StatusEvent]     # connection events since the fault


@dataclass
class Cell:
    venue: str
    fault: str
    expected: Reaction | None = None    # None: n/a
    note: str = ""                      # why n/a, or what went wrong
    observed: Observed | None = None
    bound: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def applicable(self) -> bool:
        return self.expected is not None

    @property
    def ok(self) -> bool:
        return self.applicable and self.observed is not None and not self.problems

    def summary(self) -> str:
        if not self.applicable:
            return "n/a"
        if self.observed is None or self.problems:
            return "FAIL"
        if self.observed.reaction in (Reaction.TYPED_ERROR, Reaction.NONE):
            return str(self.observed.reaction)
        if self.observed.reaction is Reaction.AUTH_ERROR:
            return f"auth error {self.observed.recovery * 1000:.0f} ms"
        return f"{self.observed.reaction} {self.observed.recovery * 1000:.0f} ms"


# ---- the rig: one simulator and one FeedHandler per venue ------------------------------------

@dataclass(eq=False)
class Rig:
    plan: SimulatedVenue
    sim: SimulatedExchange
    fh: FeedHandler
    settings: Settings
    record: bool = True
    """Keep every book update (the matrix); False only counts them (the soak)."""
    books: dict[str, list[tuple[float, BookUpdate]]] = field(default_factory=dict)
    statuses: list[tuple[float, StatusEvent]] = field(default_factory=list)
    watched: set[int] = field(default_factory=set)      # ids of pools/connections recorded
    served: Counter[str] = field(default_factory=Counter)
    """Book updates served by kind: "live", "invalid", "resynced"."""

    @property
    def name(self) -> str:
        return self.plan.info.name

    @property
    def adapter(self) -> VenueAdapter:
        return self.fh.venues[self.name].adapter

    @property
    def connections(self) -> list[Connection]:
        pool = self.fh.venues[self.name].pool
        return list(pool.connections) if pool is not None else []

    def venue_symbol(self, symbol: str) -> str:
        return self.adapter.venue_symbol(symbol)

    def subscribe_book(self, symbol: str) -> None:
        received = self.books[symbol] = []
        served = self.served

        def on_book(update: BookUpdate) -> None:
            served["resynced" if update.resynced else update.status.value] += 1
            if self.record:
                received.append((time.monotonic(), update))

        self.fh.subscribe_order_book(self.name, symbol, on_book)

    def watch_connections(self) -> None:
        """Records every connection status event (when ``record``), passing each on to the
        FeedHandler."""
        if not self.record:
            return
        pool = self.fh.venues[self.name].pool
        assert pool is not None
        owners: list[ConnectionPool | Connection] = [pool, *pool.connections]
        for owner in owners:
            if id(owner) in self.watched:
                continue
            self.watched.add(id(owner))
            forward = owner.on_status

            def record(connection: Connection, event: StatusEvent,
                       forward: Callable[[Connection, StatusEvent], None] | None = forward
                       ) -> None:
                self.statuses.append((time.monotonic(), event))
                if forward is not None:
                    forward(connection, event)

            owner.on_status = record

    def wrong_books(self) -> list[str]:
        return [f"{symbol}: {problem}" for symbol in self.books
                if (problem := compare_book(self.book(symbol), self.sim,
                                            self.venue_symbol(symbol)))]

    def book(self, symbol: str) -> Any:
        try:
            return self.fh.book(self.name, symbol)
        except KeyError:
            return None

    async def settle(self) -> list[str]:
        """Stops nothing (the caller stopped the market): waits until every book equals the
        true book; returns what still differs after ``settings.wait``."""
        with contextlib.suppress(TimeoutError):
            await until(lambda: not self.wrong_books(), self.settings.wait)
        return self.wrong_books()


def endpoint_options(rig_plan: SimulatedVenue, sim: SimulatedExchange,
                     settings: Settings) -> dict[str, Any]:
    """The simulator's URLs (its REST one serves the instruments) and the fast settings, as
    far as the venue's adapter takes them."""
    offered: dict[str, Any] = {"ws_url": sim.ws_url, "rest_url": sim.http_url,
                               "snapshot_timeout": settings.snapshot_timeout,
                               "full_push_timeout": settings.snapshot_timeout,
                               "requests_per_second": settings.requests_per_second}
    if sim.venue.private_ws_path is not None:
        offered["private_ws_url"] = f"ws://{sim.host}:{sim.port}{sim.venue.private_ws_path}"
    parameters = inspect.signature(rig_plan.info.factory).parameters
    return {name: value for name, value in offered.items() if name in parameters}


def configure_adapter(adapter: VenueAdapter, settings: Settings) -> None:
    """Short heartbeats and a small message limit, set before the first connection opens
    (the adapters take neither as an option)."""
    adapter.heartbeat = dataclasses.replace(
        adapter.heartbeat, ping_interval=settings.ping_interval,
        pong_timeout=settings.pong_timeout)
    adapter.max_message_size = settings.max_message_size


@contextlib.asynccontextmanager
async def rig(plan: SimulatedVenue, settings: Settings, seed: int = 0) -> AsyncIterator[Rig]:
    """A simulator for ``plan`` (publishing only when moved, no server keepalive, so that the
    client's heartbeat is what is tested) and a FeedHandler subscribed to its books."""
    simulator = create_venue(plan.simulator, plan.market,
                             [*plan.venue_symbols.values()])
    if plan.info.private_channels and hasattr(simulator, "account"):
        # an account with no API key: whichever key logs in has been revoked
        simulator.account = SimAccount((), {"USDT": Decimal(0)}, futures=plan.market != "spot")
        simulator.rest_writes = True
    async with SimulatedExchange(simulator, seed=seed, rate=None, keepalive=None) as sim:
        fh = FeedHandler(endpoints={plan.info.name: endpoint_options(plan, sim, settings)},
                         backoff_base=settings.backoff_base, backoff_cap=settings.backoff_cap,
                         handshake_timeout=settings.handshake_timeout)
        the_rig = Rig(plan, sim, fh, settings)
        for symbol in SYMBOLS:
            the_rig.subscribe_book(symbol)
        configure_adapter(the_rig.adapter, settings)
        async with fh:
            the_rig.watch_connections()
            yield the_rig


# ---- the faults --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fault:
    """One column of the matrix: how the simulator makes it happen and what should follow."""

    name: str
    reaction: Reaction
    inject: Callable[[Rig], Awaitable[None]]
    detection: Callable[[Settings], float] = lambda settings: 0.0
    """Seconds the FeedHandler may take to notice, before its reaction starts."""
    scope: Scope = "all"
    """The books the fault hits: "all" of them, the "first" symbol's, or the "new" one
    ``inject`` subscribes; a reconnect hits them all whatever the fault."""
    quiet: bool = False                 # the market stands still meanwhile
    told: Callable[[Rig], Sequence[str]] = lambda rig: ()
    """Substrings one of which every withdrawn book's reason must contain."""
    repeat: Sequence[Any] = (None,)
    """The fault goes in once per value (``inject`` reads it from ``Rig.argument``)."""


async def inject_gap(rig: Rig) -> None:
    rig.sim.gap(rig.venue_symbol(SYMBOLS[0]))


async def inject_checksum(rig: Rig) -> None:
    rig.sim.corrupt_checksum(rig.venue_symbol(SYMBOLS[0]))


async def inject_malformed(rig: Rig) -> None:
    rig.sim.malformed()


async def inject_oversize(rig: Rig) -> None:
    rig.sim.oversize(4 * rig.settings.max_message_size)


async def inject_drop(rig: Rig) -> None:
    rig.sim.drop()


async def inject_stall(rig: Rig) -> None:
    rig.sim.stall(rig.settings.stall_seconds)


async def inject_refused_pings(rig: Rig) -> None:
    rig.sim.refuse_pings(True)


async def inject_slow_handshake(rig: Rig) -> None:
    rig.sim.slow_handshake(rig.settings.slow_handshake_seconds)
    rig.sim.drop()


async def inject_server_shutdown(rig: Rig) -> None:
    rig.sim.server_shutdown()


async def inject_rejected_subscribe(rig: Rig) -> None:
    """Every live connection refuses its next subscribe; a new book is then subscribed."""
    rig.sim.reject_subscribe(REJECTION)
    rig.subscribe_book(EXTRA_SYMBOL)
    await until(lambda: len(rig.fh.venues[rig.name].pool.owners) == len(rig.books)   # type: ignore[union-attr]
                or not rig.fh.pending_tasks, rig.settings.wait)
    rig.watch_connections()


async def inject_refused_credentials(rig: Rig) -> None:
    """The account's orders are subscribed with credentials the venue refuses."""
    if not rig.plan.info.private_channels:
        raise UnsupportedFault(f"{rig.name} has no private streams in this build")
    rig.fh.subscribe_orders(rig.name, lambda order: None, credentials=REVOKED)


def close_fault(code: int, reason: str) -> Callable[[Rig], Awaitable[None]]:
    async def inject(rig: Rig) -> None:
        rig.sim.close(code, reason)
    return inject


def disconnected(*details: str) -> Callable[[Rig], Sequence[str]]:
    return lambda rig: [f"disconnected: {detail}" for detail in details]


FAULTS: tuple[Fault, ...] = (
    Fault("gap", Reaction.RESYNC, inject_gap, scope="first"),
    Fault("checksum", Reaction.RESYNC, inject_checksum, scope="first",
          told=lambda rig: ("checksum",)),
    Fault("malformed", Reaction.TYPED_ERROR, inject_malformed),
    Fault("oversize", Reaction.RECONNECT, inject_oversize,
          # the listener's own check or picows' frame limit, whichever sees it first
          told=lambda rig: ("exceeds max_message_size", "exceeding max allowed size")),
    Fault("drop", Reaction.RECONNECT, inject_drop, told=disconnected("connection lost")),
    *(Fault(f"close {code}", Reaction.RECONNECT, close_fault(code, text),
            told=disconnected(f"venue closed with code {code}"))
      for code, text in CLOSE_CODES),
    Fault("stall", Reaction.RECONNECT, inject_stall, lambda s: s.heartbeat_detection,
          told=disconnected("heartbeat")),
    Fault("ping refused", Reaction.RECONNECT, inject_refused_pings,
          lambda s: s.heartbeat_detection, quiet=True, told=disconnected("heartbeat")),
    Fault("slow handshake", Reaction.RECONNECT, inject_slow_handshake,
          lambda s: s.slow_handshake_seconds, told=disconnected("connection lost")),
    Fault("server shutdown", Reaction.ROTATE, inject_server_shutdown),
    Fault("subscribe rejected", Reaction.RESYNC, inject_rejected_subscribe, scope="new",
          told=lambda rig: ("sync failed", "subscribe refused")),
    Fault("auth refused", Reaction.AUTH_ERROR, inject_refused_credentials, scope="none"),
)

REST_SYNCED = "the book syncs from a snapshot that no refused stream would follow: renew"
EXPECTED: dict[tuple[str, str], tuple[Reaction, Scope, str]] = {
    **{(venue, "subscribe rejected"): (Reaction.RECONNECT, "all", REST_SYNCED)
       for venue in ("binance", "binance-usdm", "gateio", "htx")},
    ("coinbase", "gap"): (Reaction.RESYNC, "all", "sequence_num is per connection: a lost "
                          "message could have been any product's, so every book resyncs"),
    ("coinbase", "subscribe rejected"): (
        Reaction.NONE, "new", "the refusal meets the heartbeats subscribe, always sent first "
        "and already held; the level2 one after it is accepted (a refused level2 subscribe is "
        "retried: tests/exchanges/coinbase)"),
}
"""Where the venue's protocol calls for another reaction, or scope, than the column's."""


def expected_of(venue: str, fault: Fault) -> tuple[Reaction, Scope]:
    reaction, scope, _ = EXPECTED.get((venue, fault.name), (fault.reaction, fault.scope, ""))
    return reaction, scope


def expected_reaction(venue: str, fault: Fault) -> Reaction:
    return expected_of(venue, fault)[0]


def books_hit(rig: Rig, fault: Fault) -> list[str]:
    reaction, scope = expected_of(rig.name, fault)
    if reaction is Reaction.RECONNECT or scope == "all":
        return list(rig.books)
    if scope == "none":
        return []
    return [SYMBOLS[0] if scope == "first" else EXTRA_SYMBOL]


# ---- one cell ----------------------------------------------------------------------------------

def bound_of(rig: Rig, fault: Fault, reaction: Reaction) -> float:
    """The longest the reaction may take by the settings: noticing, a backoff and a dial
    when the socket is renewed, then the books' resync (an in-band snapshot or REST round trip
    within ``snapshot_timeout``, after the subscribes paced at the venue's request rate; one
    failed attempt and a retry backoff when subscribes are refused)."""
    settings = rig.settings
    adapter = rig.adapter
    if reaction is Reaction.AUTH_ERROR:   # one REST round trip, then nothing more
        return settings.handshake_timeout + settings.slack
    requests = sum(len(c.subscriptions) for c in rig.connections) + len(rig.books)
    pacing = requests / adapter.limits.requests_per_second
    sync = settings.snapshot_timeout + pacing
    bound = fault.detection(settings) + sync + settings.slack
    if reaction in (Reaction.RECONNECT, Reaction.ROTATE):
        bound += settings.backoff_cap + settings.handshake_timeout
    if fault.inject is inject_rejected_subscribe:
        bound += settings.backoff_cap + sync
    return bound


def check_refused_credentials(rig: Rig, cell: Cell) -> None:
    """The refusal reached the user once, typed, without the secret, and was not retried."""
    errors = rig.fh.auth_errors
    if len(errors) != 1:
        cell.problems.append(f"{len(errors)} AuthErrors reported, not one")
    elif any(secret in str(errors[0]) for secret in REVOKED_SECRETS):
        cell.problems.append("the AuthError shows the credentials")
    attempts = getattr(rig.sim.venue, "user_stream_requests", None)
    if attempts is not None and len(attempts) != 1:
        cell.problems.append(f"the refused key was tried {len(attempts)} times: {attempts}")


def withdrawn_and_served(updates: list[tuple[float, BookUpdate]]) -> tuple[list[str], float | None]:
    """The INVALID reasons among ``updates``, and when the book was served live again after
    its last withdrawal (None if it was withdrawn and never served again, or never withdrawn)."""
    reasons = [u.reason for _, u in updates if u.status is BookStatus.INVALID]
    last_invalid = max((i for i, (_, u) in enumerate(updates) if u.status is BookStatus.INVALID),
                       default=None)
    if last_invalid is None:
        return reasons, None
    served = next((t for t, u in updates[last_invalid:] if u.resynced), None)
    return reasons, served


def served_while_withdrawn(updates: list[tuple[float, BookUpdate]]) -> bool:
    """A LIVE update that is not a resync came while the book was withdrawn."""
    withdrawn = False
    for _, update in updates:
        if update.status is BookStatus.INVALID:
            withdrawn = True
        elif update.resynced:
            withdrawn = False
        elif withdrawn:
            return True
    return False


async def run_cell(rig: Rig, fault: Fault) -> Cell:
    cell = Cell(rig.name, fault.name, expected_reaction(rig.name, fault))
    assert cell.expected is not None
    wrong = await rig.settle()
    if wrong or not all(rig.book(s) is not None and rig.book(s).valid for s in rig.books):
        cell.problems.append(f"books not live and true before the fault: {wrong}")
        cell.observed = None
        return cell
    marks = {symbol: len(updates) for symbol, updates in rig.books.items()}
    statuses_mark = len(rig.statuses)
    dials = rig.sim.accepted
    errors = sum(c.decoder.errors for c in rig.connections)
    rotations = sum(c.rotations for c in rig.connections)
    hit: list[str] = []
    reacted_at: float | None = None
    started = time.monotonic()
    try:
        async with contextlib.AsyncExitStack() as stack:
            if not fault.quiet:
                await stack.enter_async_context(pumping(rig.sim))
            try:
                await fault.inject(rig)
            except UnsupportedFault as unsupported:
                return Cell(rig.name, fault.name, None, str(unsupported))
            hit = books_hit(rig, fault)
            marks.update({s: 0 for s in rig.books if s not in marks})

            def reacted() -> bool:
                if cell.expected is Reaction.AUTH_ERROR:
                    return bool(rig.fh.auth_errors)
                if cell.expected is Reaction.NONE:
                    return all(rig.books[s] and rig.books[s][-1][1].status is BookStatus.LIVE
                               for s in hit)
                if cell.expected is Reaction.TYPED_ERROR:
                    return sum(c.decoder.errors for c in rig.connections) > errors
                if cell.expected is Reaction.ROTATE:
                    return sum(c.rotations for c in rig.connections) > rotations
                return all(withdrawn_and_served(rig.books[s][marks[s]:])[1] is not None
                           for s in hit)

            try:
                await until(reacted, rig.settings.wait)
                reacted_at = time.monotonic()
            except TimeoutError:
                cell.problems.append(f"no {cell.expected} within {rig.settings.wait:g} s")
            if cell.expected is Reaction.AUTH_ERROR:
                # at the fast backoff a retry loop would dial many times meanwhile
                await asyncio.sleep(10 * rig.settings.backoff_cap)
            if fault.quiet:
                await stack.enter_async_context(pumping(rig.sim))
                await asyncio.sleep(0.1)
    finally:
        if fault.inject is inject_refused_pings:
            rig.sim.refuse_pings(False)
    wrong = await rig.settle()
    observe(rig, fault, cell, marks, statuses_mark, dials, errors, rotations, hit, started,
            reacted_at)
    if wrong:
        cell.problems.append(f"books differ from the true book afterwards: {wrong}")
    return cell


def observe(rig: Rig, fault: Fault, cell: Cell, marks: dict[str, int], statuses_mark: int,
            dials: int, errors: int, rotations: int, hit: list[str], started: float,
            reacted_at: float | None) -> None:
    """Classifies what happened since the fault and checks it against the cell's expectation."""
    renewed = rig.sim.accepted > dials
    rotated = sum(c.rotations for c in rig.connections) > rotations
    decode_errors = sum(c.decoder.errors for c in rig.connections) - errors
    withdrawn: dict[str, tuple[list[str], float | None]] = {
        symbol: withdrawn_and_served(updates[marks[symbol]:])
        for symbol, updates in rig.books.items()}
    any_withdrawn = any(reasons for reasons, _ in withdrawn.values())
    if rig.fh.auth_errors:
        reaction = Reaction.AUTH_ERROR
    elif rotated and not any_withdrawn:
        reaction = Reaction.ROTATE
    elif renewed:
        reaction = Reaction.RECONNECT
    elif any_withdrawn:
        reaction = Reaction.RESYNC
    elif decode_errors:
        reaction = Reaction.TYPED_ERROR
    else:
        reaction = Reaction.NONE
    served_times = [served for symbol in hit if (served := withdrawn[symbol][1]) is not None]
    recovery = max(served_times) - started if served_times else 0.0
    reasons = [reason for symbol in rig.books for reason in withdrawn[symbol][0]]
    cell.observed = Observed(reaction, recovery, reasons,
                             [event for _, event in rig.statuses[statuses_mark:]])
    cell.bound = bound_of(rig, fault, reaction)
    problems = cell.problems
    if reaction is not cell.expected:
        problems.append(f"expected {cell.expected}, saw {reaction}")
    if reaction in (Reaction.AUTH_ERROR, Reaction.ROTATE):
        cell.observed.recovery = (reacted_at or started) - started
    if reaction is Reaction.AUTH_ERROR:
        check_refused_credentials(rig, cell)
    if reaction in (Reaction.TYPED_ERROR, Reaction.NONE, Reaction.AUTH_ERROR, Reaction.ROTATE):
        if any_withdrawn:
            problems.append("a book was withdrawn by a fault that should leave it be")
        if reaction in (Reaction.AUTH_ERROR, Reaction.ROTATE) \
                and cell.observed.recovery > cell.bound:
            problems.append(f"{reaction} after {cell.observed.recovery:.2f} s, beyond the bound "
                            f"{cell.bound:.2f} s")
        return
    kinds = {event.kind for event in cell.observed.statuses}
    if reaction is Reaction.RECONNECT and StatusKind.DISCONNECTED not in kinds:
        problems.append("no DISCONNECTED status event")
    if fault.inject is inject_slow_handshake and StatusKind.CONNECT_FAILED not in kinds:
        problems.append("the dial that timed out was not reported (CONNECT_FAILED)")
    if recovery > cell.bound:
        problems.append(f"recovered in {recovery:.2f} s, beyond the bound {cell.bound:.2f} s")
    for symbol in hit:
        reasons, served = withdrawn[symbol]
        if not reasons:
            problems.append(f"{symbol}: the user was not told (no INVALID update)")
        elif served is None:
            problems.append(f"{symbol}: withdrawn ({reasons[-1]}) and never served again")
        told = fault.told(rig)
        if told and not any(text in reason for reason in reasons for text in told):
            problems.append(f"{symbol}: reasons {reasons} name none of {list(told)}")
    if reaction is Reaction.RESYNC:
        untouched = [s for s in rig.books if s not in hit and withdrawn[s][0]]
        if untouched:
            problems.append(f"books not hit were withdrawn too: {untouched}")
    for symbol, updates in rig.books.items():
        if served_while_withdrawn(updates[marks[symbol]:]):
            problems.append(f"{symbol}: a live update was served while withdrawn")


# ---- the matrix --------------------------------------------------------------------------------

async def venue_plans(names: Sequence[str] | None = None) -> list[SimulatedVenue]:
    """Every registered venue with a simulator (or those named), with this module's symbols."""
    plans = await simulated_venues((*SYMBOLS, EXTRA_SYMBOL), Journal(None))
    return [plan for plan in plans if names is None or plan.info.name in names]


async def run_venue(plan: SimulatedVenue, faults: Sequence[Fault] = FAULTS,
                    settings: Settings | None = None, seed: int = 0) -> list[Cell]:
    """Every fault, in order, on one simulator and FeedHandler for ``plan``."""
    settings = settings or Settings()
    plan = dataclasses.replace(plan, venue_symbols=dict(plan.venue_symbols))
    cells = []
    async with rig(plan, settings, seed) as the_rig:
        try:
            await until(lambda: all(updates and updates[0][1].resynced
                                    for updates in the_rig.books.values()), settings.wait)
        except TimeoutError:
            return [Cell(plan.info.name, fault.name, expected_reaction(plan.info.name, fault),
                         problems=["books never synced"]) for fault in faults]
        for fault in faults:
            cells.append(await run_cell(the_rig, fault))
    return cells


async def run_matrix(names: Sequence[str] | None = None,
                     faults: Sequence[Fault] = FAULTS,
                     settings: Settings | None = None) -> list[Cell]:
    cells = []
    for index, plan in enumerate(await venue_plans(names)):
        cells += await run_venue(plan, faults, settings, seed=index)
    return cells


def fault_summary(cells: Sequence[Cell]) -> list[str]:
    """One fault over the venues: the reactions seen (with how many venues), cells passed,
    and the range of recovery times and bounds of the cells that recovered."""
    applicable = [cell for cell in cells if cell.applicable]
    seen = Counter(str(cell.observed.reaction) for cell in applicable if cell.observed)
    timed = [cell for cell in applicable if cell.observed is not None
             and cell.observed.reaction not in (Reaction.TYPED_ERROR, Reaction.NONE)]

    def span(values: list[float], scale: float, digits: int) -> str:
        return f"{min(values) * scale:.{digits}f}-{max(values) * scale:.{digits}f}" \
            if values else "-"

    return [cells[0].fault, ", ".join(f"{reaction} {count}" for reaction, count in seen.items())
            + (f", n/a {len(cells) - len(applicable)}" if len(applicable) < len(cells) else ""),
            f"{sum(1 for cell in applicable if cell.ok)}/{len(applicable)}",
            span([cell.observed.recovery for cell in timed if cell.observed], 1000, 0),
            span([cell.bound for cell in timed], 1, 1)]


def print_matrix(console: Console, cells: Sequence[Cell], settings: Settings) -> None:
    venues = list(dict.fromkeys(cell.venue for cell in cells))
    faults = list(dict.fromkeys(cell.fault for cell in cells))
    by_key = {(cell.venue, cell.fault): cell for cell in cells}
    rows = [[venue, *(by_key[(venue, fault)].summary() if (venue, fault) in by_key else "-"
                      for fault in faults)] for venue in venues]
    print_table(console, "fault matrix: outcome and recovery (fault -> every book live again)",
                [Column("venue"), *(Column(fault, "right") for fault in faults)], rows)
    print_table(console, "per fault: reactions seen, recovery and bound over the venues",
                [Column("fault"), Column("reactions"), Column("passed", "right"),
                 Column("recovery ms", "right"), Column("bound s", "right")],
                [fault_summary([cell for cell in cells if cell.fault == fault])
                 for fault in faults])
    for cell in cells:
        if not cell.applicable:
            print_line(console, f"n/a {cell.venue} {cell.fault}: {cell.note}")
    for cell in cells:
        if cell.applicable and not cell.ok:
            print_line(console, f"FAIL {cell.venue} {cell.fault}: {'; '.join(cell.problems)}",
                       "bold red")
    applicable = [cell for cell in cells if cell.applicable]
    passed = sum(1 for cell in applicable if cell.ok)
    bounds = [cell.bound for cell in applicable if cell.observed is not None
              and cell.observed.reaction is not Reaction.TYPED_ERROR]
    print_line(console, f"settings: backoff {settings.backoff_base:g}-{settings.backoff_cap:g} s, "
               f"heartbeat {settings.ping_interval:g}+{settings.pong_timeout:g} s, handshake "
               f"timeout {settings.handshake_timeout:g} s, snapshot timeout "
               f"{settings.snapshot_timeout:g} s; bounds {min(bounds, default=0):.1f}-"
               f"{max(bounds, default=0):.1f} s")
    print_line(console, f"cells passed: {passed} of {len(applicable)} applicable "
               f"({len(cells) - len(applicable)} n/a)",
               "bold green" if passed == len(applicable) else "bold red")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venues", help="comma-separated registry names (default: all)")
    parser.add_argument("--faults", help="comma-separated fault names (default: all)")
    args = parser.parse_args(argv)
    names = args.venues.split(",") if args.venues else None
    for name in names or ():
        venue_info(name)
    faults = FAULTS if not args.faults else tuple(
        fault for fault in FAULTS if fault.name in args.faults.split(","))
    settings = Settings()
    import uvloop

    started = time.monotonic()
    cells = uvloop.run(run_matrix(names, faults, settings))
    console = Console()
    print_matrix(console, cells, settings)
    print_line(console, f"matrix ran in {time.monotonic() - started:.1f} s")
    return 0 if all(cell.ok for cell in cells if cell.applicable) else 1


if __name__ == "__main__":
    sys.exit(main())
