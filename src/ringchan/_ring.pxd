# The C ring buffer of csrc/ringchan, as the Cython channel uses it.

from cpython.object cimport PyTypeObject
from libc.stdint cimport uint64_t


cdef extern from "ringchan/pyring.h" nogil:
    ctypedef struct rc_ring:
        pass

    int rc_ring_init(rc_ring *r, uint64_t capacity)
    void rc_ring_free(rc_ring *r)
    bint rc_ring_push(rc_ring *r, void *item)
    void *rc_ring_pop(rc_ring *r)
    uint64_t rc_ring_len(const rc_ring *r)


cdef extern from "ringchan/pyring.h":
    # These drop references to the buffered items: the GIL must be held.
    Py_ssize_t rcpy_ring_clear(rc_ring *r)
    void rcpy_install_gc(PyTypeObject *type, Py_ssize_t ring_offset)
