class OrderTable:
    capacity: int
    tracked: int
    def __init__(self, slots: int = ...) -> None: ...
