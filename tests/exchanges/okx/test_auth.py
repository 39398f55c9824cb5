"""OKX v5 ``login`` op: signature re-derived with hmac here, shapes from OKX's docs.

OKX's WebSocket login section shows the algorithm and a request shape but no secret/sign
pair to reproduce, so the signature is checked against an independent HMAC written out below.
Source: https://www.okx.com/docs-v5/en/#overview-websocket-login
"""

import base64
import hashlib
import hmac
import json

import pytest

from feedhandler.exchanges.okx import auth

SECRET = "test-secret-not-a-real-key"
TS = 1538054050  # the timestamp in OKX's login request example


def test_sign_is_base64_hmac_sha256_of_ts_get_verify_path() -> None:
    raw = hmac.new(SECRET.encode(), b"1538054050GET/users/self/verify", hashlib.sha256).digest()
    assert auth.sign(SECRET, TS) == base64.b64encode(raw).decode()


def test_login_message_matches_docs_shape() -> None:
    sent = json.loads(
        auth.login_message("985d5b66-57ce-40fb-b714-afc0b9787083", SECRET, "123456", TS)
    )
    assert sent == {
        "op": "login",
        "args": [
            {
                "apiKey": "985d5b66-57ce-40fb-b714-afc0b9787083",
                "passphrase": "123456",
                "timestamp": "1538054050",
                "sign": auth.sign(SECRET, TS),
            }
        ],
    }


def test_verify_window_and_signature() -> None:
    sig = auth.sign(SECRET, TS)
    assert auth.verify(SECRET, TS, sig, now_s=TS)
    assert auth.verify(SECRET, TS, sig, now_s=TS + 30)
    assert auth.verify(SECRET, TS, sig, now_s=TS - 30)
    assert not auth.verify(SECRET, TS, sig, now_s=TS + 31)
    assert not auth.verify(SECRET, TS, sig, now_s=TS - 31)
    assert not auth.verify("other", TS, sig, now_s=TS)
    assert not auth.verify(SECRET, TS + 1, sig, now_s=TS)


def test_subscribe_private_channels_only() -> None:
    args = [{"channel": "orders", "instType": "ANY"}, {"channel": "account"}]
    assert json.loads(auth.subscribe_message(args)) == {"op": "subscribe", "args": args}
    assert json.loads(auth.subscribe_message(args, unsubscribe=True))["op"] == "unsubscribe"
    with pytest.raises(ValueError):
        auth.subscribe_message([{"channel": "books", "instId": "BTC-USDT"}])
