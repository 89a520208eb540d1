"""The unbounded channel: the same API, sends that never wait."""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc

import pytest
from support import WAIT

from ringchan._errors import Closed

pytestmark = pytest.mark.timeout(120)


def test_sends_never_wait_and_try_send_is_never_full(chan_module, run):
    tx, rx = chan_module.unbounded_channel()
    assert tx.capacity is None and rx.capacity is None
    for item in range(10_000):
        tx.try_send(item)
    assert tx.try_send_many(list(range(10_000, 20_000))) == 10_000
    tx.blocking_send("blocking", timeout=0)

    async def main():
        await tx.send("async")
        await tx.send_many(["many"])

    run(main())
    assert len(rx) == 20_003
    assert rx.try_recv_many(30_000) == [*range(20_000), "blocking", "async", "many"]
    stats = rx.stats()
    assert (stats.capacity, stats.sent, stats.received, stats.buffered) == (None, 20_003, 20_003, 0)


def test_parked_receivers_are_woken(chan_module, run, spawn):
    tx, rx = chan_module.unbounded_channel()

    async def main():
        waiting = asyncio.ensure_future(rx.recv())
        for _ in range(5):
            await asyncio.sleep(0)
        spawn(tx.blocking_send, "woken", WAIT).join()
        return await asyncio.wait_for(waiting, WAIT)

    assert run(main()) == "woken"
    worker = spawn(rx.blocking_recv, WAIT)
    tx.try_send("thread")
    assert worker.join() == "thread"


def test_close_and_end_of_stream(chan_module, run):
    tx, rx = chan_module.unbounded_channel()
    tx.try_send_many([1, 2])
    tx.close()

    async def main():
        return [item async for item in rx]

    assert run(main()) == [1, 2]
    tx2, rx2 = chan_module.unbounded_channel()
    rx2.close()
    with pytest.raises(Closed) as info:
        tx2.try_send("refused")
    assert info.value.item == "refused"


def test_permits_are_granted_at_once(chan_module, run):
    tx, rx = chan_module.unbounded_channel()
    permits = [tx.try_reserve_many(1000) for _ in range(3)]
    tx.try_send("not blocked by permits")
    permits[0].send("p")

    async def main():
        permit = await tx.reserve()
        permit.send("awaited")

    run(main())
    tx.blocking_reserve(timeout=0).send("blocking")
    assert rx.try_recv_many(10) == ["not blocked by permits", "p", "awaited", "blocking"]


def test_peek_batches_and_weak_senders(chan_module, run):
    tx, rx = chan_module.unbounded_channel()
    weak = tx.downgrade()
    tx.try_send_many(list(range(5)))
    assert rx.try_peek() == 0 and rx.commit() == 0
    tx.close()
    assert weak.upgrade() is None

    async def main():
        return [batch async for batch in rx.batches(3, 0)]

    assert run(main()) == [[1, 2, 3], [4]]


def test_many_producers_exact_accounting(chan_module):
    tx, rx = chan_module.unbounded_channel()
    # Millions through the C channel; the pure twin, some 20x slower, a share.
    threads, per_thread = 4, 500_000 if chan_module.__name__.endswith("_c") else 100_000

    def produce(tag, mine):
        with mine:
            for start in range(0, per_thread, 64):
                chunk = [(tag, n) for n in range(start, min(start + 64, per_thread))]
                if start // 64 % 2:
                    mine.blocking_send_many(chunk)
                else:
                    for item in chunk:
                        mine.try_send(item)

    # Cloned here: a thread that started late would find tx closed.
    workers = [threading.Thread(target=produce, args=(tag, tx.clone())) for tag in range(threads)]
    for worker in workers:
        worker.start()
    tx.close()
    seen = [0] * threads
    last = [-1] * threads
    reordered = 0
    while True:
        try:
            items = rx.blocking_recv_many(4096, timeout=WAIT)
        except Closed:
            break
        for tag, n in items:
            seen[tag] += 1
            reordered += n <= last[tag]
            last[tag] = n
    for worker in workers:
        worker.join(WAIT)
    assert reordered == 0
    assert seen == [per_thread] * threads
    assert rx.stats().received == threads * per_thread


def test_memory_returns_after_a_burst(chan_module):
    """Buffers grow with a burst and shrink as it drains: the traced memory
    after draining a million items is back near where it started."""
    tx, rx = chan_module.unbounded_channel()
    item = object()
    tx.try_send(item)
    rx.try_recv()  # the first block, kept as the channel's baseline
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            tx.try_send_many([item] * 100_000)
        grown = tracemalloc.get_traced_memory()[0]
        while rx.try_recv_many(100_000):
            pass
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert grown - before > 4_000_000  # a million pointers were held
    assert after - before < 100_000, (before, grown, after)
