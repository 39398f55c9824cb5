"""Decode throughput: Binance depthUpdate (20 levels) and trade, Cython+simdjson vs orjson.

The Cython path parses each message from its bytes straight into the order book / trade ring
(exact int64 fixed point); the baseline parses with orjson and converts every price and size
to float, which is the least a Python consumer has to do. Same messages, same run.
"""

from __future__ import annotations

import argparse
import random
import time

import orjson

from feedhandler.core.book import OrderBook
from feedhandler.exchanges.binance.decoder import BinanceDecoder

SYMBOL = "BTCUSDT"


def depth_stream(count: int, levels: int = 20, seed: int = 1) -> tuple[bytes, list[bytes]]:
    """A 1000-level snapshot and ``count`` chained depthUpdate diffs near the touch."""
    rng = random.Random(seed)
    mid = 3_000_000  # ticks of 0.01
    bids = [
        [f"{(mid - i) / 100:.8f}", f"{rng.randint(1, 10**6) / 10**4:.8f}"] for i in range(1, 1001)
    ]
    asks = [
        [f"{(mid + i) / 100:.8f}", f"{rng.randint(1, 10**6) / 10**4:.8f}"] for i in range(1, 1001)
    ]
    snapshot = orjson.dumps({"lastUpdateId": 1000, "bids": bids, "asks": asks})
    messages = []
    update = 1001
    for _ in range(count):
        side_levels: dict[str, list[list[str]]] = {"b": [], "a": []}
        for _ in range(levels):
            side = rng.choice("ba")
            distance = int(rng.expovariate(1 / 30)) + 1
            price = mid - distance if side == "b" else mid + distance
            size = 0 if rng.random() < 0.2 else rng.randint(1, 10**6) / 10**4
            side_levels[side].append([f"{price / 100:.8f}", f"{size:.8f}"])
        first, update = update, update + rng.randint(1, 5)
        messages.append(
            orjson.dumps(
                {
                    "e": "depthUpdate",
                    "E": 1_700_000_000_000 + update,
                    "s": SYMBOL,
                    "U": first,
                    "u": update - 1,
                    "b": side_levels["b"],
                    "a": side_levels["a"],
                }
            )
        )
        update = update
    return snapshot, messages


def trade_stream(count: int, seed: int = 2, event: str = "trade") -> list[bytes]:
    """``count`` trades as Binance ``trade`` events, or ``aggTrade`` events (id in ``a``)."""
    rng = random.Random(seed)
    messages = []
    for i in range(count):
        price = f"{rng.randint(2_900_000, 3_100_000) / 100:.8f}"
        size = f"{rng.randint(1, 10**6) / 10**6:.8f}"
        ids = {"t": 10_000_000 + i} if event == "trade" else \
            {"a": 10_000_000 + i, "f": 20_000_000 + i, "l": 20_000_000 + i}
        messages.append(orjson.dumps({
            "e": event, "E": 1_700_000_000_000 + i, "s": SYMBOL, **ids, "p": price, "q": size,
            "T": 1_700_000_000_000 + i, "m": rng.random() < 0.5, "M": True}))
    return messages


def best_of(runs: int, fn) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - start)
    return best


def fresh_depth_decoder(snapshot: bytes) -> BinanceDecoder:
    decoder = BinanceDecoder()
    slot = decoder.add_instrument(SYMBOL, 1, 8, 8, OrderBook(8, 8, tick=10**6))
    decoder.apply_snapshot(slot, snapshot)
    return decoder


def orjson_depth(messages: list[bytes]) -> None:
    book: dict[str, dict[float, float]] = {"b": {}, "a": {}}
    for raw in messages:
        event = orjson.loads(raw)
        for side in ("b", "a"):
            levels = book[side]
            for price, size in event[side]:
                p, q = float(price), float(size)
                if q == 0.0:
                    levels.pop(p, None)
                else:
                    levels[p] = q


def orjson_trades(messages: list[bytes]) -> None:
    for raw in messages:
        event = orjson.loads(raw)
        float(event["p"]), float(event["q"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--depth", type=int, default=20_000, help="depth messages")
    parser.add_argument("--trades", type=int, default=200_000, help="trade messages")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    snapshot, depth = depth_stream(args.depth)
    trades = trade_stream(args.trades)
    decoders = []

    def run_depth() -> None:
        decoder = fresh_depth_decoder(snapshot)
        decoders.append(decoder)
        start = time.perf_counter_ns()
        decoder.feed_many(depth)
        timings.append(time.perf_counter_ns() - start)

    timings: list[int] = []
    for _ in range(args.runs):
        run_depth()
    depth_ns = min(timings) / len(depth)
    last = decoders[-1]
    assert last.errors == 0 and last.gaps == 0, last.stats()
    decoders.clear()

    trade_decoder = BinanceDecoder()
    trade_decoder.add_instrument(SYMBOL, 1, 8, 8)
    trade_ns = best_of(args.runs, lambda: trade_decoder.feed_many(trades)) / len(trades)
    assert trade_decoder.errors == 0 and trade_decoder.trades.write_count == args.runs * len(trades)

    orjson_depth_ns = best_of(args.runs, lambda: orjson_depth(depth)) / len(depth)
    orjson_trade_ns = best_of(args.runs, lambda: orjson_trades(trades)) / len(trades)

    mean_bytes = sum(map(len, depth)) / len(depth)
    print(f"{'stream':<26}{'feedhandler ns/msg':>20}{'orjson+float ns/msg':>22}{'ratio':>8}")
    print(
        f"{'binance depth (20 lvls)':<26}{depth_ns:>20.0f}{orjson_depth_ns:>22.0f}"
        f"{orjson_depth_ns / depth_ns:>7.1f}x"
    )
    print(
        f"{'binance trade':<26}{trade_ns:>20.0f}{orjson_trade_ns:>22.0f}"
        f"{orjson_trade_ns / trade_ns:>7.1f}x"
    )
    print(f"(depth messages average {mean_bytes:.0f} bytes; best of {args.runs} runs)")
    print(
        f"decode: depth {depth_ns:.0f} ns/msg (orjson {orjson_depth_ns:.0f}), "
        f"trade {trade_ns:.0f} ns/msg (orjson {orjson_trade_ns:.0f})"
    )


if __name__ == "__main__":
    main()
