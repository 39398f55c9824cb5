"""Secrets out of every text the FeedHandler shows: log lines, status reasons, exceptions.

API secrets, tokens and listen keys (a Binance listen key in a WebSocket URL is a bearer
secret) are registered once, where they are created or loaded; every reason the connection
manager writes from outside input (exceptions, close reasons, venue messages, URLs) passes
through ``redact`` before it is logged, counted or handed to the user. Query strings are
redacted whether registered or not: signatures and keys travel there.
"""

from __future__ import annotations

import re
import threading

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 8     # shorter strings would redact ordinary words

_QUERY_VALUE = re.compile(r"(?<=[?&])([A-Za-z0-9_.\-]+)=[^&\s'\"#]*")
_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(secret: str) -> None:
    """From now on ``secret`` is replaced by ``<redacted>`` wherever ``redact`` runs."""
    global _pattern
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"a secret of fewer than {MIN_SECRET_LENGTH} characters cannot be "
                         "told apart from ordinary text")
    with _lock:
        _secrets.add(secret)
        _pattern = re.compile("|".join(re.escape(s) for s in
                                       sorted(_secrets, key=len, reverse=True)))


def forget_secret(secret: str) -> None:
    """A secret no longer in use (an expired listen key) stops costing a lookup."""
    global _pattern
    with _lock:
        _secrets.discard(secret)
        _pattern = re.compile("|".join(re.escape(s) for s in
                                       sorted(_secrets, key=len, reverse=True))) \
            if _secrets else None


def redact(text: str) -> str:
    """``text`` with every registered secret and every URL query value replaced."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "=" in text:
        text = _QUERY_VALUE.sub(lambda match: f"{match.group(1)}={REDACTED}", text)
    return text
