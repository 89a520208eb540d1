# csrc/ringchan/park.h: a parked thread's short spins, before it sleeps and
# (with a GIL) before it asks for the GIL once woken.

from cpython.pythread cimport PyThread_type_lock

from ._atomic cimport rc_atomic_u64


cdef extern from "ringchan/park.h" nogil:
    bint rcpy_spin_acquire(PyThread_type_lock lock, rc_atomic_u64 *estimate)
    void rcpy_spin_until_parked(const rc_atomic_u64 *parked, rc_atomic_u64 *estimate)
