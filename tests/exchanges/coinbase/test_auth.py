"""Coinbase user-channel JWT, signed with key pairs generated here (never a real key).

ECDSA and Ed25519 signatures have no published fixed vectors for Coinbase (ECDSA is
randomised), so each token is checked independently: its header and claims decoded by hand
against https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/websocket/websocket-authentication
(and its Python sample: kid, nonce, iss "cdp", sub, nbf, exp = nbf + 120), its signature
verified with ``cryptography`` directly, not through the function under test.
"""

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from feedhandler.exchanges.coinbase import auth

KEY_NAME = "organizations/test-org/apiKeys/test-key"
NOW = 1700000000
NONCE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ec_pem(ec_key: ec.EllipticCurvePrivateKey) -> str:
    return ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN EC PRIVATE KEY", as CDP issues
        serialization.NoEncryption(),
    ).decode()


def test_es256_header_claims_and_signature(ec_key: ec.EllipticCurvePrivateKey, ec_pem: str) -> None:
    token = auth.build_ws_jwt(KEY_NAME, ec_pem, NOW, NONCE)
    h, c, s = token.split(".")
    assert json.loads(_b64d(h)) == {"alg": "ES256", "kid": KEY_NAME, "nonce": NONCE, "typ": "JWT"}
    assert json.loads(_b64d(c)) == {"iss": "cdp", "nbf": NOW, "exp": NOW + 120, "sub": KEY_NAME}
    raw = _b64d(s)
    assert len(raw) == 64  # JWS ES256: r||s, not DER
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    ec_key.public_key().verify(der, f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
    assert "=" not in token


def test_verify_accepts_within_lifetime_and_refuses_outside(
    ec_key: ec.EllipticCurvePrivateKey, ec_pem: str
) -> None:
    token = auth.build_ws_jwt(KEY_NAME, ec_pem, NOW, NONCE)
    pub = ec_key.public_key()
    assert auth.verify_ws_jwt(token, pub, NOW, KEY_NAME)["sub"] == KEY_NAME
    assert auth.verify_ws_jwt(token, pub, NOW + 119)["exp"] == NOW + 120
    with pytest.raises(auth.JwtRejected, match="expired"):
        auth.verify_ws_jwt(token, pub, NOW + 120)
    with pytest.raises(auth.JwtRejected, match="not yet valid"):
        auth.verify_ws_jwt(token, pub, NOW - 1)
    with pytest.raises(auth.JwtRejected, match="key name"):
        auth.verify_ws_jwt(token, pub, NOW, "organizations/x/apiKeys/y")


def test_verify_refuses_other_key_and_tampered_claims(ec_pem: str) -> None:
    token = auth.build_ws_jwt(KEY_NAME, ec_pem, NOW, NONCE)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(auth.JwtRejected, match="signature"):
        auth.verify_ws_jwt(token, other, NOW)
    h, _, s = token.split(".")
    forged = (
        base64.urlsafe_b64encode(
            json.dumps({"iss": "cdp", "nbf": NOW, "exp": NOW + 9999, "sub": KEY_NAME}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(auth.JwtRejected, match="signature"):
        auth.verify_ws_jwt(f"{h}.{forged}.{s}", other, NOW)
    with pytest.raises(auth.JwtRejected):
        auth.verify_ws_jwt("not-a-jwt", other, NOW)
    with pytest.raises(auth.JwtRejected):
        auth.verify_ws_jwt("a.b.c", other, NOW)


def test_ed25519_key_signs_eddsa() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pub_raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    secret = base64.b64encode(seed + pub_raw).decode()  # CDP's 64-byte base64 form
    token = auth.build_ws_jwt(KEY_NAME, secret, NOW, NONCE)
    h, c, s = token.split(".")
    assert json.loads(_b64d(h))["alg"] == "EdDSA"
    key.public_key().verify(_b64d(s), f"{h}.{c}".encode())
    assert auth.verify_ws_jwt(token, key.public_key(), NOW + 1)["iss"] == "cdp"
    with pytest.raises(auth.JwtRejected, match="alg"):
        auth.verify_ws_jwt(token, ec.generate_private_key(ec.SECP256R1()).public_key(), NOW)


def test_bad_secrets_raise_without_echoing_them() -> None:
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    for secret in (p384, "c2hvcnQ=", "not base64 at all!!"):
        with pytest.raises(auth.JwtRejected) as info:
            auth.build_ws_jwt(KEY_NAME, secret, NOW, NONCE)
        assert secret not in str(info.value)


def test_subscribe_message_shape(ec_pem: str) -> None:
    token = auth.build_ws_jwt(KEY_NAME, ec_pem, NOW, NONCE)
    assert json.loads(auth.subscribe_message(token, ["BTC-USD"])) == {
        "type": "subscribe",
        "channel": "user",
        "jwt": token,
        "product_ids": ["BTC-USD"],
    }
    assert json.loads(auth.subscribe_message(token, unsubscribe=True)) == {
        "type": "unsubscribe",
        "channel": "user",
        "jwt": token,
    }
