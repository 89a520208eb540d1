"""A consumer whose sink fails now and then: retries, backoff, nothing lost.

``async with rx.transaction() as item:`` hands the block the next item
without taking it: the item is taken only if the block exits without an
exception.  If the write fails, the item stays at the head of the channel,
so the next transaction gets the very same item: retry it after a pause
that doubles each time (exponential backoff), and order is kept.

When a sink stays down for longer than the retries allow, the consumer gives
up and raises.  That does not close the receiver or lose the item: a
supervisor hands the same ``rx`` to a fresh consumer, which resumes with the
item that failed.

Run it: ``python examples/retrying_consumer.py``.
"""

import asyncio
import random

import ringchan

ITEMS = 200
MAX_ATTEMPTS = 6  # tries per item before the consumer gives up
BASE_DELAY = 0.001  # seconds before the first retry; doubles each time
MAX_DELAY = 0.02
OUTAGE_AT = 120  # the sink is down for a while when this item comes
OUTAGE_FAILURES = MAX_ATTEMPTS + 2  # longer than one consumer's retries


class SinkError(Exception):
    pass


class GiveUp(Exception):
    pass


class FlakySink:
    """Stands in for a database or an HTTP endpoint: fails about 30% of
    writes (from a fixed seed, so every run is the same), and is down for
    OUTAGE_FAILURES attempts in a row at item OUTAGE_AT."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.stored: list[int] = []
        self.failures = 0
        self.outage_left = OUTAGE_FAILURES

    async def write(self, item: int) -> None:
        await asyncio.sleep(0)  # the round trip to the remote side
        if item == OUTAGE_AT and self.outage_left:
            self.outage_left -= 1
            self.failures += 1
            raise SinkError(f"sink unavailable (item {item})")
        if self.rng.random() < 0.3:
            self.failures += 1
            raise SinkError(f"write of item {item} failed")
        self.stored.append(item)


def backoff(attempt: int) -> float:
    """Seconds to wait before try number *attempt* + 1, with some jitter."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))
    return float(delay * random.uniform(0.5, 1.0))


async def consume(rx: ringchan.Receiver[int], sink: FlakySink) -> None:
    """Store every item; returns at the end of the stream."""
    attempt = 0
    while True:
        try:
            # Entering waits for the next item (peek); a clean exit takes it
            # (commit); an exception leaves it at the head of the channel.
            async with rx.transaction() as item:
                await sink.write(item)
        except ringchan.Closed:
            return  # every sender closed and every item taken
        except SinkError as error:
            attempt += 1
            if attempt >= MAX_ATTEMPTS:
                raise GiveUp(f"gave up after {attempt} attempts: {error}") from error
            await asyncio.sleep(backoff(attempt))
        else:
            attempt = 0


async def supervise(rx: ringchan.Receiver[int], sink: FlakySink) -> int:
    """Run consumers until the stream ends; return how many were restarted."""
    restarts = 0
    while True:
        try:
            await consume(rx, sink)
            return restarts
        except GiveUp:
            # The receiver is still open and the failed item still next:
            # a new consumer on the same rx resumes exactly there.
            restarts += 1
            await asyncio.sleep(MAX_DELAY)


async def produce(tx: ringchan.Sender[int]) -> None:
    async with tx:
        for i in range(ITEMS):
            await tx.send(i)


async def main_async() -> None:
    tx, rx = ringchan.channel[int](16)
    sink = FlakySink()
    producer = asyncio.ensure_future(produce(tx))
    del tx
    restarts = await supervise(rx, sink)
    await producer

    # Every item stored exactly once, in the order sent, despite the failures.
    assert sink.stored == list(range(ITEMS)), sink.stored
    assert restarts >= 1
    print(
        f"stored {len(sink.stored)} items in order after {sink.failures} failed "
        f"writes and {restarts} consumer restart(s): nothing lost"
    )


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
