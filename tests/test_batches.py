"""Batching windows: ``rx.batches(max_items, max_wait)``.

A batch is yielded as soon as ``max_items`` items are there, or
``max_wait`` seconds after its first item arrived; never empty; the last
partial batch comes when the channel closes.  A cancelled step hands the
items it had taken back to the receiver, ahead of everything else.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time

import pytest
from support import WAIT, settle

from ringchan._errors import Closed

pytestmark = pytest.mark.timeout(60)


async def collect(batches):
    return [batch async for batch in batches]


def test_full_batches_then_the_rest_at_close(chan_module, run):
    tx, rx = chan_module.channel(16)

    async def main():
        await tx.send_many(range(10))
        tx.close()
        return await collect(rx.batches(4, math.inf))

    assert run(main()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_larger_than_the_capacity(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def produce():
        for item in range(23):
            await tx.send(item)
        tx.close()

    async def main():
        producer = asyncio.ensure_future(produce())
        batches = await collect(rx.batches(5, math.inf))
        await asyncio.wait_for(producer, WAIT)
        return batches

    batches = run(main())
    assert [item for batch in batches for item in batch] == list(range(23))
    assert [len(batch) for batch in batches] == [5, 5, 5, 5, 3]


def test_window_collects_items_arriving_after_the_first(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def produce():
        await tx.send("first")
        await asyncio.sleep(0.05)
        await tx.send("second")

    async def main():
        producer = asyncio.ensure_future(produce())
        # Bounded by the window, not by max_items: 10 items never come.
        batches = rx.batches(10, 0.3)
        started = time.monotonic()
        batch = await asyncio.wait_for(batches.__anext__(), WAIT)
        waited = time.monotonic() - started
        await producer
        return batch, waited

    batch, waited = run(main())
    assert batch == ["first", "second"]
    assert waited >= 0.25  # the window ran to its end: no item completed it


def test_zero_wait_yields_what_is_there(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        await tx.send_many([1, 2, 3])
        batches = rx.batches(10, 0)
        assert await batches.__anext__() == [1, 2, 3]
        # Never empty: the next step waits for an item.
        step = asyncio.ensure_future(batches.__anext__())
        await settle()
        assert not step.done()
        await tx.send(4)
        assert await asyncio.wait_for(step, WAIT) == [4]

    run(main())


@pytest.mark.parametrize("max_wait", [0.0, 0.02, math.inf])
def test_cancelled_step_hands_its_items_back(chan_module, run, max_wait):
    tx, rx = chan_module.channel(8)

    async def main():
        batches = rx.batches(5, max_wait if max_wait else WAIT)
        await tx.send_many(["a", "b"])
        step = asyncio.ensure_future(batches.__anext__())
        await settle()
        assert not step.done()  # holding a and b, waiting for more
        assert len(rx) == 0
        step.cancel()
        await asyncio.wait({step}, timeout=WAIT)
        assert step.cancelled()
        assert len(rx) == 2
        await tx.send("c")
        # Handed back ahead of what came later, to any kind of receive.
        assert await rx.peek() == "a"
        assert await rx.recv() == "a"
        assert rx.try_recv_many(10) == ["b"]
        assert await rx.recv() == "c"

    run(main())


def test_cancelled_step_items_go_to_a_new_batches(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        await tx.send_many([1, 2])
        step = asyncio.ensure_future(rx.batches(3, WAIT).__anext__())
        await settle()
        step.cancel()
        await asyncio.wait({step}, timeout=WAIT)
        await tx.send(3)
        tx.close()
        return await collect(rx.batches(3, WAIT))

    assert run(main()) == [[1, 2, 3]]


def test_random_cancellations_lose_nothing(chan_module, run):
    tx, rx = chan_module.channel(4)
    rng = random.Random(7)
    total = 2000

    async def produce():
        for item in range(total):
            await tx.send(item)
            if rng.random() < 0.05:
                await asyncio.sleep(0.0005)
        tx.close()

    async def main():
        received = []
        batches = rx.batches(16, 0.002)
        # One step is cancelled whatever the machine's speed: nothing sends yet.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(batches.__anext__(), 0.0001)
        cancelled = 1
        producer = asyncio.ensure_future(produce())
        while True:
            try:
                batch = await asyncio.wait_for(
                    batches.__anext__(), rng.choice([0.0001, 0.001, 0.01])
                )
            except asyncio.TimeoutError:
                cancelled += 1
                continue
            except StopAsyncIteration:
                break
            assert batch and len(batch) <= 16
            received.extend(batch)
        await asyncio.wait_for(producer, WAIT)
        return received, cancelled

    received, cancelled = run(main())
    assert received == list(range(total))
    assert cancelled > 0


def test_end_error_comes_after_the_last_partial_batch(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        await tx.send_many(range(5))
        tx._close_with_error(OSError("source failed"))
        batches = rx.batches(3, WAIT)
        assert await batches.__anext__() == [0, 1, 2]
        assert await batches.__anext__() == [3, 4]
        with pytest.raises(OSError, match="source failed"):
            await batches.__anext__()

    run(main())


def test_end_error_while_a_window_is_open(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        step = asyncio.ensure_future(rx.batches(3, WAIT).__anext__())
        await tx.send("only")
        await settle()
        tx._close_with_error(OSError("late failure"))
        assert await asyncio.wait_for(step, WAIT) == ["only"]
        with pytest.raises(OSError, match="late failure"):
            await rx.recv()

    run(main())


def test_batches_while_another_task_waits_is_refused(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        waiting = asyncio.ensure_future(rx.recv())
        await settle()
        with pytest.raises(RuntimeError, match="single consumer"):
            await rx.batches(2, 0).__anext__()
        await tx.send(1)
        assert await asyncio.wait_for(waiting, WAIT) == 1

    run(main())


def test_batches_in_a_thread(chan_module, spawn):
    tx, rx = chan_module.channel(4)

    def produce():
        for item in range(50):
            tx.blocking_send(item, timeout=WAIT)
            if item % 10 == 0:
                time.sleep(0.002)
        tx.close()

    worker = spawn(produce)
    batches = list(rx.batches(8, 0.005))
    worker.join()
    assert [item for batch in batches for item in batch] == list(range(50))
    assert all(0 < len(batch) <= 8 for batch in batches)


def test_thread_window_waits_for_more(chan_module, spawn):
    tx, rx = chan_module.channel(4)
    go = threading.Event()

    def produce():
        tx.blocking_send("x", timeout=WAIT)
        go.wait(WAIT)
        time.sleep(0.02)
        tx.blocking_send("y", timeout=WAIT)

    worker = spawn(produce)
    batches = iter(rx.batches(5, 0.5))
    go.set()
    assert next(batches) == ["x", "y"]
    worker.join()


class Interrupt(BaseException):
    """Stands in for a KeyboardInterrupt while a window waits."""


class _PeekFails:
    """A receiver whose waits for the next item raise Interrupt."""

    def __init__(self, rx):
        self._rx = rx

    def __getattr__(self, name):
        return getattr(self._rx, name)

    def __len__(self):
        return len(self._rx)

    def blocking_peek(self, timeout=None):
        raise Interrupt

    async def peek(self):
        raise Interrupt


def test_interrupted_window_hands_items_back(chan_module, run):
    from ringchan import Batches

    tx, rx = chan_module.channel(4)
    tx.try_send_many([1, 2])
    with pytest.raises(Interrupt):
        next(Batches(_PeekFails(rx), 5, WAIT))
    assert len(rx) == 2

    async def main():
        with pytest.raises(Interrupt):
            await Batches(_PeekFails(rx), 5, WAIT).__anext__()

    run(main())
    assert rx.try_recv_many(5) == [1, 2]


@pytest.mark.parametrize(
    ("max_items", "max_wait", "error"),
    [
        (0, 1.0, ValueError),
        (-3, 1.0, ValueError),
        (1.5, 1.0, TypeError),
        (True, 1.0, TypeError),
        ("2", 1.0, TypeError),
        (2, -0.5, ValueError),
        (2, float("nan"), ValueError),
        (2, "1", TypeError),
        (2, None, TypeError),
    ],
)
def test_bad_arguments_are_refused(chan_module, max_items, max_wait, error):
    _tx, rx = chan_module.channel(4)
    with pytest.raises(error):
        rx.batches(max_items, max_wait)


def test_ended_stream_stops_both_kinds_of_iteration(chan_module, run):
    tx, rx = chan_module.channel(4)
    tx.close()
    assert list(rx.batches(2, 0)) == []
    assert run(collect(rx.batches(2, 0))) == []
    with pytest.raises(Closed):
        rx.try_recv()


def test_a_cycle_through_handed_back_items_is_collected(chan_module, run):
    import gc
    import weakref

    class Node:
        pass

    tx, rx = chan_module.channel(4)
    node = Node()
    node.rx = rx
    node.tx = tx
    probe = weakref.ref(node)

    async def main(tx, rx, node):
        await tx.send(node)
        step = asyncio.ensure_future(rx.batches(2, WAIT).__anext__())
        await settle()
        step.cancel()
        await asyncio.wait({step}, timeout=WAIT)

    run(main(tx, rx, node))
    assert len(rx) == 1  # held ahead of the ring now
    del node, rx, tx
    gc.collect()
    assert probe() is None


def test_senders_closing_while_a_window_fills(chan_module, run):
    tx, rx = chan_module.channel(10)

    async def main():
        tx.try_send(1)
        step = asyncio.ensure_future(rx.batches(5, 1.0).__anext__())
        await asyncio.sleep(0.01)
        tx.try_send(2)
        tx.close()
        return await asyncio.wait_for(step, WAIT)

    assert run(main()) == [1, 2]
