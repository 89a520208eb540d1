"""Cancellation safety.

A cancelled receive never loses an item.  A cancelled send either enqueued
its item or did not, and the caller can tell (for ``send``: cancelled means
not sent; for ``send_many``: ``.sent`` counts what went through).  A sender
woken and then cancelled passes its wake-up on, so no other sender hangs.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest
from support import WAIT, settle

from ringchan._errors import Closed


async def outcome(task: asyncio.Future):
    """Wait (bounded) for *task*; return ("ok", result) or ("cancelled", None)."""
    await asyncio.wait({task}, timeout=WAIT)
    assert task.done(), "task did not finish: deadlock?"
    if task.cancelled():
        return "cancelled", None
    return "ok", task.result()


async def drain(rx) -> list:
    return rx.try_recv_many(1 << 20)


# --- receives --------------------------------------------------------------


def test_cancelled_parked_recv_leaves_receiver_usable(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        task = asyncio.ensure_future(rx.recv())
        await settle()
        task.cancel()
        assert await outcome(task) == ("cancelled", None)
        # No stale waiter: another task may receive now (no "busy" error).
        other = asyncio.ensure_future(rx.recv())
        await settle()
        await tx.send("x")
        assert await asyncio.wait_for(other, WAIT) == "x"

    run(main())


@pytest.mark.parametrize("how", ["recv", "recv_many", "anext"])
def test_recv_woken_then_cancelled_loses_nothing(chan_module, run, how):
    tx, rx = chan_module.channel(4)

    def start():
        if how == "recv":
            return rx.recv()
        if how == "recv_many":
            return rx.recv_many(4)
        return rx.__anext__()

    async def main():
        task = asyncio.ensure_future(start())
        await settle()
        assert not task.done()
        tx.try_send_many(["a", "b", "c"])  # wakes the parked receive...
        task.cancel()  # ...which is cancelled before it runs again
        state, result = await outcome(task)
        got = (result if how == "recv_many" else [result]) if state == "ok" else []
        got += await drain(rx)
        assert got == ["a", "b", "c"]

    run(main())


def test_wait_for_timeouts_on_recv_lose_nothing_from_a_thread(chan_module, run, spawn):
    n = 3_000
    tx, rx = chan_module.channel(4)

    def produce():
        import time

        with tx:
            for i in range(n):
                tx.blocking_send(i, timeout=WAIT)
                if i % 200 == 0:
                    time.sleep(0.002)  # let some receives time out

    async def main():
        got = []
        # One receive times out whatever the machine's speed: nothing sends yet.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(rx.recv(), 0.0005)
        timeouts = 1
        producer = spawn(produce)
        while True:
            try:
                got.append(await asyncio.wait_for(rx.recv(), 0.0005))
            except asyncio.TimeoutError:
                timeouts += 1
            except Closed:
                break
        producer.join()
        return got, timeouts

    got, timeouts = run(main())
    assert got == list(range(n))
    assert timeouts > 0  # the test did exercise cancellation


def test_wait_for_timeouts_on_recv_many_lose_nothing(chan_module, run):
    n = 3_000
    tx, rx = chan_module.channel(8)

    async def produce():
        async with tx:
            for i in range(n):
                await tx.send(i)
                if i % 100 == 0:
                    await asyncio.sleep(0.001)

    async def main():
        got = []
        # One receive times out whatever the machine's speed: nothing sends yet.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(rx.recv_many(5), 0.0002)
        timeouts = 1
        producer = asyncio.ensure_future(produce())
        while True:
            try:
                got.extend(await asyncio.wait_for(rx.recv_many(5), 0.0002))
            except asyncio.TimeoutError:
                timeouts += 1
            except Closed:
                break
        await asyncio.wait_for(producer, WAIT)
        return got, timeouts

    got, timeouts = run(main())
    assert got == list(range(n))
    assert timeouts > 0


def test_cancelled_async_for_keeps_the_rest(chan_module, run):
    tx, rx = chan_module.channel(4)
    seen = []

    async def consume():
        async for item in rx:
            seen.append(item)

    async def main():
        task = asyncio.ensure_future(consume())
        await tx.send_many([1, 2])
        await settle()
        assert seen == [1, 2]
        await tx.send_many([3, 4])  # wakes the parked iteration...
        task.cancel()  # ...cancelled before it runs
        await outcome(task)
        tx.close()
        rest = [item async for item in rx]
        assert seen + rest == [1, 2, 3, 4]

    run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")
def test_asyncio_timeout_around_async_for_loses_nothing(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        got = []
        await tx.send_many([1, 2])
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                async for item in rx:
                    got.append(item)
        await tx.send(3)
        tx.close()
        got.extend([item async for item in rx])
        assert got == [1, 2, 3]

    run(main())


# --- sends -----------------------------------------------------------------


def test_cancelled_parked_send_did_not_enqueue(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        await tx.send("fill")
        task = asyncio.ensure_future(tx.send("cancelled"))
        await settle()
        task.cancel()
        assert await outcome(task) == ("cancelled", None)
        assert len(rx) == 1
        assert await drain(rx) == ["fill"]
        # The channel still accepts sends and wakes nobody stale.
        await asyncio.wait_for(tx.send("next"), WAIT)
        assert await drain(rx) == ["next"]

    run(main())


def test_woken_then_cancelled_send_caller_can_tell(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        await tx.send("fill")
        task = asyncio.ensure_future(tx.send("maybe"))
        await settle()
        assert rx.try_recv() == "fill"  # wakes the parked send...
        task.cancel()  # ...which is cancelled before it runs
        state, _ = await outcome(task)
        expected = [] if state == "cancelled" else ["maybe"]
        assert await drain(rx) == expected

    run(main())


def test_woken_then_cancelled_sender_passes_the_wakeup_on(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        await tx.send("fill")
        tasks = [asyncio.ensure_future(tx.clone().send(i)) for i in range(4)]
        await settle()
        assert not any(t.done() for t in tasks)
        assert rx.try_recv() == "fill"  # wakes one parked sender (room for one)
        tasks[0].cancel()  # the first parked, woken first in FIFO order
        for t in tasks[1:]:
            assert not t.done()
        received = []
        while not all(t.done() for t in tasks) or len(rx):
            # Without the hand-over, nobody would be woken here: the
            # receive would time out.
            received.append(await asyncio.wait_for(rx.recv(), WAIT))
        expected = {i for i, t in enumerate(tasks) if not t.cancelled()}
        assert set(received) == expected and len(received) == len(expected)
        assert {1, 2, 3} <= expected

    run(main())


def test_several_woken_then_cancelled_senders(chan_module, run):
    tx, rx = chan_module.channel(3)

    async def main():
        await tx.send_many(["f1", "f2", "f3"])
        tasks = [asyncio.ensure_future(tx.send(i)) for i in range(6)]
        await settle()
        assert rx.try_recv_many(3) == ["f1", "f2", "f3"]  # room for three
        for t in tasks[:3]:
            t.cancel()
        received = []
        while not all(t.done() for t in tasks) or len(rx):
            received.extend(await asyncio.wait_for(rx.recv_many(3), WAIT))
        expected = [i for i, t in enumerate(tasks) if not t.cancelled()]
        assert sorted(received) == expected
        assert {3, 4, 5} <= set(expected)

    run(main())


def test_woken_sender_cancelled_receiver_in_thread(chan_module, run, spawn):
    """Wake-ups come from another thread; sends time out at random points."""
    producers, per_producer = 4, 300
    tx, rx = chan_module.channel(2)
    # The consumer starts once a send has timed out, which the full channel
    # makes certain whatever the machine's speed.
    timed_out = threading.Event()

    def consume():
        assert timed_out.wait(WAIT)
        got = []
        for item in rx:
            got.append(item)
            if len(got) % 50 == 0:
                time.sleep(0.002)  # pauses longer than a first timeout: some must fire
        return got

    consumer = spawn(consume)

    async def produce(sender, pid):
        timeouts = 0
        with sender:
            for i in range(per_producer):
                timeout = 0.0002
                while True:
                    try:
                        await asyncio.wait_for(sender.send((pid, i)), timeout)
                        break
                    except asyncio.TimeoutError:
                        timeouts += 1  # not sent: send it again
                        timed_out.set()
                        timeout *= 2  # back off, so progress is certain
        return timeouts

    async def main():
        senders = [tx.clone() for _ in range(producers)]
        tx.close()
        return await asyncio.gather(*(produce(s, p) for p, s in enumerate(senders)))

    timeouts = run(main())
    got = consumer.join()
    assert sum(timeouts) > 0  # the test did exercise cancelled sends
    assert len(got) == producers * per_producer  # no duplicate from a timed-out send
    for pid in range(producers):
        assert [i for p, i in got if p == pid] == list(range(per_producer))


def test_blocking_send_timeouts_mean_not_sent(chan_module, run, spawn):
    n = 2_000
    tx, rx = chan_module.channel(2)
    # The consumer starts once a send has timed out, which the full channel
    # makes certain whatever the machine's speed.
    timed_out = threading.Event()

    def produce():
        timeouts = 0
        with tx:
            for i in range(n):
                timeout = 0.0001
                while True:
                    try:
                        tx.blocking_send(i, timeout=timeout)
                        break
                    except TimeoutError as exc:
                        assert exc.item == i
                        timeouts += 1
                        timed_out.set()
                        timeout *= 2
        return timeouts

    async def main():
        producer = spawn(produce)
        assert await asyncio.to_thread(timed_out.wait, WAIT)
        got = []
        async for item in rx:
            got.append(item)
            if len(got) % 100 == 0:
                await asyncio.sleep(0.001)
        return got, producer.join()

    got, timeouts = run(main())
    assert got == list(range(n))
    assert timeouts > 0  # the test did exercise timed-out sends


# --- SendMany.sent ---------------------------------------------------------


def test_send_many_sent_counts_progress(chan_module, run):
    tx, rx = chan_module.channel(2)
    items = list(range(7))

    async def main():
        sending = tx.send_many(items)
        assert sending.sent == 0
        task = asyncio.ensure_future(sending)
        await settle()
        assert sending.sent == 2
        assert rx.try_recv() == 0
        await settle()
        assert sending.sent == 3
        task.cancel()
        assert (await outcome(task))[0] == "cancelled"
        assert sending.sent == 3
        assert await drain(rx) == items[1 : sending.sent]
        # Resume with what was not sent.
        rest = tx.send_many(items[sending.sent :])
        task = asyncio.ensure_future(rest)
        got = []
        while len(got) < 4:
            got.extend(await asyncio.wait_for(rx.recv_many(4), WAIT))
        await asyncio.wait_for(task, WAIT)
        assert rest.sent == 4
        assert got == items[3:]

    run(main())


def test_send_many_resume_after_timeouts_is_exact(chan_module, run, spawn):
    n = 2_000
    tx, rx = chan_module.channel(8)
    consumer = spawn(lambda: list(rx))

    async def main():
        items = list(range(n))
        timeouts = 0
        timeout = 0.0005
        with tx:
            while items:
                sending = tx.send_many(items)
                try:
                    await asyncio.wait_for(sending, timeout)
                    assert sending.sent == len(items)
                    items = []
                except asyncio.TimeoutError:
                    timeouts += 1
                    if not sending.sent:
                        timeout *= 2  # no progress: back off
                    items = items[sending.sent :]
        return timeouts

    run(main())
    assert consumer.join() == list(range(n))


def test_send_many_closed_item_matches_sent(chan_module, run):
    tx, rx = chan_module.channel(2)
    items = list("abcdef")

    async def main():
        sending = tx.send_many(items)
        task = asyncio.ensure_future(sending)
        await settle()
        assert rx.try_recv() == "a"
        await settle()
        rx.close()
        with pytest.raises(Closed) as info:
            await asyncio.wait_for(task, WAIT)
        assert sending.sent == 3
        assert info.value.item == items[sending.sent :]
        assert await drain(rx) == items[1 : sending.sent]

    run(main())
