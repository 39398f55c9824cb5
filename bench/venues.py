"""Decode+apply throughput per venue and channel, on simulator-generated message streams.

Every registered venue with a simulator is measured on every channel it offers: one symbol is
subscribed over the real path (simulator on 127.0.0.1 -> picows -> FeedHandler) and brought
live; the simulator then renders the next frames for that connection without sending them,
and they are fed to the connection's own listener: the frame path (inflate for venues that
compress, simdjson decode, sequence and checksum checks, book apply, ring writes) with the
socket and the per-event callbacks left out. A figure is printed only if the stream decoded
without an error and, for books, the book equals the simulator's true book afterwards.

The floor column is the same frames through a FeedListener whose decoder only walks every
value with simdjson On-Demand (core.jsonwalk): the copy into the padded buffer, the inflate
where the venue compresses, and simdjson's parse, with no number read and no book. The index
column stops after simdjson's structural index (stage 1): the part of a message's cost no
decoder of these frames can avoid on this machine.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import uvloop

from feedhandler import RINGS_ONLY, FeedHandler
from feedhandler.api import Handle
from feedhandler.cli.demo import compare_book, endpoint_options
from feedhandler.core.jsonwalk import JsonWalkDecoder
from feedhandler.core.listener import FeedListener
from feedhandler.exchanges.base import Channel
from feedhandler.exchanges.registry import VenueInfo, venues
from feedhandler.sim import VENUES as SIMULATORS
from feedhandler.sim import SimulatedExchange, create_venue
from feedhandler.sim.market import BookUpdate
from feedhandler.sim.testing import until

SYMBOL = "BTC-USDT"
TIMEFRAME = "1m"
TARGETS = {Channel.BOOK: 1_000_000, Channel.TRADES: 4_000_000}   # msg/s per core
LEVELS_PER_DIFF = (18, 22)     # the simulator's level changes per step: ~20-level book diffs
CAPTURE_STEPS = 5_000


@dataclass
class Result:
    venue: str
    channel: Channel
    messages: int
    mean_bytes: float
    levels: float            # mean level changes per book message (0 for other channels)
    ns_per_message: float
    floor_ns: float          # the same frames, every value walked (JsonWalkDecoder)
    index_ns: float          # the same frames, structural index only
    problem: str             # why the figure is void; empty when the run checked out

    @property
    def rate(self) -> float:
        return 1e9 / self.ns_per_message

    @property
    def verdict(self) -> str:
        if self.problem:
            return f"VOID: {self.problem}"
        target = TARGETS.get(self.channel)
        if target is None:
            return ""
        return f"{'meets' if self.rate >= target else 'BELOW'} {target / 1e6:g}M"


def subscribe(fh: FeedHandler, info: VenueInfo, channel: Channel) -> Handle:
    match channel:
        case Channel.BOOK:
            return fh.subscribe_order_book(info.name, SYMBOL, lambda update: None)
        case Channel.TRADES:
            return fh.subscribe_trades(info.name, SYMBOL, RINGS_ONLY)
        case Channel.TICKER:
            return fh.subscribe_ticker(info.name, SYMBOL, RINGS_ONLY)
        case Channel.OHLCV:
            timeframe = TIMEFRAME if TIMEFRAME in info.timeframes else info.timeframes[0]
            return fh.subscribe_ohlcv(info.name, SYMBOL, timeframe, RINGS_ONLY)


class Unattended:
    """The listener's handler for the floor run: nothing is delivered, nothing may fail."""

    def on_fatal(self, reason: str) -> None:
        raise RuntimeError(f"floor run: {reason}")

    def on_batch(self, flags: int) -> None:
        pass


def floor(frames: list[bytes], compression: str, walk: bool = True) -> tuple[float, str]:
    """ns per message to walk ``frames`` (or only index them) with no decoding, and what went
    wrong if anything."""
    walker = JsonWalkDecoder(walk=walk)
    listener = FeedListener(walker, Unattended(), compression=compression)
    start = time.perf_counter_ns()
    listener.feed_many(frames, compression != "none")
    elapsed = time.perf_counter_ns() - start
    return elapsed / len(frames), f"floor: {walker.last_error}" if walker.errors else ""


async def measure(info: VenueInfo, channel: Channel, count: int, seed: int,
                  ready_timeout: float = 15.0) -> Result:
    adapter = info.create()
    await adapter.close()
    venue_symbol = adapter.venue_symbol(SYMBOL)
    simulator = create_venue(adapter.name, adapter.market, [venue_symbol])
    shape = {"changes_per_step": LEVELS_PER_DIFF} if channel is Channel.BOOK \
        else {"trade_probability": 1.0}     # a trade every step: the stream is quicker to make
    async with SimulatedExchange(simulator, seed=seed, rate=None, **shape) as exchange:
        fh = FeedHandler(endpoints={info.name: endpoint_options(info, exchange)},
                         ring_capacity=1 << 20)
        handle = subscribe(fh, info, channel)
        async with fh:
            rings = {Channel.TRADES: fh.trades, Channel.TICKER: fh.tickers,
                     Channel.OHLCV: fh.candles}

            def ready() -> bool:
                exchange.advance(1)
                if channel is Channel.BOOK:
                    return fh.book(info.name, SYMBOL).valid
                return rings[channel].write_count > 0

            await until(ready, timeout=ready_timeout)
            connection = fh.connection(handle)
            listener = connection.listener if connection else None
            if listener is None:
                raise RuntimeError(f"{info.name} {channel}: no live connection")
            sim_conn = exchange.connections[0]
            captured: list[tuple[object, bytes]] = []
            while len(captured) < count:
                captured += exchange.capture(sim_conn, min(CAPTURE_STEPS, count - len(captured)))
            frames = [frame for _event, frame in captured]
            diffs = [event for event, _frame in captured if type(event) is BookUpdate]
            levels = (sum(len(e.bids) + len(e.asks) for e in diffs) / len(diffs)
                      if channel is Channel.BOOK and diffs else 0.0)

            decoder = listener.decoder
            before = decoder.stats()
            binary = adapter.compression != "none"
            start = time.perf_counter_ns()
            listener.feed_many(frames, binary)
            elapsed = time.perf_counter_ns() - start
            after = decoder.stats()
            listener.flush()

            problems = [f"{key} +{after[key] - before[key]}"
                        for key in ("errors", "unknown", "gaps", "checksum_failures")
                        if after.get(key, 0) != before.get(key, 0)]
            if channel is Channel.BOOK:
                difference = compare_book(fh.book(info.name, SYMBOL), exchange, venue_symbol)
                problems += [difference] if difference else []
    floor_ns, floor_problem = floor(frames, adapter.compression)
    index_ns, index_problem = floor(frames, adapter.compression, walk=False)
    problems += [p for p in (floor_problem, index_problem) if p]
    return Result(info.name, channel, len(frames), sum(map(len, frames)) / len(frames), levels,
                  elapsed / len(frames), floor_ns, index_ns, "; ".join(problems))


async def run(args: argparse.Namespace) -> list[Result]:
    results = []
    for index, info in enumerate(venues()):
        entry = SIMULATORS.get(info.create().name)
        if entry is None or info.market not in entry.markets:
            print(f"{info.name}: no simulator, skipped")
            continue
        if args.venues and info.name not in args.venues:
            continue
        for channel in info.channels:
            if args.channels and channel.value not in args.channels:
                continue
            count = args.messages if channel is Channel.BOOK else args.messages * 2
            result = await measure(info, channel, count, args.seed + index, args.ready_timeout)
            print(f"{result.venue:<14}{result.channel.value:<8}{result.messages:>9}"
                  f"{result.mean_bytes:>8.0f}{result.levels:>8.1f}{result.ns_per_message:>9.0f}"
                  f"{result.rate / 1e6:>9.2f}{result.floor_ns:>8.0f}{result.index_ns:>8.0f}"
                  f"  {result.verdict}", flush=True)
            results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000,
                        help="book messages per venue (other channels get twice as many)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--venues", nargs="*", help="registry names; default all")
    parser.add_argument("--channels", nargs="*", choices=[c.value for c in Channel],
                        help="default all the venue offers")
    parser.add_argument("--ready-timeout", type=float, default=15.0,
                        help="seconds to bring the subscription live (raise under valgrind)")
    args = parser.parse_args()
    print(f"{'venue':<14}{'channel':<8}{'messages':>9}{'bytes':>8}{'levels':>8}{'ns/msg':>9}"
          f"{'M msg/s':>9}{'floor':>8}{'index':>8}  target", flush=True)
    results = uvloop.run(run(args))
    books = [r for r in results if r.channel is Channel.BOOK and not r.problem]
    trades = [r for r in results if r.channel is Channel.TRADES and not r.problem]
    void = [r for r in results if r.problem]
    slowest_book = min(books, key=lambda r: r.rate, default=None)
    slowest_trades = min(trades, key=lambda r: r.rate, default=None)
    print("venues: " + ", ".join(filter(None, [
        f"book diffs >= {slowest_book.rate / 1e6:.2f}M msg/s (slowest {slowest_book.venue})"
        if slowest_book else "",
        f"trades >= {slowest_trades.rate / 1e6:.2f}M msg/s (slowest {slowest_trades.venue})"
        if slowest_trades else "",
        f"{len(void)} VOID" if void else "",
    ])))


if __name__ == "__main__":
    main()
