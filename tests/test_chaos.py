"""Chaos: the stress traffic of test_stress.py, with faults injected at random.

- Sends on event loops are cancelled while they wait: ``asyncio.wait_for``,
  ``asyncio.timeout`` and ``Task.cancel()`` around ``send`` and
  ``send_many``; ``try_send`` is refused with ``Full``.
- Blocking sends in threads time out.
- Reserves are cancelled the same ways while they wait; a permit obtained
  sends at once, or hands its item back through ``Closed.item``.
- Receives, ``batches()`` steps and transactions are cancelled the same
  ways, blocking receives time out.
- A monkey thread closes producers' sender handles at random (a producer
  then takes a fresh clone and goes on), and in half the runs closes the
  receiver.

Every item is accounted for: received, or handed back to its producer by
``Closed.item``, ``Full.item``, ``TimeoutError.item``, a cancelled ``send``
or the ``.sent`` count of a cancelled ``send_many``, after which the producer
either retries it or gives it up.  Nothing may be lost, duplicated, reordered
or received after being handed back; nothing may hang; no event loop may
report anything (loops run in debug mode) and nothing may be printed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from support import WAIT
from traffic import (
    Budget,
    Item,
    Ledger,
    Noise,
    Producer,
    gather_producers,
    run_loop,
    timeout_cm,
)

from ringchan import _messages
from ringchan._errors import Closed, Empty, Full

PRODUCERS = 6

#: Timeouts for waits that chaos cuts short: from "at once" to "long enough
#: for the consumer to make room", so both outcomes happen.
SHORT_WAITS = (0.0, 0.00005, 0.0002, 0.001, 0.005)


class Slot:
    """A producer's current sender handle; the monkey may close it at any time."""

    def __init__(self, tx: Any, spare: Any) -> None:
        self.tx = tx
        self._spare = spare

    def renew(self, exc: Closed) -> bool:
        """After *exc*, take a fresh handle; False once the receiver is closed."""
        if exc.args[0] == _messages.RECEIVER_CLOSED:
            return False
        assert exc.args[0] == _messages.SENDER_CLOSED, exc.args
        self.tx = self._spare.clone()
        return True

    def close(self) -> None:
        """Close the current handle (the producer's own last one at the end)."""
        self.tx.close()


def unsent_suffix(items: list[Item], unsent: Any) -> int:
    """Check that *unsent* is a suffix of *items*; return how many were sent."""
    assert isinstance(unsent, list), unsent
    sent = len(items) - len(unsent)
    assert 0 <= sent <= len(items) and items[sent:] == unsent, (items, unsent)
    return sent


# --- producers in threads ----------------------------------------------------


def thread_blocking_send(
    slot: Slot, producer: Producer, budget: Budget, rng: random.Random
) -> None:
    try:
        while budget.more(producer):
            items = producer.take(1)
            while True:
                try:
                    slot.tx.blocking_send(items[0], timeout=rng.choice((*SHORT_WAITS, WAIT)))
                    producer.sent(items)
                    break
                except TimeoutError as exc:
                    assert exc.item is items[0]  # type: ignore[attr-defined]
                    producer.counts["blocking send timeouts"] += 1
                    if rng.random() < 0.3:
                        producer.returned(items, "TimeoutError.item")
                        break
                except Closed as exc:
                    assert exc.item is items[0]
                    if not slot.renew(exc):
                        producer.returned(items, "Closed.item")
                        return
    finally:
        slot.close()


def thread_blocking_send_many(
    slot: Slot, producer: Producer, budget: Budget, rng: random.Random
) -> None:
    try:
        while budget.more(producer):
            items = producer.take(rng.randint(1, 30))
            while items:
                try:
                    timeout = rng.choice((*SHORT_WAITS, WAIT))
                    slot.tx.blocking_send_many(items, timeout=timeout)
                    producer.sent(items)
                    break
                except TimeoutError as exc:
                    sent = unsent_suffix(items, exc.item)  # type: ignore[attr-defined]
                    producer.counts["blocking send timeouts"] += 1
                    producer.sent(items[:sent])
                    items = items[sent:]
                    if rng.random() < 0.3:
                        producer.returned(items, "TimeoutError.item")
                        break
                except Closed as exc:
                    sent = unsent_suffix(items, exc.item)
                    producer.sent(items[:sent])
                    items = items[sent:]
                    if not slot.renew(exc):
                        producer.returned(items, "Closed.item")
                        return
    finally:
        slot.close()


# --- producers on event loops ------------------------------------------------


async def cut_short(
    make: Callable[[], Awaitable[Any]], rng: random.Random, counts: Any
) -> tuple[bool, Any]:
    """Await ``make()`` under a random cancellation; (finished?, result).

    Exceptions other than the cancellation itself propagate.
    """
    way = rng.random()
    wait = rng.choice(SHORT_WAITS)
    if way < 0.4:
        try:
            return True, await asyncio.wait_for(make(), wait)
        except asyncio.TimeoutError:
            counts["cancellations injected: asyncio.wait_for"] += 1
            return False, None
    if way < 0.7:
        cm = timeout_cm(wait)
        if cm is not None:
            try:
                async with cm:
                    return True, await make()
            except TimeoutError:
                counts["cancellations injected: asyncio.timeout"] += 1
                return False, None
    task = asyncio.ensure_future(make())
    await asyncio.sleep(wait)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=WAIT)
    assert done, "a cancelled operation did not finish"
    if task.cancelled():
        counts["cancellations injected: Task.cancel"] += 1
        return False, None
    return True, task.result()


async def task_send(slot: Slot, producer: Producer, budget: Budget, rng: random.Random) -> None:
    try:
        while budget.more(producer):
            items = producer.take(1)
            while True:
                try:
                    way = rng.random()
                    if way < 0.2:
                        try:
                            slot.tx.try_send(items[0])
                            finished = True
                        except Full as exc:
                            assert exc.item is items[0]
                            producer.counts["try_send refused (Full)"] += 1
                            finished = False
                    elif way < 0.35:
                        # A cancelled reserve holds nothing; a permit's send
                        # fails only if the channel closed meanwhile.
                        try:
                            finished, permit = await cut_short(
                                slot.tx.reserve, rng, producer.counts
                            )
                        except Closed as exc:
                            assert exc.item is None  # nothing was offered yet
                            if not slot.renew(exc):
                                producer.returned(items, "Closed.item")
                                return
                            continue
                        if finished:
                            permit.send(items[0])
                            producer.counts["sent through a permit"] += 1
                    else:
                        finished, _ = await cut_short(
                            lambda item=items[0]: slot.tx.send(item), rng, producer.counts
                        )
                except Closed as exc:
                    assert exc.item is items[0]
                    if not slot.renew(exc):
                        producer.returned(items, "Closed.item")
                        return
                    continue
                if finished:
                    producer.sent(items)
                    break
                if rng.random() < 0.3:
                    producer.returned(items, "Full.item or cancelled send")
                    break
    finally:
        slot.close()


async def task_send_many(
    slot: Slot, producer: Producer, budget: Budget, rng: random.Random
) -> None:
    try:
        while budget.more(producer):
            items = producer.take(rng.randint(1, 30))
            while items:
                op: Any | None = None

                def start(items: list[Item] = items) -> Any:
                    nonlocal op
                    op = slot.tx.send_many(items)
                    return op

                try:
                    finished, _ = await cut_short(start, rng, producer.counts)
                except Closed as exc:
                    assert op is not None
                    sent = unsent_suffix(items, exc.item)
                    assert sent == op.sent, (sent, op.sent)
                    producer.sent(items[:sent])
                    items = items[sent:]
                    if not slot.renew(exc):
                        producer.returned(items, "Closed.item")
                        return
                    continue
                assert op is not None
                sent = op.sent
                assert sent == len(items) if finished else 0 <= sent <= len(items)
                producer.sent(items[:sent])
                items = items[sent:]
                if items and rng.random() < 0.3:
                    producer.returned(items, "send_many cancelled, .sent")
                    break
    finally:
        slot.close()


#: The producer tasks each event loop runs, in the order of its handles.
LOOP_PRODUCERS = [task_send, task_send_many]


# --- consumers ---------------------------------------------------------------


async def consume_on_loop(rx: Any, ledger: Ledger, rng: random.Random) -> None:
    counts = ledger.counts
    while True:
        way = rng.random()
        try:
            if way < 0.3:
                finished, item = await cut_short(rx.recv, rng, counts)
                if finished:
                    ledger.received(item)
            elif way < 0.6:
                k = rng.randint(1, 64)
                finished, items = await cut_short(lambda k=k: rx.recv_many(k), rng, counts)
                if finished:
                    ledger.received_many(items)
            elif way < 0.65:
                try:
                    ledger.received(rx.try_recv())
                except Empty:
                    await asyncio.sleep(rng.choice(SHORT_WAITS))
            elif way < 0.75:
                batches = rx.batches(rng.randint(1, 64), rng.choice(SHORT_WAITS))
                try:
                    finished, batch = await cut_short(batches.__anext__, rng, counts)
                except StopAsyncIteration:
                    return
                if finished:
                    ledger.received_many(batch)
            elif way < 0.85:
                finished, item = await cut_short(lambda: take_in_transaction(rx), rng, counts)
                if finished:
                    ledger.received(item)
            else:
                ended = await iterate_with_timeout(rx, ledger, rng)
                if ended:
                    return
        except Closed:
            return


async def take_in_transaction(rx: Any) -> Any:
    """The next item, through a transaction (peek, then commit on exit)."""
    async with rx.transaction() as item:
        return item


async def iterate_with_timeout(rx: Any, ledger: Ledger, rng: random.Random) -> bool:
    """``async for`` under a random timeout; True once the stream has ended."""
    cm = timeout_cm(rng.choice(SHORT_WAITS))
    stop, taken = rng.randint(1, 100), 0

    async def iterate() -> bool:
        nonlocal taken
        async for item in rx:
            ledger.received(item)
            taken += 1
            if taken == stop:
                return False
        return True

    try:
        if cm is None:
            return await asyncio.wait_for(iterate(), rng.choice(SHORT_WAITS))
        async with cm:
            return await iterate()
    except asyncio.TimeoutError:  # not the builtin TimeoutError before 3.11
        ledger.counts["cancellations injected: async for under a timeout"] += 1
        return False


def consume_in_thread(rx: Any, ledger: Ledger, rng: random.Random) -> None:
    counts = ledger.counts
    while True:
        way = rng.random()
        try:
            if way < 0.4:
                ledger.received(rx.blocking_recv(timeout=rng.choice(SHORT_WAITS)))
            elif way < 0.8:
                k = rng.randint(1, 64)
                ledger.received_many(rx.blocking_recv_many(k, timeout=rng.choice(SHORT_WAITS)))
            elif way < 0.85:
                try:
                    ledger.received(rx.try_recv())
                except Empty:
                    time.sleep(rng.choice(SHORT_WAITS))
            elif way < 0.9:
                batch = next(rx.batches(rng.randint(1, 64), rng.choice(SHORT_WAITS)), None)
                if batch is None:
                    return
                ledger.received_many(batch)
            else:
                stop = rng.randint(1, 100)
                for taken, item in enumerate(rx, 1):
                    ledger.received(item)
                    if taken == stop:
                        break
                else:
                    return
        except TimeoutError:
            counts["blocking receive timeouts"] += 1
        except Closed:
            return


# --- the monkey --------------------------------------------------------------


def monkey(
    slots: list[Slot],
    rx: Any,
    seconds: float,
    close_receiver: bool,
    rng: random.Random,
    counts: Any,
) -> None:
    """Close random producers' handles during *seconds*, maybe the receiver too."""
    deadline = time.monotonic() + seconds
    receiver_at = time.monotonic() + seconds * rng.uniform(0.3, 0.9)
    while True:
        now = time.monotonic()
        if close_receiver and now >= receiver_at:
            rx.close()
            counts["receiver closes injected"] += 1
            close_receiver = False
        if now >= deadline:
            return
        time.sleep(min(seconds / 20, max(0.0, deadline - now)))
        slot = rng.choice(slots)
        if not slot.tx.is_closed:
            slot.tx.close()
            counts["sender closes injected"] += 1


@pytest.mark.parametrize("capacity", [1, 2, 1024])
@pytest.mark.parametrize("consumer", ["task", "thread"])
def test_chaos_loses_nothing(
    chan_module: Any,
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
    spawn: Any,
    load: Any,
    seed: int,
    tally: Callable[[str, int], None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    capacity: int,
    consumer: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    rng = random.Random(seed)
    tx, rx = chan_module.channel(capacity)
    spare = tx.clone()  # replacement handles come from here
    slots = [Slot(tx.clone(), spare) for _ in range(PRODUCERS)]
    tx.close()
    ledger = Ledger(PRODUCERS)
    p = ledger.producers
    noise = Noise()
    new_loop = noise.factory(loop_factory, debug=True)
    budget = Budget(load.seconds, load.min_items)
    workers = [
        spawn(thread_blocking_send, slots[0], p[0], budget, random.Random(seed + 1)),
        spawn(thread_blocking_send_many, slots[1], p[1], budget, random.Random(seed + 2)),
    ]
    for first in (2, 4):
        producing = gather_producers(
            LOOP_PRODUCERS, slots[first : first + 2], p[first : first + 2], budget, seed
        )
        workers.append(spawn(run_loop, new_loop, producing, load.seconds, name=f"loop-{first}"))
    chaos = spawn(
        monkey, slots, rx, load.seconds, rng.random() < 0.5, random.Random(seed + 3), ledger.counts
    )
    consuming = random.Random(seed + 4)
    try:
        if consumer == "task":
            ended = spawn(run_loop, new_loop, consume_on_loop(rx, ledger, consuming), load.seconds)
        else:
            ended = spawn(consume_in_thread, rx, ledger, consuming)
        chaos.join(load.seconds + WAIT)
        for worker in workers:
            worker.join(load.seconds + 3 * WAIT)
        spare.close()  # every handle is closed now: the stream ends once drained
        ended.join(3 * WAIT)
    finally:
        rx.close()
        spare.close()

    totals = ledger.totals()
    problems = ledger.problems()
    tally("chaos: runs", 1)
    tally("chaos: items moved", totals["items received"])
    for what, count in sorted(totals.items()):
        if what not in ("items received", "items sent"):
            tally(f"chaos: {what}", count)
    tally("items lost, duplicated or reordered", sum(problems.values()))
    assert not any(problems.values()), problems
    assert totals["items received"] == totals["items sent"]
    assert noise.reports == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    _out, err = capfd.readouterr()
    assert err == ""
