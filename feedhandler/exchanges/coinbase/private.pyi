from feedhandler.core.private import PrivateDecoder

class CoinbasePrivateDecoder(PrivateDecoder):
    fills: int
    def open_orders(self) -> int: ...
