"""Races that only real parallelism exposes, run on every build: with the
GIL they still interleave at every switch, without it (a free-threaded
CPython) they run at once on several cores.

- The last sender, or the receiver, dropped on another thread while the
  other side is parked: the parked side must see the end (a free-threaded
  interpreter may run the finalizer later, and on another thread).
- Many threads started together by a ``threading.Barrier`` hammering one
  channel through every method, with clones closed and made while sends
  run: every item is accounted for.
- On a free-threaded interpreter, importing ringchan leaves the GIL off.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from support import FREE_THREADED, WAIT, child_env

from ringchan._errors import Closed, Empty, Full

ROUNDS = 1000

#: Why the pure twin is exempt from one case without a GIL (see the README).
PURE_DROP_REASON = (
    "without a GIL a pure-Python handle belongs to the thread that made it: "
    "dropped last on another thread, it is freed (and closed) only when its "
    "owner next runs Python code, and here the owner waits in select(); the C "
    "handles share their reference count and close at once"
)


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded CPython build")
@pytest.mark.parametrize(
    "pure",
    [pytest.param(False, id="cext", marks=pytest.mark.c_extension), pytest.param(True, id="pure")],
)
def test_import_leaves_the_gil_disabled(pure: bool) -> None:
    env = child_env(no_extensions=pure)
    env.pop("PYTHON_GIL", None)
    code = (
        "import sys, ringchan; tx, rx = ringchan.channel(4); tx.try_send(1); "
        "print(ringchan.COMPILED, sys._is_gil_enabled())"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(not pure), "False"]


def test_last_sender_dropped_on_another_thread_ends_a_parked_receive(
    chan_module: Any, loop_factory: Any
) -> None:
    """A thread sends one item and drops the last sender while the asyncio
    receiver awaits recv() twice: the second recv() must see Closed."""
    if FREE_THREADED and not chan_module.__name__.endswith("_c"):
        pytest.skip(PURE_DROP_REASON)
    loop = loop_factory()
    try:
        for _ in range(ROUNDS):
            tx, rx = chan_module.channel(1)
            holder = [tx]
            del tx
            parked = threading.Event()

            def produce() -> None:
                parked.wait(WAIT)
                holder[0].try_send("v")
                holder.clear()  # the last reference, dropped on this thread

            async def consume() -> list[Any]:
                got = []
                first = asyncio.ensure_future(rx.recv())
                while not rx._parked()[1]:
                    await asyncio.sleep(0)
                parked.set()
                got.append(await first)
                with pytest.raises(Closed):
                    await rx.recv()
                return got

            worker = threading.Thread(target=produce)
            worker.start()
            got = loop.run_until_complete(asyncio.wait_for(consume(), WAIT))
            worker.join(WAIT)
            assert got == ["v"]
    finally:
        loop.close()


def test_receiver_dropped_on_another_thread_fails_a_parked_send(
    chan_module: Any, spawn: Any
) -> None:
    for _ in range(ROUNDS):
        tx, rx = chan_module.channel(1)
        tx.try_send("fill")
        holder = [rx]
        del rx

        def send_late() -> Any:
            with pytest.raises(Closed) as error:
                tx.blocking_send("late", WAIT)
            return error

        sending = spawn(send_late)
        while not holder[0]._parked()[0]:
            pass
        dropper = spawn(holder.clear)
        dropper.join()
        error = sending.join()
        assert error.value.item == "late"


def test_last_sender_dropped_on_another_thread_ends_a_blocking_receive(
    chan_module: Any, spawn: Any
) -> None:
    for _ in range(ROUNDS):
        tx, rx = chan_module.channel(1)
        holder = [tx]
        del tx
        receiving = spawn(lambda: list(rx))
        while not rx._parked()[1]:
            pass
        spawn(holder.clear).join()
        assert receiving.join() == []


@pytest.mark.parametrize("capacity", [1, 8])
def test_barrier_started_threads_hammer_every_method(
    chan_module: Any, spawn: Any, seed: int, tally: Callable[[str, int], None], capacity: int
) -> None:
    threads = max(4, 2 * (os.cpu_count() or 2))
    per_thread = 300
    tx, rx = chan_module.channel(capacity)
    # Only a start gate: generous, for threads started under a sanitizer.
    start = threading.Barrier(threads + 1, timeout=6 * WAIT)
    sent: list[Counter] = [Counter() for _ in range(threads)]

    def produce(pid: int, own: Any) -> None:
        start.wait()
        for i in range(per_thread):
            item = (pid, i)
            way = (pid + i) % 5
            try:
                if way == 0:
                    own.blocking_send(item, timeout=WAIT)
                elif way == 1:
                    own.blocking_send_many([item], timeout=WAIT)
                elif way == 2:
                    try:
                        own.try_send(item)
                    except Full:
                        own.blocking_send(item, timeout=WAIT)
                elif way == 3:
                    while not own.try_send_many([item]):
                        own.blocking_send(item, timeout=WAIT)
                        break
                else:
                    # A clone made and closed while everyone else sends.
                    extra = own.clone()
                    extra.blocking_send(item, timeout=WAIT)
                    extra.close()
            except Closed as exc:  # pragma: no cover - a failure, reported below
                raise AssertionError(f"send refused: {exc}") from exc
            sent[pid][item] += 1
            len(own), own.is_closed  # readers racing the writers
        own.close()

    # Cloned here: a thread started late would find tx closed already.
    workers = [spawn(produce, pid, tx.clone()) for pid in range(threads)]
    tx.close()
    start.wait()
    got: Counter = Counter()
    last = [-1] * threads
    while True:
        try:
            batch = rx.blocking_recv_many(7, timeout=WAIT)
        except Closed:
            break
        for pid, i in batch:
            assert i > last[pid], "out of order"
            last[pid] = i
            got[(pid, i)] += 1
        try:
            item = rx.try_recv()
        except (Empty, Closed):
            continue
        pid, i = item
        assert i > last[pid], "out of order"
        last[pid] = i
        got[item] += 1
    for worker in workers:
        worker.join()
    expected = sum(sent, Counter())
    assert got == expected
    assert sum(got.values()) == threads * per_thread
    tally("races: items through barrier-started threads", sum(got.values()))
