"""oneshot: one value, from any thread or loop, to one receiver; shared by
both channels.

A oneshot is a channel of capacity 1 that carries one item: its sender
claims its one send atomically and closes after it, so the value travels the
channel's wake-up protocol (thread-safe, cancellation-safe, seen by the
cycle collector) and a sender dropped unsent ends the receiver's wait.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, TypeVar

from . import _messages
from ._errors import Closed, Empty

__all__ = ("OneshotReceiver", "OneshotSender", "pair")

_T = TypeVar("_T")


class OneshotSender(Generic[_T]):
    """The sending half of :func:`ringchan.oneshot`: :meth:`send` once.

    Closed, or garbage-collected, without sending, it makes the receiver
    raise :class:`Closed`.
    """

    __slots__ = ("__weakref__", "_slot")

    def __init__(self, tx: Any) -> None:
        # One element, claimed with list.pop(), which is atomic with or
        # without a GIL: of two racing sends, exactly one gets the channel.
        self._slot: list[Any] = [tx]

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<ringchan.OneshotSender {state}>"

    def __reduce__(self) -> Any:
        raise TypeError(_messages.ONE_PROCESS)

    @property
    def is_closed(self) -> bool:
        """True once :meth:`send` can no longer succeed."""
        slot = self._slot
        return not slot or bool(slot[0].is_closed)

    def send(self, value: _T) -> None:
        """Send *value*; never waits, from any thread or event loop.

        Raises :class:`Closed` (with *value* in ``.item``) if the receiver is
        closed, and :class:`RuntimeError` if this sender was already used.
        """
        try:
            tx = self._slot.pop()
        except IndexError:
            raise RuntimeError(_messages.ONESHOT_USED) from None
        try:
            tx.try_send(value)
        finally:
            tx.close()

    async def closed(self) -> None:
        """Return once the receiver is closed or dropped, as tokio's
        ``Sender::closed``: the signal to stop working on a value nobody
        will receive.  Raises :class:`RuntimeError` if this sender was
        already used (sent or closed)."""
        try:
            tx = self._slot[0]
        except IndexError:
            raise RuntimeError(_messages.ONESHOT_USED) from None
        try:
            await tx.wait_closed()
        except Closed:
            # The handle was closed meanwhile by a send or close through
            # this sender: it waits for the receiver no more.
            raise RuntimeError(_messages.ONESHOT_USED) from None

    def close(self) -> None:
        """Close without sending (idempotent): the receiver raises :class:`Closed`."""
        try:
            tx = self._slot.pop()
        except IndexError:
            return
        tx.close()


class OneshotReceiver(Generic[_T]):
    """The receiving half of :func:`ringchan.oneshot`: ``await rx`` for the value.

    A cancelled ``await`` leaves the value for the next one.
    """

    __slots__ = ("__weakref__", "_received", "_rx")

    def __init__(self, rx: Any) -> None:
        self._rx = rx
        self._received = False

    def __repr__(self) -> str:
        state = "received" if self._received else "closed" if self._rx.is_closed else "open"
        return f"<ringchan.OneshotReceiver {state}>"

    def __reduce__(self) -> Any:
        raise TypeError(_messages.ONE_PROCESS)

    @property
    def is_closed(self) -> bool:
        """True once no value can be received any more: it was received, or
        the channel closed with none waiting.  A value sent and not yet
        received keeps it False."""
        rx = self._rx
        return self._received or (bool(rx.is_closed) and not len(rx))

    def _no_value(self) -> Closed:
        return Closed(_messages.ONESHOT_TAKEN if self._received else _messages.ONESHOT_NO_VALUE)

    def __await__(self) -> Generator[Any, None, _T]:
        return self._recv().__await__()

    async def _recv(self) -> _T:
        try:
            value: _T = await self._rx.recv()
        except Closed:
            raise self._no_value() from None
        self._received = True
        return value

    def try_recv(self) -> _T:
        """Return the value if it has been sent, else raise :class:`Empty`;
        :class:`Closed` if it never will be."""
        try:
            value: _T = self._rx.try_recv()
        except Closed:
            raise self._no_value() from None
        except Empty:
            raise Empty(_messages.ONESHOT_EMPTY) from None
        self._received = True
        return value

    def blocking_recv(self, timeout: float | None = None) -> _T:
        """Wait for the value from a plain thread, with the GIL released.

        Raises :class:`TimeoutError` once *timeout* seconds pass.
        """
        try:
            value: _T = self._rx.blocking_recv(timeout)
        except Closed:
            raise self._no_value() from None
        self._received = True
        return value

    def close(self) -> None:
        """Refuse the value (idempotent): a later :meth:`OneshotSender.send`
        raises :class:`Closed`.  A value sent before stays receivable, as
        with tokio's oneshot."""
        self._rx.close()


def pair(tx: Any, rx: Any) -> tuple[OneshotSender[Any], OneshotReceiver[Any]]:
    """The two halves of a oneshot over a fresh channel of capacity 1."""
    return OneshotSender(tx), OneshotReceiver(rx)
