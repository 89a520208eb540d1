"""FIFO per producer, no item lost and none duplicated, under a mix of
producers: threads (blocking_send, blocking_send_many, try_send), tasks on the
receiver's loop (send, send_many) and a task on another loop in another
thread; the consumer is either a task or a thread."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from support import WAIT

from ringchan._errors import Closed, Full

PER_PRODUCER = 1_500


def check_stream(got, producers: int, per_producer: int = PER_PRODUCER) -> None:
    counts = Counter(got)
    duplicates = [item for item, count in counts.items() if count > 1]
    assert not duplicates, f"duplicated items: {duplicates[:10]}"
    assert len(got) == producers * per_producer, "items were lost"
    for pid in range(producers):
        seq = [i for p, i in got if p == pid]
        assert seq == list(range(per_producer)), f"producer {pid} out of order"


def thread_blocking_send(tx, pid):
    with tx:
        for i in range(PER_PRODUCER):
            tx.blocking_send((pid, i), timeout=WAIT)


def thread_blocking_send_many(tx, pid):
    with tx:
        for start in range(0, PER_PRODUCER, 7):
            chunk = [(pid, i) for i in range(start, min(start + 7, PER_PRODUCER))]
            tx.blocking_send_many(chunk, timeout=WAIT)


def thread_try_send(tx, pid):
    with tx:
        for i in range(PER_PRODUCER):
            try:
                tx.try_send((pid, i))
            except Full:
                tx.blocking_send((pid, i), timeout=WAIT)


def thread_try_send_many(tx, pid):
    with tx:
        items = [(pid, i) for i in range(PER_PRODUCER)]
        while items:
            fitted = tx.try_send_many(items[:5])
            if fitted:
                items = items[fitted:]
            else:
                tx.blocking_send(items.pop(0), timeout=WAIT)


async def task_send(tx, pid):
    with tx:
        for i in range(PER_PRODUCER):
            await tx.send((pid, i))


async def task_send_many(tx, pid):
    with tx:
        for start in range(0, PER_PRODUCER, 11):
            await tx.send_many((pid, i) for i in range(start, min(start + 11, PER_PRODUCER)))


THREAD_PRODUCERS = [
    thread_blocking_send,
    thread_blocking_send,
    thread_blocking_send_many,
    thread_try_send,
    thread_try_send_many,
]
TASK_PRODUCERS = [task_send, task_send_many]
PRODUCERS = len(THREAD_PRODUCERS) + len(TASK_PRODUCERS) + 1  # + one foreign loop


async def consume_async(rx):
    got = []
    while True:
        # Alternate the three ways of receiving.
        try:
            if len(got) % 3 == 0:
                got.append(await rx.recv())
            elif len(got) % 3 == 1:
                got.extend(await rx.recv_many(5))
            else:
                async for item in rx:
                    got.append(item)
                    if len(got) % 50 == 0:
                        break
                else:
                    return got
        except Closed:
            return got


def consume_thread(rx):
    got = []
    while True:
        try:
            if len(got) % 2:
                got.append(rx.blocking_recv(timeout=WAIT))
            else:
                got.extend(rx.blocking_recv_many(9, timeout=WAIT))
        except Closed:
            return got


@pytest.mark.parametrize("capacity", [1, 2, 1024])
@pytest.mark.parametrize("consumer", ["task", "thread"])
def test_mixed_producers_fifo_no_loss_no_duplicates(chan_module, run, spawn, capacity, consumer):
    tx, rx = chan_module.channel(capacity)
    senders = [tx.clone() for _ in range(PRODUCERS)]
    tx.close()

    async def main():
        pid = 0
        workers = []
        for func in THREAD_PRODUCERS:
            workers.append(spawn(func, senders[pid], pid))
            pid += 1
        workers.append(spawn(run, task_send(senders[pid], pid), name="foreign-loop"))
        pid += 1
        tasks = [
            asyncio.ensure_future(func(senders[pid + k], pid + k))
            for k, func in enumerate(TASK_PRODUCERS)
        ]
        del senders[:]
        if consumer == "task":
            got = await consume_async(rx)
        else:
            thread = spawn(consume_thread, rx)
            while thread.is_alive():
                await asyncio.sleep(0.001)
            got = thread.join()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        for worker in workers:
            worker.join()
        return got

    check_stream(run(main()), PRODUCERS)


@pytest.mark.parametrize("capacity", [1, 2, 1024])
def test_single_task_producer_is_fifo(chan_module, run, capacity):
    tx, rx = chan_module.channel(capacity)
    n = 5_000

    async def produce():
        with tx:
            for i in range(n):
                await tx.send(i)

    async def main():
        task = asyncio.ensure_future(produce())
        got = [item async for item in rx]
        await asyncio.wait_for(task, WAIT)
        return got

    assert run(main()) == list(range(n))


@pytest.mark.parametrize("capacity", [1, 2, 1024])
def test_threads_only_into_thread_consumer(chan_module, spawn, capacity):
    tx, rx = chan_module.channel(capacity)
    senders = [tx.clone() for _ in range(4)]
    tx.close()
    workers = [
        spawn(thread_blocking_send if pid % 2 else thread_blocking_send_many, s, pid)
        for pid, s in enumerate(senders)
    ]
    del senders[:]
    got = spawn(consume_thread, rx).join(timeout=30)
    for worker in workers:
        worker.join()
    check_stream(got, 4)
