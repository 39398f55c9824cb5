"""FeedHandler: subscribe, get callbacks (or iterate), read books and ring buffers.

Every venue's decoders write into the FeedHandler's three shared rings. After each socket read
that produced rows, the FeedHandler turns only the new rows that someone subscribed to into
event objects; users who want none read the rings directly (``fh.trades.reader()``).

Private streams (``subscribe_orders`` / ``subscribe_balance`` / ``subscribe_positions``) run
one connection per venue and account (``Credentials``), writing into ``fh.orders``,
``fh.balances`` and ``fh.positions``; a refused key raises ``AuthError`` from
``wait_connected`` and ``run`` and is never retried.

Symbols are resolved through each venue's instrument catalog (``feedhandler.instruments``),
loaded from the venue's own metadata and cached on disk: any spelling of an instrument is the
same subscription, and every event carries its unified symbol. A subscribe resolves at once
when the venue's catalog is in memory or freshly cached (an unknown symbol raises
``UnknownSymbolError`` there); otherwise it is resolved by ``start()``, which loads the
catalogs of every venue in use concurrently and raises before any socket is dialled (or, for
a subscribe made while running, the handle is refused once the catalog is in).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.core.book import OrderBook
from feedhandler.core.rings import (
    BalanceRing,
    CandleRing,
    OrderRing,
    PositionRing,
    RingOverrun,
    TickerRing,
    TradeRing,
)
from feedhandler.events import (
    ORDER_STATUSES,
    SIDES,
    Balance,
    BookStatus,
    BookUpdate,
    Candle,
    Event,
    Order,
    Position,
    Ticker,
    Trade,
    wide_units,
)
from feedhandler.exchanges.base import (
    Channel,
    Instrument,
    PrivateVenue,
    Rings,
    Status,
    Subscription,
    SubscriptionRefused,
    VenueAdapter,
)
from feedhandler.exchanges.registry import venue
from feedhandler.instruments.catalog import Catalog
from feedhandler.instruments.loader import (
    MAX_AGE,
    CatalogUnavailableError,
    cache_path,
    load_catalog,
    read_cache,
    source_of,
)
from feedhandler.metrics import snapshot
from feedhandler.metrics.histogram import LatencyHistogram
from feedhandler.metrics.latency import ChannelLatency, LatencyRecorder
from feedhandler.metrics.snapshot import Metrics, merged
from feedhandler.net.backoff import Backoff
from feedhandler.net.connection import Connection, Decoded, StatusEvent, StatusKind
from feedhandler.net.pool import ConnectionPool, describe_down

if TYPE_CHECKING:
    from feedhandler.metrics.prometheus import MetricsServer
    from feedhandler.record.tap import Recorder

log = logging.getLogger(__name__)

# plain ints for the per-read tests: an IntFlag ``&`` costs about 0.7 us, an int one 12 ns
TRADES, TICKERS = int(Decoded.TRADES), int(Decoded.TICKERS)
CANDLES, BOOKS = int(Decoded.CANDLES), int(Decoded.BOOKS)
PRIVATE = int(Decoded.PRIVATE)
ACCOUNT = "*account*"    # venue symbol of an account-wide private subscription (no symbol)

Callback = Callable[[Any], None]
REFRESH_INTERVAL = 3600.0   # s between refreshes of a running FeedHandler's catalogs
UNKNOWN_REFRESH_AGE = 60.0  # s: a catalog older than this is refreshed for a symbol it lacks
CATALOG_POLL = 0.05         # s between wait_connected's looks at subscriptions awaiting one


def check_callback(callback: object) -> None:
    if callback is not None and callback is not RINGS_ONLY and not callable(callback):
        raise TypeError(f"callback must be callable, None or RINGS_ONLY, not {callback!r}")


def without(items: tuple[Any, ...], item: Any) -> tuple[Any, ...]:
    """``items`` less the first ``item`` (ValueError when absent, as ``list.remove``)."""
    index = items.index(item)
    return items[:index] + items[index + 1:]


def scale_change(held: Instrument, record: Instrument) -> str:
    """``"tick 0.01 -> 0.001, lot 0.0001 -> 0.00001"``: what changed of the scales an
    instrument's numbers are kept at ("" when none did)."""
    changes = []
    for name, size, scale in (("tick", "tick_size", "price_scale"),
                              ("lot", "lot_size", "size_scale")):
        before, after = getattr(held, size), getattr(record, size)
        if before != after or getattr(held, scale) != getattr(record, scale):
            changes.append(f"{name} {'?' if before is None else format(before, 'f')} -> "
                           f"{'?' if after is None else format(after, 'f')}")
    return ", ".join(changes)


class RingsOnly:
    """Pass ``RINGS_ONLY`` as the callback: the data only lands in the rings (read them with
    ``fh.trades.reader()`` etc., e.g. from ``subscribe_batches``); no event object is built."""

    def __repr__(self) -> str:
        return "RINGS_ONLY"


RINGS_ONLY = RingsOnly()


class ConnectTimeout(TimeoutError):
    """Connections still not up when ``wait_connected`` or ``run`` stopped waiting;
    ``venues`` maps each venue to the last error of its connections that are not up."""

    def __init__(self, timeout: float, venues: dict[str, str]) -> None:
        self.timeout = timeout
        self.venues = venues
        waiting = "; ".join(f"{name} ({error})" for name, error in venues.items())
        super().__init__(f"not connected after {timeout:g} s: {waiting}")


@dataclass(eq=False)
class Handle:
    """What ``subscribe_*`` returns; pass it to ``unsubscribe``."""

    subscription: Subscription
    callback: Callback | RingsOnly | None
    active: bool = True
    credentials: Credentials | None = None    # private subscriptions: whose account
    refused: SubscriptionRefused | None = None  # set when the venue refused it (then inactive)

    @property
    def exchange(self) -> str:
        return self.subscription.instrument.venue

    @property
    def symbol(self) -> str:
        return self.subscription.instrument.symbol

    @property
    def channel(self) -> Channel:
        return self.subscription.channel


@dataclass(eq=False)
class Account:
    """One account's private stream on one venue: its adapter, connection and handles."""

    exchange: str
    adapter: PrivateVenue
    connection: Connection | None = None
    handles: list[Handle] = field(default_factory=list)


@dataclass
class VenueState:
    adapter: VenueAdapter
    pool: ConnectionPool | None = None
    instruments: dict[str, Instrument] = field(default_factory=dict)   # taken, by symbol
    accounts: dict[Credentials, Account] = field(default_factory=dict)
    catalog: Catalog | None = None


class FeedHandler:
    """The entry point. ``endpoints`` overrides venue URLs, e.g. to point at a simulator:
    ``{"binance": {"ws_url": "ws://127.0.0.1:9001", "rest_url": "http://127.0.0.1:9001"}}``.
    """

    def __init__(self, *, endpoints: dict[str, dict[str, Any]] | None = None,
                 ring_capacity: int = 1 << 16, verify_tls: bool = True,
                 backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 backoff_reset_after: float = 60.0, handshake_timeout: float = 10.0,
                 event_queue_size: int = 100_000, private_ring_capacity: int = 1 << 12,
                 recorder: Recorder | None = None, instruments_max_age: float = MAX_AGE,
                 instruments_refresh: float = REFRESH_INTERVAL) -> None:
        """``recorder`` (``feedhandler.record.Recorder``) records every connection for replay;
        ``stop()`` closes it. A cached instrument catalog younger than
        ``instruments_max_age`` s is used without asking the venue; a running FeedHandler
        refreshes its catalogs every ``instruments_refresh`` s."""
        self.recorder = recorder
        self.endpoints = endpoints or {}
        self.verify_tls = verify_tls
        self.trades = TradeRing(ring_capacity)
        self.tickers = TickerRing(ring_capacity)
        self.candles = CandleRing(ring_capacity)
        self.orders = OrderRing(private_ring_capacity)
        self.balances = BalanceRing(private_ring_capacity)
        self.positions = PositionRing(private_ring_capacity)
        self.rings = Rings(self.trades, self.tickers, self.candles, self.orders, self.balances,
                           self.positions)
        self.backoff = (backoff_base, backoff_cap, backoff_reset_after)
        self.handshake_timeout = handshake_timeout
        self.venues: dict[str, VenueState] = {}
        self.by_id: list[Instrument] = []       # the instruments subscribed, by ring id
        self.instruments_max_age = instruments_max_age
        self.instruments_refresh = instruments_refresh
        self.unresolved: list[tuple[Handle, str]] = []   # (handle, symbol as given)
        self.stale_venues: set[str] = set()     # catalogs to refresh before resolving
        # subscribers as tuples, replaced (never mutated) on a change: delivery iterates the
        # tuple the event found, so a callback that (un)subscribes cannot change who gets it
        self.handles: dict[tuple[Any, ...], tuple[Handle, ...]] = {}
        self.by_instrument: dict[tuple[Channel, int], tuple[Handle, ...]] = {}
        self.readers = {Channel.TRADES: self.trades.reader(),
                        Channel.TICKER: self.tickers.reader(),
                        Channel.OHLCV: self.candles.reader(),
                        Channel.ORDERS: self.orders.reader(),
                        Channel.BALANCE: self.balances.reader(),
                        Channel.POSITIONS: self.positions.reader()}
        self.queue: asyncio.Queue[Event] = asyncio.Queue(event_queue_size)
        self.latencies = LatencyRecorder()
        self.metrics_baseline: Metrics | None = None
        self.metrics_servers: list[MetricsServer] = []
        self.overruns = 0
        self.dropped_events = 0
        self.callback_errors = 0
        self.batch_callbacks: tuple[Callable[[int], None], ...] = ()
        self.running = False
        self.pending_tasks: set[asyncio.Task[None]] = set()
        self.refresh_task: asyncio.Task[None] | None = None    # the catalogs' schedule
        self.catalog_errors: dict[str, str] = {}    # venue: why its catalog did not load
        self.accounts: dict[Connection, Account] = {}
        self.auth_errors: list[AuthError] = []
        self.refusals: list[SubscriptionRefused] = []
        """Subscriptions the venues refused (unknown symbols...), in order: each is dropped,
        its handles inactive with ``handle.refused`` set; the others carry on."""
        self.auth_failed = asyncio.Event()

    # ---- subscriptions ---------------------------------------------------------------------

    def subscribe_ticker(self, exchange: str, symbol: str,
                         callback: Callback | RingsOnly | None = None) -> Handle:
        return self._subscribe(exchange, symbol, Channel.TICKER, callback)

    def subscribe_trades(self, exchange: str, symbol: str,
                         callback: Callback | RingsOnly | None = None) -> Handle:
        return self._subscribe(exchange, symbol, Channel.TRADES, callback)

    def subscribe_order_book(self, exchange: str, symbol: str,
                             callback: Callback | RingsOnly | None = None,
                             depth: int | None = None) -> Handle:
        return self._subscribe(exchange, symbol, Channel.BOOK, callback, depth=depth)

    def subscribe_ohlcv(self, exchange: str, symbol: str, timeframe: str,
                        callback: Callback | RingsOnly | None = None) -> Handle:
        return self._subscribe(exchange, symbol, Channel.OHLCV, callback, timeframe=timeframe)

    def subscribe_orders(self, exchange: str, callback: Callback | RingsOnly | None = None, *,
                         credentials: Credentials | None = None,
                         symbol: str | None = None) -> Handle:
        """The account's order updates (``Order``), of every symbol or only ``symbol``.
        ``credentials`` default to ``Credentials.from_env(exchange)``."""
        return self._subscribe_private(exchange, Channel.ORDERS, callback, credentials, symbol)

    def subscribe_balance(self, exchange: str, callback: Callback | RingsOnly | None = None, *,
                          credentials: Credentials | None = None) -> Handle:
        """The account's balance updates (``Balance``)."""
        return self._subscribe_private(exchange, Channel.BALANCE, callback, credentials, None)

    def subscribe_positions(self, exchange: str, callback: Callback | RingsOnly | None = None,
                            *, credentials: Credentials | None = None,
                            symbol: str | None = None) -> Handle:
        """The account's position updates (``Position``); futures venues only."""
        return self._subscribe_private(exchange, Channel.POSITIONS, callback, credentials,
                                       symbol)

    def subscribe_batches(self, callback: Callable[[int], None]) -> None:
        """``callback(flags)`` once per socket read that wrote rows or changed books, before
        any per-event callback: read ``fh.trades`` / ``fh.tickers`` / ``fh.candles`` with your
        own ``reader()`` and no event object is built for you. ``flags`` is a ``Decoded``."""
        self.batch_callbacks = (*self.batch_callbacks, callback)

    def unsubscribe_batches(self, callback: Callable[[int], None]) -> None:
        self.batch_callbacks = without(self.batch_callbacks, callback)

    def unsubscribe(self, handle: Handle) -> None:
        """Stops delivery to this handle from the next event on (called from a callback, the
        event being delivered still reaches every handle it found); the venue subscription
        ends with its last handle."""
        if not handle.active:
            return
        handle.active = False
        sub = handle.subscription
        waiting = [entry for entry in self.unresolved if entry[0] is handle]
        if waiting:             # its catalog not loaded yet: nothing was subscribed
            self.unresolved.remove(waiting[0])
            if handle.credentials is None:
                return
        if handle.credentials is not None:
            self._unsubscribe_private(handle)
            return
        if handle.callback is not RINGS_ONLY:
            route = (sub.channel, sub.instrument.id)
            self.by_instrument[route] = without(self.by_instrument[route], handle)
        self.handles[sub.key] = without(self.handles[sub.key], handle)
        if not self.handles[sub.key]:
            del self.handles[sub.key]
            state = self.venues[sub.instrument.venue]
            if self.running and state.pool is not None:
                self._spawn(state.pool.remove([sub]))

    def _subscribe(self, exchange: str, symbol: str, channel: Channel,
                   callback: Callback | RingsOnly | None,
                   timeframe: str | None = None, depth: int | None = None) -> Handle:
        info = venue(exchange)
        info.check(channel, timeframe, depth)
        check_callback(callback)
        state = self._venue_state(exchange)
        instrument = self._instrument(exchange, state, symbol)
        native = info.native_depth(depth)
        if instrument is None:
            provisional = self._provisional(exchange, state, symbol)
            return self._unresolved(
                Handle(Subscription(channel, provisional, timeframe, native, depth), callback),
                symbol)
        return self._attach(Handle(Subscription(channel, instrument, timeframe, native, depth),
                                   callback))

    def _attach(self, handle: Handle) -> Handle:
        """Puts a handle whose instrument is resolved to work: joins the subscription of the
        same key (any spelling of the instrument), subscribes it when running."""
        if handle.credentials is not None:
            account = self.venues[handle.exchange].accounts[handle.credentials]
            if self.running:
                if account.connection is None:
                    self._start_account(account)
                else:
                    self._spawn(account.connection.add([handle.subscription]))
            return handle
        sub = handle.subscription
        channel, instrument, levels = sub.channel, sub.instrument, sub.levels
        for other in self.handles.get(sub.key, ()):
            handle.subscription = sub = other.subscription
            break
        if channel is Channel.BOOK:
            for key, handles in self.handles.items():
                existing = handles[0].subscription
                if (existing.channel is Channel.BOOK and existing.instrument == instrument
                        and (key != sub.key or existing.levels != levels)):
                    handle.active = False
                    raise ValueError(f"{handle.exchange} {instrument.symbol}: already "
                                     f"subscribed with depth {existing.levels or 'default'}; "
                                     "one book per instrument")
        first = sub.key not in self.handles
        self.handles[sub.key] = (*self.handles.get(sub.key, ()), handle)
        if handle.callback is not RINGS_ONLY:
            route = (channel, instrument.id)
            self.by_instrument[route] = (*self.by_instrument.get(route, ()), handle)
        if first and self.running:
            self._spawn(self._pool(self.venues[handle.exchange]).add([sub]))
        return handle

    def _subscribe_private(self, exchange: str, channel: Channel,
                           callback: Callback | RingsOnly | None,
                           credentials: Credentials | None, symbol: str | None) -> Handle:
        venue(exchange).check_private(channel)
        check_callback(callback)
        if credentials is None:
            credentials = Credentials.from_env(exchange)
        state = self._venue_state(exchange)
        instrument = (self._instrument(exchange, state, symbol) if symbol is not None
                      else Instrument(-1, exchange, "", ACCOUNT, state.adapter.market))
        account = state.accounts.get(credentials)
        if account is None:
            account = state.accounts[credentials] = Account(
                exchange, state.adapter.private(credentials))
        if instrument is None:
            assert symbol is not None
            handle = Handle(Subscription(channel, self._provisional(exchange, state, symbol)),
                            callback, credentials=credentials)
            account.handles.append(handle)
            return self._unresolved(handle, symbol)
        handle = Handle(Subscription(channel, instrument), callback, credentials=credentials)
        account.handles.append(handle)
        return self._attach(handle)

    def _unsubscribe_private(self, handle: Handle) -> None:
        state = self.venues[handle.exchange]
        assert handle.credentials is not None
        account = state.accounts[handle.credentials]
        account.handles.remove(handle)
        if not account.handles:
            del state.accounts[handle.credentials]
            if account.connection is not None:
                self.accounts.pop(account.connection, None)
                self._spawn(account.connection.stop())

    def _start_account(self, account: Account) -> None:
        base, cap, reset_after = self.backoff
        connection = account.connection = Connection(
            account.adapter, self.rings, [h.subscription for h in account.handles],
            on_batch=self._on_batch, on_status=self._on_status,
            backoff=Backoff(base, cap, reset_after), handshake_timeout=self.handshake_timeout,
            verify_tls=self.verify_tls, name=f"{account.exchange}:private")
        self.accounts[connection] = account
        connection.start()

    def _venue_state(self, exchange: str) -> VenueState:
        state = self.venues.get(exchange)
        if state is None:
            options = dict(self.endpoints.get(exchange, {}))
            options.setdefault("verify_tls", self.verify_tls)
            state = self.venues[exchange] = VenueState(venue(exchange).create(**options))
        return state

    def _instrument(self, exchange: str, state: VenueState,
                    symbol: str) -> Instrument | None:
        """The instrument ``symbol`` spells on ``exchange``, taken (given a ring id); None
        when the catalog is not at hand yet (``start()`` resolves it). An unknown symbol
        raises ``UnknownSymbolError`` at once when the catalog is fresh; an older catalog
        is refreshed first (a new listing)."""
        if not isinstance(symbol, str) or not symbol.strip():
            raise ValueError(f"{exchange}: empty symbol {symbol!r}")
        catalog = self._catalog_at_hand(exchange, state)
        if catalog is None:
            return None
        if catalog.find(symbol) is None and \
                time.time() - catalog.fetched > UNKNOWN_REFRESH_AGE:
            self.stale_venues.add(exchange)
            return None
        return self._take(state, catalog.resolve(symbol))

    def _take(self, state: VenueState, record: Instrument) -> Instrument:
        """The FeedHandler's instrument for a catalog record: one per unified symbol."""
        instrument = state.instruments.get(record.symbol)
        if instrument is None:
            instrument = dataclasses.replace(record, id=len(self.by_id))
            self.by_id.append(instrument)
            state.instruments[record.symbol] = instrument
        return instrument

    @staticmethod
    def _provisional(exchange: str, state: VenueState, symbol: str) -> Instrument:
        """Stands in for an instrument until its catalog is loaded."""
        return Instrument(-1, exchange, symbol, "", state.adapter.market)

    def _unresolved(self, handle: Handle, symbol: str) -> Handle:
        self.unresolved.append((handle, symbol))
        if self.running:
            self._spawn(self._resolve_while_running())
        return handle

    def _catalog_at_hand(self, exchange: str, state: VenueState) -> Catalog | None:
        """The venue's catalog in memory, else a cached one younger than the max age."""
        if state.catalog is None:
            options = self.endpoints.get(exchange, {})
            path = cache_path(exchange, source_of(exchange),
                              options.get("rest_url") or source_of(exchange).rest_url)
            cached = read_cache(path, exchange)
            if cached is not None and time.time() - cached.fetched < self.instruments_max_age:
                state.catalog = cached
        return state.catalog

    async def load_instruments(self, *exchanges: str, refresh: bool = False) -> None:
        """Loads the catalogs of ``exchanges`` (default: every venue subscribed to)
        concurrently, from the cache or the venues; ``refresh`` asks the venues anyway.
        Raises ``CatalogUnavailableError`` for a venue that has neither."""
        names = exchanges or tuple(self.venues)
        states = [self._venue_state(name) for name in names]
        catalogs = await asyncio.gather(*(
            load_catalog(name, endpoints=self.endpoints.get(name), refresh=refresh,
                         max_age=self.instruments_max_age, verify_tls=self.verify_tls)
            for name in names))
        for name, state, catalog in zip(names, states, catalogs, strict=True):
            await self._take_catalog(name, state, catalog)

    def instruments(self, exchange: str) -> list[Instrument]:
        """Every instrument ``exchange`` lists (``await load_instruments(exchange)`` first,
        unless a fresh cached catalog exists)."""
        return list(self._loaded_catalog(exchange))

    def instrument(self, exchange: str, symbol: str) -> Instrument:
        """The instrument any spelling of ``symbol`` names; ``UnknownSymbolError`` when the
        venue lists none."""
        return self._loaded_catalog(exchange).resolve(symbol)

    def _loaded_catalog(self, exchange: str) -> Catalog:
        catalog = self._catalog_at_hand(exchange, self._venue_state(exchange))
        if catalog is None:
            raise LookupError(f"{exchange}: instruments not loaded; await "
                              f"fh.load_instruments({exchange!r}) first")
        return catalog

    async def _resolve(self, also: Iterable[str] = ()) -> list[tuple[Handle, ValueError]]:
        """Loads the catalogs the unresolved subscriptions need and puts them to work;
        returns the errors of those that cannot be (unknown symbols: their handles end).
        The catalogs of ``also`` (venues of account-wide private streams, whose events only
        need them for the unified symbol) are loaded if they can be: without one, a warning,
        and those events carry the venue's symbols."""
        needed = {handle.exchange for handle, _ in self.unresolved}
        optional = [name for name in also
                    if self.venues[name].catalog is None and name not in needed]
        for outcome in await asyncio.gather(
                *(self.load_instruments(name) for name in optional), return_exceptions=True):
            if isinstance(outcome, CatalogUnavailableError):
                log.warning("%s; its private events carry the venue's symbols", outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
        fresh = {name for name in needed if name in self.stale_venues}
        self.stale_venues -= fresh
        loads = [self.load_instruments(*names, refresh=refresh)
                 for names, refresh in ((needed - fresh, False), (fresh, True)) if names]
        await asyncio.gather(*loads)
        return self._resolve_loaded(final=True)

    def _resolve_loaded(self, final: bool) -> list[tuple[Handle, ValueError]]:
        """Puts to work the unresolved subscriptions whose venue's catalog is loaded; one
        it does not list is an error when ``final``, else it waits (a replay learns its
        instruments as the recording goes)."""
        unresolved, self.unresolved = self.unresolved, []
        errors: list[tuple[Handle, ValueError]] = []
        for handle, symbol in unresolved:
            state = self.venues[handle.exchange]
            if state.catalog is None or (not final and state.catalog.find(symbol) is None):
                self.unresolved.append((handle, symbol))
                continue
            try:
                instrument = self._take(state, state.catalog.resolve(symbol))
                handle.subscription = dataclasses.replace(handle.subscription,
                                                          instrument=instrument)
                self._attach(handle)
            except ValueError as error:     # UnknownSymbolError, or a second book depth
                handle.active = False
                if handle.credentials is not None:
                    state.accounts[handle.credentials].handles.remove(handle)
                errors.append((handle, error))
        return errors

    async def _resolve_while_running(self) -> None:
        """A subscribe made while running whose catalog was not at hand: an unknown symbol
        ends its handle as refused (``handle.refused``, ``fh.refusals``)."""
        try:
            errors = await self._resolve()
        except CatalogUnavailableError as unavailable:   # its handles wait (wait_connected)
            self.catalog_errors[unavailable.venue] = str(unavailable)
            log.error("%s", unavailable)
            return
        for handle, error in errors:
            log.error("%s", error)
            handle.refused = SubscriptionRefused(handle.subscription, str(error))
            self.refusals.append(handle.refused)

    async def _refresh_catalogs(self) -> None:
        """Re-reads every loaded catalog every ``instruments_refresh`` s (new listings,
        status changes); a venue that cannot be reached keeps its catalog."""
        while True:
            await asyncio.sleep(self.instruments_refresh)
            for name, state in list(self.venues.items()):
                if state.catalog is None:
                    continue
                try:
                    catalog = await load_catalog(
                        name, endpoints=self.endpoints.get(name), refresh=True,
                        verify_tls=self.verify_tls)
                except Exception as exc:
                    log.warning("%s: instrument refresh failed: %s", name, exc)
                    continue
                await self._take_catalog(name, state, catalog)

    async def _take_catalog(self, name: str, state: VenueState, catalog: Catalog) -> None:
        """Makes ``catalog`` the venue's; an instrument taken whose record changed is
        replaced (same ring id) wherever it is held. A changed tick or lot size re-registers
        its subscriptions at the new scales, its book withdrawn and synced again; a halt or
        delisting is only logged (the venue ends its streams, or resumes them)."""
        state.catalog = catalog
        for symbol, held in list(state.instruments.items()):
            record = catalog.find(symbol)
            instrument = (dataclasses.replace(record, id=held.id) if record is not None
                          else dataclasses.replace(held, status=Status.DELISTED))  # dropped
            if instrument == held:
                continue
            self.by_id[held.id] = state.instruments[symbol] = instrument
            subscriptions = self._rebind(held, instrument)
            notes = []
            if instrument.status is not held.status and instrument.status is not Status.TRADING:
                notes.append(f"now {instrument.status}")
            change = scale_change(held, instrument)
            if change:
                notes.append(f"instrument changed: {change}; its streams resync")
            if notes:
                log.warning("%s %s: %s", name, symbol, "; ".join(notes))
            if change and self.running and state.pool is not None:
                await state.pool.replace(subscriptions, f"instrument changed: {change}")

    def _rebind(self, held: Instrument, instrument: Instrument) -> list[Subscription]:
        """Points the handles of ``held`` at its new record; returns their subscriptions."""
        subscriptions = []
        for handles in self.handles.values():
            sub = handles[0].subscription
            if sub.instrument != held:
                continue
            sub = dataclasses.replace(sub, instrument=instrument)
            for handle in handles:
                handle.subscription = sub
            subscriptions.append(sub)
        return subscriptions

    def _pool(self, state: VenueState) -> ConnectionPool:
        if state.pool is None:
            base, cap, reset_after = self.backoff
            state.pool = ConnectionPool(
                state.adapter, self.rings, on_batch=self._on_batch, on_status=self._on_status,
                backoff_factory=lambda: Backoff(base, cap, reset_after),
                handshake_timeout=self.handshake_timeout, verify_tls=self.verify_tls,
                recorder=self.recorder)
        return state.pool

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resolves the subscriptions made before the catalogs were at hand, then dials:
        raises ``UnknownSymbolError`` (or ``CatalogUnavailableError``) before any socket is
        opened."""
        if self.running:
            return
        # private streams name instruments the venue's way: their events get the unified
        # symbols from the catalog, so the catalogs of the accounts' venues are loaded too
        errors = await self._resolve(also=[name for name, state in self.venues.items()
                                           if state.accounts])
        if errors:
            raise errors[0][1]
        self.running = True
        if any(state.catalog is not None for state in self.venues.values()):
            # kept apart from pending_tasks, which wait_connected waits out: it never ends
            self.refresh_task = asyncio.get_running_loop().create_task(self._refresh_catalogs())
        by_venue: dict[str, list[Subscription]] = defaultdict(list)
        for handles in self.handles.values():
            by_venue[handles[0].exchange].append(handles[0].subscription)
        for exchange, subs in by_venue.items():
            await self._pool(self.venues[exchange]).add(subs)
        for state in self.venues.values():
            for account in state.accounts.values():
                self._start_account(account)

    async def stop(self) -> None:
        """Closes every connection and awaits every task the FeedHandler started."""
        self.running = False
        for server in self.metrics_servers:
            await server.close()
        self.metrics_servers.clear()
        tasks = [*self.pending_tasks, *([self.refresh_task] if self.refresh_task else [])]
        self.refresh_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for state in self.venues.values():
            if state.pool is not None:
                await state.pool.stop()
                state.pool = None
            for account in state.accounts.values():
                if account.connection is not None:
                    self.accounts.pop(account.connection, None)
                    await account.connection.stop()
                    account.connection = None
            await state.adapter.close()
        if self.recorder is not None:
            self.recorder.close()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Returns once every subscription made so far, before or after the start, is carried
        by a connected socket (subscriptions replayed, outbox flushed). Raises
        ``ConnectTimeout`` naming each venue still unconnected after ``timeout`` seconds with
        its last error, and ``AuthError`` as soon as a venue refuses an account's
        credentials."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    while self.pending_tasks:    # subscription changes made since the start
                        await asyncio.wait(list(self.pending_tasks))
                    waits = [asyncio.ensure_future(connection.wait_connected())
                             for connection in self._connections()]
                    try:
                        for connected in asyncio.as_completed(waits):
                            await connected
                    finally:
                        for waiting in waits:
                            waiting.cancel()
                    if not self.unresolved:
                        break
                    await asyncio.sleep(CATALOG_POLL)    # a catalog still to load
        except TimeoutError:
            raise ConnectTimeout(timeout or 0.0, self._unconnected()) from None

    def _connections(self, state: VenueState | None = None) -> list[Connection]:
        """Every connection, public and private (of one venue with ``state``)."""
        connections = []
        for each in self.venues.values() if state is None else (state,):
            if each.pool is not None:
                connections += each.pool.connections
            connections += [account.connection for account in each.accounts.values()
                            if account.connection is not None]
        return connections

    def _unconnected(self) -> dict[str, str]:
        """Each venue with a connection that is not up or a subscription not yet placed on
        one, and why (the last error of each such connection)."""
        found: dict[str, list[str]] = defaultdict(list)
        for name, state in self.venues.items():
            found[name] += [describe_down(connection)
                            for connection in self._connections(state)
                            if not connection.ready.is_set()]
        for handles in self.handles.values():
            sub = handles[0].subscription
            pool = self.venues[sub.instrument.venue].pool
            if pool is None or pool.connection_of(sub) is None:
                found[sub.instrument.venue].append(
                    f"{sub.instrument.symbol} {sub.channel}: not yet placed on a connection")
        for handle, symbol in self.unresolved:
            cause = self.catalog_errors.get(handle.exchange)
            found[handle.exchange].append(
                f"{symbol} {handle.channel}: its instrument catalog is not loaded"
                + (f" ({cause})" if cause else ""))
        return {name: "; ".join(errors) for name, errors in found.items() if errors}

    async def __aenter__(self) -> FeedHandler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def run(self, duration: float | None = None, connect_timeout: float = 30.0) -> None:
        """Runs on uvloop until ``duration`` seconds passed (or forever, until Ctrl-C).
        Raises ``ConnectTimeout`` (each venue and its last error) when a venue has not
        connected within ``connect_timeout`` seconds, or by the end of a shorter
        ``duration``; ``AuthError`` as soon as a venue refuses an account's credentials."""
        import uvloop

        async def main() -> None:
            async with self:
                deadline = (None if duration is None
                            else asyncio.get_running_loop().time() + duration)
                await self.wait_connected(connect_timeout if duration is None
                                          else min(duration, connect_timeout))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        await self.auth_failed.wait()
                if self.auth_errors:
                    raise self.auth_errors[0]

        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(main())

    async def events(self) -> AsyncIterator[Event]:
        """Events of subscriptions made without a callback, in arrival order."""
        while True:
            yield await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    def book(self, exchange: str, symbol: str) -> OrderBook:
        """The live book; check ``book.valid`` (False while it is being resynced)."""
        state = self.venues.get(exchange)
        instrument = None
        if state is not None:
            record = state.catalog.find(symbol) if state.catalog is not None else None
            instrument = state.instruments.get(record.symbol if record else symbol)
        for handles in self.handles.values() if instrument else ():   # RINGS_ONLY ones too
            handle = handles[0]
            if handle.channel is not Channel.BOOK or handle.subscription.instrument != instrument:
                continue
            pool = state.pool if state else None
            connection = pool.connection_of(handle.subscription) if pool else None
            book = connection.book(handle.subscription) if connection else None
            if book is not None:
                return book
        raise KeyError(f"no order book subscription for {exchange} {symbol}")

    def connection(self, handle: Handle) -> Connection | None:
        """The connection carrying ``handle``'s subscription (None before start): its stats,
        decoder and listener, which replay and benchmarks feed recorded frames to."""
        state = self.venues.get(handle.exchange)
        pool = state.pool if state else None
        return pool.connection_of(handle.subscription) if pool else None

    def metrics(self) -> Metrics:
        """Counters and latency histograms per venue, connection and channel, plus totals,
        since the start or the last ``reset_metrics()`` (see ``feedhandler.metrics``)."""
        return snapshot.since(snapshot.read(self, self.latencies), self.metrics_baseline)

    def reset_metrics(self) -> None:
        """``metrics()`` counts from now on; the Prometheus endpoint's counters keep growing
        (counters there never go back)."""
        self.metrics_baseline = snapshot.read(self, self.latencies)

    async def serve_metrics(self, host: str = "127.0.0.1", port: int = 9108) -> MetricsServer:
        """Serves ``GET /metrics`` in the Prometheus text format until ``stop()`` (or the
        returned server's ``close()``); ``port=0`` picks a free port (``server.port``).
        aiohttp is imported only here, for those who serve."""
        from feedhandler.metrics.prometheus import MetricsServer
        server = await MetricsServer.start(self, host, port)
        self.metrics_servers.append(server)
        return server

    def stats(self) -> dict[str, Any]:
        return {
            "latency": merged(latency.receive_to_callback
                              for record in self.latencies.records.values()
                              for latency in record.channels.values()).summary(),
            "overruns": self.overruns,
            "dropped_events": self.dropped_events,
            "callback_errors": self.callback_errors,
            "connections": {name: state.pool.stats() if state.pool else []
                            for name, state in self.venues.items()},
            "private": {name: [a.connection.stats() for a in state.accounts.values()
                               if a.connection is not None]
                        for name, state in self.venues.items() if state.accounts},
        }

    # ---- delivery --------------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.pending_tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.pending_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("feedhandler task failed", exc_info=task.exception())

    def _deliver(self, handles: Sequence[Handle], event: Event) -> None:
        for handle in handles:
            callback = handle.callback
            if callback is RINGS_ONLY:
                continue
            if callback is None:
                try:
                    self.queue.put_nowait(event)
                except asyncio.QueueFull:
                    self.dropped_events += 1
                continue
            try:
                callback(event)  # type: ignore[operator]
            except Exception:
                self.callback_errors += 1
                log.exception("callback for %s %s failed", handle.exchange, handle.symbol)

    def _new_rows(self, channel: Channel,
                  exchange_to_receive: LatencyHistogram) -> list[dict[str, list[Any]]]:
        """The rows written since the last delivery, as Python lists (one conversion per
        column, not per value), their exchange → receive latencies recorded in one C call;
        an overrun is counted and logged, never passed over."""
        reader = self.readers[channel]
        batches = []
        while reader.pending:
            try:
                batch = reader.read()
            except RingOverrun as overrun:
                self.overruns += overrun.lost
                log.error("%s ring overrun: %d rows lost before delivery", channel, overrun.lost)
                continue
            columns = batch.columns
            exchange_to_receive.record_deltas(columns["ts_receive"], columns["ts_exchange"])
            batches.append({name: column.tolist() for name, column in columns.items()})
        return batches

    def _on_batch(self, connection: Connection, flags: int) -> None:
        for batch_callback in self.batch_callbacks:
            try:
                batch_callback(flags)
            except Exception:
                self.callback_errors += 1
                log.exception("batch callback failed")
        record = self.latencies.of(connection)
        if flags & TRADES:
            latency = record.trades
            for rows in self._new_rows(Channel.TRADES, latency.exchange_to_receive):
                for (instrument, ts_exchange, ts_receive, price, size, side, trade_id,
                     inexact) in zip(
                        rows["instrument"], rows["ts_exchange"], rows["ts_receive"],
                        rows["price"], rows["size"], rows["side"], rows["trade_id"],
                        rows["inexact"], strict=True):
                    handles = self.by_instrument.get((Channel.TRADES, instrument))
                    if handles:
                        event: Event = Trade(self.by_id[instrument], price, size,
                                             SIDES[side], trade_id, ts_exchange, ts_receive,
                                             bool(inexact))
                        latency.receive_to_callback.record_since(ts_receive)
                        self._deliver(handles, event)
        if flags & TICKERS:
            latency = record.ticker
            for rows in self._new_rows(Channel.TICKER, latency.exchange_to_receive):
                for (instrument, ts_exchange, ts_receive, bid, bid_size, ask, ask_size, last,
                     inexact) in zip(
                        rows["instrument"], rows["ts_exchange"], rows["ts_receive"],
                        rows["bid_price"], rows["bid_size"], rows["ask_price"],
                        rows["ask_size"], rows["last_price"], rows["inexact"], strict=True):
                    handles = self.by_instrument.get((Channel.TICKER, instrument))
                    if handles:
                        event = Ticker(self.by_id[instrument], bid, bid_size, ask,
                                       ask_size, last, ts_exchange, ts_receive, bool(inexact))
                        latency.receive_to_callback.record_since(ts_receive)
                        self._deliver(handles, event)
        if flags & CANDLES:
            latency = record.ohlcv
            for rows in self._new_rows(Channel.OHLCV, latency.exchange_to_receive):
                for (instrument, ts_exchange, ts_receive, open_time, interval, open_, high, low,
                     close, volume, closed, inexact) in zip(
                        rows["instrument"], rows["ts_exchange"], rows["ts_receive"],
                        rows["open_time"], rows["interval"], rows["open"], rows["high"],
                        rows["low"], rows["close"], rows["volume"], rows["closed"],
                        rows["inexact"], strict=True):
                    handles = self.by_instrument.get((Channel.OHLCV, instrument))
                    if handles:
                        event = Candle(self.by_id[instrument], interval, open_time,
                                       open_, high, low, close, volume, bool(closed),
                                       ts_exchange, ts_receive, bool(inexact))
                        latency.receive_to_callback.record_since(ts_receive)
                        self._deliver(handles, event)
        if flags & BOOKS:
            for slot in connection.decoder.take_dirty():
                self._book_event(connection, slot, BookStatus.LIVE, False, "", record.book)
        if flags & PRIVATE:
            account = self.accounts.get(connection)
            if account is not None:
                self._private_events(account, record.private)

    def _private_handles(self, account: Account, channel: Channel,
                         symbol: str) -> list[Handle]:
        return [h for h in account.handles if h.channel is channel
                and h.subscription.instrument.venue_symbol in (ACCOUNT, symbol)]

    def _symbol(self, exchange: str, instrument: int,
                venue_symbol: str) -> tuple[str, Instrument | None]:
        """The unified symbol of a private row: its subscribed instrument's, else the
        catalog's for the venue's symbol (the venue's own when the catalog lacks it)."""
        if instrument >= 0:
            known = self.by_id[instrument]
            return known.symbol, known
        catalog = self.venues[exchange].catalog
        listed = catalog.find(venue_symbol) if catalog is not None else None
        return (listed.symbol if listed is not None else venue_symbol), None

    def _private_events(self, account: Account, latency: ChannelLatency) -> None:
        """The rows this account's socket read wrote (the private readers are drained after
        every read, so the pending rows are all this connection's)."""
        exchange = account.exchange
        for rows in self._new_rows(Channel.ORDERS, latency.exchange_to_receive):
            for i, raw_symbol in enumerate(rows["symbol"]):
                venue_symbol = raw_symbol.decode()
                handles = self._private_handles(account, Channel.ORDERS, venue_symbol)
                if not handles:
                    continue
                symbol, instrument = self._symbol(exchange, rows["instrument"][i], venue_symbol)
                latency.receive_to_callback.record_since(rows["ts_receive"][i])
                self._deliver(handles, Order(
                    exchange, symbol, instrument, rows["order_id"][i].decode(),
                    rows["client_id"][i].decode(), SIDES[rows["side"][i]],
                    ORDER_STATUSES[rows["status"][i]], rows["price"][i], rows["size"][i],
                    rows["filled"][i], rows["last_price"][i], rows["last_size"][i],
                    rows["fee"][i], rows["fee_asset"][i].decode(), rows["price_scale"][i],
                    rows["size_scale"][i], rows["fee_scale"][i], rows["sequence"][i],
                    rows["ts_exchange"][i], rows["ts_receive"][i], bool(rows["inexact"][i])))
        for rows in self._new_rows(Channel.BALANCE, latency.exchange_to_receive):
            handles = self._private_handles(account, Channel.BALANCE, ACCOUNT)
            for i, asset in enumerate(rows["asset"]):
                if handles:
                    latency.receive_to_callback.record_since(rows["ts_receive"][i])
                    free, locked, total, delta = (
                        wide_units(rows[f"{name}_high"][i], rows[name][i])
                        for name in ("free", "locked", "total", "delta"))
                    self._deliver(handles, Balance(
                        exchange, asset.decode(), free, locked, total, delta,
                        bool(rows["has_totals"][i]),
                        rows["scale"][i], rows["ts_exchange"][i], rows["ts_receive"][i],
                        bool(rows["inexact"][i])))
        for rows in self._new_rows(Channel.POSITIONS, latency.exchange_to_receive):
            for i, raw_symbol in enumerate(rows["symbol"]):
                venue_symbol = raw_symbol.decode()
                handles = self._private_handles(account, Channel.POSITIONS, venue_symbol)
                if not handles:
                    continue
                symbol, instrument = self._symbol(exchange, rows["instrument"][i], venue_symbol)
                latency.receive_to_callback.record_since(rows["ts_receive"][i])
                self._deliver(handles, Position(
                    exchange, symbol, instrument, rows["side"][i], rows["amount"][i],
                    rows["entry_price"][i], rows["unrealized_pnl"][i], rows["price_scale"][i],
                    rows["size_scale"][i], rows["pnl_scale"][i], rows["ts_exchange"][i],
                    rows["ts_receive"][i], bool(rows["inexact"][i])))

    def _on_status(self, connection: Connection, event: StatusEvent) -> None:
        if event.kind is StatusKind.AUTH_FAILED:
            if connection.auth_error is not None:
                self.auth_errors.append(connection.auth_error)
            self.auth_failed.set()
        elif event.kind is StatusKind.BOOK_INVALID:
            self._book_event(connection, event.slot, BookStatus.INVALID, False, event.reason)
        elif event.kind is StatusKind.BOOK_RESYNCED:
            self.latencies.of(connection).book_live(event.slot)
            connection.decoder.take_dirty()
            self._book_event(connection, event.slot, BookStatus.LIVE, True, "")
        elif event.kind is StatusKind.BOOK_SYNC_FAILED:
            self._book_event(connection, event.slot, BookStatus.INVALID, False,
                             f"sync failed: {event.reason}")
        elif event.kind is StatusKind.SUBSCRIPTION_REFUSED and event.subscription is not None:
            self._refused(event.subscription, event.reason)

    def _refused(self, subscription: Subscription, reason: str) -> None:
        """Ends every handle of a subscription the venue refused; the pool forgets it (and
        closes a connection it leaves empty)."""
        error = SubscriptionRefused(subscription, reason)
        self.refusals.append(error)
        for handle in self.handles.get(subscription.key, ()):
            handle.refused = error
            self.unsubscribe(handle)

    def _book_event(self, connection: Connection, slot: int, status: BookStatus,
                    resynced: bool, reason: str, latency: ChannelLatency | None = None) -> None:
        """Delivers a book's state; ``latency`` (an update's, not a status change's) gets
        its exchange → receive and receive → callback times."""
        subscription = connection.book_subscriptions.get(slot)
        if subscription is None:
            return
        handles = self.handles.get(subscription.key)
        book = connection.decoder.book(slot)
        if not handles or book is None:
            return
        if status is BookStatus.LIVE and not book.valid:
            return
        event = BookUpdate.capture(subscription.instrument, book, status, resynced, reason)
        if latency is not None and book.ts_receive:
            if book.ts_exchange:
                latency.exchange_to_receive.record(book.ts_receive - book.ts_exchange)
            latency.receive_to_callback.record_since(book.ts_receive)
        self._deliver(handles, event)
