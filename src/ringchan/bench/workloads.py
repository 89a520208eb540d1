"""The benchmark workloads: how producers and a consumer drive one channel.

Each workload is written once, against :class:`Pipe`: the few roles a
measured channel plays, each in that channel's own idiom.  A throughput role
loops over all of its items itself, so that nothing but the channel's own
calls runs between two items; a workload only arranges the roles on tasks
and threads, times them and checks that every item arrived.  ringchan plays
every role; the comparison runner in ``benchmarks/`` adds its peers, each
playing the roles it can.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import (
    Any,
    ClassVar,
    TypeVar,
)

__all__ = (
    "BATCH_WAIT",
    "LOOPS",
    "WORKLOADS",
    "BenchError",
    "Items",
    "LoopFactory",
    "Pipe",
    "PipeOpener",
    "Settings",
    "Workload",
    "loop_factory",
    "paired",
    "rounds_of",
)

_T = TypeVar("_T")

#: What a producer sends: ints from a list built before the clock starts, so
#: that every channel is timed moving the same objects, not creating them.
Items = Sequence[int]

#: Creates a fresh event loop for one measurement.
LoopFactory = Callable[[], asyncio.AbstractEventLoop]

#: ``opener(producers)``: a fresh :class:`Pipe` for that many producers.
PipeOpener = Callable[[int], "Pipe"]

#: How long the latency workload's producer sleeps before each send, so that
#: the consumer is parked, idle, when the item arrives.
LATENCY_GAP = 0.0005

#: The *max_wait* of ``rx.batches()`` where a workload iterates it: a latency
#: budget a batching consumer might choose.  A full-speed producer fills every
#: batch long before it, so the figure is the iterator's cost, not a clock's.
BATCH_WAIT = 0.01

#: Bound on tearing down a measurement's event loop after its end or failure.
_TEARDOWN = 5.0


class BenchError(Exception):
    """A measurement cannot be trusted: lost items, a hung or failing worker,
    or a channel that does not import."""


@dataclass(frozen=True)
class Settings:
    """What every measurement of one run shares."""

    #: Items per measurement; with a :attr:`duration`, the most a measurement sends.
    items: int
    #: The channel's capacity; None: an unbounded channel.
    capacity: int | None
    batch: int
    samples: int
    timeout: float
    #: If set, each cell's measurements send as many items as take about this
    #: many seconds (up to :attr:`items`), sized before its rounds by
    #: :meth:`ringchan.bench.suite.Suite.run`; None: :attr:`items` each.
    duration: float | None = None


class Pipe:
    """One fresh channel, opened for one measurement, seen through its roles.

    A subclass is constructed as ``cls(module, capacity, producers)``, with
    the module its channel comes from (and a capacity of None for an
    unbounded channel, if it can open one: :attr:`unbounded`), and overrides
    the roles it can play; :meth:`plays` tells which.  Producers are
    numbered from 0 to ``producers - 1``; each sends its share of the items,
    then ends its part of the stream (ringchan closes its clone of the
    sender, a queue puts a sentinel), and the consumer returns how many
    items it received once every producer has ended.
    """

    #: True when ``send_batches`` and ``recv_batches`` use a batch API;
    #: otherwise they fall back to the per-item roles.
    native_batches: ClassVar[bool] = False

    #: True when it opens an unbounded channel for a capacity of None.
    unbounded: ClassVar[bool] = False

    def __init__(self, module: Any, capacity: int | None, producers: int) -> None:
        self.producers = producers

    @classmethod
    def plays(cls, role: str) -> bool:
        """Whether this kind of pipe overrides *role*, one of its methods."""
        return getattr(cls, role) is not getattr(Pipe, role)

    async def send_async(self, producer: int, numbers: Items) -> None:
        """From a task: send every number, waiting for room, then end."""
        raise NotImplementedError

    def send_blocking(self, producer: int, numbers: Items) -> None:
        """From a plain thread: send every number, waiting for room, then end."""
        raise NotImplementedError

    async def recv_async(self) -> int:
        """From a task: receive until every producer has ended; the count."""
        raise NotImplementedError

    def recv_blocking(self) -> int:
        """From a plain thread: receive until every producer has ended; the count."""
        raise NotImplementedError

    async def send_batches(self, producer: int, numbers: Items, size: int) -> None:
        """From a task: send the numbers *size* at a time, then end."""
        await self.send_async(producer, numbers)

    async def recv_batches(self, size: int) -> int:
        """From a task: receive up to *size* at a time until the end; the count."""
        return await self.recv_async()

    async def recv_windows(self, size: int, wait: float) -> int:
        """From a task: iterate ``rx.batches(size, wait)`` until the end; the count."""
        raise NotImplementedError

    async def recv_iterable(self, numbers: Items) -> int:
        """From a task: receive until the end from ``from_iterable(numbers)``,
        whose own thread sends them; the count."""
        raise NotImplementedError

    def pair(self, numbers: Items) -> int:
        """In this thread, send each number and receive it back at once,
        without waiting; the count received."""
        raise NotImplementedError

    def send_stamp(self) -> None:
        """From a plain thread: send ``perf_counter()`` read as late as possible."""
        raise NotImplementedError

    async def recv_stamp(self) -> float:
        """From a task: wait for the next item sent by :meth:`send_stamp`."""
        raise NotImplementedError

    def abort(self) -> None:
        """After a failure, release whatever is still waiting on the channel."""

    def wakeups(self) -> tuple[int, int] | None:
        """Once the measurement is over: the wake-ups the channel sent to a
        task or thread parked on another thread, and the items it delivered;
        None for a channel that does not count them."""
        return None


class _Worker(threading.Thread):
    """A thread that keeps its target's result or exception for the caller.

    Daemonic so that a worker hung inside a channel cannot keep the process
    alive after the benchmark has reported it.  When its target raises, it
    calls *on_error*, which aborts the measurement's pipe: the other side
    then ends now rather than wait out the timeout for items that will never
    come.
    """

    def __init__(self, name: str, target: Callable[[], Any], on_error: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self._on_error = on_error
        self.error: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:
            self.error = exc
            self._on_error()


def _start(name: str, target: Callable[[], Any], on_error: Callable[[], Any]) -> _Worker:
    worker = _Worker(name, target, on_error)
    worker.start()
    return worker


def _abort_on_loop(loop: asyncio.AbstractEventLoop, pipe: Pipe) -> Callable[[], None]:
    """An *on_error* for workers feeding a consumer task on *loop*."""

    def abort() -> None:
        try:
            loop.call_soon_threadsafe(pipe.abort)
        except RuntimeError:
            pass  # The loop is closed: the measurement is over anyway.

    return abort


def _failure(
    workers: Sequence[_Worker], task: asyncio.Future[Any] | None = None
) -> BenchError | None:
    """The first failure of a producer *task* or among *workers*, if any."""
    if task is not None and task.done() and not task.cancelled():
        exc = task.exception()
        if exc is not None:
            error = BenchError(f"the producer task raised {exc!r}")
            error.__cause__ = exc
            return error
    for worker in workers:
        if worker.error is not None:
            error = BenchError(f"the {worker.name} thread raised {worker.error!r}")
            error.__cause__ = worker.error
            return error
    return None


def _join(workers: Sequence[_Worker], deadline: float, timeout: float) -> None:
    """Wait for *workers* until *deadline*; raise if one failed or hung.

    Callers list the consumer first: when it fails, the producers block on a
    full channel, and its exception is the one worth reporting.
    """
    for worker in workers:
        worker.join(max(0.0, deadline - perf_counter()))
    failure = _failure(workers)
    if failure is not None:
        raise failure
    # Name every thread still running: the consumer waits on a hung producer,
    # so the first one found is not necessarily the culprit.
    hung = ", ".join(worker.name for worker in workers if worker.is_alive())
    if hung:
        raise BenchError(f"still running {timeout:g} s after the start, hung: {hung}")


def _items(count: int) -> list[int]:
    """The *count* items of one measurement, built before its clock starts."""
    return list(range(count))


def _spans(items: int, count: int) -> list[Items]:
    """Split *items* items into *count* contiguous parts of near-equal size."""
    numbers = _items(items)
    return [numbers[i * items // count : (i + 1) * items // count] for i in range(count)]


def _start_producers(
    role: Callable[[int, Items], Any], spans: Sequence[Items], on_error: Callable[[], Any]
) -> list[_Worker]:
    """Start a thread playing *role* for each of *spans*, its share of the items."""
    return [
        _start(f"producer {index}", partial(role, index, numbers), on_error)
        for index, numbers in enumerate(spans)
    ]


#: ``receive(pipe, settings)``: the consumer role a workload's task plays.
Receive = Callable[[Pipe, Settings], Awaitable[int]]


def _recv_each(pipe: Pipe, settings: Settings) -> Awaitable[int]:
    """Item by item: ``async for``."""
    return pipe.recv_async()


def _recv_many(pipe: Pipe, settings: Settings) -> Awaitable[int]:
    """A plain ``recv_many(--batch)`` loop."""
    return pipe.recv_batches(settings.batch)


def _recv_windows(pipe: Pipe, settings: Settings) -> Awaitable[int]:
    """``async for batch in rx.batches(--batch, BATCH_WAIT)``."""
    return pipe.recv_windows(settings.batch, BATCH_WAIT)


async def _timed(receive: Awaitable[_T]) -> tuple[_T, float]:
    """What *receive* returns, and when it returned."""
    result = await receive
    return result, perf_counter()


async def _consume(
    receive: Awaitable[_T],
    timeout: float,
    workers: Sequence[_Worker] = (),
    producer: asyncio.Future[Any] | None = None,
) -> tuple[_T, float]:
    """Run the consumer *receive* as a task, bounded by *timeout*; return
    its result and when it ended.

    A failed producer (a thread among *workers*, or the *producer* task) is
    the error reported: the consumer's own trouble follows from it.
    """
    consumer = asyncio.ensure_future(_timed(receive))
    tasks = {consumer} if producer is None else {consumer, producer}
    await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION)
    failure = _failure(workers, producer)
    if failure is not None:
        raise failure
    if not consumer.done():
        raise BenchError(
            f"the consumer task did not finish within {timeout:g} s: a producer "
            "hung, or the channel lost an item or its end"
        )
    try:
        return consumer.result()
    except Exception as exc:
        raise BenchError(f"the consumer task raised {exc!r}") from exc


def paired(item: Any, numbers: Items) -> int:
    """The count a :meth:`Pipe.pair` loop received, its last *item* checked.

    Each receive in such a loop returns an item or raises, so a loop that
    reached the end received one item per number; checking only the last
    keeps the loop as bare as the buffer it measures.
    """
    if item != numbers[-1]:
        raise BenchError(f"received {item!r}, not the item just sent ({numbers[-1]})")
    return len(numbers)


def _rate(received: int, expected: int, seconds: float) -> float:
    """Items per second, once the consumer is known to have every item."""
    if received != expected:
        raise BenchError(f"the consumer received {received} items, not {expected}")
    return expected / seconds


def _on_loop(new_loop: LoopFactory | None, main: Coroutine[Any, Any, float]) -> float:
    """Run *main* on a fresh loop from *new_loop*, then tear the loop down."""
    if new_loop is None:
        main.close()
        raise BenchError("this workload needs an event loop")
    loop = new_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.wait(leftovers, timeout=_TEARDOWN))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _same_loop(
    opener: PipeOpener,
    settings: Settings,
    new_loop: LoopFactory | None,
    batches: bool,
    receive: Receive = _recv_each,
) -> float:
    async def main() -> float:
        pipe = opener(1)
        numbers = _items(settings.items)
        try:
            start = perf_counter()
            if batches:
                producer = asyncio.ensure_future(pipe.send_batches(0, numbers, settings.batch))
            else:
                producer = asyncio.ensure_future(pipe.send_async(0, numbers))
            received, end = await _consume(
                receive(pipe, settings), settings.timeout, producer=producer
            )
            if not producer.done():
                raise BenchError("the producer task still runs after the consumer ended")
        except BaseException:
            pipe.abort()
            raise
        return _rate(received, settings.items, end - start)

    return _on_loop(new_loop, main())


def _threads_to_loop(
    opener: PipeOpener,
    settings: Settings,
    new_loop: LoopFactory | None,
    producers: int,
    receive: Receive = _recv_each,
) -> float:
    async def main() -> float:
        pipe = opener(producers)
        spans = _spans(settings.items, producers)
        abort = _abort_on_loop(asyncio.get_running_loop(), pipe)
        try:
            start = perf_counter()
            workers = _start_producers(pipe.send_blocking, spans, abort)
            received, end = await _consume(receive(pipe, settings), settings.timeout, workers)
            _join(workers, start + settings.timeout, settings.timeout)
        except BaseException:
            pipe.abort()
            raise
        return _rate(received, settings.items, end - start)

    return _on_loop(new_loop, main())


def _threads_to_thread(
    opener: PipeOpener, settings: Settings, new_loop: LoopFactory | None, producers: int
) -> float:
    pipe = opener(producers)
    spans = _spans(settings.items, producers)

    def consume() -> tuple[int, float]:
        return pipe.recv_blocking(), perf_counter()

    try:
        start = perf_counter()
        consumer = _start("consumer", consume, pipe.abort)
        workers = _start_producers(pipe.send_blocking, spans, pipe.abort)
        _join([consumer, *workers], start + settings.timeout, settings.timeout)
    except BaseException:
        pipe.abort()
        raise
    received, end = consumer.result
    return _rate(received, settings.items, end - start)


def _from_iterable(opener: PipeOpener, settings: Settings, new_loop: LoopFactory | None) -> float:
    async def main() -> float:
        pipe = opener(1)
        numbers = _items(settings.items)
        try:
            # The clock includes from_iterable() itself: opening its channel
            # and starting its thread, as the hand-written producer's start.
            start = perf_counter()
            received, end = await _consume(pipe.recv_iterable(numbers), settings.timeout)
        except BaseException:
            pipe.abort()
            raise
        return _rate(received, settings.items, end - start)

    return _on_loop(new_loop, main())


def _pair(opener: PipeOpener, settings: Settings, new_loop: LoopFactory | None) -> float:
    pipe = opener(1)
    numbers = _items(settings.items)
    start = perf_counter()
    received = pipe.pair(numbers)
    return _rate(received, settings.items, perf_counter() - start)


def _send_stamps(pipe: Pipe, ready: threading.Event, samples: int, deadline: float) -> None:
    send = pipe.send_stamp
    for _ in range(samples):
        if not ready.wait(max(0.0, deadline - perf_counter())):
            raise BenchError("the consumer did not ask for the next item in time")
        ready.clear()
        # Long enough for the consumer to park and its loop to go idle.
        time.sleep(LATENCY_GAP)
        send()


def _latency(opener: PipeOpener, settings: Settings, new_loop: LoopFactory | None) -> float:
    async def main() -> float:
        pipe = opener(1)
        ready = threading.Event()
        latencies: list[float] = []

        async def consume() -> None:
            recv = pipe.recv_stamp
            for _ in range(settings.samples):
                ready.set()
                sent = await recv()
                latencies.append(perf_counter() - sent)

        abort = _abort_on_loop(asyncio.get_running_loop(), pipe)
        try:
            start = perf_counter()
            deadline = start + settings.timeout
            send = partial(_send_stamps, pipe, ready, settings.samples, deadline)
            producer = _start("producer", send, abort)
            await _consume(consume(), settings.timeout, [producer])
            _join([producer], deadline, settings.timeout)
        except BaseException:
            pipe.abort()
            raise
        return statistics.median(latencies)

    return _on_loop(new_loop, main())


#: ``body(opener, settings, new_loop) -> figure``; *new_loop* is None for a
#: workload that runs no event loop.
WorkloadBody = Callable[[PipeOpener, Settings, LoopFactory | None], float]


@dataclass(frozen=True)
class Workload:
    """One way of driving a channel from its producers to its consumer."""

    name: str
    description: str
    body: WorkloadBody
    #: The :class:`Pipe` methods a channel must play to run this workload.
    roles: tuple[str, ...]
    #: Whether it runs an event loop, and so is measured on each loop asked for.
    uses_loop: bool = True
    #: "items/s" (higher is better) or "s" (a median latency, lower is better).
    unit: str = "items/s"
    #: Whether it sends and receives in batches, where a channel has a batch API.
    batched: bool = False
    #: The workload whose rounds it joins (see :class:`ringchan.bench.suite.Suite`),
    #: that of the hand-written code a feature is compared with, so that the
    #: two are measured side by side; None: rounds of its own.  A group that
    #: joins another's rounds takes its members along (:func:`rounds_of`).
    group: str | None = None
    #: A channel capacity and batch size of its own, in place of the run's
    #: (a cell of a sweep); None: the run's.
    capacity: int | None = None
    batch: int | None = None
    #: Whether it runs on an unbounded channel, whatever the run's capacity;
    #: only channels that can open one (:attr:`Pipe.unbounded`) run it.
    unbounded: bool = False

    def supports(self, pipe_type: type[Pipe]) -> bool:
        """Whether channels of *pipe_type* can play every role this needs,
        and open an unbounded channel if it runs on one."""
        if self.unbounded and not pipe_type.unbounded:
            return False
        return all(pipe_type.plays(role) for role in self.roles)

    def settings(self, run: Settings) -> Settings:
        """The settings it is measured with: the *run*'s, but its own
        capacity (None if unbounded) and batch size where it has them."""
        if self.unbounded:
            capacity = None
        else:
            capacity = run.capacity if self.capacity is None else self.capacity
        return dataclasses.replace(
            run,
            capacity=capacity,
            batch=run.batch if self.batch is None else self.batch,
        )

    def gain(self, figure: float, other: float) -> float:
        """How many times better *figure* is than *other*: faster or sooner."""
        return other / figure if self.unit == "s" else figure / other


#: Every workload, in table order.
WORKLOADS: dict[str, Workload] = {
    workload.name: workload
    for workload in (
        Workload(
            "same-loop",
            "one task awaits send(), another receives with async for, one loop",
            partial(_same_loop, batches=False),
            ("send_async", "recv_async"),
        ),
        Workload(
            "unbounded-same-loop",
            "same-loop on an unbounded_channel(), whose sends never wait; in the "
            "rounds of same-loop",
            partial(_same_loop, batches=False),
            ("send_async", "recv_async"),
            group="same-loop",
            unbounded=True,
        ),
        Workload(
            "thread-to-asyncio",
            "one thread calls blocking_send(), a task receives with async for; in "
            "the rounds of same-loop, so that the cost of the handoff between a "
            "thread and the loop is measured side by side with a task's",
            partial(_threads_to_loop, producers=1),
            ("send_blocking", "recv_async"),
            group="same-loop",
        ),
        Workload(
            "from-iterable",
            "thread-to-asyncio with from_iterable(items, --capacity) in place of the "
            "hand-written thread: its own thread sends each item, a task receives "
            "with async for; in the rounds of thread-to-asyncio",
            _from_iterable,
            ("recv_iterable",),
            group="thread-to-asyncio",
        ),
        Workload(
            "unbounded-thread-to-asyncio",
            "thread-to-asyncio on an unbounded_channel(), whose sends never wait; in "
            "the rounds of thread-to-asyncio",
            partial(_threads_to_loop, producers=1),
            ("send_blocking", "recv_async"),
            group="thread-to-asyncio",
            unbounded=True,
        ),
        Workload(
            "4-threads-to-asyncio",
            "four threads, a sender clone each, call blocking_send(); async for receives",
            partial(_threads_to_loop, producers=4),
            ("send_blocking", "recv_async"),
        ),
        Workload(
            "thread-to-thread",
            "one thread calls blocking_send(), another receives with for",
            partial(_threads_to_thread, producers=1),
            ("send_blocking", "recv_blocking"),
            uses_loop=False,
        ),
        Workload(
            "unbounded-thread-to-thread",
            "thread-to-thread on an unbounded_channel(), whose sends never wait; in "
            "the rounds of thread-to-thread",
            partial(_threads_to_thread, producers=1),
            ("send_blocking", "recv_blocking"),
            uses_loop=False,
            group="thread-to-thread",
            unbounded=True,
        ),
        Workload(
            "2-threads-to-thread",
            "two threads, a sender clone each, call blocking_send(); another receives with for",
            partial(_threads_to_thread, producers=2),
            ("send_blocking", "recv_blocking"),
            uses_loop=False,
        ),
        Workload(
            "batches",
            "same-loop with send_many()/recv_many() of --batch items; per item "
            "for channels without them; items/s counts items, not batches",
            partial(_same_loop, batches=True, receive=_recv_many),
            ("send_async", "recv_async"),
            batched=True,
        ),
        Workload(
            "rx-batches",
            f"batches with async for over rx.batches(--batch, {BATCH_WAIT:g}) in place "
            "of the recv_many() loop; in the rounds of batches",
            partial(_same_loop, batches=True, receive=_recv_windows),
            ("send_async", "recv_windows"),
            batched=True,
            group="batches",
        ),
        Workload(
            "pair",
            "one thread sends an item and receives it back at once, no waiting "
            "(try_send/try_recv): the cost of the buffer itself; in the rounds of "
            "same-loop, whose cost per item it is the floor of",
            _pair,
            ("pair",),
            uses_loop=False,
            group="same-loop",
        ),
        Workload(
            "latency",
            "an idle task parked in recv() gets an item sent from a thread; "
            "median seconds from send to receipt over --samples items",
            _latency,
            ("send_stamp", "recv_stamp"),
            unit="s",
        ),
    )
}


def rounds_of(workload: Workload) -> str:
    """The name of the workload in whose rounds *workload* is measured: its
    :attr:`~Workload.group`, followed from workload to workload (a feature of
    thread-to-asyncio joins that one's rounds, and so those of same-loop),
    or its own name if it has none."""
    name = workload.group or workload.name
    seen = {workload.name}
    while name in WORKLOADS and name not in seen:
        seen.add(name)
        group = WORKLOADS[name].group
        if group is None:
            break
        name = group
    return name


#: Event loops by name: the module that provides ``new_event_loop``.
LOOPS: dict[str, str] = {"asyncio": "asyncio", "uvloop": "uvloop"}


def loop_factory(name: str) -> LoopFactory:
    """The ``new_event_loop`` of loop *name*; ImportError if it is not installed."""
    module = __import__(LOOPS[name])
    factory: LoopFactory = module.new_event_loop
    return factory
