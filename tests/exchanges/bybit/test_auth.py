"""Bybit v5 private ``auth`` op: signature re-derived with hmac here, shapes from Bybit's docs.

Bybit publishes no (secret, expires, signature) triple, so the signature is checked against an
independent HMAC written out below; message shapes follow
https://bybit-exchange.github.io/docs/v5/ws/connect ("Authentication").
"""

import hashlib
import hmac
import json

import pytest

from feedhandler.exchanges.bybit import auth

SECRET = "test-secret-not-a-real-key"
EXPIRES = 1662350400000  # the expiry used in Bybit's auth example


def test_sign_is_hex_hmac_sha256_of_get_realtime_plus_expires() -> None:
    expected = hmac.new(SECRET.encode(), b"GET/realtime1662350400000", hashlib.sha256).hexdigest()
    assert auth.sign(SECRET, EXPIRES) == expected
    assert len(expected) == 64


def test_auth_message_matches_docs_shape() -> None:
    sent = json.loads(auth.auth_message("api_key", SECRET, EXPIRES, req_id="10001"))
    assert sent == {
        "req_id": "10001",
        "op": "auth",
        "args": ["api_key", EXPIRES, auth.sign(SECRET, EXPIRES)],
    }
    assert isinstance(sent["args"][1], int)  # docs send expires as a JSON number
    assert "req_id" not in json.loads(auth.auth_message("api_key", SECRET, EXPIRES))


def test_verify_refuses_expired_wrong_secret_and_tampered() -> None:
    sig = auth.sign(SECRET, EXPIRES)
    assert auth.verify(SECRET, EXPIRES, sig, now_ms=EXPIRES - 1000)
    assert not auth.verify(SECRET, EXPIRES, sig, now_ms=EXPIRES)  # at expiry: refused
    assert not auth.verify(SECRET, EXPIRES, sig, now_ms=EXPIRES + 1)
    assert not auth.verify("other", EXPIRES, sig, now_ms=EXPIRES - 1000)
    assert not auth.verify(SECRET, EXPIRES + 1, sig, now_ms=EXPIRES - 1000)


def test_topics_and_subscribe() -> None:
    assert auth.topic("order") == "order"
    assert auth.topic("order", "spot") == "order.spot"
    assert auth.topic("position", "linear") == "position.linear"
    assert auth.topic("wallet", "spot") == "wallet"  # wallet has no per-category topic
    with pytest.raises(ValueError):
        auth.topic("orderbook.50.BTCUSDT")
    with pytest.raises(ValueError):
        auth.topic("order", "margin")
    assert json.loads(auth.subscribe_message(["order", "wallet"])) == {
        "op": "subscribe",
        "args": ["order", "wallet"],
    }
    assert json.loads(auth.subscribe_message(["order"], unsubscribe=True))["op"] == "unsubscribe"
