"""Exact decimal text <-> int64 fixed point.

A value ``v`` at scale ``s`` stands for ``v / 10**s``. Parsing never goes through a double:
the digits are accumulated as an integer, so ``"0.00100000"`` at scale 8 is exactly 100000.
Inline so that every venue decoder gets it without a cross-module call.

``parse_decimal`` never refuses a value for its decimals: one with more than the scale holds
(HTX prints float amounts such as ``338177.27271633345``) is rounded half-even to the scale and
counted in ``decimal_rounding`` (one per module that cimports this file, see ``Rounding``), so
that the row it lands on can be flagged inexact and the message counted. ``parse_decimal_exact``
refuses it instead (``DECIMAL_TOO_PRECISE``): for book prices, which are keys and must be exact.
"""

cimport cython
from libc.stdint cimport int64_t, uint64_t

cdef enum DecimalStatus:
    DECIMAL_OK = 0
    DECIMAL_EMPTY = 1          # no characters
    DECIMAL_MALFORMED = 2      # not a decimal number
    DECIMAL_TOO_PRECISE = 3    # non-zero digits beyond the scale (exact parsing only)
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
    #include <stdint.h>
    /* Eight ASCII digits at once (SWAR): the check and the conversion of one 8-byte load. */
    static inline int feedhandler_is_8_digits(const char* p) {
        unsigned long long v;
        memcpy(&v, p, 8);
        return (((v + 0x4646464646464646ULL) | (v - 0x3030303030303030ULL))
                & 0x8080808080808080ULL) == 0;
    }
    /* Values rounded by this module's decoders: ``count`` only grows; ``mark`` is ``count``
       when the current message (or ring row) began, so count != mark means "rounded since".
       One per extension module (static): a module's decoders run on one thread. */
    typedef struct { unsigned long long count; unsigned long long mark; } feedhandler_rounding_t;
    static feedhandler_rounding_t feedhandler_rounding = {0, 0};
    typedef unsigned __int128 feedhandler_u128;
    typedef __int128 feedhandler_i128;
    static inline void feedhandler_split128(feedhandler_i128 v, int64_t* low, int64_t* high) {
        *low = (int64_t)(uint64_t)v;
        *high = (int64_t)(v >> 64);
    }
    static inline feedhandler_u128 feedhandler_pow10_wide(int k) {
        feedhandler_u128 v = 1;
        while (k-- > 0) v *= 10;
        return v;
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
    ctypedef struct Rounding "feedhandler_rounding_t":
        uint64_t count
        uint64_t mark
    Rounding decimal_rounding "feedhandler_rounding"
    # 128-bit integers (GCC/Clang): declared as the widest Cython integer, computed in C
    ctypedef unsigned long long uint128 "feedhandler_u128"
    ctypedef long long int128 "feedhandler_i128"
    uint128 pow10_wide "feedhandler_pow10_wide"(int k) noexcept nogil
    void split128 "feedhandler_split128"(int128 v, int64_t* low, int64_t* high) noexcept nogil

cdef const int MAX_SCALE = 18
cdef const uint64_t INT64_MAX_U = 9223372036854775807ULL
cdef const int WIDE_DIGITS = 38     # significant digits a uint128 holds with room to spare


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


cdef inline bint read_exponent(const char* p, size_t n, size_t* at, int* exponent) noexcept nogil:
    """Adds an ``e``/``E`` exponent starting at ``p[at[0]]``, if there is one, to ``exponent``
    and moves ``at`` past it; False for an exponent without digits (malformed)."""
    cdef size_t i = at[0]
    cdef int value = 0, digits = 0
    cdef bint negative = False
    if i >= n or (p[i] != b'e' and p[i] != b'E'):
        return True
    i += 1
    if i < n and (p[i] == b'+' or p[i] == b'-'):
        negative = p[i] == b'-'
        i += 1
    while i < n and <unsigned int>(<unsigned char>p[i] - 48) < 10:
        if value < 10000:
            value = value * 10 + <int>(p[i] - 48)
        digits += 1
        i += 1
    at[0] = i
    exponent[0] += -value if negative else value
    return digits != 0


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
    if not read_exponent(p, n, &i, &exponent) or i != n:
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


cdef inline int parse_decimal_exact(const char* p, size_t n, int scale,
                                    int64_t* out) noexcept nogil:
    """``-?digits(.digits)?([eE][+-]?digits)?`` -> ``*out`` at ``scale``; returns a DecimalStatus,
    ``DECIMAL_TOO_PRECISE`` for a value the scale cannot hold exactly.

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


@cython.cdivision(True)
cdef inline int parse_decimal_wide(const char* p, size_t n, int scale, uint128* magnitude,
                                   bint* negative, bint* inexact) noexcept nogil:
    """Any decimal text -> its magnitude at ``scale`` rounded half-even, its sign, and whether
    rounding changed it. Up to 38 significant digits are kept in a uint128 (digits past them
    only break ties); a result of 10**38 or more is ``DECIMAL_OVERFLOW``. The slow path: only
    values that the exact parsers refuse (or 128-bit balances) come here."""
    cdef size_t i = 0, start
    cdef uint128 mantissa = 0, divisor, remainder, half
    cdef int significant = 0       # digits in the mantissa, after its leading zeros
    cdef int exponent = 0          # value = (mantissa + tail) * 10**exponent
    cdef int pending_zeros = 0     # fraction zeros not yet folded into the mantissa
    cdef bint sticky = False       # a non-zero digit past the kept ones (the tail)
    cdef int shift
    cdef unsigned int d
    negative[0] = False
    inexact[0] = False
    if n == 0:
        return DECIMAL_EMPTY
    if p[0] == b'-':
        negative[0] = True
        i = 1
    start = i
    while i < n:
        d = <unsigned int>(<unsigned char>p[i] - 48)
        if d >= 10:
            break
        i += 1
        if significant < WIDE_DIGITS:
            if mantissa != 0 or d != 0:
                mantissa = mantissa * 10 + d
                significant += 1
        else:
            exponent += 1
            sticky = sticky or d != 0
    if i == start:
        return DECIMAL_MALFORMED
    if i < n and p[i] == b'.':
        i += 1
        start = i
        while i < n:
            d = <unsigned int>(<unsigned char>p[i] - 48)
            if d >= 10:
                break
            i += 1
            if mantissa == 0:
                exponent -= 1
                mantissa = d
                significant = 1 if d else 0
            elif d == 0:
                pending_zeros += 1
            elif significant + pending_zeros < WIDE_DIGITS:
                mantissa = mantissa * pow10_wide(pending_zeros + 1) + d
                exponent -= pending_zeros + 1
                significant += pending_zeros + 1
                pending_zeros = 0
            else:
                sticky = True
        if i == start:
            return DECIMAL_MALFORMED
    if not read_exponent(p, n, &i, &exponent) or i != n:
        return DECIMAL_MALFORMED
    if mantissa == 0:
        magnitude[0] = 0
        return DECIMAL_OK
    shift = exponent + scale
    if shift >= 0:
        # a tail here lies below 38 kept digits: the result has 38 or more digits anyway
        if sticky or significant + shift > WIDE_DIGITS:
            return DECIMAL_OVERFLOW
        magnitude[0] = mantissa * pow10_wide(shift)
        return DECIMAL_OK
    inexact[0] = True
    if -shift > WIDE_DIGITS:            # below a tenth of a unit: rounds to 0
        magnitude[0] = 0
        return DECIMAL_OK
    divisor = pow10_wide(-shift)
    remainder = mantissa % divisor
    mantissa = mantissa / divisor
    half = divisor / 2
    if remainder > half or (remainder == half and (sticky or (mantissa & 1))):
        mantissa += 1
    elif remainder == 0 and not sticky:
        inexact[0] = False              # trailing zeros past the scale
    magnitude[0] = mantissa
    return DECIMAL_OK


cdef inline int parse_decimal_rounded(const char* p, size_t n, int scale,
                                      int64_t* out) noexcept nogil:
    """``parse_decimal_wide`` into int64; a value that rounding changed counts in
    ``decimal_rounding``."""
    cdef uint128 magnitude = 0
    cdef bint negative, inexact
    cdef int status = parse_decimal_wide(p, n, scale, &magnitude, &negative, &inexact)
    if status != DECIMAL_OK:
        return status
    if magnitude > INT64_MAX_U:
        return DECIMAL_OVERFLOW
    out[0] = -<int64_t>magnitude if negative else <int64_t>magnitude
    if inexact:
        decimal_rounding.count += 1
    return DECIMAL_OK


cdef inline int parse_decimal128(const char* p, size_t n, int scale, int128* out) noexcept nogil:
    """``parse_decimal`` into 128 bits (up to 38 digits: an 18-decimal balance of any real
    size); rounded values are counted the same way."""
    cdef uint128 magnitude = 0
    cdef bint negative, inexact
    cdef int status = parse_decimal_wide(p, n, scale, &magnitude, &negative, &inexact)
    if status != DECIMAL_OK:
        return status
    out[0] = -<int128>magnitude if negative else <int128>magnitude
    if inexact:
        decimal_rounding.count += 1
    return DECIMAL_OK


cdef inline int parse_decimal(const char* p, size_t n, int scale, int64_t* out) noexcept nogil:
    """``parse_decimal_exact``, except that a value with more decimals than the scale (or more
    than 19 significant digits) is rounded half-even to the scale and counted in
    ``decimal_rounding`` rather than refused; the exact path is unchanged and pays one
    comparison."""
    cdef int status = parse_decimal_exact(p, n, scale, out)
    if status == DECIMAL_TOO_PRECISE or status == DECIMAL_OVERFLOW:
        return parse_decimal_rounded(p, n, scale, out)
    return status


cdef inline size_t json_number_span(const char** p, size_t n) noexcept nogil:
    """A raw JSON token (a number, or a quoted string, with trailing whitespace) -> the text
    of its number: ``*p`` moved past an opening quote, the length returned; ``(size_t)-1``
    for a string whose quotes do not match."""
    cdef const char* q = p[0]
    while n > 0 and (q[n - 1] == b' ' or q[n - 1] == b'\n' or q[n - 1] == b'\r' or q[n - 1] == b'\t'):
        n -= 1
    if n >= 2 and q[0] == b'"':
        if q[n - 1] != b'"':
            return <size_t>-1
        p[0] = q + 1
        return n - 2
    return n


cdef inline int parse_json_decimal(const char* p, size_t n, int scale, int64_t* out) noexcept nogil:
    """``parse_decimal`` (rounding) for a raw JSON token."""
    n = json_number_span(&p, n)
    if n == <size_t>-1:
        return DECIMAL_MALFORMED
    return parse_decimal(p, n, scale, out)


cdef inline int parse_json_decimal_exact(const char* p, size_t n, int scale,
                                         int64_t* out) noexcept nogil:
    """``parse_decimal_exact`` (refusing) for a raw JSON token: book prices."""
    n = json_number_span(&p, n)
    if n == <size_t>-1:
        return DECIMAL_MALFORMED
    return parse_decimal_exact(p, n, scale, out)


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
