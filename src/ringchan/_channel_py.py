"""The pure-Python channel: a deque guarded by a lock.

It is the reference for behaviour and types: the C channel in ``_channel_c``
matches it method for method, and the test suite runs against both.  Selected
with ``RINGCHAN_NO_EXTENSIONS=1``.

Every read and write of the channel's state, items and waiters alike, is
made with the channel's lock held, and each decision to park is taken in the
same locked section as the check that found no item or no room, so it is
correct without a GIL.  Wake-ups are made after the lock is released.  A
wake-up that raises is handled as in the C channel: the operation that
issued it has moved its items and succeeds; the wake-up is tried once more,
and if that fails too the waiter is put back, marked owed (the next side
about to park wakes it first) and the error goes to ``sys.unraisablehook``.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable, Iterator, Sequence
from functools import partial
from time import monotonic
from types import GenericAlias
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    TypeVar,
)

from . import _bridge, _messages, _oneshot
from ._args import check_capacity, check_max_items, check_timeout
from ._batches import Batches
from ._errors import Closed, Empty, Full, send_timeout
from ._oneshot import OneshotReceiver, OneshotSender
from ._stats import ChannelStats
from ._transaction import Transaction

if TYPE_CHECKING:
    from types import TracebackType

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

_T = TypeVar("_T")

if TYPE_CHECKING:
    # What a channel opened without a type argument carries (PEP 696): Any,
    # as before channels took one, rather than an item type to infer.
    from typing_extensions import TypeVar as _TypeVarWithDefault

    _Item = _TypeVarWithDefault("_Item", default=Any)
else:
    _Item = TypeVar("_Item")

_get_ident = threading.get_ident
_get_running_loop = asyncio._get_running_loop


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Report:
    """Hands an exception to ``sys.unraisablehook``, the way Python reports
    one raised in a finalizer: by raising it in one."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __del__(self) -> None:
        exc, self.exc = self.exc, None  # type: ignore[assignment]
        raise exc


class _Parked:
    """What every waiter carries: the handle it sends through (None for the
    receiver), its place in the queue of parked senders, and whether its
    owner still waits on it (all guarded by the channel's lock)."""

    __slots__ = ("left", "owner", "ticket")

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.ticket = 0
        self.left = False


class _LoopWaiter(_Parked):
    """A task parked on its event loop; woken at most once."""

    __slots__ = ("fut", "loop", "thread")

    def __init__(self, loop: asyncio.AbstractEventLoop, owner: Any = None) -> None:
        super().__init__(owner)
        self.loop = loop
        self.fut: asyncio.Future[None] = loop.create_future()
        self.thread = _get_ident()

    def dead(self) -> bool:
        """Parked on a loop that is closed: the task can never run again."""
        return self.loop.is_closed()

    def wake(self) -> bool:
        """Wake it; returns whether that was a wake-up sent to another thread."""
        try:
            if self.thread == _get_ident():
                _resolve(self.fut)
                return False
            self.loop.call_soon_threadsafe(_resolve, self.fut)
            return True
        except RuntimeError:
            # A closed loop will never run the parked task again: nobody to wake.
            if not self.loop.is_closed():
                raise
            return False


class _ThreadWaiter(_Parked):
    """A thread parked with the GIL released; woken at most once."""

    __slots__ = ("lock",)

    def __init__(self, owner: Any = None) -> None:
        super().__init__(owner)
        self.lock = threading.Lock()
        self.lock.acquire()

    def dead(self) -> bool:
        """Never: a parked thread is blocked in the channel until woken."""
        return False

    def wake(self) -> bool:
        """Wake it: always a wake-up sent to another thread."""
        self.lock.release()
        return True

    def wait(self, deadline: float | None) -> bool:
        if deadline is None:
            return self.lock.acquire()
        return self.lock.acquire(timeout=max(0.0, deadline - monotonic()))


_Waiter = _LoopWaiter | _ThreadWaiter
_W = TypeVar("_W", _LoopWaiter, _ThreadWaiter)


#: Where a waiter is registered, to be put back there if waking it fails.
_SENDERS, _RECEIVER, _CLOSED_LIST = range(3)


def _check_not_in_loop(what: str, instead: str) -> None:
    if _get_running_loop() is not None:
        raise RuntimeError(_messages.blocks_loop(what, instead))


def _deadline(timeout: Any) -> float | None:
    seconds = check_timeout(timeout)
    return None if seconds is None else monotonic() + seconds


class _Core:
    """State shared by every handle of one channel.

    Entered as a context manager for each state change.  The thread holding
    it is recorded so that a handle finalized by the cycle collector in the
    middle of a state change defers its close to the end of that change
    instead of deadlocking on the lock or acting on half-updated state.
    """

    __slots__ = (
        "buf",
        "capacity",
        "closed_waiters",
        "deferred",
        "end_error",
        "lock",
        "owed",
        "owner",
        "peeked",
        "received",
        "reserved",
        "rx_closed",
        "rx_waiter",
        "senders",
        "stash",
        "tickets",
        "tx_waiters",
        "wakeups",
        "weak_senders",
    )

    def __init__(self, capacity: int | None) -> None:
        #: The bound, or None for an unbounded channel.
        self.capacity = capacity
        self.buf: deque[Any] = deque()
        self.lock = threading.Lock()
        self.owner = 0
        self.deferred: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self.senders = 1
        self.rx_closed = False
        self.rx_waiter: _Waiter | None = None
        #: Parked senders, in ticket order.
        self.tx_waiters: deque[_Waiter] = deque()
        self.tickets = itertools.count(1)
        self.closed_waiters: list[_LoopWaiter] = []
        #: Slots where a failed wake-up left a waiter registered.
        self.owed: set[int] = set()
        #: Items handed back by Receiver._unget, received before buf's.
        self.stash: deque[Any] = deque()
        #: Items received so far: the stream position of the next one.
        self.received = 0
        #: 1 + the stream position peek() last returned, or 0.
        self.peeked = 0
        #: (exception, traceback) that ended the stream, or None.
        self.end_error: tuple[BaseException, Any] | None = None
        #: Wake-ups sent to another thread.
        self.wakeups = 0
        #: Slots held by permits not yet used or released.
        self.reserved = 0
        #: WeakSender handles alive.
        self.weak_senders = 0

    def drop_weak_sender(self) -> None:
        with self:
            self.weak_senders -= 1

    def room(self) -> int:
        """Items that may be enqueued now without a permit (lock held)."""
        if self.capacity is None:
            return sys.maxsize
        return self.capacity - len(self.buf) - self.reserved

    def __enter__(self, _ident: Callable[[], int] = _get_ident) -> None:
        # Bound at definition: handles finalized at interpreter exit enter
        # the lock after the module's globals are gone.
        owner = _ident()
        self.lock.acquire()
        self.owner = owner

    def __exit__(self, *exc_info: object) -> None:
        self.owner = 0
        self.lock.release()
        if self.deferred:
            self._run_deferred()

    def _run_deferred(self) -> None:
        with self:
            deferred, self.deferred = self.deferred, []
        for func, args in deferred:
            func(*args)

    def finalize(
        self, func: Callable[..., None], *args: Any, _ident: Callable[[], int] = _get_ident
    ) -> None:
        """Run a handle's finalizer, ``func(*args)``, now, or after the state
        change under way in this thread if the cycle collector interrupted
        one.  It takes no module global: at interpreter exit they may be
        gone before the handles are finalized."""
        if self.owner == _ident():
            self.deferred.append((func, args))
        else:
            func(*args)

    def ended(self) -> bool:
        """Nothing is buffered and nothing more can arrive (lock held)."""
        return not self.buf and not self.stash and (self.senders == 0 or self.rx_closed)

    def end(self, iterating: bool) -> None:
        """Raise the end of the stream for a receive."""
        if self.end_error is not None and not self.rx_closed:
            error, traceback = self.end_error
            raise error.with_traceback(traceback)
        if iterating:
            raise StopAsyncIteration
        if self.rx_closed:
            raise Closed(_messages.ENDED_BY_RECEIVER)
        raise Closed(_messages.ENDED_BY_SENDERS)

    def take_rx_waiter(self) -> _Waiter | None:
        waiter, self.rx_waiter = self.rx_waiter, None
        return waiter

    def take_tx_waiters(self, count: int) -> list[_Waiter]:
        """Up to *count* parked senders to wake, oldest first (lock held)."""
        tx_waiters = self.tx_waiters
        return [tx_waiters.popleft() for _ in range(min(count, len(tx_waiters)))]

    def enqueue(self, waiter: _Waiter) -> None:
        """Queue a sender's waiter at its ticket's place (lock held): the
        back on a first park, its old place when it parks again."""
        tx_waiters = self.tx_waiters
        if not waiter.ticket:
            waiter.ticket = next(self.tickets)
        if not tx_waiters or tx_waiters[-1].ticket < waiter.ticket:
            tx_waiters.append(waiter)
            return
        place = 0
        for place, other in enumerate(tx_waiters):  # noqa: B007 - used below
            if other.ticket > waiter.ticket:
                break
        tx_waiters.insert(place, waiter)

    def take_owed(self, slot: int) -> bool:
        """Whether a failed wake-up left a waiter in *slot* (lock held)."""
        if slot in self.owed:
            self.owed.discard(slot)
            return True
        return False

    def leave(self, waiter: _Waiter) -> bool:
        """*waiter*'s owner waits no more: unregister it if it still is.
        Returns whether it was still registered (not woken)."""
        with self:
            waiter.left = True
            if self.rx_waiter is waiter:
                self.rx_waiter = None
                return True
            try:
                self.tx_waiters.remove(waiter)
            except ValueError:
                return False
            return True

    def deliver(
        self,
        waiters: Iterable[_Waiter],
        slot: int,
        _report: Callable[[BaseException], object] = _Report,
        _finalizing: Callable[[], bool] = sys.is_finalizing,
    ) -> int:
        """Wake each waiter, registered in *slot* until now; returns how
        many were woken or put back (a task whose loop is closed is neither).
        The defaults keep what it needs at interpreter exit, when handles
        are finalized after the module's globals are gone."""
        woken = across = 0
        for waiter in waiters:
            if waiter.dead():
                continue
            try:
                across += waiter.wake()
            except BaseException as first:
                if _finalizing():
                    continue  # a loop left in a daemon thread never runs again
                try:
                    across += waiter.wake()
                except BaseException:
                    self.put_back(waiter, slot)
                _report(first)
            woken += 1
        if across:
            with self:
                self.wakeups += across
        return woken

    def put_back(self, waiter: _Waiter, slot: int) -> None:
        """Register *waiter* in *slot* again after a failed wake-up."""
        with self:
            if slot == _CLOSED_LIST:
                self.closed_waiters.append(waiter)  # type: ignore[arg-type]
            elif waiter.left:
                return
            elif slot == _SENDERS:
                self.enqueue(waiter)
            elif self.rx_waiter is None:
                self.rx_waiter = waiter
            else:
                return
            self.owed.add(slot)

    def wake_rx(self) -> None:
        with self:
            waiter = self.take_rx_waiter()
        if waiter is not None:
            self.deliver([waiter], _RECEIVER)

    def wake_tx(self, count: int) -> None:
        """Wake up to *count* parked senders; tasks whose loop is closed are
        dropped rather than counted, since they can never use the room."""
        while count > 0:
            with self:
                wake = self.take_tx_waiters(count)
            if not wake:
                return
            count -= self.deliver(wake, _SENDERS)

    def release_sender(self, sender: Any) -> None:
        """*sender* closed: fail its parked sends; end the stream after the
        last sender.  Other handles' parked senders keep their places."""
        with self:
            self.senders -= 1
            mine = [w for w in self.tx_waiters if w.owner is sender]
            for waiter in mine:
                self.tx_waiters.remove(waiter)
            rx_waiter = self.take_rx_waiter() if self.senders == 0 else None
        self.deliver(mine, _SENDERS)
        if rx_waiter is not None:
            self.deliver([rx_waiter], _RECEIVER)

    def close_rx(self, drop_items: bool) -> None:
        """Refuse further sends and wake everyone parked.  Called again, it
        wakes whoever a failed wake-up left registered."""
        dropped: list[Any] = []
        with self:
            if drop_items:
                dropped = [*self.stash, *self.buf]
                self.stash.clear()
                self.buf.clear()
            self.rx_closed = True
            senders = list(self.tx_waiters)
            self.tx_waiters.clear()
            closed_waiters, self.closed_waiters = self.closed_waiters, []
            rx_waiter = self.take_rx_waiter()
        self.deliver(senders, _SENDERS)
        self.deliver(closed_waiters, _CLOSED_LIST)
        if rx_waiter is not None:
            self.deliver([rx_waiter], _RECEIVER)
        # The items go last, outside the lock: their finalizers may be anything.
        del dropped


class _Await(Coroutine[Any, Any, _T]):
    """A plain awaitable running one channel operation once awaited.

    Like the C channel's awaitables it is its own iterator with ``send``,
    ``throw`` and ``close``, so ``asyncio.create_task`` and TaskGroups take it
    directly (as a ``Coroutine``, which type checkers see too).  The
    coroutine doing the work starts on the first step.
    """

    __slots__ = ("_args", "_coro", "_func", "_name")

    def __init__(self, name: str, func: Any, *args: Any) -> None:
        self._name = name
        self._func: Any = func
        self._args = args
        self._coro: Any = None

    def __del__(self) -> None:
        # getattr: __init__ may have failed before setting it.
        if getattr(self, "_func", None) is not None:
            message = f"ringchan {self._name} was never awaited"
            if self._name.startswith("Sender.reserve"):
                message += ": nothing was reserved"
            elif self._name.startswith("Sender"):
                message += ": nothing was sent"
            # Level 2: the line that dropped it, usually the one that made it.
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _start(self, func: Any) -> Any:
        return func(*self._args)

    def _begin(self) -> Any:
        func, self._func = self._func, None
        if func is None:
            raise RuntimeError(_messages.REUSED)
        coro = self._start(func)
        # The coroutine holds them now; a finished awaitable must not.
        self._args = ()
        return coro

    def __await__(self) -> Generator[Any, None, _T]:
        # Awaited directly, the coroutine runs with nothing in between.
        return self._begin().__await__()  # type: ignore[no-any-return]

    # Hidden from type checkers: with them, an _Await would also match the
    # Generator protocol, and asyncio.create_task() could not tell its
    # result type.
    if not TYPE_CHECKING:

        def __iter__(self):
            return self

        def __next__(self):
            return self.send(None)

    def send(self, value: Any) -> Any:
        """Run the operation to its next wait: how a task drives it."""
        coro = self._coro
        if coro is None:
            coro = self._coro = self._begin()
        try:
            return coro.send(value)
        except BaseException:
            self._coro = None  # finished, with its result or an error
            raise

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """Deliver an exception (a cancellation) to the waiting operation."""
        coro = self._coro
        if coro is None:
            self._func = None
            if val is None:
                raise typ if isinstance(typ, BaseException) else typ()
            raise val.with_traceback(tb) if isinstance(val, BaseException) else typ(val)
        try:
            if val is None and tb is None:
                return coro.throw(typ)
            return coro.throw(typ, val, tb)
        except BaseException:
            self._coro = None
            raise

    def close(self) -> None:
        """Abandon the operation; like a closed coroutine, it is then finished."""
        coro, self._coro = self._coro, None
        self._func = None
        if coro is not None:
            coro.close()


class SendMany(_Await[None]):
    """The awaitable of :meth:`Sender.send_many`.

    :attr:`sent` counts the items enqueued so far, so that after a
    cancellation the caller knows ``items[:sent]`` went through.
    """

    __slots__ = ("sent",)

    def __init__(self, sender: Sender[Any], items: list[Any]) -> None:
        super().__init__("Sender.send_many()", sender._send_all, items, False)
        self.sent = 0

    def _start(self, func: Any) -> Any:
        # Handed over only now: kept in _args it would make a reference cycle.
        return func(*self._args, self)


_H = TypeVar("_H", bound="_Handle")


class _Handle:
    """What both handles share: the channel core, its size, closing on exit."""

    __slots__ = ("__weakref__", "_core")

    # A types.GenericAlias, as the C classes give, rather than typing's own.
    __class_getitem__: ClassVar[Any] = classmethod(GenericAlias)

    def __init__(self, core: _Core) -> None:
        self._core = core

    def __reduce__(self) -> Any:
        raise TypeError(_messages.ONE_PROCESS)

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return (
            f"<ringchan.{type(self).__name__} capacity={self._core.capacity} "
            f"len={len(self)} {state}>"
        )

    @property
    def capacity(self) -> int | None:
        """How many items the channel buffers at most; None if unbounded."""
        return self._core.capacity

    def __len__(self) -> int:
        """Items buffered now."""
        core = self._core
        return len(core.buf) + len(core.stash)

    @property
    def sender_count(self) -> int:
        """Open :class:`Sender` handles of this channel."""
        return self._core.senders

    @property
    def weak_sender_count(self) -> int:
        """:class:`WeakSender` handles of this channel still alive."""
        return self._core.weak_senders

    @property
    def is_closed(self) -> bool:
        """Whether this handle is closed; each handle defines what that means."""
        raise NotImplementedError

    def close(self) -> None:
        """Close this handle; each handle defines what that does."""
        raise NotImplementedError

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(
        self,
        exc_type: type | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self: _H) -> _H:
        return self

    async def __aexit__(
        self,
        exc_type: type | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Sender(_Handle, Generic[_T]):
    """A sending handle of a channel; clone it to share among producers.

    The receiver sees the end of the stream once every handle is closed,
    explicitly, by ``with``/``async with``, or by being garbage-collected.
    """

    __slots__ = ("_closed",)

    def __init__(self, core: _Core) -> None:
        super().__init__(core)
        self._closed = False

    @property
    def is_closed(self) -> bool:
        """True when sends through this handle fail: it or the receiver is closed."""
        return self._closed or self._core.rx_closed

    def _refusal(self) -> str | None:
        """Why a send must fail now (lock held), or None.

        A message rather than the exception: an exception kept in a local of
        the raising frame would be a reference cycle holding the unsent item.
        """
        if self._closed:
            return _messages.SENDER_CLOSED
        if self._core.rx_closed:
            return _messages.RECEIVER_CLOSED
        return None

    def clone(self) -> Sender[_T]:
        """Return a new, open handle to the same channel."""
        core = self._core
        with core:
            if self._closed:
                raise Closed(_messages.CLONE_CLOSED)
            core.senders += 1
        return Sender(core)

    def close(self) -> None:
        """Close this handle (idempotent); the stream ends after the last one."""
        with self._core:
            if self._closed:
                return
            self._closed = True
        self._core.release_sender(self)

    def _close_with_error(self, error: BaseException) -> None:
        """Close this handle; once the stream has ended, receives raise
        *error* instead of :class:`Closed` (from_iterable's worker)."""
        if not isinstance(error, BaseException):
            raise TypeError(f"expected an exception, got {type(error).__name__}")
        core = self._core
        with core:
            if core.end_error is None and not self._closed:
                core.end_error = (error, error.__traceback__)
        self.close()

    def __del__(self) -> None:
        if not self._closed:
            self._closed = True
            self._core.finalize(self._core.release_sender, self)

    def try_send(self, item: _T, /) -> None:
        """Enqueue *item* now, or raise :class:`Full` (or :class:`Closed`)."""
        core = self._core
        with core:
            refusal = self._refusal()
            if refusal is not None:
                raise Closed(refusal, item)
            if core.room() <= 0:
                raise Full(_messages.full(core.capacity, core.reserved), item)
            core.buf.append(item)
            waiter = core.take_rx_waiter()
        if waiter is not None:
            core.deliver([waiter], _RECEIVER)

    def try_send_many(self, items: Sequence[_T], /) -> int:
        """Enqueue as many of *items* as fit now, in order; return how many.

        *items* must be a sequence so that ``items[n:]``, the ones that did
        not fit, stay with the caller.
        """
        if not isinstance(items, Sequence):
            raise TypeError(
                "try_send_many() needs a sequence such as a list, so the items "
                f"that do not fit stay with you; got {type(items).__name__}"
            )
        # Read before the lock is taken: a sequence's own methods may use
        # this channel.
        seq = items if type(items) is list else list(items)
        core = self._core
        with core:
            refusal = self._refusal()
            if refusal is not None:
                raise Closed(refusal, list(seq))
            count = max(0, min(core.room(), len(seq)))
            core.buf.extend(seq[:count])
            waiter = core.take_rx_waiter() if count else None
        if waiter is not None:
            core.deliver([waiter], _RECEIVER)
        return count

    def send(self, item: _T, /) -> _Await[None]:
        """Enqueue *item*, waiting while the channel is full.

        If the await is cancelled, *item* was not sent.
        """
        return _Await("Sender.send()", self._send_all, [item], True, None)

    def send_many(self, items: Iterable[_T], /) -> SendMany:
        """Enqueue every item of *items* in order, waiting for room as needed.

        *items* is read into a list before anything is sent.  On
        :class:`Closed`, ``.item`` lists the items not sent; after a
        cancellation the awaitable's ``.sent`` counts those that were.
        """
        return SendMany(self, list(items))

    def _push_or_park(
        self,
        items: list[Any],
        sent: int,
        single: bool,
        new_waiter: Callable[[Any], _W] | None,
        ticket: int,
    ) -> tuple[int, _W | None]:
        """Enqueue what fits of ``items[sent:]``; return the new count sent and,
        if items are left and *new_waiter* is given, the waiter parked for
        room, at the place of *ticket* if it parked before."""
        core = self._core
        waiter = None
        with core:
            refusal = self._refusal()
            if refusal is not None:
                raise Closed(refusal, items[0] if single else items[sent:])
            count = max(0, min(core.room(), len(items) - sent))
            core.buf.extend(items[sent : sent + count])
            sent += count
            rx_waiter = core.take_rx_waiter() if count else None
            if sent < len(items) and new_waiter is not None:
                if rx_waiter is None and core.buf and core.take_owed(_RECEIVER):
                    rx_waiter = core.take_rx_waiter()
                waiter = new_waiter(self)
                waiter.ticket = ticket
                core.enqueue(waiter)
        if rx_waiter is not None:
            core.deliver([rx_waiter], _RECEIVER)
        return sent, waiter

    async def _send_all(self, items: list[Any], single: bool, progress: SendMany | None) -> None:
        # The loop is looked up only to park: a send that finds room needs none.
        sent, _ = self._push_or_park(items, 0, single, None, 0)
        if progress is not None:
            progress.sent = sent
        if sent == len(items):
            return
        new_waiter = partial(_LoopWaiter, asyncio.get_running_loop())
        ticket = 0
        while True:
            sent, waiter = self._push_or_park(items, sent, single, new_waiter, ticket)
            if progress is not None:
                progress.sent = sent
            if waiter is None:
                return
            ticket = waiter.ticket
            try:
                await waiter.fut
            except BaseException:
                self._abandon(waiter)
                raise
            self._core.leave(waiter)

    def _abandon(self, waiter: _Waiter) -> None:
        """Unpark *waiter*; if it was already woken, pass the wake-up on."""
        core = self._core
        if core.leave(waiter):
            return
        with core:
            room = core.room() > 0
        if room:
            core.wake_tx(1)

    def blocking_send(self, item: _T, timeout: float | None = None) -> None:
        """Enqueue *item* from a plain thread, waiting while the channel is full.

        Raises :class:`TimeoutError` (item not sent) once *timeout* seconds
        pass.  Refuses to run in a thread whose event loop is running.
        """
        _check_not_in_loop("blocking_send()", "'await send()'")
        self._blocking_send_all([item], True, _deadline(timeout))

    def blocking_send_many(self, items: Iterable[_T], timeout: float | None = None) -> None:
        """Enqueue every item of *items* in order from a plain thread.

        On :class:`TimeoutError` or :class:`Closed`, ``.item`` lists the
        items not sent.
        """
        _check_not_in_loop("blocking_send_many()", "'await send_many()'")
        deadline = _deadline(timeout)
        self._blocking_send_all(list(items), False, deadline)

    def _blocking_send_all(self, items: list[Any], single: bool, deadline: float | None) -> None:
        sent = ticket = 0
        expired = False
        while True:
            sent, waiter = self._push_or_park(
                items, sent, single, None if expired else _ThreadWaiter, ticket
            )
            if sent == len(items):
                return
            if waiter is None:
                raise send_timeout(items[0] if single else items[sent:], single)
            ticket = waiter.ticket
            expired = not self._wait_turn(waiter, deadline)

    def _wait_turn(self, waiter: _ThreadWaiter, deadline: float | None) -> bool:
        """Wait, parked for room, until woken (True) or the deadline (False);
        unregistered either way, a wake-up got meanwhile passed on."""
        try:
            woken = waiter.wait(deadline)
        except BaseException:
            self._abandon(waiter)
            raise
        if woken:
            self._core.leave(waiter)
        else:
            # The caller makes one last try without waiting, in case room
            # came at the end.
            self._abandon(waiter)
        return woken

    # --- permits ---------------------------------------------------------------

    def _reserve_or_park(
        self, count: int, new_waiter: Callable[[Any], _W] | None, ticket: int
    ) -> tuple[Permit[_T] | None, _W | None]:
        """Reserve *count* slots now, or park a waiter from *new_waiter* for
        room (at the place of *ticket*), or return (None, None)."""
        core = self._core
        waiter = None
        with core:
            refusal = self._refusal()
            if refusal is not None:
                raise Closed(refusal)
            if core.room() >= count:
                core.reserved += count if core.capacity is not None else 0
                return Permit(self, count), None
            if new_waiter is not None:
                waiter = new_waiter(self)
                waiter.ticket = ticket
                core.enqueue(waiter)
        return None, waiter

    def try_reserve(self) -> Permit[_T]:
        """Reserve one slot now, or raise :class:`Full` (or :class:`Closed`)."""
        return self.try_reserve_many(1)

    def try_reserve_many(self, count: int, /) -> Permit[_T]:
        """Reserve *count* slots now, all or none, or raise :class:`Full`."""
        count = self._check_count(count)
        permit, _ = self._reserve_or_park(count, None, 0)
        if permit is None:
            raise Full(_messages.no_room(count, self._core.capacity, self._core.reserved))
        return permit

    def reserve(self) -> _Await[Permit[_T]]:
        """Reserve one slot, waiting for room; :class:`Closed` if sends must fail.

        If the await is cancelled, nothing was reserved.
        """
        return _Await("Sender.reserve()", self._reserve, 1)

    def reserve_many(self, count: int, /) -> _Await[Permit[_T]]:
        """Reserve *count* slots at once, waiting until all are free."""
        return _Await("Sender.reserve_many()", self._reserve, self._check_count(count))

    def blocking_reserve(self, timeout: float | None = None) -> Permit[_T]:
        """:meth:`reserve` from a plain thread, waiting with the GIL released.

        Raises :class:`TimeoutError` (nothing reserved) once *timeout* seconds pass.
        """
        _check_not_in_loop("blocking_reserve()", "'await reserve()'")
        deadline = _deadline(timeout)
        ticket = 0
        expired = False
        while True:
            permit, waiter = self._reserve_or_park(1, None if expired else _ThreadWaiter, ticket)
            if permit is not None:
                return permit
            if waiter is None:
                raise TimeoutError(_messages.RESERVE_TIMEOUT)
            ticket = waiter.ticket
            expired = not self._wait_turn(waiter, deadline)

    def _check_count(self, count: Any) -> int:
        slots = check_max_items(count, "count")
        capacity = self._core.capacity
        if capacity is not None and slots > capacity:
            raise ValueError(_messages.too_many_slots(slots, capacity))
        return slots

    async def _reserve(self, count: int) -> Permit[_T]:
        permit, _ = self._reserve_or_park(count, None, 0)
        if permit is not None:
            return permit
        new_waiter = partial(_LoopWaiter, asyncio.get_running_loop())
        ticket = 0
        while True:
            permit, waiter = self._reserve_or_park(count, new_waiter, ticket)
            if permit is not None:
                return permit
            assert waiter is not None
            ticket = waiter.ticket
            try:
                await waiter.fut
            except BaseException:
                self._abandon(waiter)
                raise
            self._core.leave(waiter)

    # --- weak handles -------------------------------------------------------------

    def downgrade(self) -> WeakSender[_T]:
        """A :class:`WeakSender` of this channel: it does not keep it open."""
        return WeakSender(self._core)

    def same_channel(self, other: Any, /) -> bool:
        """Whether *other* (a Sender, WeakSender or Receiver) is of this channel."""
        return _core_of(other) is self._core

    async def wait_closed(self) -> None:
        """Return once the receiver is closed: the producers' signal to stop."""
        core = self._core
        with core:
            if self._closed:
                raise Closed(_messages.WAIT_CLOSED_CLOSED)
            if core.rx_closed:
                return
            waiter = _LoopWaiter(asyncio.get_running_loop())
            core.closed_waiters.append(waiter)
        try:
            await waiter.fut
        finally:
            with core:
                if waiter in core.closed_waiters:
                    core.closed_waiters.remove(waiter)


class Receiver(_Handle, Generic[_T]):
    """The single receiving handle of a channel: a stream of its items.

    ``async for item in rx`` on an event loop, ``for item in rx`` in a
    thread; both end once the channel is closed and drained.
    """

    __slots__ = ()

    @property
    def is_closed(self) -> bool:
        """True once nothing new can arrive: receiver or every sender closed."""
        return self._core.rx_closed or self._core.senders == 0

    def close(self) -> None:
        """Refuse further sends (idempotent); buffered items stay receivable."""
        self._core.close_rx(drop_items=False)

    def __del__(self) -> None:
        self._core.finalize(self._core.close_rx, True)

    def _parked(self) -> tuple[int, bool]:
        """(parked senders, whether the receiver is parked): for the tests."""
        core = self._core
        with core:
            return len(core.tx_waiters), core.rx_waiter is not None

    def _take_or_park(
        self,
        max_items: int,
        new_waiter: Callable[[Any], _W] | None = None,
        iterating: bool = False,
        peek: bool = False,
    ) -> tuple[list[Any] | None, _W | None]:
        """Pop up to *max_items* items (with *peek*, the next one left in
        place); with none buffered, raise at the end of the stream, else park
        a waiter from *new_waiter* if given."""
        core = self._core
        waiter = None
        with core:
            # Items handed back come first; taking them frees no room.
            buf = core.stash or core.buf
            count = min(max_items, len(buf))
            if count:
                wake = count if core.tx_waiters and buf is core.buf else 0
                if peek:
                    items: list[Any] | None = [buf[0]]
                    core.peeked = core.received + 1
                    wake = 0
                else:
                    items = [buf.popleft() for _ in range(count)]
                    core.received += count
            elif core.ended():
                core.end(iterating)
            elif new_waiter is None:
                return None, None
            else:
                current = core.rx_waiter
                if current is not None and not current.left and not current.dead():
                    raise RuntimeError(_messages.BUSY)
                items = None
                wake = 0
                if core.tx_waiters and core.take_owed(_SENDERS):
                    wake = max(0, core.room())
                waiter = new_waiter(None)
                core.rx_waiter = waiter
        if wake:
            core.wake_tx(wake)
        return items, waiter

    def _unpark(self, waiter: _Waiter) -> None:
        self._core.leave(waiter)

    def _unget(self, items: Iterable[_T]) -> None:
        """Hand *items* back: the next receives return them, in order, before
        anything buffered.  For a cancelled ``batches()`` step."""
        items = list(items)
        core = self._core
        with core:
            core.stash.extendleft(reversed(items))
            core.received -= len(items)

    def try_peek(self) -> _T:
        """Return the next item now without taking it, or raise :class:`Empty`
        (or :class:`Closed`); :meth:`commit` then takes it."""
        items, _ = self._take_or_park(1, peek=True)
        if items is None:
            raise Empty(_messages.EMPTY)
        return items[0]  # type: ignore[no-any-return]

    def peek(self) -> _Await[_T]:
        """Return the next item without taking it, waiting for one;
        :class:`Closed` at the end.  :meth:`commit` then takes it."""
        return _Await("Receiver.peek()", self._recv, 1, True, False, True)

    def blocking_peek(self, timeout: float | None = None) -> _T:
        """:meth:`peek` from a plain thread, waiting with the GIL released.

        Raises :class:`TimeoutError` once *timeout* seconds pass.
        """
        _check_not_in_loop("blocking_peek()", "'await peek()'")
        return self._blocking_recv(1, _deadline(timeout), True)[0]  # type: ignore[no-any-return]

    def commit(self) -> _T:
        """Take and return the item the last peek returned.

        Raises :class:`RuntimeError` when nothing was peeked since the last
        item was taken.
        """
        core = self._core
        with core:
            peeked = core.peeked != 0 and core.peeked == core.received + 1
            core.peeked = 0
        if not peeked:
            raise RuntimeError(_messages.NOT_PEEKED)
        return self.try_recv()

    def transaction(self) -> Transaction[_T]:
        """``async with rx.transaction() as item:`` the next item, taken only
        if the block exits without an exception; else it stays next."""
        return Transaction(self, None, False)

    def blocking_transaction(self, timeout: float | None = None) -> Transaction[_T]:
        """``with rx.blocking_transaction() as item:`` :meth:`transaction`
        from a plain thread; *timeout* bounds the wait for the item."""
        return Transaction(self, timeout, True)

    def batches(self, max_items: int, max_wait: float) -> Batches[_T]:
        """Iterate over lists of items: each as soon as *max_items* are there,
        or *max_wait* seconds after its first item arrived (``async for``,
        or ``for`` in a plain thread); see :class:`ringchan.Batches`."""
        return Batches(self, max_items, max_wait)

    def stats(self) -> ChannelStats:
        """A snapshot of the channel's counters, for diagnosing stalls."""
        core = self._core
        with core:
            buffered = len(core.buf) + len(core.stash)
            return ChannelStats(
                sent=core.received + buffered,
                received=core.received,
                buffered=buffered,
                capacity=core.capacity,
                senders=core.senders,
                parked_senders=len(core.tx_waiters),
                receiver_parked=core.rx_waiter is not None,
                reserved=core.reserved,
                wakeups=core.wakeups,
            )

    def try_recv(self) -> _T:
        """Return the oldest item now, or raise :class:`Empty` (or :class:`Closed`)."""
        items, _ = self._take_or_park(1)
        if items is None:
            raise Empty(_messages.EMPTY)
        return items[0]  # type: ignore[no-any-return]

    def try_recv_many(self, max_items: int, /) -> list[_T]:
        """Return up to *max_items* items buffered now, maybe none."""
        items, _ = self._take_or_park(check_max_items(max_items))
        return [] if items is None else items

    def recv(self) -> _Await[_T]:
        """Return the next item, waiting for one; :class:`Closed` at the end."""
        return _Await("Receiver.recv()", self._recv, 1, True, False)

    def recv_many(self, max_items: int, /) -> _Await[list[_T]]:
        """Return 1..*max_items* items, waiting only for the first."""
        return _Await("Receiver.recv_many()", self._recv, check_max_items(max_items), False, False)

    def __aiter__(self) -> Receiver[_T]:
        return self

    def __anext__(self) -> _Await[_T]:
        return _Await("Receiver.__anext__()", self._recv, 1, True, True)

    async def _recv(self, max_items: int, single: bool, iterating: bool, peek: bool = False) -> Any:
        # The loop is looked up only to park: a receive that finds an item
        # needs none.
        items, _ = self._take_or_park(max_items, None, iterating, peek)
        if items is not None:
            return items[0] if single else items
        new_waiter = partial(_LoopWaiter, asyncio.get_running_loop())
        while True:
            items, waiter = self._take_or_park(max_items, new_waiter, iterating, peek)
            if items is not None:
                return items[0] if single else items
            assert waiter is not None
            try:
                await waiter.fut
            finally:
                self._unpark(waiter)

    def blocking_recv(self, timeout: float | None = None) -> _T:
        """Return the next item from a plain thread, waiting with the GIL released.

        Raises :class:`TimeoutError` once *timeout* seconds pass, and
        :class:`Closed` at the end of the stream.
        """
        _check_not_in_loop("blocking_recv()", "'await recv()'")
        return self._blocking_recv(1, _deadline(timeout))[0]  # type: ignore[no-any-return]

    def blocking_recv_many(self, max_items: int, timeout: float | None = None) -> list[_T]:
        """Return 1..*max_items* items from a plain thread, waiting for the first."""
        _check_not_in_loop("blocking_recv_many()", "'await recv_many()'")
        max_items = check_max_items(max_items)
        return self._blocking_recv(max_items, _deadline(timeout))

    def _blocking_recv(
        self, max_items: int, deadline: float | None, peek: bool = False
    ) -> list[Any]:
        while True:
            items, waiter = self._take_or_park(max_items, _ThreadWaiter, False, peek)
            if items is not None:
                return items
            assert waiter is not None
            try:
                woken = waiter.wait(deadline)
            finally:
                self._unpark(waiter)
            if not woken:
                items, _ = self._take_or_park(max_items, None, False, peek)
                if items is not None:
                    return items
                raise TimeoutError(_messages.RECV_TIMEOUT)

    def __iter__(self) -> Receiver[_T]:
        return self

    def __next__(self) -> _T:
        _check_not_in_loop("'for item in rx'", "'async for item in rx'")
        try:
            return self._blocking_recv(1, None)[0]  # type: ignore[no-any-return]
        except Closed:
            raise StopIteration from None


def _core_of(handle: Any) -> _Core:
    if isinstance(handle, (_Handle, WeakSender)):
        return handle._core
    raise TypeError(
        "expected a Sender, WeakSender or Receiver of this implementation, "
        f"got {type(handle).__name__}"
    )


class Permit(Generic[_T]):
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

    __slots__ = ("__weakref__", "_left", "_sender")

    def __init__(self, sender: Sender[_T], count: int) -> None:
        self._sender = sender
        self._left = count

    def __repr__(self) -> str:
        return f"<ringchan.Permit slots={self._left}>"

    def __reduce__(self) -> Any:
        raise TypeError(_messages.ONE_PROCESS)

    def __len__(self) -> int:
        """Slots left to send into."""
        return self._left

    def __iter__(self) -> Iterator[Permit[_T]]:
        """One-slot permits, each taking one of this permit's slots, until
        none is left, as tokio's ``reserve_many`` gives them:
        ``for permit in tx.reserve_many(3)``.  Slots not taken stay here."""
        while True:
            # Made before the slot moves: a failed allocation loses no slot.
            one: Permit[_T] = Permit(self._sender, 0)
            with self._sender._core:
                if not self._left:
                    return
                self._left -= 1
                one._left = 1
            yield one

    def send(self, item: _T, /) -> None:
        """Enqueue *item* into a reserved slot, at once.

        Raises :class:`Closed` (with *item* in ``.item``; the slot is given
        back) if the receiver or the permit's sender was closed since, and
        :class:`RuntimeError` if no slot is left.
        """
        core = self._sender._core
        rx_waiter = None
        with core:
            if not self._left:
                raise RuntimeError(_messages.PERMIT_USED)
            self._left -= 1
            if core.capacity is not None:
                core.reserved -= 1
            refusal = self._sender._refusal()
            if refusal is None:
                core.buf.append(item)
                rx_waiter = core.take_rx_waiter()
        if refusal is not None:
            core.wake_tx(1)
            raise Closed(refusal, item)
        if rx_waiter is not None:
            core.deliver([rx_waiter], _RECEIVER)

    def release(self) -> None:
        """Give back the slots not used (idempotent)."""
        core = self._sender._core
        with core:
            count, self._left = self._left, 0
            if core.capacity is not None:
                core.reserved -= count
        if count:
            core.wake_tx(count)

    def __enter__(self) -> Permit[_T]:
        return self

    def __exit__(
        self,
        exc_type: type | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __del__(self) -> None:
        if self._left:
            self._sender._core.finalize(self.release)


class WeakSender(Generic[_T]):
    """A handle that does not keep its channel open: :meth:`upgrade` it to
    send.  For monitors and caches that must not delay the end of a stream."""

    __slots__ = ("__weakref__", "_core")

    def __init__(self, core: _Core) -> None:
        with core:
            core.weak_senders += 1
        self._core = core

    def __repr__(self) -> str:
        return f"<ringchan.WeakSender senders={self._core.senders}>"

    def __reduce__(self) -> Any:
        raise TypeError(_messages.ONE_PROCESS)

    def upgrade(self) -> Sender[_T] | None:
        """A new :class:`Sender` while any sender is open, else None."""
        core = self._core
        with core:
            if core.senders == 0:
                return None
            core.senders += 1
        return Sender(core)

    def same_channel(self, other: Any, /) -> bool:
        """Whether *other* (a Sender, WeakSender or Receiver) is of this channel."""
        return _core_of(other) is self._core

    def __del__(self) -> None:
        core = self._core
        core.finalize(core.drop_weak_sender)


# channel, unbounded_channel and oneshot are classes only so that they take
# the item type in brackets (_pair.py says how).  Type checkers see them
# derive from the tuple they return, so that it unpacks with its item types,
# and see the call as __new__; at run time the call is _make.
if TYPE_CHECKING:
    from builtins import tuple as _Pair
    from builtins import type as _PairMaker
else:
    from ._pair import NO_BASE as _Pair
    from ._pair import PairMaker as _PairMaker


class channel(_Pair[Sender[_Item], Receiver[_Item]], metaclass=_PairMaker):
    """Create a bounded channel; return its first sender and its receiver.

    *capacity* is the exact number of items it buffers, 1 to
    :data:`MAX_CAPACITY`.  The channel is bound to no event loop or thread.
    ``channel[int](16)`` tells type checkers what it carries.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __new__(  # type: ignore[misc]
            cls, capacity: int
        ) -> tuple[Sender[_Item], Receiver[_Item]]: ...

    @staticmethod
    def _make(capacity: int) -> tuple[Sender[Any], Receiver[Any]]:
        core = _Core(check_capacity(capacity))
        return Sender(core), Receiver(core)


class oneshot(_Pair[OneshotSender[_Item], OneshotReceiver[_Item]], metaclass=_PairMaker):
    """Create a oneshot: a sender for one value and its receiver.

    ``tx.send(value)`` never waits and works from any thread or event loop;
    ``await rx`` (or ``rx.try_recv()``, ``rx.blocking_recv()``) returns it.
    A sender closed or collected without sending makes the receiver raise
    :class:`Closed`.  ``oneshot[int]()`` tells type checkers what it carries.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __new__(  # type: ignore[misc]
            cls,
        ) -> tuple[OneshotSender[_Item], OneshotReceiver[_Item]]: ...

    @staticmethod
    def _make() -> tuple[OneshotSender[Any], OneshotReceiver[Any]]:
        return _oneshot.pair(*channel(1))


def from_iterable(
    iterable: Iterable[_T], capacity: int = 64, *, daemon: bool = False
) -> Receiver[_T]:
    """Run a blocking *iterable* on a worker thread, feeding a new channel of
    *capacity*; return its receiver.

    The worker blocks while the channel is full.  An exception raised by the
    iterable reaches the receiver after every item before it, in place of
    the end of the stream.  Closing the receiver (or dropping it) stops the
    worker at its next send; the worker then closes the iterator (a
    generator gets ``close()``).  The thread is a daemon only if *daemon*.
    """
    return _bridge.start(channel, iterable, capacity, daemon)  # type: ignore[no-any-return]


class unbounded_channel(_Pair[Sender[_Item], Receiver[_Item]], metaclass=_PairMaker):
    """Create a channel without a bound: sends never wait and ``try_send``
    never raises :class:`Full`.  Same Sender and Receiver API; ``capacity``
    is None.  Memory grows with what is buffered, and shrinks as it drains.
    ``unbounded_channel[int]()`` tells type checkers what it carries.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __new__(  # type: ignore[misc]
            cls,
        ) -> tuple[Sender[_Item], Receiver[_Item]]: ...

    @staticmethod
    def _make() -> tuple[Sender[Any], Receiver[Any]]:
        core = _Core(None)
        return Sender(core), Receiver(core)


# Users meet these as ringchan.<name>: say so in reprs, help() and tracebacks.
for _public in (
    Permit,
    Receiver,
    Sender,
    WeakSender,
    channel,
    from_iterable,
    oneshot,
    unbounded_channel,
):
    _public.__module__ = "ringchan"
del _public
