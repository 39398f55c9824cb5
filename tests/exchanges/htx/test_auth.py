"""HTX ``/ws/v2`` auth (signature version 2.1): canonical string and signature written out here.

The auth request shape is HTX's example ("Authentication" on
https://www.htx.com/support/900000014146 and https://huobiapi.github.io/docs/spot/v1/en/);
HTX publishes no secret for its sample signature, so the HMAC is re-derived below.
"""

import base64
import hashlib
import hmac
import json

import pytest

from feedhandler.exchanges.htx import auth

SECRET = "test-secret-not-a-real-key"
ACCESS_KEY = "sffd-ddfd-dfdsaf-dfdsafsd"  # the access key in HTX's auth request example
TS = "2019-09-01T18:16:16"  # the timestamp in HTX's auth request example
TS_UNIX = 1567361776


def test_timestamp_format() -> None:
    assert auth.timestamp(TS_UNIX) == TS


def test_canonical_string_written_out() -> None:
    assert auth.canonical_string(ACCESS_KEY, TS) == (
        "GET\napi.huobi.pro\n/ws/v2\n"
        "accessKey=sffd-ddfd-dfdsaf-dfdsafsd&signatureMethod=HmacSHA256"
        "&signatureVersion=2.1&timestamp=2019-09-01T18%3A16%3A16"
    )


def test_sign_is_base64_hmac_sha256_of_canonical_string() -> None:
    canonical = (
        b"GET\napi.huobi.pro\n/ws/v2\naccessKey=sffd-ddfd-dfdsaf-dfdsafsd&signatureMethod=HmacSHA256"
        b"&signatureVersion=2.1&timestamp=2019-09-01T18%3A16%3A16"
    )
    raw = hmac.new(SECRET.encode(), canonical, hashlib.sha256).digest()
    assert auth.sign(SECRET, ACCESS_KEY, TS) == base64.b64encode(raw).decode()


def test_auth_message_matches_docs_shape() -> None:
    sent = json.loads(auth.auth_message(ACCESS_KEY, SECRET, TS))
    assert sent == {
        "action": "req",
        "ch": "auth",
        "params": {
            "authType": "api",
            "accessKey": ACCESS_KEY,
            "signatureMethod": "HmacSHA256",
            "signatureVersion": "2.1",
            "timestamp": TS,
            "signature": auth.sign(SECRET, ACCESS_KEY, TS),
        },
    }


def test_verify_window_host_and_signature() -> None:
    sig = auth.sign(SECRET, ACCESS_KEY, TS)
    assert auth.verify(SECRET, ACCESS_KEY, TS, sig, now_s=TS_UNIX + 300)
    assert not auth.verify(SECRET, ACCESS_KEY, TS, sig, now_s=TS_UNIX + 301)
    assert not auth.verify(SECRET, ACCESS_KEY, TS, sig, now_s=TS_UNIX - 301)
    assert not auth.verify(SECRET, ACCESS_KEY, TS, sig, now_s=TS_UNIX, host="api-aws.huobi.pro")
    assert not auth.verify("other", ACCESS_KEY, TS, sig, now_s=TS_UNIX)
    assert not auth.verify(SECRET, "other-key", TS, sig, now_s=TS_UNIX)
    assert not auth.verify(SECRET, ACCESS_KEY, "2019-09-01 18:16:16", sig, now_s=TS_UNIX)


def test_channels_and_sub() -> None:
    assert auth.orders_channel("btcusdt") == "orders#btcusdt"
    assert auth.accounts_channel(1) == "accounts.update#1"
    with pytest.raises(ValueError):
        auth.accounts_channel(3)
    assert json.loads(auth.sub_message("orders#btcusdt")) == {
        "action": "sub",
        "ch": "orders#btcusdt",
    }
    assert json.loads(auth.sub_message("orders#btcusdt", unsubscribe=True))["action"] == "unsub"
