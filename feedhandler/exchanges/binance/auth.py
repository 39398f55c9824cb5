"""Binance request signatures: the spot WebSocket API's ``userDataStream.subscribe.signature``.

Binance signs the request's parameters other than ``signature``, sorted by name and joined as
a query string (``apiKey=...&timestamp=...``). An HMAC key signs it with HMAC-SHA256 (hex);
an Ed25519 key or an RSA key signs the same bytes and sends base64. The key type is told by
the secret: a PEM private key (``-----BEGIN PRIVATE KEY-----``, as Binance's key generator
writes it) is Ed25519 or RSA, anything else is an HMAC secret. Facts and sources:
docs/venues/binance.md, "Private streams".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

SUBSCRIBE_METHOD = "userDataStream.subscribe.signature"
PEM_MARK = "-----BEGIN"

Signer = Callable[[bytes], str]


class UnusableKey(ValueError):
    """The secret is a PEM that is neither an Ed25519 nor an RSA private key (the message
    never quotes it)."""


def signer(secret: str) -> Signer:
    """How requests are signed with ``secret``: HMAC-SHA256 hex, or base64 Ed25519 / RSA
    (PKCS#1 v1.5, SHA-256) for a PEM private key."""
    if PEM_MARK not in secret:
        key = secret.encode()
        return lambda payload: hmac.new(key, payload, hashlib.sha256).hexdigest()
    try:
        private = serialization.load_pem_private_key(secret.encode(), password=None)
    except (ValueError, TypeError):
        raise UnusableKey("the secret is a PEM but not an unencrypted private key") from None
    if isinstance(private, ed25519.Ed25519PrivateKey):
        ed_key = private
        return lambda payload: base64.b64encode(ed_key.sign(payload)).decode()
    if isinstance(private, rsa.RSAPrivateKey):
        rsa_key = private
        return lambda payload: base64.b64encode(
            rsa_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())).decode()
    raise UnusableKey("the PEM private key is neither Ed25519 nor RSA")


def signed_payload(params: dict[str, object]) -> bytes:
    """The bytes Binance signs: the parameters sorted by name, as a query string."""
    return urlencode(sorted(params.items())).encode()


def subscribe_message(request_id: str, api_key: str, timestamp_ms: int, sign: Signer) -> bytes:
    """``userDataStream.subscribe.signature`` signed now (every connection signs afresh)."""
    params: dict[str, object] = {"apiKey": api_key, "timestamp": timestamp_ms}
    params["signature"] = sign(signed_payload(params))
    return json.dumps({"id": request_id, "method": SUBSCRIBE_METHOD, "params": params},
                      separators=(",", ":")).encode()


def verify(account_key: str, params: dict[str, object]) -> bool:
    """Whether ``params["signature"]`` signs the other parameters with ``account_key``: the
    HMAC secret, or the PEM public key Binance keeps of an Ed25519 / RSA key pair."""
    signature = params.get("signature")
    if not isinstance(signature, str):
        return False
    payload = signed_payload({k: v for k, v in params.items() if k != "signature"})
    if PEM_MARK not in account_key:
        expected = hmac.new(account_key.encode(), payload, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)
    public = serialization.load_pem_public_key(account_key.encode())
    try:
        raw = base64.b64decode(signature, validate=True)
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(raw, payload)
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
