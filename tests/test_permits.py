"""Permits: reserve room first, then send without waiting or failing.

Items buffered plus slots reserved never exceed the capacity; a permit
claims no place in the queue (no head-of-line blocking); a permit used,
released or collected gives its slot back and wakes a parked sender.
"""

from __future__ import annotations

import asyncio
import gc
import random
import threading

import pytest
from support import WAIT, settle, wait_until

from ringchan._errors import Closed, Full

pytestmark = pytest.mark.timeout(60)


def test_permits_count_against_the_capacity(chan_module):
    tx, rx = chan_module.channel(3)
    one = tx.try_reserve()
    two = tx.try_reserve_many(2)
    assert (len(one), len(two)) == (1, 2)
    with pytest.raises(Full):
        tx.try_send("no room")
    with pytest.raises(Full):
        tx.try_reserve()
    assert tx.try_send_many(["x"]) == 0
    two.send("b1")
    one.send("a")
    two.send("b2")
    assert len(rx) == 3
    with pytest.raises(Full):
        tx.try_send("still full")
    assert rx.try_recv_many(10) == ["b1", "a", "b2"]
    tx.try_send_many([1, 2, 3])  # the lock-free path is back
    assert rx.try_recv_many(10) == [1, 2, 3]


def test_iterating_reserve_many_yields_one_slot_permits(chan_module, run):
    """tokio's ``for permit in tx.reserve_many(n)``: each permit one slot, the
    reservation counted until each is used or released."""
    tx, rx = chan_module.channel(4)

    async def main():
        permits = list(await tx.reserve_many(3))
        assert [len(p) for p in permits] == [1, 1, 1]
        assert rx.stats().reserved == 3
        with pytest.raises(Full, match="3 slots held by permits"):
            tx.try_reserve_many(2)
        for i, permit in enumerate(permits[:2]):
            permit.send(i)
        permits[2].release()
        assert rx.stats().reserved == 0
        assert rx.try_recv_many(10) == [0, 1]

    run(main())


def test_a_partly_iterated_permit_keeps_its_other_slots(chan_module):
    tx, rx = chan_module.channel(4)
    many = tx.try_reserve_many(3)
    first = next(iter(many))
    assert (len(first), len(many)) == (1, 2)
    many.send("from the many")
    first.send("from the one")
    (last,) = list(many)
    assert (len(last), len(many)) == (1, 0)
    with pytest.raises(RuntimeError, match="no slot left"):
        many.send("none left")
    assert rx.stats().reserved == 1
    last.send("from the last")
    assert rx.try_recv_many(10) == ["from the many", "from the one", "from the last"]
    assert rx.stats().reserved == 0


def test_full_and_stats_count_the_reserved_slots(chan_module):
    tx, rx = chan_module.channel(3)
    tx.try_send("item")
    permit = tx.try_reserve()
    assert (rx.stats().reserved, rx.stats().buffered) == (1, 1)
    tx.try_send("fills it")
    with pytest.raises(Full, match=r"capacity 3, a slot held by permits"):
        tx.try_send("no room")
    permit.release()
    assert rx.stats().reserved == 0
    tx.try_send("no permit now")
    with pytest.raises(Full, match=r"\(capacity 3\); the item") as full:
        tx.try_send("over")
    assert "held by permits" not in str(full.value)


def test_a_held_permit_does_not_block_later_items(chan_module):
    tx, rx = chan_module.channel(4)
    permit = tx.try_reserve()
    tx.try_send("later")
    assert rx.try_recv() == "later"
    permit.send("reserved")
    assert rx.try_recv() == "reserved"


def test_permit_slots_are_used_once(chan_module):
    tx, rx = chan_module.channel(2)
    permit = tx.try_reserve()
    permit.send(1)
    assert len(permit) == 0
    with pytest.raises(RuntimeError, match="no slot left"):
        permit.send(2)
    permit.release()  # nothing left: a no-op
    assert rx.try_recv_many(5) == [1]


@pytest.mark.parametrize("how", ["release", "with", "drop"])
def test_unused_slots_come_back_and_wake_a_parked_sender(chan_module, spawn, how):
    tx, rx = chan_module.channel(2)
    tx.try_send("filler")
    permit = tx.try_reserve()
    parked = spawn(tx.blocking_send, "parked", WAIT)
    wait_until(lambda: rx._parked()[0] == 1)
    if how == "release":
        permit.release()
        permit.release()  # idempotent
    elif how == "with":
        with permit:
            pass
    else:
        del permit
        gc.collect()
    parked.join()
    assert rx.try_recv_many(5) == ["filler", "parked"]


def test_reserve_waits_for_room(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        await tx.send("first")
        waiting = asyncio.ensure_future(tx.reserve())
        await settle()
        assert not waiting.done()
        assert await rx.recv() == "first"
        permit = await asyncio.wait_for(waiting, WAIT)
        with pytest.raises(Full):
            tx.try_send("taken")
        permit.send("second")
        return await rx.recv()

    assert run(main()) == "second"


def test_cancelled_reserve_reserves_nothing(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        tx.try_send("full")
        waiting = asyncio.ensure_future(tx.reserve())
        await settle()
        waiting.cancel()
        await asyncio.wait({waiting}, timeout=WAIT)
        assert waiting.cancelled()
        assert rx.try_recv() == "full"
        tx.try_send("room is free")  # no slot was kept
        assert rx._parked() == (0, False)

    run(main())


def test_woken_then_cancelled_reserve_passes_the_room_on(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        tx.try_send("full")
        first = asyncio.ensure_future(tx.reserve())
        await settle()
        second = asyncio.ensure_future(tx.send("second"))
        await settle()
        assert rx.try_recv() == "full"  # wakes the first in line
        first.cancel()
        await asyncio.wait({first}, timeout=WAIT)
        await asyncio.wait_for(second, WAIT)
        return rx.try_recv()

    assert run(main()) == "second"


def test_reserve_many_waits_for_all_slots(chan_module, run):
    tx, rx = chan_module.channel(3)

    async def main():
        await tx.send_many([1, 2])
        waiting = asyncio.ensure_future(tx.reserve_many(3))
        await settle()
        assert rx.try_recv() == 1
        await settle()
        assert not waiting.done()  # two free slots of three
        assert rx.try_recv() == 2
        permit = await asyncio.wait_for(waiting, WAIT)
        assert len(permit) == 3
        for item in "abc":
            permit.send(item)
        return rx.try_recv_many(5)

    assert run(main()) == ["a", "b", "c"]


def test_reserves_and_sends_wait_in_one_line(chan_module, run):
    tx, rx = chan_module.channel(1)
    order = []

    async def reserve(name):
        permit = await tx.reserve()
        order.append(name)
        permit.send(name)

    async def send(name):
        await tx.send(name)
        order.append(name)

    async def main():
        tx.try_send("full")
        tasks = []
        for name, job in (("r1", reserve), ("s1", send), ("r2", reserve), ("s2", send)):
            tasks.append(asyncio.ensure_future(job(name)))
            await settle()
        received = []
        while len(received) < 5:
            received.append(await asyncio.wait_for(rx.recv(), WAIT))
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        return received

    assert run(main()) == ["full", "r1", "s1", "r2", "s2"]


def test_blocking_reserve(chan_module, spawn):
    tx, rx = chan_module.channel(1)
    tx.try_send("full")
    with pytest.raises(TimeoutError):
        tx.blocking_reserve(timeout=0.01)
    worker = spawn(tx.blocking_reserve, WAIT)
    wait_until(lambda: rx._parked()[0] == 1)
    assert rx.try_recv() == "full"
    permit = worker.join()
    permit.send("from the permit")
    assert rx.try_recv() == "from the permit"


def test_blocking_reserve_refuses_a_running_loop(chan_module, run):
    tx, _rx = chan_module.channel(1)

    async def main():
        with pytest.raises(RuntimeError, match="event loop"):
            tx.blocking_reserve()

    run(main())


def test_permit_used_from_another_thread_wakes_the_loop(chan_module, run, spawn):
    tx, rx = chan_module.channel(2)
    permit = tx.try_reserve()

    async def main():
        waiting = asyncio.ensure_future(rx.recv())
        await settle()
        spawn(permit.send, "from a thread").join()
        return await asyncio.wait_for(waiting, WAIT)

    assert run(main()) == "from a thread"


@pytest.mark.parametrize("closed", ["receiver", "sender"])
def test_closed_before_use_hands_the_item_back(chan_module, closed):
    tx, rx = chan_module.channel(2)
    clone = tx.clone()
    permit = tx.try_reserve()
    if closed == "receiver":
        rx.close()
    else:
        tx.close()
    item = object()
    with pytest.raises(Closed) as info:
        permit.send(item)
    assert info.value.item is item
    if closed == "sender":
        clone.try_send_many([1, 2])  # the slot came back
        assert rx.try_recv_many(5) == [1, 2]


def test_reserving_on_a_closed_channel_raises_closed(chan_module, run):
    tx, rx = chan_module.channel(2)
    rx.close()
    with pytest.raises(Closed):
        tx.try_reserve()
    with pytest.raises(Closed):
        tx.blocking_reserve(timeout=WAIT)

    async def main():
        with pytest.raises(Closed):
            await tx.reserve()

    run(main())


def test_parked_reserve_fails_when_the_receiver_closes(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        tx.try_send("full")
        waiting = asyncio.ensure_future(tx.reserve_many(1))
        await settle()
        rx.close()
        with pytest.raises(Closed):
            await asyncio.wait_for(waiting, WAIT)

    run(main())


@pytest.mark.parametrize(
    ("count", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (5, ValueError),
        (1.0, TypeError),
        (True, TypeError),
        ("2", TypeError),
    ],
)
def test_bad_counts_are_refused(chan_module, run, count, error):
    tx, rx = chan_module.channel(4)
    with pytest.raises(error):
        tx.try_reserve_many(count)
    with pytest.raises(error):
        tx.reserve_many(count)
    tx.try_send_many([1, 2, 3, 4])  # nothing was reserved
    assert len(rx) == 4


def test_unawaited_reserve_warns(chan_module):
    tx, _rx = chan_module.channel(1)
    with pytest.warns(RuntimeWarning, match="nothing was reserved"):
        tx.reserve()
        gc.collect()


def test_bound_holds_under_threads_mixing_permits_and_sends(chan_module):
    capacity, threads, per_thread = 4, 4, 400
    tx, rx = chan_module.channel(capacity)
    over = []

    def produce(seed, mine):
        rng = random.Random(seed)
        with mine:
            for n in range(per_thread):
                item = (seed, n)
                way = rng.random()
                if way < 0.4:
                    permit = mine.blocking_reserve(timeout=WAIT)
                    if rng.random() < 0.2:
                        permit.release()
                        mine.blocking_send(item, timeout=WAIT)
                    else:
                        permit.send(item)
                elif way < 0.5:
                    with mine.blocking_reserve(timeout=WAIT):
                        pass  # reserved and given back unused
                    mine.blocking_send(item, timeout=WAIT)
                else:
                    mine.blocking_send(item, timeout=WAIT)

    # Cloned here: a thread that started late would find tx closed.
    workers = [threading.Thread(target=produce, args=(seed, tx.clone())) for seed in range(threads)]
    for worker in workers:
        worker.start()
    tx.close()
    received = []
    for item in rx:
        if len(rx) > capacity:
            over.append(len(rx))
        received.append(item)
    for worker in workers:
        worker.join(WAIT)
    assert not over
    assert len(received) == threads * per_thread
    for seed in range(threads):
        assert [n for s, n in received if s == seed] == list(range(per_thread))


def test_permit_repr_and_len(chan_module):
    tx, _rx = chan_module.channel(4)
    permit = tx.try_reserve_many(3)
    assert "slots=3" in repr(permit)
    permit.send(0)
    assert len(permit) == 2
    permit.release()
    assert len(permit) == 0


def test_collector_sees_items_while_permits_are_out(chan_module):
    import weakref

    class Node:
        pass

    tx, rx = chan_module.channel(4)
    permit = tx.try_reserve()
    node = Node()
    node.rx = rx
    node.permit = permit
    tx.try_send(node)
    probe = weakref.ref(node)
    del node, rx, tx, permit
    gc.collect()
    assert probe() is None
