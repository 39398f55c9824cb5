"""Kraken REST API-Sign and the WS v2 token subscribe, against Kraken's published example."""

import base64
import hashlib
import hmac
import json

import pytest

from feedhandler.exchanges.kraken import auth

# Worked example from https://docs.kraken.com/api/docs/guides/spot-rest-auth ("Examples"):
# private key, nonce, encoded payload and URI path quoted from the page's table; the API-Sign
# is the value the same table publishes for them.
DOC_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
DOC_NONCE = 1616492376594
DOC_PAYLOAD = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
DOC_PATH = "/0/private/AddOrder"
DOC_API_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)


def test_api_sign_matches_kraken_worked_example() -> None:
    assert auth.api_sign(DOC_SECRET, DOC_PATH, DOC_NONCE, DOC_PAYLOAD) == DOC_API_SIGN


def test_verify_accepts_doc_signature_and_refuses_tampering() -> None:
    assert auth.verify_api_sign(DOC_SECRET, DOC_PATH, DOC_NONCE, DOC_PAYLOAD, DOC_API_SIGN)
    assert not auth.verify_api_sign(DOC_SECRET, DOC_PATH, DOC_NONCE + 1, DOC_PAYLOAD, DOC_API_SIGN)
    assert not auth.verify_api_sign(
        DOC_SECRET, "/0/private/Balance", DOC_NONCE, DOC_PAYLOAD, DOC_API_SIGN
    )
    other = base64.b64encode(b"\x01" * 64).decode()
    assert not auth.verify_api_sign(other, DOC_PATH, DOC_NONCE, DOC_PAYLOAD, DOC_API_SIGN)


def test_token_request_signs_its_own_body() -> None:
    path, headers, body = auth.token_request("my-key", DOC_SECRET, 1700000000123)
    assert path == "/0/private/GetWebSocketsToken"
    assert body == "nonce=1700000000123"
    assert headers["API-Key"] == "my-key"
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    inner = hashlib.sha256(b"1700000000123" + b"nonce=1700000000123").digest()
    expected = hmac.new(
        base64.b64decode(DOC_SECRET), b"/0/private/GetWebSocketsToken" + inner, hashlib.sha512
    ).digest()
    assert base64.b64decode(headers["API-Sign"]) == expected
    assert DOC_SECRET not in repr((path, headers, body))


def test_subscribe_message_shape_follows_docs_example() -> None:
    # Shape of the executions subscribe example on
    # https://docs.kraken.com/api/docs/websocket-v2/executions
    token = "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY"
    sent = json.loads(
        auth.subscribe_message("executions", token, snap_orders=True, snap_trades=True)
    )
    assert sent == {
        "method": "subscribe",
        "params": {
            "channel": "executions",
            "token": token,
            "snap_orders": True,
            "snap_trades": True,
        },
    }
    unsub = json.loads(auth.subscribe_message("balances", token, req_id=7, unsubscribe=True))
    assert unsub == {
        "method": "unsubscribe",
        "params": {"channel": "balances", "token": token},
        "req_id": 7,
    }


def test_subscribe_message_refuses_public_channel() -> None:
    with pytest.raises(ValueError, match="book"):
        auth.subscribe_message("book", "t")


def test_malformed_secret_raises_without_echoing_it() -> None:
    bad = "not-base64-secret!"
    with pytest.raises(ValueError) as info:
        auth.api_sign(bad, DOC_PATH, DOC_NONCE, DOC_PAYLOAD)
    assert bad not in str(info.value)
