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
import sysconfig
import threading
import time
from collections.abc import Callable

CAPACITY = 1024
_DONE = object()


def _free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _wakeups(rx: object) -> int:
    return int(rx.stats().wakeups)  # type: ignore[attr-defined]


def ringchan_threads(items: int, producers: int, unbounded: bool) -> tuple[float, float]:
    """Producer threads ``blocking_send``, a consumer thread ``for item in rx``:
    (seconds, wake-ups per 1,000 items)."""
    import ringchan

    tx, rx = ringchan.unbounded_channel() if unbounded else ringchan.channel(CAPACITY)
    share = items // producers

    def produce(sender: object) -> None:
        send = sender.blocking_send  # type: ignore[attr-defined]
        with sender:  # type: ignore[attr-defined]
            for i in range(share):
                send(i)

    threads = [threading.Thread(target=produce, args=(tx.clone(),)) for _ in range(producers)]
    tx.close()
    count = 0

    def consume() -> None:
        nonlocal count
        n = 0
        for _ in rx:
            n += 1
        count = n

    consumer = threading.Thread(target=consume)
    start = time.perf_counter()
    consumer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    consumer.join()
    seconds = time.perf_counter() - start
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
    count = 0

    def consume() -> None:
        nonlocal count
        get = q.get
        n = 0
        ended = 0
        while True:
            item = get()
            if item is _DONE:
                ended += 1
                if ended == producers:
                    break
            else:
                n += 1
        count = n

    consumer = threading.Thread(target=consume)
    start = time.perf_counter()
    consumer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    consumer.join()
    seconds = time.perf_counter() - start
    assert count == share * producers, count
    return seconds, 0.0


def ringchan_to_loop(items: int, producers: int) -> tuple[float, float]:
    """Producer threads ``blocking_send``, a task ``async for item in rx``."""
    import ringchan

    tx, rx = ringchan.channel(CAPACITY)
    share = items // producers

    def produce(sender: object) -> None:
        send = sender.blocking_send  # type: ignore[attr-defined]
        with sender:  # type: ignore[attr-defined]
            for i in range(share):
                send(i)

    async def main() -> tuple[float, int]:
        threads = [threading.Thread(target=produce, args=(tx.clone(),)) for _ in range(producers)]
        tx.close()
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
    }
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
    return out


RATIOS = [
    ("1→1, ringchan vs SimpleQueue", "1→1 ringchan", "1→1 SimpleQueue"),
    ("2→1, ringchan vs SimpleQueue", "2→1 ringchan", "2→1 SimpleQueue"),
    ("1→1, bounded vs unbounded ringchan", "1→1 ringchan", "1→1 ringchan unbounded"),
    ("1→asyncio vs same-loop, ringchan", "1→asyncio ringchan", "same-loop ringchan"),
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


def _child(items: int, gil: bool) -> dict[str, tuple[float, float]]:
    env = dict(os.environ)
    if gil:
        env["PYTHON_GIL"] = "1"
    else:
        env.pop("PYTHON_GIL", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--items", str(items)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return {k: tuple(v) for k, v in json.loads(done.stdout).items()}  # type: ignore[misc]


def _summary(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}x"
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return f"{statistics.median(values):.2f}x ({q1:.2f}–{q3:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=400_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_round(args.items)))
        return
    modes = ["GIL off", "PYTHON_GIL=1"] if _free_threaded() else ["GIL"]
    rounds: dict[str, list[dict[str, tuple[float, float]]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            rounds[mode].append(_child(args.items, mode == "PYTHON_GIL=1"))
    print(
        f"CPython {sys.version.split()[0]}"
        f"{' free-threaded' if _free_threaded() else ''}: {args.rounds} rounds of "
        f"{args.items:,} items, capacity {CAPACITY}; median (IQR)"
    )
    for mode in modes:
        print(f"\n[{mode}]")
        for name in rounds[mode][0]:
            rates = [r[name][0] for r in rounds[mode]]
            wakes = statistics.median(r[name][1] for r in rounds[mode])
            extra = f"   {wakes:7.1f} wake-ups / 1,000 items" if "ringchan" in name else ""
            print(f"  {name:34} {statistics.median(rates) / 1e6:6.2f}M/s{extra}")
        for label, a, b in RATIOS:
            if a in rounds[mode][0] and b in rounds[mode][0]:
                print(f"  {label:48} {_summary([r[a][0] / r[b][0] for r in rounds[mode]])}")
    if len(modes) == 2:
        print()
        for label, name in GIL_RATIOS:
            ratios = [
                off[name][0] / on[name][0]
                for off, on in zip(rounds["GIL off"], rounds["PYTHON_GIL=1"], strict=True)
            ]
            print(f"  {label:48} {_summary(ratios)}")


if __name__ == "__main__":
    main()
