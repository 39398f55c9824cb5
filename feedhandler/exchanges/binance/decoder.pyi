from feedhandler.core.decoder import Decoder
from feedhandler.core.rings import CandleRing, TickerRing, TradeRing

class BinanceDecoder(Decoder):
    futures: bool
    def __init__(self, trades: TradeRing | None = None, tickers: TickerRing | None = None,
                 candles: CandleRing | None = None, *, futures: bool = False) -> None: ...
