"""Capacity × batch size: a thread → asyncio pipeline through the C channel.

One thread calls ``blocking_send()`` for each item; an asyncio task receives
them with a plain ``recv_many(size)`` loop, or iterates
``rx.batches(size, max_wait)``.  Each consumer is measured at every channel
capacity of :data:`CAPACITIES` and every size of :data:`SIZES`, all of them
in the same rounds (one row of a :class:`~ringchan.bench.suite.Suite`), so that
drift in the machine's speed falls on every cell alike.  The table is
items/s of the whole pipeline, what a guide to choosing the two can quote.
``compare.py`` runs it for the report (``--sweep-repeat``).
"""

from __future__ import annotations

from functools import partial
from typing import IO, Any

from ringchan.bench.subjects import IMPLEMENTATIONS
from ringchan.bench.suite import Progress, Suite, si
from ringchan.bench.workloads import (
    BATCH_WAIT,
    LoopFactory,
    Settings,
    Workload,
    _recv_many,
    _recv_windows,
    _threads_to_loop,
)

__all__ = ("CAPACITIES", "CONSUMERS", "SIZES", "markdown", "rows", "run", "table", "workload")

#: The channel capacities measured: a few items, a few hundred, thousands.
CAPACITIES = (16, 256, 4096)

#: The most items each receive takes (*max_items* of ``rx.batches()``).
SIZES = (1, 16, 256)

#: The consumers, by the name the table gives them: the role each needs
#: (the producer's is ``send_blocking``) and how it receives.
CONSUMERS = {
    "recv_many": ("recv_batches", _recv_many),
    "batches": ("recv_windows", _recv_windows),
}

#: The subject measured: ringchan C.
SUBJECT = "c"


def _call(consumer: str, size: int) -> str:
    """The consumer's call as the table shows it: ``recv_many(16)``."""
    wait = f", {BATCH_WAIT:g}" if consumer == "batches" else ""
    return f"{consumer}({size}{wait})"


def workload(consumer: str, capacity: int, size: int) -> Workload:
    """The sweep's cell for *consumer* (a key of :data:`CONSUMERS`) on a
    channel of *capacity*, receiving up to *size* items at a time."""
    role, receive = CONSUMERS[consumer]
    return Workload(
        f"capacity {capacity}, {_call(consumer, size)}",
        f"one thread calls blocking_send(), a task receives with {_call(consumer, size)}; "
        f"capacity {capacity}",
        partial(_threads_to_loop, producers=1, receive=receive),
        ("send_blocking", role),
        batched=True,
        group="sweep",
        capacity=capacity,
        batch=size,
    )


def run(
    settings: Settings,
    repeat: int,
    loop: str,
    new_loop: LoopFactory,
    progress: IO[str] | None = None,
) -> dict[str, Any]:
    """Measure every cell *repeat* times on event loop *loop*, with the
    *settings* of the run but each cell's capacity and size; the results
    document (``sweep`` in ``results.json``)."""
    cells = {
        (consumer, capacity, size): workload(consumer, capacity, size)
        for consumer in CONSUMERS
        for capacity in CAPACITIES
        for size in SIZES
    }
    suite = Suite(
        list(cells.values()), [IMPLEMENTATIONS[SUBJECT]], {loop: new_loop}, settings, repeat
    )
    for _ in suite.run(None if progress is None else Progress(progress, suite.total())):
        pass
    keys = {measured.name: key for key, measured in cells.items()}
    results = []
    for cell in suite.cells:
        consumer, capacity, size = keys[cell.workload.name]
        results.append({**cell.to_json(), "consumer": consumer, "capacity": capacity, "size": size})
    return {
        "loop": loop,
        "items": settings.items,
        "repeat": repeat,
        "max_wait": BATCH_WAIT,
        "capacities": list(CAPACITIES),
        "sizes": list(SIZES),
        "consumers": list(CONSUMERS),
        "results": results,
    }


def rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The medians as a header and rows: a row per capacity, a column per
    consumer and size."""
    found = {(r["consumer"], r["capacity"], r["size"]): r for r in doc["results"]}
    columns = [(consumer, size) for consumer in doc["consumers"] for size in doc["sizes"]]
    header = ["capacity", *(f"`{_call(consumer, size)}`" for consumer, size in columns)]
    lines = []
    for capacity in doc["capacities"]:
        row = [f"{capacity:,}"]
        for consumer, size in columns:
            result = found.get((consumer, capacity, size))
            if result is None:
                row.append("–")
            elif result["error"]:
                row.append("error")
            else:
                row.append(si(result["median"]))
        lines.append(row)
    return header, lines


def table(doc: dict[str, Any]) -> str:
    """The medians as a Markdown table (see :func:`rows`)."""
    header, lines = rows(doc)
    text = ["| " + " | ".join(header) + " |", "|" + "|".join(["---:"] * len(header)) + "|"]
    text += ["| " + " | ".join(row) + " |" for row in lines]
    return "\n".join(text)


def markdown(doc: dict[str, Any] | None) -> list[str]:
    """The report's section on the sweep; none without one (``--sweep-repeat 0``)."""
    if not doc:
        return []
    return [
        "## Capacity and batch size",
        "",
        f"ringchan C, thread → asyncio: one thread calls `blocking_send()` for each of "
        f"{doc['items']:,} int items, built before the clock starts; one task on the "
        f"{doc['loop']} loop receives them with a plain `recv_many(size)` loop or with "
        f"`async for batch in rx.batches(size, {doc['max_wait']:g})`.  Items/s of the whole "
        f"pipeline, median of {doc['repeat']} runs (min–max in `results.json`, under "
        "`sweep`), every cell taken in turn within each repeat (`benchmarks/sweep.py`).",
        "",
        table(doc),
        "",
    ]
