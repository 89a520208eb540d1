"""Reference counting and the cycle collector: items are released exactly
once (received, dropped with the channel, or collected with a cycle), and
items held in the buffer are visible to the cycle GC."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import weakref

import pytest
from support import WAIT

from ringchan._errors import Closed, Full


class Item:
    """A weak-referenceable item that counts its finalizations."""

    finalized = 0

    def __init__(self, n: int = 0) -> None:
        self.n = n

    def __del__(self) -> None:
        type(self).finalized += 1


class Box:
    """A container an item can use to reference a channel handle."""


@pytest.fixture(autouse=True)
def _reset_counts():
    gc.collect()
    Item.finalized = 0
    return


def refcounts(objs):
    return [sys.getrefcount(obj) for obj in objs]


def test_refcounts_unchanged_through_try_ops(chan_module):
    tx, rx = chan_module.channel(4)
    objs = [Item(i) for i in range(4)]
    before = refcounts(objs)
    tx.try_send(objs[0])
    assert tx.try_send_many(objs[1:]) == 3
    assert refcounts(objs) == [b + 1 for b in before]  # held by the buffer
    got = [rx.try_recv(), *rx.try_recv_many(10)]
    assert got == objs
    del got
    assert refcounts(objs) == before


def test_refcounts_unchanged_through_blocking_ops(chan_module, spawn):
    tx, rx = chan_module.channel(2)
    objs = [Item(i) for i in range(6)]
    before = refcounts(objs)

    def produce():
        tx.blocking_send(objs[0], timeout=WAIT)
        tx.blocking_send_many(objs[1:], timeout=WAIT)

    worker = spawn(produce)
    got = [rx.blocking_recv(timeout=WAIT)]
    while len(got) < len(objs):
        got.extend(rx.blocking_recv_many(3, timeout=WAIT))
    worker.join()
    assert got == objs
    del got, worker
    assert refcounts(objs) == before


def test_refcounts_unchanged_through_async_ops(chan_module, run):
    tx, rx = chan_module.channel(2)
    objs = [Item(i) for i in range(8)]
    before = refcounts(objs)

    async def produce():
        with tx:
            await tx.send(objs[0])
            await tx.send_many(objs[1:6])
            await tx.send(objs[6])
            await tx.send_many(iter(objs[7:]))

    async def main():
        task = asyncio.ensure_future(produce())
        got = [await rx.recv()]
        got.extend(await rx.recv_many(2))
        got.extend([item async for item in rx])
        await asyncio.wait_for(task, WAIT)
        return [id(item) for item in got]

    assert run(main()) == [id(obj) for obj in objs]
    gc.collect()
    assert refcounts(objs) == before


def test_refcounts_unchanged_after_refused_sends(chan_module, run):
    tx, rx = chan_module.channel(1)
    fill, obj = Item(), Item()
    before = refcounts([fill, obj])
    tx.try_send(fill)
    try:
        tx.try_send(obj)
    except Full:
        pass
    assert tx.try_send_many([obj]) == 0
    try:
        tx.blocking_send(obj, timeout=0)
    except TimeoutError:
        pass
    try:
        tx.blocking_send_many([obj, obj], timeout=0)
    except TimeoutError:
        pass

    async def main():
        try:
            await asyncio.wait_for(tx.send(obj), 0.001)
        except asyncio.TimeoutError:
            pass

    run(main())
    rx.close()
    for attempt in (
        lambda: tx.try_send(obj),
        lambda: tx.try_send_many([obj]),
        lambda: tx.blocking_send(obj),
        lambda: tx.blocking_send_many([obj]),
    ):
        try:
            attempt()
        except Closed:
            pass
    gc.collect()
    assert refcounts([fill, obj])[1] == before[1]
    assert rx.try_recv() is fill
    assert refcounts([fill, obj]) == before


def test_sender_close_keeps_items_receiver_close_keeps_items(chan_module):
    tx, rx = chan_module.channel(4)
    obj = Item()
    before = sys.getrefcount(obj)
    tx.try_send(obj)
    tx.close()
    rx.close()
    assert sys.getrefcount(obj) == before + 1  # still buffered, still receivable
    assert rx.try_recv() is obj
    assert sys.getrefcount(obj) == before


def test_dropped_receiver_releases_buffered_items_once(chan_module):
    tx, rx = chan_module.channel(16)
    objs = [Item(i) for i in range(10)]
    refs = [weakref.ref(obj) for obj in objs]
    tx.try_send_many(objs)
    del objs
    assert Item.finalized == 0
    taken = rx.try_recv_many(4)
    del rx
    assert Item.finalized == 6  # the six still buffered, once each
    assert [ref() is None for ref in refs] == [False] * 4 + [True] * 6
    del taken
    assert Item.finalized == 10
    assert tx.is_closed
    gc.collect()
    assert Item.finalized == 10


def test_dropped_channel_releases_buffered_items(chan_module):
    tx, rx = chan_module.channel(64)
    objs = [Item(i) for i in range(50)]
    refs = [weakref.ref(obj) for obj in objs]
    tx.try_send_many(objs)
    tx.close()
    del objs, tx, rx
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert Item.finalized == 50


def test_items_released_as_they_are_received(chan_module):
    tx, rx = chan_module.channel(8)
    for i in range(1_000):
        tx.try_send(Item(i))
        item = rx.try_recv()
        assert item.n == i
        del item
        assert Item.finalized == i + 1


def test_wrapped_around_ring_releases_each_item_once(chan_module):
    tx, rx = chan_module.channel(5)
    created = 0
    received = []
    for round_ in range(40):
        batch = [Item() for _ in range(3 + round_ % 3)]
        created += len(batch)
        tx.try_send_many(batch)
        del batch  # the ones that did not fit die here
        received.extend(rx.try_recv_many(2 + round_ % 2))
        assert Item.finalized == created - len(received) - len(rx)
    buffered = len(rx)
    assert buffered > 0
    del rx
    assert Item.finalized == created - len(received)
    del received
    assert Item.finalized == created
    gc.collect()
    assert Item.finalized == created


def test_receiver_sent_through_its_own_channel_is_collected(chan_module):
    tx, rx = chan_module.channel(2)
    tx.try_send(rx)  # rx -> channel -> buffer -> rx: a cycle
    tx.try_send(Item())
    ref = weakref.ref(rx)
    # Any open sender keeps the channel, so its buffer, alive: drop both.
    del rx, tx
    assert ref() is not None  # only the cycle collector can free it
    gc.collect()
    assert ref() is None
    assert Item.finalized == 1


def test_sender_sent_through_its_own_channel_is_released(chan_module):
    tx, rx = chan_module.channel(2)
    tx.try_send(tx)
    tx_ref = weakref.ref(tx)
    rx_ref = weakref.ref(rx)
    del tx
    assert tx_ref() is not None  # buffered
    assert not rx.is_closed  # the buffered sender is still an open handle
    del rx
    gc.collect()
    assert tx_ref() is None
    assert rx_ref() is None


def test_cycle_through_a_buffered_item_is_collected(chan_module):
    tx, rx = chan_module.channel(4)
    box = Box()
    box.tx = tx
    box.rx = rx
    box.item = Item()
    tx.try_send(box)
    tx.try_send(Item())
    refs = [weakref.ref(o) for o in (tx, rx, box, box.item)]
    del tx, rx, box
    gc.collect()
    assert [ref() for ref in refs] == [None] * 4
    assert Item.finalized == 2


def test_cycle_of_clones_and_receivers_across_two_channels(chan_module):
    tx1, rx1 = chan_module.channel(4)
    tx2, rx2 = chan_module.channel(4)
    tx1.try_send(rx2)  # channel 1 holds channel 2's receiver
    tx2.try_send(rx1)  # and channel 2 holds channel 1's receiver
    tx1.try_send(tx2.clone())
    tx2.try_send(tx1.clone())
    tx1.try_send(Item())
    tx2.try_send(Item())
    refs = [weakref.ref(o) for o in (tx1, rx1, tx2, rx2)]
    del tx1, rx1, tx2, rx2
    gc.collect()
    assert [ref() for ref in refs] == [None] * 4
    assert Item.finalized == 2


def test_gc_collect_with_parked_waiters_is_safe(chan_module, run):
    tx, rx = chan_module.channel(1)

    async def main():
        await tx.send(Item())
        parked = asyncio.ensure_future(tx.clone().send(Item()))
        receiving_cycle = Box()
        receiving_cycle.self = receiving_cycle
        receiving_cycle.tx = tx.clone()
        del receiving_cycle
        for _ in range(5):
            await asyncio.sleep(0)
        gc.collect()
        assert not parked.done()
        item = await asyncio.wait_for(rx.recv(), WAIT)
        assert isinstance(item, Item)
        await asyncio.wait_for(parked, WAIT)
        assert isinstance(await rx.recv(), Item)

    run(main())


# --- no reference cycles on refusal ------------------------------------------
#
# A refused send (Closed, Full, TimeoutError) must not leave the refused item
# or the sending handle in a reference cycle (for instance exception ->
# traceback -> frame -> exception): they must be released at once by
# reference counting, not whenever the cycle collector next runs.  Otherwise a
# dropped sender is not "closed" until a collection happens, and a receiver
# waiting for the end of the stream may wait indefinitely.


@contextlib.contextmanager
def cycle_gc_disabled():
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _closed_channel(module):
    tx, rx = module.channel(1)
    rx.close()
    return tx, rx


def _full_channel(module):
    tx, rx = module.channel(1)
    tx.try_send("fill")
    return tx, rx


REFUSALS = [
    pytest.param(_closed_channel, lambda tx, item: tx.try_send(item), Closed, id="try_send-closed"),
    pytest.param(
        _closed_channel,
        lambda tx, item: tx.try_send_many([item]),
        Closed,
        id="try_send_many-closed",
    ),
    pytest.param(
        _closed_channel,
        lambda tx, item: tx.blocking_send(item),
        Closed,
        id="blocking_send-closed",
    ),
    pytest.param(
        _closed_channel,
        lambda tx, item: tx.blocking_send_many([item]),
        Closed,
        id="blocking_send_many-closed",
    ),
    pytest.param(_full_channel, lambda tx, item: tx.try_send(item), Full, id="try_send-full"),
    pytest.param(
        _full_channel,
        lambda tx, item: tx.blocking_send(item, timeout=0),
        TimeoutError,
        id="blocking_send-timeout",
    ),
    pytest.param(
        _full_channel,
        lambda tx, item: tx.blocking_send_many([item], timeout=0),
        TimeoutError,
        id="blocking_send_many-timeout",
    ),
]


@pytest.mark.parametrize(("make", "refused", "error"), REFUSALS)
def test_refused_item_is_released_without_the_cycle_collector(chan_module, make, refused, error):
    tx, _rx = make(chan_module)
    item = Item()
    ref = weakref.ref(item)
    with cycle_gc_disabled():
        try:
            refused(tx, item)
        except error:
            pass
        else:
            pytest.fail("the send was not refused")
        del item
        assert ref() is None, "the refused item is kept alive by a reference cycle"


@pytest.mark.parametrize(("make", "refused", "error"), REFUSALS)
def test_dropped_sender_after_refusal_is_released_without_the_cycle_collector(
    chan_module, make, refused, error
):
    tx, rx = make(chan_module)
    clone = tx.clone()
    ref = weakref.ref(clone)
    with cycle_gc_disabled():
        try:
            refused(clone, "x")
        except error:
            pass
        del clone
        assert ref() is None, "the sender is kept alive by a reference cycle"
        tx.close()
        assert rx.is_closed  # every sender is closed or dropped


@pytest.mark.parametrize("refusal", ["closed", "closed-many"])
def test_async_refused_send_releases_item_without_the_cycle_collector(chan_module, run, refusal):
    tx, rx = chan_module.channel(1)
    rx.close()
    item = Item()
    ref = weakref.ref(item)

    async def main(item):
        try:
            if refusal == "closed":
                await tx.send(item)
            else:
                await tx.send_many([item])
        except Closed:
            pass

    with cycle_gc_disabled():
        run(main(item))
        del item
        assert ref() is None, "the refused item is kept alive by a reference cycle"


def test_dropped_sender_after_timeout_ends_the_stream_without_gc(chan_module, spawn):
    """The end-to-end consequence: a consumer waits for the end of a stream
    whose only sender timed out once and was then dropped."""
    tx, rx = chan_module.channel(1)
    tx.try_send("fill")
    with cycle_gc_disabled():
        try:
            tx.blocking_send("late", timeout=0)
        except TimeoutError:
            pass
        del tx
        consumer = spawn(lambda: list(rx))
        try:
            assert consumer.join(timeout=5) == ["fill"]
        finally:
            rx.close()  # releases a consumer stuck waiting for the end


def test_send_many_releases_items_without_the_cycle_collector(chan_module, run):
    tx, rx = chan_module.channel(4)
    items = [Item(), Item()]
    refs = [weakref.ref(item) for item in items]

    async def main(items):
        sending = tx.send_many(items)
        await sending
        assert sending.sent == 2
        got = await rx.recv_many(4)
        assert len(got) == 2

    with cycle_gc_disabled():
        run(main(items))
        del items
        assert [ref() for ref in refs] == [None, None], (
            "items sent with send_many are kept alive by a reference cycle"
        )


def test_sender_dropped_after_send_many_is_released_without_the_cycle_collector(chan_module, run):
    tx, rx = chan_module.channel(4)
    clone = tx.clone()
    ref = weakref.ref(clone)

    async def main(sender):
        await sender.send_many([1, 2])

    with cycle_gc_disabled():
        run(main(clone))
        del clone
        assert ref() is None, "the sender is kept alive by a reference cycle"
        tx.close()
        assert rx.is_closed
        assert rx.try_recv_many(4) == [1, 2]


def test_unawaited_send_many_does_not_keep_sender_or_items_alive(chan_module):
    tx, rx = chan_module.channel(4)
    clone = tx.clone()
    item = Item()
    refs = [weakref.ref(clone), weakref.ref(item)]
    with cycle_gc_disabled(), pytest.warns(RuntimeWarning, match="never awaited"):
        sending = clone.send_many([item])
        del sending, clone, item
        assert [ref() for ref in refs] == [None, None], (
            "an unawaited send_many awaitable is in a reference cycle"
        )
        tx.close()
        assert rx.is_closed
