from feedhandler.core.decoder cimport Decoder
from feedhandler.core.ondemand cimport parser


cdef class JsonWalkDecoder(Decoder):
    cdef parser json
    cdef readonly long long values
    cdef readonly bint walk          # False: the structural index only (stage 1)
