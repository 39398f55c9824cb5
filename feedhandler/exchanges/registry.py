"""Which venues exist and what each supports, asked before subscribing.

The API looks venues up here; subscribing to something a venue does not offer fails at once
with ``UnsupportedError`` instead of waiting for the venue to refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from feedhandler.exchanges.base import Channel, VenueAdapter
from feedhandler.exchanges.binance import instruments as binance_instruments
from feedhandler.exchanges.binance import venue as binance
from feedhandler.exchanges.binance.venue import BinanceVenue
from feedhandler.exchanges.bybit import instruments as bybit_instruments
from feedhandler.exchanges.bybit import venue as bybit
from feedhandler.exchanges.bybit.venue import BybitVenue
from feedhandler.exchanges.coinbase import instruments as coinbase_instruments
from feedhandler.exchanges.coinbase import venue as coinbase
from feedhandler.exchanges.gateio import instruments as gateio_instruments
from feedhandler.exchanges.gateio import venue as gateio
from feedhandler.exchanges.htx import instruments as htx_instruments
from feedhandler.exchanges.htx import venue as htx
from feedhandler.exchanges.kraken import instruments as kraken_instruments
from feedhandler.exchanges.kraken import venue as kraken
from feedhandler.exchanges.okx import instruments as okx_instruments
from feedhandler.exchanges.okx import venue as okx
from feedhandler.instruments.loader import CatalogSource


class UnsupportedError(ValueError):
    """The venue, channel, timeframe or depth asked for is not offered."""


@dataclass(frozen=True)
class VenueInfo:
    name: str
    title: str
    market: str
    factory: Callable[..., VenueAdapter] = field(repr=False)
    channels: Sequence[Channel] = ()
    timeframes: Sequence[str] = ()
    book_depths: Sequence[int] = ()
    private_channels: Sequence[Channel] = ()   # orders / balance / positions, when offered
    book_integrity: str = ""      # how the venue lets a book be verified
    catalog: CatalogSource | None = None   # where its instruments are read from

    def create(self, **options: Any) -> VenueAdapter:
        return self.factory(**options)

    def check(self, channel: Channel, timeframe: str | None = None,
              depth: int | None = None) -> None:
        if channel not in self.channels:
            raise UnsupportedError(f"{self.name} has no {channel.value} channel "
                                   f"(it offers {', '.join(c.value for c in self.channels)})")
        if channel is Channel.OHLCV and timeframe not in self.timeframes:
            raise UnsupportedError(f"{self.name} has no {timeframe!r} candles "
                                   f"(it offers {', '.join(self.timeframes)})")
        if channel is Channel.BOOK and depth is not None and depth not in self.book_depths:
            raise UnsupportedError(f"{self.name} has no book of depth {depth} "
                                   f"(it offers {', '.join(map(str, self.book_depths))})")

    def check_private(self, channel: Channel) -> None:
        if channel not in self.private_channels:
            offered = ", ".join(c.value for c in self.private_channels) or "none yet"
            raise UnsupportedError(f"{self.name} has no private {channel.value} channel "
                                   f"(private channels: {offered})")


REGISTRY: dict[str, VenueInfo] = {}


def register(info: VenueInfo) -> VenueInfo:
    REGISTRY[info.name] = info
    return info


def venue(name: str) -> VenueInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnsupportedError(
            f"unknown exchange {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def venues() -> list[VenueInfo]:
    return [REGISTRY[name] for name in sorted(REGISTRY)]


ALL_CHANNELS = (Channel.TICKER, Channel.BOOK, Channel.TRADES, Channel.OHLCV)

register(VenueInfo("binance", "Binance spot", "spot", partial(BinanceVenue, "spot"), ALL_CHANNELS,
                   binance.TIMEFRAMES, binance.BOOK_DEPTHS,
                   private_channels=binance.PRIVATE_CHANNELS["spot"],
                   book_integrity="REST snapshot + U/u update-id continuity",
                   catalog=binance_instruments.source("spot")))
register(VenueInfo("binance-usdm", "Binance USD-M futures", "usdm", partial(BinanceVenue, "usdm"),
                   ALL_CHANNELS, binance.TIMEFRAMES[1:], binance.BOOK_DEPTHS,
                   private_channels=binance.PRIVATE_CHANNELS["usdm"],
                   book_integrity="REST snapshot + pu/u update-id chaining",
                   catalog=binance_instruments.source("usdm")))
register(VenueInfo("coinbase", "Coinbase Advanced Trade", "spot", coinbase.CoinbaseVenue,
                   ALL_CHANNELS, coinbase.TIMEFRAMES, coinbase.BOOK_DEPTHS,
                   private_channels=coinbase.PRIVATE_CHANNELS,
                   book_integrity="WebSocket level2 snapshot + connection-wide sequence_num",
                   catalog=coinbase_instruments.SOURCE))
register(VenueInfo("kraken", "Kraken spot", "spot", kraken.KrakenVenue, ALL_CHANNELS,
                   tuple(kraken.TIMEFRAMES), kraken.BOOK_DEPTHS,
                   private_channels=kraken.PRIVATE_CHANNELS,
                   book_integrity="WebSocket snapshot + CRC32 of the top 10 levels per message",
                   catalog=kraken_instruments.SOURCE))
register(VenueInfo("bybit", "Bybit spot", "spot", partial(BybitVenue, "spot"), ALL_CHANNELS,
                   tuple(bybit.TIMEFRAMES), bybit.BOOK_DEPTHS["spot"],
                   private_channels=bybit.PRIVATE_CHANNELS["spot"],
                   book_integrity="WebSocket snapshot + per-topic u continuity",
                   catalog=bybit_instruments.source("spot")))
register(VenueInfo("bybit-linear", "Bybit USDT perpetuals", "linear",
                   partial(BybitVenue, "linear"), ALL_CHANNELS, tuple(bybit.TIMEFRAMES),
                   bybit.BOOK_DEPTHS["linear"],
                   private_channels=bybit.PRIVATE_CHANNELS["linear"],
                   book_integrity="WebSocket snapshot + per-topic u continuity",
                   catalog=bybit_instruments.source("linear")))
register(VenueInfo("gateio", "Gate.io spot", "spot", gateio.GateioVenue, ALL_CHANNELS,
                   gateio.TIMEFRAMES, gateio.BOOK_DEPTHS,
                   private_channels=gateio.PRIVATE_CHANNELS,
                   book_integrity="REST snapshot id (spot.obu: full push) + U/u continuity",
                   catalog=gateio_instruments.SOURCE))
register(VenueInfo("htx", "HTX (Huobi) spot", "spot", htx.HtxVenue, ALL_CHANNELS,
                   tuple(htx.TIMEFRAMES), htx.BOOK_DEPTHS,
                   private_channels=htx.PRIVATE_CHANNELS,
                   book_integrity="WebSocket req snapshot + mbp seqNum/prevSeqNum chaining",
                   catalog=htx_instruments.SOURCE))
register(VenueInfo("okx", "OKX spot", "spot", okx.OkxVenue, ALL_CHANNELS, tuple(okx.TIMEFRAMES),
                   okx.BOOK_DEPTHS, private_channels=okx.PRIVATE_CHANNELS,
                   book_integrity="WebSocket snapshot + seqId/prevSeqId chaining + CRC32 of the "
                                  "top 25 levels per message (while OKX fills it)",
                   catalog=okx_instruments.SOURCE))
