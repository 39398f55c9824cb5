from feedhandler.core.decoder import Decoder

class JsonWalkDecoder(Decoder):
    values: int
