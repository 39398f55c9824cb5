from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport parser


cdef class JsonWalkDecoder(Decoder):
    cdef parser json
    cdef readonly long long values
