# The C ring buffer of csrc/ringchan and the atomics around it, as the
# Cython channel uses them.

from cpython.object cimport PyObject, PyTypeObject
from libc.stdint cimport uint64_t


cdef extern from "ringchan/pyring.h" nogil:
    ctypedef struct rc_atomic_u64:
        pass

    uint64_t rc_load_relaxed(const rc_atomic_u64 *a)
    uint64_t rc_load_acquire(const rc_atomic_u64 *a)
    void rc_store_relaxed(rc_atomic_u64 *a, uint64_t v)
    void rc_store_release(rc_atomic_u64 *a, uint64_t v)
    uint64_t rc_fetch_add_relaxed(rc_atomic_u64 *a, uint64_t v)

    ctypedef struct rc_ring:
        pass

    rc_ring *rc_ring_new(uint64_t capacity)
    void rc_ring_delete(rc_ring *r)
    bint rc_ring_push(rc_ring *r, void *item)
    void *rc_ring_pop(rc_ring *r)
    void *rc_ring_peek(const rc_ring *r)
    size_t rc_ring_pop_many(rc_ring *r, void **out, size_t n)
    uint64_t rc_ring_len(const rc_ring *r)
    uint64_t rc_ring_pushed(const rc_ring *r)
    uint64_t rc_ring_popped(const rc_ring *r)

    # A C constant: 1 on a free-threaded build (no GIL), else 0.
    bint RCPY_FREE_THREADED
    void rcpy_fence()

    # The channel's mutex: a PyMutex without a GIL, nothing with one.
    ctypedef struct rcpy_mutex:
        pass
    void rcpy_mutex_lock(rcpy_mutex *m)
    void rcpy_mutex_unlock(rcpy_mutex *m)
    void rcpy_share_refcount(object op)


cdef extern from "ringchan/pyring.h":
    # These drop references to the buffered items: hold the GIL (attach).
    Py_ssize_t rcpy_ring_clear(rc_ring *r)
    Py_ssize_t rcpy_ring_push_list(rc_ring *r, list items, Py_ssize_t start)
    Py_ssize_t rcpy_ring_pop_into(rc_ring *r, list out)
    void rcpy_install_gc(PyTypeObject *type, Py_ssize_t ring_offset)
