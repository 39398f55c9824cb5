EMPTY: int
MALFORMED: int
TOO_PRECISE: int
OVERFLOW: int
NEGATIVE: int

class DecimalError(ValueError):
    status: int
    text: str | bytes
    def __init__(self, status: int, text: str | bytes) -> None: ...

def to_fixed(text: str | bytes, scale: int) -> int: ...
def to_text(value: int, scale: int, frac_digits: int = -1) -> str: ...
def timestamp_ns(text: str | bytes) -> int: ...
