from feedhandler.core.book import OrderBook
from feedhandler.core.decoder import Decoder

class HtxDecoder(Decoder):
    stale: int
    def add_instrument(self, key: str | bytes, instrument: int, price_scale: int,
                       size_scale: int, book: OrderBook | None = None) -> int: ...
