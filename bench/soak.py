"""Soak: every venue at once through its simulator, with random faults, for N messages.

One FeedHandler carries every registered venue (books, trades, tickers and candles of two
symbols each), the simulators publish as fast as it reads, and a fault from the matrix's
columns goes into a random venue every ``--fault-every`` messages. After the warm-up, at ten
checkpoints and at the end the markets stop and every book must equal its simulator's true
book once it has caught up (a book still differing after ``--settle`` seconds is a wrong
book). Resident memory (VmRSS, VmHWM from /proc/self/status) and open file descriptors
(/proc/self/fd) are read at the start (after the warm-up), the middle and the end; the
simulators run in the same process, with bounded histories and no closed connection kept.
Beside VmRSS, malloc's chunks in use and free and Python's allocated blocks say where a growth
is. Exits 1 on a wrong book, or when VmRSS grew by more than ``--max-rss-growth`` MB.

    PYTHONPATH=. python bench/soak.py --messages 10000000 [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import uvloop
from rich.console import Console

from feedhandler.api import RINGS_ONLY, FeedHandler
from feedhandler.cli.output import Column, format_count, print_line, print_table
from feedhandler.sim.matrix import (
    FAULTS,
    SYMBOLS,
    Fault,
    Rig,
    Settings,
    configure_adapter,
    endpoint_options,
    venue_plans,
)
from feedhandler.sim.server import SimulatedExchange, UnsupportedFault
from feedhandler.sim.testing import until
from feedhandler.sim.venues import create_venue

SOAK_FAULTS = ("gap", "checksum", "malformed", "oversize", "drop", "close 1000", "close 1001",
               "close 1011", "close 1013", "close 4000", "stall", "slow handshake")
"""The matrix's faults that need no quiet market or new subscriptions."""
CHECKPOINTS = 10
KEEPALIVE_SETTLE = 0.2      # s for a simulator to close its side of a closed HTTP connection
SIM_HISTORY = 4096             # level changes each simulated book keeps for past snapshots
CANDLE_TIMEFRAME = "1m"        # when the venue has it, else its first
STEPS_PER_ROUND = 64           # market steps a simulator publishes between yields
POLL = 0.2                     # seconds between looks at the message count


class MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2``: what malloc holds, in use and free (main arena)."""
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _mallinfo() -> MallInfo2 | None:
    """None off glibc (or before 2.33, which added ``mallinfo2``)."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return None
    mallinfo2.restype = MallInfo2
    info: MallInfo2 = mallinfo2()
    return info


@dataclass(frozen=True)
class Memory:
    """Resident memory split so that growth can be placed: Python's own allocations
    (``sys.getallocatedblocks``), malloc's chunks in use, malloc's free chunks (freed memory it
    has not returned to the kernel), and everything else resident."""
    label: str
    messages: int
    rss_kb: int
    hwm_kb: int
    fds: int
    python_blocks: int
    malloc_used_kb: int | None
    malloc_free_kb: int | None

    @classmethod
    def read(cls, label: str, messages: int) -> Memory:
        gc.collect()
        fields: dict[str, int] = {}
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
        info = _mallinfo()
        return cls(label, messages, fields["VmRSS"], fields["VmHWM"],
                   len(os.listdir("/proc/self/fd")), sys.getallocatedblocks(),
                   None if info is None else (info.uordblks + info.hblkhd) // 1024,
                   None if info is None else info.fordblks // 1024)


@dataclass
class Soak:
    rigs: list[Rig]
    fh: FeedHandler
    rng: random.Random
    settings: Settings
    faults: Counter[str]
    unsupported: Counter[str]
    publishing: asyncio.Event

    def messages(self) -> int:
        return sum(connection["messages"] for connections in self.fh.stats()["connections"]
                   .values() for connection in connections)

    async def publish(self, sim: SimulatedExchange) -> None:
        """Moves ``sim``'s market as fast as its clients read, while ``publishing`` is set."""
        while True:
            await self.publishing.wait()
            sim.advance(STEPS_PER_ROUND)
            for conn in sim.connections:
                if conn.paused:   # set again when it drains or disconnects
                    await conn.wait_writable()
            await asyncio.sleep(0)

    async def inject(self, faults: Sequence[Fault]) -> None:
        rig = self.rng.choice(self.rigs)
        fault = self.rng.choice(faults)
        try:
            await fault.inject(rig)
        except UnsupportedFault:
            self.unsupported[fault.name] += 1
            return
        self.faults[fault.name] += 1

    async def checkpoint(self) -> list[str]:
        """Stops the markets and waits until every book equals its true book; returns those
        that still differ after ``settings.wait``."""
        self.publishing.clear()
        await asyncio.sleep(0.05)

        def wrong() -> list[str]:
            return [f"{rig.name} {problem}" for rig in self.rigs for problem in rig.wrong_books()]

        with contextlib.suppress(TimeoutError):
            await until(lambda: not wrong(), self.settings.wait)
        found = wrong()
        self.publishing.set()
        return found


@dataclass
class Outcome:
    memory: list[Memory]
    wrong: list[str]
    faults: Counter[str]
    unsupported: Counter[str]
    served: dict[str, Counter[str]]                 # venue -> book updates by kind
    connections: dict[str, list[dict[str, Any]]]    # venue -> its connections' stats at the end
    elapsed: float


async def read_memory(fh: FeedHandler, label: str, messages: int) -> Memory:
    """``Memory.read`` once the adapters' idle REST sessions are closed (each reopens on its
    next request) and the simulators have seen it: HTTP keep-alive sockets come and go with
    REST snapshots and their idle timeout, so without this the descriptor count would follow
    that timing rather than a leak."""
    for state in fh.venues.values():
        await state.adapter.close()
    await asyncio.sleep(KEEPALIVE_SETTLE)
    return Memory.read(label, messages)


async def soak(messages: int, seed: int, fault_every: int, settle: float,
               warm_up: int) -> Outcome:
    settings = Settings(wait=settle)
    plans = await venue_plans()
    async with contextlib.AsyncExitStack() as stack:
        sims = [await stack.enter_async_context(SimulatedExchange(
            create_venue(plan.simulator, plan.market, [*plan.venue_symbols.values()]),
            seed=seed + index, rate=None, keepalive=None, frames_per_write=32,
            history=SIM_HISTORY, keep_connections=0))
            for index, plan in enumerate(plans)]
        fh = FeedHandler(endpoints={plan.info.name: endpoint_options(plan, sim, settings)
                                    for plan, sim in zip(plans, sims, strict=True)},
                         backoff_base=settings.backoff_base, backoff_cap=settings.backoff_cap,
                         handshake_timeout=settings.handshake_timeout)
        rigs = [Rig(plan, sim, fh, settings, record=False)
                for plan, sim in zip(plans, sims, strict=True)]
        for rig in rigs:
            info = rig.plan.info
            timeframe = CANDLE_TIMEFRAME if CANDLE_TIMEFRAME in info.timeframes \
                else info.timeframes[0]
            for symbol in SYMBOLS:
                rig.subscribe_book(symbol)
                fh.subscribe_trades(rig.name, symbol, RINGS_ONLY)
                fh.subscribe_ticker(rig.name, symbol, RINGS_ONLY)
                fh.subscribe_ohlcv(rig.name, symbol, timeframe, RINGS_ONLY)
            configure_adapter(rig.adapter, settings)
        run = Soak(rigs, fh, random.Random(seed), settings, Counter(), Counter(),
                   asyncio.Event())
        faults = [fault for fault in FAULTS if fault.name in SOAK_FAULTS]
        await stack.enter_async_context(fh)
        await until(lambda: all(rig.served["resynced"] >= len(rig.books) for rig in rigs),
                    settle)
        publishers = [asyncio.create_task(run.publish(sim)) for sim in sims]
        wrong: list[str] = []
        try:
            run.publishing.set()
            await until(lambda: run.messages() >= warm_up, math.inf)
            wrong += await run.checkpoint()
            first = run.messages()
            memory = [await read_memory(fh, "start", first)]
            started = time.monotonic()
            total = first + messages
            next_fault = first + fault_every
            checkpoints = 0
            while (count := run.messages()) < total:
                await asyncio.sleep(POLL)
                if count >= next_fault:
                    await run.inject(faults)
                    next_fault = count + fault_every
                if count - first >= (checkpoints + 1) * messages // CHECKPOINTS:
                    checkpoints += 1
                    wrong += await run.checkpoint()
                    if checkpoints == CHECKPOINTS // 2:
                        memory.append(await read_memory(fh, "middle", run.messages()))
            elapsed = time.monotonic() - started
            wrong += await run.checkpoint()
            memory.append(await read_memory(fh, "end", run.messages()))
            connections = {name: list(stats)
                           for name, stats in fh.stats()["connections"].items()}
        finally:
            for task in publishers:
                task.cancel()
            await asyncio.gather(*publishers, return_exceptions=True)
        return Outcome(memory, wrong, run.faults, run.unsupported,
                       {rig.name: rig.served for rig in rigs}, connections, elapsed)


def report(console: Console, outcome: Outcome, max_growth_mb: float) -> int:
    memory, wrong = outcome.memory, outcome.wrong
    start, end = memory[0], memory[-1]
    received = end.messages - start.messages
    every = [c for cs in outcome.connections.values() for c in cs]
    def mb(kb: int | None) -> str:
        return "n/a" if kb is None else f"{kb / 1024:.1f}"

    print_table(console, "soak: memory and file descriptors",
                [Column("at"), Column("messages", "right"), Column("VmRSS MB", "right"),
                 Column("VmHWM MB", "right"), Column("malloc in use MB", "right"),
                 Column("malloc free MB", "right"), Column("Python blocks", "right"),
                 Column("open fds", "right")],
                [(m.label, format_count(m.messages), mb(m.rss_kb), mb(m.hwm_kb),
                  mb(m.malloc_used_kb), mb(m.malloc_free_kb), format_count(m.python_blocks),
                  str(m.fds)) for m in memory])
    print_table(console, "soak: per venue",
                [Column("venue"), Column("messages", "right"), Column("resyncs", "right"),
                 Column("withdrawals", "right"), Column("reconnects", "right"),
                 Column("decode errors", "right")],
                [(name, format_count(sum(c["messages"] for c in stats)),
                  str(outcome.served[name]["resynced"]), str(outcome.served[name]["invalid"]),
                  str(sum(c["reconnects"] for c in stats)),
                  str(sum(c["decoder"]["errors"] for c in stats)))
                 for name, stats in outcome.connections.items()])
    growth_mb = (end.rss_kb - start.rss_kb) / 1024
    print_line(console, f"messages {format_count(received)} after a warm-up of "
               f"{format_count(start.messages)}, in {outcome.elapsed:.0f} s "
               f"({received / max(outcome.elapsed, 1e-9):,.0f} msg/s)")
    print_line(console, f"faults injected {sum(outcome.faults.values())}: "
               + ", ".join(f"{k} {v}" for k, v in sorted(outcome.faults.items()))
               + (f" (n/a draws skipped: {dict(outcome.unsupported)})"
                  if outcome.unsupported else ""))
    resyncs = sum(served["resynced"] for served in outcome.served.values())
    print_line(console, f"resyncs {resyncs} (books served again from a snapshot, the first "
               f"sync of each included), reconnects {sum(c['reconnects'] for c in every)}, "
               f"decode errors {sum(c['decoder']['errors'] for c in every)}")
    for problem in wrong:
        print_line(console, f"WRONG BOOK {problem}", "bold red")
    print_line(console, f"wrong books {len(wrong)} at {CHECKPOINTS + 2} checkpoints",
               "bold red" if wrong else "bold green")
    flat = growth_mb <= max_growth_mb
    print_line(console, f"VmRSS start -> end {growth_mb:+.1f} MB (limit {max_growth_mb:g} MB); "
               f"open fds {start.fds} -> {end.fds}", "bold green" if flat else "bold red")
    return 0 if not wrong and flat else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000,
                        help="messages to receive over all venues (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-every", type=int, default=20_000, metavar="N",
                        help="messages between faults (default: %(default)s)")
    parser.add_argument("--settle", type=float, default=30.0, metavar="SECONDS",
                        help="how long a book may take to catch up at a checkpoint")
    parser.add_argument("--warm-up", type=int, default=200_000, metavar="N",
                        help="messages received before the start reading, so that the "
                        "simulators' bounded histories and the allocator have settled")
    parser.add_argument("--max-rss-growth", type=float, default=4.0, metavar="MB")
    args = parser.parse_args(argv)
    outcome = uvloop.run(soak(args.messages, args.seed, args.fault_every, args.settle,
                              args.warm_up))
    return report(Console(), outcome, args.max_rss_growth)


if __name__ == "__main__":
    sys.exit(main())
