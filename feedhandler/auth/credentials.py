"""API credentials that never show their secret: not in repr, str, logs, pickles or errors.

Environment variables (``Credentials.from_env("binance-usdm")``), the venue name upper-cased
with ``-`` as ``_``:

- ``FEEDHANDLER_<VENUE>_API_KEY``
- ``FEEDHANDLER_<VENUE>_API_SECRET``, or ``FEEDHANDLER_<VENUE>_API_SECRET_FILE``: a file holding
  it (a PEM private key, e.g. a Binance Ed25519 key, spans several lines)
- ``FEEDHANDLER_<VENUE>_API_PASSPHRASE`` (OKX, Coinbase legacy keys; optional elsewhere)

A secret is an HMAC secret, or a private key in PEM (``-----BEGIN PRIVATE KEY-----``) where the
venue signs with a key pair (Binance Ed25519 / RSA keys, Coinbase CDP keys); every line of a
PEM's body is redacted on its own as well.

e.g. ``FEEDHANDLER_BINANCE_USDM_API_KEY``. ``from_env`` falls back to the venue's family
(``FEEDHANDLER_BINANCE_API_KEY`` for ``binance-usdm``) when the market-specific ones are unset.
"""

from __future__ import annotations

import os
from typing import NoReturn

from feedhandler.auth.redact import MIN_SECRET_LENGTH, register_secret


class AuthError(RuntimeError):
    """The venue refused the credentials (bad key, bad signature, expired timestamp, no
    permission), or none were given: a typed error, never retried in a loop. Its message
    carries the venue's code and text, never the secret."""

    def __init__(self, venue: str, reason: str, code: int | str | None = None) -> None:
        self.venue = venue
        self.reason = reason
        self.code = code
        detail = f" (code {code})" if code is not None else ""
        super().__init__(f"{venue}: authentication failed{detail}: {reason}")


def env_prefix(venue: str) -> str:
    return "FEEDHANDLER_" + venue.upper().replace("-", "_").replace(".", "_")


def mask(text: str) -> str:
    """What a log may show of an API key: its first 4 characters."""
    return text[:4] + "..." if len(text) > 8 else "***"


class Credentials:
    """``key``, ``secret`` and an optional ``passphrase``; only ``key_hint`` (a masked key)
    is ever printed. Values are kept in name-mangled slots, not in ``__dict__``."""

    __slots__ = ("__key", "__passphrase", "__secret")

    def __init__(self, key: str, secret: str, passphrase: str | None = None) -> None:
        if not key or not secret:
            raise ValueError("Credentials need a non-empty key and secret")
        self.__key = key
        self.__secret = secret
        self.__passphrase = passphrase
        pem_body = [line for line in secret.splitlines() if not line.startswith("-----")] \
            if "-----BEGIN" in secret else []
        for value in (key, secret, passphrase, *pem_body):
            if value is not None and len(value) >= MIN_SECRET_LENGTH:
                register_secret(value)     # redacted wherever the FeedHandler shows text

    @classmethod
    def from_env(cls, venue: str, environ: dict[str, str] | None = None) -> Credentials:
        """Reads the variables named in the module docstring; AuthError when unset."""
        env = os.environ if environ is None else environ
        prefixes = [env_prefix(venue)]
        family = venue.split("-", 1)[0]
        if family != venue:
            prefixes.append(env_prefix(family))
        for prefix in prefixes:
            key, secret = env.get(prefix + "_API_KEY"), env.get(prefix + "_API_SECRET")
            secret_file = env.get(prefix + "_API_SECRET_FILE")
            if key and not secret and secret_file:
                try:
                    with open(secret_file, encoding="ascii") as file:
                        secret = file.read()
                except (OSError, ValueError) as exc:
                    raise AuthError(venue, f"cannot read {prefix}_API_SECRET_FILE: "
                                           f"{type(exc).__name__}") from None
            if key and secret:
                return cls(key, secret, env.get(prefix + "_API_PASSPHRASE") or None)
        names = " or ".join(f"{p}_API_KEY/{p}_API_SECRET" for p in prefixes)
        raise AuthError(venue, f"no credentials given and {names} not set")

    @property
    def key(self) -> str:
        return self.__key

    @property
    def secret(self) -> str:
        return self.__secret

    @property
    def passphrase(self) -> str | None:
        return self.__passphrase

    @property
    def key_hint(self) -> str:
        return mask(self.__key)

    def __repr__(self) -> str:
        return f"Credentials(key={self.key_hint!r}, secret='***'" + (
            ", passphrase='***')" if self.__passphrase else ")")

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Credentials) and (
            (self.__key, self.__secret, self.__passphrase)
            == (other.__key, other.__secret, other.__passphrase))

    def __hash__(self) -> int:
        return hash((self.__key, self.__secret))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Credentials are not picklable: pass them to each process explicitly")

    def __copy__(self) -> Credentials:
        return self

    def __deepcopy__(self, memo: object) -> Credentials:
        return self
