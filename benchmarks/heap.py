"""Heap check: does moving items through the C channel allocate per item?

tracemalloc traces every allocation the interpreter makes.  Each check sends
*items* items through one channel with tracing on and reports how far the
traced memory grew (``current``) and rose at its highest (``peak``) above the
level after a warm-up.  A per-item allocation that is kept would grow both by
the item count; a flat result is the same few hundred bytes whatever the
count.  The items are built before tracing starts, so they are not counted.
"""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from typing import Any, Callable, Dict, List, Tuple

#: Items sent before the baseline is taken: first-use allocations (a spare
#: awaitable, the loop's own buffers) are not per-item costs.
_WARM_UP = 10_000

#: The items of one check: those of the warm-up, then the counted ones.
Items = Tuple[List[int], List[int]]


def _same_loop(channel: Callable[[int], Any], items: Items, mark: Callable[[], None]) -> int:
    async def main() -> int:
        tx, rx = channel(1024)

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


def _thread_to_asyncio(
    channel: Callable[[int], Any], items: Items, mark: Callable[[], None]
) -> int:
    async def main() -> int:
        tx, rx = channel(1024)

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


#: The workloads checked, by the name the report gives them.
CHECKS: Dict[str, Callable[[Callable[[int], Any], Items, Callable[[], None]], int]] = {
    "same-loop": _same_loop,
    "thread-to-asyncio": _thread_to_asyncio,
}


def check(count: int) -> List[Dict[str, Any]]:
    """Run every check on the C channel with *count* items; a result dict each."""
    from ringchan._channel_c import channel

    items = (list(range(_WARM_UP)), list(range(_WARM_UP, _WARM_UP + count)))
    results = []
    for name, run in CHECKS.items():
        baseline: List[int] = []

        def mark(baseline: List[int] = baseline) -> None:
            tracemalloc.reset_peak()
            baseline.append(tracemalloc.get_traced_memory()[0])

        tracemalloc.start()
        try:
            received = run(channel, items, mark)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        if received != _WARM_UP + count:
            raise RuntimeError(f"{name}: received {received} items, not {_WARM_UP + count}")
        results.append(
            {
                "check": name,
                "items": count,
                "growth": current - baseline[0],
                "peak": peak - baseline[0],
            }
        )
    return results
