# The portable atomics of csrc/ringchan/atomic.h that the channel's own
# fields use.

from libc.stdint cimport uint64_t


cdef extern from "ringchan/atomic.h" nogil:
    ctypedef struct rc_atomic_u64:
        pass

    uint64_t rc_load_relaxed(const rc_atomic_u64 *a)
    uint64_t rc_load_acquire(const rc_atomic_u64 *a)
    void rc_store_relaxed(rc_atomic_u64 *a, uint64_t v)
    void rc_store_release(rc_atomic_u64 *a, uint64_t v)
    uint64_t rc_fetch_add_relaxed(rc_atomic_u64 *a, uint64_t v)
