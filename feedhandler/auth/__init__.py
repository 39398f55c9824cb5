"""Authentication for private streams.

Each venue's signing lives beside its decoder in ``feedhandler/exchanges/<venue>/auth.py``:
pure functions over plain ``str``/``bytes``/``int`` (key, secret, passphrase, timestamps all
passed in, no clock read, no I/O), so the adapters sign with them, the simulators check with
their ``verify_*`` counterparts, and both are tested against the venues' worked examples.
"""
