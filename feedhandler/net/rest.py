"""REST snapshots over aiohttp: retried politely, never hammering a venue.

aiohttp is the dependency here because book synchronisation needs a well-behaved async HTTP
client (connection reuse, TLS verification, timeouts) and writing one is not this project's job.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Mapping

import aiohttp

from feedhandler.auth.redact import redact
from feedhandler.net.backoff import Backoff


class RestError(RuntimeError):
    """A REST request that failed after its retries; the status and body say why (secrets
    and query values redacted)."""

    def __init__(self, url: str, status: int, body: str, method: str = "GET") -> None:
        self.status = status
        self.body = body
        super().__init__(redact(f"{method} {url} -> {status}: {body[:200]}"))


MAX_RETRY_AFTER = 60.0      # seconds: a venue's Retry-After beyond this is not waited for


def retry_after_seconds(value: str | None) -> float:
    """``Retry-After`` in seconds, within [0, MAX_RETRY_AFTER]: a venue's header must not be
    able to park the sync forever (``inf``, ``1e12``) or break it (an HTTP date, garbage)."""
    try:
        seconds = float(value or 0)
    except ValueError:
        return 0.0
    return min(seconds, MAX_RETRY_AFTER) if math.isfinite(seconds) and seconds > 0 else 0.0


class RestClient:
    """One session per venue; ``get`` retries 429/418/5xx and network errors with backoff,
    waiting at least what ``Retry-After`` asks (up to ``MAX_RETRY_AFTER``). A response body
    longer than ``max_body_size`` is refused, not buffered."""

    def __init__(self, *, verify_tls: bool = True, timeout: float = 10.0, retries: int = 4,
                 backoff: Backoff | None = None, max_body_size: int = 16 << 20) -> None:
        self.verify_tls = verify_tls
        self.max_body_size = max_body_size
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retries = retries
        self.backoff = backoff or Backoff(base=0.25, cap=8.0)
        self.session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.retried = 0

    async def get(self, url: str, params: Mapping[str, str | int] | None = None) -> bytes:
        return await self.request("GET", url, params)

    async def request(self, method: str, url: str,
                      params: Mapping[str, str | int] | None = None,
                      headers: Mapping[str, str] | None = None,
                      data: bytes | str | None = None) -> bytes:
        """Any method; ``headers`` (API keys) are sent but never appear in a RestError;
        ``data`` is the request body (Kraken's form-encoded signed POSTs)."""
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                async with self._session().request(method, url, params=params,
                                                   headers=headers, data=data) as response:
                    body = await self._read(response)
                    if body is None:
                        raise RestError(url, response.status, "response body exceeds "
                                        f"max_body_size {self.max_body_size}", method)
                    if response.status == 200:
                        return body
                    retryable = response.status in (418, 429) or response.status >= 500
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                    error = RestError(url, response.status, body.decode("utf-8", "replace"),
                                      method)
            except (TimeoutError, aiohttp.ClientError) as exc:
                retryable, retry_after = True, 0.0
                error = RestError(url, 0, f"{type(exc).__name__}: {exc}", method)
            if not retryable or attempt > self.retries:
                raise error
            self.retried += 1
            await asyncio.sleep(max(retry_after, self.backoff.next_delay()))

    async def _read(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The body, or None once it grows past ``max_body_size``."""
        body = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > self.max_body_size:
                return None
        return bytes(body)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            context: ssl.SSLContext | bool = (
                ssl.create_default_context() if self.verify_tls else False)
            self.session = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(ssl=context))
        return self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
