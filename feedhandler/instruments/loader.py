"""Loading a venue's catalog: from its own metadata endpoint, cached on disk.

A cached catalog younger than ``max_age`` is used as is; an older one is refreshed from the
venue, and used (marked ``stale``, with a warning) only when the venue cannot be reached. No
cache and no venue is ``CatalogUnavailableError`` naming the venue. The cache lives in
``$FEEDHANDLER_CACHE_DIR``, else ``$XDG_CACHE_HOME/feedhandler``, else
``~/.cache/feedhandler``: one JSON file per venue (and per non-default REST URL, so a
simulator's catalog never stands in for the venue's), versioned, with the time fetched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedhandler.auth.redact import redact
from feedhandler.exchanges.base import Instrument
from feedhandler.instruments.catalog import Catalog
from feedhandler.net.rest import RestClient, RestError

log = logging.getLogger(__name__)

CACHE_VERSION = 1
MAX_AGE = 6 * 3600.0        # s: a cached catalog younger than this is used without asking
LOAD_TIMEOUT = 20.0         # s: the most one venue's load may take (all its pages)
MAX_BODY = 64 << 20         # bytes: the largest metadata answer read (Kraken's is ~1 MB)

Fetch = Callable[[RestClient, str], Awaitable[list[Instrument]]]


@dataclass(frozen=True)
class CatalogSource:
    """Where a venue's instrument metadata comes from: its REST base and the procedure that
    reads every page of it into records (in ``exchanges/<venue>/instruments.py``)."""

    rest_url: str
    fetch: Fetch
    endpoint: str             # for messages: the path(s) asked


class CatalogUnavailableError(RuntimeError):
    """The venue's metadata endpoint could not be reached and no cached catalog exists."""

    def __init__(self, venue: str, detail: str) -> None:
        self.venue = venue
        super().__init__(redact(f"{venue}: cannot load its instruments: {detail}"))


def cache_dir() -> Path:
    explicit = os.environ.get("FEEDHANDLER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feedhandler"


def cache_path(venue: str, source: CatalogSource, rest_url: str,
               directory: Path | None = None) -> Path:
    name = venue
    if rest_url.rstrip("/") != source.rest_url.rstrip("/"):
        name += "-" + hashlib.sha256(rest_url.encode()).hexdigest()[:12]
    return (directory or cache_dir()) / f"instruments-{name}.json"


def read_cache(path: Path, venue: str) -> Catalog | None:
    """The cached catalog, None when absent, of another version or unreadable."""
    try:
        document = json.loads(path.read_bytes())
        if document.get("version") != CACHE_VERSION or document.get("venue") != venue:
            return None
        return Catalog(venue, [Instrument.from_dict(i) for i in document["instruments"]],
                       float(document["fetched"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: ignoring unreadable instrument cache %s: %s", venue, path,
                    redact(str(exc)))
        return None


def write_cache(path: Path, catalog: Catalog) -> None:
    """Written to a temporary file and renamed: a reader never sees half a catalog."""
    document = {"version": CACHE_VERSION, "venue": catalog.venue, "fetched": catalog.fetched,
                "instruments": [i.to_dict() for i in catalog]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, separators=(",", ":")))
        temporary.replace(path)
    except OSError as exc:
        log.warning("%s: cannot cache instruments in %s: %s", catalog.venue, path, exc)


def source_of(venue: str) -> CatalogSource:
    from feedhandler.exchanges.registry import venue as venue_info
    source = venue_info(venue).catalog
    if source is None:
        raise CatalogUnavailableError(venue, "no instrument metadata source for this venue")
    return source


async def fetch_catalog(venue: str, *, rest_url: str | None = None, verify_tls: bool = True,
                        timeout: float = LOAD_TIMEOUT) -> Catalog:
    """Reads the venue's metadata now (every page), within ``timeout`` seconds."""
    source = source_of(venue)
    client = RestClient(verify_tls=verify_tls, timeout=timeout, retries=2,
                        max_body_size=MAX_BODY)
    try:
        async with asyncio.timeout(timeout):
            instruments = await source.fetch(client, (rest_url or source.rest_url).rstrip("/"))
    finally:
        await client.close()
    if not instruments:
        raise ValueError(f"{venue}: the metadata endpoint listed no instruments")
    return Catalog(venue, instruments, time.time())


async def load_catalog(venue: str, *, endpoints: Mapping[str, Any] | None = None,
                       max_age: float = MAX_AGE, refresh: bool = False,
                       directory: Path | None = None, verify_tls: bool = True,
                       timeout: float = LOAD_TIMEOUT) -> Catalog:
    """The venue's catalog: the cache if younger than ``max_age`` (and not ``refresh``),
    else fetched (and cached), else the stale cache with a warning, else
    ``CatalogUnavailableError``. ``endpoints`` are the venue's FeedHandler endpoint options
    (``rest_url`` points it at a simulator)."""
    source = source_of(venue)
    rest_url = (endpoints or {}).get("rest_url") or source.rest_url
    path = cache_path(venue, source, rest_url, directory)
    cached = read_cache(path, venue)
    if cached is not None and not refresh and time.time() - cached.fetched < max_age:
        return cached
    try:
        catalog = await fetch_catalog(venue, rest_url=rest_url, verify_tls=verify_tls,
                                      timeout=timeout)
    except (RestError, TimeoutError, ValueError, KeyError, TypeError) as exc:
        detail = f"{rest_url}{source.endpoint}: {type(exc).__name__}: {exc}"
        if cached is None:
            raise CatalogUnavailableError(venue, f"{detail}; and no cached catalog in "
                                                 f"{path.parent}") from exc
        age = (time.time() - cached.fetched) / 3600
        log.warning("%s: using the cached instruments from %.1f h ago: %s", venue, age,
                    redact(detail))
        cached.stale = True
        return cached
    write_cache(path, catalog)
    return catalog


async def load_instruments(venue: str, **options: Any) -> list[Instrument]:
    """A venue's instruments without a FeedHandler (see ``load_catalog`` for ``options``)."""
    return list(await load_catalog(venue, **options))


def load_instruments_sync(venue: str, **options: Any) -> list[Instrument]:
    """``load_instruments`` for code without an event loop."""
    return asyncio.run(load_instruments(venue, **options))
