"""Wake-ups across threads.

A sender on the receiver's own loop thread wakes it directly; a sender on
another thread wakes it with ``loop.call_soon_threadsafe``, and only when the
receiver is actually parked, never once per item.  The loop's
``call_soon_threadsafe`` is wrapped (an instance attribute, which works for
asyncio's loops and uvloop's) to count calls per calling thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

from support import WAIT, settle


class ThreadsafeCalls:
    """Counts ``loop.call_soon_threadsafe`` calls, by calling thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.by_thread: Counter = Counter()
        original = loop.call_soon_threadsafe

        def call_soon_threadsafe(*args, **kwargs):
            self.by_thread[threading.current_thread()] += 1
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]

    def total(self) -> int:
        return sum(self.by_thread.values())

    def from_thread(self, worker) -> int:
        return self.by_thread[worker.thread]


async def until_done(worker) -> None:
    """Keep the loop running (bounded) until *worker*'s thread ends."""
    deadline = time.monotonic() + WAIT
    while worker.is_alive():
        assert time.monotonic() < deadline, "worker thread did not finish"
        await asyncio.sleep(0.001)


# --- receiver not parked: no thread-safe calls at all ------------------------


def test_thread_filling_while_receiver_not_waiting_makes_no_calls(chan_module, run, spawn):
    n = 1_000
    tx, rx = chan_module.channel(n)

    async def main():
        calls = ThreadsafeCalls(asyncio.get_running_loop())
        started = asyncio.Event()

        async def consumer():
            await started.wait()  # sleeping, not parked on the channel
            return [item async for item in rx]

        task = asyncio.ensure_future(consumer())
        await settle()

        def produce():
            with tx:
                for i in range(n):
                    tx.blocking_send(i, timeout=WAIT)

        worker = spawn(produce)
        await until_done(worker)  # the loop keeps running meanwhile
        worker.join()
        assert calls.from_thread(worker) == 0
        started.set()
        got = await asyncio.wait_for(task, WAIT)
        assert got == list(range(n))
        assert calls.from_thread(worker) == 0
        return calls.total()

    run(main())


def test_thread_sending_to_a_busy_receiver_makes_no_calls(chan_module, run, spawn):
    """After one wake-up, a receiver that is busy (not parked) costs nothing."""
    n = 500
    tx, rx = chan_module.channel(n + 1)

    async def main():
        calls = ThreadsafeCalls(asyncio.get_running_loop())
        parked = asyncio.ensure_future(rx.recv())
        await settle()
        go = threading.Event()

        def produce():
            tx.blocking_send("first", timeout=WAIT)
            assert go.wait(WAIT)
            for i in range(n):
                tx.blocking_send(i, timeout=WAIT)

        worker = spawn(produce)
        assert await asyncio.wait_for(parked, WAIT) == "first"
        assert calls.from_thread(worker) == 1
        # The receiver is now busy: it holds the loop while the thread sends.
        go.set()
        worker.join()
        assert calls.from_thread(worker) == 1
        assert rx.try_recv_many(n + 1) == list(range(n))

    run(main())


# --- receiver parked: woken, once -------------------------------------------


def test_parked_receiver_is_woken_from_thread_once(chan_module, run, spawn):
    tx, rx = chan_module.channel(4)

    async def main():
        calls = ThreadsafeCalls(asyncio.get_running_loop())
        for how in ("recv", "recv_many", "anext"):
            if how == "recv":
                parked = asyncio.ensure_future(rx.recv())
            elif how == "recv_many":
                parked = asyncio.ensure_future(rx.recv_many(4))
            else:
                parked = asyncio.ensure_future(rx.__anext__())
            await settle()
            assert not parked.done()
            worker = spawn(tx.blocking_send_many, [how, how], WAIT)
            got = await asyncio.wait_for(parked, WAIT)
            worker.join()
            assert calls.from_thread(worker) == 1, how
            if how == "recv_many":
                assert got == [how, how]
            else:
                assert got == how
                assert rx.try_recv() == how

    run(main())


def test_same_thread_sender_wakes_directly(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        calls = ThreadsafeCalls(asyncio.get_running_loop())
        parked = asyncio.ensure_future(rx.recv())
        await settle()
        tx.try_send("direct")
        assert await asyncio.wait_for(parked, WAIT) == "direct"
        parked = asyncio.ensure_future(rx.recv_many(3))
        await settle()
        await tx.send("awaited")
        assert await asyncio.wait_for(parked, WAIT) == ["awaited"]

        async def producer():
            with tx:
                for i in range(200):
                    await tx.send(i)
                    if i % 7 == 0:
                        await asyncio.sleep(0)

        task = asyncio.ensure_future(producer())
        got = [item async for item in rx]
        await asyncio.wait_for(task, WAIT)
        assert got == list(range(200))
        assert calls.total() == 0

    run(main())


def test_sender_on_another_loop_wakes_parked_receiver(chan_module, run, spawn):
    tx, rx = chan_module.channel(4)

    async def send_from_other_loop():
        await tx.send("from another loop")

    async def main():
        calls = ThreadsafeCalls(asyncio.get_running_loop())
        parked = asyncio.ensure_future(rx.recv())
        await settle()
        worker = spawn(run, send_from_other_loop())
        assert await asyncio.wait_for(parked, WAIT) == "from another loop"
        worker.join()
        assert calls.from_thread(worker) == 1

    run(main())


def test_bursts_from_a_thread_wake_far_less_than_once_per_item(chan_module, run, spawn):
    n, chunk = 20_000, 100
    tx, rx = chan_module.channel(1024)

    def produce():
        with tx:
            for start in range(0, n, chunk):
                tx.blocking_send_many(range(start, start + chunk), timeout=WAIT)

    async def main():
        calls = ThreadsafeCalls(asyncio.get_running_loop())
        worker = spawn(produce)
        got = []
        async for item in rx:
            got.append(item)
        worker.join()
        return got, calls.from_thread(worker)

    got, wakeups = run(main())
    assert got == list(range(n))
    assert wakeups < n / 10, wakeups


# --- the other direction: parked senders woken by a thread receiver ------------


def test_thread_receiver_wakes_parked_sender_once(chan_module, run, spawn):
    tx, rx = chan_module.channel(1)

    async def main():
        calls = ThreadsafeCalls(asyncio.get_running_loop())
        await tx.send("fill")
        parked = asyncio.ensure_future(tx.send("parked"))
        await settle()
        assert not parked.done()
        worker = spawn(lambda: rx.blocking_recv(timeout=WAIT))
        await asyncio.wait_for(parked, WAIT)
        assert worker.join() == "fill"
        assert calls.from_thread(worker) == 1
        # A thread receiving while no sender is parked makes no calls.
        worker = spawn(lambda: rx.blocking_recv(timeout=WAIT))
        assert await asyncio.wait_for(_join_async(worker), WAIT) == "parked"
        assert calls.from_thread(worker) == 0

    run(main())


async def _join_async(worker):
    await until_done(worker)
    return worker.join()
