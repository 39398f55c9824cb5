"""Inline helpers for venue book checksums: CRC32 over exact decimal text built from the book.

Venues (Kraken, OKX, ...) checksum a text rendering of their top levels. The text is built here
from the book's int64 fixed-point values, never through a double, into a caller's stack buffer,
then hashed with zlib's ``crc32`` (linked into every extension).
"""

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from feedhandler.core.fixedpoint cimport format_decimal

cdef extern from *:
    """
    static const char feedhandler_digit_pairs[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    """
    const char* DIGIT_PAIRS "feedhandler_digit_pairs"

cdef extern from "zlib.h" nogil:
    unsigned long zlib_crc32 "crc32"(unsigned long crc, const unsigned char* buf,
                                     unsigned int length)

cdef enum:
    MAX_DIGITS = 20             # decimal digits of the largest uint64
    MAX_DECIMAL_TEXT = 42       # what format_decimal may write


cdef inline uint32_t crc32_text(uint32_t crc, const char* text, size_t n) noexcept nogil:
    """Continues a CRC32 (start from 0) over ``n`` bytes; the same value as ``zlib.crc32``."""
    return <uint32_t>zlib_crc32(crc, <const unsigned char*>text, <unsigned int>n)


cdef inline size_t write_digits(uint64_t value, char* out) noexcept nogil:
    """The decimal digits of ``value`` without leading zeros ("0" for zero); returns the length.

    ``out`` needs ``MAX_DIGITS`` bytes.
    """
    cdef char scratch[MAX_DIGITS]
    cdef int start = MAX_DIGITS
    cdef unsigned int pair
    while value >= 100:                 # two digits per division
        pair = <unsigned int>(value % 100) * 2
        value //= 100
        start -= 2
        scratch[start] = DIGIT_PAIRS[pair]
        scratch[start + 1] = DIGIT_PAIRS[pair + 1]
    if value >= 10:
        start -= 2
        scratch[start] = DIGIT_PAIRS[value * 2]
        scratch[start + 1] = DIGIT_PAIRS[value * 2 + 1]
    else:
        start -= 1
        scratch[start] = <char>(48 + value)
    memcpy(out, &scratch[start], MAX_DIGITS - start)
    return MAX_DIGITS - start


cdef inline size_t write_decimal(int64_t value, int scale, int frac_digits, char* out) noexcept nogil:
    """``value`` at ``scale`` as decimal text with ``frac_digits`` fraction digits (shortest form
    when negative); returns the length. ``out`` needs ``MAX_DECIMAL_TEXT`` bytes."""
    return format_decimal(value, scale, frac_digits, out)
