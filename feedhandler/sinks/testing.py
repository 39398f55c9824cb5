"""Helpers for tests and demos of the sinks: a real redis-server on 127.0.0.1 (a free port,
its own directory, an append-only file fsynced on every write so that whatever Redis
acknowledged survives ``restart``, which kills it outright and starts it again on the same port
and directory), a FeedHandler subscribed to the simulated Binance, synthetic trade batches and
the true book a snapshot must equal."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from feedhandler.api import RINGS_ONLY, FeedHandler
from feedhandler.core.rings import TradeRing
from feedhandler.exchanges.base import Channel, Instrument
from feedhandler.sim import SimulatedExchange
from feedhandler.sinks.base import MARKET_CHANNELS, Batch

REDIS_SERVER = shutil.which("redis-server")
START_TIMEOUT = 10.0


REDIS_CLI = shutil.which("redis-cli")
CLUSTER_BUS_OFFSET = 10_000     # a cluster node also listens on its port + 10000


def free_port(below: int = 65_536) -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port < below:
            return port


class RedisServer:
    def __init__(self, directory: Path, options: Sequence[str] = (),
                 port: int | None = None) -> None:
        self.directory = directory
        self.options = tuple(options)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--protected-mode", "yes", "--logfile", "redis.log",
             *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited ({self.process.returncode}): {log}")
            if self.ping():
                return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def ping(self) -> bool:
        """PING answered (+PONG, or -NOAUTH with a password set), not -LOADING while the
        append-only file is read back."""
        with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


class RedisClusterServers:
    """A Redis Cluster of ``size`` masters on 127.0.0.1 (no replicas), made with
    ``redis-cli --cluster create``."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.nodes = []
        for index in range(size):
            folder = directory / f"node{index}"
            folder.mkdir(parents=True, exist_ok=True)
            self.nodes.append(RedisServer(folder, ("--cluster-enabled", "yes",
                                                   "--cluster-config-file", "nodes.conf",
                                                   "--appendonly", "no"),
                                          port=free_port(below=65_536 - CLUSTER_BUS_OFFSET)))

    @property
    def port(self) -> int:
        return self.nodes[0].port

    def start(self) -> None:
        assert REDIS_CLI is not None
        for node in self.nodes:
            node.start()
        subprocess.run([REDIS_CLI, "--cluster", "create",
                        *(f"127.0.0.1:{node.port}" for node in self.nodes),
                        "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + START_TIMEOUT
        while not all(self.state_ok(node) for node in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    @staticmethod
    def state_ok(node: RedisServer) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", node.port), timeout=0.5) as conn:
            conn.sendall(b"CLUSTER INFO\r\n")
            return b"cluster_state:ok" in conn.recv(4096)
        return False

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


VENUE = "binance"
SYMBOLS = {"BTC-USDT": "BTCUSDT", "ETH-USDT": "ETHUSDT"}
INSTRUMENTS = [Instrument(0, VENUE, "BTC-USDT", "BTCUSDT", "spot", 2, 6),
               Instrument(1, VENUE, "ETH-USDT", "ETHUSDT", "spot", 2, 5)]


def subscribed_handler(exchange: SimulatedExchange, *, ring_capacity: int = 1 << 16,
                       channels: tuple[Channel, ...] = MARKET_CHANNELS) -> FeedHandler:
    """Every channel of both symbols, into the rings only."""
    fh = FeedHandler(endpoints={VENUE: {"ws_url": exchange.ws_url,
                                        "rest_url": exchange.http_url}},
                     backoff_base=0.05, backoff_cap=0.2, ring_capacity=ring_capacity)
    for symbol in SYMBOLS:
        if Channel.TRADES in channels:
            fh.subscribe_trades(VENUE, symbol, RINGS_ONLY)
        if Channel.TICKER in channels:
            fh.subscribe_ticker(VENUE, symbol, RINGS_ONLY)
        if Channel.OHLCV in channels:
            fh.subscribe_ohlcv(VENUE, symbol, "1m", RINGS_ONLY)
        if Channel.BOOK in channels:
            fh.subscribe_order_book(VENUE, symbol, RINGS_ONLY)
    return fh


def trade_batch(ring: TradeRing, count: int, first_id: int = 1) -> Batch:
    """``count`` trades alternating between the two INSTRUMENTS, as the runner would pass."""
    reader = ring.reader()
    for k in range(count):
        ring.append(k % 2, 1_700_000_000_000_000_000 + k * 1_000_000,
                    1_700_000_000_000_000_000 + k * 1_000_000 + 500, 6_700_012 + k, 1_500 + k,
                    1 if k % 3 else -1, first_id + k)
    rows = reader.read()
    return Batch(Channel.TRADES, rows.start, rows.copy())


def true_top(exchange: SimulatedExchange, venue_symbol: str, sequence: int,
             depth: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """The simulator's best ``depth`` levels per side right after update ``sequence``."""
    spec = exchange.market.instrument(venue_symbol)
    tick, lot = Decimal(spec.tick_size), Decimal(spec.lot_size)
    bids, asks = exchange.market.book_at(venue_symbol, sequence).top(depth)
    return ([(p * tick, s * lot) for p, s in bids], [(p * tick, s * lot) for p, s in asks])
