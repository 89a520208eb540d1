# The C ring buffer of csrc/ringchan, as the Cython channel uses it.

from cpython.object cimport PyTypeObject
from libc.stdint cimport uint64_t


cdef extern from "ringchan/pyring.h" nogil:
    ctypedef struct rc_ring:
        pass

    int rc_ring_init(rc_ring *r, uint64_t capacity)
    void rc_ring_free(rc_ring *r)
    bint rc_ring_push(rc_ring *r, void *item)
    size_t rc_ring_push_many(rc_ring *r, void **items, size_t n)
    void *rc_ring_pop(rc_ring *r)
    size_t rc_ring_pop_many(rc_ring *r, void **out, size_t n)
    uint64_t rc_ring_len(const rc_ring *r)


cdef extern from "ringchan/pyring.h":
    # These drop references to the buffered items: the GIL must be held.
    Py_ssize_t rcpy_ring_clear(rc_ring *r)
    Py_ssize_t rcpy_ring_push_list(rc_ring *r, list items, Py_ssize_t start)
    list rcpy_ring_pop_list(rc_ring *r, Py_ssize_t n)
    void rcpy_install_gc(PyTypeObject *type, Py_ssize_t ring_offset)
