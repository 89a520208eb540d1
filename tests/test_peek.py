"""Peek and commit, transactions, and a consumer that fails and resumes.

``peek`` returns the next item without taking it, so the bound stays exact
and the item stays next for any receive; ``commit`` takes exactly the item
peeked.  A transaction takes its item only when its block succeeds.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from support import WAIT, settle

from ringchan._errors import Closed, Empty, Full

pytestmark = pytest.mark.timeout(60)


# --- peek and commit -------------------------------------------------------


def test_try_peek_leaves_the_item_and_the_bound(chan_module):
    tx, rx = chan_module.channel(2)
    with pytest.raises(Empty):
        rx.try_peek()
    tx.try_send("a")
    tx.try_send("b")
    assert rx.try_peek() == "a"
    assert rx.try_peek() == "a"
    assert len(rx) == 2
    # Peeking frees no room: the channel is still full.
    with pytest.raises(Full):
        tx.try_send("c")
    assert rx.commit() == "a"
    assert rx.try_recv() == "b"


def test_commit_takes_the_peeked_item_only(chan_module):
    tx, rx = chan_module.channel(4)
    for item in "abc":
        tx.try_send(item)
    with pytest.raises(RuntimeError, match="peek"):
        rx.commit()
    assert rx.try_peek() == "a"
    # A receive took the peeked item: commit must not take the next one.
    assert rx.try_recv() == "a"
    with pytest.raises(RuntimeError, match="peek"):
        rx.commit()
    assert rx.try_peek() == "b"
    assert rx.commit() == "b"
    with pytest.raises(RuntimeError, match="peek"):
        rx.commit()
    assert rx.try_recv_many(10) == ["c"]


def test_peek_waits_then_commit(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        task = asyncio.ensure_future(rx.peek())
        await settle()
        assert not task.done()
        await tx.send("x")
        assert await asyncio.wait_for(task, WAIT) == "x"
        assert len(rx) == 1
        assert rx.commit() == "x"
        assert len(rx) == 0

    run(main())


def test_cancelled_peek_takes_nothing(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        task = asyncio.ensure_future(rx.peek())
        await settle()
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)
        assert task.cancelled()
        # No stale waiter: a receive may park now, and gets the item.
        other = asyncio.ensure_future(rx.recv())
        await settle()
        await tx.send("y")
        assert await asyncio.wait_for(other, WAIT) == "y"

    run(main())


def test_peek_while_another_task_waits_is_refused(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        waiting = asyncio.ensure_future(rx.recv())
        await settle()
        with pytest.raises(RuntimeError, match="single consumer"):
            await rx.peek()
        await tx.send(1)
        assert await asyncio.wait_for(waiting, WAIT) == 1

    run(main())


@pytest.mark.parametrize("ended_by", ["senders", "receiver"])
def test_peek_at_the_end_raises_closed(chan_module, run, ended_by):
    tx, rx = chan_module.channel(2)
    tx.try_send("last")
    if ended_by == "senders":
        tx.close()
    else:
        rx.close()
    assert rx.try_peek() == "last"
    assert rx.commit() == "last"
    with pytest.raises(Closed):
        rx.try_peek()
    with pytest.raises(Closed):
        rx.blocking_peek(timeout=WAIT)

    async def main():
        with pytest.raises(Closed):
            await rx.peek()
        with pytest.raises(Closed):
            async with rx.transaction():
                pytest.fail("entered a transaction on an ended stream")

    run(main())


def test_parked_peek_sees_the_close(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        task = asyncio.ensure_future(rx.peek())
        await settle()
        tx.close()
        with pytest.raises(Closed):
            await asyncio.wait_for(task, WAIT)

    run(main())


def test_blocking_peek(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    with pytest.raises(TimeoutError):
        rx.blocking_peek(timeout=0.01)

    def later():
        time.sleep(0.05)
        tx.blocking_send("z", timeout=WAIT)

    worker = spawn(later)
    assert rx.blocking_peek(timeout=WAIT) == "z"
    worker.join()
    assert rx.blocking_peek(timeout=0) == "z"
    assert rx.commit() == "z"


def test_blocking_peek_refuses_a_running_loop(chan_module, run):
    tx, rx = chan_module.channel(1)
    tx.try_send(1)

    async def main():
        with pytest.raises(RuntimeError, match="event loop"):
            rx.blocking_peek()
        with pytest.raises(RuntimeError, match="event loop"), rx.blocking_transaction():
            pass

    run(main())


@pytest.mark.parametrize("timeout", [-1, float("nan"), "1"])
def test_bad_timeouts_are_refused(chan_module, timeout):
    _tx, rx = chan_module.channel(1)
    with pytest.raises((TypeError, ValueError)):
        rx.blocking_peek(timeout)
    with pytest.raises((TypeError, ValueError)):
        rx.blocking_transaction(timeout)


def test_peeked_item_is_the_next_any_receive_returns(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        for item in range(3):
            await tx.send(item)
        assert await rx.peek() == 0
        assert await rx.recv_many(10) == [0, 1, 2]
        await tx.send(3)
        assert await rx.peek() == 3
        async for item in rx:
            assert item == 3
            break

    run(main())


# --- transactions ----------------------------------------------------------


def test_transaction_commits_on_success_only(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        await tx.send_many(["a", "b"])
        with pytest.raises(KeyError):
            async with rx.transaction() as item:
                assert item == "a"
                raise KeyError(item)
        assert len(rx) == 2
        async with rx.transaction() as item:
            assert item == "a"
        async with rx.transaction() as item:
            assert item == "b"
        assert len(rx) == 0

    run(main())


def test_transaction_waits_and_can_be_cancelled(chan_module, run):
    tx, rx = chan_module.channel(2)
    entered = []

    async def consume():
        async with rx.transaction() as item:
            entered.append(item)

    async def main():
        task = asyncio.ensure_future(consume())
        await settle()
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)
        assert task.cancelled() and entered == []
        await tx.send("v")
        await asyncio.wait_for(consume(), WAIT)
        assert entered == ["v"] and len(rx) == 0

    run(main())


def test_cancelled_inside_a_transaction_keeps_the_item(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        started = asyncio.Event()

        async def consume():
            async with rx.transaction():
                started.set()
                await asyncio.sleep(WAIT)

        await tx.send("kept")
        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(started.wait(), WAIT)
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)
        assert task.cancelled()
        assert await rx.recv() == "kept"

    run(main())


def test_blocking_transaction(chan_module):
    tx, rx = chan_module.channel(2)
    tx.try_send(1)
    with pytest.raises(ValueError, match=r"^1$"), rx.blocking_transaction(timeout=WAIT) as item:
        raise ValueError(item)
    with rx.blocking_transaction(timeout=WAIT) as item:
        assert item == 1
    assert len(rx) == 0
    with pytest.raises(TimeoutError), rx.blocking_transaction(timeout=0.01):
        pytest.fail("entered without an item")


def test_transaction_kinds_are_not_mixed(chan_module, run):
    tx, rx = chan_module.channel(2)
    tx.try_send(1)
    with pytest.raises(TypeError, match="async with"), rx.transaction():
        pass

    async def main():
        with pytest.raises(TypeError, match="with"):
            async with rx.blocking_transaction():
                pass

    run(main())
    assert rx.try_recv() == 1


# --- a consumer that fails and resumes -------------------------------------


class Flaky(Exception):
    pass


def test_consumer_resumes_after_failing_in_async_for(chan_module, run):
    tx, rx = chan_module.channel(16)

    async def consume(seen, fail_on):
        async for item in rx:
            if item == fail_on:
                raise Flaky(item)
            seen.append(item)

    async def main():
        await tx.send_many(range(10))
        tx.close()
        seen = []
        with pytest.raises(Flaky):
            await consume(seen, 4)
        assert len(rx) == 5
        # Handed the same receiver again: on with the item after the failure.
        await consume(seen, None)
        assert seen == [0, 1, 2, 3, 5, 6, 7, 8, 9]

    run(main())


def test_breaking_out_never_closes_the_receiver(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        await tx.send_many(range(6))
        async for item in rx:
            if item == 1:
                break
        assert not rx.is_closed
        await tx.send(6)
        assert rx.try_recv_many(10) == [2, 3, 4, 5, 6]

    run(main())
    tx.try_send("thread")
    for item in rx:
        assert item == "thread"
        break
    assert not rx.is_closed


def test_consumer_with_transactions_retries_the_failed_item(chan_module, run):
    tx, rx = chan_module.channel(16)
    attempts: dict = {}

    async def consume(done):
        while True:
            try:
                async with rx.transaction() as item:
                    attempts[item] = attempts.get(item, 0) + 1
                    if item % 3 == 0 and attempts[item] < 3:
                        raise Flaky(item)
                    done.append(item)
            except Closed:
                return

    async def main():
        await tx.send_many(range(10))
        tx.close()
        done = []
        failures = 0
        while True:
            try:
                await consume(done)
                break
            except Flaky:
                failures += 1
        assert done == list(range(10))
        assert failures == 8  # 0, 3, 6, 9 each failed twice
        assert attempts == {i: (3 if i % 3 == 0 else 1) for i in range(10)}

    run(main())
