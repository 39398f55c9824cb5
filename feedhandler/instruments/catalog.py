"""One venue's instruments and the one symbol rule: every spelling resolves to one record.

The unified symbol is ``BASE-QUOTE`` for spot and ``BASE-QUOTE-PERP`` for perpetuals. A
symbol is also found by the venue's own spellings (``BTCUSDT``, ``btcusdt``, ``BTC_USDT``,
Kraken's ``XBT/USD``), by ccxt's (``BTC/USDT``, ``BTC/USDT:USDT``) and in any case: they all
fold to one compact key. A perpetual venue also takes the spot form (``BTC-USDT`` on
binance-usdm is ``BTC-USDT-PERP``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal, InvalidOperation

from feedhandler.exchanges.base import Instrument, Kind, Status

SUGGESTIONS = 5
PERP_SUFFIX = "-PERP"
_SEPARATORS = re.compile(r"[-/_ .]")


class UnknownSymbolError(ValueError):
    """The venue lists no such symbol (or no longer trades it): raised at subscribe time,
    naming the venue and up to five close symbols it does list."""

    def __init__(self, venue: str, symbol: str, suggestions: Sequence[str] = (),
                 reason: str = "lists no symbol") -> None:
        self.venue = venue
        self.symbol = symbol
        self.suggestions = tuple(suggestions)
        hint = f"; closest: {', '.join(self.suggestions)}" if self.suggestions else ""
        super().__init__(f"{venue} {reason} {symbol!r}{hint}")


def compact(symbol: str) -> str:
    """The spelling-free key of a symbol: upper case, no separators, ccxt's ``:SETTLE``
    and the ``PERP`` suffix dropped (a catalog holds one kind, so they add nothing)."""
    text = symbol.strip().upper().partition(":")[0]
    if text.endswith(PERP_SUFFIX):
        text = text[:-len(PERP_SUFFIX)]
    return _SEPARATORS.sub("", text)


def unified(base: str, quote: str, kind: Kind = Kind.SPOT) -> str:
    symbol = f"{base.upper()}-{quote.upper()}"
    return symbol + PERP_SUFFIX if kind is Kind.PERPETUAL else symbol


def decimals(step: Decimal) -> int:
    """Decimals a step needs: ``0.0100`` -> 2, ``5`` -> 0, ``1e-9`` -> 9."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (``10``, not ``1E+1``)."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else value


def decimal_or_none(text: object) -> Decimal | None:
    """A venue's number field (string or JSON number) exactly, None when absent, empty, zero
    or not a number (venues send ``"0"`` for a filter they do not apply)."""
    if text is None or text == "":
        return None
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def listing(venue: str, market: str, venue_symbol: str, base: str, quote: str, *,
            tick_size: Decimal | None = None, lot_size: Decimal | None = None,
            price_decimals: int | None = None, size_decimals: int | None = None,
            kind: Kind = Kind.SPOT, status: Status = Status.TRADING,
            min_size: Decimal | None = None, min_notional: Decimal | None = None,
            contract_size: Decimal | None = None, aliases: Iterable[str] = ()) -> Instrument:
    """A catalog record from what a venue states: a tick/lot step or a precision (decimal
    count), or both. The fixed-point scales are the decimals the venue may print, so every
    price on the tick grid and every size on the lot grid is exact."""
    if tick_size is None and price_decimals is not None:
        tick_size = Decimal(1).scaleb(-price_decimals)
    if lot_size is None and size_decimals is not None:
        lot_size = Decimal(1).scaleb(-size_decimals)
    if tick_size is None or lot_size is None:
        raise ValueError(f"{venue} {venue_symbol}: no tick or lot size")
    price_scale = max(decimals(tick_size), price_decimals or 0)
    size_scale = max(decimals(lot_size), size_decimals or 0)
    return Instrument(
        -1, venue, unified(base, quote, kind), venue_symbol, market, price_scale, size_scale,
        int(tick_size.scaleb(price_scale)), base.upper(), quote.upper(), kind, status,
        plain(tick_size), plain(lot_size), min_size and plain(min_size),
        min_notional and plain(min_notional), contract_size and plain(contract_size),
        tuple(aliases))


class Catalog:
    """One venue's instruments, found by any spelling; ``fetched`` is the time (epoch s) the
    venue's metadata was read, ``stale`` whether it is older than wanted (the venue could not
    be reached to refresh it)."""

    def __init__(self, venue: str, instruments: Iterable[Instrument], fetched: float,
                 stale: bool = False) -> None:
        self.venue = venue
        self.fetched = fetched
        self.stale = stale
        self.by_symbol: dict[str, Instrument] = {}
        keys: dict[str, set[str]] = {}
        for instrument in instruments:
            self.by_symbol[instrument.symbol] = instrument
            for spelling in (instrument.symbol, instrument.venue_symbol, *instrument.aliases):
                keys.setdefault(compact(spelling), set()).add(instrument.symbol)
        # a compact key two instruments share (ABC-DEF vs ABCD-EF) resolves neither
        self.by_key = {key: next(iter(symbols)) for key, symbols in keys.items()
                       if len(symbols) == 1}

    def __len__(self) -> int:
        return len(self.by_symbol)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self.by_symbol.values())

    def find(self, symbol: str) -> Instrument | None:
        """The instrument ``symbol`` spells, or None."""
        found = self.by_symbol.get(symbol)
        if found is None:
            key = self.by_key.get(compact(symbol))
            found = self.by_symbol[key] if key is not None else None
        return found

    def resolve(self, symbol: str) -> Instrument:
        """The instrument, or ``UnknownSymbolError`` with the closest listed symbols; a
        delisted instrument is refused too (a halted one is not: it may resume)."""
        if not symbol or not symbol.strip():
            raise ValueError(f"{self.venue}: empty symbol")
        found = self.find(symbol)
        if found is None:
            raise UnknownSymbolError(self.venue, symbol, self.suggest(symbol))
        if found.status is Status.DELISTED:
            raise UnknownSymbolError(self.venue, symbol, self.suggest(symbol),
                                     reason="has delisted")
        return found

    def suggest(self, symbol: str, count: int = SUGGESTIONS) -> list[str]:
        """Up to ``count`` listed (not delisted) symbols closest to ``symbol``."""
        listed = {compact(i.symbol): i.symbol for i in self.by_symbol.values()
                  if i.status is not Status.DELISTED}
        close = difflib.get_close_matches(compact(symbol), list(listed), count, 0.5)
        return [listed[key] for key in close]

    def search(self, text: str) -> list[Instrument]:
        """Instruments ``text`` spells, then those whose base, quote or any spelling starts
        with it (``btc``, ``XBT/USD``, ``usdt``)."""
        key = compact(text)
        exact = self.find(text)
        found = [exact] if exact is not None else []
        found += [i for i in self.by_symbol.values() if i is not exact and any(
            compact(spelling).startswith(key)
            for spelling in (i.base, i.quote, i.symbol, i.venue_symbol, *i.aliases))]
        return found
