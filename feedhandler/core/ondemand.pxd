# distutils: language = c++
"""simdjson On-Demand declarations (error-code style, nogil).

Every accessor returns ``simdjson_result[T]`` and the only call made on it is ``.get(out)``,
which returns ``SUCCESS`` (0) or an error code: no C++ exception ever crosses into Cython.
Buffers handed to ``parser.iterate`` must have ``SIMDJSON_PADDING`` readable bytes past the
document (see ``feedhandler.core.buffer``).
"""

from libc.stdint cimport int64_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string_view cimport string_view


cdef extern from "simdjson.h" namespace "simdjson" nogil:
    cdef enum error_code:
        SUCCESS
        CAPACITY
        MEMALLOC
        TAPE_ERROR
        DEPTH_ERROR
        STRING_ERROR
        T_ATOM_ERROR
        F_ATOM_ERROR
        N_ATOM_ERROR
        NUMBER_ERROR
        BIGINT_ERROR
        UTF8_ERROR
        UNINITIALIZED
        EMPTY
        UNESCAPED_CHARS
        UNCLOSED_STRING
        UNSUPPORTED_ARCHITECTURE
        INCORRECT_TYPE
        NUMBER_OUT_OF_RANGE
        INDEX_OUT_OF_BOUNDS
        NO_SUCH_FIELD
        IO_ERROR
        INVALID_JSON_POINTER
        INVALID_URI_FRAGMENT
        UNEXPECTED_ERROR
        PARSER_IN_USE
        OUT_OF_ORDER_ITERATION
        INSUFFICIENT_PADDING
        INCOMPLETE_ARRAY_OR_OBJECT
        SCALAR_DOCUMENT_AS_VALUE
        OUT_OF_BOUNDS
        TRAILING_CONTENT

    const size_t SIMDJSON_PADDING
    const char* error_message(error_code err)

    cdef cppclass simdjson_result[T]:
        error_code get(T& out)
        error_code error()


cdef extern from "simdjson.h" namespace "simdjson::dom" nogil:
    cdef cppclass dom_element "simdjson::dom::element":
        pass

    cdef cppclass dom_parser "simdjson::dom::parser":
        """simdjson's DOM parser: validates a whole document (grammar included)."""
        dom_parser()
        simdjson_result[dom_element] parse(const char* buf, size_t length,
                                           bint realloc_if_needed)
        size_t capacity()


# buffer.pxd pads by a fixed PADDING without including simdjson.h: every module that parses
# with simdjson checks here, at compile time, that the two agree.
cdef extern from *:
    """
    static_assert(simdjson::SIMDJSON_PADDING == 64, "buffer.pxd PADDING must match simdjson");
    """


cdef extern from "simdjson.h" namespace "simdjson::ondemand" nogil:
    cdef enum class json_type "simdjson::ondemand::json_type":
        array
        object
        number
        string
        boolean
        null

    cdef cppclass raw_json_string:
        const char* raw()

    cdef cppclass array
    cdef cppclass od_object "simdjson::ondemand::object"

    cdef cppclass value:
        value()
        simdjson_result[od_object] get_object()
        simdjson_result[array] get_array()
        simdjson_result[string_view] get_string()
        simdjson_result[raw_json_string] get_raw_json_string()
        simdjson_result[int64_t] get_int64()
        simdjson_result[uint64_t] get_uint64()
        simdjson_result[int64_t] get_int64_in_string()
        simdjson_result[double] get_double()
        simdjson_result[cbool] get_bool()
        simdjson_result[cbool] is_null()
        simdjson_result[json_type] type()
        string_view raw_json_token()
        simdjson_result[string_view] raw_json()

    cdef cppclass field:
        field()
        raw_json_string key()
        string_view escaped_key()
        value& val "value"()

    cdef cppclass object_iterator:
        object_iterator()
        simdjson_result[field] operator*()
        object_iterator& operator++()
        cbool operator!=(const object_iterator&)

    cdef cppclass od_object "simdjson::ondemand::object":
        od_object()
        simdjson_result[object_iterator] begin()
        simdjson_result[object_iterator] end()
        simdjson_result[value] find_field(string_view key)
        simdjson_result[value] find_field_unordered(string_view key)

    cdef cppclass array_iterator:
        array_iterator()
        simdjson_result[value] operator*()
        array_iterator& operator++()
        cbool operator!=(const array_iterator&)

    cdef cppclass array:
        array()
        simdjson_result[array_iterator] begin()
        simdjson_result[array_iterator] end()

    cdef cppclass document:
        document()
        simdjson_result[od_object] get_object()
        simdjson_result[array] get_array()
        simdjson_result[value] get_value()
        simdjson_result[json_type] type()
        simdjson_result[string_view] raw_json()
        cbool at_end()
        void rewind()

    cdef cppclass parser:
        parser()
        parser(size_t max_capacity)
        simdjson_result[document] iterate(const char* buf, size_t length, size_t capacity)
        size_t capacity()
