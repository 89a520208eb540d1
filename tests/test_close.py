"""Closing: sender handles and clones, the receiver, context managers,
garbage-collected handles, wait_closed, and using a handle after closing it."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest
from support import WAIT, settle

from ringchan._errors import Closed, Empty


class Item:
    """A weak-referenceable item."""


# --- senders ---------------------------------------------------------------


def test_sender_close_is_idempotent(chan_module):
    tx, rx = chan_module.channel(2)
    assert not tx.is_closed
    tx.close()
    assert tx.is_closed
    tx.close()
    tx.close()
    assert tx.is_closed
    assert rx.is_closed
    with pytest.raises(Closed):
        rx.try_recv()


def test_stream_ends_only_after_every_sender_closes(chan_module):
    tx, rx = chan_module.channel(4)
    clones = [tx.clone() for _ in range(3)]
    tx.try_send("a")
    tx.close()
    assert not rx.is_closed
    for clone in clones[:-1]:
        clone.try_send("b")
        clone.close()
        assert not rx.is_closed
    clones[-1].try_send("c")
    assert rx.try_recv_many(5) == ["a", "b", "b", "c"]
    with pytest.raises(Empty):
        rx.try_recv()  # one sender is still open
    clones[-1].close()
    assert rx.is_closed
    with pytest.raises(Closed):
        rx.try_recv()


def test_closing_senders_keeps_buffered_items(chan_module):
    tx, rx = chan_module.channel(4)
    tx.try_send_many([1, 2, 3])
    tx.close()
    assert rx.is_closed  # nothing new can arrive...
    assert len(rx) == 3  # ...but what is buffered stays
    assert list(rx) == [1, 2, 3]


def test_clone_is_an_independent_open_handle(chan_module):
    tx, rx = chan_module.channel(4)
    clone = tx.clone()
    assert clone is not tx
    assert isinstance(clone, chan_module.Sender)
    assert clone.capacity == tx.capacity
    clone.try_send(1)
    assert len(tx) == 1
    clone.close()
    assert clone.is_closed and not tx.is_closed
    tx.try_send(2)
    assert rx.try_recv_many(3) == [1, 2]
    clone2 = tx.clone()  # a clone of an open handle made after closing another
    tx.close()
    assert not rx.is_closed
    clone2.close()
    assert rx.is_closed


def test_clone_of_closed_handle_raises_closed(chan_module):
    tx, rx = chan_module.channel(2)
    keep = tx.clone()
    tx.close()
    with pytest.raises(Closed, match="closed"):
        tx.clone()
    assert not rx.is_closed  # the refused clone did not count as a sender
    keep.close()
    assert rx.is_closed


def test_clone_after_receiver_close_is_closed_too(chan_module):
    tx, rx = chan_module.channel(2)
    rx.close()
    clone = tx.clone()
    assert clone.is_closed
    with pytest.raises(Closed):
        clone.try_send(1)


def test_sender_is_closed_reflects_handle_or_receiver(chan_module):
    tx, rx = chan_module.channel(2)
    other = tx.clone()
    tx.close()
    assert tx.is_closed
    assert not other.is_closed
    rx.close()
    assert other.is_closed


def test_receiver_is_closed_reflects_receiver_or_all_senders(chan_module):
    tx, rx = chan_module.channel(2)
    assert not rx.is_closed
    rx.close()
    assert rx.is_closed
    assert tx.is_closed

    tx, rx = chan_module.channel(2)
    tx.close()
    assert rx.is_closed


def test_with_closes_sender_even_on_error(chan_module):
    tx, rx = chan_module.channel(2)
    with pytest.raises(KeyError), tx as entered:
        assert entered is tx
        tx.try_send(1)
        raise KeyError
    assert tx.is_closed
    assert rx.try_recv() == 1
    with pytest.raises(Closed):
        rx.try_recv()


def test_with_closes_receiver(chan_module):
    tx, rx = chan_module.channel(2)
    tx.try_send(1)
    with rx as entered:
        assert entered is rx
    assert rx.is_closed
    with pytest.raises(Closed):
        tx.try_send(2)
    assert rx.try_recv() == 1


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda tx: tx.try_send(1), id="try_send"),
        pytest.param(lambda tx: tx.try_send_many([1]), id="try_send_many"),
        pytest.param(lambda tx: tx.blocking_send(1, timeout=0), id="blocking_send"),
        pytest.param(lambda tx: tx.blocking_send_many([1], timeout=0), id="blocking_send_many"),
        pytest.param(lambda tx: tx.clone(), id="clone"),
    ],
)
def test_using_closed_sender_raises_closed_saying_so(chan_module, use):
    tx, rx = chan_module.channel(2)
    keep = tx.clone()
    tx.close()
    with pytest.raises(Closed) as info:
        use(tx)
    message = str(info.value).lower()
    assert "sender" in message and "closed" in message
    assert len(rx) == 0
    assert not keep.is_closed


def test_using_closed_sender_async(chan_module, run):
    tx, rx = chan_module.channel(2)
    keep = tx.clone()
    tx.close()

    async def main():
        with pytest.raises(Closed) as info:
            await tx.send("x")
        assert info.value.item == "x"
        with pytest.raises(Closed) as info:
            await tx.send_many(["x", "y"])
        assert info.value.item == ["x", "y"]
        with pytest.raises(Closed):
            await tx.wait_closed()

    run(main())
    assert len(rx) == 0
    keep.close()


def test_closing_a_handle_fails_its_own_parked_send_only(chan_module, run):
    tx, rx = chan_module.channel(1)
    other = tx.clone()

    async def main():
        await tx.send("fill")
        mine = asyncio.ensure_future(tx.send("mine"))
        theirs = asyncio.ensure_future(other.send("theirs"))
        await settle()
        assert not mine.done() and not theirs.done()
        tx.close()
        with pytest.raises(Closed) as info:
            await asyncio.wait_for(mine, WAIT)
        assert info.value.item == "mine"
        await settle()
        assert not theirs.done()
        assert await rx.recv() == "fill"
        await asyncio.wait_for(theirs, WAIT)
        assert await rx.recv() == "theirs"
        assert rx.try_recv_many(3) == []

    run(main())


def test_closing_a_handle_fails_its_own_parked_blocking_send(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    other = tx.clone()
    tx.try_send("fill")
    worker = spawn(lambda: tx.blocking_send("mine", timeout=WAIT))
    time.sleep(0.02)
    tx.close()
    with pytest.raises(Closed) as info:
        worker.join()
    assert info.value.item == "mine"
    assert rx.try_recv() == "fill"
    other.try_send("theirs")
    assert rx.try_recv() == "theirs"


# --- receiver --------------------------------------------------------------


def test_receiver_close_keeps_buffered_items(chan_module):
    tx, rx = chan_module.channel(4)
    tx.try_send_many([1, 2, 3])
    rx.close()
    rx.close()  # idempotent
    with pytest.raises(Closed) as info:
        tx.try_send(4)
    assert info.value.item == 4
    assert "receiver" in str(info.value).lower()
    assert len(rx) == 3
    assert rx.try_recv() == 1
    assert rx.blocking_recv(timeout=0) == 2
    assert rx.try_recv_many(5) == [3]
    with pytest.raises(Closed) as info:
        rx.try_recv()
    assert "closed" in str(info.value).lower()


def test_receiver_close_then_async_drain(chan_module, run):
    tx, rx = chan_module.channel(4)

    async def main():
        await tx.send_many([1, 2])
        rx.close()
        assert await rx.recv() == 1
        assert await rx.recv_many(3) == [2]
        with pytest.raises(Closed):
            await rx.recv()

    run(main())


def test_closed_messages_say_what_happened(chan_module):
    tx, rx = chan_module.channel(1)
    tx.close()
    with pytest.raises(Closed) as info:
        rx.try_recv()
    assert "sender" in str(info.value).lower()

    tx, rx = chan_module.channel(1)
    rx.close()
    with pytest.raises(Closed) as info:
        rx.try_recv()
    assert "receiver" in str(info.value).lower()
    with pytest.raises(Closed) as info:
        tx.try_send(1)
    assert "receiver" in str(info.value).lower()


# --- garbage-collected handles -------------------------------------------------


def test_dropped_sender_counts_as_closed(chan_module):
    tx, rx = chan_module.channel(2)
    clone = tx.clone()
    clone.try_send("from clone")
    del clone
    assert not rx.is_closed
    tx.close()
    assert rx.is_closed
    assert rx.try_recv() == "from clone"
    with pytest.raises(Closed):
        rx.try_recv()


def test_dropped_only_sender_ends_the_stream(chan_module):
    tx, rx = chan_module.channel(2)
    tx.try_send(1)
    del tx
    gc.collect()
    assert rx.is_closed
    assert list(rx) == [1]


def test_sender_in_a_cycle_counts_as_closed_once_collected(chan_module):
    tx, rx = chan_module.channel(2)
    holder = [tx.clone()]
    holder.append(holder)
    del holder
    tx.close()
    gc.collect()
    assert rx.is_closed
    with pytest.raises(Closed):
        rx.try_recv()


def test_dropped_sender_wakes_parked_async_receiver(chan_module, run):
    tx, rx = chan_module.channel(2)
    senders = [tx]
    del tx

    async def main():
        task = asyncio.ensure_future(rx.recv())
        await settle()
        assert not task.done()
        senders.clear()
        gc.collect()
        with pytest.raises(Closed):
            await asyncio.wait_for(task, WAIT)

    run(main())


def test_dropped_sender_ends_async_for(chan_module, run):
    tx, rx = chan_module.channel(2)
    senders = [tx]
    del tx

    async def producer():
        sender = senders.pop()
        for i in range(5):
            await sender.send(i)
        # the sender is dropped here without close()

    async def main():
        task = asyncio.ensure_future(producer())
        got = [item async for item in rx]
        await asyncio.wait_for(task, WAIT)
        assert got == list(range(5))

    run(main())


def test_dropped_sender_wakes_parked_blocking_recv(chan_module, spawn):
    tx, rx = chan_module.channel(2)
    worker = spawn(lambda: rx.blocking_recv(timeout=WAIT))
    time.sleep(0.02)
    del tx
    gc.collect()
    with pytest.raises(Closed):
        worker.join()


def test_dropped_receiver_closes_the_channel_and_releases_items(chan_module):
    tx, rx = chan_module.channel(4)
    items = [Item(), Item()]
    refs = [weakref.ref(item) for item in items]
    tx.try_send_many(items)
    del items
    assert all(ref() is not None for ref in refs)  # held by the buffer
    del rx
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert tx.is_closed
    assert len(tx) == 0
    with pytest.raises(Closed) as info:
        tx.try_send("late")
    assert info.value.item == "late"


def test_dropped_receiver_fails_parked_blocking_send(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    tx.try_send("fill")
    worker = spawn(lambda: tx.blocking_send("parked", timeout=WAIT))
    time.sleep(0.02)
    del rx
    gc.collect()
    with pytest.raises(Closed) as info:
        worker.join()
    assert info.value.item == "parked"


def test_dropped_receiver_fails_parked_async_send_and_wait_closed(chan_module, run):
    tx, rx = chan_module.channel(1)
    receivers = [rx]
    del rx

    async def main():
        await tx.send("fill")
        send = asyncio.ensure_future(tx.send("parked"))
        closed = asyncio.ensure_future(tx.wait_closed())
        await settle()
        assert not send.done() and not closed.done()
        receivers.clear()
        gc.collect()
        with pytest.raises(Closed) as info:
            await asyncio.wait_for(send, WAIT)
        assert info.value.item == "parked"
        await asyncio.wait_for(closed, WAIT)
        assert tx.is_closed

    run(main())


# --- wait_closed -------------------------------------------------------------


def test_wait_closed_from_several_tasks_and_loops(chan_module, run, spawn):
    tx, rx = chan_module.channel(1)
    other = tx.clone()

    async def waiter(sender):
        await sender.wait_closed()
        return "done"

    async def main():
        tasks = [asyncio.ensure_future(waiter(s)) for s in (tx, other, tx)]
        thread = spawn(run, waiter(other.clone()))
        await settle()
        time.sleep(0.02)
        assert not any(t.done() for t in tasks)
        rx.close()
        assert await asyncio.wait_for(asyncio.gather(*tasks), WAIT) == ["done"] * 3
        assert thread.join() == "done"

    run(main())


def test_wait_closed_from_a_thread_close(chan_module, run, spawn):
    tx, rx = chan_module.channel(1)

    async def main():
        closer = spawn(lambda: (time.sleep(0.02), rx.close()))
        await asyncio.wait_for(tx.wait_closed(), WAIT)
        closer.join()

    run(main())


def test_cancelled_wait_closed_leaves_no_trace(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(tx.wait_closed(), 0.01)
        rx.close()
        await asyncio.wait_for(tx.wait_closed(), WAIT)

    run(main())
