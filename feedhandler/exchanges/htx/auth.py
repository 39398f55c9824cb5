"""HTX (Huobi) ``/ws/v2`` private stream: the ``auth`` request, signature version 2.1.

Facts and sources: docs/venues/htx.md, "Private streams".
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import quote

PRIVATE_HOST = "api.huobi.pro"
PRIVATE_PATH = "/ws/v2"
PRIVATE_WS_URL = f"wss://{PRIVATE_HOST}{PRIVATE_PATH}"
AWS_PRIVATE_WS_URL = f"wss://api-aws.huobi.pro{PRIVATE_PATH}"
SIGNATURE_METHOD = "HmacSHA256"
SIGNATURE_VERSION = "2.1"
# HTX documents a 5-minute window for signed timestamps (unverified for /ws/v2;
# docs/venues/htx.md).
TIMESTAMP_WINDOW_S = 300
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


def timestamp(unix_s: int) -> str:
    """``YYYY-MM-DDThh:mm:ss`` in UTC, the form HTX signs (no fraction, no zone suffix)."""
    return dt.datetime.fromtimestamp(unix_s, dt.UTC).strftime(TIMESTAMP_FORMAT)


def canonical_string(access_key: str, ts: str, host: str = PRIVATE_HOST) -> str:
    """``GET\\n<host>\\n/ws/v2\\n<sorted, URL-encoded query>`` over the four auth fields."""
    params = {
        "accessKey": access_key,
        "signatureMethod": SIGNATURE_METHOD,
        "signatureVersion": SIGNATURE_VERSION,
        "timestamp": ts,
    }
    query = "&".join(f"{k}={quote(params[k], safe='')}" for k in sorted(params))
    return f"GET\n{host.lower()}\n{PRIVATE_PATH}\n{query}"


def sign(secret: str, access_key: str, ts: str, host: str = PRIVATE_HOST) -> str:
    """Base64 HMAC-SHA256 of ``canonical_string`` keyed with the secret."""
    mac = hmac.new(secret.encode(), canonical_string(access_key, ts, host).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def auth_message(access_key: str, secret: str, ts: str, host: str = PRIVATE_HOST) -> str:
    """``{"action":"req","ch":"auth","params":{...}}`` as the docs spell it."""
    params = {
        "authType": "api",
        "accessKey": access_key,
        "signatureMethod": SIGNATURE_METHOD,
        "signatureVersion": SIGNATURE_VERSION,
        "timestamp": ts,
        "signature": sign(secret, access_key, ts, host),
    }
    return json.dumps({"action": "req", "ch": "auth", "params": params}, separators=(",", ":"))


def verify(
    secret: str, access_key: str, ts: str, signature: str, now_s: int, host: str = PRIVATE_HOST
) -> bool:
    """Signature matches and ``ts`` parses and lies within ``TIMESTAMP_WINDOW_S`` of ``now_s``."""
    try:
        parsed = dt.datetime.strptime(ts, TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return False
    if abs(now_s - int(parsed.timestamp())) > TIMESTAMP_WINDOW_S:
        return False
    expected = sign(secret, access_key, ts, host)
    return hmac.compare_digest(expected.encode(), signature.encode())


def sub_message(ch: str, unsubscribe: bool = False) -> str:
    """``{"action":"sub","ch":"orders#btcusdt"}`` (``unsub`` to leave)."""
    return json.dumps(
        {"action": "unsub" if unsubscribe else "sub", "ch": ch}, separators=(",", ":")
    )


def orders_channel(symbol: str) -> str:
    """``orders#<symbol>`` (lower-case symbol, or ``*`` for all)."""
    return f"orders#{symbol}"


def accounts_channel(mode: int = 1) -> str:
    """``accounts.update#<mode>``: 0 balance changes only, 1 balance or available, 2 both."""
    if mode not in (0, 1, 2):
        raise ValueError(f"not an HTX accounts.update mode: {mode!r}")
    return f"accounts.update#{mode}"
