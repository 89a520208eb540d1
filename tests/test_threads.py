"""Plain threads: the blocking_* methods, ``for item in rx``, and channels
shared between threads and event loops (several loops in several threads)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from support import WAIT, park_briefly, park_on_closed_loop, wait_until

from ringchan._errors import Closed


def test_blocking_send_and_recv_in_one_thread(chan_module, spawn):
    tx, rx = chan_module.channel(3)

    def body():  # default timeout (None); in a thread so a hang is bounded
        tx.blocking_send(1)
        tx.blocking_send_many([2, 3])
        assert rx.blocking_recv() == 1
        assert rx.blocking_recv_many(5) == [2, 3]

    spawn(body).join()


def test_blocking_recv_timeout_on_empty(chan_module):
    tx, rx = chan_module.channel(2)
    with pytest.raises(TimeoutError):
        rx.blocking_recv(timeout=0.02)
    with pytest.raises(TimeoutError):
        rx.blocking_recv_many(3, timeout=0.02)
    tx.try_send("x")  # the receiver is still usable
    assert rx.blocking_recv(timeout=WAIT) == "x"


def test_blocking_send_timeout_keeps_item_and_channel(chan_module):
    tx, rx = chan_module.channel(2)
    tx.try_send_many([1, 2])
    item = object()
    with pytest.raises(TimeoutError) as info:
        tx.blocking_send(item, timeout=0.02)
    assert info.value.item is item
    assert len(rx) == 2
    assert rx.try_recv_many(5) == [1, 2]
    tx.blocking_send(3, timeout=WAIT)  # the sender is still usable
    assert rx.try_recv() == 3


def test_blocking_send_many_timeout_lists_unsent(chan_module):
    tx, rx = chan_module.channel(2)
    with pytest.raises(TimeoutError) as info:
        tx.blocking_send_many(iter([1, 2, 3, 4, 5]), timeout=0.02)
    assert info.value.item == [3, 4, 5]
    assert rx.try_recv_many(5) == [1, 2]


def test_blocking_send_waits_for_room(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    tx.try_send(0)
    worker = spawn(lambda: tx.blocking_send(1, timeout=WAIT))
    park_briefly()
    assert worker.is_alive()
    assert rx.blocking_recv(timeout=WAIT) == 0
    worker.join()
    assert rx.blocking_recv(timeout=WAIT) == 1


def test_blocking_recv_waits_for_an_item(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    worker = spawn(lambda: rx.blocking_recv(timeout=WAIT))
    park_briefly()
    assert worker.is_alive()
    tx.blocking_send("hello", timeout=WAIT)
    assert worker.join() == "hello"


def test_blocking_recv_many_returns_one_to_max(chan_module, spawn):
    tx, rx = chan_module.channel(8)
    worker = spawn(lambda: rx.blocking_recv_many(4, timeout=WAIT))
    park_briefly()
    tx.try_send(1)
    got = worker.join()
    assert got == [1]
    tx.try_send_many([2, 3, 4, 5, 6])
    assert rx.blocking_recv_many(4, timeout=WAIT) == [2, 3, 4, 5]
    assert rx.blocking_recv_many(4, timeout=WAIT) == [6]


def test_parked_blocking_recv_sees_last_sender_close(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    tx2 = tx.clone()
    worker = spawn(lambda: rx.blocking_recv(timeout=WAIT))
    park_briefly()
    tx.close()
    park_briefly()
    assert worker.is_alive()
    tx2.close()
    with pytest.raises(Closed):
        worker.join()


def test_parked_blocking_recv_sees_receiver_close(chan_module, spawn):
    _tx, rx = chan_module.channel(1)
    worker = spawn(lambda: rx.blocking_recv_many(3, timeout=WAIT))
    park_briefly()
    rx.close()
    with pytest.raises(Closed):
        worker.join()


def test_parked_blocking_send_fails_when_receiver_closes(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    tx.try_send("buffered")
    worker = spawn(lambda: tx.blocking_send("parked", timeout=WAIT))
    park_briefly()
    rx.close()
    with pytest.raises(Closed) as info:
        worker.join()
    assert info.value.item == "parked"
    assert rx.try_recv() == "buffered"


def test_parked_blocking_send_many_fails_when_receiver_closes(chan_module, spawn):
    tx, rx = chan_module.channel(2)
    worker = spawn(lambda: tx.blocking_send_many(range(6), timeout=WAIT))
    wait_until(lambda: len(rx) == 2)
    park_briefly()
    rx.close()
    with pytest.raises(Closed) as info:
        worker.join()
    assert info.value.item == [2, 3, 4, 5]
    assert rx.try_recv_many(5) == [0, 1]


def test_for_loop_in_thread_ends_cleanly(chan_module, spawn):
    tx, rx = chan_module.channel(4)
    assert iter(rx) is rx
    consumer = spawn(lambda: list(rx))
    with tx:
        for i in range(100):
            tx.blocking_send(i, timeout=WAIT)
    assert consumer.join() == list(range(100))


def test_for_loop_drains_after_receiver_close(chan_module):
    tx, rx = chan_module.channel(4)
    tx.try_send_many([1, 2, 3])
    rx.close()
    assert list(rx) == [1, 2, 3]
    assert list(rx) == []


def test_thread_to_thread(chan_module, spawn):
    n = 20_000
    tx, rx = chan_module.channel(64)

    def produce():
        with tx:
            for i in range(n):
                tx.blocking_send(i, timeout=WAIT)

    producer = spawn(produce)
    got = spawn(lambda: list(rx)).join()
    producer.join()
    assert got == list(range(n))


def test_thread_to_asyncio(chan_module, run, spawn):
    n = 20_000
    tx, rx = chan_module.channel(128)

    def produce():
        with tx:
            for start in range(0, n, 50):
                if start % 100:
                    tx.blocking_send_many(range(start, start + 50), timeout=WAIT)
                else:
                    for i in range(start, start + 50):
                        tx.blocking_send(i, timeout=WAIT)

    async def main():
        producer = spawn(produce)
        got = [item async for item in rx]
        producer.join()
        return got

    assert run(main()) == list(range(n))


def test_asyncio_to_thread(chan_module, run, spawn):
    n = 20_000
    tx, rx = chan_module.channel(128)
    consumer = spawn(lambda: list(rx))

    async def main():
        async with tx:
            for start in range(0, n, 50):
                if start % 100:
                    await tx.send_many(range(start, start + 50))
                else:
                    for i in range(start, start + 50):
                        await tx.send(i)

    run(main())
    assert consumer.join() == list(range(n))


def test_thread_blocking_recv_many_from_tasks(chan_module, run, spawn):
    n = 10_000
    tx, rx = chan_module.channel(32)

    def consume():
        got = []
        while True:
            try:
                got.extend(rx.blocking_recv_many(7, timeout=WAIT))
            except Closed:
                return got

    consumer = spawn(consume)

    async def main():
        async with tx:
            await tx.send_many(range(n))

    run(main())
    assert consumer.join() == list(range(n))


def test_several_loops_in_several_threads_into_one_receiver(chan_module, run, spawn):
    producers, per_producer = 4, 3_000
    tx, rx = chan_module.channel(16)

    async def produce(sender, pid):
        async with sender:
            for i in range(per_producer):
                if i % 3:
                    await sender.send((pid, i))
                else:
                    await sender.send_many([(pid, i)])

    senders = [tx.clone() for _ in range(producers)]
    tx.close()

    async def main():
        workers = [
            spawn(run, produce(sender, pid), name=f"loop-{pid}")
            for pid, sender in enumerate(senders)
        ]
        got = [item async for item in rx]
        for worker in workers:
            worker.join()
        return got

    got = run(main())
    assert len(got) == producers * per_producer
    for pid in range(producers):
        assert [i for p, i in got if p == pid] == list(range(per_producer))


def test_blocked_thread_does_not_burn_cpu(chan_module, spawn):
    full_tx, full_rx = chan_module.channel(1)
    full_tx.try_send("fill")
    empty_tx, empty_rx = chan_module.channel(1)

    def cpu_while(block):
        start = time.thread_time()
        with pytest.raises(TimeoutError):
            block()
        return time.thread_time() - start

    recv_worker = spawn(cpu_while, lambda: empty_rx.blocking_recv(timeout=0.5))
    send_worker = spawn(cpu_while, lambda: full_tx.blocking_send("x", timeout=0.5))
    recv_cpu = recv_worker.join()
    send_cpu = send_worker.join()
    # A busy-polling wait would use about 0.5 s of CPU in each thread.
    assert recv_cpu < 0.2, recv_cpu
    assert send_cpu < 0.2, send_cpu
    assert empty_tx.capacity == full_rx.capacity == 1  # both kept open throughout


def test_parked_threads_cost_no_cpu_while_nothing_moves(chan_module, spawn):
    """A receiver and a sender, each parked for a second with no timeout,
    add less than 5% of a core: their spin before sleeping is bounded."""
    full_tx, full_rx = chan_module.channel(1)
    full_tx.try_send("fill")
    empty_tx, empty_rx = chan_module.channel(1)
    receiver = spawn(empty_rx.blocking_recv)
    sender = spawn(full_tx.blocking_send, "late")
    wait_until(lambda: empty_rx._parked()[1] and full_rx._parked()[0] == 1)
    start = time.process_time()
    time.sleep(1.0)
    cpu = time.process_time() - start
    empty_tx.try_send("item")
    assert full_rx.try_recv() == "fill"
    assert receiver.join() == "item"
    sender.join()
    assert full_rx.try_recv() == "late"
    assert cpu < 0.05, f"{cpu:.3f} s of CPU in a second with both sides parked"


# --- blocking calls refuse to freeze a running loop --------------------------


def test_blocking_calls_inside_a_running_loop_raise(chan_module, run):
    tx, rx = chan_module.channel(2)
    tx.try_send("kept")

    async def main():
        with pytest.raises(RuntimeError, match="block"):
            rx.blocking_recv()
        with pytest.raises(RuntimeError, match="block"):
            rx.blocking_recv(timeout=0)
        with pytest.raises(RuntimeError, match="block"):
            rx.blocking_recv_many(2, timeout=1)
        with pytest.raises(RuntimeError):
            next(iter(rx))
        with pytest.raises(RuntimeError):
            for _ in rx:
                pass
        with pytest.raises(RuntimeError, match="block"):
            tx.blocking_send("no")
        with pytest.raises(RuntimeError, match="block"):
            tx.blocking_send_many(["no", "no"], timeout=1)
        # Nothing was taken or added by the refused calls.
        assert len(rx) == 1
        assert await asyncio.wait_for(rx.recv(), WAIT) == "kept"
        assert rx.try_recv_many(5) == []

    run(main())


def test_blocking_calls_work_in_a_thread_while_another_loop_runs(chan_module, run, spawn):
    tx, rx = chan_module.channel(2)

    async def main():
        # This thread's loop runs; a different thread has no loop: fine there.
        worker = spawn(lambda: tx.blocking_send("from thread", timeout=WAIT))
        assert await asyncio.wait_for(rx.recv(), WAIT) == "from thread"
        worker.join()
        worker = spawn(lambda: rx.blocking_recv(timeout=WAIT))
        await tx.send("to thread")
        while worker.is_alive():
            await asyncio.sleep(0.001)
        assert worker.join() == "to thread"

    run(main())


def test_blocking_call_after_loop_stopped_is_allowed(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        await tx.send(1)

    run(main())
    # The loop is closed: this thread no longer runs one.
    assert rx.blocking_recv(timeout=WAIT) == 1
    tx.blocking_send(2, timeout=WAIT)
    assert rx.try_recv() == 2


def test_main_thread_receiver_with_event_set_by_thread(chan_module, spawn):
    """A thread waiting on an Event before sending: wake-ups cross threads both ways."""
    tx, rx = chan_module.channel(1)
    go = threading.Event()

    def produce():
        assert go.wait(WAIT)
        for i in range(50):
            tx.blocking_send(i, timeout=WAIT)
        tx.close()

    worker = spawn(produce)
    go.set()
    got = []
    while True:
        try:
            got.append(rx.blocking_recv(timeout=WAIT))
        except Closed:
            break
    worker.join()
    assert got == list(range(50))


def _park_receiver_on_closed_loop(chan_module, loop_factory):
    """A channel whose receiver was parked in recv() on a loop now closed."""
    tx, rx = chan_module.channel(4)
    park_on_closed_loop(loop_factory, rx.recv)
    return tx, rx


def test_send_from_same_thread_after_receivers_loop_closed(chan_module, loop_factory):
    tx, rx = _park_receiver_on_closed_loop(chan_module, loop_factory)
    tx.try_send(1)  # wakes nobody: no error, and the item is kept
    assert rx.try_recv() == 1


def test_send_from_thread_after_receivers_loop_closed(chan_module, loop_factory, spawn):
    tx, rx = _park_receiver_on_closed_loop(chan_module, loop_factory)
    spawn(lambda: tx.blocking_send(1, timeout=WAIT)).join()
    assert rx.blocking_recv(timeout=WAIT) == 1
