"""Inline helpers venue decoders share to read On-Demand values into exact fixed point.

Cimported only by venue decoders, the modules that include simdjson.h.
"""

from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp

from feedhandler.core.book cimport OrderBook
from feedhandler.core.fixedpoint cimport (
    DECIMAL_EMPTY,
    DECIMAL_MALFORMED,
    DECIMAL_OK,
    INT64_MAX_OVER_POW10,
    POW10,
    decimal_rounding,
    is_8_digits,
    json_number_span,
    parse_8_digits,
    int128,
    parse_decimal,
    parse_decimal128,
    parse_decimal_exact,
    parse_json_decimal,
    parse_json_decimal_exact,
)
from feedhandler.core.ondemand cimport (
    SIMDJSON_PADDING,
    SUCCESS,
    document,
    dom_parser,
    parser,
    value,
)
from libcpp.string_view cimport string_view

cdef extern from *:
    """
    #include <string.h>
    /* Index of the first '"' among eight bytes, 8 if none (SWAR zero-byte test on v ^ '"'). */
    static inline unsigned int feedhandler_quote_in_8(const char* p) {
        unsigned long long v;
        memcpy(&v, p, 8);
        v ^= 0x2222222222222222ULL;
        v = (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;
        return v ? (unsigned int)(__builtin_ctzll(v) >> 3) : 8u;
    }
    static inline int feedhandler_eight_zeros(const char* p) {
        unsigned long long v;
        memcpy(&v, p, 8);
        return v == 0x3030303030303030ULL;
    }
    """
    unsigned int quote_in_8 "feedhandler_quote_in_8"(const char* p) noexcept nogil
    bint eight_zeros "feedhandler_eight_zeros"(const char* p) noexcept nogil


cdef enum LevelStatus:
    LEVELS_OK = 0
    LEVELS_MALFORMED = 1     # not an array of [price, size, ...] pairs of decimals
    LEVELS_REJECTED = 2      # the book refused a level (full, bad price): resync


cdef inline int64_t count_of(const char* p, size_t n) noexcept nogil:
    """A depth or level count written in a channel name (``orderbook.50``, ``mbp.150``,
    ``ob.BTC_USDT.400``): its decimal digits; -1 when they are not all digits."""
    cdef int64_t count = 0
    cdef size_t i
    cdef int digit
    if n == 0 or n > 9:
        return -1
    for i in range(n):
        digit = <unsigned char>p[i] - 48
        if not 0 <= digit <= 9:
            return -1
        count = count * 10 + digit
    return count


cdef inline bint iterate_whole(parser& json, const char* buf, size_t n,
                               document& doc) noexcept nogil:
    """Opens a padded message for On-Demand reading, refusing it unless its brackets balance
    and nothing follows the root value: On-Demand parses only the values asked for, so a
    frame broken past the last field read would otherwise pass. One walk of the structural
    index, no value parsed; then the document is rewound for the real read. Every decode
    opens its message here, so this is also where the message's rounded values start
    counting (``take_inexact`` in rings.pxd)."""
    cdef string_view whole
    decimal_rounding.mark = decimal_rounding.count
    if json.iterate(buf, n, n + SIMDJSON_PADDING).get(doc) != SUCCESS:
        return False
    if doc.raw_json().get(whole) != SUCCESS or not doc.at_end():
        return False
    doc.rewind()
    return True


cdef inline bint iterate_validated(dom_parser& grammar, parser& json, const char* buf,
                                   size_t n, document& doc) noexcept nogil:
    """``iterate_whole`` after a full grammar check. On-Demand's unordered field lookups
    rewind and assume that what they walked before was well formed (a fuzzed OKX account push
    with a missing comma reached simdjson's unreachable code): a decoder that looks fields up
    out of order opens its messages here. A second pass over the message: private streams
    only, where messages are few."""
    if grammar.parse(buf, n, False).error() != SUCCESS:
        return False
    return iterate_whole(json, buf, n, doc)


cdef inline bint key_is(string_view key, const char* literal, size_t n) noexcept nogil:
    return key.size() == n and memcmp(key.data(), literal, n) == 0


cdef inline int token_decimal(string_view token, int scale, int64_t* out) noexcept nogil:
    """A raw JSON token (number or numeric string) -> fixed point, rounded half-even (and
    counted) past the scale; DecimalStatus. Kept tokens let a field be read before the symbol
    that gives its scale; absent is EMPTY."""
    return parse_json_decimal(token.data(), token.size(), scale, out)


cdef inline int token_decimal_exact(string_view token, int scale, int64_t* out) noexcept nogil:
    """``token_decimal`` that refuses (``DECIMAL_TOO_PRECISE``) rather than rounds: a book
    price is a key, and a key rounded onto its neighbour would corrupt the book."""
    return parse_json_decimal_exact(token.data(), token.size(), scale, out)


cdef inline int token_decimal128(string_view token, int scale, int128* out) noexcept nogil:
    """``token_decimal`` into 128 bits (an 18-decimal balance of any real size)."""
    cdef const char* p = token.data()
    cdef size_t n = json_number_span(&p, token.size())
    if n == <size_t>-1:
        return DECIMAL_MALFORMED
    return parse_decimal128(p, n, scale, out)


cdef inline int token_decimal_or_zero(string_view token, int scale, int64_t* out) noexcept nogil:
    """``token_decimal`` where an empty or absent figure (``""``: no fill yet, no fee) reads 0."""
    cdef int status = token_decimal(token, scale, out)
    if status == DECIMAL_EMPTY:
        out[0] = 0
        return DECIMAL_OK
    return status


cdef inline bint read_string(value& v, string_view* out) noexcept nogil:
    """A JSON string's contents (a view into the frame); False if ``v`` is not a string."""
    return v.get_string().get(out[0]) == SUCCESS


cdef inline int read_decimal(value& v, int scale, int64_t* out) noexcept nogil:
    """A JSON number or numeric string -> fixed point (see ``token_decimal``); DecimalStatus."""
    return token_decimal(v.raw_json_token(), scale, out)


cdef inline int read_price_key(value& v, int scale, int64_t* out) noexcept nogil:
    """A book level's price: exact or ``DECIMAL_TOO_PRECISE`` (see ``token_decimal_exact``)."""
    return token_decimal_exact(v.raw_json_token(), scale, out)


cdef inline int read_int(value& v, int64_t* out) noexcept nogil:
    """An integer given as a JSON number or a numeric string (exact: ids, sequences)."""
    return token_decimal_exact(v.raw_json_token(), 0, out)


cdef inline const char* skip_space(const char* p, const char* end) noexcept nogil:
    while p < end and (p[0] == b' ' or p[0] == b'\n' or p[0] == b'\r' or p[0] == b'\t'):
        p += 1
    return p


cdef inline bint number_char(char c) noexcept nogil:
    return <unsigned int>(<unsigned char>c - 48) < 10 or c == b'.' or c == b'-' or c == b'+' \
        or c == b'e' or c == b'E'


cdef inline int parse_text(const char* p, size_t n, int scale, bint exact,
                           int64_t* out) noexcept nogil:
    return parse_decimal_exact(p, n, scale, out) if exact else parse_decimal(p, n, scale, out)


cdef inline const char* scan_decimal_delimited(const char* p, const char* end, int scale,
                                               bint exact, int64_t* out) noexcept nogil:
    """``scan_decimal`` for every shape: the token is delimited, then parsed."""
    cdef const char* start
    cdef unsigned int skip
    if p < end and p[0] == b'"':
        p += 1
        start = p
        while end - p >= 8:
            skip = quote_in_8(p)
            p += skip
            if skip < 8:
                break
        while p < end and p[0] != b'"':
            p += 1
        if p == end or parse_text(start, <size_t>(p - start), scale, exact, out) != DECIMAL_OK:
            return NULL
        return p + 1
    start = p
    while p < end and number_char(p[0]):
        p += 1
    if parse_text(start, <size_t>(p - start), scale, exact, out) != DECIMAL_OK:
        return NULL
    return p


cdef inline const char* scan_common_decimal(const char* p, const char* end, int scale,
                                            int64_t* out) noexcept nogil:
    """The shape venues send, quoted or bare, at ``p`` -> ``*out``: digits, then '.' and at
    most ``scale`` fraction digits (then only zeros), 19 digits in all, converted in the pass that finds its end
    (eight fraction digits per step). The position after it; NULL for any other text, which
    the caller hands to ``parse_decimal`` (every value given here is also its value)."""
    cdef bint quoted = p < end and p[0] == b'"'
    cdef const char* start = p + 1 if quoted else p
    cdef const char* q = start
    cdef const char* fraction
    cdef uint64_t value = 0
    cdef unsigned int d
    cdef int shift = scale
    while q < end:
        d = <unsigned int>(<unsigned char>q[0] - 48)
        if d >= 10:
            break
        value = value * 10 + d
        q += 1
    if q == start or q - start > 19:
        return NULL
    if q < end and q[0] == b'.':
        q += 1
        fraction = q
        while end - q >= 8 and (q - fraction) + 8 <= scale and is_8_digits(q):
            value = value * 100000000 + parse_8_digits(q)
            q += 8
        while q < end and q - fraction < scale:
            d = <unsigned int>(<unsigned char>q[0] - 48)
            if d >= 10:
                break
            value = value * 10 + d
            q += 1
        if q == fraction or q - start - 1 > 19:
            return NULL
        shift = scale - <int>(q - fraction)
        while end - q >= 8 and eight_zeros(q):      # "0.01000000" at scale 2
            q += 8
        while q < end and q[0] == b'0':
            q += 1
    if quoted:
        if q == end or q[0] != b'"':
            return NULL
        q += 1
    elif q < end and number_char(q[0]):
        return NULL
    if <unsigned int>shift > 18 or value > INT64_MAX_OVER_POW10[shift]:
        return NULL
    out[0] = <int64_t>(value * POW10[shift])
    return q


cdef inline const char* scan_decimal(const char* p, const char* end, int scale, bint exact,
                                     int64_t* out) noexcept nogil:
    """A quoted or bare decimal at ``p`` -> ``*out``, refused past the scale when ``exact``,
    else rounded and counted; the position after it, NULL if malformed or refused."""
    cdef const char* q = scan_common_decimal(p, end, scale, out)
    return q if q != NULL else scan_decimal_delimited(p, end, scale, exact, out)


cdef inline const char* skip_scalar(const char* p, const char* end) noexcept nogil:
    """Skips a string, number, true, false or null; NULL for anything else (arrays, objects)."""
    cdef const char* start = p
    if p == end:
        return NULL
    if p[0] == b'"':
        p += 1
        while p < end and p[0] != b'"':
            p += 2 if p[0] == b'\\' else 1
        return p + 1 if p < end else NULL
    if end - p >= 4 and (memcmp(p, b"true", 4) == 0 or memcmp(p, b"null", 4) == 0):
        return p + 4
    if end - p >= 5 and memcmp(p, b"false", 5) == 0:
        return p + 5
    while p < end and number_char(p[0]):
        p += 1
    return p if p != start else NULL


cdef inline int apply_pair_levels(value& levels, OrderBook book, int side, int price_scale,
                                  int size_scale) noexcept nogil:
    """Applies ``[[price, size, ...], ...]`` to one side; size 0 deletes the level. A price
    past the scale is refused (``LEVELS_MALFORMED``: the caller resyncs the book), a size past
    it is rounded and counted.

    On-Demand costs several calls per element, so the array's text is taken once (which also
    moves the document past it) and scanned here, strictly: price and size are decimals,
    quoted or bare; further elements must be scalars and are ignored; whitespace only where
    JSON allows it. The scan never leaves the array's text.
    """
    cdef string_view raw
    cdef const char* p
    cdef const char* end
    cdef int64_t price, size
    if levels.raw_json().get(raw) != SUCCESS:
        return LEVELS_MALFORMED
    p = raw.data()
    end = p + raw.size()
    if p == end or p[0] != b'[':
        return LEVELS_MALFORMED
    p = skip_space(p + 1, end)
    if p < end and p[0] == b']':
        p += 1
    else:
        while True:
            if p == end or p[0] != b'[':
                return LEVELS_MALFORMED
            p = scan_decimal(skip_space(p + 1, end), end, price_scale, True, &price)
            if p == NULL:
                return LEVELS_MALFORMED
            p = skip_space(p, end)
            if p == end or p[0] != b',':
                return LEVELS_MALFORMED
            p = scan_decimal(skip_space(p + 1, end), end, size_scale, False, &size)
            if p == NULL:
                return LEVELS_MALFORMED
            p = skip_space(p, end)
            while p < end and p[0] == b',':
                p = skip_scalar(skip_space(p + 1, end), end)
                if p == NULL:
                    return LEVELS_MALFORMED
                p = skip_space(p, end)
            if p == end or p[0] != b']':
                return LEVELS_MALFORMED
            if book.apply_level(side, price, size) != 0:
                return LEVELS_REJECTED
            p = skip_space(p + 1, end)
            if p < end and p[0] == b',':
                p = skip_space(p + 1, end)
                continue
            if p < end and p[0] == b']':
                p += 1
                break
            return LEVELS_MALFORMED
    return LEVELS_OK if skip_space(p, end) == end else LEVELS_MALFORMED
