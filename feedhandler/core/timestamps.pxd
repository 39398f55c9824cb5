"""RFC 3339 / ISO 8601 UTC timestamps -> int64 ns since the epoch, without Python objects.

Venues such as Kraken and Coinbase stamp events as text (``2023-02-09T20:32:50.714964855Z``);
this reads them in C. Accepts ``T`` or a space, 0-9 fraction digits, ``Z`` or ``+00:00``.
"""

from libc.stdint cimport int64_t


cdef inline int digits_at(const char* p, int count, int64_t* out) noexcept nogil:
    cdef int i
    cdef int64_t value = 0
    cdef unsigned int d
    for i in range(count):
        d = <unsigned int>(<unsigned char>p[i] - 48)
        if d >= 10:
            return -1
        value = value * 10 + d
    out[0] = value
    return 0


cdef inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline int parse_timestamp_ns(const char* p, size_t n, int64_t* out) noexcept nogil:
    """0 and ``*out`` set, or -1 when the text is not a UTC RFC 3339 timestamp."""
    cdef int64_t year, month, day, hour, minute, second
    cdef int64_t fraction = 0
    cdef size_t i = 19
    cdef int fraction_digits = 0
    cdef unsigned int d
    if n < 20:
        return -1
    if (digits_at(p, 4, &year) or p[4] != b'-' or digits_at(p + 5, 2, &month) or p[7] != b'-'
            or digits_at(p + 8, 2, &day) or (p[10] != b'T' and p[10] != b' ')
            or digits_at(p + 11, 2, &hour) or p[13] != b':' or digits_at(p + 14, 2, &minute)
            or p[16] != b':' or digits_at(p + 17, 2, &second)):
        return -1
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59
            and second <= 60):
        return -1
    if p[i] == b'.':
        i += 1
        while i < n:
            d = <unsigned int>(<unsigned char>p[i] - 48)
            if d >= 10:
                break
            if fraction_digits < 9:
                fraction = fraction * 10 + d
                fraction_digits += 1
            i += 1
        if fraction_digits == 0:
            return -1
        while fraction_digits < 9:
            fraction *= 10
            fraction_digits += 1
    if i + 1 == n and (p[i] == b'Z' or p[i] == b'z'):
        pass
    elif i + 6 == n and (p[i] == b'+' or p[i] == b'-') and p[i + 1] == b'0' and \
            p[i + 2] == b'0' and p[i + 3] == b':' and p[i + 4] == b'0' and p[i + 5] == b'0':
        pass
    else:
        return -1
    out[0] = (((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60
              + second) * 1000000000 + fraction
    return 0
