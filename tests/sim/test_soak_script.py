"""bench/soak.py end to end, small: every venue with faults, books checked, memory table."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_short_soak_ends_with_no_wrong_book() -> None:
    # too short for the memory limit (the simulators' bounded histories settle after ~200 k
    # messages), so only the books and descriptors are judged here
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "soak.py"), "--messages", "40000",
         "--warm-up", "10000", "--fault-every", "4000", "--seed", "1",
         "--max-rss-growth", "1000"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "wrong books 0 at 12 checkpoints" in out
    assert "faults injected 0" not in out
    assert "malloc in use MB" in out and "Python blocks" in out
    fds = next(line for line in out.splitlines() if "open fds" in line and "->" in line)
    before, after = fds.rsplit("open fds ", 1)[1].split(" -> ")
    assert int(before) == int(after)
