"""Heap checks: does moving items through the C channel allocate per item,
and does an unbounded channel give its memory back once a burst drains?

tracemalloc traces every allocation the interpreter makes, the unbounded
channel's blocks among them (they come from ``PyMem_Malloc``).  Each
check sends *items* items through one channel with tracing on and reports
how far the traced memory grew (``growth``) and rose at its highest
(``peak``) above its level after a warm-up.  On the bounded channel (capacity
:data:`CAPACITY`), a per-item allocation that is kept would grow both by the
item count; a flat result is the same few hundred bytes whatever the count.
On an unbounded channel the items go in as one burst, then are all received:
the peak is the burst's blocks, and the growth, taken once it has drained,
with the channel still open, should be back within a block or two of the
baseline.  The items are built before tracing starts, so they are not
counted.

The RSS check (:func:`rss_check`) does without tracemalloc, in a process of
its own: a burst of :data:`RSS_ITEMS` items of one shared object (1 GiB of
blocks) sent into an unbounded channel, then received, the process's RSS
read before, at the peak, and once drained, the channel still open (the
blocks fill pymalloc arenas, which go back to the system once empty).  It
also runs as ``python benchmarks/heap.py --rss N``, which prints its result
as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

#: The bounded channel's capacity in the checks of :data:`CHECKS`.
CAPACITY = 1024

#: Items per block of an unbounded channel's list (``csrc/ringchan/list.h``):
#: a block is its link and this many slots, a pointer each.
BLOCK_ITEMS = 63

#: The size of a block, as ``PyMem_Malloc`` is asked for it.
BLOCK_BYTES = (BLOCK_ITEMS + 1) * struct.calcsize("P")

#: The RSS check's default burst: 2**21 blocks, 1 GiB on a 64-bit build.
RSS_ITEMS = 2**21 * BLOCK_ITEMS

#: Items sent before the baseline is taken: first-use allocations (a spare
#: awaitable, the loop's own buffers) are not per-item costs.
_WARM_UP = 10_000

#: The items of one check: those of the warm-up, then the counted ones.
Items = tuple[list[int], list[int]]

#: Opens the channel of one check: ``(tx, rx)``.
Opener = Callable[[], tuple[Any, Any]]

#: ``check(open_channel, items, mark) -> items received``; it calls *mark*
#: once the warm-up is through, and a burst check again once drained.
Check = Callable[[Opener, Items, Callable[[], None]], int]


def _same_loop(open_channel: Opener, items: Items, mark: Callable[[], None]) -> int:
    async def main() -> int:
        tx, rx = open_channel()

        async def produce() -> None:
            with tx:
                send = tx.send
                for i in items[0]:
                    await send(i)
                mark()
                for i in items[1]:
                    await send(i)

        producer = asyncio.ensure_future(produce())
        count = 0
        async for _ in rx:
            count += 1
        await producer
        return count

    return asyncio.run(main())


def _thread_to_asyncio(open_channel: Opener, items: Items, mark: Callable[[], None]) -> int:
    async def main() -> int:
        tx, rx = open_channel()

        def produce() -> None:
            with tx:
                send = tx.blocking_send
                for i in items[0]:
                    send(i)
                mark()
                for i in items[1]:
                    send(i)

        worker = threading.Thread(target=produce)
        worker.start()
        count = 0
        async for _ in rx:
            count += 1
        worker.join()
        return count

    return asyncio.run(main())


async def _drain(rx: Any, count: int) -> int:
    """Receive *count* items with ``async for``, leaving the channel open."""
    received = 0
    if count:
        async for _ in rx:
            received += 1
            if received == count:
                break
    return received


def _send_all(send: Callable[[int], Any], numbers: Sequence[int]) -> None:
    for i in numbers:
        send(i)


def _burst_same_loop(open_channel: Opener, items: Items, mark: Callable[[], None]) -> int:
    """A task awaits ``send()`` for a whole burst, then receives it all, the
    warm-up's and then the counted one; *mark* after each has drained."""

    async def main() -> int:
        tx, rx = open_channel()
        count = 0
        with tx:
            send = tx.send
            for burst in items:
                for i in burst:
                    await send(i)
                count += await _drain(rx, len(burst))
                mark()
        return count

    return asyncio.run(main())


def _burst_thread_to_asyncio(open_channel: Opener, items: Items, mark: Callable[[], None]) -> int:
    """A thread calls ``blocking_send()`` for a whole burst and ends, then a
    task receives it all; the warm-up's, then the counted one."""

    async def main() -> int:
        tx, rx = open_channel()
        count = 0
        with tx:
            for burst in items:
                worker = threading.Thread(target=_send_all, args=(tx.blocking_send, burst))
                worker.start()
                worker.join()
                count += await _drain(rx, len(burst))
                mark()
        return count

    return asyncio.run(main())


#: The workloads checked on the bounded channel, by the name the report gives them.
CHECKS: dict[str, Check] = {
    "same-loop": _same_loop,
    "thread-to-asyncio": _thread_to_asyncio,
}

#: The bursts checked on an unbounded channel, by the same names.
BURSTS: dict[str, Check] = {
    "same-loop": _burst_same_loop,
    "thread-to-asyncio": _burst_thread_to_asyncio,
}


def check(count: int) -> list[dict[str, Any]]:
    """Run every check on the C channel with *count* items, those of
    :data:`CHECKS` on a bounded channel, then those of :data:`BURSTS` on an
    unbounded one; a result dict each."""
    from ringchan._channel_c import channel, unbounded_channel

    items = (list(range(_WARM_UP)), list(range(_WARM_UP, _WARM_UP + count)))
    plan: list[tuple[str, bool, Check, Opener]] = [
        *((name, False, run, partial(channel, CAPACITY)) for name, run in CHECKS.items()),
        *((name, True, run, unbounded_channel) for name, run in BURSTS.items()),
    ]
    results = []
    for name, unbounded, run, open_channel in plan:
        # (current, peak) of the traced memory at each mark; the peak is
        # reset at the first, the baseline.
        marks: list[tuple[int, int]] = []

        def mark(marks: list[tuple[int, int]] = marks) -> None:
            if not marks:
                tracemalloc.reset_peak()
            marks.append(tracemalloc.get_traced_memory())

        tracemalloc.start()
        try:
            received = run(open_channel, items, mark)
            # A burst ends at its second mark, drained, its channel still
            # open as at the baseline; the others once their channel is gone.
            current, peak = marks[1] if unbounded else tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        if received != _WARM_UP + count:
            raise RuntimeError(f"{name}: received {received} items, not {_WARM_UP + count}")
        results.append(
            {
                "check": name,
                "unbounded": unbounded,
                "items": count,
                "growth": current - marks[0][0],
                "peak": peak - marks[0][0],
            }
        )
    return results


def _rss() -> int:
    """This process's resident set, in bytes."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_burst(count: int) -> dict[str, Any]:
    """In this process: *count* items of one shared object sent with
    ``try_send()`` into an unbounded C channel, then received with
    ``try_recv()``; the RSS before, at the peak, and once drained (the
    channel still open)."""
    from ringchan._channel_c import unbounded_channel

    item = object()
    tx, rx = unbounded_channel()
    before = _rss()
    send = tx.try_send
    for _ in range(count):
        send(item)
    peak = _rss()
    recv = rx.try_recv
    for _ in range(count):
        if recv() is not item:
            raise RuntimeError("the burst came back with another item")
    if len(rx):
        raise RuntimeError(f"{len(rx)} items left once the burst was received")
    drained = _rss()
    return {
        "items": count,
        "block_bytes": BLOCK_BYTES * -(-count // BLOCK_ITEMS),
        "before": before,
        "peak": peak,
        "drained": drained,
        "error": None,
    }


def rss_check(count: int, timeout: float = 600.0) -> dict[str, Any]:
    """:func:`rss_burst` of *count* items, in a fresh interpreter of its own
    (this one, with this environment), so that no other check's memory
    counts; its ``error`` says why it has no figures."""
    failed: dict[str, Any] = {
        "items": count,
        "block_bytes": None,
        "before": None,
        "peak": None,
        "drained": None,
    }
    if not os.path.exists("/proc/self/statm"):
        return {**failed, "error": "no /proc/self/statm to read the RSS from"}
    try:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--rss", str(count)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {**failed, "error": f"still running after {timeout:g} s"}
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return {**failed, "error": why}
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python benchmarks/heap.py --rss N``: :func:`rss_burst` as JSON."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/heap.py",
        description="The RSS check: a burst of N items sent into an unbounded "
        "C channel, then received; RSS before, at the peak, once drained and "
        "as JSON.",
    )
    parser.add_argument(
        "--rss",
        type=int,
        default=RSS_ITEMS,
        metavar="N",
        help="items in the burst (default: %(default)s, 1 GiB of blocks)",
    )
    args = parser.parse_args(argv)
    print(json.dumps(rss_burst(args.rss)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
