# The bounded ring of csrc/ringchan/ring.h: what the channel calls directly,
# the gate that permits set.  Pushes and pops go through pyring.h.

from libc.stdint cimport uint64_t


cdef extern from "ringchan/ring.h" nogil:
    ctypedef struct rc_ring:
        pass

    # While the gate is set, pushes take the locked path.
    uint64_t rc_ring_gate(rc_ring *r)
    void rc_ring_ungate(rc_ring *r)
    uint64_t rc_ring_gated_len(const rc_ring *r)
    bint rc_ring_push_gated(rc_ring *r, void *item)
