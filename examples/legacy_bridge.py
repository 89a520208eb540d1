"""Bridging a blocking "legacy" library into asyncio with ``from_iterable``.

Many libraries only offer blocking calls: a device driver with a ``read()``
that waits for the next record, a client library that pushes results into a
``queue.Queue``.  ``ringchan.from_iterable(iterable, capacity)`` runs any
blocking iterable on a worker thread and returns the receiver of a new
channel, which the event loop reads with ``async for``:

- the worker waits (GIL released) while the channel is full, so the legacy
  side is never read faster than the consumer keeps up;
- an exception raised by the iterable reaches the consumer, raised by its
  ``async for``, after every item read before it;
- closing the receiver stops the worker at its next send and closes the
  iterator, so a generator's ``finally`` releases the legacy resource.

Run it: ``python examples/legacy_bridge.py``.
"""

import asyncio
import queue
import threading
import time
from collections.abc import Iterator

import ringchan


class LegacySensor:
    """Stands in for a blocking driver: ``read()`` waits for the next record.

    After *fail_after* records it loses its connection, as a real device
    might; ``read()`` returns None once it has no more records.
    """

    def __init__(self, records: int, fail_after: int | None = None) -> None:
        self.records = records
        self.fail_after = fail_after
        self.position = 0
        self.closed = threading.Event()

    def read(self) -> bytes | None:
        if self.fail_after is not None and self.position == self.fail_after:
            raise ConnectionError(f"sensor link lost at record {self.position}")
        if self.position == self.records:
            return None
        self.position += 1
        time.sleep(0)  # a real driver would block here, GIL released
        return b"temp=%d" % (20 + self.position % 5)

    def close(self) -> None:
        self.closed.set()


def readings(sensor: LegacySensor) -> Iterator[int]:
    """A generator around the blocking API: parse each record, release the
    sensor however the iteration ends (exhausted, failed or closed early)."""
    try:
        for record in iter(sensor.read, None):  # call read() until it returns None
            yield int(record.split(b"=")[1])
    finally:
        sensor.close()


async def bridge_a_blocking_reader() -> int:
    rx = ringchan.from_iterable(readings(LegacySensor(records=500)), capacity=32)
    values = [value async for value in rx]
    assert len(values) == 500
    return len(values)


async def bridge_a_queue() -> int:
    """A callback-style library filling a ``queue.Queue`` from its own thread.

    ``iter(q.get, SENTINEL)`` turns the queue into a blocking iterable that
    ends at the sentinel; ``from_iterable`` moves it onto the loop.
    """
    sentinel = object()
    legacy_queue: queue.Queue[object] = queue.Queue()

    def legacy_library_thread() -> None:
        for i in range(300):
            legacy_queue.put({"event": i})
        legacy_queue.put(sentinel)

    threading.Thread(target=legacy_library_thread, name="legacy").start()
    rx = ringchan.from_iterable(iter(legacy_queue.get, sentinel), capacity=64)
    count = 0
    async for event in rx:
        assert event == {"event": count}
        count += 1
    return count


async def an_error_reaches_the_consumer() -> tuple[int, BaseException]:
    sensor = LegacySensor(records=500, fail_after=120)
    rx = ringchan.from_iterable(readings(sensor), capacity=32)
    received = 0
    try:
        async for _ in rx:
            received += 1
    except ConnectionError as error:
        # Raised only after every record read before the failure arrived.
        assert received == 120
        # The generator's finally ran: the sensor was released.
        assert await asyncio.to_thread(sensor.closed.wait, 5.0)
        return received, error
    raise AssertionError("the sensor's error was not raised")


async def closing_early_stops_the_worker() -> bool:
    sensor = LegacySensor(records=1_000_000)
    rx = ringchan.from_iterable(readings(sensor), capacity=8)
    async for _ in rx:
        break  # breaking out does not close the receiver...
    rx.close()  # ...closing it does: the worker stops at its next send
    # and closes the generator, whose finally releases the sensor.
    released = await asyncio.to_thread(sensor.closed.wait, 5.0)
    assert released and sensor.position < 1_000_000
    return released


async def main_async() -> None:
    read = await bridge_a_blocking_reader()
    queued = await bridge_a_queue()
    received, error = await an_error_reaches_the_consumer()
    released = await closing_early_stops_the_worker()
    print(f"bridged {read} sensor readings and {queued} queued events")
    print(f"legacy error after {received} readings: {type(error).__name__}: {error}")
    print(f"closing the receiver early released the sensor: {released}")


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
