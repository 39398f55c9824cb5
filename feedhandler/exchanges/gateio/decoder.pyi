from feedhandler.core.decoder import Decoder

class GateioDecoder(Decoder):
    def apply_snapshot(self, slot: int, data: bytes | bytearray | memoryview) -> None: ...
