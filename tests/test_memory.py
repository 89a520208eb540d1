"""Memory: nothing leaks, whatever way an item goes through a channel.

- One object is sent through every path many times: received, refused
  (``Full``, ``Closed``, ``TimeoutError``), cancelled, dropped when the
  receiver is closed and freed, left in a freed channel, left in a channel
  that only the cycle collector can free.  Its reference count must come back
  to where it started, exactly.
- Channels held in reference cycles through their own buffered items are all
  collected by ``gc.collect()``.
- Memory stays flat over a long mixed run: the Python heap (tracemalloc) and
  the process's resident size (RSS, in a fresh interpreter, over many items
  and many channels; millions of items with ``--soak``).

Where a single case needs a closer look, test_gc.py has it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from support import WAIT, child_env

from ringchan._errors import Closed, Full

REPEAT = 200


class Box:
    """Something to build reference cycles with."""


# --- one object through every path -------------------------------------------


def received(mod: Any, obj: Any) -> None:
    tx, rx = mod.channel(4)
    tx.try_send(obj)
    assert tx.try_send_many([obj, obj]) == 2
    tx.blocking_send(obj, timeout=0)
    assert rx.try_recv() is obj
    assert rx.try_recv_many(2) == [obj, obj]
    assert rx.blocking_recv(timeout=0) is obj
    tx.blocking_send_many([obj] * 4, timeout=0)
    assert rx.blocking_recv_many(8, timeout=0) == [obj] * 4
    tx.close()
    assert list(rx) == []


def refused(mod: Any, obj: Any) -> None:
    tx, rx = mod.channel(1)
    tx.try_send(obj)
    with pytest.raises(Full):
        tx.try_send(obj)
    assert tx.try_send_many([obj, obj]) == 0
    with pytest.raises(TimeoutError):
        tx.blocking_send(obj, timeout=0)
    with pytest.raises(TimeoutError):
        tx.blocking_send_many([obj, obj], timeout=0)
    rx.close()
    for send in (tx.try_send, tx.blocking_send):
        with pytest.raises(Closed):
            send(obj)
    for send_many in (tx.try_send_many, tx.blocking_send_many):
        with pytest.raises(Closed):
            send_many([obj, obj])
    assert rx.try_recv() is obj


def dropped_by_closed_receiver(mod: Any, obj: Any) -> None:
    tx, rx = mod.channel(8)
    tx.try_send_many([obj] * 5)
    rx.close()
    assert rx.try_recv() is obj
    del rx  # the four still buffered go with it


def left_in_freed_channel(mod: Any, obj: Any) -> None:
    tx, rx = mod.channel(8)
    clone = tx.clone()
    clone.try_send_many([obj] * 3)
    tx.try_send(obj)
    del tx, rx, clone


def left_in_collected_cycle(mod: Any, obj: Any) -> None:
    tx, rx = mod.channel(8)
    box = Box()
    box.tx, box.rx, box.obj = tx, rx, obj
    tx.try_send(box)  # the channel holds the box, which holds the channel
    tx.try_send_many([obj] * 3)
    del tx, rx, box


SYNC_PATHS = [
    received,
    refused,
    dropped_by_closed_receiver,
    left_in_freed_channel,
    left_in_collected_cycle,
]


@pytest.mark.parametrize("path", SYNC_PATHS, ids=[p.__name__ for p in SYNC_PATHS])
def test_refcount_unchanged_after_every_sync_path(
    chan_module: Any, path: Callable[[Any, Any], None]
) -> None:
    obj = Box()
    gc.collect()
    before = sys.getrefcount(obj)
    for _ in range(REPEAT):
        path(chan_module, obj)
    gc.collect()
    assert sys.getrefcount(obj) - before == 0


async def async_paths(mod: Any, obj: Any) -> None:
    tx, rx = mod.channel(2)
    # Received: send, send_many, recv, recv_many, async for.
    await tx.send(obj)
    assert await rx.recv() is obj
    await tx.send_many([obj, obj])
    assert await rx.recv_many(4) == [obj, obj]
    # A parked send, cancelled: not sent, and not kept.
    await tx.send_many([obj, obj])
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(tx.send(obj), 0.0005)
    # A send_many cancelled part way: .sent went in, the rest is not kept.
    assert rx.try_recv() is obj
    op = tx.send_many([obj, obj, obj])
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(op, 0.0005)
    assert op.sent == 1
    del op
    # Awaitables made and never awaited.
    with pytest.warns(RuntimeWarning, match="never awaited"):
        tx.send(obj)
        tx.send_many([obj])
    # A parked send failed by the receiver closing.
    parked = asyncio.ensure_future(tx.send(obj))
    await asyncio.sleep(0.001)
    rx.close()
    with pytest.raises(Closed):
        await asyncio.wait_for(parked, WAIT)
    del parked
    assert [item async for item in rx] == [obj, obj]


def test_refcount_unchanged_after_async_paths(chan_module: Any, run: Any) -> None:
    obj = Box()

    async def main() -> None:
        for _ in range(REPEAT // 4):
            await async_paths(chan_module, obj)

    gc.collect()
    before = sys.getrefcount(obj)
    run(main())
    gc.collect()
    assert sys.getrefcount(obj) - before == 0


# --- cycles --------------------------------------------------------------------


def test_channels_in_cycles_through_their_items_are_all_collected(chan_module: Any) -> None:
    refs: list[weakref.ref[Any]] = []
    for i in range(500):
        tx, rx = chan_module.channel(1 + i % 4)
        if i % 3 == 0:
            tx.try_send(tx)  # a sender sent through its own channel
        elif i % 3 == 1:
            tx.try_send(rx)  # the receiver, likewise
        else:
            box = Box()
            box.handles = (tx.clone(), rx)
            tx.try_send(box)
            del box
        refs += [weakref.ref(tx), weakref.ref(rx)]
        del tx, rx
    gc.collect()
    assert sum(ref() is not None for ref in refs) == 0


# --- flat over a long run --------------------------------------------------------


async def mixed_round(mod: Any, items: int) -> None:
    """One round: a thread and a task send, the loop receives; a fresh channel."""
    tx, rx = mod.channel(64)
    clone = tx.clone()

    def produce() -> None:
        with clone:
            for start in range(0, items, 10):
                clone.blocking_send_many([(i, str(i)) for i in range(start, start + 10)])

    # A plain thread, not the spawn fixture: its records would grow the heap.
    thread = threading.Thread(target=produce, daemon=True)
    thread.start()

    async def send() -> None:
        with tx:
            for i in range(items):
                await tx.send((i, str(i)))

    task = asyncio.ensure_future(send())
    count = 0
    async for _ in rx:
        count += 1
    await asyncio.wait_for(task, WAIT)
    thread.join(WAIT)
    assert not thread.is_alive()
    assert count == 2 * items


def test_python_heap_stays_flat(
    chan_module: Any, run: Any, load: Any, tally: Callable[[str, int], None]
) -> None:
    items = 1_000

    async def rounds(count: int) -> None:
        for _ in range(count):
            await mixed_round(chan_module, items)

    warm_up = 5
    tracemalloc.start()
    try:
        run(rounds(warm_up))
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        run(rounds(load.rounds))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    moved = 2 * items * (warm_up + load.rounds)
    tally("memory: items moved under tracemalloc", moved)
    # One leaked block per item would show as at least 16 * moved bytes.
    assert after - before < 16 * 1024, (before, after)


RSS_CHILD = textwrap.dedent(
    """
    import asyncio, importlib, json, resource, sys, threading

    from ringchan._errors import Closed

    mod = importlib.import_module(sys.argv[1])
    total = int(sys.argv[2])

    def peak_rss():
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb if sys.platform != "darwin" else kb // 1024

    def thread_round(items):
        tx, rx = mod.channel(1024)

        def produce():
            with tx:
                for start in range(0, items, 100):
                    tx.blocking_send_many([(i, float(i)) for i in range(start, start + 100)])

        t = threading.Thread(target=produce)
        t.start()
        count = sum(1 for _ in rx)
        t.join()
        assert count == items

    async def loop_round(items):
        tx, rx = mod.channel(256)

        async def produce():
            with tx:
                for i in range(items):
                    await tx.send((i, float(i)))

        task = asyncio.ensure_future(produce())
        count = 0
        while True:
            try:
                count += len(await rx.recv_many(64))
            except Closed:
                break
        await task
        assert count == items

    def rounds(items):
        per_round = 20_000
        count = max(1, items // (2 * per_round))
        for _ in range(count):
            thread_round(per_round)
            asyncio.run(loop_round(per_round))
            # Channels created and dropped full: their rings and items must go.
            for c in [1, 4096] + [1024] * 20:
                tx, rx = mod.channel(c)
                tx.try_send_many([(n, float(n)) for n in range(c)])
        return count * 2 * per_round

    moved = rounds(total // 10)
    before = peak_rss()
    moved += rounds(total)
    print(json.dumps({"before_kb": before, "after_kb": peak_rss(), "moved": moved}))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="the resource module is POSIX only")
def test_resident_memory_stays_flat(
    chan_module: Any, load: Any, tally: Callable[[str, int], None]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, chan_module.__name__, str(load.rss_items)],
        capture_output=True,
        text=True,
        timeout=600,
        env=child_env(),
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    tally("memory: items moved under the RSS check", figures["moved"])
    growth = figures["after_kb"] - figures["before_kb"]
    # Leaking the ring or the items of each channel dropped full, or 16 bytes
    # per item moved, would exceed this bound.
    assert growth < 4 * 1024, figures
