"""Tagged traffic and its exact accounting, shared by the stress and chaos tests.

Every item is a tuple ``(producer, seq)``.  A :class:`Producer` numbers its
items and settles the fate of each one, in order: ``SENT`` once a send
reported it enqueued, ``RETURNED`` once a refusal, a timeout or a
cancellation handed it back and the producer gave up on it.  A
:class:`Ledger` records what the consumer received.  At the end every SENT
item must have arrived exactly once and in order per producer, and no
RETURNED item may have arrived: anything else is a loss, a duplicate or a
ghost, and :meth:`Ledger.problems` counts it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from support import WAIT, run_on_new_loop

SENT = 1
RETURNED = 2

#: bytes.translate table turning producer fates into the arrivals they imply.
_EXPECTED_ARRIVALS = bytes([0, 1, 0] + [0] * 253)

Item = tuple[int, int]


class Budget:
    """How long producers keep going: until a deadline, after a minimum."""

    def __init__(self, seconds: float, min_items: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.min_items = min_items

    def more(self, producer: Producer) -> bool:
        """Whether *producer* should make another item."""
        return producer.next_seq < self.min_items or time.monotonic() < self.deadline


class Producer:
    """Numbers one producer's items and settles their fates, in order.

    ``counts`` tallies what happened to it (timeouts, cancellations, items
    handed back by kind); each producer runs in one thread, so no lock.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.next_seq = 0
        self.fates = bytearray()
        self.counts: Counter[str] = Counter()

    def take(self, count: int) -> list[Item]:
        """The next *count* new items; each must be settled later."""
        start = self.next_seq
        self.next_seq += count
        return [(self.pid, seq) for seq in range(start, start + count)]

    def sent(self, items: list[Item]) -> None:
        """*items*, the oldest unsettled ones, were enqueued."""
        self._settle(items, SENT)

    def returned(self, items: list[Item], how: str) -> None:
        """*items*, the oldest unsettled ones, were handed back (*how*) and dropped."""
        self._settle(items, RETURNED)
        self.counts[f"items handed back: {how}"] += len(items)

    def _settle(self, items: list[Item], fate: int) -> None:
        if items:
            # Fates are settled in sequence order: a gap is a bookkeeping bug.
            assert items[0] == (self.pid, len(self.fates)), (items[0], len(self.fates))
            assert items[-1][1] == len(self.fates) + len(items) - 1
            self.fates.extend(bytes([fate]) * len(items))


class Ledger:
    """What the consumer received, checked against what producers settled."""

    def __init__(self, producers: int) -> None:
        self.producers = [Producer(pid) for pid in range(producers)]
        self.arrived = [bytearray() for _ in range(producers)]
        self.last = [-1] * producers
        self.out_of_order = 0
        self.received_count = 0
        self.counts: Counter[str] = Counter()

    def received(self, item: Item) -> None:
        """Record one item taken by the consumer."""
        pid, seq = item
        if seq <= self.last[pid]:
            self.out_of_order += 1  # a duplicate, or an item overtaken
        self.last[pid] = seq
        arrived = self.arrived[pid]
        if seq >= len(arrived):
            arrived.extend(bytes(seq + 1 - len(arrived)))
        if arrived[seq] < 255:
            arrived[seq] += 1
        self.received_count += 1

    def received_many(self, items: Iterable[Item]) -> None:
        """Record items taken by the consumer, in the order taken."""
        for item in items:
            self.received(item)

    def problems(self) -> dict[str, int]:
        """Counts of everything that went wrong; all zero on success."""
        found: Counter[str] = Counter(
            {
                "out of order or duplicated": self.out_of_order,
                "lost (sent, never received)": 0,
                "duplicated": 0,
                "ghost (handed back or never made, yet received)": 0,
                "unsettled (made, fate unknown)": 0,
            }
        )
        for producer, arrived in zip(self.producers, self.arrived, strict=True):
            fates = producer.fates
            found["unsettled (made, fate unknown)"] += producer.next_seq - len(fates)
            expected = fates.translate(_EXPECTED_ARRIVALS)
            padded = arrived + bytes(max(0, len(expected) - len(arrived)))
            if padded == expected:
                continue
            for seq, count in enumerate(padded):
                want = expected[seq] if seq < len(expected) else 0
                if want and not count:
                    found["lost (sent, never received)"] += 1
                elif count > 1:
                    found["duplicated"] += count - 1
                elif count and not want:
                    found["ghost (handed back or never made, yet received)"] += 1
        return dict(found)

    def totals(self) -> Counter[str]:
        """Everything the producers and the consumer counted, added up."""
        total = Counter(self.counts)
        for producer in self.producers:
            total.update(producer.counts)
            total["items sent"] += producer.fates.count(SENT)
        total["items received"] = self.received_count
        return total


class Noise:
    """Collects what event loops report (instead of logging it) for a test to check."""

    def __init__(self) -> None:
        self.reports: list[str] = []

    def handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """An event loop exception handler: keep the report."""
        self.reports.append(f"{context.get('message')}: {context.get('exception')!r}")

    def factory(
        self, make: Callable[[], asyncio.AbstractEventLoop], debug: bool
    ) -> Callable[[], asyncio.AbstractEventLoop]:
        """Wrap a loop factory so its loops report here (and run in debug mode)."""

        def new_loop() -> asyncio.AbstractEventLoop:
            loop = make()
            loop.set_exception_handler(self.handler)
            if debug:
                loop.set_debug(True)
                # Debug mode also reports slow callbacks; on a loaded machine
                # that is not a fault of the channel.
                loop.slow_callback_duration = 3600.0
            return loop

        return new_loop


def run_loop(
    factory: Callable[[], asyncio.AbstractEventLoop],
    coro: Coroutine[Any, Any, Any],
    seconds: float,
) -> Any:
    """Run *coro* on a fresh loop, bounded by its *seconds* of work plus slack."""
    return run_on_new_loop(factory, coro, timeout=seconds + 3 * WAIT)


async def gather_producers(
    kinds: list[Callable[..., Coroutine[Any, Any, None]]],
    handles: list[Any],
    producers: list[Producer],
    budget: Budget,
    seed: int,
) -> None:
    """Run one producer task per kind on this loop, each with its handle,
    its producer and a random source of its own, until all are done."""
    await asyncio.gather(
        *(
            kind(handle, producer, budget, random.Random(seed + producer.pid))
            for kind, handle, producer in zip(kinds, handles, producers, strict=True)
        )
    )


def timeout_cm(seconds: float) -> Any | None:
    """``asyncio.timeout(seconds)`` where it exists (3.11+), else None."""
    timeout = getattr(asyncio, "timeout", None)
    return None if timeout is None else timeout(seconds)


async def wait_parked(rx: Any, count: int) -> None:
    """Wait (bounded) until *count* senders are parked on *rx*'s channel."""
    deadline = time.monotonic() + WAIT
    while rx._parked()[0] < count:
        assert time.monotonic() < deadline, "senders did not park"
        await asyncio.sleep(0)


def wait_parked_blocking(rx: Any, count: int) -> None:
    """The same, from a thread with no event loop."""
    deadline = time.monotonic() + WAIT
    while rx._parked()[0] < count:
        assert time.monotonic() < deadline, "senders did not park"
        time.sleep(0.0005)
