"""Telemetry events written to SQLite in batches, one transaction per batch.

Writing each event in its own transaction is slow (every commit syncs the
database); writing them only in large batches makes a quiet period's events
wait indefinitely.  ``rx.batches(max_items, max_wait)`` gives both bounds:
a batch is yielded as soon as *max_items* events are there, or *max_wait*
seconds after its first event arrived, whichever comes first; when the
channel closes, the last partial batch is yielded, then the loop ends.

The blocking ``sqlite3`` calls run in a worker thread (``asyncio.to_thread``)
so the event loop keeps accepting events while a batch is being written;
meanwhile the channel's capacity bounds how many can pile up.

Run it: ``python examples/telemetry_sqlite.py``.
"""

import asyncio
import os
import random
import sqlite3
import tempfile
import time

import ringchan

SOURCES = 4
EVENTS_PER_SOURCE = 1_250
MAX_ITEMS = 200  # rows per transaction, at most
MAX_WAIT = 0.05  # seconds an event waits for its batch to fill, at most
QUIET = 0.2  # seconds without events, half way through

#: One event: source, sequence number, timestamp, value.
Event = tuple[str, int, float, float]


async def emit(tx: ringchan.Sender[Event], source: str, count: int, seed: int) -> None:
    """One telemetry source: two bursts of events, a quiet spell between."""
    rng = random.Random(seed)
    async with tx:  # this source's sender is closed when it is done
        for seq in range(count):
            if seq == count // 2:
                # Longer than MAX_WAIT: the batch under way is written
                # partly filled instead of waiting for the next burst.
                await asyncio.sleep(QUIET)
            await tx.send((source, seq, time.time(), rng.uniform(0.0, 100.0)))
            if seq % 25 == 24:
                await asyncio.sleep(0)  # let the other sources have a turn


def write_batch(db: sqlite3.Connection, batch: list[Event]) -> None:
    """Runs in a worker thread: the whole batch in one transaction."""
    with db:  # BEGIN ... COMMIT, or ROLLBACK on an error
        db.executemany("INSERT INTO events (source, seq, ts, value) VALUES (?, ?, ?, ?)", batch)


async def store(rx: ringchan.Receiver[Event], db: sqlite3.Connection) -> tuple[int, int, int]:
    batches = full = rows = 0
    async for batch in rx.batches(MAX_ITEMS, MAX_WAIT):
        # Never empty, never longer than MAX_ITEMS; shorter when MAX_WAIT
        # ran out first, or for the last batch, when the channel closed.
        assert 1 <= len(batch) <= MAX_ITEMS
        await asyncio.to_thread(write_batch, db, batch)
        batches += 1
        full += len(batch) == MAX_ITEMS
        rows += len(batch)
    return batches, full, rows


async def main_async(path: str) -> None:
    # check_same_thread=False: the connection is used from the thread pool,
    # by one write at a time (store() awaits each before starting the next).
    db = sqlite3.connect(path, check_same_thread=False)
    try:
        db.execute("CREATE TABLE events (source TEXT, seq INTEGER, ts REAL, value REAL)")
        tx, rx = ringchan.channel[Event](1024)
        # One sender handle per source; the original is closed once cloned,
        # so the stream ends when the last source closes its clone.
        emitters = [
            asyncio.ensure_future(emit(tx.clone(), f"sensor-{n}", EVENTS_PER_SOURCE, n))
            for n in range(SOURCES)
        ]
        tx.close()
        batches, full, rows = await store(rx, db)
        await asyncio.gather(*emitters)

        stats = rx.stats()  # sent, received, buffered, wake-ups, ...
        (stored,) = db.execute("SELECT COUNT(*) FROM events").fetchone()
        (sources,) = db.execute("SELECT COUNT(DISTINCT source) FROM events").fetchone()
    finally:
        db.close()
    expected = SOURCES * EVENTS_PER_SOURCE
    assert rows == stored == stats.sent == stats.received == expected, (rows, stored, stats)
    assert sources == SOURCES and stats.buffered == 0
    # The batch counts depend on timing; the row count does not.
    print(
        f"wrote {stored} rows in {batches} batches: {full} full "
        f"({MAX_ITEMS} rows), {batches - full} cut short by max_wait or the close"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main_async(os.path.join(folder, "telemetry.db")))


if __name__ == "__main__":
    main()
