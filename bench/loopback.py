"""End-to-end loopback benchmark: Binance trades from a flood server to a user batch callback.

Why: the decode benchmark (bench/decode.py) times the parser alone; users get what the whole
path delivers: socket read -> picows framing -> FeedListener -> simdjson decoder -> numpy ring ->
the Python callback once per socket read. This runs that path against a server in another
process and, in the same run, the usual Python stack (``websockets`` + ``orjson.loads`` +
``float(p)``, ``float(q)`` per message) on the same server and stream.

Clients:
  feedhandler   ``feedhandler.net.Connection`` (the layer under ``FeedHandler``; the FeedHandler
                offers no per-read hook) with the Binance adapter; its ``on_batch`` callback runs
                once per socket read and reads the new rows of the trade ring as numpy views.
  fh-events     ``FeedHandler.subscribe_trades(callback)``: one ``Trade`` object and one Python
                call per message (what the per-event API costs; flood only).
  websockets    ``websockets`` asyncio client, ``recv(decode=False)``, ``orjson.loads``,
                ``float(p)``, ``float(q)`` per message.
All clients run on uvloop in this process; the server runs in a spawned process.

Latency (see ``LEGEND``): receive->callback is measured inside the client process against each
library's own receive point; send->callback uses the server's CLOCK_REALTIME stamp taken just
before it wrote the frame (paced phase only), so it also covers the kernel and the framing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib.util
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server
from websockets.asyncio.client import connect as websockets_connect

if importlib.util.find_spec("feedhandler") is None:  # a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feedhandler.api import FeedHandler
from feedhandler.core.decoder import Decoded
from feedhandler.core.rings import CandleRing, RingOverrun, TickerRing, TradeRing
from feedhandler.events import Trade
from feedhandler.exchanges.base import Channel, Instrument, Rings, Subscription
from feedhandler.exchanges.registry import venue
from feedhandler.instruments import Catalog
from feedhandler.instruments.loader import cache_path, source_of, write_cache
from feedhandler.net.connection import Connection

HOST = "127.0.0.1"
NO_REST = f"http://{HOST}:1"       # the flood server serves WebSocket only
FIRST_ID = 4_000_000_000  # trade ids of every stream run FIRST_ID, FIRST_ID + 1, ...
BASE_MS = 1_700_000_000_000
FRAMES_PER_WRITE = 1000
RING_CAPACITY = 1 << 18  # > any one socket read (the kernel buffer holds ~40k frames)
PR_SET_TIMERSLACK = 29
TRADES = int(Decoded.TRADES)  # an IntFlag '&' costs ~0.7 us; a plain int ~15 ns

LEGEND = """\
Clients (uvloop, this process; the server is a spawned process writing pre-built frames):
  feedhandler   feedhandler.net.Connection (the layer under FeedHandler, which has no per-read
                hook) + Binance adapter; on_batch once per socket read reads the new trade-ring
                rows as numpy views (ids copied and checked, latencies, size summed)
  fh-events     FeedHandler.subscribe_trades(callback): a Trade object and a call per message
  websockets    websockets asyncio client, recv(decode=False), orjson.loads, float(p), float(q)
What the numbers measure:
  msg/s         flood phase: messages / (callback time at the last message - receive time of the
                first message); the server writes {frames} frames per write, as fast as TCP takes
  CPU us/msg    this process's getrusage (user + sys) over that same window / messages;
                srv us/msg: the server process's, from the SUBSCRIBE to its last write
  busy          that CPU time / wall time (under 100%: waiting for data, or preempted)
  preempt       involuntary context switches in the window (another job took our core)
  recv->cb      per message: time.time_ns() when the user code starts with the row in hand
                minus the receive stamp (both CLOCK_REALTIME). feedhandler: the stamp the
                Cython listener takes as picows hands it the frame (after the socket read and
                frame parsing, before decoding) vs the start of on_batch; covers decode, the
                rest of that read's frames and the Python dispatch. websockets: when recv()
                returns the message to the loop iteration vs after orjson.loads + float(p),
                float(q); websockets' own framing and queueing happen before its stamp.
  send->cb      paced phase only: the server's time.time_ns() just before writing the frame
                (one frame per write) vs the same callback-start time; covers the kernel,
                framing and the event loop too, the same span for every client
  flood p50/p99 recv->cb in the flood phase, where one read holds thousands of frames
  rows/read     messages per callback (socket read) for feedhandler; 1 for per-message APIs
"""


# ---- the stream ------------------------------------------------------------------------------


def trade_payload(seq: int) -> bytes:
    """The ``seq``-th trade (0-based): distinct id, price and size; ~130 B of ``data``."""
    price_cents = 2_500_000 + (seq * 7919) % 1_000_000
    size_lots = 1 + (seq * 104_729) % 99_999_999
    ms = BASE_MS + seq // 50
    return (
        b'{"stream":"btcusdt@trade","data":{"e":"trade","E":%d,"s":"BTCUSDT","t":%d,'
        b'"p":"%d.%02d000000","q":"0.%08d","T":%d,"m":%s,"M":true}}'
        % (
            ms + 1,
            FIRST_ID + seq,
            price_cents // 100,
            price_cents % 100,
            size_lots,
            ms,
            b"true" if seq & 1 else b"false",
        )
    )


def server_frame(payload: bytes) -> bytes:
    """An unmasked, final TEXT frame as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def flood_chunks(count: int) -> list[bytes]:
    """The whole flood, pre-framed and joined ``FRAMES_PER_WRITE`` frames per write."""
    return [
        b"".join(
            [
                server_frame(trade_payload(seq))
                for seq in range(start, min(start + FRAMES_PER_WRITE, count))
            ]
        )
        for start in range(0, count, FRAMES_PER_WRITE)
    ]


# ---- the server process ----------------------------------------------------------------------


class FloodSession(WSListener):
    """One client: answers SUBSCRIBE, then floods or paces the pre-built stream.

    The end marker is the last trade itself: its id, FIRST_ID + count - 1, is known to the
    client. The session then waits for the client to close (the server's lifetime bounds it).
    """

    def __init__(self, server: FloodServer, mode: str, tag: str) -> None:
        super().__init__()
        self.server = server
        self.mode = mode
        self.tag = tag
        self.transport: WSTransport | None = None
        self.raw: Any = None
        self.started = False
        self.paused = False
        self.writable = asyncio.Event()
        self.writable.set()
        self.next_chunk = 0
        self.cpu_start = (0.0, 0.0)
        self.reported = False
        self.closed = asyncio.Event()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.raw = transport.underlying_transport

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed.set()
        self.writable.set()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if frame.msg_type != WSMsgType.TEXT or self.started:
            return
        request = orjson.loads(frame.get_payload_as_bytes())
        if request.get("method") != "SUBSCRIBE" or request.get("params") != ["btcusdt@trade"]:
            return
        self.started = True
        transport.send(WSMsgType.TEXT, orjson.dumps({"result": None, "id": request.get("id")}))
        self.cpu_start = cpu_times()
        if self.mode == "flood":
            self.pump()
        else:
            self.server.spawn(self.pace())

    def pause_writing(self) -> None:
        self.paused = True
        self.writable.clear()

    def resume_writing(self) -> None:
        self.paused = False
        self.writable.set()
        if self.mode == "flood":
            self.pump()

    def pump(self) -> None:
        """Writes chunks until the transport asks to pause (resume_writing calls again)."""
        chunks = self.server.chunks
        while not self.paused and self.next_chunk < len(chunks) and not self.closed.is_set():
            self.raw.write(chunks[self.next_chunk])
            self.next_chunk += 1
        if self.next_chunk == len(chunks) and not self.reported:
            self.report(stamps=None)

    async def pace(self) -> None:
        """One frame per write at ``rate``; stamps each write just before it."""
        frames = self.server.paced_frames
        stamps = [0] * len(frames)
        interval = 1.0 / self.server.rate
        start = time.perf_counter() + 0.001
        for i, frame in enumerate(frames):
            due = start + i * interval
            delay = due - time.perf_counter()
            if delay > 0.002:
                await asyncio.sleep(delay - 0.001)
                delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if self.paused:
                await self.writable.wait()
            if self.closed.is_set():
                return
            stamps[i] = time.time_ns()
            self.raw.write(frame)
        self.report(stamps=stamps)

    def report(self, stamps: list[int] | None) -> None:
        """Server CPU from SUBSCRIBE to the last write, and the paced write stamps."""
        user, system = cpu_times()
        self.reported = True
        self.server.results.send(
            {
                "tag": self.tag,
                "cpu_user": user - self.cpu_start[0],
                "cpu_sys": system - self.cpu_start[1],
                "stamps": stamps,
            }
        )


@dataclass
class FloodServer:
    chunks: list[bytes]
    paced_frames: list[bytes]
    rate: float
    results: Pipe
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def route(self, request: WSUpgradeRequest) -> FloodSession | None:
        # /<mode>/<tag>/stream: the Binance adapter appends /stream to the ws_url we give it
        parts = request.path.decode("latin-1").strip("/").split("/")
        if len(parts) != 3 or parts[0] not in ("flood", "paced") or parts[2] != "stream":
            return None
        return FloodSession(self, parts[0], parts[1])

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def cpu_times() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def fine_timer_slack() -> None:
    """1 us timer slack (default 50 us) so the paced sender's short sleeps are near exact."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0)


def serve(messages: int, paced: int, rate: float, lifetime: float, control: Pipe) -> None:
    """The server process: builds every frame up front, then serves until told to stop."""
    fine_timer_slack()
    chunks = flood_chunks(messages)
    paced_frames = [server_frame(trade_payload(seq)) for seq in range(paced)]
    uvloop.run(serve_until_stopped(FloodServer(chunks, paced_frames, rate, control), lifetime))


async def serve_until_stopped(server: FloodServer, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    listening = await ws_create_server(
        server.route, HOST, 0, max_frame_size=1 << 16, websocket_handshake_timeout=5
    )
    stop = asyncio.Event()
    loop.add_reader(server.results.fileno(), stop.set)  # "stop" or the parent's end (EOF)
    server.results.send({"port": listening.sockets[0].getsockname()[1]})
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), lifetime)
    loop.remove_reader(server.results.fileno())
    listening.close()
    for task in server.tasks:
        task.cancel()


class ServerProcess:
    """The flood server in a spawned process; results of each session come back tagged."""

    def __init__(self, messages: int, paced: int, rate: float, lifetime: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=serve,
            args=(messages, paced, rate, lifetime, child),
            daemon=True,
            name="loopback-server",
        )
        self.process.start()
        child.close()
        self.port = int(self.receive(timeout=60)["port"])
        self.sessions = 0

    def receive(self, timeout: float) -> dict[str, Any]:
        if not self.pipe.poll(timeout):
            raise TimeoutError("the loopback server did not answer")
        return self.pipe.recv()

    def url(self, mode: str) -> tuple[str, str]:
        """A new session tag and the base URL that routes to it."""
        self.sessions += 1
        tag = f"s{self.sessions}"
        return tag, f"ws://{HOST}:{self.port}/{mode}/{tag}"

    def result(self, tag: str, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            message = self.receive(timeout)
            if message.get("tag") == tag:
                return message

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.pipe.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# ---- measurements ----------------------------------------------------------------------------


@dataclass
class Phase:
    """What one client measured in one phase; ``callback_ns`` is per message, by sequence."""

    client: str
    mode: str
    count: int
    wall_ns: int
    cpu_user: float
    cpu_sys: float
    preempted: int  # involuntary context switches: another job took our core
    latency_ns: np.ndarray
    callback_ns: np.ndarray
    reads: int
    server_cpu: float = 0.0
    sent_rate: float = float("nan")  # paced: what the server achieved
    send_to_callback_ns: np.ndarray | None = None

    @property
    def rate(self) -> float:
        return self.count / (self.wall_ns / 1e9)

    @property
    def cpu_us_per_msg(self) -> float:
        return (self.cpu_user + self.cpu_sys) / self.count * 1e6

    def percentile_us(self, q: float, send: bool = False) -> float:
        values = self.send_to_callback_ns if send else self.latency_ns
        if values is None or not len(values):
            return float("nan")
        return float(np.percentile(values, q)) / 1e3


class Recorder:
    """Bookkeeping shared by the clients: ids in arrival order, latencies, CPU window."""

    def __init__(self, count: int) -> None:
        self.count = count
        # written now so that page faults do not land in the measured window
        self.ids = np.full(count, -1, dtype=np.int64)
        self.latency = np.full(count, -1, dtype=np.int64)
        self.callback_ns = np.full(count, -1, dtype=np.int64)
        self.received = 0
        self.reads = 0
        self.first_receive_ns = 0
        self.last_ns = 0
        self.usage_start = self.usage_end = resource.getrusage(resource.RUSAGE_SELF)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def start(self, receive_ns: int) -> None:
        self.first_receive_ns = receive_ns
        self.usage_start = resource.getrusage(resource.RUSAGE_SELF)

    def finish(self) -> None:
        self.last_ns = time.time_ns()
        self.usage_end = resource.getrusage(resource.RUSAGE_SELF)
        if not self.done.done():
            self.done.set_result(None)

    def record(self, ids: list[int], latency: list[int], callback_ns: list[int]) -> None:
        """Per-message clients fill Python lists (cheaper per item than numpy) and hand over."""
        self.ids[:] = ids
        self.latency[:] = latency
        self.callback_ns[:] = callback_ns
        self.received = self.reads = len(ids)

    def fail(self, reason: str) -> None:
        if not self.done.done():
            self.done.set_exception(AssertionError(reason))

    def verify(self, client: str) -> None:
        """No loss, no duplicate, no reordering: ids are exactly FIRST_ID.. in order."""
        expected = np.arange(FIRST_ID, FIRST_ID + self.count, dtype=np.int64)
        assert self.received == self.count, f"{client}: {self.received} of {self.count} messages"
        if not np.array_equal(self.ids, expected):
            bad = int(np.flatnonzero(self.ids != expected)[0])
            raise AssertionError(
                f"{client}: message {bad} has id {self.ids[bad]}, expected {expected[bad]}"
            )

    def phase(self, client: str, mode: str) -> Phase:
        start, end = self.usage_start, self.usage_end
        return Phase(
            client,
            mode,
            self.count,
            self.last_ns - self.first_receive_ns,
            end.ru_utime - start.ru_utime,
            end.ru_stime - start.ru_stime,
            end.ru_nivcsw - start.ru_nivcsw,
            self.latency,
            self.callback_ns,
            self.reads,
        )


class RingConsumer(Recorder):
    """The batch user: called once per socket read, reads the new ring rows as numpy views."""

    def __init__(self, ring: TradeRing, count: int) -> None:
        super().__init__(count)
        self.reader = ring.reader()
        self.volume = 0

    def on_batch(self, connection: Connection, flags: int) -> None:
        now = time.time_ns()
        if not flags & TRADES or self.done.done():
            return
        self.reads += 1
        reader = self.reader
        while reader.pending:
            try:
                columns = reader.read().columns
            except RingOverrun as overrun:
                self.fail(f"ring overrun: {overrun.lost} rows lost")
                return
            ids = columns["trade_id"]
            received = self.received
            n = len(ids)
            if received + n > self.count:
                self.fail(f"more than {self.count} trades")
                return
            if received == 0:
                self.start(int(columns["ts_receive"][0]))
            end = received + n
            self.ids[received:end] = ids
            np.subtract(now, columns["ts_receive"], out=self.latency[received:end])
            self.callback_ns[received:end] = now
            self.volume += int(columns["size"].sum())
            self.received = end
        if self.received == self.count:
            self.finish()


class EventConsumer(Recorder):
    """The per-event user: ``FeedHandler.subscribe_trades`` calls it with one Trade each."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.trade_ids: list[int] = []
        self.latencies: list[int] = []
        self.callbacks: list[int] = []

    def on_trade(self, trade: Trade) -> None:
        now = time.time_ns()
        n = len(self.trade_ids)
        if n == self.count:
            return
        if n == 0:
            self.start(trade.ts_receive)
        self.trade_ids.append(trade.trade_id)
        self.latencies.append(now - trade.ts_receive)
        self.callbacks.append(now)
        if n + 1 == self.count:
            self.finish()
            self.record(self.trade_ids, self.latencies, self.callbacks)


def cache_loopback_instrument() -> None:
    """The flood server serves no instrument metadata: its one instrument (at the decimals
    its frames carry) is cached, in a directory of this run's, for the REST base it lacks."""
    os.environ["FEEDHANDLER_CACHE_DIR"] = tempfile.mkdtemp(prefix="fh-loopback-")
    record = Instrument(-1, "binance", "BTC-USDT", "BTCUSDT", "spot", 8, 8, base="BTC",
                        quote="USDT", tick_size=Decimal("1e-8"), lot_size=Decimal("1e-8"))
    write_cache(cache_path("binance", source_of("binance"), NO_REST),
                Catalog("binance", [record], time.time()))


def binance_instrument(adapter: Any) -> Instrument:
    return Instrument(
        0,
        "binance",
        "BTC-USDT",
        adapter.venue_symbol("BTC-USDT"),
        adapter.market,
        8,      # the decimals the loopback's frames carry
        8,
    )


async def run_feedhandler(base_url: str, count: int, timeout: float) -> RingConsumer:
    """The Connection layer with the real Binance adapter, decoder and listener."""
    adapter = venue("binance").create(ws_url=base_url, rest_url=NO_REST)
    rings = Rings(TradeRing(RING_CAPACITY), TickerRing(2), CandleRing(2))
    consumer = RingConsumer(rings.trades, count)
    subscription = Subscription(Channel.TRADES, binance_instrument(adapter))
    connection = Connection(
        adapter, rings, [subscription], on_batch=consumer.on_batch, handshake_timeout=5.0
    )
    connection.start()
    try:
        await asyncio.wait_for(asyncio.shield(consumer.done), timeout)
    finally:
        await connection.stop()
        await adapter.close()
    assert connection.callback_errors == 0, "the batch callback raised"
    return consumer


async def run_fh_events(base_url: str, count: int, timeout: float) -> EventConsumer:
    """The public per-event API: FeedHandler turns each ring row into a Trade and calls back."""
    consumer = EventConsumer(count)
    cache_loopback_instrument()
    fh = FeedHandler(
        endpoints={"binance": {"ws_url": base_url, "rest_url": NO_REST}},
        ring_capacity=RING_CAPACITY,
        handshake_timeout=5.0,
    )
    fh.subscribe_trades("binance", "BTC-USDT", consumer.on_trade)
    async with fh:
        await asyncio.wait_for(asyncio.shield(consumer.done), timeout)
    assert fh.callback_errors == 0 and fh.overruns == 0, fh.stats()
    return consumer


async def run_websockets(base_url: str, count: int, timeout: float) -> Recorder:
    """The usual stack: one await, one orjson.loads and two float() per message."""
    recorder = Recorder(count)
    loads = orjson.loads
    time_ns = time.time_ns
    ids: list[int] = []
    latency: list[int] = []
    callback_ns: list[int] = []
    async with asyncio.timeout(timeout):
        async with websockets_connect(
            base_url + "/stream", compression=None, max_size=1 << 20
        ) as ws:
            await ws.send(b'{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}', text=True)
            reply = loads(await ws.recv(decode=False))
            assert reply == {"result": None, "id": 1}, reply
            recv = ws.recv
            last_price = volume = 0.0
            for i in range(count):
                raw = await recv(decode=False)
                received = time_ns()
                data = loads(raw)["data"]
                price = float(data["p"])
                size = float(data["q"])
                now = time_ns()
                if i == 0:
                    recorder.start(received)
                last_price = price
                volume += size
                ids.append(data["t"])
                latency.append(now - received)
                callback_ns.append(now)
            recorder.finish()
    assert last_price > 0 and volume > 0
    recorder.record(ids, latency, callback_ns)
    return recorder


Client = Callable[[str, int, float], Any]
CLIENTS: dict[str, Client] = {
    "feedhandler": run_feedhandler,
    "fh-events": run_fh_events,
    "websockets": run_websockets,
}


def run_phase(server: ServerProcess, client: str, mode: str, count: int) -> Phase:
    tag, base_url = server.url(mode)
    timeout = 20.0 + count / 20_000
    recorder = uvloop.run(CLIENTS[client](base_url, count, timeout))
    recorder.verify(client)
    phase = recorder.phase(client, mode)
    result = server.result(tag)
    phase.server_cpu = result["cpu_user"] + result["cpu_sys"]
    if result["stamps"] is not None:
        stamps = np.asarray(result["stamps"], np.int64)
        phase.send_to_callback_ns = phase.callback_ns - stamps
        phase.sent_rate = (len(stamps) - 1) / max(1, stamps[-1] - stamps[0]) * 1e9
    return phase


# ---- report ----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def summarize(runs: list[dict[str, Phase]]) -> dict[str, dict[str, float]]:
    """Median over runs of each client's figures."""
    table: dict[str, dict[str, float]] = {}
    for name in runs[0]:
        phases = [run[name] for run in runs]
        table[name] = {
            "rate": median([p.rate for p in phases]),
            "cpu": median([p.cpu_us_per_msg for p in phases]),
            "cpu_user": median([p.cpu_user / p.count * 1e6 for p in phases]),
            "cpu_sys": median([p.cpu_sys / p.count * 1e6 for p in phases]),
            "busy": median([(p.cpu_user + p.cpu_sys) / (p.wall_ns / 1e9) for p in phases]),
            "preempted": median([p.preempted for p in phases]),
            "server_cpu": median([p.server_cpu / p.count * 1e6 for p in phases]),
            "rows_per_read": median([p.count / p.reads for p in phases]),
            "p50": median([p.percentile_us(50) for p in phases]),
            "p99": median([p.percentile_us(99) for p in phases]),
            "send_p50": median([p.percentile_us(50, send=True) for p in phases]),
            "send_p99": median([p.percentile_us(99, send=True) for p in phases]),
            "sent_rate": median([p.sent_rate for p in phases]),
        }
    return table


def print_report(args: argparse.Namespace, runs: list[dict[str, Phase]]) -> None:
    table = summarize(runs)
    print(LEGEND.format(frames=FRAMES_PER_WRITE))
    print(f"flood: {args.messages:,} messages, median of {len(runs)} run(s)")
    header = (
        f"{'client':<12} {'msg/s':>10} {'CPU us/msg':>10} {'usr/sys':>11} {'busy':>5} "
        f"{'preempt':>7} {'srv us/msg':>10} {'rows/read':>9} "
        f"{'recv->cb p50 us':>15} {'p99 us':>9}"
    )
    print(header)
    print("-" * len(header))
    for client in CLIENTS:
        row = table.get(f"{client}/flood")
        if row is not None:
            print(
                f"{client:<12} {row['rate']:>10,.0f} {row['cpu']:>10.3f} "
                f"{row['cpu_user']:>5.2f}/{row['cpu_sys']:<5.2f} {row['busy']:>5.0%} "
                f"{row['preempted']:>7.0f} {row['server_cpu']:>10.3f} "
                f"{row['rows_per_read']:>9.1f} {row['p50']:>15.1f} {row['p99']:>9.1f}"
            )
    if len(runs) > 1:
        for k, run in enumerate(runs, 1):
            print(
                f"  run {k}: "
                + ", ".join(
                    f"{phase.client} {phase.rate:,.0f} msg/s"
                    for key, phase in run.items()
                    if key.endswith("/flood")
                )
            )
    if args.paced:
        print(
            f"\npaced: {args.paced:,} messages at {args.rate:,.0f} msg/s asked, one frame per "
            f"write, median of {len(runs)} run(s)"
        )
        header = (
            f"{'client':<12} {'sent msg/s':>10} {'rows/read':>9} {'recv->cb p50 us':>15} "
            f"{'p99 us':>9} {'send->cb p50 us':>15} {'p99 us':>9} {'CPU us/msg':>10} "
            f"{'usr/sys':>11} {'preempt':>7}"
        )
        print(header)
        print("-" * len(header))
        for client in CLIENTS:
            row = table.get(f"{client}/paced")
            if row is not None:
                print(
                    f"{client:<12} {row['sent_rate']:>10,.0f} {row['rows_per_read']:>9.2f} "
                    f"{row['p50']:>15.1f} {row['p99']:>9.1f} {row['send_p50']:>15.1f} "
                    f"{row['send_p99']:>9.1f} {row['cpu']:>10.2f} "
                    f"{row['cpu_user']:>5.1f}/{row['cpu_sys']:<5.1f} {row['preempted']:>7.0f}"
                )
    fh = table["feedhandler/flood"]
    base = table["websockets/flood"]
    paced = table.get("feedhandler/paced", {"p50": float("nan"), "p99": float("nan")})
    print(
        f"loopback: {fh['rate'] / 1e3:.0f} k msg/s (baseline {base['rate'] / 1e3:.0f} k), "
        f"p50 {paced['p50']:.1f} us, p99 {paced['p99']:.1f} us"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="flood messages")
    parser.add_argument("--paced", type=int, default=20_000, help="paced messages (0: skip)")
    parser.add_argument("--rate", type=float, default=20_000.0, help="paced msg/s")
    parser.add_argument("--runs", type=int, default=3, help="report the median of K runs")
    parser.add_argument(
        "--no-events",
        action="store_true",
        help="skip the FeedHandler per-event (Trade object) client",
    )
    args = parser.parse_args(argv)
    if args.messages < 1 or args.paced < 0 or args.rate <= 0 or args.runs < 1:
        parser.error("--messages >= 1, --paced >= 0, --rate > 0, --runs >= 1")
    flood_clients = ["feedhandler", "websockets"] + ([] if args.no_events else ["fh-events"])
    lifetime = 60.0 + args.runs * (args.messages / 10_000 + 2 * args.paced / args.rate)
    started = time.perf_counter()
    server = ServerProcess(args.messages, args.paced, args.rate, lifetime)
    try:
        runs: list[dict[str, Phase]] = []
        for k in range(args.runs):
            run: dict[str, Phase] = {}
            # alternate who goes first so a drift in machine load does not favour one client
            order = flood_clients if k % 2 == 0 else flood_clients[::-1]
            for client in order:
                run[f"{client}/flood"] = run_phase(server, client, "flood", args.messages)
            if args.paced:
                for client in ("feedhandler", "websockets")[:: 1 if k % 2 == 0 else -1]:
                    run[f"{client}/paced"] = run_phase(server, client, "paced", args.paced)
            runs.append(run)
    finally:
        server.stop()
    print(f"(total {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    print_report(args, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
