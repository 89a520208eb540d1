"""The channels ringchan is compared with, each playing the roles it can.

Every pipe here drives its library the way that library's own documentation
does, with its calls bound once outside the per-item loop, as ringchan's
pipe does.  A queue with no notion of a closed end gets one sentinel per
producer; its consumer counts items until it has seen them all.  A pipe
plays only the roles its library supports: asyncio.Queue, aiochannel and
anyio's streams are not thread-safe, queue.Queue and queue.SimpleQueue
cannot be awaited.  aiologic's queues serve threads and any event loop
alike, one bounded, one not (``Subject.bounded``); queue.SimpleQueue is
unbounded too.

The third-party libraries come from the ``bench`` extra
(``pip install .[bench]``); a missing one is reported, not measured.
"""

from __future__ import annotations

import queue
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from ringchan.bench.subjects import Subject
from ringchan.bench.workloads import BenchError, Items, Pipe, paired

__all__ = ("BASELINES", "PEERS")

#: Ends one producer's share of the stream in a queue that cannot be closed.
_END = None

#: How long a latency producer waits for the consumer to hand it a future.
_HANDOVER = 10.0


# A producer's and the consumer's loops over a queue that cannot be closed,
# shared by every pipe that ends the stream with a sentinel per producer;
# each takes the queue's call already bound.
def _send_then_end(put: Callable[[Any], Any], numbers: Items) -> None:
    for number in numbers:
        put(number)
    put(_END)


async def _send_then_end_async(put: Callable[[Any], Awaitable[Any]], numbers: Items) -> None:
    for number in numbers:
        await put(number)
    await put(_END)


def _count_until_ends(get: Callable[[], Any], producers: int) -> int:
    """The items *get* returns before every producer's sentinel: how many."""
    count = ended = 0
    while True:
        if get() is _END:
            ended += 1
            if ended == producers:
                return count
        else:
            count += 1


async def _count_until_ends_async(get: Callable[[], Awaitable[Any]], producers: int) -> int:
    """As :func:`_count_until_ends`, awaiting each item."""
    count = ended = 0
    while True:
        if await get() is _END:
            ended += 1
            if ended == producers:
                return count
        else:
            count += 1


class AsyncioQueuePipe(Pipe):
    """``asyncio.Queue``: one event loop only."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._queue = module.Queue(capacity)

    async def send_async(self, producer: int, numbers: Items) -> None:
        await _send_then_end_async(self._queue.put, numbers)

    async def recv_async(self) -> int:
        return await _count_until_ends_async(self._queue.get, self.producers)

    def pair(self, numbers: Items) -> int:
        put, get = self._queue.put_nowait, self._queue.get_nowait
        item = None
        for number in numbers:
            put(number)
            item = get()
        return paired(item, numbers)


class ThreadQueuePipe(Pipe):
    """``queue.Queue``: plain threads only."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._queue = module.Queue(capacity)

    def send_blocking(self, producer: int, numbers: Items) -> None:
        _send_then_end(self._queue.put, numbers)

    def recv_blocking(self) -> int:
        return _count_until_ends(self._queue.get, self.producers)

    def pair(self, numbers: Items) -> int:
        put, get = self._queue.put_nowait, self._queue.get_nowait
        item = None
        for number in numbers:
            put(number)
            item = get()
        return paired(item, numbers)

    def abort(self) -> None:
        # Makes room, once, for a producer blocked on a full queue; a producer
        # that blocks again stays parked in its daemon thread.
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


class SimpleQueuePipe(Pipe):
    """``queue.SimpleQueue``: plain threads only, unbounded, so its producers
    never wait for room."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._queue = module.SimpleQueue()

    def send_blocking(self, producer: int, numbers: Items) -> None:
        _send_then_end(self._queue.put, numbers)

    def recv_blocking(self) -> int:
        return _count_until_ends(self._queue.get, self.producers)

    def abort(self) -> None:
        # No producer ever waits on an unbounded queue: end the stream for a
        # consumer waiting for items that will never come.
        for _ in range(self.producers):
            self._queue.put(_END)


class MixedQueuePipe(Pipe):
    """A queue with a sync and an async face: janus and culsans.

    Threads use ``sync_q``, tasks ``async_q``; ``shutdown(immediate=True)``
    releases every waiter after a failure.
    """

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._queue = module.Queue(capacity)

    async def send_async(self, producer: int, numbers: Items) -> None:
        await _send_then_end_async(self._queue.async_q.put, numbers)

    def send_blocking(self, producer: int, numbers: Items) -> None:
        _send_then_end(self._queue.sync_q.put, numbers)

    async def recv_async(self) -> int:
        return await _count_until_ends_async(self._queue.async_q.get, self.producers)

    def recv_blocking(self) -> int:
        return _count_until_ends(self._queue.sync_q.get, self.producers)

    def pair(self, numbers: Items) -> int:
        put, get = self._queue.sync_q.put_nowait, self._queue.sync_q.get_nowait
        item = None
        for number in numbers:
            put(number)
            item = get()
        return paired(item, numbers)

    def send_stamp(self) -> None:
        self._queue.sync_q.put(perf_counter())

    async def recv_stamp(self) -> float:
        stamp: float = await self._queue.async_q.get()
        return stamp

    def abort(self) -> None:
        self._queue.shutdown(immediate=True)


class AiochannelPipe(Pipe):
    """``aiochannel.Channel``: one event loop; the last producer closes it."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._channel = module.Channel(capacity)
        self._open = producers

    async def send_async(self, producer: int, numbers: Items) -> None:
        put = self._channel.put
        for number in numbers:
            await put(number)
        self._open -= 1
        if not self._open:
            self._channel.close()

    async def recv_async(self) -> int:
        count = 0
        async for _ in self._channel:
            count += 1
        return count

    def pair(self, numbers: Items) -> int:
        put, get = self._channel.put_nowait, self._channel.get_nowait
        item = None
        for number in numbers:
            put(number)
            item = get()
        return paired(item, numbers)

    def abort(self) -> None:
        self._channel.close()


class AnyioStreamPipe(Pipe):
    """anyio's memory object streams: a cloned send stream per producer."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        send, self._receive = module.create_memory_object_stream(capacity)
        self._senders = [send.clone() for _ in range(producers)]
        send.close()

    async def send_async(self, producer: int, numbers: Items) -> None:
        with self._senders[producer] as stream:
            send = stream.send
            for number in numbers:
                await send(number)

    async def recv_async(self) -> int:
        count = 0
        async for _ in self._receive:
            count += 1
        return count

    def pair(self, numbers: Items) -> int:
        send, receive = self._senders[0].send_nowait, self._receive.receive_nowait
        item = None
        for number in numbers:
            send(number)
            item = receive()
        return paired(item, numbers)

    def abort(self) -> None:
        # Senders still waiting get BrokenResourceError.
        self._receive.close()


class AiologicPipe(Pipe):
    """``aiologic.Queue(maxsize=capacity)``, bounded like ringchan: one queue
    for threads (``green_put``/``green_get``) and tasks on any loop
    (``async_put``/``async_get``); a sentinel per producer."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._queue = self._open(module, capacity)
        self._empty = module.QueueEmpty
        self._full = module.QueueFull

    @staticmethod
    def _open(module: Any, capacity: int) -> Any:
        return module.Queue(maxsize=capacity)

    async def send_async(self, producer: int, numbers: Items) -> None:
        await _send_then_end_async(self._queue.async_put, numbers)

    def send_blocking(self, producer: int, numbers: Items) -> None:
        _send_then_end(self._queue.green_put, numbers)

    async def recv_async(self) -> int:
        return await _count_until_ends_async(self._queue.async_get, self.producers)

    def recv_blocking(self) -> int:
        return _count_until_ends(self._queue.green_get, self.producers)

    def pair(self, numbers: Items) -> int:
        put, get = self._queue.green_put, self._queue.green_get
        item = None
        for number in numbers:
            put(number, blocking=False)
            item = get(blocking=False)
        return paired(item, numbers)

    def send_stamp(self) -> None:
        self._queue.green_put(perf_counter())

    async def recv_stamp(self) -> float:
        stamp: float = await self._queue.async_get()
        return stamp

    def abort(self) -> None:
        # aiologic's queues cannot be closed: empty it once, for producers
        # blocked on a full queue, then end the stream for a waiting consumer.
        try:
            while True:
                self._queue.green_get(blocking=False)
        except self._empty:
            pass
        try:
            for _ in range(self.producers):
                self._queue.green_put(_END, blocking=False)
        except self._full:
            pass


class AiologicSimplePipe(AiologicPipe):
    """``aiologic.SimpleQueue()``: unbounded, so its producers never wait for
    room; otherwise as :class:`AiologicPipe`."""

    @staticmethod
    def _open(module: Any, capacity: int) -> Any:
        return module.SimpleQueue()


class DequePipe(Pipe):
    """``collections.deque`` append + popleft: the floor for any buffer."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._deque = module.deque()

    def pair(self, numbers: Items) -> int:
        append, popleft = self._deque.append, self._deque.popleft
        item = None
        for number in numbers:
            append(number)
            item = popleft()
        return paired(item, numbers)


class FuturePipe(Pipe):
    """A bare ``loop.call_soon_threadsafe(future.set_result, t)`` round trip:
    the floor for waking a task from a thread."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._asyncio = module
        # The consumer hands each future over before it waits on it.
        self._futures: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def send_stamp(self) -> None:
        try:
            future = self._futures.get(timeout=_HANDOVER)
        except queue.Empty:
            raise BenchError("the consumer did not hand over a future") from None
        future.get_loop().call_soon_threadsafe(future.set_result, perf_counter())

    async def recv_stamp(self) -> float:
        future = self._asyncio.get_running_loop().create_future()
        self._futures.put(future)
        stamp: float = await future
        return stamp


def _by_key(subjects: list[Subject]) -> dict[str, Subject]:
    return {subject.key: subject for subject in subjects}


#: The libraries compared with ringchan, by ``--peer`` key, in table order.
PEERS: dict[str, Subject] = _by_key(
    [
        Subject("asyncio-queue", "asyncio.Queue", "asyncio", AsyncioQueuePipe),
        Subject("queue-queue", "queue.Queue", "queue", ThreadQueuePipe),
        Subject("queue-simple", "queue.SimpleQueue", "queue", SimpleQueuePipe, bounded=False),
        Subject("janus", "janus", "janus", MixedQueuePipe, "janus"),
        Subject("culsans", "culsans", "culsans", MixedQueuePipe, "culsans"),
        Subject("aiochannel", "aiochannel", "aiochannel", AiochannelPipe, "aiochannel"),
        Subject("anyio", "anyio streams", "anyio", AnyioStreamPipe, "anyio"),
        Subject("aiologic-queue", "aiologic.Queue", "aiologic", AiologicPipe, "aiologic"),
        Subject(
            "aiologic-simple",
            "aiologic.SimpleQueue",
            "aiologic",
            AiologicSimplePipe,
            "aiologic",
            bounded=False,
        ),
    ]
)

#: The floors the targets measure ringchan against, always measured.
BASELINES: dict[str, Subject] = _by_key(
    [
        Subject("deque", "deque", "collections", DequePipe, bounded=False),
        Subject("call-soon", "call_soon_threadsafe", "asyncio", FuturePipe),
    ]
)
