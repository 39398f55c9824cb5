"""A realistic generated instrument catalog for the simulators' metadata endpoints.

Hundreds of instruments with the spread of precisions real venues list (ticks from 1e-9 to
10, sizes down to 11 decimals, contract sizes up to 1000), some halted or delisted. The
instruments a simulator trades come first, with the precisions its market generates; every
venue renders the same listings in its own metadata format.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from feedhandler.sim.market import InstrumentSpec

FINE_TICK = ("0.000000001", "1", "0.000012345")
"""A 1e-9-tick grid and a starting price on it, as meme coins are listed on most venues."""

TICKS = ("0.000000001", "0.00000001", "0.0000001", "0.000001", "0.00001", "0.0001", "0.001",
         "0.01", "0.05", "0.1", "0.5", "1", "10")
LOTS = ("0.00000000001", "0.00000001", "0.000001", "0.0001", "0.001", "0.01", "0.1", "1",
        "10", "100", "1000")
CONTRACT_SIZES = ("1", "0.001", "0.01", "0.1", "10", "100", "1000")
QUOTES = ("USDT", "USDC", "BTC", "ETH", "USD", "EUR")
COUNT = 400


@dataclass(frozen=True)
class Listing:
    """One listed instrument as a venue's metadata states it (decimal strings)."""

    symbol: str               # the venue's form
    base: str
    quote: str
    tick_size: str
    lot_size: str
    price: str = "1"          # a price on the tick grid, for markets that trade it
    min_size: str = ""
    min_notional: str = ""
    contract_size: str = "1"
    status: str = "trading"   # "trading", "halted", "delisted"
    traded: bool = False      # the simulator's market generates it

    def decimals(self) -> tuple[int, int]:
        return decimals_of(self.tick_size), decimals_of(self.lot_size)


def decimals_of(step: str) -> int:
    return len(step.partition(".")[2])


def split(symbol: str, quotes: Iterable[str] = ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH",
                                                 "BNB", "EUR", "USD", "TRY")) -> tuple[str, str]:
    """``BTCUSDT`` / ``BTC-USDT`` / ``BTC_USDT`` / ``BTC/USD`` / ``btcusdt`` -> (base, quote)."""
    text = symbol.upper()
    for separator in "-_/":
        if separator in text:
            base, _, quote = text.partition(separator)
            return base, quote.partition("-")[0]
    for quote in quotes:
        if text.endswith(quote) and len(text) > len(quote):
            return text[:-len(quote)], quote
    return text[:-3], text[-3:]


def unified(symbol: str, perpetual: bool = False) -> str:
    """The unified symbol a client reports for a simulator's venue symbol (``BTCUSDT`` ->
    ``BTC-USDT``; ``BTC-USDT-PERP`` for a perpetual)."""
    base, quote = split(symbol)
    return f"{base}-{quote}{'-PERP' if perpetual else ''}"


Name = Callable[[str, str], str]
"""(base, quote) -> the venue's symbol."""


def generate(seed: int, name: Name, count: int = COUNT, quotes: Sequence[str] = QUOTES,
             ticks: Sequence[str] = TICKS, lots: Sequence[str] = LOTS,
             max_decimals: int | None = None) -> list[Listing]:
    """``count`` listings, deterministic per seed: about one in twenty halted, one in thirty
    delisted. ``max_decimals`` bounds the tick's and lot's decimals together (a venue that
    prints notionals at a fixed precision, as Binance spot's 8)."""
    rng = random.Random(seed)
    out: list[Listing] = []
    taken: set[tuple[str, str]] = set()
    while len(out) < count:
        base = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 5)))
        if rng.random() < 0.05:
            base = "1000" + base
        quote = rng.choice(quotes)
        if (base, quote) in taken:
            continue
        taken.add((base, quote))
        tick, lot = rng.choice(ticks), rng.choice(lots)
        if max_decimals is not None and decimals_of(tick) + decimals_of(lot) > max_decimals:
            continue
        price = Decimal(tick) * rng.randint(100, 1_000_000)
        roll = rng.random()
        status = "halted" if roll < 0.05 else "delisted" if roll < 0.083 else "trading"
        out.append(Listing(name(base, quote), base, quote, tick, lot, f"{price:f}",
                           min_size=lot, min_notional=rng.choice(("1", "5", "10", "0.0001")),
                           contract_size=rng.choice(CONTRACT_SIZES), status=status))
    return out


def catalog(seed: int, name: Name, symbols: Iterable[str],
            fixed: Mapping[str, tuple[str, str, str]], generic: tuple[str, str, str], *,
            count: int = COUNT, ticks: Sequence[str] = TICKS, lots: Sequence[str] = LOTS,
            max_decimals: int | None = None) -> tuple[dict[str, InstrumentSpec], list[Listing]]:
    """What a simulator trades and lists: a spec per traded symbol (from ``fixed``, else
    its generated listing's grid, else ``generic``), and every listing: the traded first,
    then ``fixed``'s others (listed, not traded), then the generated ones."""
    generated = {listing.symbol: listing
                 for listing in generate(seed, name, count, ticks=ticks, lots=lots,
                                         max_decimals=max_decimals)}
    for symbol, (tick, lot, price) in fixed.items():
        base, quote = split(symbol)
        generated[symbol] = Listing(symbol, base, quote, tick, lot, price, min_size=lot,
                                    min_notional="5")
    specs: dict[str, InstrumentSpec] = {}
    listed: list[Listing] = []
    for symbol in symbols:
        known = generated.pop(symbol, None)
        grid = fixed.get(symbol) or (
            (known.tick_size, known.lot_size, known.price) if known else generic)
        spec = specs[symbol] = InstrumentSpec(symbol, *grid)
        base, quote = (known.base, known.quote) if known else split(symbol)
        listed.append(Listing(symbol, base, quote, spec.tick_size, spec.lot_size,
                              spec.initial_price, min_size=spec.lot_size, min_notional="5",
                              traded=True))
    fixed_first = sorted(generated.values(), key=lambda listing: listing.symbol not in fixed)
    listed.extend(fixed_first)
    return specs, listed
