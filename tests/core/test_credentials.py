"""Credentials: from arguments or the environment, the secret never printed or pickled."""

import copy
import pickle

import pytest

from feedhandler.auth.credentials import AuthError, Credentials

SECRET = "s3cr3t-value-do-not-print"
KEY = "AKEY0123456789abcdef"


def test_repr_str_and_errors_hide_secret_and_key() -> None:
    c = Credentials(KEY, SECRET, "pass-phrase-xyz")
    for text in (repr(c), str(c), f"{c}", f"{c!r}", repr([c]), repr({"c": c})):
        assert SECRET not in text and KEY not in text and "pass-phrase-xyz" not in text
        assert "AKEY..." in text
    assert not hasattr(c, "__dict__")
    with pytest.raises(TypeError) as raised:
        pickle.dumps(c)
    assert SECRET not in str(raised.value)
    assert copy.deepcopy(c) is c
    assert c.secret == SECRET and c.key == KEY and c.passphrase == "pass-phrase-xyz"


def test_from_env_reads_the_documented_names_with_family_fallback() -> None:
    env = {"FEEDHANDLER_BINANCE_API_KEY": KEY, "FEEDHANDLER_BINANCE_API_SECRET": SECRET}
    assert Credentials.from_env("binance-usdm", env) == Credentials(KEY, SECRET)
    env["FEEDHANDLER_BINANCE_USDM_API_KEY"] = "other-key-123456"
    env["FEEDHANDLER_BINANCE_USDM_API_SECRET"] = "other-secret"
    assert Credentials.from_env("binance-usdm", env).key == "other-key-123456"
    env = {"FEEDHANDLER_OKX_API_KEY": KEY, "FEEDHANDLER_OKX_API_SECRET": SECRET,
           "FEEDHANDLER_OKX_API_PASSPHRASE": "pp"}
    assert Credentials.from_env("okx", env).passphrase == "pp"
    with pytest.raises(AuthError, match="FEEDHANDLER_KRAKEN_API_KEY"):
        Credentials.from_env("kraken", {})


def test_empty_values_are_refused() -> None:
    with pytest.raises(ValueError):
        Credentials("", SECRET)


def test_a_pem_secret_can_come_from_a_file_and_each_body_line_is_redacted(tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from feedhandler.auth.redact import redact

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    path = tmp_path / "binance-ed25519.pem"
    path.write_text(pem)
    env = {"FEEDHANDLER_BINANCE_API_KEY": KEY,
           "FEEDHANDLER_BINANCE_API_SECRET_FILE": str(path)}
    credentials = Credentials.from_env("binance", env)
    assert credentials.secret == pem
    (body,) = [line for line in pem.splitlines() if not line.startswith("-----")]
    assert body not in redact(f"signing with {body} failed") and body not in repr(credentials)
    env["FEEDHANDLER_BINANCE_API_SECRET_FILE"] = str(tmp_path / "missing.pem")
    with pytest.raises(AuthError, match="API_SECRET_FILE: FileNotFoundError") as raised:
        Credentials.from_env("binance", env)
    assert str(tmp_path) not in str(raised.value)
