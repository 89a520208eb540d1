"""Weak senders: handles that do not keep a channel open."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
from support import WAIT

from ringchan._errors import Closed

pytestmark = pytest.mark.timeout(60)


def test_a_weak_sender_does_not_keep_the_channel_open(chan_module, run):
    tx, rx = chan_module.channel(4)
    weak = tx.downgrade()
    tx.try_send("last")
    tx.close()

    async def main():
        return [item async for item in rx]

    assert run(main()) == ["last"]
    assert weak.upgrade() is None


def test_upgrade_while_open(chan_module):
    tx, rx = chan_module.channel(4)
    weak = tx.downgrade()
    strong = weak.upgrade()
    assert strong is not None and strong.same_channel(tx)
    assert rx.sender_count == 2
    tx.close()
    strong.try_send("through the upgrade")
    assert not rx.is_closed
    strong.close()
    assert rx.try_recv() == "through the upgrade"
    with pytest.raises(Closed):
        rx.try_recv()
    assert weak.upgrade() is None
    assert rx.sender_count == 0


def test_counts(chan_module):
    tx, rx = chan_module.channel(2)
    assert (rx.sender_count, rx.weak_sender_count) == (1, 0)
    clone = tx.clone()
    weak1, weak2 = tx.downgrade(), clone.downgrade()
    assert (tx.sender_count, tx.weak_sender_count) == (2, 2)
    del weak1
    gc.collect()
    assert rx.weak_sender_count == 1
    clone.close()
    assert rx.sender_count == 1
    del weak2
    gc.collect()
    assert rx.weak_sender_count == 0


def test_same_channel(chan_module):
    tx, rx = chan_module.channel(2)
    other_tx, other_rx = chan_module.channel(2)
    weak = tx.downgrade()
    assert tx.same_channel(rx) and tx.same_channel(tx.clone()) and tx.same_channel(weak)
    assert weak.same_channel(tx) and weak.same_channel(rx)
    assert not tx.same_channel(other_tx) and not weak.same_channel(other_rx)
    for wrong in (None, 1, "tx", object()):
        with pytest.raises(TypeError, match="Sender, WeakSender or Receiver"):
            tx.same_channel(wrong)
        with pytest.raises(TypeError):
            weak.same_channel(wrong)


def test_upgrade_racing_the_last_close(chan_module):
    """Either the upgrade wins, and its sender keeps the stream open until it
    closes, or the close wins and upgrade returns None: never a sender on an
    ended stream."""
    for _ in range(300):
        tx, rx = chan_module.channel(4)
        weak = tx.downgrade()
        barrier = threading.Barrier(2)
        got = []

        def upgrade():
            barrier.wait(WAIT)
            got.append(weak.upgrade())

        thread = threading.Thread(target=upgrade)
        thread.start()
        barrier.wait(WAIT)
        tx.close()
        thread.join(WAIT)
        strong = got[0]
        if strong is None:
            assert rx.is_closed
        else:
            assert not rx.is_closed
            strong.try_send("late")
            strong.close()
            assert rx.try_recv() == "late"
        with pytest.raises(Closed):
            rx.try_recv()


def test_a_weak_sender_upgraded_on_another_loop(chan_module, run):
    tx, rx = chan_module.channel(4)
    weak = tx.downgrade()

    def other_loop():
        async def send():
            strong = weak.upgrade()
            with strong:
                await strong.send("from another loop")

        asyncio.run(send())

    async def main():
        thread = threading.Thread(target=other_loop)
        thread.start()
        item = await asyncio.wait_for(rx.recv(), WAIT)
        thread.join(WAIT)
        return item

    assert run(main()) == "from another loop"
    tx.close()


def test_cycles_through_weak_senders_and_permits_are_collected(chan_module):
    import weakref

    class Node:
        pass

    for _ in range(3):
        tx, rx = chan_module.channel(4)
        node = Node()
        node.weak = tx.downgrade()
        node.permit = tx.try_reserve()
        node.rx = rx
        tx.try_send(node)
        probe = weakref.ref(node)
        del node, tx, rx
        gc.collect()
        assert probe() is None
