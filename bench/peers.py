"""feedhandler against cryptofeed and ccxt (pro) on the same Binance streams, one run.

Each handler gets the same 20-level ``depthUpdate`` diffs after the same 1000-level snapshot,
and the same ``aggTrade`` stream, as a combined-stream message (``{"stream":..,"data":..}``)
the way a socket delivers it; no network: their message handlers are called directly, with
the snapshot served from memory. Timed per handler: parsing (each library's own JSON parse
included), sequence checks and book upkeep. Books are compared at the end, so a figure from a
handler that dropped or misapplied updates is not quoted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import ccxt.pro
from cryptofeed.defines import L2_BOOK, TRADES
from cryptofeed.exchanges.binance import Binance
from cryptofeed.symbols import Symbols
from decode import SYMBOL, depth_stream, fresh_depth_decoder, trade_stream

from feedhandler.exchanges.binance.decoder import BinanceDecoder

TOP = 20     # levels per side compared between handlers at the end


def combined(stream: str, messages: list[bytes]) -> list[bytes]:
    head = b'{"stream":"' + stream.encode() + b'","data":'
    return [head + message + b"}" for message in messages]


Levels = list[tuple[str, str]]        # (price, size) per level, best first, normalised text


def normalised(levels: Any) -> Levels:
    return [(f"{float(price):.2f}", f"{float(size):.8f}") for price, size in levels][:TOP]


# ---- feedhandler ---------------------------------------------------------------------------

def feedhandler_depth(snapshot: bytes, depth: list[bytes], runs: int) -> tuple[float, Levels]:
    best, decoder = float("inf"), None
    for _ in range(runs):
        decoder = fresh_depth_decoder(snapshot)
        start = time.perf_counter_ns()
        decoder.feed_many(depth)
        best = min(best, time.perf_counter_ns() - start)
    assert decoder is not None and decoder.errors == 0 and decoder.gaps == 0, decoder.stats()
    book = decoder.book(0)
    prices, sizes = book.top(0, TOP)
    return best, normalised(zip(prices / 10**8, sizes / 10**8, strict=True))


def feedhandler_trades(trades: list[bytes], runs: int) -> tuple[float, int]:
    best, decoder = float("inf"), None
    for _ in range(runs):
        decoder = BinanceDecoder()
        decoder.add_instrument(SYMBOL, 1, 8, 8)
        start = time.perf_counter_ns()
        decoder.feed_many(trades)
        best = min(best, time.perf_counter_ns() - start)
    assert decoder is not None and decoder.errors == 0
    return best, decoder.trades.write_count


# ---- cryptofeed ----------------------------------------------------------------------------

async def noop(*_args: Any, **_kwargs: Any) -> None:
    return None


class MemoryHttp:
    """Stands in for cryptofeed's REST connection: the depth snapshot from memory."""

    def __init__(self, snapshot: bytes) -> None:
        self.snapshot = snapshot.decode()

    async def read(self, url: str, **_options: Any) -> str:
        return self.snapshot


def cryptofeed_feed(snapshot: bytes) -> Binance:
    exchange_info = {"symbols": [{"symbol": SYMBOL, "status": "TRADING", "baseAsset": "BTC",
                                  "quoteAsset": "USDT", "filters": [{"tickSize": "0.01"}]}]}
    Symbols.set(Binance.id, *Binance._parse_symbol_data(exchange_info))
    feed = Binance(symbols=["BTC-USDT"], channels=[L2_BOOK, TRADES],
                   callbacks={L2_BOOK: noop, TRADES: noop})
    feed.http_conn = MemoryHttp(snapshot)
    return feed


async def cryptofeed_run(feed: Binance, messages: list[str]) -> int:
    handle = feed.message_handler
    start = time.perf_counter_ns()
    for message in messages:
        await handle(message, None, 0.0)
    return time.perf_counter_ns() - start


def cryptofeed_depth(snapshot: bytes, depth: list[bytes]) -> tuple[float, Levels]:
    feed = cryptofeed_feed(snapshot)
    texts = [message.decode() for message in depth]     # websockets hands it str frames
    asyncio.run(feed._snapshot(SYMBOL))
    elapsed = asyncio.run(cryptofeed_run(feed, texts))
    book = feed._l2_book["BTC-USDT"].book
    return elapsed, normalised(book.bids.to_list()[:TOP])


def cryptofeed_trades(trades: list[bytes]) -> tuple[float, int]:
    feed = cryptofeed_feed(b"{}")
    seen = 0

    async def count(*_args: Any) -> None:
        nonlocal seen
        seen += 1

    feed.callbacks[TRADES] = [count]
    return asyncio.run(cryptofeed_run(feed, [m.decode() for m in trades])), seen


# ---- ccxt ----------------------------------------------------------------------------------

class CcxtClient:
    """What ccxt.pro's Binance handlers touch on their WebSocket client."""

    url = "wss://stream.binance.com:9443/stream"

    def __init__(self) -> None:
        self.subscriptions: dict[str, Any] = {}

    def resolve(self, *_args: Any) -> None:
        return None

    def reject(self, error: Exception, *_args: Any) -> None:
        raise error


def ccxt_exchange() -> Any:
    exchange = ccxt.pro.binance()
    exchange.set_markets([{
        "id": SYMBOL, "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC",
        "quoteId": "USDT", "type": "spot", "spot": True, "margin": False, "swap": False,
        "future": False, "option": False, "contract": False, "linear": None, "inverse": None,
        "active": True, "precision": {"price": 0.01, "amount": 1e-8}, "limits": {}, "info": {}}])
    return exchange


def ccxt_run(handler: Callable[[Any, Any], Any], messages: list[str]) -> int:
    client, loads = CcxtClient(), json.loads
    start = time.perf_counter_ns()
    for message in messages:
        handler(client, loads(message)["data"])
    return time.perf_counter_ns() - start


def ccxt_depth(snapshot: bytes, depth: list[bytes]) -> tuple[float, Levels]:
    exchange = ccxt_exchange()
    parsed = json.loads(snapshot)
    book = exchange.order_book({"bids": [[float(p), float(q)] for p, q in parsed["bids"]],
                                "asks": [[float(p), float(q)] for p, q in parsed["asks"]]}, 1000)
    book["nonce"] = parsed["lastUpdateId"]
    exchange.orderbooks["BTC/USDT"] = book
    elapsed = ccxt_run(exchange.handle_order_book, [m.decode() for m in depth])
    return elapsed, normalised(exchange.orderbooks["BTC/USDT"]["bids"][:TOP])


def ccxt_trades(trades: list[bytes]) -> tuple[float, int]:
    exchange = ccxt_exchange()
    exchange.options["tradesLimit"] = len(trades)
    elapsed = ccxt_run(exchange.handle_trade, [m.decode() for m in trades])
    return elapsed, len(exchange.trades["BTC/USDT"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=5_000, help="depth diffs")
    parser.add_argument("--trades", type=int, default=20_000, help="aggTrade messages")
    parser.add_argument("--runs", type=int, default=5, help="feedhandler runs (best taken)")
    args = parser.parse_args()

    snapshot, diffs = depth_stream(args.depth)
    depth = combined(f"{SYMBOL.lower()}@depth@100ms", diffs)
    trades = combined(f"{SYMBOL.lower()}@aggTrade", trade_stream(args.trades, event="aggTrade"))

    ours_depth, our_book = feedhandler_depth(snapshot, depth, args.runs)
    ours_trades, our_count = feedhandler_trades(trades, args.runs)
    depth_ns = {"feedhandler": ours_depth / len(depth)}
    trade_ns = {"feedhandler": ours_trades / len(trades)}
    for name, run_depth, run_trades in (("cryptofeed", cryptofeed_depth, cryptofeed_trades),
                                        ("ccxt", ccxt_depth, ccxt_trades)):
        elapsed, book = run_depth(snapshot, depth)
        if book != our_book:
            raise SystemExit(f"{name}'s book differs from feedhandler's: {book[:3]} vs "
                             f"{our_book[:3]}")
        depth_ns[name] = elapsed / len(depth)
        elapsed, count = run_trades(trades)
        if count != our_count:
            raise SystemExit(f"{name} saw {count} trades, feedhandler {our_count}")
        trade_ns[name] = elapsed / len(trades)

    print(f"{'handler':<14}{'depth ns/msg':>14}{'depth msg/s':>14}{'trade ns/msg':>14}"
          f"{'trade msg/s':>14}")
    for name in depth_ns:
        print(f"{name:<14}{depth_ns[name]:>14,.0f}{1e9 / depth_ns[name]:>14,.0f}"
              f"{trade_ns[name]:>14,.0f}{1e9 / trade_ns[name]:>14,.0f}")
    print(f"({len(depth)} depth diffs of 20 levels after a 1000-level snapshot, {len(trades)} "
          f"aggTrades; books equal at the end, top {TOP} bids compared)")
    ratio = {name: (depth_ns[name] / depth_ns["feedhandler"],
                    trade_ns[name] / trade_ns["feedhandler"]) for name in depth_ns}
    print(f"peers: binance depth {ratio['cryptofeed'][0]:.0f}x cryptofeed, "
          f"{ratio['ccxt'][0]:.0f}x ccxt; trades {ratio['cryptofeed'][1]:.0f}x cryptofeed, "
          f"{ratio['ccxt'][1]:.0f}x ccxt")


if __name__ == "__main__":
    main()
