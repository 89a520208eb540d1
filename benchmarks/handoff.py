"""The handoff between threads, as a user choosing a queue would try it.

Every workload moves fresh int items made by the producer (``range``), so
each channel is timed with the interpreter creating them, as in a real
pipeline.  Each round runs every workload once, in turns, in a child
process per interpreter mode; a ratio is the median of the per-round
ratios, and its spread their interquartile range.  On a free-threaded build
each round also runs a child with ``PYTHON_GIL=1``, for the GIL-off vs
GIL-on rows.

    python benchmarks/handoff.py                 # 5 rounds of 400,000 items
    python benchmarks/handoff.py --rounds 9 --items 1000000
    python benchmarks/handoff.py --python old/bin/python --python new/bin/python

The figures are not written anywhere: the report's runner is compare.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

CAPACITY = 1024
_DONE = object()


def _wakeups(rx: object) -> int:
    return int(rx.stats().wakeups)  # type: ignore[attr-defined]


def _time_threads(
    producers: list[threading.Thread], consume: Callable[[], int]
) -> tuple[float, int]:
    """(seconds from the consumer's start until it and every producer are
    done, the items consume() says it received)."""
    counted: list[int] = []
    consumer = threading.Thread(target=lambda: counted.append(consume()))
    start = time.perf_counter()
    consumer.start()
    for t in producers:
        t.start()
    for t in producers:
        t.join()
    consumer.join()
    seconds = time.perf_counter() - start
    assert counted, "the consumer failed"
    return seconds, counted[0]


def _blocking_producers(tx: Any, producers: int, share: int) -> list[threading.Thread]:
    """Threads, not started, each sending range(share) with ``blocking_send``
    through a clone of tx, which is closed: the stream ends after the last."""

    def produce(sender: Any) -> None:
        send = sender.blocking_send
        with sender:
            for i in range(share):
                send(i)

    threads = [threading.Thread(target=produce, args=(tx.clone(),)) for _ in range(producers)]
    tx.close()
    return threads


def ringchan_threads(
    items: int, producers: int, unbounded: bool, capacity: int = CAPACITY
) -> tuple[float, float]:
    """Producer threads ``blocking_send``, a consumer thread ``for item in rx``:
    (seconds, wake-ups per 1,000 items)."""
    import ringchan

    tx, rx = ringchan.unbounded_channel() if unbounded else ringchan.channel(capacity)
    share = items // producers

    threads = _blocking_producers(tx, producers, share)

    def consume() -> int:
        n = 0
        for _ in rx:
            n += 1
        return n

    seconds, count = _time_threads(threads, consume)
    assert count == share * producers, count
    return seconds, 1000 * _wakeups(rx) / count


def simple_queue_threads(items: int, producers: int) -> tuple[float, float]:
    """The same through ``queue.SimpleQueue`` (``put``/``get``), a sentinel
    per producer."""
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    share = items // producers

    def produce() -> None:
        put = q.put
        for i in range(share):
            put(i)
        put(_DONE)

    threads = [threading.Thread(target=produce) for _ in range(producers)]

    def consume() -> int:
        get = q.get
        n = 0
        ended = 0
        while ended < producers:
            if get() is _DONE:
                ended += 1
            else:
                n += 1
        return n

    seconds, count = _time_threads(threads, consume)
    assert count == share * producers, count
    return seconds, 0.0


def ringchan_to_loop(items: int, producers: int) -> tuple[float, float]:
    """Producer threads ``blocking_send``, a task ``async for item in rx``."""
    import ringchan

    tx, rx = ringchan.channel(CAPACITY)
    share = items // producers

    async def main() -> tuple[float, int]:
        threads = _blocking_producers(tx, producers, share)
        start = time.perf_counter()
        for t in threads:
            t.start()
        n = 0
        async for _ in rx:
            n += 1
        seconds = time.perf_counter() - start
        for t in threads:
            t.join()
        return seconds, n

    seconds, count = asyncio.run(main())
    assert count == share * producers, count
    return seconds, 1000 * _wakeups(rx) / count


def ringchan_same_loop(items: int) -> tuple[float, float]:
    """One task ``await tx.send(i)``, one ``async for`` on the same loop."""
    import ringchan

    tx, rx = ringchan.channel(CAPACITY)

    async def produce() -> None:
        send = tx.send
        with tx:
            for i in range(items):
                await send(i)

    async def main() -> tuple[float, int]:
        start = time.perf_counter()
        task = asyncio.ensure_future(produce())
        n = 0
        async for _ in rx:
            n += 1
        await task
        return time.perf_counter() - start, n

    seconds, count = asyncio.run(main())
    assert count == items, count
    return seconds, 1000 * _wakeups(rx) / count


def aiologic_to_loop(items: int) -> tuple[float, float]:
    """One thread ``green_put``, a task ``async_get`` on aiologic.SimpleQueue."""
    import aiologic

    q: aiologic.SimpleQueue[object] = aiologic.SimpleQueue()

    def produce() -> None:
        put = q.green_put
        for i in range(items):
            put(i)
        put(_DONE)

    async def main() -> tuple[float, int]:
        thread = threading.Thread(target=produce)
        start = time.perf_counter()
        thread.start()
        get = q.async_get
        n = 0
        while (await get()) is not _DONE:
            n += 1
        seconds = time.perf_counter() - start
        thread.join()
        return seconds, n

    seconds, count = asyncio.run(main())
    assert count == items, count
    return seconds, 0.0


def on_one_core(measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """measure() with this thread, and the threads it starts, on one core:
    what the handoff costs when the two sides share one core's caches."""
    everywhere = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(everywhere)})
    try:
        return measure()
    finally:
        os.sched_setaffinity(0, everywhere)


def lock_ping_pong(cycles: int) -> float:
    """Seconds per park/wake cycle with nothing of ringchan's in it: two
    threads handing a turn back and forth through two locks, each side
    parking until the other wakes it, as the two sides of a full and then
    empty channel do once per capacity's worth of items."""
    mine, theirs = threading.Lock(), threading.Lock()
    mine.acquire()
    theirs.acquire()

    def other() -> None:
        for _ in range(cycles):
            theirs.acquire()
            mine.release()

    thread = threading.Thread(target=other)
    thread.start()
    start = time.perf_counter()
    for _ in range(cycles):
        theirs.release()
        mine.acquire()
    seconds = time.perf_counter() - start
    thread.join()
    return seconds / cycles


def workloads(items: int) -> dict[str, Callable[[], tuple[float, float]]]:
    """Name → a measurement of (seconds, wake-ups per 1,000 items)."""
    found = {
        "1→1 ringchan": lambda: ringchan_threads(items, 1, False),
        "1→1 ringchan unbounded": lambda: ringchan_threads(items, 1, True),
        "1→1 SimpleQueue": lambda: simple_queue_threads(items, 1),
        "2→1 ringchan": lambda: ringchan_threads(items, 2, False),
        "2→1 SimpleQueue": lambda: simple_queue_threads(items, 2),
        "1→asyncio ringchan": lambda: ringchan_to_loop(items, 1),
        "4→asyncio ringchan": lambda: ringchan_to_loop(items, 4),
        "same-loop ringchan": lambda: ringchan_same_loop(items),
        "1→1 ringchan, capacity 65,536": lambda: ringchan_threads(items, 1, False, 65536),
    }
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        found["1→1 ringchan, one core"] = lambda: on_one_core(
            lambda: ringchan_threads(items, 1, False)
        )
    try:
        import aiologic  # noqa: F401
    except ImportError:
        pass
    else:
        found["1→asyncio aiologic.SimpleQueue"] = lambda: aiologic_to_loop(items)
    return found


def one_round(items: int) -> dict[str, tuple[float, float]]:
    """Every workload once, in turns: name → (items/s, wake-ups per 1,000)."""
    out = {}
    for name, measure in workloads(items).items():
        seconds, wakeups = measure()
        out[name] = (items / seconds, wakeups)
    out[FLOOR] = (lock_ping_pong(max(items // CAPACITY, 100)) * 1e6, 0.0)
    return out


#: Not a rate: microseconds per bare park/wake cycle (lock_ping_pong).
FLOOR = "bare park/wake cycle, µs"


RATIOS = [
    ("1→1, ringchan vs SimpleQueue", "1→1 ringchan", "1→1 SimpleQueue"),
    ("2→1, ringchan vs SimpleQueue", "2→1 ringchan", "2→1 SimpleQueue"),
    ("1→1, bounded vs unbounded ringchan", "1→1 ringchan", "1→1 ringchan unbounded"),
    ("1→asyncio vs same-loop, ringchan", "1→asyncio ringchan", "same-loop ringchan"),
    ("1→1 ringchan, one core vs two", "1→1 ringchan, one core", "1→1 ringchan"),
    ("1→1 ringchan, capacity 65,536 vs 1,024", "1→1 ringchan, capacity 65,536", "1→1 ringchan"),
    (
        "1→asyncio, ringchan vs aiologic.SimpleQueue",
        "1→asyncio ringchan",
        "1→asyncio aiologic.SimpleQueue",
    ),
]
# Across modes of a free-threaded build: GIL off over PYTHON_GIL=1.
GIL_RATIOS = [
    ("1→1 ringchan, GIL off vs PYTHON_GIL=1", "1→1 ringchan"),
    ("4→asyncio ringchan, GIL off vs PYTHON_GIL=1", "4→asyncio ringchan"),
]


def _child(python: str, items: int, gil: bool) -> dict[str, tuple[float, float]]:
    env = dict(os.environ)
    if gil:
        env["PYTHON_GIL"] = "1"
    else:
        env.pop("PYTHON_GIL", None)
    done = subprocess.run(
        [python, __file__, "--child", "--items", str(items)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return {k: (v[0], v[1]) for k, v in json.loads(done.stdout).items()}


def _describe(python: str) -> tuple[str, bool]:
    """(a label for the interpreter, whether it is free-threaded)."""
    done = subprocess.run(
        [
            python,
            "-c",
            "import sys, sysconfig, ringchan; "
            "print(sys.version.split()[0], int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))),"
            " ringchan.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    version, free_threaded, where = done.stdout.split()
    label = f"CPython {version}{' free-threaded' if free_threaded == '1' else ''} ({where})"
    return label, free_threaded == "1"


def _summary(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}x"
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{statistics.median(values):.2f}x ({q1:.2f}–{q3:.2f})"


Rounds = list[dict[str, tuple[float, float]]]


def _print_mode(mode: str, rounds: Rounds) -> None:
    print(f"\n[{mode}]")
    for name in rounds[0]:
        if name == FLOOR:
            floor = statistics.median(r[name][0] for r in rounds)
            print(f"  {name:34} {floor:6.1f}  (threading.Lock ping-pong)")
            continue
        rate = statistics.median(r[name][0] for r in rounds)
        wakes = statistics.median(r[name][1] for r in rounds)
        extra = f"   {wakes:7.1f} wake-ups / 1,000 items" if "ringchan" in name else ""
        print(f"  {name:34} {rate / 1e6:6.2f}M/s{extra}")
    for label, a, b in RATIOS:
        if a in rounds[0] and b in rounds[0]:
            print(f"  {label:48} {_summary([r[a][0] / r[b][0] for r in rounds])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=400_000)
    parser.add_argument(
        "--python",
        action="append",
        help="an interpreter to measure, each with the ringchan it imports (repeat it to "
        "compare two builds side by side, round by round); default: this one",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_round(args.items)))
        return
    runs = []  # (interpreter, its label, mode)
    for python in args.python or [sys.executable]:
        label, free_threaded = _describe(python)
        for mode in ["GIL off", "PYTHON_GIL=1"] if free_threaded else ["GIL"]:
            runs.append((python, label, mode))
    rounds: dict[tuple[str, str], Rounds] = {(p, m): [] for p, _, m in runs}
    for _ in range(args.rounds):
        for python, _, mode in runs:
            rounds[python, mode].append(_child(python, args.items, mode == "PYTHON_GIL=1"))
    print(f"{args.rounds} rounds of {args.items:,} items, capacity {CAPACITY}; median (IQR)")
    for python, label, mode in runs:
        print(f"\n{label}", end="")
        _print_mode(mode, rounds[python, mode])
        if mode == "PYTHON_GIL=1":
            print()
            for ratio, name in GIL_RATIOS:
                ratios = [
                    off[name][0] / on[name][0]
                    for off, on in zip(rounds[python, "GIL off"], rounds[python, mode], strict=True)
                ]
                print(f"  {ratio:48} {_summary(ratios)}")
    pythons = list(dict.fromkeys(p for p, _, _ in runs))
    if len(pythons) == 2:
        print("\nThe second interpreter's rate over the first's, round by round:")
        for mode in dict.fromkeys(m for _, _, m in runs):
            first, second = rounds.get((pythons[0], mode)), rounds.get((pythons[1], mode))
            if not (first and second):
                continue
            print(f"[{mode}]")
            for name in first[0]:
                if name in second[0] and name != FLOOR:
                    ratios = [b[name][0] / a[name][0] for a, b in zip(first, second, strict=True)]
                    print(f"  {name:34} {_summary(ratios)}")


if __name__ == "__main__":
    main()
