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
