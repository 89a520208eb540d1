"""A plain thread produces, an asyncio task consumes.

The producer is ordinary blocking code, as a file reader or a hardware
driver would be: it calls ``tx.blocking_send(item)``, which waits with the
GIL released while the channel is full, so a slow consumer slows the
producer down (backpressure) instead of letting a buffer grow without bound.
The consumer is an ``async for`` on the event loop; the stream ends once the
producer closes its sender and the buffer is drained.

Run it: ``python examples/thread_producer.py``.
"""

import asyncio
import threading

import ringchan

ITEMS = 10_000
CAPACITY = 256


def produce(tx: "ringchan.Sender[int]", count: int) -> None:
    """Runs in a plain thread: no event loop, no ``await``."""
    # ``with tx`` closes the sender on the way out, even after an error:
    # closing the last sender is what ends the consumer's ``async for``.
    with tx:
        for i in range(count):
            tx.blocking_send(i)  # waits while the channel is full


async def main_async() -> None:
    # The channel is bound to no loop and no thread: create it anywhere.
    tx, rx = ringchan.channel(CAPACITY)
    producer = threading.Thread(target=produce, args=(tx, ITEMS), name="producer")
    producer.start()
    del tx  # the thread owns the sender now

    received = 0
    total = 0
    previous = -1
    async for item in rx:  # ends cleanly once the sender is closed and drained
        assert item == previous + 1, "items from one producer arrive in order"
        previous = item
        received += 1
        total += item

    # The stream has ended, so the producer has returned: joining does not
    # block the loop for long, but a thread pool keeps the loop free anyway.
    await asyncio.to_thread(producer.join)
    assert received == ITEMS and total == sum(range(ITEMS))
    print(f"received {received} items from a producer thread, sum {total}")


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
