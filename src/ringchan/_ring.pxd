# The channel's C buffer of csrc/ringchan (a ring, or an unbounded channel's
# list of blocks) and the atomics around it, as the Cython channel uses them.

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
    ctypedef struct rc_list:
        pass

    # The gate of a bounded ring, for permits (ring.h): while it is set,
    # pushes take the locked path.
    uint64_t rc_ring_gate(rc_ring *r)
    void rc_ring_ungate(rc_ring *r)
    uint64_t rc_ring_gated_len(const rc_ring *r)
    bint rc_ring_push_gated(rc_ring *r, void *item)

    # A channel's buffer: its ring, or an unbounded channel's list (pyring.h).
    ctypedef struct rcpy_buf:
        rc_ring *ring
        rc_list *list
    int rcpy_buf_init(rcpy_buf *b, uint64_t capacity)
    void rcpy_buf_free(rcpy_buf *b)
    bint rcpy_buf_push(rcpy_buf *b, void *item)
    void *rcpy_buf_pop(rcpy_buf *b)
    void *rcpy_buf_peek(const rcpy_buf *b)
    uint64_t rcpy_buf_len(const rcpy_buf *b)
    uint64_t rcpy_buf_pushed(const rcpy_buf *b)
    uint64_t rcpy_buf_popped(const rcpy_buf *b)
    bint rcpy_buf_gated(const rcpy_buf *b)

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
    Py_ssize_t rcpy_buf_clear(rcpy_buf *b)
    Py_ssize_t rcpy_buf_push_list(rcpy_buf *b, list items, Py_ssize_t start)
    Py_ssize_t rcpy_buf_pop_into(rcpy_buf *b, list out)
    void rcpy_install_gc(PyTypeObject *type, Py_ssize_t buf_offset)
