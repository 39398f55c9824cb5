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


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def instrument_cache(tmp_path_factory: pytest.TempPathFactory,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test caches instrument catalogs in a directory of its own, never the user's."""
    monkeypatch.setenv("FEEDHANDLER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
