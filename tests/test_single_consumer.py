"""A channel has one consumer: a second receive while one is already waiting
raises RuntimeError (and disturbs neither the waiting receive nor the items)."""

from __future__ import annotations

import asyncio
import time

import pytest
from support import WAIT, settle


@pytest.mark.parametrize("second", ["recv", "recv_many", "anext"])
def test_second_task_waiting_raises(chan_module, run, second):
    tx, rx = chan_module.channel(2)

    async def main():
        first = asyncio.ensure_future(rx.recv())
        await settle()
        assert not first.done()
        with pytest.raises(RuntimeError, match=r"single consumer|already waiting"):
            if second == "recv":
                await asyncio.wait_for(rx.recv(), WAIT)
            elif second == "recv_many":
                await asyncio.wait_for(rx.recv_many(3), WAIT)
            else:
                await asyncio.wait_for(rx.__anext__(), WAIT)
        assert not first.done()
        await tx.send("x")
        assert await asyncio.wait_for(first, WAIT) == "x"

    run(main())


def test_second_async_for_raises(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def main():
        first = asyncio.ensure_future(rx.recv_many(2))
        await settle()

        async def iterate():
            async for _ in rx:
                pass

        with pytest.raises(RuntimeError):
            await asyncio.wait_for(iterate(), WAIT)
        await tx.send(1)
        assert await asyncio.wait_for(first, WAIT) == [1]

    run(main())


def test_blocking_recv_in_thread_while_task_waits_raises(chan_module, run, spawn):
    tx, rx = chan_module.channel(2)

    async def main():
        first = asyncio.ensure_future(rx.recv())
        await settle()
        for call in (
            lambda: rx.blocking_recv(timeout=WAIT),
            lambda: rx.blocking_recv_many(2, timeout=WAIT),
            lambda: next(rx),
        ):
            worker = spawn(call)
            while worker.is_alive():
                await asyncio.sleep(0.001)
            with pytest.raises(RuntimeError):
                worker.join()
        assert not first.done()
        await tx.send("x")
        assert await asyncio.wait_for(first, WAIT) == "x"

    run(main())


def test_task_recv_while_thread_waits_raises(chan_module, run, spawn):
    """Whichever of the two parks second gets RuntimeError; the other the item.

    The thread is given a head start, so normally the task is the second;
    the assertions hold in either order, so a slow machine cannot flake it.
    """
    tx, rx = chan_module.channel(2)
    worker = spawn(lambda: rx.blocking_recv(timeout=WAIT))
    time.sleep(0.05)  # let the thread park first

    async def main():
        task = asyncio.ensure_future(rx.recv())
        deadline = time.monotonic() + WAIT
        while not task.done() and worker.is_alive():
            assert time.monotonic() < deadline, "neither receive was refused"
            await asyncio.sleep(0.001)
        tx.try_send("x")
        await asyncio.wait({task}, timeout=WAIT)
        assert task.done()
        return task

    task = run(main())
    try:
        thread_outcome = worker.join()
    except RuntimeError as exc:
        thread_outcome = exc
    task_outcome = task.exception() or task.result()
    outcomes = [thread_outcome, task_outcome]
    assert sum(isinstance(o, RuntimeError) for o in outcomes) == 1, outcomes
    assert "x" in outcomes, outcomes


def test_second_thread_while_thread_waits_raises(chan_module, spawn):
    tx, rx = chan_module.channel(2)
    first = spawn(lambda: rx.blocking_recv(timeout=WAIT))
    time.sleep(0.05)
    second = spawn(lambda: rx.blocking_recv(timeout=WAIT))
    deadline = time.monotonic() + WAIT
    while first.is_alive() and second.is_alive():
        assert time.monotonic() < deadline, "neither receive was refused"
        time.sleep(0.001)
    tx.try_send("x")
    outcomes = []
    for worker in (first, second):
        try:
            outcomes.append(worker.join())
        except RuntimeError as exc:
            outcomes.append(exc)
    assert sum(isinstance(o, RuntimeError) for o in outcomes) == 1, outcomes
    assert "x" in outcomes, outcomes


def test_non_waiting_receives_are_fine_while_one_waits(chan_module, run):
    """try_recv never waits, so it does not compete for the consumer slot."""
    tx, rx = chan_module.channel(2)

    async def main():
        first = asyncio.ensure_future(rx.recv())
        await settle()
        assert rx.try_recv_many(2) == []
        await tx.send("x")
        assert await asyncio.wait_for(first, WAIT) == "x"

    run(main())


def test_sequential_receivers_from_different_tasks_are_fine(chan_module, run):
    tx, rx = chan_module.channel(2)

    async def take():
        return await rx.recv()

    async def main():
        for i in range(5):
            task = asyncio.ensure_future(take())
            await settle()
            await tx.send(i)
            assert await asyncio.wait_for(task, WAIT) == i

    run(main())
