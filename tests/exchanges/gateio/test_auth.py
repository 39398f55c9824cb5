"""Gate.io spot WS v4 per-request auth: signature re-derived with hmac here, shapes from the docs.

Gate.io's docs give the algorithm as Python (``'channel=%s&event=%s&time=%d'``, HMAC-SHA512
hexdigest) in the demo application on https://www.gate.com/docs/developers/apiv4/ws/en but no
secret/sign pair, so the signature is checked against an independent HMAC written out below.
"""

import hashlib
import hmac
import json

import pytest

from feedhandler.exchanges.gateio import auth

SECRET = "test-secret-not-a-real-key"
T = 1611541000


def test_sign_is_hex_hmac_sha512_of_channel_event_time() -> None:
    expected = hmac.new(
        SECRET.encode(), b"channel=spot.orders&event=subscribe&time=1611541000", hashlib.sha512
    ).hexdigest()
    assert auth.sign(SECRET, "spot.orders", "subscribe", T) == expected
    assert len(expected) == 128


def test_request_message_shape() -> None:
    sent = json.loads(
        auth.request_message("k", SECRET, "spot.orders", "subscribe", ["BTC_USDT"], T)
    )
    assert sent == {
        "time": T,
        "channel": "spot.orders",
        "event": "subscribe",
        "payload": ["BTC_USDT"],
        "auth": {
            "method": "api_key",
            "KEY": "k",
            "SIGN": auth.sign(SECRET, "spot.orders", "subscribe", T),
        },
    }
    with pytest.raises(ValueError):
        auth.request_message("k", SECRET, "spot.trades", "subscribe", ["BTC_USDT"], T)
    with pytest.raises(ValueError):
        auth.request_message("k", SECRET, "spot.orders", "update", ["BTC_USDT"], T)


def test_verify_binds_channel_event_and_time() -> None:
    sig = auth.sign(SECRET, "spot.balances", "subscribe", T)
    assert auth.verify(SECRET, "spot.balances", "subscribe", T, sig, now_s=T + 60)
    assert not auth.verify(SECRET, "spot.balances", "subscribe", T, sig, now_s=T + 61)
    assert not auth.verify(SECRET, "spot.orders", "subscribe", T, sig, now_s=T)
    assert not auth.verify(SECRET, "spot.balances", "unsubscribe", T, sig, now_s=T)
    assert not auth.verify(SECRET, "spot.balances", "subscribe", T + 1, sig, now_s=T)
    assert not auth.verify("other", "spot.balances", "subscribe", T, sig, now_s=T)
