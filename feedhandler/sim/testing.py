"""Helpers for tests and demos of the simulated exchanges: a picows WebSocket listener that
records everything a server sends, a minimal HTTP GET over asyncio streams, a market pump and a
condition poller. The clients do no protocol work of their own, so tests see exactly what the
simulator put on the wire."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from feedhandler.cli.demo import compare_book
from feedhandler.events import BookStatus, BookUpdate

if TYPE_CHECKING:
    from feedhandler.api import FeedHandler
    from feedhandler.sim.server import SimulatedExchange

TIMEOUT = 5.0
CONDITION_TIMEOUT = 10.0
"""How long ``until`` waits: a resync after a fault takes several round trips and a backoff."""


async def until(predicate: Callable[[], object], timeout: float = CONDITION_TIMEOUT) -> None:
    """Waits, polling every 10 ms, until ``predicate()`` is true; TimeoutError after ``timeout``."""
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


def healed(updates: list[BookUpdate]) -> bool:
    """The book was withdrawn, and served again (resynced) after its last withdrawal."""
    invalid = [i for i, u in enumerate(updates) if u.status is BookStatus.INVALID]
    return bool(invalid) and any(u.resynced for u in updates[invalid[-1]:])


def assert_nothing_served_while_invalid(updates: list[BookUpdate]) -> None:
    """At least one withdrawal healed, and every withdrawal is followed by INVALID events only
    up to the LIVE resynced event that ends it (one at shutdown has no such end)."""
    ends = 0
    for start, update in enumerate(updates):
        if update.status is not BookStatus.INVALID:
            continue
        end = next((i for i in range(start, len(updates)) if updates[i].resynced), len(updates))
        assert all(u.status is BookStatus.INVALID for u in updates[start:end]), start
        if end < len(updates):
            assert updates[end].status is BookStatus.LIVE
            ends += 1
    assert ends, "no withdrawal of the book was followed by a resync"


def record_books(fh: FeedHandler, venue: str, symbols: Iterable[str],
                 depth: int | None = None) -> dict[str, list[BookUpdate]]:
    """Subscribes each symbol's book on ``venue``: the updates each is served, in order."""
    updates: dict[str, list[BookUpdate]] = {symbol: [] for symbol in symbols}
    for symbol, received in updates.items():
        fh.subscribe_order_book(venue, symbol, received.append, depth=depth)
    return updates


def synced(books: Mapping[str, list[BookUpdate]]) -> bool:
    """Every book has been served, the first update being its (re)sync."""
    return all(updates and updates[0].resynced for updates in books.values())


async def books_equal_the_true_books(fh: FeedHandler, sim: SimulatedExchange, venue: str,
                                     pairs: Mapping[str, str]) -> None:
    """With publishing stopped, every book (``pairs``: symbol -> venue symbol) catches up with
    the simulator's."""
    await until(lambda: all(compare_book(fh.book(venue, symbol), sim, pair) == ""
                            for symbol, pair in pairs.items()))


@contextlib.asynccontextmanager
async def pumping(sim: SimulatedExchange, steps: int = 5,
                  period: float = 0.005) -> AsyncIterator[None]:
    """Publishes ``steps`` market steps every ``period`` seconds until the block ends."""
    async def pump() -> None:
        while True:
            sim.advance(steps)
            await asyncio.sleep(period)
    task = asyncio.create_task(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class RawClient(WSListener):
    """Records text payloads, pings, pongs and the close frame a server sends; gzip'd BINARY
    payloads are inflated into ``texts`` too, and counted in ``binary_frames``."""

    def __init__(self) -> None:
        super().__init__()
        self.transport: WSTransport | None = None
        self.texts: asyncio.Queue[bytes] = asyncio.Queue()
        self.pongs: asyncio.Queue[bytes] = asyncio.Queue()
        self.pings: list[bytes] = []
        self.binary_frames = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self.disconnected = asyncio.Event()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            self.texts.put_nowait(frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.BINARY:
            self.binary_frames += 1
            self.texts.put_nowait(gzip.decompress(frame.get_payload_as_bytes()))
        elif frame.msg_type is WSMsgType.PING:
            self.pings.append(frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.PONG:
            self.pongs.put_nowait(frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.CLOSE:
            self.close_code = frame.get_close_code().value
            self.close_reason = frame.get_close_reason()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.disconnected.set()

    def send_json(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, json.dumps(message).encode())

    async def next_text(self, timeout: float = TIMEOUT) -> bytes:
        return await asyncio.wait_for(self.texts.get(), timeout)

    async def next_json(self, timeout: float = TIMEOUT) -> Any:
        return json.loads(await self.next_text(timeout))

    async def next_matching(self, predicate: Callable[[Any], bool],
                            timeout: float = TIMEOUT) -> Any:
        """The next JSON message satisfying ``predicate``, skipping market data in between."""
        async def find() -> Any:
            while True:
                message = json.loads(await self.texts.get())
                if predicate(message):
                    return message
        return await asyncio.wait_for(find(), timeout)

    async def reply_to(self, request_id: object, timeout: float = TIMEOUT) -> Any:
        return await self.next_matching(
            lambda m: isinstance(m, dict) and "id" in m and m["id"] == request_id, timeout)

    async def wait_disconnected(self, timeout: float = TIMEOUT) -> Exception | None:
        """Wait for the connection to end; return the client-side error that ended it, if any."""
        assert self.transport is not None
        try:
            await asyncio.wait_for(self.transport.wait_disconnected(), timeout)
        except TimeoutError:
            raise
        except Exception as exc:
            return exc
        return None

    def drain(self) -> list[bytes]:
        payloads = []
        while not self.texts.empty():
            payloads.append(self.texts.get_nowait())
        return payloads


async def connect(url: str, **options: Any) -> RawClient:
    _, client = await ws_connect(RawClient, url, **options)
    assert isinstance(client, RawClient)
    return client


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def http_get(url: str, timeout: float = TIMEOUT) -> HttpReply:
    """GET ``url`` (http://127.0.0.1:port/path?query) and read the reply until the server closes."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpReply(int(status_line.split()[1]), headers, body)
