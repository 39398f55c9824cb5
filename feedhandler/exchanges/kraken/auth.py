"""Kraken spot private streams: the REST ``GetWebSocketsToken`` request and the WS v2 token use.

Kraken's WebSocket v2 has no signed login: a REST call signed with ``API-Sign`` returns a
token, and every private ``subscribe``/``unsubscribe`` carries that token in ``params``.
Facts and sources: docs/venues/kraken.md, "Private streams".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

PRIVATE_WS_URL = "wss://ws-auth.kraken.com/v2"
REST_BASE_URL = "https://api.kraken.com"
TOKEN_PATH = "/0/private/GetWebSocketsToken"
PRIVATE_CHANNELS = ("executions", "balances")


def api_sign(secret_b64: str, uri_path: str, nonce: int, postdata: str) -> str:
    """``API-Sign``: base64 HMAC-SHA512 over ``uri_path + SHA256(nonce + postdata)``.

    The HMAC key is the base64-decoded API secret; ``uri_path`` starts at ``/0/private``.
    """
    digest = hashlib.sha256(f"{nonce}{postdata}".encode()).digest()
    mac = hmac.new(
        base64.b64decode(secret_b64, validate=True), uri_path.encode() + digest, hashlib.sha512
    )
    return base64.b64encode(mac.digest()).decode()


def verify_api_sign(
    secret_b64: str, uri_path: str, nonce: int, postdata: str, signature: str
) -> bool:
    """True when ``signature`` is the ``API-Sign`` of this request (constant-time compare).

    Kraken has no timestamp window: it refuses a nonce not greater than the key's last one
    (``EAPI:Invalid nonce``); that state belongs to the caller (the simulator).
    """
    expected = api_sign(secret_b64, uri_path, nonce, postdata)
    return hmac.compare_digest(expected.encode(), signature.encode())


def token_request(key: str, secret_b64: str, nonce: int) -> tuple[str, dict[str, str], str]:
    """The POST for a WebSocket token: (path, headers, form body) to send to ``REST_BASE_URL``."""
    body = f"nonce={nonce}"
    headers = {
        "API-Key": key,
        "API-Sign": api_sign(secret_b64, TOKEN_PATH, nonce, body),
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    return TOKEN_PATH, headers, body


def subscribe_message(
    channel: str,
    token: str,
    *,
    req_id: int | None = None,
    unsubscribe: bool = False,
    **params: bool | str | int,
) -> str:
    """A v2 ``subscribe``/``unsubscribe`` for a private channel, the token inside ``params``.

    Extra ``params`` (``snap_orders``, ``snap_trades``, ``order_status``, ``snapshot``) pass
    through as the venue names them.
    """
    if channel not in PRIVATE_CHANNELS:
        raise ValueError(f"not a Kraken private channel: {channel!r}")
    body: dict[str, object] = {
        "method": "unsubscribe" if unsubscribe else "subscribe",
        "params": {"channel": channel, "token": token, **params},
    }
    if req_id is not None:
        body["req_id"] = req_id
    return json.dumps(body, separators=(",", ":"))
