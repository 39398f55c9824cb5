# distutils: language = c++
"""Python access to the decimal <-> fixed-point conversions in ``fixedpoint.pxd``."""

from libc.stdint cimport int64_t, uint64_t

from feedhandler.core.timestamps cimport parse_timestamp_ns

_MESSAGES = {
    DECIMAL_EMPTY: "empty number",
    DECIMAL_MALFORMED: "malformed number",
    DECIMAL_TOO_PRECISE: "more decimals than the scale allows",
    DECIMAL_OVERFLOW: "number does not fit at this scale",
    DECIMAL_NEGATIVE: "negative number not allowed",
}


class DecimalError(ValueError):
    """A decimal string that cannot be represented exactly at the requested scale."""

    def __init__(self, int status, text):
        self.status = status
        self.text = text
        super().__init__(f"{_MESSAGES.get(status, 'invalid number')}: {text!r}")


EMPTY = DECIMAL_EMPTY
MALFORMED = DECIMAL_MALFORMED
TOO_PRECISE = DECIMAL_TOO_PRECISE
OVERFLOW = DECIMAL_OVERFLOW
NEGATIVE = DECIMAL_NEGATIVE


def to_fixed(text, int scale) -> int:
    """``"0.00100000"`` at scale 8 -> ``100000``; raises DecimalError when not exact."""
    cdef bytes raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    cdef int64_t value = 0
    cdef int status
    if scale < 0 or scale > MAX_SCALE:
        raise ValueError(f"scale must be within 0..{MAX_SCALE}, got {scale}")
    status = parse_decimal_exact(raw, len(raw), scale, &value)
    if status != DECIMAL_OK:
        raise DecimalError(status, text)
    return value


def to_fixed_rounded(text, int scale) -> tuple:
    """What decoders read: ``(value, inexact)``, the value rounded half-even to ``scale`` when
    it has more decimals, and whether that changed it; DecimalError when it does not fit
    int64 or is not a number."""
    cdef bytes raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    cdef int64_t value = 0
    cdef int status
    cdef uint64_t before = decimal_rounding.count
    if scale < 0 or scale > MAX_SCALE:
        raise ValueError(f"scale must be within 0..{MAX_SCALE}, got {scale}")
    status = parse_decimal(raw, len(raw), scale, &value)
    if status != DECIMAL_OK:
        raise DecimalError(status, text)
    return value, decimal_rounding.count != before


def to_text(int64_t value, int scale, int frac_digits=-1) -> str:
    """The exact decimal text of ``value`` at ``scale`` (shortest form unless frac_digits >= 0)."""
    cdef char out[64]
    cdef size_t n
    if scale < 0 or scale > MAX_SCALE:
        raise ValueError(f"scale must be within 0..{MAX_SCALE}, got {scale}")
    if frac_digits > 20:
        raise ValueError("frac_digits must be <= 20")
    n = format_decimal(value, scale, frac_digits, out)
    return out[:n].decode("ascii")


def timestamp_ns(text) -> int:
    """``"2023-02-09T20:32:50.714964855Z"`` -> ns since the epoch (exact, UTC only)."""
    cdef bytes raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    cdef int64_t value = 0
    if parse_timestamp_ns(raw, len(raw), &value) != 0:
        raise ValueError(f"not a UTC RFC 3339 timestamp: {text!r}")
    return value
