"""A real Redis Cluster on 127.0.0.1 per test (the single ``redis_server`` is in
tests/conftest.py, shared with tests/promises).

CI installs redis-server (``.ci/run``); a machine without it skips these tests, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from feedhandler.sinks.testing import REDIS_CLI, REDIS_SERVER, RedisClusterServers


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[RedisClusterServers]:
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("redis-server or redis-cli is not installed (CI installs them: .ci/run)")
    cluster = RedisClusterServers(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.kill()
