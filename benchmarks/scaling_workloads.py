"""The scaling and pipeline workloads: producer threads into one consumer.

Scaling: 1, 2, 4, ... producer threads send every item of a list built
before the clock starts, each its share, one at a time (``blocking_send``)
or in batches (``blocking_send_many``); one consumer, a plain thread or an
asyncio task, receives until every producer has ended.  Every channel plays
the roles below in its own idiom, its calls bound once outside the per-item
loop, as ``peers.py`` does for the comparison; a channel without a batch API
sends and receives its batches item by item ("per item" in the report).
The consumer counts and sums what it receives: a measurement whose count or
sum differs from what was sent is an error, not a figure.

Pipeline: four parser threads ``json.loads`` pre-built JSON lines and send
the dicts through a ringchan channel; one asyncio task receives them with
``recv_many`` and writes each batch to SQLite with ``aiosqlite``
(``executemany``).  The serial subject does the same work in one thread,
without a channel: parse a batch, ``executemany`` it with ``sqlite3``.  The
database is checked at the end: as many rows as lines, and the sum of their
ids, so every item was stored exactly once.

The helpers that run threads and loops under a timeout are those of the
other workloads (``ringchan.bench.workloads``), so a hang or a failure is
reported the same way.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from time import perf_counter
from typing import Any

from ringchan.bench.workloads import (
    BenchError,
    LoopFactory,
    Settings,
    Workload,
    _consume,
    _join,
    _on_loop,
    _spans,
    _start,
)

__all__ = (
    "CONSUMERS",
    "PIPELINE",
    "PIPELINE_PARSERS",
    "AiologicFeed",
    "AiologicSimpleFeed",
    "Feed",
    "QueueFeed",
    "RingchanFeed",
    "SimpleQueueFeed",
    "Tally",
    "pipeline_lines",
    "scaling_workload",
)

#: What a consumer received: how many items, and their sum.
Tally = tuple[int, int]

#: The consumers a scaling workload can have.
CONSUMERS = ("thread", "asyncio")

#: Parser threads in the pipeline.
PIPELINE_PARSERS = 4

#: Ends one producer's share in a queue that cannot be closed.
_END = None


class Feed:
    """One fresh channel for one scaling measurement, seen through its roles.

    Constructed as ``cls(module, capacity, producers)``.  Producers run in
    plain threads; each sends its items, then ends its part of the stream.
    The consumer returns its :data:`Tally` once every producer has ended.
    """

    #: True when the batch roles use a batch API rather than the per-item ones.
    batch_api = False
    #: Whether an asyncio task can consume (:meth:`recv_async`).
    awaitable = True

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        self.producers = producers

    def send(self, producer: int, items: Sequence[int]) -> None:
        """Send every item, one call each, waiting for room; then end."""
        raise NotImplementedError

    def send_batches(
        self, producer: int, items: Sequence[int], batches: Sequence[list[int]]
    ) -> None:
        """Send *batches* (together, *items*) a batch per call; then end."""
        self.send(producer, items)

    def recv(self) -> Tally:
        """From a thread: receive item by item until the end."""
        raise NotImplementedError

    def recv_batches(self, size: int) -> Tally:
        """From a thread: receive up to *size* items per call until the end."""
        return self.recv()

    async def recv_async(self) -> Tally:
        """From a task: receive item by item until the end."""
        raise NotImplementedError

    async def recv_async_batches(self, size: int) -> Tally:
        """From a task: receive up to *size* items per call until the end."""
        return await self.recv_async()

    def abort(self) -> None:
        """After a failure, release whatever is still waiting on the channel."""

    def wakeups(self) -> tuple[int, int] | None:
        """Once the measurement is over: the wake-ups sent to a thread or task
        parked on another thread, and the items delivered; None for a channel
        that does not count them (see ``ringchan.bench.workloads.Pipe``)."""
        return None


class RingchanFeed(Feed):
    """A ringchan channel, either implementation: a sender clone per producer."""

    batch_api = True

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        tx, self._rx = module.channel(capacity)
        self._senders = [tx.clone() for _ in range(producers)]
        # The clones hold the channel open; the original would keep it open forever.
        tx.close()
        self._closed = module.Closed

    def send(self, producer: int, items: Sequence[int]) -> None:
        with self._senders[producer] as tx:
            send = tx.blocking_send
            for item in items:
                send(item)

    def send_batches(
        self, producer: int, items: Sequence[int], batches: Sequence[list[int]]
    ) -> None:
        with self._senders[producer] as tx:
            send_many = tx.blocking_send_many
            for batch in batches:
                send_many(batch)

    def recv(self) -> Tally:
        count = total = 0
        for item in self._rx:
            count += 1
            total += item
        return count, total

    def recv_batches(self, size: int) -> Tally:
        recv_many, closed = self._rx.blocking_recv_many, self._closed
        count = total = 0
        while True:
            try:
                batch = recv_many(size)
            except closed:
                return count, total
            count += len(batch)
            total += sum(batch)

    async def recv_async(self) -> Tally:
        count = total = 0
        async for item in self._rx:
            count += 1
            total += item
        return count, total

    async def recv_async_batches(self, size: int) -> Tally:
        recv_many, closed = self._rx.recv_many, self._closed
        count = total = 0
        while True:
            try:
                batch = await recv_many(size)
            except closed:
                return count, total
            count += len(batch)
            total += sum(batch)

    def abort(self) -> None:
        # Wakes every parked sender with Closed; a no-op after a clean end.
        self._rx.close()

    def wakeups(self) -> tuple[int, int]:
        stats = self._rx.stats()
        return stats.wakeups, stats.received


def _tally_until_ends(get: Callable[[], Any], producers: int) -> Tally:
    """Receive with *get* until *producers* sentinels came; the tally of the rest."""
    count = total = ended = 0
    while True:
        item = get()
        if item is _END:
            ended += 1
            if ended == producers:
                return count, total
        else:
            count += 1
            total += item


class QueueFeed(Feed):
    """``queue.Queue(capacity)``: threads only, a sentinel per producer."""

    awaitable = False

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._queue = self._open(module, capacity)

    @staticmethod
    def _open(module: Any, capacity: int) -> Any:
        return module.Queue(capacity)

    def send(self, producer: int, items: Sequence[int]) -> None:
        put = self._queue.put
        for item in items:
            put(item)
        put(_END)

    def recv(self) -> Tally:
        return _tally_until_ends(self._queue.get, self.producers)

    def abort(self) -> None:
        # Makes room, once, for a producer blocked on a full queue.
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


class SimpleQueueFeed(QueueFeed):
    """``queue.SimpleQueue()``: threads only, unbounded, a sentinel per
    producer; sent and received as ``queue.Queue`` is."""

    @staticmethod
    def _open(module: Any, capacity: int) -> Any:
        return module.SimpleQueue()

    def abort(self) -> None:
        # Its producers never wait: end the stream for a waiting consumer.
        for _ in range(self.producers):
            self._queue.put(_END)


class AiologicFeed(Feed):
    """An aiologic queue: ``green_put``/``green_get`` in threads, ``async_get``
    in a task, a sentinel per producer.  This one is ``aiologic.Queue``,
    bounded like ringchan."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._queue = self._open(module, capacity)
        self._empty = module.QueueEmpty

    @staticmethod
    def _open(module: Any, capacity: int) -> Any:
        return module.Queue(maxsize=capacity)

    def send(self, producer: int, items: Sequence[int]) -> None:
        put = self._queue.green_put
        for item in items:
            put(item)
        put(_END)

    def recv(self) -> Tally:
        return _tally_until_ends(self._queue.green_get, self.producers)

    async def recv_async(self) -> Tally:
        get = self._queue.async_get
        count = total = ended = 0
        while True:
            item = await get()
            if item is _END:
                ended += 1
                if ended == self.producers:
                    return count, total
            else:
                count += 1
                total += item

    def abort(self) -> None:
        # Makes room, once, for a producer blocked on a full bounded queue.
        try:
            while True:
                self._queue.green_get(blocking=False)
        except self._empty:
            pass


class AiologicSimpleFeed(AiologicFeed):
    """``aiologic.SimpleQueue``: unbounded, aiologic's fast path."""

    @staticmethod
    def _open(module: Any, capacity: int) -> Any:
        return module.SimpleQueue()


#: ``opener(producers)``: a fresh :class:`Feed` for that many producers.
FeedOpener = Callable[[int], Feed]


def _soon(loop: asyncio.AbstractEventLoop, abort: Callable[[], Any]) -> Callable[[], None]:
    """An *on_error* for workers feeding a consumer task on *loop*: *abort* there."""

    def call() -> None:
        try:
            loop.call_soon_threadsafe(abort)
        except RuntimeError:
            pass  # The loop is closed: the measurement is over anyway.

    return call


def _rate(tally: Tally, items: int, seconds: float) -> float:
    """Items per second, once *tally* is known to be the count and sum of
    the *items* items sent, ``range(items)``."""
    expected = (items, items * (items - 1) // 2)
    if tally != expected:
        raise BenchError(
            f"the consumer received {tally[0]} items summing to {tally[1]}, "
            f"not {expected[0]} summing to {expected[1]}"
        )
    return items / seconds


def _batches(span: Sequence[int], size: int) -> list[list[int]]:
    return [list(span[first : first + size]) for first in range(0, len(span), size)]


def _scaling(
    opener: FeedOpener,
    settings: Settings,
    new_loop: LoopFactory | None,
    *,
    producers: int,
    consumer: str,
    batched: bool,
) -> float:
    feed = opener(producers)
    # Every item, each producer's share and its batches exist before the clock starts.
    spans = _spans(settings.items, producers)
    size = settings.batch
    roles = [
        partial(feed.send_batches, index, span, _batches(span, size))
        if batched
        else partial(feed.send, index, span)
        for index, span in enumerate(spans)
    ]

    def start_producers(on_error: Callable[[], Any]) -> list[Any]:
        return [_start(f"producer {index}", role, on_error) for index, role in enumerate(roles)]

    if consumer == "thread":

        def consume() -> tuple[Tally, float]:
            tally = feed.recv_batches(size) if batched else feed.recv()
            return tally, perf_counter()

        try:
            start = perf_counter()
            worker = _start("consumer", consume, feed.abort)
            workers = start_producers(feed.abort)
            _join([worker, *workers], start + settings.timeout, settings.timeout)
        except BaseException:
            feed.abort()
            raise
        tally, end = worker.result
        return _rate(tally, settings.items, end - start)

    async def main() -> float:
        abort = _soon(asyncio.get_running_loop(), feed.abort)
        try:
            start = perf_counter()
            workers = start_producers(abort)
            receive = feed.recv_async_batches(size) if batched else feed.recv_async()
            tally, end = await _consume(receive, settings.timeout, workers)
            _join(workers, start + settings.timeout, settings.timeout)
        except BaseException:
            feed.abort()
            raise
        return _rate(tally, settings.items, end - start)

    return _on_loop(new_loop, main())


def scaling_workload(producers: int, consumer: str, batched: bool) -> Workload:
    """The scaling workload with *producers* threads into a *consumer*
    (``"thread"`` or ``"asyncio"``), sending one item or one batch per call."""
    if consumer not in CONSUMERS:
        raise ValueError(f"consumer must be one of {CONSUMERS}, not {consumer!r}")
    sends = "blocking_send_many(batch)" if batched else "blocking_send(item)"
    receiver = "a thread" if consumer == "thread" else "an asyncio task"
    plural = "s" if producers != 1 else ""
    return Workload(
        f"scaling-{producers}-{consumer}-{'batches' if batched else 'items'}",
        f"{producers} thread{plural} call {sends}; {receiver} receives",
        partial(_scaling, producers=producers, consumer=consumer, batched=batched),
        roles=(),
        uses_loop=consumer == "asyncio",
        batched=batched,
    )


#: The table the pipeline writes to, and how.
_CREATE = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL)"
_INSERT = "INSERT INTO items (id, name, price) VALUES (:id, :name, :price)"
_CHECK = "SELECT count(*), coalesce(sum(id), 0) FROM items"


def pipeline_lines(count: int) -> list[str]:
    """*count* JSON lines, one record each, as a log or an export would hold."""
    return [
        json.dumps(
            {
                "id": i,
                "name": f"item-{i}",
                "price": i * 0.25,
                "tags": ["new", "sale"],
                "stock": {"shelf": i % 97, "back": i % 13},
            }
        )
        for i in range(count)
    ]


def _stored(row: Sequence[Any] | None, count: int) -> None:
    """Raise unless the database holds ids 0..count-1, each once."""
    expected = (count, count * (count - 1) // 2)
    if row is None or tuple(row) != expected:
        raise BenchError(f"the database holds (rows, sum of ids) {row}, not {expected}")


def _pipeline_serial(settings: Settings) -> float:
    lines = pipeline_lines(settings.items)
    loads, size = json.loads, settings.batch
    db = sqlite3.connect(":memory:")
    try:
        db.execute(_CREATE)
        start = perf_counter()
        for first in range(0, len(lines), size):
            db.executemany(_INSERT, [loads(line) for line in lines[first : first + size]])
        db.commit()
        end = perf_counter()
        _stored(db.execute(_CHECK).fetchone(), settings.items)
    finally:
        db.close()
    return settings.items / (end - start)


def _pipeline_channel(module: Any, settings: Settings, new_loop: LoopFactory | None) -> float:
    import aiosqlite

    lines = pipeline_lines(settings.items)
    shares = [
        lines[i * len(lines) // PIPELINE_PARSERS : (i + 1) * len(lines) // PIPELINE_PARSERS]
        for i in range(PIPELINE_PARSERS)
    ]

    async def main() -> float:
        tx, rx = module.channel(settings.capacity)
        senders = [tx.clone() for _ in range(PIPELINE_PARSERS)]
        tx.close()
        closed, size = module.Closed, settings.batch

        def parse(index: int) -> None:
            with senders[index] as sender:
                send, loads = sender.blocking_send, json.loads
                for line in shares[index]:
                    send(loads(line))

        db = await aiosqlite.connect(":memory:")
        try:
            await db.execute(_CREATE)

            async def store() -> None:
                recv_many, insert = rx.recv_many, db.executemany
                while True:
                    try:
                        batch = await recv_many(size)
                    except closed:
                        break
                    await insert(_INSERT, batch)
                await db.commit()

            # A parser failed: the consumer stops now rather than time out.
            abort = _soon(asyncio.get_running_loop(), rx.close)
            try:
                start = perf_counter()
                workers = [
                    _start(f"parser {index}", partial(parse, index), abort)
                    for index in range(PIPELINE_PARSERS)
                ]
                _, end = await _consume(store(), settings.timeout, workers)
                _join(workers, start + settings.timeout, settings.timeout)
            except BaseException:
                rx.close()
                raise
            async with db.execute(_CHECK) as cursor:
                _stored(await cursor.fetchone(), settings.items)
        finally:
            await db.close()
        return settings.items / (end - start)

    return _on_loop(new_loop, main())


def _pipeline(
    opener: Callable[[], Any] | None, settings: Settings, new_loop: LoopFactory | None
) -> float:
    # The serial subject has no channel: its opener is None.
    if opener is None:
        return _pipeline_serial(settings)
    return _pipeline_channel(opener(), settings, new_loop)


#: The pipeline workload: JSON lines parsed in threads, stored by an asyncio task.
PIPELINE = Workload(
    "pipeline",
    f"{PIPELINE_PARSERS} threads json.loads lines and blocking_send the dicts; an "
    "asyncio task writes each recv_many batch to SQLite through aiosqlite "
    "(executemany); serial: the same parsing and inserts in one thread",
    _pipeline,  # type: ignore[arg-type]
    roles=(),
)
