from feedhandler.core.private import PrivateDecoder
from feedhandler.core.rings import BalanceRing, OrderRing, PositionRing

class BinancePrivateDecoder(PrivateDecoder):
    futures: bool
    expirations: int
    def __init__(self, orders: OrderRing | None = None, balances: BalanceRing | None = None,
                 positions: PositionRing | None = None, *, futures: bool = False,
                 default_price_scale: int = 8, default_size_scale: int = 8,
                 asset_scale: int = 8) -> None: ...
