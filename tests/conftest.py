"""Hypothesis profiles: CI (``CI=true``) runs every property test derandomized, so a red run
reproduces exactly, with no example database and no deadline (the 2-core CI machine is shared);
each test's ``max_examples`` is its fixed budget. ``HYPOTHESIS_PROFILE`` picks one by name."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI") == "true" else "dev"))


from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from feedhandler.sinks.testing import REDIS_SERVER, RedisServer  # noqa: E402


@pytest.fixture(autouse=True)
def instrument_cache(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test caches instrument catalogs in a directory of its own, never the user's."""
    monkeypatch.setenv("FEEDHANDLER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def no_real_venue_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests load instruments from simulators only: a catalog load aimed anywhere else fails
    at once, as an unreachable venue would, instead of leaving the machine."""
    from urllib.parse import urlsplit

    from feedhandler.instruments import loader
    from feedhandler.net.rest import RestError

    fetch = loader.fetch_catalog

    async def local_only(venue: str, *, rest_url: str | None = None, **options: object):  # type: ignore[no-untyped-def]
        if urlsplit(rest_url or "").hostname not in ("127.0.0.1", "localhost"):
            raise RestError(str(rest_url), 0, "tests reach no real venue")
        return await fetch(venue, rest_url=rest_url, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "fetch_catalog", local_only)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 per test (tests/sinks, tests/promises); a machine
    without it skips, saying so."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (CI installs it: .ci/run)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
