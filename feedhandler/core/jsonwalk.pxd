from feedhandler.core.decoder cimport Decoder


cdef class JsonWalkDecoder(Decoder):
    cdef readonly long long values
    cdef readonly bint walk          # False: the structural index only (stage 1)
