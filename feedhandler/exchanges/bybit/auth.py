"""Bybit v5 private stream: the ``auth`` op and the private topics (spot and linear).

One private endpoint serves every category; topics name the category or take all of them
(``order`` vs ``order.spot``). Facts and sources: docs/venues/bybit.md, "Private streams".
"""

from __future__ import annotations

import hashlib
import hmac
import json

PRIVATE_WS_URL = "wss://stream.bybit.com/v5/private"
TESTNET_PRIVATE_WS_URL = "wss://stream-testnet.bybit.com/v5/private"
PRIVATE_TOPICS = ("order", "execution", "wallet", "position")
SIGN_PREFIX = "GET/realtime"


def sign(secret: str, expires_ms: int) -> str:
    """Hex HMAC-SHA256 of ``"GET/realtime" + expires`` (expiry in Unix milliseconds)."""
    payload = f"{SIGN_PREFIX}{expires_ms}".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def auth_message(key: str, secret: str, expires_ms: int, req_id: str | None = None) -> str:
    """``{"op":"auth","args":[key, expires, signature]}``; ``expires`` must lie in the future."""
    body: dict[str, object] = {"op": "auth", "args": [key, expires_ms, sign(secret, expires_ms)]}
    if req_id is not None:
        body = {"req_id": req_id, **body}
    return json.dumps(body, separators=(",", ":"))


def verify(secret: str, expires_ms: int, signature: str, now_ms: int) -> bool:
    """What Bybit checks: the signature matches and ``expires`` is still ahead of ``now_ms``.

    Bybit's window is one-sided: any expiry after the server's clock is accepted (the docs'
    samples sign ``now + 1 s`` .. ``now + 10 s``); one at or before it is refused.
    """
    if expires_ms <= now_ms:
        return False
    return hmac.compare_digest(sign(secret, expires_ms).encode(), signature.encode())


def topic(name: str, category: str | None = None) -> str:
    """``order``, ``order.spot``, ``position.linear``: a private topic, all or one category."""
    if name not in PRIVATE_TOPICS:
        raise ValueError(f"not a Bybit private topic: {name!r}")
    if category is None or name == "wallet":
        return name
    if category not in ("spot", "linear", "inverse", "option"):
        raise ValueError(f"not a Bybit category: {category!r}")
    return f"{name}.{category}"


def subscribe_message(
    topics: list[str], req_id: str | None = None, unsubscribe: bool = False
) -> str:
    """``{"op":"subscribe","args":[...]}`` (sent after a successful ``auth``)."""
    body: dict[str, object] = {"op": "unsubscribe" if unsubscribe else "subscribe", "args": topics}
    if req_id is not None:
        body = {"req_id": req_id, **body}
    return json.dumps(body, separators=(",", ":"))
