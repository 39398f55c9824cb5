
from feedhandler.core.decoder import Decoder
from feedhandler.core.rings import BalanceRing, OrderRing, PositionRing

BALANCE_SCALE_WIDE: int

class PrivateDecoder(Decoder):
    orders: OrderRing
    balances: BalanceRing
    positions: PositionRing
    default_price_scale: int
    default_size_scale: int
    asset_scale: int
    order_updates: int
    balance_updates: int
    position_updates: int
    def __init__(self, orders: OrderRing | None = None, balances: BalanceRing | None = None,
                 positions: PositionRing | None = None, *, default_price_scale: int = 8,
                 default_size_scale: int = 8, asset_scale: int = 8) -> None: ...
