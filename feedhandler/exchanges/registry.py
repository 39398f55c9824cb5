"""Which venues exist and what each supports, asked before subscribing.

The API looks venues up here; subscribing to something a venue does not offer fails at once
with ``UnsupportedError`` instead of waiting for the venue to refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from feedhandler.auth.credentials import Credentials
from feedhandler.exchanges.base import Channel, Instrument, Subscription, VenueAdapter
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
    book_depths: Sequence[int] = ()           # the native streams (see native_depth)
    private_channels: Sequence[Channel] = ()   # orders / balance / positions, when offered
    book_integrity: str = ""      # how the venue lets a book be verified
    catalog: CatalogSource | None = None   # where its instruments are read from

    def create(self, **options: Any) -> VenueAdapter:
        return self.factory(**options)

    async def describe(self) -> dict[str, Any]:
        """What the venue offers and where, as JSON-ready data: the adapter (with its default
        URLs) says which WebSocket URL and endpoint each channel is carried on, its REST base,
        and its private stream's URL (None where it is learned at login, e.g. a listen key)."""
        adapter = self.create()
        try:
            endpoints = {}
            for channel in self.channels:
                subscription = sample_subscription(self, adapter, channel)
                endpoints[channel.value] = {"ws_url": adapter.ws_url([subscription]),
                                            "endpoint": adapter.endpoint_key(subscription)}
            private_ws_url = None
            if self.private_channels:
                stream = adapter.private(PLACEHOLDER_CREDENTIALS)
                try:
                    private_ws_url = stream.ws_url([])
                except RuntimeError:     # dialled only after authenticate learned the URL
                    private_ws_url = None
            return {"name": self.name, "title": self.title, "market": self.market,
                    "channels": [channel.value for channel in self.channels],
                    "endpoints": endpoints, "rest_url": adapter.rest_base or None,
                    "timeframes": list(self.timeframes),
                    "book_depths": list(self.book_depths),
                    "book_integrity": self.book_integrity,
                    "private_channels": [channel.value for channel in self.private_channels],
                    "private_ws_url": private_ws_url}
        finally:
            await adapter.close()

    def check(self, channel: Channel, timeframe: str | None = None,
              depth: int | None = None) -> None:
        if channel not in self.channels:
            raise UnsupportedError(f"{self.name} has no {channel.value} channel "
                                   f"(it offers {', '.join(c.value for c in self.channels)})")
        if channel is Channel.OHLCV and timeframe not in self.timeframes:
            raise UnsupportedError(f"{self.name} has no {timeframe!r} candles "
                                   f"(it offers {', '.join(self.timeframes)})")
        if channel is Channel.BOOK:
            self.native_depth(depth)

    def native_depth(self, depth: int | None) -> int | None:
        """The venue's smallest native book stream of at least ``depth`` levels, which the
        local book then shows cut to ``depth``: any depth works up to the deepest native one.
        None (the venue's default stream) for no depth, and for a venue whose only book is
        the full one (``book_depths`` empty)."""
        if depth is None:
            return None
        if depth <= 0:
            raise UnsupportedError(f"{self.name}: a book depth must be >= 1, got {depth}")
        if not self.book_depths:
            return None
        native = [d for d in sorted(self.book_depths) if d >= depth]
        if not native:
            raise UnsupportedError(f"{self.name} has no book of depth {depth}: its native "
                                   f"depths are {', '.join(map(str, self.book_depths))}")
        return native[0]

    def check_private(self, channel: Channel) -> None:
        if channel not in self.private_channels:
            offered = ", ".join(c.value for c in self.private_channels) or "none yet"
            raise UnsupportedError(f"{self.name} has no private {channel.value} channel "
                                   f"(private channels: {offered})")


PLACEHOLDER_CREDENTIALS = Credentials("unused", "unused", "unused")
"""Build a private stream's adapter to read its URL; never sent (nothing is dialled). Shorter
than ``MIN_SECRET_LENGTH``, so they are not registered as secrets to redact."""
SAMPLE_SYMBOL = "BTC-USDT"


def sample_subscription(info: VenueInfo, adapter: VenueAdapter, channel: Channel,
                        symbol: str = SAMPLE_SYMBOL) -> Subscription:
    """A subscription of ``channel`` to ask the adapter where it is carried (its first
    timeframe for candles, its default depth for books)."""
    instrument = Instrument(0, info.name, symbol, adapter.venue_symbol(symbol), info.market)
    timeframe = info.timeframes[0] if channel is Channel.OHLCV else None
    return Subscription(channel, instrument, timeframe)


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
                   book_integrity="WebSocket snapshot (REST snapshot where none comes) + "
                                  "seqId/prevSeqId chaining + CRC32 of the top 25 levels per "
                                  "message (while OKX fills it)",
                   catalog=okx_instruments.SOURCE))
