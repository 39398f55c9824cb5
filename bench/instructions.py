"""Instructions per message (valgrind callgrind) per venue and channel: deterministic figures.

Wall-clock rates on a shared machine move by 2x between runs; instruction counts of the same
frames through the same path do not. Each venue and channel runs ``bench/venues.py`` under
callgrind with collection switched on only inside ``FeedListener.feed_many`` and a dump at
each call, so the decoder's run and the floor runs (see bench/venues.py) are counted apart.
Run it with the interpreter and PYTHONPATH bench/venues.py needs.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
COLLECT = "*FeedListener_*feed_many*"
DUMP = "*feed_many*"           # callgrind matches the narrower pattern only for collection
DEFAULT = [("binance", "book"), ("binance", "trades"), ("binance-usdm", "book"),
           ("bybit", "book"), ("bybit", "trades"), ("coinbase", "book"), ("coinbase", "trades"),
           ("gateio", "book"), ("gateio", "trades"), ("htx", "book"), ("htx", "trades"),
           ("kraken", "book"), ("kraken", "trades"), ("okx", "book"), ("okx", "trades")]


def totals(prefix: str) -> list[int]:
    """Instructions of each dump part, in order; the last is the one written at exit."""
    parts = []
    numbered = sorted(glob.glob(prefix + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    for path in [*numbered, prefix]:
        text = Path(path).read_text()
        match = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
        parts.append(int(match.group(1)) if match else 0)
    return parts[1:]


def count(venue: str, channel: str, messages: int) -> tuple[int, float, float, float]:
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "cg")
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}",
             f"--toggle-collect={COLLECT}", f"--dump-before={DUMP}",
             sys.executable, str(HERE / "venues.py"), "--venues", venue, "--channels", channel,
             "--messages", str(messages), "--ready-timeout", "300"],
            capture_output=True, text=True, check=False)
        rows = [line for line in run.stdout.splitlines() if line.startswith(venue + " ")]
        if run.returncode or len(rows) != 1 or "VOID" in rows[0]:
            raise RuntimeError(f"{venue} {channel}: {run.stdout[-400:]}{run.stderr[-400:]}")
        sent = int(rows[0].split()[2])
        decoder, walk, index = totals(prefix)[-3:]   # the last calls: decoder, floor, index
    return sent, decoder / sent, walk / sent, index / sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300,
                        help="book messages per run (other channels get twice as many)")
    parser.add_argument("pairs", nargs="*", help="venue:channel; default the book and "
                        "trades channels of every venue")
    args = parser.parse_args()
    pairs = [tuple(p.split(":", 1)) for p in args.pairs] or DEFAULT
    print(f"{'venue':<14}{'channel':<8}{'messages':>9}{'Ir/msg':>10}{'floor':>10}{'index':>10}",
          flush=True)
    for venue, channel in pairs:
        try:
            sent, per_message, floor, index = count(venue, channel, args.messages)
        except RuntimeError as exc:
            print(f"{venue:<14}{channel:<8} FAILED {exc}", flush=True)
            continue
        print(f"{venue:<14}{channel:<8}{sent:>9}{per_message:>10.0f}{floor:>10.0f}{index:>10.0f}",
              flush=True)


if __name__ == "__main__":
    main()
