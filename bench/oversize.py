"""Memory held after garbage frames under the size limit: RSS before and after five 15 MiB
frames per venue listener, each venue in a fresh process.

    PYTHONPATH=. python bench/oversize.py [--venues binance,htx] [--frames 5] [--mib 15]

Each frame is a message under ``max_message_size`` that is not JSON but opens like an object,
so the parser indexes all of it: ``{`` then commas (every byte a structural character, the
parser's worst case) or random bytes; a venue that compresses gets it gzipped, inflated by
the listener. Prints the RSS growth once the frames are decoded (what the connection keeps;
the payload is made before the first reading) and the peak growth while one was decoded.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys

VENUES = ("binance", "binance-usdm", "bybit", "okx", "htx", "gateio", "kraken", "coinbase")


def status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


class Handler:
    fatal = 0

    def on_connected(self, transport: object) -> None: ...
    def on_disconnected(self) -> None: ...
    def on_batch(self, flags: int) -> None: ...

    def on_fatal(self, reason: str) -> None:
        self.fatal += 1


def garbage(kind: str, size: int) -> bytes:
    if kind == "commas":
        return b"{" + b"," * (size - 1)
    return b"{" + random.Random(1).randbytes(size - 1)


def measure(name: str, kind: str, frames: int, size: int) -> dict[str, int | str]:
    """In this process: the venue's decoder behind a FeedListener fed ``frames`` garbage frames."""
    from picows import WSMsgType

    from feedhandler.core.listener import FeedListener
    from feedhandler.core.rings import CandleRing, TickerRing, TradeRing
    from feedhandler.exchanges.base import Rings
    from feedhandler.exchanges.registry import venue

    adapter = venue(name).create()
    decoder = adapter.new_decoder(Rings(TradeRing(1024), TickerRing(1024), CandleRing(1024)))
    handler = Handler()
    listener = FeedListener(decoder, handler, max_message_size=adapter.max_message_size,
                            compression=adapter.compression)
    assert size < adapter.max_message_size
    compressed = adapter.compression != "none"
    payload = garbage(kind, size)
    if compressed:
        payload = gzip.compress(payload, 1)
    frame_type = WSMsgType.BINARY if compressed else WSMsgType.TEXT
    before = status_kib("VmRSS")
    peak = before
    for _ in range(frames):
        listener.feed_frame(frame_type, True, payload)
        peak = max(peak, status_kib("VmRSS"))
    after = status_kib("VmRSS")
    peak = max(peak, status_kib("VmHWM"))
    return {"venue": name, "before_mb": before >> 10, "after_mb": after >> 10,
            "kept_mb": (after - before) >> 10, "peak_mb": (peak - before) >> 10,
            "errors": decoder.errors, "fatal": handler.fatal}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venues", default=",".join(VENUES))
    parser.add_argument("--garbage", choices=("commas", "random"), default="commas")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--mib", type=float, default=15.0)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = int(args.mib * (1 << 20))
    if args.one:
        print(json.dumps(measure(args.one, args.garbage, args.frames, size)))
        return 0
    print(f"{args.frames} garbage frames ({args.garbage}) of {args.mib} MiB per venue listener "
          "(fresh process each)")
    print(f"{'venue':14} {'RSS before':>11} {'after':>7} {'kept':>7} {'peak':>7}  errors")
    for name in args.venues.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", name, "--garbage", args.garbage,
                              "--frames",
                              str(args.frames), "--mib", str(args.mib)],
                             check=True, capture_output=True, text=True).stdout
        row = json.loads(out)
        print(f"{name:14} {row['before_mb']:>8} MB {row['after_mb']:>4} MB "
              f"{row['kept_mb']:>4} MB {row['peak_mb']:>4} MB  {row['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
