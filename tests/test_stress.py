"""Stress with exact accounting: no item lost, duplicated or reordered.

Six producers share one channel: a thread using ``blocking_send``, a thread
using ``blocking_send_many``, and two event loops, each in its own thread,
each running a task using ``send`` and a task mixing ``send_many`` (over an
iterator) with ``try_send``.  Some sends go through permits: reserved by a
thread, or by a task and used from another thread; some permits are released
unused, some reserves are cancelled while they wait.  The same traffic also
runs through an unbounded channel.  One consumer takes the items with a
random mix of ``recv``, ``recv_many``, ``try_recv``, ``try_recv_many`` and
``async for`` on the test's own loop, or, in the other run, with
``blocking_recv``, ``blocking_recv_many``, ``try_recv`` and ``for`` from a
thread.  Every item is checked (see traffic.py).

Producers run for ``load.seconds`` (after a minimum of ``load.min_items``
each), so the time taken does not depend on the machine's speed; ``--soak``
runs them far longer.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from support import WAIT
from traffic import (
    Budget,
    Ledger,
    Noise,
    Producer,
    gather_producers,
    run_loop,
    wait_parked,
    wait_parked_blocking,
)

from ringchan._errors import Closed, Empty, Full


def thread_blocking_send(tx: Any, producer: Producer, budget: Budget, rng: random.Random) -> None:
    with tx:
        while budget.more(producer):
            items = producer.take(1)
            way = rng.random()
            if way < 0.15:
                tx.blocking_reserve(timeout=WAIT).send(items[0])
                producer.counts["sent through a permit"] += 1
            elif way < 0.2:
                tx.blocking_reserve(timeout=WAIT).release()
                producer.counts["permits released unused"] += 1
                tx.blocking_send(items[0], timeout=WAIT)
            else:
                tx.blocking_send(items[0], timeout=WAIT)
            producer.sent(items)


def thread_blocking_send_many(
    tx: Any, producer: Producer, budget: Budget, rng: random.Random
) -> None:
    with tx:
        while budget.more(producer):
            items = producer.take(rng.randint(1, 40))
            tx.blocking_send_many(items, timeout=WAIT)
            producer.sent(items)


def send_from_thread(permit: Any, item: Any) -> None:
    """``permit.send(item)`` on a new thread; its error, if any, raised here."""
    errors: list[BaseException] = []

    def send() -> None:
        try:
            permit.send(item)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "a permit's send waited"
    if errors:
        raise errors[0]


async def task_send(tx: Any, producer: Producer, budget: Budget, rng: random.Random) -> None:
    with tx:
        while budget.more(producer):
            items = producer.take(1)
            way = rng.random()
            if way < 0.1:
                # Reserved on this loop, used from another thread.  Joined at
                # once: a permit's send never waits.  (Not the loop's
                # executor: its completion goes through call_soon_threadsafe,
                # which the fault tests make fail.)
                permit = await tx.reserve()
                send_from_thread(permit, items[0])
                producer.counts["sent through a permit"] += 1
            elif way < 0.2:
                try:
                    permit = await asyncio.wait_for(tx.reserve(), 0.0005)
                except asyncio.TimeoutError:
                    producer.counts["reserves cancelled while waiting"] += 1
                    await tx.send(items[0])
                else:
                    permit.send(items[0])
                    producer.counts["sent through a permit"] += 1
            else:
                await tx.send(items[0])
            producer.sent(items)


async def task_send_many_and_try_send(
    tx: Any, producer: Producer, budget: Budget, rng: random.Random
) -> None:
    with tx:
        while budget.more(producer):
            if rng.random() < 0.5:
                items = producer.take(rng.randint(1, 40))
                await tx.send_many(iter(items))
                producer.sent(items)
                continue
            items = producer.take(1)
            try:
                tx.try_send(items[0])
            except Full as exc:
                assert exc.item is items[0]
                producer.counts["try_send refused (Full)"] += 1
                await tx.send(items[0])
            producer.sent(items)


#: The producer tasks each event loop runs, in the order of its handles.
LOOP_PRODUCERS = [task_send, task_send_many_and_try_send]


async def consume_on_loop(rx: Any, ledger: Ledger, rng: random.Random) -> None:
    while True:
        way = rng.random()
        try:
            if way < 0.25:
                ledger.received(await rx.recv())
            elif way < 0.5:
                ledger.received_many(await rx.recv_many(rng.randint(1, 64)))
            elif way < 0.6:
                try:
                    ledger.received(rx.try_recv())
                except Empty:
                    ledger.received(await rx.recv())
            elif way < 0.7:
                got = rx.try_recv_many(rng.randint(1, 64))
                ledger.received_many(got or await rx.recv_many(8))
            else:
                stop, taken = rng.randint(1, 100), 0
                async for item in rx:
                    ledger.received(item)
                    taken += 1
                    if taken == stop:
                        break
                else:
                    return
        except Closed:
            return


def consume_in_thread(rx: Any, ledger: Ledger, rng: random.Random) -> None:
    while True:
        way = rng.random()
        try:
            if way < 0.3:
                ledger.received(rx.blocking_recv(timeout=WAIT))
            elif way < 0.6:
                ledger.received_many(rx.blocking_recv_many(rng.randint(1, 64), timeout=WAIT))
            elif way < 0.7:
                try:
                    ledger.received(rx.try_recv())
                except Empty:
                    ledger.received(rx.blocking_recv(timeout=WAIT))
            else:
                stop = rng.randint(1, 100)
                for taken, item in enumerate(rx, 1):
                    ledger.received(item)
                    if taken == stop:
                        break
                else:
                    return
        except Closed:
            return


def run_traffic(
    chan_module: Any,
    new_loop: Callable[[], asyncio.AbstractEventLoop],
    spawn: Any,
    load: Any,
    seed: int,
    capacity: int | None,
    consumer: str,
    producer_loops: int = 2,
) -> Ledger:
    """The stress traffic: two producer threads and *producer_loops* event
    loops (each in its own thread, with the tasks of LOOP_PRODUCERS) into one
    consumer, a task on a loop from *new_loop* or a thread; returns the
    ledger once every producer is done."""
    producers = 2 + len(LOOP_PRODUCERS) * producer_loops
    tx, rx = chan_module.channel(capacity) if capacity else chan_module.unbounded_channel()
    senders = [tx.clone() for _ in range(producers)]
    tx.close()
    ledger = Ledger(producers)
    p = ledger.producers
    budget = Budget(load.seconds, load.min_items)
    workers = [
        spawn(thread_blocking_send, senders[0], p[0], budget, random.Random(seed)),
        spawn(thread_blocking_send_many, senders[1], p[1], budget, random.Random(seed + 1)),
    ]
    for first in range(2, producers, len(LOOP_PRODUCERS)):
        last = first + len(LOOP_PRODUCERS)
        producing = gather_producers(
            LOOP_PRODUCERS, senders[first:last], p[first:last], budget, seed
        )
        workers.append(spawn(run_loop, new_loop, producing, load.seconds, name=f"loop-{first}"))
    del senders[:]  # each producer closes its own handle when done
    rng = random.Random(seed - 1)
    try:
        if consumer == "task":
            run_loop(new_loop, consume_on_loop(rx, ledger, rng), load.seconds)
        else:
            spawn(consume_in_thread, rx, ledger, rng).join(load.seconds + 3 * WAIT)
    finally:
        rx.close()  # a failed consumer must not leave producers blocked
    for worker in workers:
        worker.join(load.seconds + 3 * WAIT)
    return ledger


@pytest.mark.parametrize("capacity", [1, 2, 1024, None], ids=["1", "2", "1024", "unbounded"])
@pytest.mark.parametrize("consumer", ["task", "thread"])
def test_threads_and_loops_deliver_every_item_once_in_order(
    chan_module: Any,
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    spawn: Any,
    load: Any,
    seed: int,
    tally: Callable[[str, int], None],
    capacity: int,
    consumer: str,
) -> None:
    noise = Noise()
    new_loop = noise.factory(loop_factory, debug=False)
    ledger = run_traffic(chan_module, new_loop, spawn, load, seed, capacity, consumer)
    totals = ledger.totals()
    problems = ledger.problems()
    tally("stress: runs", 1)
    tally("stress: items moved", totals["items received"])
    tally("stress: try_send refused (Full), then sent", totals["try_send refused (Full)"])
    tally("stress: sent through a permit", totals["sent through a permit"])
    tally("stress: permits released unused", totals["permits released unused"])
    tally("stress: reserves cancelled while waiting", totals["reserves cancelled while waiting"])
    tally("items lost, duplicated or reordered", sum(problems.values()))
    assert not any(problems.values()), problems
    assert totals["items received"] == totals["items sent"] > 0
    assert noise.reports == []


@pytest.mark.parametrize("capacity", [1, 2])
def test_send_many_from_another_loop_into_a_small_channel(
    chan_module: Any,
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    run: Any,
    spawn: Any,
    capacity: int,
) -> None:
    """The stress test's narrowest failure: a ``send_many`` on a loop in another
    thread fills the channel part way and parks while the consumer drains it;
    the sender must not park unseen, leaving both ends waiting on an empty
    channel."""
    tx, rx = chan_module.channel(capacity)
    n = 20_000

    async def produce() -> None:
        with tx:
            for start in range(0, n, 37):
                await tx.send_many(range(start, min(start + 37, n)))

    async def consume() -> list[Any]:
        producer = spawn(run_loop, loop_factory, produce(), 0.0)
        got = [item async for item in rx]
        while producer.is_alive():
            await asyncio.sleep(0.001)
        producer.join()
        return got

    try:
        assert run(consume(), timeout=WAIT) == list(range(n))
    finally:
        rx.close()  # releases a producer left parked


@pytest.mark.parametrize("kind", ["tasks", "threads"])
def test_parked_senders_keep_their_order_under_churn(
    chan_module: Any,
    run: Any,
    spawn: Any,
    load: Any,
    seed: int,
    tally: Callable[[str, int], None],
    kind: str,
) -> None:
    """Rounds of senders parked in a known order on a full channel while
    clones open and close and some parked sends are cancelled (tasks), then
    the receiver drains: the others arrive in the order they parked."""
    rng = random.Random(seed)
    tx, rx = chan_module.channel(1)
    rounds = 20 if load.name == "ci" else 1000
    for round_ in range(rounds):
        tx.try_send(("fill", round_))
        count = rng.randint(2, 6)
        clones = [tx.clone() for _ in range(rng.randint(0, 3))]
        if kind == "threads":
            expected = [(round_, i) for i in range(count)]
            workers = []
            for i in range(count):
                workers.append(spawn(tx.blocking_send, (round_, i), WAIT))
                wait_parked_blocking(rx, i + 1)
                if clones and rng.random() < 0.5:
                    clones.pop().close()
            for clone in clones:
                clone.close()
            got = [rx.blocking_recv(timeout=WAIT) for _ in range(count + 1)]
            for worker in workers:
                worker.join()
        else:

            async def one_round() -> tuple:
                tasks = []
                for i in range(count):
                    tasks.append(asyncio.ensure_future(tx.send((round_, i))))
                    await wait_parked(rx, i + 1)
                    if clones and rng.random() < 0.5:
                        clones.pop().close()
                cancelled = set(rng.sample(range(count), rng.randint(0, count - 1)))
                for i in sorted(cancelled):
                    tasks[i].cancel()
                for clone in clones:
                    clone.close()
                survivors = count - len(cancelled)
                got = [await rx.recv() for _ in range(survivors + 1)]
                await asyncio.gather(*tasks, return_exceptions=True)
                return got, [(round_, i) for i in range(count) if i not in cancelled]

            got, expected = run(one_round())
        assert got == [("fill", round_), *expected], f"round {round_}"
        assert len(rx) == 0
        tally(f"order: senders parked and woken in order ({kind})", len(expected))
