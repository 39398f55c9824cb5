"""RestClient against a local HTTP server: a body past max_body_size is refused without being
buffered whole, and a venue's Retry-After cannot park or break the retry loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from feedhandler.net.backoff import Backoff
from feedhandler.net.rest import MAX_RETRY_AFTER, RestClient, RestError, retry_after_seconds


class Server:
    """Answers every GET with ``status`` and ``body`` (chunked when ``chunked``)."""

    def __init__(self, status: int, body: bytes, headers: str = "", chunked: bool = False):
        self.status, self.body, self.headers, self.chunked = status, body, headers, chunked
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.requests += 1
        head = f"HTTP/1.1 {self.status} X\r\nConnection: close\r\n{self.headers}"
        if self.chunked:
            writer.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode())
            for start in range(0, len(self.body), 1 << 16):
                chunk = self.body[start:start + (1 << 16)]
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(f"{head}Content-Length: {len(self.body)}\r\n\r\n".encode() + self.body)
        await writer.drain()
        writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[object]:
    servers: list[asyncio.Server] = []

    async def start(server: Server) -> str:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        servers.append(listening)
        return f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/depth"

    yield start
    for listening in servers:
        listening.close()


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_past_the_limit_is_refused(serve, chunked: bool) -> None:
    server = Server(200, b"[" + b"1," * 300_000 + b"1]", chunked=chunked)
    client = RestClient(max_body_size=100_000)
    try:
        with pytest.raises(RestError, match="exceeds max_body_size 100000"):
            await client.get(await serve(server))
        assert server.requests == 1, "a refused body is not retried"
        small = Server(200, b'{"lastUpdateId":1}')
        assert await client.get(await serve(small)) == b'{"lastUpdateId":1}'
    finally:
        await client.close()


@pytest.mark.parametrize(("header", "seconds"), [
    ("2", 2.0), ("inf", 0.0), ("nan", 0.0), ("-5", 0.0), ("1e12", MAX_RETRY_AFTER),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), (None, 0.0)])
def test_retry_after_is_bounded(header: str | None, seconds: float) -> None:
    assert retry_after_seconds(header) == seconds


async def test_an_infinite_retry_after_does_not_park_the_retries(serve) -> None:
    server = Server(429, b"slow down", headers="Retry-After: inf\r\n")
    client = RestClient(retries=2, backoff=Backoff(base=0.01, cap=0.02))
    try:
        with pytest.raises(RestError, match="429"):
            await asyncio.wait_for(client.get(await serve(server)), 5.0)
        assert server.requests == 3
    finally:
        await client.close()
