"""Inline helpers venue decoders share to read On-Demand values into exact fixed point.

Cimported only by venue decoders, the modules that include simdjson.h.
"""

from libc.stdint cimport int64_t
from libc.string cimport memcmp

from feedhandler.core.book cimport OrderBook
from feedhandler.core.fixedpoint cimport DECIMAL_OK, parse_json_decimal
from feedhandler.core.ondemand cimport (
    SUCCESS,
    array,
    array_iterator,
    error_code,
    json_type,
    value,
)
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

cdef enum LevelStatus:
    LEVELS_OK = 0
    LEVELS_MALFORMED = 1     # not an array of [price, size, ...] pairs of decimals
    LEVELS_REJECTED = 2      # the book refused a level (full, bad price): resync


cdef inline bint key_is(string_view key, const char* literal, size_t n) noexcept nogil:
    return key.size() == n and memcmp(key.data(), literal, n) == 0


cdef inline int read_decimal(value& v, int scale, int64_t* out) noexcept nogil:
    """A JSON number or numeric string -> exact fixed point; DecimalStatus (0 = ok)."""
    cdef string_view token = v.raw_json_token()
    return parse_json_decimal(token.data(), token.size(), scale, out)


cdef inline int read_int(value& v, int64_t* out) noexcept nogil:
    """An integer given as a JSON number or a numeric string."""
    cdef string_view token = v.raw_json_token()
    return parse_json_decimal(token.data(), token.size(), 0, out)


cdef inline int apply_pair_levels(value& levels, OrderBook book, int side, int price_scale,
                                  int size_scale) noexcept nogil:
    """Applies ``[[price, size, ...], ...]`` to one side; size 0 deletes the level."""
    cdef array outer, pair
    cdef array_iterator it, end, pit, pend
    cdef value item, field
    cdef int64_t price, size
    if levels.get_array().get(outer) != SUCCESS:
        return LEVELS_MALFORMED
    if outer.begin().get(it) != SUCCESS or outer.end().get(end) != SUCCESS:
        return LEVELS_MALFORMED
    while it != end:
        if deref(it).get(item) != SUCCESS or item.get_array().get(pair) != SUCCESS:
            return LEVELS_MALFORMED
        if pair.begin().get(pit) != SUCCESS or pair.end().get(pend) != SUCCESS:
            return LEVELS_MALFORMED
        if not (pit != pend) or deref(pit).get(field) != SUCCESS:
            return LEVELS_MALFORMED
        if read_decimal(field, price_scale, &price) != DECIMAL_OK:
            return LEVELS_MALFORMED
        inc(pit)
        if not (pit != pend) or deref(pit).get(field) != SUCCESS:
            return LEVELS_MALFORMED
        if read_decimal(field, size_scale, &size) != DECIMAL_OK:
            return LEVELS_MALFORMED
        inc(pit)
        while pit != pend:
            if deref(pit).get(field) != SUCCESS:
                return LEVELS_MALFORMED
            inc(pit)
        if book.apply_level(side, price, size) != 0:
            return LEVELS_REJECTED
        inc(it)
    return LEVELS_OK
