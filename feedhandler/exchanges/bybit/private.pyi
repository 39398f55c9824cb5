from feedhandler.core.private import PrivateDecoder

class BybitPrivateDecoder(PrivateDecoder):
    fill_echoes: int
