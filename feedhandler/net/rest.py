"""REST snapshots over aiohttp: retried politely, never hammering a venue.

aiohttp is the dependency here because book synchronisation needs a well-behaved async HTTP
client (connection reuse, TLS verification, timeouts) and writing one is not this project's job.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping

import aiohttp

from feedhandler.net.backoff import Backoff
from feedhandler.net.redact import redact


class RestError(RuntimeError):
    """A REST request that failed after its retries; the status and body say why (secrets
    and query values redacted)."""

    def __init__(self, url: str, status: int, body: str) -> None:
        self.status = status
        super().__init__(redact(f"GET {url} -> {status}: {body[:200]}"))


class RestClient:
    """One session per venue; ``get`` retries 429/418/5xx and network errors with backoff,
    waiting at least what ``Retry-After`` asks."""

    def __init__(self, *, verify_tls: bool = True, timeout: float = 10.0, retries: int = 4,
                 backoff: Backoff | None = None) -> None:
        self.verify_tls = verify_tls
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retries = retries
        self.backoff = backoff or Backoff(base=0.25, cap=8.0)
        self.session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.retried = 0

    async def get(self, url: str, params: Mapping[str, str | int] | None = None) -> bytes:
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                async with self._session().get(url, params=params) as response:
                    body = await response.read()
                    if response.status == 200:
                        return body
                    retryable = response.status in (418, 429) or response.status >= 500
                    retry_after = float(response.headers.get("Retry-After", 0) or 0)
                    error = RestError(url, response.status, body.decode("utf-8", "replace"))
            except (TimeoutError, aiohttp.ClientError) as exc:
                retryable, retry_after = True, 0.0
                error = RestError(url, 0, f"{type(exc).__name__}: {exc}")
            if not retryable or attempt > self.retries:
                raise error
            self.retried += 1
            await asyncio.sleep(max(retry_after, self.backoff.next_delay()))

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
