"""OKX v5 private stream: the ``login`` op and the private channels.

Facts and sources: docs/venues/okx.md, "Private streams".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

PRIVATE_WS_URL = "wss://ws.okx.com:8443/ws/v5/private"
DEMO_PRIVATE_WS_URL = "wss://wspap.okx.com:8443/ws/v5/private"
PRIVATE_CHANNELS = ("orders", "account", "positions", "balance_and_position")
VERIFY_PATH = "/users/self/verify"
# "The request will expire 30 seconds after the timestamp" (docs/venues/okx.md).
TIMESTAMP_WINDOW_S = 30


def sign(secret: str, timestamp_s: int) -> str:
    """Base64 HMAC-SHA256 of ``timestamp + "GET" + "/users/self/verify"`` (Unix seconds)."""
    payload = f"{timestamp_s}GET{VERIFY_PATH}".encode()
    return base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha256).digest()).decode()


def login_message(key: str, secret: str, passphrase: str, timestamp_s: int) -> str:
    """The ``login`` op; the timestamp travels as a string, as in OKX's example."""
    arg = {
        "apiKey": key,
        "passphrase": passphrase,
        "timestamp": str(timestamp_s),
        "sign": sign(secret, timestamp_s),
    }
    return json.dumps({"op": "login", "args": [arg]}, separators=(",", ":"))


def verify(secret: str, timestamp_s: int, signature: str, now_s: int) -> bool:
    """Signature matches and the timestamp is within ``TIMESTAMP_WINDOW_S`` of ``now_s``."""
    if abs(now_s - timestamp_s) > TIMESTAMP_WINDOW_S:
        return False
    return hmac.compare_digest(sign(secret, timestamp_s).encode(), signature.encode())


def subscribe_message(args: list[dict[str, str]], unsubscribe: bool = False) -> str:
    """``{"op":"subscribe","args":[{"channel":"orders","instType":"ANY"}, ...]}``."""
    for arg in args:
        if arg.get("channel") not in PRIVATE_CHANNELS:
            raise ValueError(f"not an OKX private channel: {arg.get('channel')!r}")
    op = "unsubscribe" if unsubscribe else "subscribe"
    return json.dumps({"op": op, "args": args}, separators=(",", ":"))
