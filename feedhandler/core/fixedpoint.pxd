"""Exact decimal text <-> int64 fixed point.

A value ``v`` at scale ``s`` stands for ``v / 10**s``. Parsing never goes through a double:
the digits are accumulated as an integer, so ``"0.00100000"`` at scale 8 is exactly 100000.
Inline so that every venue decoder gets it without a cross-module call.
"""

from libc.stdint cimport int64_t, uint64_t

cdef enum DecimalStatus:
    DECIMAL_OK = 0
    DECIMAL_EMPTY = 1          # no characters
    DECIMAL_MALFORMED = 2      # not a decimal number
    DECIMAL_TOO_PRECISE = 3    # non-zero digits beyond the scale
    DECIMAL_OVERFLOW = 4       # does not fit int64 at this scale
    DECIMAL_NEGATIVE = 5       # a minus sign where the caller forbids it

cdef extern from *:
    """
    static const unsigned long long feedhandler_pow10[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};
    static const unsigned long long feedhandler_int64_max_over_pow10[19] = {
        9223372036854775807ULL, 922337203685477580ULL, 92233720368547758ULL,
        9223372036854775ULL, 922337203685477ULL, 92233720368547ULL, 9223372036854ULL,
        922337203685ULL, 92233720368ULL, 9223372036ULL, 922337203ULL, 92233720ULL, 9223372ULL,
        922337ULL, 92233ULL, 9223ULL, 922ULL, 92ULL, 9ULL};
    #include <string.h>
    /* Eight ASCII digits at once (SWAR): the check and the conversion of one 8-byte load. */
    static inline int feedhandler_is_8_digits(const char* p) {
        unsigned long long v;
        memcpy(&v, p, 8);
        return (((v + 0x4646464646464646ULL) | (v - 0x3030303030303030ULL))
                & 0x8080808080808080ULL) == 0;
    }
    static inline unsigned long long feedhandler_parse_8_digits(const char* p) {
        unsigned long long v;
        memcpy(&v, p, 8);
        v -= 0x3030303030303030ULL;
        v = (v * 10) + (v >> 8);
        v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
             (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
        return v;
    }
    """
    bint is_8_digits "feedhandler_is_8_digits"(const char* p) noexcept nogil
    uint64_t parse_8_digits "feedhandler_parse_8_digits"(const char* p) noexcept nogil
    const uint64_t* POW10 "feedhandler_pow10"
    const uint64_t* INT64_MAX_OVER_POW10 "feedhandler_int64_max_over_pow10"

cdef const int MAX_SCALE = 18
cdef const uint64_t INT64_MAX_U = 9223372036854775807ULL


cdef inline uint64_t parse_digits(const char* p, size_t n) noexcept nogil:
    """The value of ``n`` <= 19 ASCII digits, eight at a time where possible."""
    cdef uint64_t value = 0
    cdef size_t i = 0
    while i + 8 <= n:
        value = value * 100000000 + parse_8_digits(p + i)
        i += 8
    while i < n:
        value = value * 10 + <unsigned int>(<unsigned char>p[i] - 48)
        i += 1
    return value


cdef inline int decimal_digits(uint64_t value) noexcept nogil:
    cdef int digits = 1
    while digits < 20 and value >= POW10[digits]:
        digits += 1
    return digits


cdef inline int parse_decimal_general(const char* p, size_t n, int scale,
                                      int64_t* out) noexcept nogil:
    """``parse_decimal`` for every shape, with every error status.

    At most 19 significant digits fit a uint64 with no overflow check in the digit loops.
    Fraction zeros are folded into the mantissa only when a non-zero digit follows, so
    trailing zeros ("0.00100000") cost nothing and never overflow. Eight digits are
    converted per step (SWAR) where the text allows.
    """
    cdef size_t i = 0
    cdef size_t start, first
    cdef bint negative = False
    cdef uint64_t mantissa = 0
    cdef uint64_t chunk
    cdef int exponent = 0          # value = mantissa * 10**exponent
    cdef int significant           # digits in the mantissa after its leading zeros
    cdef int pending_zeros = 0     # fraction zeros not yet folded into the mantissa
    cdef int exp_value = 0, exp_digits = 0
    cdef bint exp_negative = False
    cdef unsigned int d
    cdef int shift
    if n == 0:
        return DECIMAL_EMPTY
    if p[0] == b'-':
        negative = True
        i = 1
    start = i
    while i < n and <unsigned int>(<unsigned char>p[i] - 48) < 10:
        i += 1
    if i == start:
        return DECIMAL_MALFORMED
    first = start
    while first < i and p[first] == b'0':
        first += 1
    significant = <int>(i - first)
    if significant > 19:
        return DECIMAL_OVERFLOW
    mantissa = parse_digits(p + first, i - first)
    if i < n and p[i] == b'.':
        i += 1
        start = i
        while significant + pending_zeros + 8 <= 19 and i + 8 <= n and is_8_digits(p + i):
            chunk = parse_8_digits(p + i)
            i += 8
            if chunk == 0:
                pending_zeros += 8
                continue
            if mantissa == 0:
                significant = decimal_digits(chunk)
            else:
                significant += pending_zeros + 8
            mantissa = mantissa * POW10[pending_zeros + 8] + chunk
            exponent -= pending_zeros + 8
            pending_zeros = 0
        while i < n:
            d = <unsigned int>(<unsigned char>p[i] - 48)
            if d >= 10:
                break
            i += 1
            if d == 0:
                pending_zeros += 1
                continue
            significant = 1 if mantissa == 0 else significant + pending_zeros + 1
            if significant > 19:
                return DECIMAL_TOO_PRECISE if <int>(i - start) > scale else DECIMAL_OVERFLOW
            # leading fraction zeros are only counted: they may be more than POW10 holds
            mantissa = d if mantissa == 0 else mantissa * POW10[pending_zeros + 1] + d
            exponent -= pending_zeros + 1
            pending_zeros = 0
        if i == start:
            return DECIMAL_MALFORMED
    if i < n and (p[i] == b'e' or p[i] == b'E'):
        i += 1
        if i < n and (p[i] == b'+' or p[i] == b'-'):
            exp_negative = p[i] == b'-'
            i += 1
        while i < n and <unsigned int>(<unsigned char>p[i] - 48) < 10:
            if exp_value < 10000:
                exp_value = exp_value * 10 + <int>(p[i] - 48)
            exp_digits += 1
            i += 1
        if exp_digits == 0:
            return DECIMAL_MALFORMED
        exponent += -exp_value if exp_negative else exp_value
    if i != n:
        return DECIMAL_MALFORMED
    if mantissa == 0:
        out[0] = 0
        return DECIMAL_OK
    shift = exponent + scale
    if shift > 0:
        if shift > 18 or mantissa > INT64_MAX_OVER_POW10[shift]:
            return DECIMAL_OVERFLOW
        mantissa *= POW10[shift]
    elif shift < 0:
        if shift < -19 or mantissa % POW10[-shift] != 0:
            return DECIMAL_TOO_PRECISE
        mantissa //= POW10[-shift]
    if mantissa > INT64_MAX_U:
        return DECIMAL_OVERFLOW
    out[0] = -<int64_t>mantissa if negative else <int64_t>mantissa
    return DECIMAL_OK


cdef inline int parse_decimal(const char* p, size_t n, int scale, int64_t* out) noexcept nogil:
    """``-?digits(.digits)?([eE][+-]?digits)?`` -> ``*out`` at ``scale``; returns a DecimalStatus.

    Venues almost always send ``digits.digits`` with no more fraction digits than the scale
    and at most 19 digits in all, which converts with no leading-zero, pending-zero or
    exponent bookkeeping; everything else (signs, exponents, trailing zeros past the scale,
    long mantissas, every error) goes through ``parse_decimal_general``.
    """
    cdef size_t i = 0, fraction, j
    cdef uint64_t value = 0
    cdef unsigned int d
    cdef int shift
    while i < n:
        d = <unsigned int>(<unsigned char>p[i] - 48)
        if d >= 10:
            break
        value = value * 10 + d
        i += 1
    if i == 0 or i > 19:
        return parse_decimal_general(p, n, scale, out)
    shift = scale
    if i < n:
        if p[i] != b'.':
            return parse_decimal_general(p, n, scale, out)
        fraction = i + 1
        if n - fraction == 0 or n - fraction > <size_t>scale or n - 1 > 19:
            return parse_decimal_general(p, n, scale, out)
        j = fraction
        while j + 8 <= n and is_8_digits(p + j):
            j += 8
        while j < n and <unsigned int>(<unsigned char>p[j] - 48) < 10:
            j += 1
        if j != n:
            return parse_decimal_general(p, n, scale, out)
        value = value * POW10[n - fraction] + parse_digits(p + fraction, n - fraction)
        shift = scale - <int>(n - fraction)
    if <unsigned int>shift > 18 or value > INT64_MAX_OVER_POW10[shift]:
        return parse_decimal_general(p, n, scale, out)
    out[0] = <int64_t>(value * POW10[shift])
    return DECIMAL_OK


cdef inline int parse_json_decimal(const char* p, size_t n, int scale, int64_t* out) noexcept nogil:
    """The same for a raw JSON token: a number, or a quoted string, with trailing whitespace."""
    while n > 0 and (p[n - 1] == b' ' or p[n - 1] == b'\n' or p[n - 1] == b'\r' or p[n - 1] == b'\t'):
        n -= 1
    if n >= 2 and p[0] == b'"':
        if p[n - 1] != b'"':
            return DECIMAL_MALFORMED
        return parse_decimal(p + 1, n - 2, scale, out)
    return parse_decimal(p, n, scale, out)


cdef inline size_t format_decimal(int64_t value, int scale, int frac_digits, char* out) noexcept nogil:
    """Writes ``value`` at ``scale`` into ``out`` (at least 42 bytes); returns the length.

    ``frac_digits < 0`` writes the shortest exact form (``"0.001"``, ``"5"``); otherwise exactly
    that many fraction digits, which must be >= the significant ones (``format(1000, 8, 2)``
    -> ``"0.00"`` only if the dropped digits are zero; excess digits are truncated otherwise).
    """
    cdef char digits[24]
    cdef int nd = 0
    cdef size_t pos = 0
    cdef uint64_t mag
    cdef int i, last, int_len, frac_len
    if value < 0:
        out[0] = b'-'
        pos = 1
        mag = <uint64_t>(-(value + 1)) + 1
    else:
        mag = <uint64_t>value
    while True:
        digits[nd] = <char>(48 + mag % 10)
        nd += 1
        mag //= 10
        if mag == 0:
            break
    while nd <= scale:
        digits[nd] = b'0'
        nd += 1
    int_len = nd - scale
    for i in range(int_len):
        out[pos] = digits[nd - 1 - i]
        pos += 1
    if frac_digits < 0:
        last = 0
        while last < scale and digits[last] == b'0':
            last += 1
        frac_len = scale - last
    else:
        frac_len = frac_digits
    if frac_len > 0:
        out[pos] = b'.'
        pos += 1
        for i in range(frac_len):
            out[pos] = digits[scale - 1 - i] if i < scale else b'0'
            pos += 1
    return pos
