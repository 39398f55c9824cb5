
import numpy as np

class RingOverrun(RuntimeError):
    lost: int
    resumed_at: int
    def __init__(self, lost: int, resumed_at: int) -> None: ...

class Ring:
    capacity: int
    columns: dict[str, np.ndarray]
    def __init__(self, capacity: int = ...) -> None: ...
    @property
    def write_count(self) -> int: ...
    def reader(self, from_start: bool = False) -> RingReader: ...

class TradeRing(Ring):
    def append(
        self, instrument: int, ts_exchange: int, ts_receive: int, price: int, size: int,
        side: int, trade_id: int,
    ) -> None: ...

class TickerRing(Ring):
    def append(
        self, instrument: int, ts_exchange: int, ts_receive: int, bid_price: int,
        bid_size: int, ask_price: int, ask_size: int, last_price: int = 0,
    ) -> None: ...

class CandleRing(Ring):
    def append(
        self, instrument: int, ts_exchange: int, ts_receive: int, open_time: int,
        interval: int, open: int, high: int, low: int, close: int, volume: int, closed: bool,
    ) -> None: ...

class OrderRing(Ring): ...
class BalanceRing(Ring): ...
class PositionRing(Ring): ...

class RingBatch:
    ring: Ring
    start: int
    stop: int
    columns: dict[str, np.ndarray]
    def __len__(self) -> int: ...
    def __getattr__(self, name: str) -> np.ndarray: ...
    @property
    def intact(self) -> bool: ...
    def copy(self) -> dict[str, np.ndarray]: ...

class RingReader:
    ring: Ring
    cursor: int
    def __init__(self, ring: Ring, from_start: bool = False) -> None: ...
    @property
    def pending(self) -> int: ...
    def read(self, max_rows: int = -1) -> RingBatch: ...

