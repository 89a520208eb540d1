# csrc/ringchan/pyring.h: a channel's buffer of owned references (a ring or
# an unbounded channel's list of blocks, list.h, which only pyring.h uses),
# its mutex, and the build's threading model.

from cpython.object cimport PyTypeObject
from libc.stdint cimport uint64_t

from ._ring cimport rc_ring


cdef extern from "ringchan/pyring.h" nogil:
    ctypedef struct rcpy_buf:
        rc_ring *ring  # a bounded channel's, for its permits' gate
    bint rcpy_buf_unbounded(const rcpy_buf *b)
    int rcpy_buf_init(rcpy_buf *b, uint64_t capacity)
    void rcpy_buf_free(rcpy_buf *b)
    bint rcpy_buf_push(rcpy_buf *b, void *item)
    void *rcpy_buf_pop(rcpy_buf *b)
    void *rcpy_buf_peek(const rcpy_buf *b)
    uint64_t rcpy_buf_len(const rcpy_buf *b)
    uint64_t rcpy_buf_pushed(const rcpy_buf *b)
    uint64_t rcpy_buf_popped(const rcpy_buf *b)
    bint rcpy_buf_gated(const rcpy_buf *b)
    void rcpy_buf_close(rcpy_buf *b)
    bint rcpy_buf_closed(const rcpy_buf *b)

    # A C constant: 1 on a free-threaded build (no GIL), else 0.
    bint RCPY_FREE_THREADED
    void rcpy_fence()

    # A PyMutex without a GIL, nothing with one.
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
