"""The ``bench`` command: items/second of each channel implementation per workload.

Every measurement builds a fresh channel, drives it with one workload in this
process and checks that the consumer received every item.  Workloads and
implementations sit in two registries, :data:`WORKLOADS` and
:data:`IMPLEMENTATIONS`, so adding either is one entry.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import platform
import statistics
import sys
import threading
import traceback
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._args import MAX_CAPACITY

if TYPE_CHECKING:
    from ._channel_py import Receiver, Sender

__all__ = (
    "IMPLEMENTATIONS",
    "WORKLOADS",
    "BenchError",
    "Implementation",
    "Workload",
    "add_command",
    "machine_summary",
    "measure",
    "run",
)

#: ``channel(capacity) -> (Sender, Receiver)``, as both implementations export it.
ChannelFactory = Callable[[int], Tuple["Sender[int]", "Receiver[int]"]]

#: A workload body: ``(tx, rx, items, timeout) -> (items received, seconds)``.
WorkloadBody = Callable[["Sender[int]", "Receiver[int]", int, float], Tuple[int, float]]


class BenchError(Exception):
    """A measurement cannot be trusted: lost items, a hung or failing worker,
    or an implementation that does not import."""


@dataclass(frozen=True)
class Implementation:
    """A channel implementation: its ``--impl`` key, table label and module."""

    key: str
    label: str
    module: str

    def load(self) -> ChannelFactory:
        """Import the module and return its ``channel`` function."""
        try:
            module = importlib.import_module(self.module)
        except Exception as exc:
            raise BenchError(
                f"cannot import {self.module} ({type(exc).__name__}: {exc}); "
                "build the C extension first (pip install .), or pass --impl py"
            ) from exc
        return module.channel  # type: ignore[no-any-return]


#: Every implementation ``--impl`` can name, in table order.
IMPLEMENTATIONS: Dict[str, Implementation] = {
    impl.key: impl
    for impl in (
        Implementation("c", "C", "ringchan._channel_c"),
        Implementation("py", "pure", "ringchan._channel_py"),
    )
}


@dataclass(frozen=True)
class Workload:
    """One way of driving a channel from its producers to its consumer."""

    name: str
    description: str
    body: WorkloadBody


class _Worker(threading.Thread):
    """A thread that keeps its target's exception for the caller to raise.

    Daemonic so that a worker hung inside the channel cannot keep the
    process alive after the benchmark has reported it.
    """

    def __init__(self, name: str, target: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self.error: Optional[BaseException] = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self._work()
        except BaseException as exc:
            self.error = exc


def _join(workers: Sequence[_Worker], deadline: float, timeout: float) -> None:
    """Wait for *workers* in order until *deadline*; raise if one hung or failed.

    Callers list the consumer first: when it fails, the producers block on a
    full channel, and its exception is the one worth reporting.
    """
    for worker in workers:
        worker.join(max(0.0, deadline - perf_counter()))
        if worker.error is not None:
            raise BenchError(
                f"the {worker.name} thread raised {worker.error!r}"
            ) from worker.error
        if worker.is_alive():
            # Name every thread still running: the consumer waits on a hung
            # producer, so the first one found is not necessarily the culprit.
            hung = ", ".join(w.name for w in workers if w.is_alive())
            raise BenchError(
                f"still running {timeout:g} s after the start, hung: {hung}"
            )


def _spans(items: int, count: int) -> List[range]:
    """Split ``range(items)`` into *count* contiguous parts of near-equal size."""
    return [range(i * items // count, (i + 1) * items // count) for i in range(count)]


async def _send_async(tx: "Sender[int]", numbers: range) -> None:
    with tx:
        # Bound once so the loop times the channel, not the attribute lookup.
        send = tx.send
        for number in numbers:
            await send(number)


def _send_blocking(tx: "Sender[int]", numbers: range) -> None:
    with tx:
        send = tx.blocking_send
        for number in numbers:
            send(number)


async def _receive_async(rx: "Receiver[int]", timeout: float) -> Tuple[int, float]:
    """Count what ``async for`` yields; return the count and when it ended."""

    async def count_items() -> Tuple[int, float]:
        count = 0
        async for _ in rx:
            count += 1
        return count, perf_counter()

    try:
        return await asyncio.wait_for(count_items(), timeout)
    except asyncio.TimeoutError:
        raise BenchError(
            f"the asyncio consumer did not see the end of the stream within "
            f"{timeout:g} s: a producer hung or the channel lost its close"
        ) from None


def _receive_blocking(rx: "Receiver[int]") -> Tuple[int, float]:
    count = 0
    for _ in rx:
        count += 1
    return count, perf_counter()


def _start_producers(tx: "Sender[int]", items: int, count: int) -> List[_Worker]:
    """Start *count* threads, each with its own clone of *tx*, sharing *items*."""
    clones = [tx.clone() for _ in range(count)]
    # The clones hold the channel open; the original would keep it open forever.
    tx.close()
    workers = [
        _Worker(f"producer {index}", partial(_send_blocking, clone, numbers))
        for index, (clone, numbers) in enumerate(zip(clones, _spans(items, count), strict=True))
    ]
    for worker in workers:
        worker.start()
    return workers


def _same_loop(
    tx: "Sender[int]", rx: "Receiver[int]", items: int, timeout: float
) -> Tuple[int, float]:
    async def main() -> Tuple[int, float]:
        start = perf_counter()
        producer = asyncio.create_task(_send_async(tx, range(items)))
        received, end = await _receive_async(rx, timeout)
        try:
            await producer
        except Exception as exc:
            raise BenchError(f"the producer task raised {exc!r}") from exc
        return received, end - start

    return asyncio.run(main())


def _threads_to_asyncio(
    tx: "Sender[int]", rx: "Receiver[int]", items: int, timeout: float, producers: int
) -> Tuple[int, float]:
    async def main() -> Tuple[int, float]:
        start = perf_counter()
        workers = _start_producers(tx, items, producers)
        received, end = await _receive_async(rx, timeout)
        _join(workers, start + timeout, timeout)
        return received, end - start

    return asyncio.run(main())


def _thread_to_thread(
    tx: "Sender[int]", rx: "Receiver[int]", items: int, timeout: float
) -> Tuple[int, float]:
    start = perf_counter()
    consumer = _Worker("consumer", partial(_receive_blocking, rx))
    consumer.start()
    producers = _start_producers(tx, items, 1)
    _join([consumer, *producers], start + timeout, timeout)
    received, end = consumer.result
    return received, end - start


#: Every workload, in table order.
WORKLOADS: Dict[str, Workload] = {
    workload.name: workload
    for workload in (
        Workload(
            "same-loop",
            "one task awaits tx.send(), another iterates with async for, one loop",
            _same_loop,
        ),
        Workload(
            "thread-to-asyncio",
            "one thread calls tx.blocking_send(), a task iterates with async for",
            partial(_threads_to_asyncio, producers=1),
        ),
        Workload(
            "4-threads-to-asyncio",
            "four threads, a clone each, call blocking_send(); async for consumes",
            partial(_threads_to_asyncio, producers=4),
        ),
        Workload(
            "thread-to-thread",
            "one thread calls blocking_send(), another iterates with for",
            _thread_to_thread,
        ),
    )
}


def measure(
    workload: Workload,
    channel: ChannelFactory,
    capacity: int,
    items: int,
    timeout: float,
) -> float:
    """Run *workload* once on a fresh channel; return items per second.

    Raises :class:`BenchError` unless the consumer received exactly *items*.
    """
    tx, rx = channel(capacity)
    # Garbage left by the previous run must not be collected on this one's clock.
    gc.collect()
    try:
        received, seconds = workload.body(tx, rx, items, timeout)
    except BenchError:
        raise
    except Exception as exc:
        raise BenchError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        # Releases any producer still parked after a failure; a no-op otherwise.
        rx.close()
    if received != items:
        raise BenchError(f"the consumer received {received} items, not {items}")
    return items / seconds


def machine_summary() -> List[str]:
    """Lines naming the Python, the platform and the CPU the figures come from."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    cpu = value.strip()
                    break
    except OSError:
        pass
    return [
        f"Python {platform.python_version()} ({platform.python_implementation()}) "
        f"on {platform.platform()}",
        f"CPU: {cpu}, {os.cpu_count()} logical CPUs",
    ]


def _si(rate: float) -> str:
    """*rate* to three significant digits with a k or M suffix."""
    # Rounded before the suffix is chosen, so 999_999 reads 1.00M, not 1000k.
    rate = float(f"{rate:.3g}")
    scale, suffix = next(
        (
            (scale, suffix)
            for scale, suffix in ((1e6, "M"), (1e3, "k"))
            if rate >= scale
        ),
        (1.0, ""),
    )
    value = rate / scale
    # Fixed decimals rather than "g", which drops zeros: 1.80M, not 1.8M.
    decimals = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{decimals}f}{suffix}"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _capacity(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_CAPACITY:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_CAPACITY}, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def add_command(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Register the ``bench`` subcommand and its options on *commands*."""
    parser = commands.add_parser(
        "bench",
        help="measure items/second of the C and pure-Python channels",
        description="Measure items/second of each channel implementation on each "
        "workload, one after the other in this process, and print the median of "
        "the repeats with their min-max.  Workloads: "
        + "; ".join(f"{w.name}: {w.description}" for w in WORKLOADS.values())
        + ".",
    )
    parser.add_argument(
        "--items",
        type=_positive_int,
        default=200_000,
        metavar="N",
        help="items sent per measurement (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=3,
        metavar="R",
        help="measurements per workload and implementation; the median is "
        "reported (default: %(default)s)",
    )
    parser.add_argument(
        "--impl",
        choices=[*IMPLEMENTATIONS, "both"],
        default="both",
        help="which implementation to measure (default: %(default)s)",
    )
    parser.add_argument(
        "--capacity",
        type=_capacity,
        default=1024,
        help="channel capacity (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="fail a measurement that has not finished after this long, "
        "as a hung worker (default: %(default)g)",
    )
    parser.set_defaults(run=run)


def _measure_repeats(
    workload: Workload,
    impls: Sequence[Implementation],
    channels: Dict[str, ChannelFactory],
    args: argparse.Namespace,
) -> Dict[str, List[float]]:
    """Items/second of every run of *workload*, by implementation key."""
    rates: Dict[str, List[float]] = {impl.key: [] for impl in impls}
    # Implementations alternate within each repeat so that drift in the
    # machine's speed (turbo, neighbours) falls on all of them alike.
    for attempt in range(1, args.repeat + 1):
        for impl in impls:
            try:
                rate = measure(
                    workload,
                    channels[impl.key],
                    args.capacity,
                    args.items,
                    args.timeout,
                )
            except BenchError as exc:
                raise BenchError(
                    f"{workload.name} on {impl.label}, "
                    f"run {attempt} of {args.repeat}: {exc}"
                ) from exc.__cause__
            rates[impl.key].append(rate)
    return rates


class _Table:
    """A fixed-width table printed row by row, so results show as they come."""

    def __init__(self, columns: Sequence[str]) -> None:
        self._widths = [
            max(len(column), 20 if i == 0 else 9) for i, column in enumerate(columns)
        ]
        self.row(columns)
        self.row(["-" * width for width in self._widths])

    def row(self, cells: Sequence[str]) -> None:
        """Print *cells*: the first left-aligned, the figures right-aligned."""
        print(
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(cells, self._widths, strict=True))
            ).rstrip(),
            flush=True,
        )


def _report(
    impls: Sequence[Implementation],
    channels: Dict[str, ChannelFactory],
    args: argparse.Namespace,
) -> None:
    for line in machine_summary():
        print(line)
    print(
        f"capacity {args.capacity}, {args.items:,} items per measurement, "
        f"median of {args.repeat} (min-max), items/second"
    )
    print()
    columns = ["workload"]
    for impl in impls:
        columns += [f"{impl.label} items/s", f"{impl.label} min-max"]
    ratio = len(impls) == 2
    if ratio:
        columns.append(f"{impls[0].label}/{impls[1].label}")
    table = _Table(columns)
    for workload in WORKLOADS.values():
        rates = _measure_repeats(workload, impls, channels, args)
        cells = [workload.name]
        for impl in impls:
            runs = rates[impl.key]
            cells += [
                _si(statistics.median(runs)),
                f"{_si(min(runs))}-{_si(max(runs))}",
            ]
        if ratio:
            first, second = (statistics.median(rates[impl.key]) for impl in impls)
            cells.append(f"{first / second:.2f}x")
        table.row(cells)


def run(args: argparse.Namespace) -> int:
    """Run the ``bench`` command with parsed *args*; return the exit status."""
    if args.impl == "both":
        impls = list(IMPLEMENTATIONS.values())
    else:
        impls = [IMPLEMENTATIONS[args.impl]]
    try:
        # Imported up front so a missing build fails before any measuring.
        channels = {impl.key: impl.load() for impl in impls}
        _report(impls, channels, args)
    except BenchError as exc:
        print(f"ringchan bench: error: {exc}", file=sys.stderr)
        cause = exc.__cause__
        if cause is not None:
            traceback.print_exception(type(cause), cause, cause.__traceback__)
        return 1
    return 0
