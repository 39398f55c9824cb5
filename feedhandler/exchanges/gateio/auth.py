"""Gate.io spot WebSocket v4 private channels: the per-request ``auth`` object.

Gate.io has no login: every private ``subscribe``/``unsubscribe`` carries its own signature
over its channel, event and time. Facts and sources: docs/venues/gateio.md, "Private streams".
"""

from __future__ import annotations

import hashlib
import hmac
import json

PRIVATE_WS_URL = "wss://api.gateio.ws/ws/v4/"
PRIVATE_CHANNELS = ("spot.orders", "spot.balances", "spot.usertrades")
# "Gap between request time and server time must not exceed 60 seconds" (docs/venues/gateio.md).
TIME_WINDOW_S = 60


def sign(secret: str, channel: str, event: str, time_s: int) -> str:
    """Hex HMAC-SHA512 of ``"channel=<channel>&event=<event>&time=<time>"``."""
    payload = f"channel={channel}&event={event}&time={time_s}".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha512).hexdigest()


def auth_object(key: str, secret: str, channel: str, event: str, time_s: int) -> dict[str, str]:
    """``{"method":"api_key","KEY":key,"SIGN":sign}`` for one request."""
    return {"method": "api_key", "KEY": key, "SIGN": sign(secret, channel, event, time_s)}


def request_message(
    key: str, secret: str, channel: str, event: str, payload: list[str], time_s: int
) -> str:
    """A signed private request: ``{"time","channel","event","payload","auth"}``."""
    if channel not in PRIVATE_CHANNELS:
        raise ValueError(f"not a Gate.io private channel: {channel!r}")
    if event not in ("subscribe", "unsubscribe"):
        raise ValueError(f"not a Gate.io subscription event: {event!r}")
    body = {
        "time": time_s,
        "channel": channel,
        "event": event,
        "payload": payload,
        "auth": auth_object(key, secret, channel, event, time_s),
    }
    return json.dumps(body, separators=(",", ":"))


def verify(secret: str, channel: str, event: str, time_s: int, signature: str, now_s: int) -> bool:
    """Signature matches and ``time`` is within ``TIME_WINDOW_S`` of ``now_s``."""
    if abs(now_s - time_s) > TIME_WINDOW_S:
        return False
    expected = sign(secret, channel, event, time_s)
    return hmac.compare_digest(expected.encode(), signature.encode())
