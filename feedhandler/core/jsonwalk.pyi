from feedhandler.core.decoder import Decoder

class JsonWalkDecoder(Decoder):
    values: int
    walk: bool
    def __init__(self, *args: object, walk: bool = True, **kwargs: object) -> None: ...
