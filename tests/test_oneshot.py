"""oneshot: one value from any thread or loop to one receiver."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest
from support import WAIT, settle

from ringchan._errors import Closed, Empty

pytestmark = pytest.mark.timeout(60)


def test_send_then_receive(chan_module, run):
    tx, rx = chan_module.oneshot()
    assert not tx.is_closed and not rx.is_closed
    tx.send({"answer": 42})
    assert tx.is_closed

    async def main():
        return await rx

    assert run(main()) == {"answer": 42}
    assert rx.is_closed
    with pytest.raises(Closed, match="already received"):
        rx.try_recv()


def test_send_from_a_thread_wakes_the_loop(chan_module, run, spawn):
    tx, rx = chan_module.oneshot()

    async def main():
        waiting = asyncio.ensure_future(_await(rx))
        await settle()
        assert not waiting.done()
        spawn(tx.send, "from a thread").join()
        return await asyncio.wait_for(waiting, WAIT)

    assert run(main()) == "from a thread"


async def _await(awaitable):
    return await awaitable


def test_send_from_another_loop(chan_module, run):
    tx, rx = chan_module.oneshot()

    def other_loop():
        async def send():
            tx.send("from another loop")

        asyncio.run(send())

    async def main():
        waiting = asyncio.ensure_future(_await(rx))
        await settle()
        thread = threading.Thread(target=other_loop)
        thread.start()
        value = await asyncio.wait_for(waiting, WAIT)
        thread.join(WAIT)
        return value

    assert run(main()) == "from another loop"


def test_second_send_raises_and_keeps_the_first(chan_module):
    tx, rx = chan_module.oneshot()
    tx.send(1)
    with pytest.raises(RuntimeError, match="one value"):
        tx.send(2)
    assert rx.try_recv() == 1


def test_racing_sends_deliver_exactly_one(chan_module):
    for _ in range(200):
        tx, rx = chan_module.oneshot()
        barrier = threading.Barrier(4)
        outcomes = []

        def send(value):
            barrier.wait(WAIT)
            try:
                tx.send(value)
                outcomes.append("sent")
            except RuntimeError:
                outcomes.append("refused")

        threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert sorted(outcomes) == ["refused"] * 3 + ["sent"]
        assert rx.try_recv() in range(4)


def test_receiver_closed_send_raises_closed_with_the_value(chan_module):
    tx, rx = chan_module.oneshot()
    rx.close()
    assert tx.is_closed
    value = object()
    with pytest.raises(Closed) as info:
        tx.send(value)
    assert info.value.item is value


@pytest.mark.parametrize("how", ["close", "drop"])
def test_sender_closed_waits_for_the_receiver_to_go(chan_module, run, how):
    """tokio's ``oneshot::Sender::closed()``: returns once the receiver is
    closed or dropped, and not before."""
    tx, rx = chan_module.oneshot()
    holder = [rx]
    del rx

    async def main():
        waiting = asyncio.ensure_future(tx.closed())
        await asyncio.sleep(0.01)
        assert not waiting.done() and not tx.is_closed
        if how == "close":
            holder[0].close()
        else:
            holder.clear()
            gc.collect()
        await asyncio.wait_for(waiting, WAIT)
        assert tx.is_closed

    run(main())


def test_sender_closed_refuses_a_used_sender(chan_module, run):
    tx, rx = chan_module.oneshot()
    tx.send("value")

    async def main():
        with pytest.raises(RuntimeError, match="already used"):
            await tx.closed()

    run(main())
    assert rx.try_recv() == "value"


def test_receiver_dropped_send_raises_closed(chan_module):
    tx, rx = chan_module.oneshot()
    del rx
    gc.collect()
    with pytest.raises(Closed):
        tx.send("nobody listens")


@pytest.mark.parametrize("how", ["close", "drop"])
def test_sender_gone_without_sending_ends_the_wait(chan_module, run, how):
    tx, rx = chan_module.oneshot()

    async def main():
        nonlocal tx
        waiting = asyncio.ensure_future(_await(rx))
        await settle()
        if how == "close":
            tx.close()
            tx.close()  # idempotent
        else:
            del tx
            gc.collect()
        with pytest.raises(Closed, match="without sending"):
            await asyncio.wait_for(waiting, WAIT)

    run(main())


def test_try_recv_before_and_after(chan_module):
    tx, rx = chan_module.oneshot()
    with pytest.raises(Empty):
        rx.try_recv()
    tx.send("v")
    assert rx.try_recv() == "v"


def test_blocking_recv(chan_module, spawn):
    tx, rx = chan_module.oneshot()
    with pytest.raises(TimeoutError):
        rx.blocking_recv(timeout=0.01)
    worker = spawn(rx.blocking_recv, WAIT)
    tx.send("late")
    assert worker.join() == "late"


def test_blocking_recv_sees_the_sender_close(chan_module, spawn):
    tx, rx = chan_module.oneshot()
    worker = spawn(rx.blocking_recv, WAIT)
    tx.close()
    with pytest.raises(Closed, match="without sending"):
        worker.join()


def test_cancelled_await_leaves_the_value(chan_module, run):
    tx, rx = chan_module.oneshot()

    async def main():
        waiting = asyncio.ensure_future(_await(rx))
        await settle()
        waiting.cancel()
        await asyncio.wait({waiting}, timeout=WAIT)
        assert waiting.cancelled()
        tx.send("still here")
        return await asyncio.wait_for(_await(rx), WAIT)

    assert run(main()) == "still here"


def test_a_cycle_through_the_value_is_collected(chan_module):
    class Node:
        pass

    tx, rx = chan_module.oneshot()
    node = Node()
    node.rx = rx
    tx.send(node)
    probe = weakref.ref(node)
    del node, rx, tx
    gc.collect()
    assert probe() is None


def test_reprs_say_the_state(chan_module):
    tx, rx = chan_module.oneshot()
    assert "open" in repr(tx) and "open" in repr(rx)
    tx.send(1)
    assert "closed" in repr(tx)
    rx.try_recv()
    assert "received" in repr(rx)


def test_is_closed_means_no_value_can_come(chan_module):
    tx, rx = chan_module.oneshot()
    tx.send("waiting")
    assert tx.is_closed
    assert not rx.is_closed  # the value is still there to receive
    assert rx.try_recv() == "waiting"
    assert rx.is_closed


def test_receiver_close_keeps_a_value_already_sent(chan_module):
    tx, rx = chan_module.oneshot()
    tx.send("sent first")
    rx.close()
    assert rx.try_recv() == "sent first"
    _tx2, rx2 = chan_module.oneshot()
    rx2.close()
    assert rx2.is_closed
    with pytest.raises(Closed):
        rx2.try_recv()


def test_empty_says_how_to_wait(chan_module):
    _tx, rx = chan_module.oneshot()
    with pytest.raises(Empty, match="await the receiver"):
        rx.try_recv()
