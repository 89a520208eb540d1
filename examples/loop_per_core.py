"""One event loop per CPU core, all sending into one channel.

A service may run an event loop in each of several threads (one per core,
capped here at 4), each with its own tasks.  The channel is bound to no loop
and no thread: every producer task, whatever loop it runs on, sends into the
same channel through its own clone of the sender, and ``await tx.send()``
parks on that task's own loop when the channel is full.  The single
consumer is an asyncio task on the main thread's loop, woken from the other
threads only when it is parked waiting, never once per item.

Each producer closes its clone when done; the original sender is closed
once the clones are made, so the consumer's ``async for`` ends exactly when
every producer on every loop has finished.

Run it: ``python examples/loop_per_core.py``.
"""

import asyncio
import os
import threading
from collections import Counter

import ringchan

LOOPS = min(os.cpu_count() or 1, 4)
TASKS_PER_LOOP = 3
ITEMS_PER_TASK = 2_000

#: One item: the loop and the task that sent it, and its number in that task.
Item = tuple[int, int, int]


async def produce(tx: ringchan.Sender[Item], loop_id: int, task_id: int) -> None:
    async with tx:  # closes this clone when the task ends
        for i in range(ITEMS_PER_TASK):
            await tx.send((loop_id, task_id, i))
            if i % 100 == 99:
                await asyncio.sleep(0)  # let this loop's other tasks run


async def loop_main(senders: list[ringchan.Sender[Item]], loop_id: int) -> None:
    """Runs on the loop of one worker thread: its own producer tasks."""
    await asyncio.gather(*(produce(tx, loop_id, task_id) for task_id, tx in enumerate(senders)))


def run_loop(senders: list[ringchan.Sender[Item]], loop_id: int) -> None:
    """The body of one worker thread: a fresh event loop of its own."""
    asyncio.run(loop_main(senders, loop_id))


async def main_async() -> None:
    tx, rx = ringchan.channel[Item](1024)
    threads = []
    for loop_id in range(LOOPS):
        # Cloned here, before the thread starts, so the channel cannot look
        # finished while a loop is still starting up.
        senders = [tx.clone() for _ in range(TASKS_PER_LOOP)]
        thread = threading.Thread(target=run_loop, args=(senders, loop_id), name=f"loop-{loop_id}")
        threads.append(thread)
    tx.close()  # only the clones are left: the stream ends after the last one
    for thread in threads:
        thread.start()

    per_loop: Counter[int] = Counter()
    next_expected: dict[tuple[int, int], int] = {}
    async for loop_id, task_id, i in rx:
        # Items of one producer arrive in the order it sent them.
        assert next_expected.get((loop_id, task_id), 0) == i
        next_expected[loop_id, task_id] = i + 1
        per_loop[loop_id] += 1

    for thread in threads:
        await asyncio.to_thread(thread.join)
    stats = rx.stats()
    total = sum(per_loop.values())
    assert total == LOOPS * TASKS_PER_LOOP * ITEMS_PER_TASK == stats.received
    assert all(per_loop[n] == TASKS_PER_LOOP * ITEMS_PER_TASK for n in range(LOOPS))
    print(f"received {total} items from {LOOPS} event loops in {LOOPS} threads")
    print("per loop: " + ", ".join(f"loop {n}: {per_loop[n]}" for n in range(LOOPS)))
    print(f"wake-ups sent across threads: {stats.wakeups} for {total} items")


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
