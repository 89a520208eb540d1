"""rx.stats(): the counters that tell where a pipeline stalls."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import pytest
from support import WAIT

from ringchan import ChannelStats

pytestmark = pytest.mark.timeout(60)


def wait_for_stats(rx, predicate):
    deadline = time.monotonic() + WAIT
    while True:
        stats = rx.stats()
        if predicate(stats):
            return stats
        assert time.monotonic() < deadline, f"never reached: {stats}"
        time.sleep(0.001)


def test_fresh_channel(chan_module):
    _tx, rx = chan_module.channel(8)
    assert rx.stats() == ChannelStats(
        sent=0,
        received=0,
        buffered=0,
        capacity=8,
        senders=1,
        parked_senders=0,
        receiver_parked=False,
        reserved=0,
        wakeups=0,
    )


def test_counts_follow_the_traffic(chan_module):
    tx, rx = chan_module.channel(8)
    clone = tx.clone()
    tx.try_send_many(range(5))
    rx.try_recv_many(2)
    stats = rx.stats()
    assert (stats.sent, stats.received, stats.buffered, stats.senders) == (5, 2, 3, 2)
    clone.close()
    assert rx.stats().senders == 1
    tx.close()
    assert rx.stats().senders == 0


def test_the_record_is_frozen(chan_module):
    _tx, rx = chan_module.channel(1)
    stats = rx.stats()
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.sent = 5  # type: ignore[misc]
    assert "sent=0" in repr(stats)


def test_parked_senders_and_cross_thread_wakeups(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    tx.try_send(-1)
    workers = [spawn(tx.blocking_send, n, WAIT) for n in range(2)]
    stats = wait_for_stats(rx, lambda s: s.parked_senders == 2)
    assert stats.buffered == 1 and stats.wakeups == 0
    assert sorted(rx.blocking_recv(timeout=WAIT) for _ in range(3)) == [-1, 0, 1]
    for worker in workers:
        worker.join()
    stats = rx.stats()
    assert stats.parked_senders == 0
    assert stats.wakeups >= 2  # each parked thread was woken from this one
    assert (stats.sent, stats.received) == (3, 3)


def test_receiver_parked(chan_module, run, spawn):
    tx, rx = chan_module.channel(4)

    async def main():
        task = asyncio.ensure_future(rx.recv())
        for _ in range(5):
            await asyncio.sleep(0)
        assert rx.stats().receiver_parked
        spawn(tx.blocking_send, "x", WAIT).join()
        assert await asyncio.wait_for(task, WAIT) == "x"
        stats = rx.stats()
        assert not stats.receiver_parked
        assert stats.wakeups == 1

    run(main())


def test_items_handed_back_count_as_not_received(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        await tx.send_many([1, 2, 3])
        step = asyncio.ensure_future(rx.batches(10, WAIT).__anext__())
        for _ in range(5):
            await asyncio.sleep(0)
        assert rx.stats().received == 3
        step.cancel()
        await asyncio.wait({step}, timeout=WAIT)
        stats = rx.stats()
        assert (stats.sent, stats.received, stats.buffered) == (3, 0, 3)

    run(main())


def test_exact_after_many_producers(chan_module):
    tx, rx = chan_module.channel(16)
    per_thread, threads = 2000, 4

    def produce(mine):
        with mine:
            for item in range(per_thread):
                mine.blocking_send(item, timeout=WAIT)

    # Cloned here: a thread that started late would find tx closed.
    workers = [threading.Thread(target=produce, args=(tx.clone(),)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    tx.close()
    received = sum(1 for _ in rx)
    for worker in workers:
        worker.join(WAIT)
    stats = rx.stats()
    assert received == per_thread * threads
    assert (stats.sent, stats.received, stats.buffered) == (received, received, 0)
    assert stats.senders == 0
