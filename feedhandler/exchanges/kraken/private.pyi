from feedhandler.core.private import PrivateDecoder

class KrakenPrivateDecoder(PrivateDecoder):
    tracked: int
    pending_news: int
    fill_echoes: int
    orphans: int
    other_wallets: int
    def open_orders(self) -> int: ...
