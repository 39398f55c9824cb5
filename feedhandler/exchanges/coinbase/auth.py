"""Coinbase Advanced Trade: the JWT that authenticates the WebSocket ``user`` channel.

A CDP API key is a key name (``organizations/{org}/apiKeys/{id}``) and a private key: an EC
P-256 key in PEM (signs ES256) or, for newer CDP keys, a base64 Ed25519 key (signs EdDSA).
The JWT is put in each subscribe message's ``jwt`` field and lives 120 s. Built with the
``cryptography`` package: ECDSA and Ed25519 are no place for hand-written code.
Facts and sources: docs/venues/coinbase.md, "Private streams".
"""

from __future__ import annotations

import base64
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PRIVATE_WS_URL = "wss://advanced-trade-ws-user.coinbase.com"
USER_CHANNEL = "user"
ISSUER = "cdp"
LIFETIME_S = 120
_P256_BYTES = 32


class JwtRejected(ValueError):
    """A JWT the venue would refuse; the message names the reason, never the token or a key."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def load_private_key(secret: str) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    """The CDP key secret as a key: an EC PEM, or base64 Ed25519 (64 bytes seed+public, or 32)."""
    if "-----BEGIN" in secret:
        key = serialization.load_pem_private_key(secret.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise JwtRejected("CDP PEM key is not an EC P-256 private key")
        return key
    try:
        raw = base64.b64decode(secret, validate=True)
    except ValueError:
        raise JwtRejected("CDP key secret is neither an EC PEM nor base64 Ed25519") from None
    if len(raw) not in (32, 64):
        raise JwtRejected("CDP Ed25519 key secret must decode to 32 or 64 bytes")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])


def build_ws_jwt(key_name: str, secret: str, now_s: int, nonce: str) -> str:
    """The user-channel JWT: header ``alg``/``kid``/``nonce``/``typ``, claims iss/sub/nbf/exp.

    WebSocket JWTs carry no ``uri`` claim (the REST ones do). ``nonce`` is the caller's fresh
    random hex string (Coinbase's samples use ``secrets.token_hex()``).
    """
    key = load_private_key(secret)
    alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "EdDSA"
    header: dict[str, object] = {"alg": alg, "kid": key_name, "nonce": nonce, "typ": "JWT"}
    claims: dict[str, object] = {
        "iss": ISSUER,
        "nbf": now_s,
        "exp": now_s + LIFETIME_S,
        "sub": key_name,
    }
    signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}".encode()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
    else:
        signature = key.sign(signing_input)
    return f"{signing_input.decode()}.{_b64url(signature)}"


def verify_ws_jwt(
    token: str,
    public_key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey,
    now_s: int,
    key_name: str | None = None,
) -> dict[str, object]:
    """Check a user-channel JWT as the venue would; return its claims or raise ``JwtRejected``.

    Checks: three parts, ``alg`` matching the key type, the signature, ``iss == "cdp"``,
    ``kid == sub`` (and ``== key_name`` if given), ``nbf <= now < exp``.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtRejected("JWT must have three dot-separated parts")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except ValueError:
        raise JwtRejected("JWT part is not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtRejected("JWT header and claims must be JSON objects")
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            if header.get("alg") != "ES256" or len(signature) != 2 * _P256_BYTES:
                raise JwtRejected("JWT alg/signature does not match an ES256 key")
            der = encode_dss_signature(
                int.from_bytes(signature[:_P256_BYTES], "big"),
                int.from_bytes(signature[_P256_BYTES:], "big"),
            )
            public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            if header.get("alg") != "EdDSA":
                raise JwtRejected("JWT alg does not match an Ed25519 key")
            public_key.verify(signature, signing_input)
    except InvalidSignature:
        raise JwtRejected("JWT signature does not verify") from None
    if claims.get("iss") != ISSUER:
        raise JwtRejected("JWT iss is not 'cdp'")
    if header.get("kid") != claims.get("sub") or not header.get("nonce"):
        raise JwtRejected("JWT kid must equal sub and a nonce must be present")
    if key_name is not None and claims.get("sub") != key_name:
        raise JwtRejected("JWT sub is not the expected key name")
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, int) or not isinstance(exp, int):
        raise JwtRejected("JWT nbf/exp must be integers")
    if now_s < nbf:
        raise JwtRejected("JWT not yet valid (nbf in the future)")
    if now_s >= exp:
        raise JwtRejected("JWT expired")
    return claims


def subscribe_message(
    jwt: str, product_ids: list[str] | None = None, unsubscribe: bool = False
) -> str:
    """``{"type":"subscribe","channel":"user","product_ids":[...],"jwt":...}``."""
    body: dict[str, object] = {
        "type": "unsubscribe" if unsubscribe else "subscribe",
        "channel": USER_CHANNEL,
        "jwt": jwt,
    }
    if product_ids:
        body["product_ids"] = product_ids
    return json.dumps(body, separators=(",", ":"))
