"""What the benchmarks measure: a :class:`Subject` per channel, and ringchan's.

A subject names a channel, the module it comes from and the :class:`Pipe`
that plays the workloads' roles on it.  This module holds ringchan's two
implementations; ``benchmarks/peers.py`` adds the other libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from time import perf_counter
from typing import Any

from .._errors import Closed
from .workloads import BenchError, Items, Pipe, paired

__all__ = ("IMPLEMENTATIONS", "RingchanPipe", "Subject")


class RingchanPipe(Pipe):
    """A ringchan channel: each producer sends through its own sender clone."""

    native_batches = True
    unbounded = True

    def __init__(self, module: Any, capacity: int | None, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._module = module
        self._capacity = capacity
        if capacity is None:
            tx, self._rx = module.unbounded_channel()
        else:
            tx, self._rx = module.channel(capacity)
        self._senders = [tx.clone() for _ in range(producers)]
        # The clones hold the channel open; the original would keep it open forever.
        tx.close()

    async def send_async(self, producer: int, numbers: Items) -> None:
        tx = self._senders[producer]
        with tx:
            # Bound once so the loop times the channel, not the attribute lookup.
            send = tx.send
            for number in numbers:
                await send(number)

    def send_blocking(self, producer: int, numbers: Items) -> None:
        tx = self._senders[producer]
        with tx:
            send = tx.blocking_send
            for number in numbers:
                send(number)

    async def recv_async(self) -> int:
        count = 0
        async for _ in self._rx:
            count += 1
        return count

    def recv_blocking(self) -> int:
        count = 0
        for _ in self._rx:
            count += 1
        return count

    async def send_batches(self, producer: int, numbers: Items, size: int) -> None:
        tx = self._senders[producer]
        with tx:
            send_many = tx.send_many
            for first in range(0, len(numbers), size):
                await send_many(numbers[first : first + size])

    async def recv_batches(self, size: int) -> int:
        recv_many = self._rx.recv_many
        count = 0
        while True:
            try:
                batch = await recv_many(size)
            except Closed:
                return count
            count += len(batch)

    async def recv_windows(self, size: int, wait: float) -> int:
        count = 0
        async for batch in self._rx.batches(size, wait):
            count += len(batch)
        return count

    async def recv_iterable(self, numbers: Items) -> int:
        # from_iterable's channel takes the place of the pipe's, so that
        # abort() closes it and its thread ends at its next send.  A daemon,
        # as the workloads' own threads, so that a hung one cannot keep the
        # process alive.
        self._rx = self._module.from_iterable(numbers, self._capacity, daemon=True)
        return await self.recv_async()

    def pair(self, numbers: Items) -> int:
        send = self._senders[0].try_send
        recv = self._rx.try_recv
        item = None
        for number in numbers:
            send(number)
            item = recv()
        return paired(item, numbers)

    def send_stamp(self) -> None:
        self._senders[0].blocking_send(perf_counter())

    async def recv_stamp(self) -> float:
        stamp: float = await self._rx.recv()
        return stamp

    def abort(self) -> None:
        # Wakes every parked sender with Closed; a no-op after a clean end.
        self._rx.close()

    def wakeups(self) -> tuple[int, int]:
        # The channel's own counters, read after the clock stopped: what the
        # parking strategy cost this run, not a guess from its rate.
        stats = self._rx.stats()
        return stats.wakeups, stats.received


@dataclass(frozen=True)
class Subject:
    """A channel the benchmarks can measure."""

    #: Its name on the command line.
    key: str
    #: Its name in tables and the report.
    label: str
    #: The module passed to :attr:`pipe`; importing it must succeed.
    module: str
    #: The roles it plays.
    pipe: type[Pipe]
    #: The distribution whose version the report names; None for the stdlib.
    distribution: str | None = None
    #: Whether its channel holds at most the capacity, and makes a sender wait
    #: for room, as ringchan's does; False for an unbounded queue.
    bounded: bool = True

    def load(self) -> Callable[[int | None, int], Pipe]:
        """Import the module; return ``open(capacity, producers) -> Pipe``
        (a capacity of None: an unbounded channel).

        Raises ImportError when the module is not installed, and
        :class:`BenchError` when it is but fails to import.
        """
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and self.module.startswith(exc.name):
                raise
            raise BenchError(f"cannot import {self.module}: {exc}") from exc
        except Exception as exc:
            raise BenchError(f"cannot import {self.module} ({type(exc).__name__}: {exc})") from exc
        return partial(self.pipe, module)

    def version(self) -> str:
        """The installed version of :attr:`distribution`, or "stdlib"."""
        if self.distribution is None:
            return "stdlib"
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            # Run from a source tree (PYTHONPATH=src): no metadata installed.
            root = importlib.import_module(self.module.partition(".")[0])
            return str(getattr(root, "__version__", "unknown"))


#: ringchan's implementations, by ``--impl`` key, in table order.
IMPLEMENTATIONS: dict[str, Subject] = {
    subject.key: subject
    for subject in (
        Subject("c", "ringchan C", "ringchan._channel_c", RingchanPipe, "ringchan"),
        Subject("py", "ringchan pure", "ringchan._channel_py", RingchanPipe, "ringchan"),
    )
}
