"""Binance request signing: HMAC hex, Ed25519 and RSA base64 over the sorted query string,
checked against Binance's documented HMAC example and against each key's public half."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from feedhandler import FeedHandler
from feedhandler.auth.credentials import AuthError, Credentials
from feedhandler.exchanges.binance import auth

# the HMAC example of Binance's "SIGNED request security" (web-socket-api.md)
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = (b"apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
               b"&newOrderRespType=ACK&price=52000.00&quantity=0.01000000&recvWindow=100"
               b"&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT")
DOC_SIGNATURE = "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a"


def pem_pair(private) -> tuple[str, str]:
    return (private.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode(),
            private.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode())


def test_hmac_signs_binances_documented_example() -> None:
    assert auth.signer(DOC_SECRET)(DOC_PAYLOAD) == DOC_SIGNATURE


@pytest.mark.parametrize("private", [ed25519.Ed25519PrivateKey.generate(),
                                     rsa.generate_private_key(65537, 2048)],
                         ids=["ed25519", "rsa"])
def test_key_pair_signatures_verify_with_the_public_key_only(private) -> None:
    secret, public = pem_pair(private)
    message = json.loads(auth.subscribe_message("uds-1", "key-1", 1700000000000,
                                                auth.signer(secret)))
    assert message["method"] == "userDataStream.subscribe.signature"
    params = message["params"]
    assert auth.verify(public, params)
    assert not auth.verify(public, {**params, "timestamp": 1700000000001})
    assert not auth.verify(pem_pair(ed25519.Ed25519PrivateKey.generate())[1], params)


def test_an_unusable_pem_is_refused_at_subscribe_without_quoting_it() -> None:
    secret, _ = pem_pair(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(AuthError, match="neither Ed25519 nor RSA") as raised:
        FeedHandler().subscribe_orders("binance", print, credentials=Credentials("k" * 16,
                                                                                 secret))
    body = [line for line in secret.splitlines() if not line.startswith("-----")]
    assert not any(line in str(raised.value) for line in body)
    with pytest.raises(AuthError, match="not an unencrypted private key"):
        FeedHandler().subscribe_orders("binance", print, credentials=Credentials(
            "k" * 16, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"))
