"""Batching windows over a receiver (tokio-stream's ``chunks_timeout``);
shared by both channels."""

from __future__ import annotations

import asyncio
import math
import sys
from time import monotonic
from typing import Any, Generic, TypeVar

from ._args import check_max_items, check_max_wait
from ._errors import Closed

__all__ = ("Batches",)

_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def _peek_within(rx: Any, seconds: float) -> None:
        async with asyncio.timeout(seconds):
            await rx.peek()

else:

    async def _peek_within(rx: Any, seconds: float) -> None:
        await asyncio.wait_for(rx.peek(), seconds)


def _ended(rx: Any) -> bool:
    """The stream has ended: what a failed peek with a batch in hand means,
    unless it failed for another reason (another consumer waiting)."""
    return bool(rx.is_closed) and len(rx) == 0


class Batches(Generic[_T]):
    """The iterator of :meth:`Receiver.batches`: lists of items.

    Each batch is yielded as soon as *max_items* items are there, or
    *max_wait* seconds after its first item arrived, whichever comes first;
    never empty.  When the channel closes, the last partial batch is yielded,
    then iteration stops (or raises the error that ended the stream).  The
    same object works with ``async for`` on a loop and with ``for`` in a
    plain thread.

    Cancelling a step (or an exception while it waits, such as
    ``KeyboardInterrupt``) loses nothing: the items it had taken are handed
    back to the receiver, and are the next that any receive returns.
    Breaking out of the loop does not close the receiver.
    """

    __slots__ = ("_max_items", "_max_wait", "_rx")

    def __init__(self, rx: Any, max_items: int, max_wait: float) -> None:
        self._rx = rx
        self._max_items = check_max_items(max_items)
        self._max_wait = check_max_wait(max_wait)

    def __repr__(self) -> str:
        return (
            f"<ringchan.Batches max_items={self._max_items} "
            f"max_wait={self._max_wait} of {self._rx!r}>"
        )

    def __aiter__(self) -> Batches[_T]:
        return self

    async def __anext__(self) -> list[_T]:
        rx = self._rx
        max_items = self._max_items
        try:
            items: list[_T] = await rx.recv_many(max_items)
        except Closed:
            raise StopAsyncIteration from None
        if len(items) >= max_items:
            return items
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        try:
            while len(items) < max_items:
                try:
                    more = rx.try_recv_many(max_items - len(items))
                    if more:
                        items += more
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    if remaining == math.inf:
                        await rx.peek()
                    else:
                        await _peek_within(rx, remaining)
                except asyncio.TimeoutError:
                    break
                except Exception:
                    if _ended(rx):
                        break  # the next step raises the end
                    raise
        except BaseException:
            rx._unget(items)
            raise
        return items

    def __iter__(self) -> Batches[_T]:
        return self

    def __next__(self) -> list[_T]:
        rx = self._rx
        max_items = self._max_items
        try:
            items: list[_T] = rx.blocking_recv_many(max_items)
        except Closed:
            raise StopIteration from None
        if len(items) >= max_items:
            return items
        deadline = monotonic() + self._max_wait
        try:
            while len(items) < max_items:
                try:
                    more = rx.try_recv_many(max_items - len(items))
                    if more:
                        items += more
                        continue
                    remaining = deadline - monotonic()
                    if remaining <= 0:
                        break
                    rx.blocking_peek(remaining)
                except TimeoutError:
                    break
                except Exception:
                    if _ended(rx):
                        break  # the next step raises the end
                    raise
        except BaseException:
            rx._unget(items)
            raise
        return items
