"""The C channel: the lock-free ring of csrc/ringchan driven from Cython.

Same API and behaviour as the pure-Python reference in ``_channel_py``.

Items move through the C ring, which stays correct without a GIL.  The
bookkeeping of parked tasks and threads is Python state serialized by the
GIL: every decision to park is taken after the last Python call or
GC-tracked allocation of that attempt, so no other thread and no finalizer
can change the channel between the final check and the registration.  Hence
the module does not declare itself free-threading compatible (a free-threaded
interpreter turns the GIL back on when it imports it).
"""

cimport cython
from cpython.exc cimport PyErr_CheckSignals
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

from ._awaitable cimport rcpy_install_step
from ._ring cimport (
    rc_ring,
    rc_ring_free,
    rc_ring_init,
    rc_ring_len,
    rc_ring_pop,
    rc_ring_push,
    rcpy_install_gc,
    rcpy_ring_clear,
    rcpy_ring_pop_list,
    rcpy_ring_push_list,
)

import asyncio
from collections import deque
from collections.abc import Sequence
from time import monotonic
from types import GenericAlias

from . import _messages
from ._args import MAX_CAPACITY, check_capacity, check_max_items, check_timeout
from ._errors import Closed, Empty, Full, send_timeout

__all__ = ("Receiver", "Sender", "channel")


cdef extern from "pythread.h":
    PyLockStatus PyThread_acquire_lock_timed(
        PyThread_type_lock lock, long long microseconds, int intr_flag) nogil
    unsigned long PyThread_get_thread_ident()


cdef extern from "ringchan/pyloop.h":
    void rcpy_set_running_loop_getter(object getter)
    object rcpy_running_loop()
    int rcpy_loop_running() except -1


rcpy_set_running_loop_getter(asyncio._get_running_loop)
cdef object _NOTHING = object()


def _resolve(fut):
    if not fut.done():
        fut.set_result(None)


cdef object _running_loop():
    """asyncio.get_running_loop(), without its module and attribute lookups."""
    loop = rcpy_running_loop()
    if loop is None:
        raise RuntimeError("no running event loop")
    return loop


@cython.final
@cython.freelist(16)
cdef class _Waiter:
    """A task parked on its loop (fut) or a thread parked on a lock."""

    cdef object fut
    cdef object loop
    cdef unsigned long thread
    cdef PyThread_type_lock lock

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)


cdef _Waiter _loop_waiter(object loop):
    cdef _Waiter waiter = _Waiter.__new__(_Waiter)
    waiter.loop = loop
    waiter.fut = loop.create_future()
    waiter.thread = PyThread_get_thread_ident()
    return waiter


cdef _Waiter _thread_waiter():
    cdef _Waiter waiter = _Waiter.__new__(_Waiter)
    waiter.lock = PyThread_allocate_lock()
    if waiter.lock == NULL:
        raise MemoryError("cannot allocate a lock for a blocked thread")
    # Held from the start: the parked thread blocks on it until a wake releases it.
    PyThread_acquire_lock(waiter.lock, NOWAIT_LOCK)
    return waiter


cdef int _wake(_Waiter waiter) except -1:
    """Wake waiter: 1, or 0 when it is a task whose loop is closed, which
    will never run again, so the wake-up is still to give to someone."""
    if waiter.lock != NULL:
        PyThread_release_lock(waiter.lock)
        return 1
    try:
        if waiter.thread == PyThread_get_thread_ident():
            fut = waiter.fut
            if not fut.done():
                fut.set_result(None)
        else:
            waiter.loop.call_soon_threadsafe(_resolve, waiter.fut)
    except RuntimeError:
        if not waiter.loop.is_closed():
            raise
        return 0
    return 1


cdef bint _dead(_Waiter waiter) except -1:
    """A task parked on a loop that is closed: it can never run again."""
    return waiter.lock == NULL and waiter.loop.is_closed()


cdef int _wake_all(list waiters) except -1:
    cdef _Waiter waiter
    for waiter in waiters:
        _wake(waiter)
    return 0


cdef int _wait(_Waiter waiter, double deadline) except -1:
    """Block with the GIL released: 1 once woken, 0 at the deadline (< 0: none).

    Signals are handled while waiting, so Ctrl-C interrupts the main thread.
    """
    cdef PyThread_type_lock lock = waiter.lock
    cdef long long microseconds
    cdef PyLockStatus status
    while True:
        if deadline < 0:
            microseconds = -1
        else:
            microseconds = <long long>(max(deadline - monotonic(), 0.0) * 1e6)
        with nogil:
            status = PyThread_acquire_lock_timed(lock, microseconds, 1)
        if status == PY_LOCK_ACQUIRED:
            return 1
        if status == PY_LOCK_FAILURE:
            return 0
        PyErr_CheckSignals()


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


@cython.final
@cython.no_gc_clear
cdef class _Core:
    """State shared by every handle of one channel.

    The collector sees the buffered items through the traverse/clear slots
    that pyring.h installs on this type.
    """

    cdef rc_ring ring
    cdef Py_ssize_t capacity
    cdef Py_ssize_t senders
    cdef bint rx_closed
    cdef _Waiter rx_waiter
    cdef object tx_waiters
    cdef Py_ssize_t tx_parked  # len(tx_waiters), read on every receive
    cdef list closed_waiters

    def __cinit__(self, Py_ssize_t capacity):
        if rc_ring_init(&self.ring, capacity) < 0:
            raise MemoryError(f"cannot allocate a ring of {capacity} items")
        self.capacity = capacity
        self.senders = 1
        self.tx_waiters = deque()
        self.closed_waiters = []

    def __dealloc__(self):
        rcpy_ring_clear(&self.ring)
        rc_ring_free(&self.ring)

    cdef inline Py_ssize_t length(self):
        return <Py_ssize_t>rc_ring_len(&self.ring)

    cdef inline bint ended(self):
        """Nothing is buffered and nothing more can arrive."""
        return rc_ring_len(&self.ring) == 0 and (self.senders == 0 or self.rx_closed)

    cdef str end_message(self):
        if self.rx_closed:
            return _messages.ENDED_BY_RECEIVER
        return _messages.ENDED_BY_SENDERS

    cdef inline int wake_rx(self) except -1:
        cdef _Waiter waiter = self.rx_waiter
        if waiter is not None:
            self.rx_waiter = None
            _wake(waiter)
        return 0

    cdef int wake_tx(self, Py_ssize_t count) except -1:
        tx_waiters = self.tx_waiters
        while count > 0 and self.tx_parked:
            self.tx_parked -= 1
            count -= _wake(tx_waiters.popleft())
        return 0

    cdef int drop_dead_rx_waiter(self) except -1:
        """Free the receiving slot of a task parked on a closed loop."""
        if self.rx_waiter is not None and _dead(self.rx_waiter):
            self.rx_waiter = None
        return 0

    cdef int release_sender(self) except -1:
        """One sender handle closed: end the stream after the last one."""
        self.senders -= 1
        # Parked sends on the closed handle must fail now; the others just
        # re-check and park again.
        cdef list wake = list(self.tx_waiters)
        self.tx_waiters.clear()
        self.tx_parked = 0
        if self.senders == 0 and self.rx_waiter is not None:
            wake.append(self.rx_waiter)
            self.rx_waiter = None
        return _wake_all(wake)

    cdef int close_rx(self, bint drop_items) except -1:
        cdef list wake = []
        if not self.rx_closed:
            self.rx_closed = True
            wake = list(self.tx_waiters)
            self.tx_waiters.clear()
            self.tx_parked = 0
            wake.extend(self.closed_waiters)
            self.closed_waiters.clear()
            if self.rx_waiter is not None:
                wake.append(self.rx_waiter)
                self.rx_waiter = None
        if drop_items:
            # After the close: a finalizer run by a dropped item cannot send.
            rcpy_ring_clear(&self.ring)
        return _wake_all(wake)


cdef Py_ssize_t _ring_offset():
    cdef _Core probe = _Core(1)
    return <char *>&probe.ring - <char *><PyObject *>probe


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


@cython.final
@cython.no_gc_clear
@cython.freelist(16)
cdef class _Op:
    """The awaitable of every operation that may wait: send, send_many, recv,
    recv_many and ``__anext__``.

    Each attempt (the C iterator slot of pyawait.h, or ``send``) either
    finishes the operation or parks it, yielding the future its task then
    waits on; resuming makes the next attempt.  ``throw`` and ``close``
    (cancellation, or a coroutine closed while parked) unpark it.  For
    send_many, :attr:`sent` counts the items enqueued so far: after a
    cancellation, ``items[:sent]`` went through.

    A finished operation lets go of its handle and items and goes back to
    its handle as the spare, which the handle hands out again once nobody
    else holds it (``_Handle.new_op``): the hot path allocates nothing.  An
    operation in flight refers to its handle, never the other way round, so
    an awaitable dropped unawaited is not in a reference cycle.
    """

    cdef _OpKind kind
    cdef Sender tx
    cdef Receiver rx
    cdef object item  # SEND_ONE: the item; SEND_MANY: the list of items
    cdef readonly Py_ssize_t sent
    cdef Py_ssize_t max_items
    cdef _Waiter waiter
    cdef bint parked_before
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
        if handle is not None:
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
        return self.rx.take(self.kind, self.max_items)

    cdef int register(self, _Waiter waiter) except -1:
        """Park: no Python call between the last attempt and this."""
        cdef _Core core
        if self.tx is not None:
            self.tx.park(waiter, self.parked_before)
            self.parked_before = True
            return 0
        core = self.rx.core
        if core.rx_waiter is not None:
            raise self.rx.busy()
        core.rx_waiter = waiter
        return 0

    cdef int step(self, PyObject **out) except -1:
        """Any attempt the fast paths of _op_step did not finish."""
        cdef Py_ssize_t sent
        if self.done or (self.tx is None and self.rx is None):
            _unusable(self.done)
        # Done while it runs: Python code it calls (a wake-up, a finalizer
        # run by an allocation) cannot start it again.
        self.done = True
        self.waiter = None
        try:
            result = self.attempt()
            if result is _NOTHING:
                waiter = _loop_waiter(_running_loop())
                if self.rx is not None:
                    self.rx.core.drop_dead_rx_waiter()
                while True:
                    sent = self.sent
                    result = self.attempt()
                    if result is not _NOTHING:
                        break
                    # Park only after an attempt that made no progress: one
                    # that enqueued items woke the receiver, which may have
                    # run Python code, letting another thread change the
                    # channel since.
                    if self.sent == sent:
                        self.register(waiter)
                        self.done = False
                        self.waiter = waiter
                        fut = waiter.fut
                        fut._asyncio_future_blocking = True
                        Py_INCREF(fut)
                        out[0] = <PyObject *>fut
                        return 1
        except BaseException:
            self.finish()
            raise
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
        cdef _Core core
        if waiter is not None:
            if self.tx is not None:
                self.tx.abandon(waiter)
            else:
                core = self.rx.core
                if core.rx_waiter is waiter:
                    core.rx_waiter = None
        # Closed, like a coroutine, it is finished: awaiting it again is an error.
        self.finish()


cdef int _op_step(object obj, PyObject **out) except -1:
    """One attempt of an awaitable: 0 and its result in *out once finished,
    1 and the future to wait on in *out when parked (see pyawait.h).

    Inline here: a send that finds room and a receive that finds an item,
    the steps of a busy channel.
    """
    cdef _Op op = <_Op>obj
    cdef _Core core
    cdef Sender tx
    cdef PyObject *ptr
    if op.done or op.waiter is not None:
        pass
    elif op.kind == SEND_ONE:
        tx = op.tx
        core = tx.core
        if not (tx.closed or core.rx_closed):
            ptr = <PyObject *>op.item
            # The ring's reference is taken before the slot is claimed, so
            # nothing runs between claiming and publishing it.
            Py_INCREF(<object>ptr)
            if rc_ring_push(&core.ring, ptr):
                op.finish()
                if core.rx_waiter is not None:
                    core.wake_rx()
                Py_INCREF(None)
                out[0] = <PyObject *>None
                return 0
            Py_DECREF(<object>ptr)
    elif op.kind == RECV_ONE or op.kind == RECV_NEXT:
        core = op.rx.core
        ptr = <PyObject *>rc_ring_pop(&core.ring)
        if ptr != NULL:
            # The ring's reference becomes the result's.
            out[0] = ptr
            op.finish()
            if core.tx_parked:
                core.wake_tx(1)
            return 0
    return op.step(out)


rcpy_install_step(<PyTypeObject *>_Op, _op_step)


@cython.no_gc_clear
cdef class _Handle:
    """What both handles share: the channel core, its size, closing on exit."""

    cdef _Core core
    cdef _Op spare  # a finished awaitable, for new_op to hand out again
    cdef object __weakref__

    __class_getitem__ = classmethod(GenericAlias)

    @cython.final
    cdef _Op new_op(self, _OpKind kind):
        """An awaitable of *kind* for this handle: the spare one when nobody
        else holds it any more, else a new one."""
        cdef _Op op = self.spare
        # References: the spare slot and op.
        if op is None or Py_REFCNT(op) != 2:
            op = _Op.__new__(_Op)
        else:
            self.spare = None
            op.sent = 0
            op.parked_before = False
            op.done = False
        op.kind = kind
        return op

    def __cinit__(self, _Core core not None):
        self.core = core

    def __repr__(self):
        state = "closed" if self.is_closed else "open"
        return (
            f"<ringchan.{type(self).__name__} capacity={self.core.capacity} "
            f"len={len(self)} {state}>"
        )

    @property
    def capacity(self):
        """How many items the channel buffers at most."""
        return self.core.capacity

    def __len__(self):
        """Items buffered now."""
        return self.core.length()

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

    cdef bint closed

    @property
    def is_closed(self):
        """True when sends through this handle fail: it or the receiver is closed."""
        return self.closed or self.core.rx_closed

    @cython.final
    cdef str refusal(self):
        """Why a send must fail now, or None."""
        if self.closed:
            return _messages.SENDER_CLOSED
        if self.core.rx_closed:
            return _messages.RECEIVER_CLOSED
        return None

    @cython.final
    cdef bint push_one(self, object item) except -1:
        """Enqueue item if there is room; raise Closed if sends must fail."""
        cdef _Core core = self.core
        if self.closed or core.rx_closed:
            raise Closed(self.refusal(), item)
        # The reference the ring will own is taken before the slot is claimed,
        # so nothing runs between claiming and publishing it.
        Py_INCREF(item)
        if not rc_ring_push(&core.ring, <PyObject *>item):
            Py_DECREF(item)
            return False
        core.wake_rx()
        return True

    @cython.final
    cdef Py_ssize_t push_many(self, list items, Py_ssize_t start, bint single=False) except -1:
        """Enqueue items[start:] while there is room; return how many went in.

        A refusal's Closed.item is items[start:], or the item itself if single.
        """
        cdef _Core core = self.core
        cdef Py_ssize_t pushed
        if self.closed or core.rx_closed:
            raise Closed(self.refusal(), items[start] if single else items[start:])
        pushed = rcpy_ring_push_list(&core.ring, items, start)
        if pushed:
            core.wake_rx()
        return pushed

    @cython.final
    cdef int park(self, _Waiter waiter, bint parked_before) except -1:
        cdef _Core core = self.core
        if parked_before:
            # Woken but beaten to the room: keep its place at the front.
            core.tx_waiters.appendleft(waiter)
        else:
            core.tx_waiters.append(waiter)
        core.tx_parked += 1
        return 0

    @cython.final
    cdef int abandon(self, _Waiter waiter) except -1:
        """Unpark waiter; if it was already woken, pass the wake-up on."""
        cdef _Core core = self.core
        try:
            core.tx_waiters.remove(waiter)
            core.tx_parked -= 1
            return 0
        except ValueError:
            pass
        if core.length() < core.capacity:
            core.wake_tx(1)
        return 0

    def clone(self):
        """Return a new, open handle to the same channel."""
        if self.closed:
            raise Closed(_messages.CLONE_CLOSED)
        self.core.senders += 1
        return Sender(self.core)

    def close(self):
        """Close this handle (idempotent); the stream ends after the last one."""
        if not self.closed:
            self.closed = True
            self.core.release_sender()

    def __del__(self):
        self.close()

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def try_send(self, item):
        """Enqueue *item* now, or raise :class:`Full` (or :class:`Closed`)."""
        if not self.push_one(item):
            raise Full(_messages.full(self.core.capacity), item)

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
        cdef Py_ssize_t sent = 0
        cdef Py_ssize_t total = len(items)
        cdef bint parked_before = False
        cdef bint expired = False
        cdef Py_ssize_t pushed
        cdef _Waiter waiter
        while True:
            sent += self.push_many(items, sent, single)
            if sent == total:
                return 0
            if expired:
                raise send_timeout(items[0] if single else items[sent:], single)
            waiter = _thread_waiter()
            while True:
                pushed = self.push_many(items, sent, single)
                sent += pushed
                if sent == total:
                    return 0
                # Park only after a push of nothing: see _Op.step.
                if not pushed:
                    break
            self.park(waiter, parked_before)
            parked_before = True
            try:
                woken = _wait(waiter, deadline)
            except BaseException:
                self.abandon(waiter)
                raise
            if not woken:
                # One last try without waiting, in case room came at the end.
                self.abandon(waiter)
                expired = True

    async def wait_closed(self):
        """Return once the receiver is closed: the producers' signal to stop."""
        cdef _Core core = self.core
        if self.closed:
            raise Closed(_messages.WAIT_CLOSED_CLOSED)
        if core.rx_closed:
            return
        waiter = _loop_waiter(_running_loop())
        if core.rx_closed:
            return
        core.closed_waiters.append(waiter)
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
        return self.core.rx_closed or self.core.senders == 0

    def close(self):
        """Refuse further sends (idempotent); buffered items stay receivable."""
        self.core.close_rx(False)

    def __del__(self):
        self.core.close_rx(True)

    @cython.final
    cdef object busy(self):
        return RuntimeError(_messages.BUSY)

    @cython.final
    cdef object take(self, _OpKind mode, Py_ssize_t max_items):
        """The next item (or list of items), or _NOTHING; raises at the end."""
        cdef _Core core = self.core
        cdef PyObject *ptr
        cdef list items
        if mode != RECV_MANY:
            ptr = <PyObject *>rc_ring_pop(&core.ring)
            if ptr != NULL:
                item = <object>ptr
                Py_DECREF(item)
                if core.tx_parked:
                    core.wake_tx(1)
                return item
        else:
            items = rcpy_ring_pop_list(&core.ring, max_items) if core.length() else []
            if items:
                if core.tx_parked:
                    core.wake_tx(len(items))
                return items
        if core.ended():
            if mode == RECV_NEXT:
                raise StopAsyncIteration
            raise Closed(core.end_message())
        return _NOTHING

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
        cdef _Core core = self.core
        cdef _Waiter waiter
        while True:
            result = self.take(mode, max_items)
            if result is not _NOTHING:
                return result
            waiter = _thread_waiter()
            core.drop_dead_rx_waiter()
            result = self.take(mode, max_items)
            if result is not _NOTHING:
                return result
            if core.rx_waiter is not None:
                raise self.busy()
            core.rx_waiter = waiter
            try:
                woken = _wait(waiter, deadline)
            finally:
                if core.rx_waiter is waiter:
                    core.rx_waiter = None
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


def channel(capacity):
    """Create a bounded channel; return its first sender and its receiver.

    *capacity* is the exact number of items it buffers, 1 to
    :data:`MAX_CAPACITY`.  The channel is bound to no event loop or thread.
    """
    cdef _Core core = _Core(check_capacity(capacity))
    return Sender(core), Receiver(core)
