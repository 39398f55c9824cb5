# distutils: language = c++
"""JsonWalkDecoder: the floors a venue decoder is measured against (bench/venues.py).

It decodes nothing: each message is opened with simdjson On-Demand and every value is
visited, scalars taken as raw tokens, with no decimal conversion, no book and no ring. Fed
through a FeedListener like a venue decoder, it costs what a decoder reading every field
through On-Demand pays on this machine: the copy into the padded buffer (and the inflate,
for venues that compress), simdjson's structural index and one walk of every field. With
``walk=False`` only the structural index is built: the part no decoder can avoid.
"""

from libc.stdint cimport int64_t
from libcpp.string_view cimport string_view
from cython.operator cimport dereference as deref, preincrement as inc

from feedhandler.core.ondemand cimport (
    SUCCESS,
    SIMDJSON_PADDING,
    array,
    array_iterator,
    document,
    field,
    json_type,
    object_iterator,
    od_object,
    value,
)


cdef long long walk(value& v) noexcept nogil:
    """Values visited under ``v`` (``v`` included), or -1 if the text is not JSON."""
    cdef json_type kind = json_type.null
    cdef od_object obj
    cdef array arr
    cdef object_iterator it, end
    cdef array_iterator ait, aend
    cdef field f
    cdef value item
    cdef string_view token
    cdef long long count = 1, inner
    if v.type().get(kind) != SUCCESS:
        return -1
    if kind == json_type.object:
        if v.get_object().get(obj) != SUCCESS or obj.begin().get(it) != SUCCESS \
                or obj.end().get(end) != SUCCESS:
            return -1
        while it != end:
            if deref(it).get(f) != SUCCESS:
                return -1
            token = f.escaped_key()
            inner = walk(f.val())
            if inner < 0:
                return -1
            count += inner
            inc(it)
    elif kind == json_type.array:
        if v.get_array().get(arr) != SUCCESS or arr.begin().get(ait) != SUCCESS \
                or arr.end().get(aend) != SUCCESS:
            return -1
        while ait != aend:
            if deref(ait).get(item) != SUCCESS:
                return -1
            inner = walk(item)
            if inner < 0:
                return -1
            count += inner
            inc(ait)
    else:
        token = v.raw_json_token()
        if token.size() == 0:
            return -1
    return count


cdef class JsonWalkDecoder(Decoder):
    """Walks every value of each message; counts values, refuses what is not JSON."""

    def __init__(self, *args, bint walk=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.walk = walk

    cdef int decode(self, const char* buf, size_t n, int64_t ts_receive) except -1:
        cdef document doc
        cdef value root
        cdef long long count
        if self.json.iterate(buf, n, n + SIMDJSON_PADDING).get(doc) != SUCCESS:
            return self.fail("not JSON")
        if not self.walk:
            return 0
        if doc.get_value().get(root) != SUCCESS:
            return self.fail("not JSON")
        count = walk(root)
        if count < 0 or not doc.at_end():
            return self.fail("not JSON")
        self.values += count
        return 0
