"""The awaitable API on one event loop: send, recv, *_many, async for, and how
they compose with asyncio's own tools."""

from __future__ import annotations

import asyncio
import sys

import pytest
from support import WAIT, settle

from ringchan._errors import Closed


def test_send_then_recv(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        await tx.send("a")
        await tx.send("b")
        assert len(rx) == 2
        assert await rx.recv() == "a"
        assert await rx.recv() == "b"

    run(main())


def test_recv_waits_for_a_send(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        task = asyncio.ensure_future(rx.recv())
        await settle()
        assert not task.done()
        await tx.send("late")
        assert await asyncio.wait_for(task, WAIT) == "late"

    run(main())


def test_send_waits_while_full(chan_module, run):
    tx, rx = chan_module.channel(2)
    progress = []

    async def producer():
        for i in range(5):
            await tx.send(i)
            progress.append(i)

    async def main():
        task = asyncio.ensure_future(producer())
        await settle()
        assert progress == [0, 1]
        assert len(rx) == 2
        assert not task.done()
        assert rx.try_recv() == 0
        await settle()
        assert progress == [0, 1, 2]
        assert len(rx) == 2
        got = [await asyncio.wait_for(rx.recv(), WAIT) for _ in range(4)]
        await asyncio.wait_for(task, WAIT)
        assert got == [1, 2, 3, 4]

    run(main())


def test_recv_many_waits_only_for_the_first(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        task = asyncio.ensure_future(rx.recv_many(5))
        await settle()
        assert not task.done()
        tx.try_send(1)
        got = await asyncio.wait_for(task, WAIT)
        assert 1 <= len(got) <= 5
        assert got == [1]
        tx.try_send_many([2, 3])
        assert await asyncio.wait_for(rx.recv_many(5), WAIT) == [2, 3]

    run(main())


def test_recv_many_takes_at_most_max_items(chan_module, run):
    tx, rx = chan_module.channel(8)

    async def main():
        await tx.send_many(range(7))
        assert await rx.recv_many(3) == [0, 1, 2]
        assert await rx.recv_many(1) == [3]
        assert await rx.recv_many(100) == [4, 5, 6]

    run(main())


def test_recv_many_frees_room_for_waiting_senders(chan_module, run):
    tx, rx = chan_module.channel(3)

    async def main():
        task = asyncio.ensure_future(tx.send_many(range(9)))
        got = []
        while len(got) < 9:
            got.extend(await asyncio.wait_for(rx.recv_many(2), WAIT))
        await asyncio.wait_for(task, WAIT)
        assert got == list(range(9))

    run(main())


def test_send_many_larger_than_capacity(chan_module, run):
    tx, rx = chan_module.channel(3)

    async def producer():
        async with tx:
            await tx.send_many(i for i in range(50))  # any iterable

    async def main():
        task = asyncio.ensure_future(producer())
        got = [item async for item in rx]
        await asyncio.wait_for(task, WAIT)
        assert got == list(range(50))

    run(main())


def test_send_many_reads_the_iterable_before_sending(chan_module, run):
    tx, rx = chan_module.channel(8)

    def broken():
        yield 1
        yield 2
        raise ValueError("boom")

    async def main():
        with pytest.raises(ValueError, match="boom"):
            await tx.send_many(broken())
        assert len(rx) == 0
        await tx.send_many([])
        assert len(rx) == 0

    run(main())


def test_send_many_closed_midway_lists_unsent_items(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        task = asyncio.ensure_future(tx.send_many([1, 2, 3, 4, 5]))
        await settle()
        assert not task.done()
        rx.close()
        with pytest.raises(Closed) as info:
            await asyncio.wait_for(task, WAIT)
        assert info.value.item == [3, 4, 5]
        assert rx.try_recv_many(5) == [1, 2]

    run(main())


def test_send_to_closed_receiver_raises_closed_with_item(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        rx.close()
        item = object()
        with pytest.raises(Closed) as info:
            await tx.send(item)
        assert info.value.item is item
        with pytest.raises(Closed) as info:
            await tx.send_many((1, 2))
        assert info.value.item == [1, 2]

    run(main())


def test_parked_send_fails_when_receiver_closes(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        await tx.send("buffered")
        task = asyncio.ensure_future(tx.send("parked"))
        await settle()
        assert not task.done()
        rx.close()
        with pytest.raises(Closed) as info:
            await asyncio.wait_for(task, WAIT)
        assert info.value.item == "parked"
        assert await rx.recv() == "buffered"
        with pytest.raises(Closed):
            await rx.recv()

    run(main())


def test_recv_on_closed_drained_channel_raises_closed(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        await tx.send(1)
        tx.close()
        assert await rx.recv() == 1
        with pytest.raises(Closed) as info:
            await rx.recv()
        assert info.value.item is None
        with pytest.raises(Closed):
            await rx.recv_many(3)

    run(main())


def test_parked_recv_sees_the_end_when_last_sender_closes(chan_module, run):
    tx, rx = chan_module.channel(2)
    tx2 = tx.clone()

    async def main():
        task = asyncio.ensure_future(rx.recv())
        await settle()
        tx.close()
        await settle()
        assert not task.done()  # tx2 is still open
        tx2.close()
        with pytest.raises(Closed):
            await asyncio.wait_for(task, WAIT)

    run(main())


def test_parked_recv_many_sees_the_end(chan_module, run):
    _tx, rx = chan_module.channel(2)

    async def main():
        task = asyncio.ensure_future(rx.recv_many(4))
        await settle()
        rx.close()
        with pytest.raises(Closed):
            await asyncio.wait_for(task, WAIT)

    run(main())


def test_async_for_ends_cleanly_after_senders_close(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def producer():
        with tx:
            for i in range(20):
                await tx.send(i)

    async def main():
        task = asyncio.ensure_future(producer())
        got = []
        async for item in rx:
            got.append(item)
        await asyncio.wait_for(task, WAIT)
        assert got == list(range(20))
        # The stream stays ended.
        got_again = [item async for item in rx]
        assert got_again == []

    run(main())


def test_async_for_drains_after_receiver_close(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        await tx.send_many([1, 2, 3])
        rx.close()
        assert [item async for item in rx] == [1, 2, 3]

    run(main())


def test_async_for_waits_for_items(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def producer():
        for i in range(10):
            await settle(2)
            await tx.send(i)
        tx.close()

    async def main():
        task = asyncio.ensure_future(producer())
        got = [item async for item in rx]
        await asyncio.wait_for(task, WAIT)
        assert got == list(range(10))

    run(main())


def test_break_out_of_async_for_keeps_the_rest(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        await tx.send_many([1, 2, 3, 4])
        async for item in rx:
            if item == 2:
                break
        assert [await rx.recv(), await rx.recv()] == [3, 4]

    run(main())


def test_aiter_returns_the_receiver(chan_module):
    _tx, rx = chan_module.channel(1)
    assert rx.__aiter__() is rx


# --- composition with asyncio ------------------------------------------------


def test_wait_for_timeout_on_recv_loses_nothing(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(rx.recv(), 0.01)
        await tx.send("after")
        assert await asyncio.wait_for(rx.recv(), WAIT) == "after"

    run(main())


def test_wait_for_timeout_on_send_sends_nothing(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        await tx.send("first")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(tx.send("second"), 0.01)
        assert len(rx) == 1
        assert await rx.recv() == "first"
        assert rx.try_recv_many(4) == []

    run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")
def test_asyncio_timeout(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await rx.recv()
        await tx.send(1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await tx.send(2)
        async with asyncio.timeout(WAIT):
            assert await rx.recv() == 1
            assert rx.try_recv_many(2) == []
            await tx.send(3)
            assert await rx.recv_many(2) == [3]

    run(main())


def test_asyncio_wait(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        recv = asyncio.ensure_future(rx.recv())
        done, pending = await asyncio.wait({recv}, timeout=0.01)
        assert not done and pending == {recv}
        send = asyncio.ensure_future(tx.send("x"))
        done, pending = await asyncio.wait({recv, send}, timeout=WAIT)
        assert done == {recv, send}
        assert recv.result() == "x"

    run(main())


def test_asyncio_wait_first_completed_over_two_channels(chan_module, run):
    tx1, rx1 = chan_module.channel(1)
    tx2, rx2 = chan_module.channel(1)

    async def main():
        r1 = asyncio.ensure_future(rx1.recv())
        r2 = asyncio.ensure_future(rx2.recv())
        await settle()
        tx2.try_send("two")
        done, pending = await asyncio.wait(
            {r1, r2}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
        )
        assert done == {r2} and pending == {r1}
        r1.cancel()
        await asyncio.gather(r1, return_exceptions=True)
        tx1.try_send("one")
        assert await rx1.recv() == "one"

    run(main())


def test_gather(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        sent = await asyncio.gather(tx.send(1), tx.send(2), tx.send_many([3, 4]))
        assert sent == [None, None, None]
        assert await asyncio.gather(rx.recv(), rx.recv_many(3)) == [1, [2, 3, 4]]

    run(main())
    assert len(rx) == 0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is 3.11+")
def test_task_group(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def producer(sender, base):
        async with sender:
            for i in range(30):
                await sender.send((base, i))

    async def consumer():
        return [item async for item in rx]

    async def main():
        async with asyncio.TaskGroup() as group:
            for base in range(3):
                group.create_task(producer(tx.clone(), base))
            tx.close()
            result = group.create_task(consumer())
        got = result.result()
        assert sorted(got) == [(b, i) for b in range(3) for i in range(30)]
        for base in range(3):
            assert [i for b, i in got if b == base] == list(range(30))

    run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is 3.11+")
def test_task_group_cancels_a_parked_recv(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def consumer():
        return await rx.recv()

    async def failing():
        await settle()
        raise LookupError("stop")

    async def main():
        with pytest.raises(ExceptionGroup) as info:  # noqa: F821 - 3.11+
            async with asyncio.TaskGroup() as group:
                parked = group.create_task(consumer())
                group.create_task(failing())
        assert info.value.subgroup(LookupError) is not None
        assert parked.cancelled()
        # The cancelled receive left the receiver usable.
        await tx.send("ok")
        assert await asyncio.wait_for(rx.recv(), WAIT) == "ok"

    run(main())


# --- wait_closed and context managers ---------------------------------------


def test_wait_closed_returns_when_receiver_closes(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        waiting = asyncio.ensure_future(tx.wait_closed())
        await settle()
        assert not waiting.done()
        rx.close()
        assert await asyncio.wait_for(waiting, WAIT) is None
        # Already closed: returns at once.
        assert await asyncio.wait_for(tx.wait_closed(), WAIT) is None

    run(main())


def test_wait_closed_is_not_ended_by_senders_closing(chan_module, run):
    tx, rx = chan_module.channel(2)
    tx2 = tx.clone()

    async def main():
        waiting = asyncio.ensure_future(tx2.wait_closed())
        tx.close()
        await settle()
        assert not waiting.done()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiting), 0.01)
        rx.close()
        await asyncio.wait_for(waiting, WAIT)

    run(main())


def test_wait_closed_on_closed_handle_raises_closed(chan_module, run):
    tx, _rx = chan_module.channel(2)

    async def main():
        tx.close()
        with pytest.raises(Closed):
            await tx.wait_closed()

    run(main())


def test_async_with_closes_sender_and_receiver(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        async with tx as entered:
            assert entered is tx
            await tx.send(1)
        assert tx.is_closed
        async with rx as entered:
            assert entered is rx
            assert await rx.recv() == 1
        assert rx.is_closed

    run(main())


def test_async_with_closes_on_error(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        with pytest.raises(KeyError):
            async with rx:
                raise KeyError
        assert rx.is_closed
        with pytest.raises(Closed):
            await tx.send(1)

    run(main())


@pytest.mark.parametrize(
    ("make", "fill"),
    [
        pytest.param(lambda tx, rx: tx.send(1), False, id="send"),
        pytest.param(lambda tx, rx: tx.send_many([1, 2]), False, id="send_many"),
        pytest.param(lambda tx, rx: rx.recv(), True, id="recv"),
        pytest.param(lambda tx, rx: rx.recv_many(2), True, id="recv_many"),
        pytest.param(lambda tx, rx: rx.__anext__(), True, id="anext"),
    ],
)
def test_an_awaitable_is_awaited_once(chan_module, run, make, fill):
    # A handle of length 0 is falsy: that must not confuse the check.
    tx, rx = chan_module.channel(4)
    if fill:
        tx.try_send_many([7, 8, 9])

    async def main():
        op = make(tx, rx)
        await op
        rx.try_recv_many(10)  # empty again, so both handles have length 0
        with pytest.raises(RuntimeError, match="already awaited"):
            await op

    run(main())


def test_awaitables_come_from_handles(chan_module, run):
    tx, _rx = chan_module.channel(4)

    async def main():
        sample = tx.send(1)
        sample.close()
        with pytest.raises(TypeError):
            await type(sample)()

    run(main())


def test_tasks_take_the_awaitables_directly(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        for sample in (rx.recv(), tx.send(0)):
            assert asyncio.iscoroutine(sample)
            sample.close()
        receiving = asyncio.create_task(rx.recv_many(3))
        sending = asyncio.create_task(tx.send_many([1, 2, 3]))
        assert await asyncio.wait_for(sending, WAIT) is None
        assert await asyncio.wait_for(receiving, WAIT) == [1, 2, 3]

    run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is 3.11+")
def test_task_group_takes_the_awaitables_directly(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        async with asyncio.TaskGroup() as group:
            received = group.create_task(rx.recv())
            group.create_task(tx.send("x"))
        assert received.result() == "x"

    run(main())


@pytest.mark.parametrize("started", [False, True], ids=["fresh", "parked"])
def test_a_closed_awaitable_is_finished(chan_module, run, started):
    tx, rx = chan_module.channel(1)

    async def main():
        op = rx.recv()
        if started:
            assert op.send(None) is not None  # parks: the channel is empty
        op.close()
        tx.try_send(1)
        with pytest.raises(RuntimeError, match="already awaited"):
            await op
        assert rx.try_recv() == 1  # the closed receive took nothing

    run(main())
