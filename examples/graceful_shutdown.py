"""Graceful shutdown: a stop signal through a oneshot, then drain-on-close.

Three producer tasks send readings until a stop is requested; one consumer
task processes them.  The stop request comes from another thread (here a
timer; in a service, a signal handler or an admin endpoint) through
``ringchan.oneshot()``: ``stop_tx.send(reason)`` never waits and works from
any thread or event loop.

Shutdown then runs in order, and loses nothing:

1. a coordinator awaits the oneshot and tells the producers to stop;
2. each producer finishes the send under way and closes its sender handle;
3. closing the last sender ends the stream only after the buffer is empty,
   so the consumer drains every item already sent, then its ``async for``
   ends;
4. the count received equals the count sent.

The tasks run in an ``asyncio.TaskGroup`` on Python 3.11+, and under
``asyncio.gather`` on 3.10, with the same clean-up when a task fails.
On POSIX, Ctrl-C or SIGTERM also starts the same shutdown.

Run it: ``python examples/graceful_shutdown.py``.
"""

import asyncio
import signal
import sys
import threading
from collections.abc import Coroutine
from typing import Any

import ringchan

PRODUCERS = 3
RUN_FOR = 0.3  # seconds before the timer asks for a stop

#: One reading: the producer's name and its count so far.
Reading = tuple[str, int]


if sys.version_info >= (3, 11):

    async def run_together(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
        """Run *coros* as tasks; if one fails, the others are cancelled."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coro) for coro in coros]
        return [task.result() for task in tasks]

else:

    async def run_together(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
        """The same on 3.10: gather, cancelling the rest if one fails."""
        tasks = [asyncio.ensure_future(coro) for coro in coros]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


def request_stop(stop_tx: ringchan.OneshotSender[str], reason: str) -> None:
    """Callable from any thread or loop, any number of times: the first
    request wins; later ones find the oneshot used and are ignored."""
    try:
        stop_tx.send(reason)
    except (RuntimeError, ringchan.Closed):
        pass  # already requested, or the shutdown is over


async def producer(tx: ringchan.Sender[Reading], name: str, stopping: asyncio.Event) -> int:
    sent = 0
    async with tx:  # closes this handle however the task ends
        while not stopping.is_set():
            await tx.send((name, sent))  # waits while the channel is full
            sent += 1
            if sent % 64 == 0:
                await asyncio.sleep(0.001)  # the work of taking a reading
    return sent


async def consumer(rx: ringchan.Receiver[Reading]) -> dict[str, int]:
    counts: dict[str, int] = {}
    async for name, _ in rx:  # ends once every sender is closed and drained
        counts[name] = counts.get(name, 0) + 1
        if sum(counts.values()) % 128 == 0:
            # Slower than the producers together: the channel fills up, and
            # backpressure makes the producers wait for room.
            await asyncio.sleep(0.001)
    return counts


async def coordinator(
    stop_rx: ringchan.OneshotReceiver[str], stopping: asyncio.Event, rx: ringchan.Receiver[Reading]
) -> "tuple[str, int]":
    reason = await stop_rx  # the first stop request, from whichever thread
    buffered = len(rx)  # items sent but not yet received at that moment
    stopping.set()  # the producers leave their loops
    return reason, buffered


async def main_async() -> None:
    tx, rx = ringchan.channel[Reading](512)
    stop_tx, stop_rx = ringchan.oneshot[str]()
    stopping = asyncio.Event()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, request_stop, stop_tx, signal.Signals(signum).name)
        except (NotImplementedError, RuntimeError):
            pass  # not on this platform (Windows): the timer alone stops it
    timer = threading.Timer(RUN_FOR, request_stop, args=(stop_tx, "timer"))
    timer.start()

    # One clone per producer; the original is closed at once, so the stream
    # ends exactly when the last producer closes its clone.
    producers = [producer(tx.clone(), f"producer-{n}", stopping) for n in range(PRODUCERS)]
    tx.close()
    try:
        (reason, buffered), counts, *sent = await run_together(
            coordinator(stop_rx, stopping, rx), consumer(rx), *producers
        )
    finally:
        timer.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(signum)
            except (NotImplementedError, RuntimeError):
                pass

    total_sent = sum(sent)
    total_received = sum(counts.values())
    assert total_received == total_sent, (total_received, total_sent)
    assert [counts[f"producer-{n}"] for n in range(PRODUCERS)] == sent
    print(f"stop requested by {reason} with {buffered} items buffered")
    print(f"{PRODUCERS} producers sent {total_sent} items; drained {total_received}: none lost")


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
