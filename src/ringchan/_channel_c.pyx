# cython: freethreading_compatible = True
"""The C channel: the lock-free buffers of csrc/ringchan driven from Cython.

A bounded channel buffers in a ring; an unbounded one in a list of blocks
(both lock-free, both behind pyring.h's ``rcpy_buf``).

Same API and behaviour as the pure-Python reference in ``_channel_py``.

Correct with or without a GIL.  Three kinds of state, three rules:

- Items move through the C buffer, lock-free: producers claim a slot with a
  CAS and publish it; the single consumer's pops are serialized by a
  critical section on the channel core (free on a GIL build).  The rest of
  the consumer's state shares that section: a peek, which takes its own
  reference to the head item before any pop can free it; the items a
  cancelled ``batches()`` step handed back (``stash``, received before the
  ring's; its length is an atomic, so the hot path checks it without the
  section); and the stream position of the last peek.  Counts (sent,
  received) are the ring's positions, so the hot path counts nothing.
- Flags read on every operation (the receiver is parked, how many senders
  are parked, handles closed, the sender count) are atomics, written only
  while the channel's mutex is held.
- The rest of a parked task or thread's state (the receiver's slot, the
  queue of parked senders) and the count of slots held by permits are
  guarded by the channel's mutex (``rcpy_mutex`` of pyring.h), taken on the
  slow path only: never by a push or a pop that succeeds at once.  While
  permits are outstanding the ring is gated (ring.h): lock-free pushes are
  refused and every push takes the mutex and counts the reserved slots, so
  items plus reservations never exceed the capacity.  No Python code runs
  while it is held (no call, no allocation, no reference dropped that could
  be the last), so a finalizer can never find it held by its own thread.
  The wait_closed list is a list that is never replaced, safe by its own
  lock.

No wake-up is lost between "the ring was empty" and "I am parked": a side
that must wait registers its waiter under the mutex, then looks at the ring
once more (after a full barrier on a free-threaded build), and unregisters
if that second look finds work.  The other side publishes to the ring first,
then (after the same barrier) reads the parked flag.  Of two threads each
storing then loading, at least one sees the other's store.

A close and a push are linearizable: the receiver's close (and the last
sender's) sets a closed bit in the buffer's own position word, by CAS, under
the mutex and before anything buffered is dropped, and every push refuses
once it sees it.  A push therefore either claimed its slot before the close
or fails with Closed; the hot path reads no closed flag of the receiver.

A parked thread spins a moment before it sleeps on its lock, and with a GIL
once more after its wake-up, for its waker to park and let the GIL go
(park.h): a handoff between two threads then costs no system call on
either side (a thread-to-thread run of 400,000 items went from about 1,570
futex calls to about 30).  Each spin is bounded and adapts, per channel, to
whether it paid off recently; a wake-up is never delayed by it, and a thread
whose waker does not answer sleeps as before.  With a GIL it is made only
for a waker that parks as a thread (see _wait).  What remains under a GIL
is the cache traffic of each full ring moving between two cores: on one
core, the same run moved 1.3x to 2x as many items a second in our runs.

The hot paths reach the core through their handle (``self.core``), never
through a local reference: without a GIL, the reference-count updates of
the producer's and the consumer's threads on the one core would otherwise
meet on one cache line.

A wake-up is a Python call (``loop.call_soon_threadsafe``) and can raise.
The operation that issues it has already moved its items, so it succeeds
all the same: the wake-up is tried once more; if that fails too, the waiter
is put back where it was, still registered, and the error goes to
``sys.unraisablehook``.  Such a waiter is marked owed, and a side about to
park first wakes an owed one, so it is woken by the next operation on the
channel whichever side makes it.
"""

cimport cython
from cpython.exc cimport PyErr_CheckSignals, PyErr_WarnEx
from cpython.object cimport PyObject, PyTypeObject
from cpython.pythread cimport (
    NOWAIT_LOCK,
    PY_LOCK_ACQUIRED,
    PY_LOCK_FAILURE,
    PyLockStatus,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_release_lock,
    PyThread_type_lock,
)
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_REFCNT
from libc.stdint cimport uint64_t

from ._atomic cimport (
    rc_atomic_u64,
    rc_fetch_add_relaxed,
    rc_load_acquire,
    rc_load_relaxed,
    rc_store_relaxed,
    rc_store_release,
)
from ._park cimport rcpy_spin_acquire, rcpy_spin_until_parked
from ._pyawait cimport rcpy_install_step
from ._pyloop cimport (
    rcpy_loop_running,
    rcpy_running_loop,
    rcpy_set_running_loop_getter,
    rcpy_write_unraisable,
)
from ._pyring cimport (
    RCPY_FREE_THREADED,
    rcpy_buf,
    rcpy_buf_clear,
    rcpy_buf_close,
    rcpy_buf_closed,
    rcpy_buf_free,
    rcpy_buf_gated,
    rcpy_buf_init,
    rcpy_buf_len,
    rcpy_buf_peek,
    rcpy_buf_pop,
    rcpy_buf_pop_into,
    rcpy_buf_popped,
    rcpy_buf_push,
    rcpy_buf_push_list,
    rcpy_buf_pushed,
    rcpy_buf_unbounded,
    rcpy_fence,
    rcpy_install_gc,
    rcpy_mutex,
    rcpy_mutex_lock,
    rcpy_mutex_unlock,
    rcpy_share_refcount,
)
from ._ring cimport rc_ring_gate, rc_ring_gated_len, rc_ring_push_gated, rc_ring_ungate

import asyncio
import sys
from collections.abc import Sequence
from time import monotonic
from types import GenericAlias

from . import _bridge, _messages, _oneshot
from ._args import MAX_CAPACITY, check_capacity, check_max_items, check_timeout
from ._batches import Batches
from ._errors import Closed, Empty, Full, send_timeout
from ._pair import PairMaker
from ._stats import ChannelStats
from ._transaction import Transaction

__all__ = (
    "Permit",
    "Receiver",
    "Sender",
    "WeakSender",
    "channel",
    "from_iterable",
    "oneshot",
    "unbounded_channel",
)


cdef extern from "pythread.h":
    PyLockStatus PyThread_acquire_lock_timed(
        PyThread_type_lock lock, long long microseconds, int intr_flag) nogil
    unsigned long PyThread_get_thread_ident()


cdef extern from "Python.h":
    PyObject *PyList_New(Py_ssize_t size)
    Py_ssize_t PY_SSIZE_T_MAX
    Py_ssize_t PyList_GET_SIZE(object list)
    PyObject *PyList_GET_ITEM(object list, Py_ssize_t i)
    void Py_IncRef(PyObject *o)
    void Py_DecRef(PyObject *o)


rcpy_set_running_loop_getter(asyncio._get_running_loop)
cdef object _NOTHING = object()
# Kept in C: at interpreter exit the module's globals may be gone first.
cdef object _is_finalizing = sys.is_finalizing
cdef str _FAILED_WAKE = (
    "ringchan: waking a task parked on another thread's event loop "
    "(the operation itself succeeded; the waiter stays registered)"
)


def _resolve(fut):
    if not fut.done():
        fut.set_result(None)


cdef object _running_loop():
    """asyncio.get_running_loop(), without its module and attribute lookups."""
    loop = rcpy_running_loop()
    if loop is None:
        raise RuntimeError("no running event loop")
    return loop


cdef inline bint _flag(rc_atomic_u64 *flag) noexcept nogil:
    return rc_load_acquire(flag) != 0


@cython.final
@cython.no_gc_clear
cdef class _Waiter:
    """A task parked on its loop (fut) or a thread parked on a lock.

    Parked senders form a queue linked through ``next``/``prev``, ordered by
    ``ticket``: a woken sender beaten to the room parks again at its old
    place.  ``left`` is set once its owner no longer waits on it, so it is
    never put back after a failed wake-up.  Every field but the first five
    is guarded by the channel's mutex.  Never cleared by the collector: the
    queue's ``prev`` links are not references.
    """

    cdef object fut
    cdef object loop
    cdef unsigned long thread
    cdef PyThread_type_lock lock
    cdef PyObject *owner  # the Sender a parked send goes through (identity only)
    cdef unsigned long long ticket
    cdef _Waiter next
    cdef PyObject *prev
    cdef bint queued
    cdef bint left

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)


cdef _Waiter _loop_waiter(object loop, object owner):
    cdef _Waiter waiter = _Waiter.__new__(_Waiter)
    waiter.loop = loop
    waiter.fut = loop.create_future()
    waiter.thread = PyThread_get_thread_ident()
    waiter.owner = <PyObject *>owner
    return waiter


cdef _Waiter _thread_waiter(object owner):
    cdef _Waiter waiter = _Waiter.__new__(_Waiter)
    waiter.lock = PyThread_allocate_lock()
    if waiter.lock == NULL:
        raise MemoryError("cannot allocate a lock for a blocked thread")
    # Held from the start: the parked thread blocks on it until a wake releases it.
    PyThread_acquire_lock(waiter.lock, NOWAIT_LOCK)
    waiter.owner = <PyObject *>owner
    return waiter


cdef int _wake(_Waiter waiter, rc_atomic_u64 *across) except -1:
    """Wake waiter: 1, or 0 when it is a task whose loop is closed, which
    will never run again, so the wake-up is still to give to someone.
    A wake-up sent to another thread is counted in *across."""
    if waiter.lock != NULL:
        PyThread_release_lock(waiter.lock)
        rc_fetch_add_relaxed(across, 1)
        return 1
    try:
        if waiter.thread == PyThread_get_thread_ident():
            fut = waiter.fut
            if not fut.done():
                fut.set_result(None)
        else:
            waiter.loop.call_soon_threadsafe(_resolve, waiter.fut)
            rc_fetch_add_relaxed(across, 1)
    except RuntimeError:
        if not waiter.loop.is_closed():
            raise
        return 0
    return 1


cdef bint _dead(_Waiter waiter) except -1:
    """A task parked on a loop that is closed: it can never run again."""
    return waiter.lock == NULL and waiter.loop.is_closed()


cdef int _wait(_Waiter waiter, double deadline, _Core core, bint sender) except -1:
    """Block with the GIL released: 1 once woken, 0 at the deadline (< 0: none).

    A short spin comes first, and with a GIL another once woken, for the
    waker (the other side) to park (park.h), their lengths adapted per
    channel.  With a GIL both spins wait for a thread that parks, which
    lets the GIL go at once; a waker on an event loop keeps it through its
    loop's own work, and spinning for it was measured to halve the
    throughput of a thread sending to a task (its wake-ups per item more
    than doubled), so the spins are made only while the other side last
    parked as a thread.  Whether there is a GIL is asked at run time: a
    free-threaded build runs with one under ``PYTHON_GIL=1``.  Signals are
    handled while sleeping, so Ctrl-C interrupts the main thread.
    """
    cdef PyThread_type_lock lock = waiter.lock
    cdef long long microseconds
    cdef PyLockStatus status
    cdef bint woken = False
    cdef rc_atomic_u64 *waker_parked = &core.rx_parked if sender else &core.tx_parked
    cdef bint gil = not RCPY_FREE_THREADED or _gil_enabled()
    cdef bint spin = not gil or rc_load_relaxed(
        &core.rx_blocking if sender else &core.tx_blocking) != 0
    if spin:
        with nogil:
            woken = rcpy_spin_acquire(lock, &core.spin)
            if woken and gil:
                rcpy_spin_until_parked(waker_parked, &core.spin_gil)
        if woken:
            return 1
    while True:
        if deadline < 0:
            microseconds = -1
        else:
            microseconds = <long long>(max(deadline - monotonic(), 0.0) * 1e6)
        with nogil:
            status = PyThread_acquire_lock_timed(lock, microseconds, 1)
            if status == PY_LOCK_ACQUIRED and spin and gil:
                rcpy_spin_until_parked(waker_parked, &core.spin_gil)
        if status == PY_LOCK_ACQUIRED:
            return 1
        if status == PY_LOCK_FAILURE:
            return 0
        PyErr_CheckSignals()


cdef object _is_gil_enabled = getattr(sys, "_is_gil_enabled", None)


cdef bint _gil_enabled() except -1:
    """Whether a GIL is on now (3.13 and later can tell; before, always)."""
    return _is_gil_enabled is None or _is_gil_enabled()


cdef inline int _check_not_in_loop(str what, str instead) except -1:
    if rcpy_loop_running():
        raise RuntimeError(_messages.blocks_loop(what, instead))
    return 0


cdef Py_ssize_t _max_items(object max_items) except -1:
    # No call can take more than a full ring, so larger requests clamp.
    return min(check_max_items(max_items), MAX_CAPACITY)


cdef double _deadline(object timeout) except? -2:
    seconds = check_timeout(timeout)
    return -1.0 if seconds is None else monotonic() + seconds


cdef _unusable(bint awaited):
    if awaited:
        raise RuntimeError(_messages.REUSED)
    raise TypeError("ringchan awaitables come from Sender and Receiver methods")


cdef _reraise(typ, val, tb):
    if val is None:
        val = typ if isinstance(typ, BaseException) else typ()
    elif not isinstance(val, BaseException):
        val = typ(val)
    if tb is not None:
        raise val.with_traceback(tb)
    raise val


cdef enum _Slot:
    # Where a waiter is registered, to be put back there if waking it fails.
    SENDERS
    RECEIVER
    CLOSED_LIST


@cython.final
@cython.no_gc_clear
cdef class _Core:
    """State shared by every handle of one channel (see the module docstring
    for what guards each field).

    The collector sees the buffered items through the traverse/clear slots
    that pyring.h installs on this type.
    """

    cdef rcpy_buf buf  # the ring, or an unbounded channel's list of blocks
    cdef Py_ssize_t capacity
    cdef rcpy_mutex lock
    cdef rc_atomic_u64 senders
    cdef rc_atomic_u64 rx_closed
    cdef rc_atomic_u64 rx_parked  # rx_waiter is not None
    cdef rc_atomic_u64 tx_parked  # waiters queued from tx_first
    cdef rc_atomic_u64 owed  # bits of _Slot: a failed wake-up left a waiter there
    cdef _Waiter rx_waiter
    cdef _Waiter tx_first
    cdef PyObject *tx_last
    cdef unsigned long long tickets
    cdef list closed_waiters
    # Consumer side, under the critical section on the core:
    cdef list stash  # items handed back by Receiver._unget, received before the ring's
    cdef rc_atomic_u64 stashed  # len(stash), for the hot path to read without the section
    cdef unsigned long long peeked  # 1 + the stream position peek() last returned, or 0
    cdef tuple end_error  # (exception, traceback) that ended the stream, or None
    cdef rc_atomic_u64 wakeups  # wake-ups sent to another thread
    # Slots held by permits: written under the mutex, read without it only
    # as a hint (room); the ring is gated while it is not 0.
    cdef rc_atomic_u64 reserved
    cdef rc_atomic_u64 weak_senders  # WeakSender handles alive
    # How long a parked thread spins before it sleeps, and (with a GIL)
    # once woken before it asks for the GIL: park.h's estimates.
    cdef rc_atomic_u64 spin
    cdef rc_atomic_u64 spin_gil
    # Whether the receiver, and the sender, last parked as a thread (not a
    # task): with a GIL, only such a waker is worth spinning for (_wait).
    cdef rc_atomic_u64 rx_blocking
    cdef rc_atomic_u64 tx_blocking

    def __cinit__(self, Py_ssize_t capacity):
        """A bounded channel's core, or an unbounded one's for capacity 0."""
        if rcpy_buf_init(&self.buf, capacity) < 0:
            raise MemoryError(
                f"cannot allocate a ring of {capacity} items" if capacity
                else "cannot allocate an unbounded channel"
            )
        # Unbounded: room is never short, and no permit is ever counted.
        self.capacity = capacity if capacity else PY_SSIZE_T_MAX
        rc_store_release(&self.senders, 1)
        self.closed_waiters = []

    def __dealloc__(self):
        rcpy_buf_clear(&self.buf)
        rcpy_buf_free(&self.buf)

    cdef object bound(self):
        """The capacity, or None for an unbounded channel."""
        return None if rcpy_buf_unbounded(&self.buf) else self.capacity

    cdef inline Py_ssize_t length(self) noexcept:
        """Items in the buffer (what bounds the senders)."""
        return <Py_ssize_t>rcpy_buf_len(&self.buf)

    cdef inline Py_ssize_t room(self) noexcept:
        """Items a send may enqueue now, permits counted (a snapshot)."""
        return (self.capacity - <Py_ssize_t>rcpy_buf_len(&self.buf)
                - <Py_ssize_t>rc_load_relaxed(&self.reserved))

    cdef inline Py_ssize_t buffered(self) noexcept:
        """Items still to receive: the ring's and any handed back."""
        return <Py_ssize_t>(rcpy_buf_len(&self.buf) + rc_load_relaxed(&self.stashed))

    cdef inline uint64_t received(self) noexcept:
        """The stream position of the next item to receive."""
        return rcpy_buf_popped(&self.buf) - rc_load_relaxed(&self.stashed)

    cdef inline bint ended(self) noexcept:
        """Nothing is buffered and nothing more can arrive."""
        # The flags first: a sender closes after publishing its last item.
        if rc_load_acquire(&self.senders) != 0 and not _flag(&self.rx_closed):
            return False
        return self.buffered() == 0

    cdef object end(self, _OpKind mode):
        """Raise the end of the stream for a receive of kind mode."""
        if self.end_error is not None and not _flag(&self.rx_closed):
            error, traceback = self.end_error
            raise error.with_traceback(traceback)
        if mode == RECV_NEXT:
            raise StopAsyncIteration
        if _flag(&self.rx_closed):
            raise Closed(_messages.ENDED_BY_RECEIVER)
        raise Closed(_messages.ENDED_BY_SENDERS)

    # --- the queue of parked senders (mutex held) ----------------------------

    cdef void enqueue(self, _Waiter waiter) noexcept:
        """Queue waiter at its ticket's place: the back for a first park."""
        cdef _Waiter after = None
        cdef _Waiter before
        if self.tx_last != NULL and (<_Waiter>self.tx_last).ticket > waiter.ticket:
            before = self.tx_first
            while before.ticket < waiter.ticket:
                after = before
                before = before.next
        else:
            if self.tx_last != NULL:
                after = <_Waiter>self.tx_last
            before = None
        waiter.next = before
        waiter.prev = <PyObject *>after if after is not None else NULL
        if before is None:
            self.tx_last = <PyObject *>waiter
        else:
            before.prev = <PyObject *>waiter
        if after is None:
            self.tx_first = waiter
        else:
            after.next = waiter
        waiter.queued = True
        rc_store_release(&self.tx_parked, rc_load_relaxed(&self.tx_parked) + 1)

    cdef void unlink(self, _Waiter waiter) noexcept:
        """Take waiter out of the queue; the caller holds a reference to it."""
        cdef _Waiter after = <_Waiter>waiter.prev if waiter.prev != NULL else None
        cdef _Waiter before = waiter.next
        if before is None:
            self.tx_last = waiter.prev
        else:
            before.prev = waiter.prev
        if after is None:
            self.tx_first = before
        else:
            after.next = before
        waiter.next = None
        waiter.prev = NULL
        waiter.queued = False
        rc_store_release(&self.tx_parked, rc_load_relaxed(&self.tx_parked) - 1)

    # --- permits: the gated path (see ring.h) ------------------------------------

    cdef Py_ssize_t push_gated(self, list items, Py_ssize_t start) except -2:
        """Enqueue items[start:] through the gate as the exact room allows,
        permits counted; -1 if the gate opened meanwhile (push lock-free).
        The caller holds the list's critical section."""
        cdef Py_ssize_t pushed = 0
        cdef Py_ssize_t n = PyList_GET_SIZE(items) - start
        cdef Py_ssize_t room
        cdef PyObject *item
        rcpy_mutex_lock(&self.lock)
        if not rcpy_buf_gated(&self.buf):
            rcpy_mutex_unlock(&self.lock)
            return -1
        room = (self.capacity - <Py_ssize_t>rc_ring_gated_len(self.buf.ring)
                - <Py_ssize_t>rc_load_relaxed(&self.reserved))
        while pushed < n and pushed < room:
            item = PyList_GET_ITEM(items, start + pushed)
            Py_IncRef(item)
            if not rc_ring_push_gated(self.buf.ring, item):
                Py_DecRef(item)  # the list holds it: never the last reference
                break
            pushed += 1
        rcpy_mutex_unlock(&self.lock)
        return pushed

    cdef bint reserve(self, Sender tx, Py_ssize_t count) except -1:
        """Reserve count slots now: True, or False for want of room; raise
        Closed if sends through tx must fail."""
        cdef bint refused
        cdef bint done = False
        cdef Py_ssize_t reserved
        rcpy_mutex_lock(&self.lock)
        refused = _flag(&tx.closed) or _flag(&self.rx_closed)
        if not refused and rcpy_buf_unbounded(&self.buf):
            done = True  # unbounded: there is always room
        elif not refused:
            # Gated first: from then on the count below is exact.
            rc_ring_gate(self.buf.ring)
            reserved = <Py_ssize_t>rc_load_relaxed(&self.reserved)
            if self.capacity - <Py_ssize_t>rc_ring_gated_len(self.buf.ring) - reserved >= count:
                rc_store_relaxed(&self.reserved, reserved + count)
                done = True
            elif reserved == 0:
                rc_ring_ungate(self.buf.ring)
        rcpy_mutex_unlock(&self.lock)
        if refused:
            raise Closed(tx.refusal())
        return done

    cdef Py_ssize_t unreserve(self, Py_ssize_t count) noexcept:
        """Give count reserved slots back (mutex held); the gate opens with the last."""
        cdef uint64_t reserved
        if rcpy_buf_unbounded(&self.buf):
            return count
        reserved = rc_load_relaxed(&self.reserved) - count
        rc_store_relaxed(&self.reserved, reserved)
        if reserved == 0:
            rc_ring_ungate(self.buf.ring)
        return count

    # --- parking ---------------------------------------------------------------

    cdef bint take_owed(self, _Slot slot) except -1:
        """Whether a failed wake-up left a waiter in slot; clears the mark."""
        cdef uint64_t owed
        if not (rc_load_acquire(&self.owed) & (1 << slot)):
            return False
        rcpy_mutex_lock(&self.lock)
        owed = rc_load_relaxed(&self.owed)
        rc_store_release(&self.owed, owed & ~(1 << slot))
        rcpy_mutex_unlock(&self.lock)
        return (owed >> slot) & 1

    cdef bint park_tx(self, Sender tx, _Waiter waiter) except -1:
        """Queue a sender's waiter; False if its sends must fail instead.

        A receiver a failed wake-up left owed is woken once the waiter is
        queued: whatever it does then, this sender's second look follows."""
        cdef bint refused
        rcpy_mutex_lock(&self.lock)
        refused = _flag(&tx.closed) or _flag(&self.rx_closed)
        if not refused:
            if waiter.ticket == 0:
                self.tickets += 1
                waiter.ticket = self.tickets
            self.enqueue(waiter)
            rc_store_relaxed(&self.tx_blocking, waiter.lock != NULL)
        rcpy_mutex_unlock(&self.lock)
        if refused:
            return False
        rcpy_fence()
        try:
            if self.take_owed(RECEIVER) and self.length():
                self.wake_rx()
        except BaseException:
            self.abandon(waiter)
            raise
        return True

    cdef int park_rx(self, Receiver rx, _Waiter waiter) except -1:
        """Register the receiver's waiter; raise if another receive waits."""
        cdef _Waiter current
        cdef bint gone
        if self.take_owed(SENDERS):
            self.wake_tx(self.room())
        while True:
            rcpy_mutex_lock(&self.lock)
            current = self.rx_waiter
            if current is None:
                self.rx_waiter = waiter
                rc_store_release(&self.rx_parked, 1)
                rc_store_relaxed(&self.rx_blocking, waiter.lock != NULL)
            else:
                gone = current.left
            rcpy_mutex_unlock(&self.lock)
            if current is None:
                rcpy_fence()
                return 0
            if not (gone or _dead(current)):
                raise rx.busy()
            # A waiter nobody waits on any more gives its slot up.
            rcpy_mutex_lock(&self.lock)
            if self.rx_waiter is current:
                self.rx_waiter = None
                rc_store_release(&self.rx_parked, 0)
            rcpy_mutex_unlock(&self.lock)

    cdef int leave(self, _Waiter waiter) except -1:
        """waiter's owner waits no more: unregister it if it still is."""
        rcpy_mutex_lock(&self.lock)
        waiter.left = True
        if waiter.queued:
            self.unlink(waiter)
        elif self.rx_waiter is waiter:
            self.rx_waiter = None
            rc_store_release(&self.rx_parked, 0)
        rcpy_mutex_unlock(&self.lock)
        return 0

    cdef int abandon(self, _Waiter waiter) except -1:
        """A parked sender gives up (cancelled, timed out, or found room on
        its own): unregister it; if it was already woken, pass the wake-up
        on."""
        cdef bint woken
        rcpy_mutex_lock(&self.lock)
        waiter.left = True
        woken = not waiter.queued
        if not woken:
            self.unlink(waiter)
        rcpy_mutex_unlock(&self.lock)
        if woken and self.room() > 0:
            self.wake_tx(1)
        return 0

    # --- waking ------------------------------------------------------------------

    cdef int deliver(self, _Waiter waiter, _Slot slot) except -1:
        """Wake waiter, registered in slot until now (see the module
        docstring on failures): 1 once woken or put back, 0 when its loop is
        closed."""
        cdef int woken = 1
        try:
            return _wake(waiter, &self.wakeups)
        except BaseException as exc:
            if _is_finalizing():
                # Exiting: a loop left in a daemon thread never runs again.
                return 0
            error = exc
        try:
            woken = _wake(waiter, &self.wakeups)
        except BaseException:
            if slot == CLOSED_LIST:
                self.closed_waiters.append(waiter)
            else:
                rcpy_mutex_lock(&self.lock)
                if waiter.left:
                    pass
                elif slot == SENDERS:
                    self.enqueue(waiter)
                    rc_store_release(&self.owed, rc_load_relaxed(&self.owed) | (1 << SENDERS))
                elif self.rx_waiter is None:
                    self.rx_waiter = waiter
                    rc_store_release(&self.rx_parked, 1)
                    rc_store_release(&self.owed, rc_load_relaxed(&self.owed) | (1 << RECEIVER))
                rcpy_mutex_unlock(&self.lock)
        rcpy_write_unraisable(error, _FAILED_WAKE)
        return woken

    cdef int wake_rx(self) except -1:
        cdef _Waiter waiter
        rcpy_mutex_lock(&self.lock)
        waiter = self.rx_waiter
        if waiter is not None:
            self.rx_waiter = None
            rc_store_release(&self.rx_parked, 0)
        rcpy_mutex_unlock(&self.lock)
        if waiter is not None:
            self.deliver(waiter, RECEIVER)
        return 0

    cdef int wake_tx(self, Py_ssize_t count) except -1:
        """Wake up to count parked senders, oldest first; tasks whose loop
        is closed are dropped rather than counted."""
        cdef _Waiter waiter
        while count > 0:
            rcpy_mutex_lock(&self.lock)
            waiter = self.tx_first
            if waiter is not None:
                self.unlink(waiter)
            rcpy_mutex_unlock(&self.lock)
            if waiter is None:
                return 0
            count -= self.deliver(waiter, SENDERS)
        return 0

    cdef int deliver_chain(self, _Waiter chain) except -1:
        """Wake every waiter of a chain detached from the queue."""
        cdef _Waiter waiter
        while chain is not None:
            waiter = chain
            chain = waiter.next
            waiter.next = None
            self.deliver(waiter, SENDERS)
        return 0

    # --- closing -------------------------------------------------------------------

    cdef int release_sender(self, Sender tx) except -1:
        """Close tx (once): fail its parked sends; end the stream after the
        last sender.  Other handles' parked senders keep their places."""
        cdef _Waiter chain = None
        cdef _Waiter waiter
        cdef _Waiter later
        cdef _Waiter rx_waiter = None
        rcpy_mutex_lock(&self.lock)
        if _flag(&tx.closed):
            rcpy_mutex_unlock(&self.lock)
            return 0
        rc_store_release(&tx.closed, 1)
        rc_store_release(&self.senders, rc_load_relaxed(&self.senders) - 1)
        waiter = self.tx_first
        while waiter is not None:
            later = waiter.next
            if waiter.owner == <PyObject *>tx:
                self.unlink(waiter)
                waiter.next = chain
                chain = waiter
            waiter = later
        if rc_load_relaxed(&self.senders) == 0:
            # A send racing the close of its own handle on another thread
            # is then refused by the buffer, never left behind the end.
            rcpy_buf_close(&self.buf)
            rx_waiter = self.rx_waiter
            self.rx_waiter = None
            rc_store_release(&self.rx_parked, 0)
        rcpy_mutex_unlock(&self.lock)
        self.deliver_chain(chain)
        if rx_waiter is not None:
            self.deliver(rx_waiter, RECEIVER)
        return 0

    cdef int close_rx(self, bint drop_items) except -1:
        """Refuse further sends and wake everyone parked.  Called again, it
        wakes whoever a failed wake-up left registered."""
        cdef _Waiter chain
        cdef _Waiter waiter
        cdef _Waiter rx_waiter
        cdef list closed_waiters
        rcpy_mutex_lock(&self.lock)
        rc_store_release(&self.rx_closed, 1)
        # Before anything is dropped: a push either got in before this, and
        # is dropped with the rest, or is refused (ring.h, list.h).
        rcpy_buf_close(&self.buf)
        chain = self.tx_first
        self.tx_first = None
        self.tx_last = NULL
        rc_store_release(&self.tx_parked, 0)
        waiter = chain
        while waiter is not None:
            waiter.queued = False
            waiter.prev = NULL
            waiter = waiter.next
        rx_waiter = self.rx_waiter
        self.rx_waiter = None
        rc_store_release(&self.rx_parked, 0)
        rcpy_mutex_unlock(&self.lock)
        self.deliver_chain(chain)
        # The list is never replaced, so wait_closed may read the field
        # without the mutex; a waiter added after this copy sees rx_closed.
        closed_waiters = list(self.closed_waiters)
        for waiter in closed_waiters:
            try:
                self.closed_waiters.remove(waiter)
            except ValueError:
                continue  # its wait_closed already ended
            self.deliver(waiter, CLOSED_LIST)
        if rx_waiter is not None:
            self.deliver(rx_waiter, RECEIVER)
        if drop_items:
            # After the close: a finalizer run by a dropped item cannot send.
            rc_store_relaxed(&self.stashed, 0)
            self.stash = None
            rcpy_buf_clear(&self.buf)
        return 0


cdef Py_ssize_t _ring_offset():
    cdef _Core probe = _Core(1)
    return <char *>&probe.buf - <char *><PyObject *>probe


rcpy_install_gc(<PyTypeObject *>_Core, _ring_offset())


# The collector never clears the handles' cores or the awaitables (finalizers
# and close() may still use them on a collected cycle), so a handle's core is
# never None, and an awaitable's handle is None only once it has finished.

cdef enum _OpKind:
    # Zero, the kind of an _Op not made by a handle method: never a fast path.
    UNMADE
    RECV_ONE
    RECV_MANY
    RECV_NEXT
    SEND_ONE
    SEND_MANY
    PEEK
    RESERVE  # max_items: the slots to reserve


cdef str _method_name(_OpKind kind):
    if kind == SEND_ONE:
        return "Sender.send()"
    if kind == SEND_MANY:
        return "Sender.send_many()"
    if kind == RECV_ONE:
        return "Receiver.recv()"
    if kind == RECV_MANY:
        return "Receiver.recv_many()"
    if kind == PEEK:
        return "Receiver.peek()"
    if kind == RESERVE:
        return "Sender.reserve()"
    return "Receiver.__anext__()"


# No freelist: it would hand out objects still marked as finalized, whose
# never-awaited warning would then never fire.  GIL builds reuse a handle's
# spare instead.
@cython.final
@cython.no_gc_clear
cdef class _Op:
    """The awaitable of every operation that may wait: send, send_many, recv,
    recv_many and ``__anext__``.

    Each attempt (the C iterator slot of pyawait.h, or ``send``) either
    finishes the operation or parks it, yielding the future its task then
    waits on; resuming makes the next attempt.  ``throw`` and ``close``
    (cancellation, or a coroutine closed while parked) unpark it.  For
    send_many, :attr:`sent` counts the items enqueued so far: after a
    cancellation, ``items[:sent]`` went through.

    On a GIL build a finished operation lets go of its handle and items and
    goes back to its handle as the spare, which the handle hands out again
    once nobody else holds it (``_Handle.new_op``): the hot path allocates
    nothing.  An operation in flight refers to its handle, never the other
    way round, so an awaitable dropped unawaited is not in a reference
    cycle; it warns, as a coroutine never awaited does.
    """

    cdef _OpKind kind
    cdef Sender tx
    cdef Receiver rx
    cdef object item  # SEND_ONE: the item; SEND_MANY: the list of items
    cdef readonly Py_ssize_t sent
    cdef Py_ssize_t max_items
    cdef _Waiter waiter
    cdef unsigned long long ticket  # a parked send's place in the queue
    cdef bint done

    def __await__(self):
        return self

    def __next__(self):
        cdef PyObject *out = NULL
        parked = _op_step(self, &out)
        result = <object>out
        Py_DECREF(result)
        if parked:
            return result
        raise StopIteration(result)

    def __del__(self):
        if self.waiter is not None:
            # Parked in a task dropped unfinished: give its place up.
            self.close()
        elif not self.done and (self.tx is not None or self.rx is not None):
            message = f"ringchan {_method_name(self.kind)} was never awaited"
            if self.kind == RESERVE:
                message += ": nothing was reserved"
            elif self.tx is not None:
                message += ": nothing was sent"
            PyErr_WarnEx(RuntimeWarning, message.encode(), 1)

    cdef inline void finish(self) noexcept:
        # Fields are reset only when set: on the fast paths most are None
        # already, and each store costs reference-count updates.
        cdef _Handle handle = None
        self.done = True
        if self.waiter is not None:
            self.waiter = None
        if self.item is not None:
            self.item = None
        if self.tx is not None:
            handle = self.tx
            self.tx = None
        elif self.rx is not None:
            handle = self.rx
            self.rx = None
        if not RCPY_FREE_THREADED and handle is not None:
            handle.spare = self

    cdef object attempt(self):
        """The operation's result if it can finish now, else _NOTHING."""
        cdef list items
        if self.kind == SEND_ONE:
            return None if self.tx.push_one(self.item) else _NOTHING
        if self.kind == SEND_MANY:
            items = self.item
            self.sent += self.tx.push_many(items, self.sent)
            return None if self.sent == len(items) else _NOTHING
        if self.kind == RESERVE:
            return self.tx.reserve_now(self.max_items)
        return self.rx.take(self.kind, self.max_items)

    cdef _Core core(self):
        return self.tx.core if self.tx is not None else self.rx.core

    cdef int step(self, PyObject **out) except -1:
        """Any attempt the fast paths of _op_step did not finish."""
        cdef Py_ssize_t sent
        cdef _Waiter waiter = self.waiter
        cdef _Core core
        if self.done or (self.tx is None and self.rx is None):
            _unusable(self.done)
        # Done while it runs: Python code it calls (a wake-up, a finalizer
        # run by an allocation) cannot start it again.
        self.done = True
        core = self.core()
        try:
            if waiter is not None:
                # Resumed: whoever woke it unregistered it, unless the
                # future was resolved some other way.
                self.waiter = None
                core.leave(waiter)
            result = self.attempt()
            if result is _NOTHING:
                loop = _running_loop()
                while True:
                    # Register first, then look again: see the module docstring.
                    sent = self.sent
                    waiter = _loop_waiter(loop, self.tx)
                    if self.tx is not None:
                        waiter.ticket = self.ticket
                        if not core.park_tx(self.tx, waiter):
                            result = self.attempt()  # raises Closed
                            if result is not _NOTHING:
                                break
                            continue
                        self.ticket = waiter.ticket
                    else:
                        core.park_rx(self.rx, waiter)
                    try:
                        result = self.attempt()
                    except BaseException:
                        # Closed since it registered: it waits no more.
                        core.leave(waiter)
                        raise
                    if result is not _NOTHING or self.sent != sent:
                        # Work found after all.  A sender passes on a wake-up
                        # it got meanwhile: its items went into room freed
                        # before, maybe not the room that wake-up was for.
                        # One that enqueued items woke the receiver, which
                        # may have run Python code, so the channel may have
                        # changed since: look again.
                        if self.tx is not None:
                            core.abandon(waiter)
                        else:
                            core.leave(waiter)
                        if result is not _NOTHING:
                            break
                        continue
                    self.done = False
                    self.waiter = waiter
                    fut = waiter.fut
                    fut._asyncio_future_blocking = True
                    Py_INCREF(fut)
                    out[0] = <PyObject *>fut
                    return 1
        except BaseException:
            self.ticket = 0
            self.finish()
            raise
        # Set only here, on the slow path: reset here too, for a reuse.
        self.ticket = 0
        self.finish()
        Py_INCREF(result)
        out[0] = <PyObject *>result
        return 0

    def send(self, value):
        return self.__next__()

    def throw(self, typ, val=None, tb=None):
        self.close()
        _reraise(typ, val, tb)

    def close(self):
        cdef _Waiter waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if self.tx is not None:
                self.tx.core.abandon(waiter)
            else:
                self.rx.core.leave(waiter)
        # Closed, like a coroutine, it is finished: awaiting it again is an error.
        self.finish()


cdef int _op_step(object obj, PyObject **out) except -1:
    """One attempt of an awaitable: 0 and its result in *out once finished,
    1 and the future to wait on in *out when parked (see pyawait.h).

    Inline here: a send that finds room and a receive that finds an item,
    the steps of a busy channel.
    """
    cdef _Op op = <_Op>obj
    cdef PyObject *ptr
    if op.done or op.waiter is not None:
        pass
    elif op.kind == SEND_ONE:
        # The receiver's close is the buffer's to refuse, and the core is
        # reached through the handle, never held (Sender.push_one).
        if not _flag(&op.tx.closed):
            ptr = <PyObject *>op.item
            # The ring's reference is taken before the slot is claimed, so
            # nothing runs between claiming and publishing it.
            Py_INCREF(<object>ptr)
            if rcpy_buf_push(&op.tx.core.buf, ptr):
                rcpy_fence()
                if rc_load_relaxed(&op.tx.core.rx_parked):
                    op.tx.core.wake_rx()
                op.finish()
                Py_INCREF(None)
                out[0] = <PyObject *>None
                return 0
            Py_DECREF(<object>ptr)
    elif (op.kind == RECV_ONE or op.kind == RECV_NEXT) and not rc_load_relaxed(&op.rx.core.stashed):
        with cython.critical_section(op.rx.core):
            ptr = <PyObject *>rcpy_buf_pop(&op.rx.core.buf)
        if ptr != NULL:
            # The ring's reference becomes the result's.
            out[0] = ptr
            rcpy_fence()
            if rc_load_relaxed(&op.rx.core.tx_parked):
                op.rx.core.wake_tx(1)
            op.finish()
            return 0
    return op.step(out)


rcpy_install_step(<PyTypeObject *>_Op, _op_step)


@cython.no_gc_clear
cdef class _Handle:
    """What both handles share: the channel core, its size, closing on exit."""

    cdef _Core core
    cdef _Op spare  # GIL builds: a finished awaitable, for new_op to hand out again
    cdef object __weakref__

    __class_getitem__ = classmethod(GenericAlias)

    @cython.final
    cdef _Op new_op(self, _OpKind kind):
        """An awaitable of *kind* for this handle: the spare one when nobody
        else holds it any more, else a new one.  Without a GIL there is never
        a spare (finish() keeps none): threads sharing a handle would race
        for it."""
        cdef _Op op = self.spare
        # References: the spare slot and op.
        if op is None or Py_REFCNT(op) != 2:
            op = _Op.__new__(_Op)
        else:
            self.spare = None
            op.sent = 0
            op.done = False
        op.kind = kind
        return op

    def __cinit__(self, _Core core not None):
        self.core = core

    def __reduce__(self):
        raise TypeError(_messages.ONE_PROCESS)

    def __repr__(self):
        state = "closed" if self.is_closed else "open"
        return (
            f"<ringchan.{type(self).__name__} capacity={self.core.bound()} "
            f"len={len(self)} {state}>"
        )

    @property
    def capacity(self):
        """How many items the channel buffers at most; None if unbounded."""
        return self.core.bound()

    @property
    def sender_count(self):
        """Open :class:`Sender` handles of this channel."""
        return rc_load_acquire(&self.core.senders)

    @property
    def weak_sender_count(self):
        """:class:`WeakSender` handles of this channel still alive."""
        return rc_load_acquire(&self.core.weak_senders)

    def __len__(self):
        """Items buffered now."""
        return self.core.buffered()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        self.close()


@cython.no_gc_clear
cdef class Sender(_Handle):
    """A sending handle of a channel; clone it to share among producers.

    The receiver sees the end of the stream once every handle is closed,
    explicitly, by ``with``/``async with``, or by being garbage-collected.
    """

    cdef rc_atomic_u64 closed

    @property
    def is_closed(self):
        """True when sends through this handle fail: it or the receiver is closed."""
        return _flag(&self.closed) or _flag(&self.core.rx_closed)

    @cython.final
    cdef str refusal(self):
        """Why a send must fail now, or None."""
        if _flag(&self.closed):
            return _messages.SENDER_CLOSED
        if _flag(&self.core.rx_closed):
            return _messages.RECEIVER_CLOSED
        return None

    @cython.final
    cdef str closed_refusal(self):
        """Why the closed buffer refused a push: the flags are read under
        the mutex, which the close held while it set them."""
        cdef _Core core = self.core
        cdef bint own
        rcpy_mutex_lock(&core.lock)
        own = _flag(&self.closed) or not _flag(&core.rx_closed)
        rcpy_mutex_unlock(&core.lock)
        return _messages.SENDER_CLOSED if own else _messages.RECEIVER_CLOSED

    @cython.final
    cdef bint push_one(self, object item) except -1:
        """Enqueue item if there is room; raise Closed if sends must fail.

        The receiver's close is not checked here: the buffer itself refuses
        every push after it (rcpy_buf_close), which makes the two
        linearizable.

        The core is reached through self.core, never held in a local: a
        local would take a reference, and without a GIL every thread's
        reference-count updates on the one core object meet on one cache
        line, which the consumer's reads of the core share."""
        if _flag(&self.closed):
            raise Closed(_messages.SENDER_CLOSED, item)
        # The reference the ring will own is taken before the slot is claimed,
        # so nothing runs between claiming and publishing it.
        Py_INCREF(item)
        if not rcpy_buf_push(&self.core.buf, <PyObject *>item):
            Py_DECREF(item)
            if rcpy_buf_closed(&self.core.buf):
                raise Closed(self.closed_refusal(), item)
            if rcpy_buf_gated(&self.core.buf):
                # Permits are out: the exact, locked path.
                return self.push_many([item], 0, True) == 1
            if rcpy_buf_unbounded(&self.core.buf):
                raise MemoryError("cannot grow the unbounded channel: the item was not sent")
            return False
        rcpy_fence()
        if rc_load_relaxed(&self.core.rx_parked):
            self.core.wake_rx()
        return True

    @cython.final
    cdef Py_ssize_t push_many(self, list items, Py_ssize_t start, bint single=False) except -1:
        """Enqueue items[start:] while there is room; return how many went in.

        A refusal's Closed.item is items[start:], or the item itself if single.
        """
        cdef _Core core = self.core
        cdef Py_ssize_t pushed
        if _flag(&self.closed):
            raise Closed(_messages.SENDER_CLOSED, items[0] if single else items[start:])
        with cython.critical_section(items):
            while True:
                pushed = rcpy_buf_push_list(&core.buf, items, start)
                if pushed or not rcpy_buf_gated(&core.buf):
                    break
                pushed = core.push_gated(items, start)
                if pushed >= 0:
                    break
        if not pushed and rcpy_buf_closed(&core.buf):
            # As in push_one: the buffer refuses every push after a close.
            raise Closed(self.closed_refusal(), items[0] if single else items[start:])
        if not pushed and rcpy_buf_unbounded(&core.buf) and start < len(items):
            raise MemoryError("cannot grow the unbounded channel: the items were not sent")
        if pushed:
            rcpy_fence()
            if rc_load_relaxed(&core.rx_parked):
                core.wake_rx()
        return pushed

    # --- permits ---------------------------------------------------------------

    @cython.final
    cdef object reserve_now(self, Py_ssize_t count):
        """A Permit for count slots if there is room now, else _NOTHING."""
        if self.core.reserve(self, count):
            return _permit(self, count)
        return _NOTHING

    @cython.final
    cdef Py_ssize_t slots(self, object count) except -1:
        cdef Py_ssize_t n = check_max_items(count, "count")
        if n > self.core.capacity:
            raise ValueError(_messages.too_many_slots(n, self.core.capacity))
        return n

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_reserve(self):
        """Reserve one slot now, or raise :class:`Full` (or :class:`Closed`)."""
        return self.reserve_or_full(1)

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_reserve_many(self, count):
        """Reserve *count* slots now, all or none, or raise :class:`Full`."""
        return self.reserve_or_full(self.slots(count))

    @cython.final
    cdef object reserve_or_full(self, Py_ssize_t count):
        permit = self.reserve_now(count)
        if permit is _NOTHING:
            raise Full(_messages.no_room(
                count, self.core.capacity, rc_load_relaxed(&self.core.reserved)
            ))
        return permit

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def reserve(self):
        """Reserve one slot, waiting for room; :class:`Closed` if sends must fail.

        If the await is cancelled, nothing was reserved.
        """
        return self.reserve_op(1)

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def reserve_many(self, count):
        """Reserve *count* slots at once, waiting until all are free."""
        return self.reserve_op(self.slots(count))

    @cython.final
    cdef _Op reserve_op(self, Py_ssize_t count):
        cdef _Op op = self.new_op(RESERVE)
        op.tx = self
        op.max_items = count
        return op

    @cython.binding(False)
    def blocking_reserve(self, timeout=None):
        """:meth:`reserve` from a plain thread, waiting with the GIL released.

        Raises :class:`TimeoutError` (nothing reserved) once *timeout* seconds pass.
        """
        _check_not_in_loop("blocking_reserve()", "'await reserve()'")
        cdef double deadline = -1.0 if timeout is None else _deadline(timeout)
        cdef _Core core = self.core
        cdef unsigned long long ticket = 0
        cdef bint expired = False
        cdef _Waiter waiter
        while True:
            permit = self.reserve_now(1)
            if permit is not _NOTHING:
                return permit
            if expired:
                raise TimeoutError(_messages.RESERVE_TIMEOUT)
            waiter = _thread_waiter(self)
            waiter.ticket = ticket
            if not core.park_tx(self, waiter):
                continue  # the next reserve raises Closed
            ticket = waiter.ticket
            permit = self.reserve_now(1)
            if permit is not _NOTHING:
                core.abandon(waiter)
                return permit
            expired = not self.wait_turn(waiter, deadline)

    # --- weak handles --------------------------------------------------------------

    def downgrade(self):
        """A :class:`WeakSender` of this channel: it does not keep it open."""
        return WeakSender(self.core)

    def same_channel(self, other):
        """Whether *other* (a Sender, WeakSender or Receiver) is of this channel."""
        return _core_of(other) is self.core

    def clone(self):
        """Return a new, open handle to the same channel."""
        cdef _Core core = self.core
        cdef bint refused
        rcpy_mutex_lock(&core.lock)
        refused = _flag(&self.closed)
        if not refused:
            rc_store_release(&core.senders, rc_load_relaxed(&core.senders) + 1)
        rcpy_mutex_unlock(&core.lock)
        if refused:
            raise Closed(_messages.CLONE_CLOSED)
        return _handle(Sender(core))

    def close(self):
        """Close this handle (idempotent); the stream ends after the last one."""
        self.core.release_sender(self)

    def _close_with_error(self, error):
        """Close this handle; once the stream has ended, receives raise
        *error* instead of :class:`Closed` (from_iterable's worker)."""
        if not isinstance(error, BaseException):
            raise TypeError(f"expected an exception, got {type(error).__name__}")
        if self.core.end_error is None and not _flag(&self.closed):
            self.core.end_error = (error, error.__traceback__)
        self.close()

    def __del__(self):
        self.close()

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_send(self, item):
        """Enqueue *item* now, or raise :class:`Full` (or :class:`Closed`)."""
        if not self.push_one(item):
            raise Full(
                _messages.full(self.core.capacity, rc_load_relaxed(&self.core.reserved)), item
            )

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_send_many(self, items):
        """Enqueue as many of *items* as fit now, in order; return how many.

        *items* must be a sequence so that ``items[n:]``, the ones that did
        not fit, stay with the caller.
        """
        if not isinstance(items, Sequence):
            raise TypeError(
                "try_send_many() needs a sequence such as a list, so the items "
                f"that do not fit stay with you; got {type(items).__name__}"
            )
        cdef list as_list = items if type(items) is list else list(items)
        return self.push_many(as_list, 0)

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def send(self, item):
        """Enqueue *item*, waiting while the channel is full.

        If the await is cancelled, *item* was not sent.
        """
        cdef _Op op = self.new_op(SEND_ONE)
        op.tx = self
        op.item = item
        return op

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def send_many(self, items):
        """Enqueue every item of *items* in order, waiting for room as needed.

        *items* is read into a list before anything is sent.  On
        :class:`Closed`, ``.item`` lists the items not sent; after a
        cancellation the awaitable's ``.sent`` counts those that were.
        """
        as_list = list(items)
        cdef _Op op = self.new_op(SEND_MANY)
        op.tx = self
        op.item = as_list
        return op

    @cython.binding(False)
    def blocking_send(self, item, timeout=None):
        """Enqueue *item* from a plain thread, waiting while the channel is full.

        Raises :class:`TimeoutError` (item not sent) once *timeout* seconds
        pass.  Refuses to run in a thread whose event loop is running.
        """
        _check_not_in_loop("blocking_send()", "'await send()'")
        cdef double deadline = -1.0 if timeout is None else _deadline(timeout)
        if not self.push_one(item):
            self.blocking_send_all([item], True, deadline)

    @cython.binding(False)
    def blocking_send_many(self, items, timeout=None):
        """Enqueue every item of *items* in order from a plain thread.

        On :class:`TimeoutError` or :class:`Closed`, ``.item`` lists the
        items not sent.
        """
        _check_not_in_loop("blocking_send_many()", "'await send_many()'")
        cdef double deadline = -1.0 if timeout is None else _deadline(timeout)
        self.blocking_send_all(list(items), False, deadline)

    @cython.final
    cdef int blocking_send_all(self, list items, bint single, double deadline) except -1:
        cdef _Core core = self.core
        cdef Py_ssize_t sent = 0
        cdef Py_ssize_t total = len(items)
        cdef Py_ssize_t before
        cdef unsigned long long ticket = 0
        cdef bint expired = False
        cdef _Waiter waiter
        while True:
            sent += self.push_many(items, sent, single)
            if sent == total:
                return 0
            if expired:
                raise send_timeout(items[0] if single else items[sent:], single)
            # Register first, then look again: see the module docstring.
            waiter = _thread_waiter(self)
            waiter.ticket = ticket
            if not core.park_tx(self, waiter):
                continue  # the next push raises Closed
            ticket = waiter.ticket
            before = sent
            try:
                sent += self.push_many(items, sent, single)
            except BaseException:
                core.leave(waiter)  # closed since it registered
                raise
            if sent == total or sent != before:
                core.abandon(waiter)  # passes on a wake-up it got meanwhile: see _Op.step
                if sent == total:
                    # Not round again: a close since then would make the first
                    # push refuse a send that has already succeeded.
                    return 0
                continue
            expired = not self.wait_turn(waiter, deadline)

    @cython.final
    cdef bint wait_turn(self, _Waiter waiter, double deadline) except -1:
        """Wait, parked for room, until woken (True) or the deadline (False);
        unregistered either way, a wake-up got meanwhile passed on."""
        cdef _Core core = self.core
        try:
            woken = _wait(waiter, deadline, core, True)
        except BaseException:
            core.abandon(waiter)
            raise
        if woken:
            core.leave(waiter)
        else:
            # The caller makes one last try without waiting, in case room
            # came at the end.
            core.abandon(waiter)
        return woken

    async def wait_closed(self):
        """Return once the receiver is closed: the producers' signal to stop."""
        cdef _Core core = self.core
        cdef bint registered = False
        if _flag(&self.closed):
            raise Closed(_messages.WAIT_CLOSED_CLOSED)
        if _flag(&core.rx_closed):
            return
        waiter = _loop_waiter(_running_loop(), None)
        # Appended first, then rx_closed checked: a close_rx that copied the
        # list before this append has set rx_closed already.
        core.closed_waiters.append(waiter)
        rcpy_fence()
        registered = not _flag(&core.rx_closed)
        if not registered:
            core.closed_waiters.remove(waiter)
            return
        try:
            await waiter.fut
        finally:
            if waiter in core.closed_waiters:
                core.closed_waiters.remove(waiter)


@cython.no_gc_clear
cdef class Receiver(_Handle):
    """The single receiving handle of a channel: a stream of its items.

    ``async for item in rx`` on an event loop, ``for item in rx`` in a
    thread; both end once the channel is closed and drained.
    """

    @property
    def is_closed(self):
        """True once nothing new can arrive: receiver or every sender closed."""
        return _flag(&self.core.rx_closed) or rc_load_acquire(&self.core.senders) == 0

    def close(self):
        """Refuse further sends (idempotent); buffered items stay receivable."""
        self.core.close_rx(False)

    def __del__(self):
        self.core.close_rx(True)

    def _parked(self):
        """(parked senders, whether the receiver is parked): for the tests."""
        return (
            <Py_ssize_t>rc_load_acquire(&self.core.tx_parked),
            _flag(&self.core.rx_parked),
        )

    @cython.final
    cdef object busy(self):
        return RuntimeError(_messages.BUSY)

    @cython.final
    cdef object take(self, _OpKind mode, Py_ssize_t max_items):
        """The next item (or list of items, or for PEEK the next item left
        in place), or _NOTHING; raises at the end.  The core is reached
        through self.core, as in Sender.push_one."""
        cdef PyObject *ptr
        cdef list items
        cdef Py_ssize_t count
        if rc_load_relaxed(&self.core.stashed):
            result = self.take_stashed(mode, max_items)
            if result is not _NOTHING:
                return result
        if mode == PEEK:
            with cython.critical_section(self.core):
                ptr = <PyObject *>rcpy_buf_peek(&self.core.buf)
                if ptr != NULL:
                    # Taken in the section: no pop can free it meanwhile.
                    Py_INCREF(<object>ptr)
                    self.core.peeked = self.core.received() + 1
            if ptr != NULL:
                item = <object>ptr
                Py_DECREF(item)
                return item
        elif mode != RECV_MANY:
            with cython.critical_section(self.core):
                ptr = <PyObject *>rcpy_buf_pop(&self.core.buf)
            if ptr != NULL:
                item = <object>ptr
                Py_DECREF(item)
                rcpy_fence()
                if rc_load_relaxed(&self.core.tx_parked):
                    self.core.wake_tx(1)
                return item
        else:
            count = min(self.core.length(), max_items)
            if count:
                # Made before the pops: making it may run finalizers.
                ptr = PyList_New(count)
                if ptr == NULL:
                    raise MemoryError()
                items = <list>ptr
                Py_DECREF(items)
                with cython.critical_section(self.core):
                    count = rcpy_buf_pop_into(&self.core.buf, items)
                if count:
                    rcpy_fence()
                    if rc_load_relaxed(&self.core.tx_parked):
                        self.core.wake_tx(count)
                    return items
        if self.core.ended():
            self.core.end(mode)
        return _NOTHING

    @cython.final
    cdef object take_stashed(self, _OpKind mode, Py_ssize_t max_items):
        """take() from the items handed back, or _NOTHING if there are none.
        They come only from a cancelled batch: no sender waits on them."""
        cdef _Core core = self.core
        cdef list stash
        result = _NOTHING
        with cython.critical_section(core):
            stash = core.stash
            if stash:
                if mode == PEEK:
                    core.peeked = core.received() + 1
                    result = stash[0]
                else:
                    if mode == RECV_MANY:
                        result = stash[:max_items]
                        del stash[:max_items]
                    else:
                        result = stash.pop(0)
                    rc_store_relaxed(&core.stashed, len(stash))
                    if not stash:
                        core.stash = None
        return result

    def _unget(self, items):
        """Hand *items* back: the next receives return them, in order, before
        anything buffered.  For a cancelled ``batches()`` step."""
        cdef _Core core = self.core
        cdef list stash = list(items)
        if not stash:
            return
        with cython.critical_section(core):
            if core.stash is not None:
                stash.extend(core.stash)
            core.stash = stash
            rc_store_relaxed(&core.stashed, len(stash))

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_recv(self):
        """Return the oldest item now, or raise :class:`Empty` (or :class:`Closed`)."""
        item = self.take(RECV_ONE, 1)
        if item is _NOTHING:
            raise Empty(_messages.EMPTY)
        return item

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_recv_many(self, max_items):
        """Return up to *max_items* items buffered now, maybe none."""
        items = self.take(RECV_MANY, _max_items(max_items))
        return [] if items is _NOTHING else items

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_peek(self):
        """Return the next item now without taking it, or raise :class:`Empty`
        (or :class:`Closed`); :meth:`commit` then takes it."""
        item = self.take(PEEK, 1)
        if item is _NOTHING:
            raise Empty(_messages.EMPTY)
        return item

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def peek(self):
        """Return the next item without taking it, waiting for one;
        :class:`Closed` at the end.  :meth:`commit` then takes it."""
        return self.awaitable(PEEK, 1)

    @cython.binding(False)
    def blocking_peek(self, timeout=None):
        """:meth:`peek` from a plain thread, waiting with the GIL released.

        Raises :class:`TimeoutError` once *timeout* seconds pass.
        """
        _check_not_in_loop("blocking_peek()", "'await peek()'")
        cdef double deadline = -1.0 if timeout is None else _deadline(timeout)
        return self.blocking_take(PEEK, 1, deadline)

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def commit(self):
        """Take and return the item the last peek returned.

        Raises :class:`RuntimeError` when nothing was peeked since the last
        item was taken.
        """
        cdef _Core core = self.core
        cdef bint peeked
        with cython.critical_section(core):
            peeked = core.peeked != 0 and core.peeked == core.received() + 1
            core.peeked = 0
        if not peeked:
            raise RuntimeError(_messages.NOT_PEEKED)
        return self.take(RECV_ONE, 1)

    def transaction(self):
        """``async with rx.transaction() as item:`` the next item, taken only
        if the block exits without an exception; else it stays next."""
        return Transaction(self, None, False)

    @cython.binding(False)
    def blocking_transaction(self, timeout=None):
        """``with rx.blocking_transaction() as item:`` :meth:`transaction`
        from a plain thread; *timeout* bounds the wait for the item."""
        return Transaction(self, timeout, True)

    @cython.binding(False)
    def batches(self, max_items, max_wait):
        """Iterate over lists of items: each as soon as *max_items* are there,
        or *max_wait* seconds after its first item arrived (``async for``,
        or ``for`` in a plain thread); see :class:`ringchan.Batches`."""
        return Batches(self, max_items, max_wait)

    def stats(self):
        """A snapshot of the channel's counters, for diagnosing stalls."""
        cdef _Core core = self.core
        # Popped before pushed, so the count of buffered items is never negative.
        cdef uint64_t received = core.received()
        cdef uint64_t sent = rcpy_buf_pushed(&core.buf)
        return ChannelStats(
            sent=sent,
            received=received,
            buffered=sent - received if sent > received else 0,
            capacity=core.bound(),
            senders=rc_load_acquire(&core.senders),
            parked_senders=rc_load_acquire(&core.tx_parked),
            receiver_parked=_flag(&core.rx_parked),
            reserved=rc_load_relaxed(&core.reserved),
            wakeups=rc_load_relaxed(&core.wakeups),
        )

    @cython.final
    cdef _Op awaitable(self, _OpKind kind, Py_ssize_t max_items):
        cdef _Op op = self.new_op(kind)
        op.rx = self
        op.max_items = max_items
        return op

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def recv(self):
        """Return the next item, waiting for one; :class:`Closed` at the end."""
        return self.awaitable(RECV_ONE, 1)

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def recv_many(self, max_items):
        """Return 1..*max_items* items, waiting only for the first."""
        return self.awaitable(RECV_MANY, _max_items(max_items))

    def __aiter__(self):
        return self

    def __anext__(self):
        return self.awaitable(RECV_NEXT, 1)

    @cython.binding(False)
    def blocking_recv(self, timeout=None):
        """Return the next item from a plain thread, waiting with the GIL released.

        Raises :class:`TimeoutError` once *timeout* seconds pass, and
        :class:`Closed` at the end of the stream.
        """
        _check_not_in_loop("blocking_recv()", "'await recv()'")
        cdef double deadline = -1.0 if timeout is None else _deadline(timeout)
        return self.blocking_take(RECV_ONE, 1, deadline)

    @cython.binding(False)
    def blocking_recv_many(self, max_items, timeout=None):
        """Return 1..*max_items* items from a plain thread, waiting for the first."""
        _check_not_in_loop("blocking_recv_many()", "'await recv_many()'")
        cdef Py_ssize_t count = _max_items(max_items)
        cdef double deadline = -1.0 if timeout is None else _deadline(timeout)
        return self.blocking_take(RECV_MANY, count, deadline)

    @cython.final
    cdef object blocking_take(self, _OpKind mode, Py_ssize_t max_items, double deadline):
        cdef _Waiter waiter
        while True:
            result = self.take(mode, max_items)
            if result is not _NOTHING:
                return result
            # Register first, then look again: see the module docstring.
            waiter = _thread_waiter(None)
            self.core.park_rx(self, waiter)
            try:
                result = self.take(mode, max_items)
                if result is not _NOTHING:
                    return result
                woken = _wait(waiter, deadline, self.core, False)
            finally:
                self.core.leave(waiter)
            if not woken:
                result = self.take(mode, max_items)
                if result is not _NOTHING:
                    return result
                raise TimeoutError(_messages.RECV_TIMEOUT)

    def __iter__(self):
        return self

    def __next__(self):
        _check_not_in_loop("'for item in rx'", "'async for item in rx'")
        try:
            return self.blocking_take(RECV_ONE, 1, -1.0)
        except Closed:
            raise StopIteration from None


cdef _Core _core_of(object handle):
    if isinstance(handle, _Handle):
        return (<_Handle>handle).core
    if isinstance(handle, WeakSender):
        return (<WeakSender>handle).core
    raise TypeError(
        "expected a Sender, WeakSender or Receiver of this implementation, "
        f"got {type(handle).__name__}"
    )


# Never cleared by the collector: a permit's release, and a weak sender's
# count, still need the channel core once the rest of a cycle is gone.
@cython.final
@cython.no_gc_clear
cdef class Permit:
    """Slots reserved by :meth:`Sender.reserve` (one) or
    :meth:`Sender.reserve_many` (several): each :meth:`send` uses one, and
    never waits and never fails for room.

    Items buffered plus slots reserved never exceed the capacity, so a
    permit held is room taken: :meth:`release` it (or leave a ``with``
    block, or drop it) to give back the slots it has not used; a parked
    sender is woken for each.  A permit claims no place in the queue: items
    sent after it are received without waiting for it.  It can be used from
    any thread.
    """

    cdef Sender sender
    cdef Py_ssize_t left  # guarded by the channel's mutex
    cdef object __weakref__

    __class_getitem__ = classmethod(GenericAlias)

    def __repr__(self):
        return f"<ringchan.Permit slots={self.left}>"

    def __reduce__(self):
        raise TypeError(_messages.ONE_PROCESS)

    def __len__(self):
        """Slots left to send into."""
        return self.left

    def __iter__(self):
        """One-slot permits, each taking one of this permit's slots, until
        none is left, as tokio's ``reserve_many`` gives them:
        ``for permit in tx.reserve_many(3)``.  Slots not taken stay here."""
        cdef Permit one
        cdef _Core core = self.sender.core
        while True:
            # Made before the slot moves: a failed allocation loses no slot.
            one = _permit(self.sender, 0)
            rcpy_mutex_lock(&core.lock)
            if self.left:
                self.left -= 1
                one.left = 1
            rcpy_mutex_unlock(&core.lock)
            if not one.left:
                return
            yield one

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def send(self, item):
        """Enqueue *item* into a reserved slot, at once.

        Raises :class:`Closed` (with *item* in ``.item``; the slot is given
        back) if the receiver or the permit's sender was closed since, and
        :class:`RuntimeError` if no slot is left.
        """
        cdef Sender tx = self.sender
        cdef _Core core = tx.core
        cdef bint used = False
        cdef bint refused = False
        cdef bint pushed = False
        # The ring's reference, taken before the slot is claimed.
        Py_INCREF(item)
        rcpy_mutex_lock(&core.lock)
        if self.left:
            used = True
            self.left -= 1
            refused = _flag(&tx.closed) or _flag(&core.rx_closed)
            if not refused:
                pushed = (
                    rcpy_buf_push(&core.buf, <PyObject *>item) if rcpy_buf_unbounded(&core.buf)
                    else rc_ring_push_gated(core.buf.ring, <PyObject *>item)
                )
            core.unreserve(1)
        rcpy_mutex_unlock(&core.lock)
        if not pushed:
            Py_DECREF(item)
        if not used:
            raise RuntimeError(_messages.PERMIT_USED)
        if refused:
            core.wake_tx(1)
            raise Closed(tx.refusal(), item)
        if not pushed:
            if rcpy_buf_unbounded(&core.buf):
                raise MemoryError("cannot grow the unbounded channel: the item was not sent")
            raise SystemError("ringchan: a permit found no room: please report this bug")
        rcpy_fence()
        if rc_load_relaxed(&core.rx_parked):
            core.wake_rx()

    def release(self):
        """Give back the slots not used (idempotent)."""
        cdef _Core core = self.sender.core
        cdef Py_ssize_t count = 0
        rcpy_mutex_lock(&core.lock)
        if self.left:
            count = core.unreserve(self.left)
            self.left = 0
        rcpy_mutex_unlock(&core.lock)
        if count:
            core.wake_tx(count)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.release()

    def __del__(self):
        if self.left:
            self.release()


cdef Permit _permit(Sender tx, Py_ssize_t count):
    cdef Permit permit = Permit.__new__(Permit)
    permit.sender = tx
    permit.left = count
    return permit


@cython.final
@cython.no_gc_clear
cdef class WeakSender:
    """A handle that does not keep its channel open: :meth:`upgrade` it to
    send.  For monitors and caches that must not delay the end of a stream."""

    cdef _Core core
    cdef object __weakref__

    __class_getitem__ = classmethod(GenericAlias)

    def __cinit__(self, _Core core not None):
        self.core = core
        rc_fetch_add_relaxed(&core.weak_senders, 1)

    def __dealloc__(self):
        rc_fetch_add_relaxed(&self.core.weak_senders, <uint64_t>-1)

    def __repr__(self):
        return f"<ringchan.WeakSender senders={rc_load_acquire(&self.core.senders)}>"

    def __reduce__(self):
        raise TypeError(_messages.ONE_PROCESS)

    def upgrade(self):
        """A new :class:`Sender` while any sender is open, else None."""
        cdef _Core core = self.core
        cdef bint open_
        rcpy_mutex_lock(&core.lock)
        open_ = rc_load_relaxed(&core.senders) != 0
        if open_:
            rc_store_release(&core.senders, rc_load_relaxed(&core.senders) + 1)
        rcpy_mutex_unlock(&core.lock)
        return _handle(Sender(core)) if open_ else None

    def same_channel(self, other):
        """Whether *other* (a Sender, WeakSender or Receiver) is of this channel."""
        return _core_of(other) is self.core


cdef inline object _handle(object handle):
    """A new handle, closed by whichever thread drops it last (pyring.h)."""
    rcpy_share_refcount(handle)
    return handle


# Classes only so that they take the item type in brackets, as _pair.py
# says: each returns a plain tuple.
class channel(metaclass=PairMaker):
    """Create a bounded channel; return its first sender and its receiver.

    *capacity* is the exact number of items it buffers, 1 to
    :data:`MAX_CAPACITY`.  The channel is bound to no event loop or thread.
    ``channel[int](16)`` tells type checkers what it carries.
    """

    __slots__ = ()

    @staticmethod
    def _make(capacity):
        cdef _Core core = _Core(check_capacity(capacity))
        return _handle(Sender(core)), _handle(Receiver(core))


class oneshot(metaclass=PairMaker):
    """Create a oneshot: a sender for one value and its receiver.

    ``tx.send(value)`` never waits and works from any thread or event loop;
    ``await rx`` (or ``rx.try_recv()``, ``rx.blocking_recv()``) returns it.
    A sender closed or collected without sending makes the receiver raise
    :class:`Closed`.  ``oneshot[int]()`` tells type checkers what it carries.
    """

    __slots__ = ()

    @staticmethod
    def _make():
        return _oneshot.pair(*channel(1))


def from_iterable(iterable, capacity=64, *, daemon=False):
    """Run a blocking *iterable* on a worker thread, feeding a new channel of
    *capacity*; return its receiver.

    The worker blocks while the channel is full.  An exception raised by the
    iterable reaches the receiver after every item before it, in place of
    the end of the stream.  Closing the receiver (or dropping it) stops the
    worker at its next send; the worker then closes the iterator (a
    generator gets ``close()``).  The thread is a daemon only if *daemon*.
    """
    return _bridge.start(channel, iterable, capacity, daemon)


class unbounded_channel(metaclass=PairMaker):
    """Create a channel without a bound: sends never wait and ``try_send``
    never raises :class:`Full`.  Same Sender and Receiver API; ``capacity``
    is None.  Memory grows with what is buffered, and shrinks as it drains.
    ``unbounded_channel[int]()`` tells type checkers what it carries.
    """

    __slots__ = ()

    @staticmethod
    def _make():
        cdef _Core core = _Core(0)
        return _handle(Sender(core)), _handle(Receiver(core))


cdef extern from *:
    """
    /* A static type takes __module__ and __qualname__ from tp_name. */
    static void
    rc_rename_type(PyTypeObject *type, const char *name)
    {
        type->tp_name = name;
        PyType_Modified(type);
    }
    """
    void rc_rename_type(PyTypeObject *type, const char *name)


# Users meet these as ringchan.<name>: say so in reprs, help() and
# tracebacks.  Renamed at import, before any handle exists.
rc_rename_type(<PyTypeObject *>Sender, "ringchan.Sender")
rc_rename_type(<PyTypeObject *>Receiver, "ringchan.Receiver")
rc_rename_type(<PyTypeObject *>Permit, "ringchan.Permit")
rc_rename_type(<PyTypeObject *>WeakSender, "ringchan.WeakSender")
for _public in (channel, oneshot, unbounded_channel, from_iterable):
    _public.__module__ = "ringchan"
del _public
