"""Run one simulated exchange until SIGINT or SIGTERM.

    python -m feedhandler.sim binance [--market spot|usdm] [--port 0]
        [--symbols BTCUSDT,ETHUSDT] [--rate N|max] [--seed S] [--frames-per-write N]

Prints one line with the WebSocket and HTTP base URLs once it is listening.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

import uvloop

from feedhandler.sim.server import FLOOD, SimulatedExchange
from feedhandler.sim.venues import VENUES, create_venue


def _rate(text: str) -> float:
    if text == "max":
        return FLOOD
    rate = float(text)
    if rate <= 0:
        raise argparse.ArgumentTypeError("rate must be positive, or 'max'")
    return rate


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m feedhandler.sim",
                                     description="Serve a simulated exchange on 127.0.0.1.")
    parser.add_argument("venue", choices=sorted(VENUES))
    parser.add_argument("--market", help="venue segment, e.g. spot or usdm for binance")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--symbols", help="comma-separated, e.g. BTCUSDT,ETHUSDT")
    parser.add_argument("--rate", type=_rate, default=1000.0,
                        help="market events per second, or 'max' to flood")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames-per-write", type=int, default=None,
                        help="frames batched per socket write (default 1, or 1000 with --rate max)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    symbols = args.symbols.split(",") if args.symbols else None
    venue = create_venue(args.venue, args.market, symbols)
    frames_per_write = args.frames_per_write or (1000 if args.rate == FLOOD else 1)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with SimulatedExchange(venue, seed=args.seed, rate=args.rate, port=args.port,
                                 frames_per_write=frames_per_write) as sim:
        market = args.market or VENUES[args.venue].markets[0]
        print(f"{args.venue} {market} ws={sim.ws_url} http={sim.http_url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    uvloop.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
