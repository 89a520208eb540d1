"""Running the benchmarks: rounds, interleaving, timeouts, progress, results.

:meth:`Suite.run` measures every :class:`Cell` (one workload on one subject
and one event loop) the given number of times, in rounds: each round of a
workload goes through all its cells in turn, so that drift in the machine's
speed (turbo, neighbours) falls on every subject alike; a workload that
names another as its ``group`` joins that one's rounds, so that a feature
and the hand-written code it replaces are measured side by side too.  A
failed cell keeps its error and is not measured again; the others go on.

Two cells measured in the same rounds give a ratio per round (:func:`spread`),
each from two measurements taken moments apart: the median of those is the
ratio reported, and how widely they spread says how far it can be trusted
(:attr:`Spread.wide`).
"""

from __future__ import annotations

import dataclasses
import faulthandler
import gc
import io
import os
import platform
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from .subjects import Subject
from .workloads import BenchError, LoopFactory, Settings, Workload, rounds_of

__all__ = (
    "MIN_ROUNDS",
    "SIZING_CAPACITIES",
    "SIZING_START",
    "UNSETTLED_WIDTH",
    "Cell",
    "Measurement",
    "Progress",
    "Spread",
    "Suite",
    "machine",
    "measure",
    "si",
    "spread",
)

#: How long past its own timeout a measurement may run before the watchdog
#: dumps every thread's stack and ends the process: the last resort against a
#: hang that no timeout inside the workload can reach.
WATCHDOG_GRACE = 30.0

#: A ratio spreads wide when the interquartile range of its per-round values
#: is wider than this share of their median: the machine's load changed
#: under the run, and the ratio is uncertain even within it.
UNSETTLED_WIDTH = 0.2

#: The items of a cell's first sizing run (:meth:`Suite._size`), and the
#: fewest its measurements send: a few milliseconds of the fastest channel.
SIZING_START = 1000

#: A sized measurement sends at least this many times the channel's capacity:
#: its producers then wait for room for most of it, as in a steady stream,
#: rather than fill an empty buffer, which a slow channel does far faster
#: than it moves items once full.
SIZING_CAPACITIES = 20

#: Fewer rounds than this give no spread worth the name: their ratio is
#: unsettled whatever its values.
MIN_ROUNDS = 3


@dataclass(frozen=True)
class Spread:
    """A ratio between two cells, one value per round they shared.

    The interquartile range rather than the min-max measures how widely the
    values spread: over many rounds on a shared machine, one round that a
    neighbour disturbed would otherwise decide it alone.
    """

    #: The ratio in each round, in round order.
    values: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median of the per-round ratios: the ratio reported."""
        return statistics.median(self.values)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The first and third quartiles of the per-round ratios."""
        if len(self.values) < 2:
            return self.values[0], self.values[0]
        first, _, third = statistics.quantiles(self.values, n=4, method="inclusive")
        return first, third

    @property
    def width(self) -> float:
        """The interquartile range as a share of the median: 0.1 is 10%."""
        first, third = self.quartiles
        return (third - first) / self.median

    @property
    def wide(self) -> bool:
        """Whether the ratio is too unsteady to be sure of: fewer than
        :data:`MIN_ROUNDS` rounds, or wider than :data:`UNSETTLED_WIDTH`."""
        return len(self.values) < MIN_ROUNDS or self.width > UNSETTLED_WIDTH

    def map(self, function: Callable[[float], float]) -> Spread:
        """The same rounds with *function* applied to each value (a cost
        ratio from a gain: ``1 / gain``)."""
        return Spread(tuple(function(value) for value in self.values))


def spread(
    mine: Sequence[float], other: Sequence[float], ratio: Callable[[float, float], float]
) -> Spread | None:
    """``ratio(mine[i], other[i])`` for each round *i* both cells have a run
    of; None if they share none.

    Pairs runs by their index, which is their round: a cell gets one run per
    round of its row until it fails, and a failed cell is not compared.
    """
    values = tuple(ratio(a, b) for a, b in zip(mine, other, strict=False))
    return Spread(values) if values else None


@dataclass
class Cell:
    """Every run of one workload on one subject and one event loop."""

    workload: Workload
    subject: Subject
    #: The event loop's name; None for a workload that runs no loop.
    loop: str | None
    #: What each of its measurements runs with: the run's settings, but the
    #: workload's capacity and batch size where it has its own, and once
    #: sized (:attr:`Settings.duration`), the cell's own items.
    settings: Settings
    #: One figure per run, run *i* in round *i* of the cell's row: items/s,
    #: or seconds for a latency.
    runs: list[float] = field(default_factory=list)
    #: The wake-ups per 1,000 items of each run, for a channel that counts
    #: them (:meth:`~ringchan.bench.workloads.Pipe.wakeups`); empty for one
    #: that does not.
    wakeups: list[float] = field(default_factory=list)
    #: Why the cell stopped being measured, if it did.
    error: str | None = None

    @property
    def per_item(self) -> bool:
        """True for a batch workload run item by item, for want of a batch API."""
        return self.workload.batched and not self.subject.pipe.native_batches

    @property
    def median(self) -> float:
        """The median run; only for a cell with runs."""
        return statistics.median(self.runs)

    def to_json(self) -> dict[str, Any]:
        """The cell as plain data: every run, the median and min-max, any error."""
        return {
            "workload": self.workload.name,
            "subject": self.subject.key,
            "label": self.subject.label,
            "loop": self.loop,
            "unit": self.workload.unit,
            "items": self.settings.items,
            "bounded": self.subject.bounded,
            "per_item": self.per_item,
            "runs": self.runs,
            "median": self.median if self.runs else None,
            "min": min(self.runs) if self.runs else None,
            "max": max(self.runs) if self.runs else None,
            "wakeups_per_1000": self.wakeups or None,
            "error": self.error,
        }


@dataclass(frozen=True)
class Measurement:
    """What one run of a workload measured."""

    #: Items/s, or seconds for a latency.
    figure: float
    #: Wake-ups sent to a task or thread parked on another thread, per 1,000
    #: items delivered; None for a channel that does not count them.
    wakeups: float | None = None


def _per_thousand(opened: Sequence[Any]) -> float | None:
    """The wake-ups per 1,000 items of the channels *opened* by a run, read
    once it is over; None unless every one of them counts them."""
    wakeups = items = 0
    for pipe in opened:
        counts = getattr(pipe, "wakeups", None)
        found = counts() if callable(counts) else None
        if found is None:
            return None
        wakeups += found[0]
        items += found[1]
    return 1000 * wakeups / items if opened and items else None


def measure(
    workload: Workload,
    opener: Callable[..., Any] | None,
    new_loop: LoopFactory | None,
    settings: Settings,
) -> Measurement:
    """Run *workload* once on a fresh pipe; return its figure, and the
    wake-ups per 1,000 items of the pipe's channel if it counts them.

    Raises :class:`BenchError` if an item is missing, a worker fails, or it
    runs past ``settings.timeout``.
    """
    # What the workload opens is kept until its counters are read, after the
    # clock has stopped; a workload without a channel has no opener.
    opened: list[Any] = []

    def opening(*args: Any) -> Any:
        assert opener is not None
        pipe = opener(*args)
        opened.append(pipe)
        return pipe

    # Garbage left by the previous run must not be collected on this one's clock.
    gc.collect()
    watched = _watch(settings.timeout + WATCHDOG_GRACE)
    try:
        # The pipeline's serial subject has no channel, and no opener.
        body_opener: Any = None if opener is None else opening
        figure = workload.body(body_opener, settings, new_loop)
        return Measurement(figure, _per_thousand(opened))
    except BenchError:
        raise
    except Exception as exc:
        raise BenchError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if watched:
            faulthandler.cancel_dump_traceback_later()


def _watch(seconds: float) -> bool:
    """Arm the watchdog if there is a real stderr for its report."""
    stream = sys.__stderr__
    if stream is None:
        return False
    try:
        faulthandler.dump_traceback_later(seconds, exit=True, file=stream)
    except (io.UnsupportedOperation, OSError, ValueError):
        return False
    return True


class Progress:
    """The line on stderr that tells which measurement is running.

    On a terminal it is rewritten in place and erased at the end; elsewhere
    (a log, a pipe) each measurement gets a line of its own.
    """

    def __init__(self, stream: IO[str], total: int) -> None:
        self._stream = stream
        self._total = total
        self._done = 0
        self._tty = stream.isatty()

    def start(self, cell: Cell, attempt: int, repeat: int, measuring: bool = True) -> None:
        """Announce the measurement of *cell* about to run (or counted as
        skipped, not *measuring*, once the cell has failed)."""
        self._done += 1
        if not measuring:
            return
        where = f", {cell.loop}" if cell.loop else ""
        self._write(
            f"[{self._done}/{self._total}] {cell.workload.name}: "
            f"{cell.subject.label}{where}, run {attempt}/{repeat}"
        )

    def sizing(self, cell: Cell) -> None:
        """Announce the runs that size *cell*'s measurements."""
        where = f", {cell.loop}" if cell.loop else ""
        self._write(f"{cell.workload.name}: {cell.subject.label}{where}, sizing its runs")

    def _write(self, text: str) -> None:
        if self._tty:
            self._stream.write(f"\r\x1b[K{text}")
        else:
            self._stream.write(f"{text}\n")
        self._stream.flush()

    def finish(self) -> None:
        """Erase the line on a terminal, so that it leaves nothing behind."""
        if self._tty:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


class Suite:
    """The cells to measure: each workload on each subject that can run it,
    on each event loop asked for (once for a workload that runs none); a row
    of cells per group of workloads, measured in the same rounds."""

    def __init__(
        self,
        workloads: Sequence[Workload],
        subjects: Sequence[Subject],
        loops: dict[str, LoopFactory],
        settings: Settings,
        repeat: int,
    ) -> None:
        self.settings = settings
        self.repeat = repeat
        self.subjects = list(subjects)
        self._loops = loops
        self._openers = {subject.key: subject.load() for subject in subjects}
        groups: dict[str, list[Workload]] = {}
        for workload in workloads:
            groups.setdefault(rounds_of(workload), []).append(workload)
        self.rows: list[list[Cell]] = [
            [
                Cell(workload, subject, loop, workload.settings(settings))
                for workload in group
                for loop in (loops if workload.uses_loop else [None])
                for subject in subjects
                if workload.supports(subject.pipe)
            ]
            for group in groups.values()
        ]

    @property
    def cells(self) -> list[Cell]:
        """Every cell, workload by workload."""
        return [cell for row in self.rows for cell in row]

    def run(self, progress: Progress | None = None) -> Iterator[list[Cell]]:
        """Measure each row's cells, yielding them as each row ends.

        With a :attr:`Settings.duration`, each cell of a row is sized just
        before the row's rounds (:meth:`_size`).
        """
        for row in self.rows:
            if self.settings.duration is not None:
                for cell in row:
                    if progress is not None:
                        progress.sizing(cell)
                    self._size(cell, self.settings.duration)
            for attempt in range(1, self.repeat + 1):
                for cell in row:
                    if progress is not None:
                        progress.start(cell, attempt, self.repeat, cell.error is None)
                    if cell.error is not None:
                        continue
                    try:
                        measured = self._measure(cell, cell.settings)
                    except BenchError as exc:
                        cell.error = f"run {attempt} of {self.repeat}: {exc}"
                    else:
                        cell.runs.append(measured.figure)
                        if measured.wakeups is not None:
                            cell.wakeups.append(measured.wakeups)
            yield row
        if progress is not None:
            progress.finish()

    def total(self) -> int:
        """How many measurements :meth:`run` makes, failures and sizing runs aside."""
        return len(self.cells) * self.repeat

    def _measure(self, cell: Cell, settings: Settings) -> Measurement:
        new_loop = None if cell.loop is None else self._loops[cell.loop]
        opener = partial(self._openers[cell.subject.key], settings.capacity)
        return measure(cell.workload, opener, new_loop, settings)

    def _size(self, cell: Cell, duration: float) -> None:
        """Give *cell* the items that take its measurements about *duration*
        seconds: runs from the fewest items up, each sized from the last's
        rate, until one lasts half the duration; then the fastest rate seen,
        so that a run slowed by a neighbour does not leave the cell too short
        to measure.  At least :data:`SIZING_START` items and
        :data:`SIZING_CAPACITIES` times the capacity, at most
        :attr:`Settings.items`.  The runs are thrown away, but warm each cell
        up before its rounds.  A latency's measurements have their samples,
        not items: it is left as it is."""
        if cell.workload.unit == "s":
            return
        most = cell.settings.items
        capacity = cell.settings.capacity or 0
        least = min(most, max(SIZING_START, SIZING_CAPACITIES * capacity))
        items = least
        rates = []
        while True:
            try:
                rate = self._measure(cell, dataclasses.replace(cell.settings, items=items)).figure
            except BenchError as exc:
                cell.error = f"sizing its measurements: {exc}"
                return
            rates.append(rate)
            if items / rate >= duration / 2 or items == most:
                break
            items = min(most, max(2 * items, round(rate * duration / 2)))
        sized = min(most, max(least, round(max(rates) * duration)))
        cell.settings = dataclasses.replace(cell.settings, items=sized)


def _cpu() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return cpu


def machine() -> dict[str, Any]:
    """The Python, platform and CPU the figures come from."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "cpus": os.cpu_count(),
    }


def si(figure: float, unit: str = "items/s") -> str:
    """*figure* to three significant digits: 1.91M, 149k, or 23.4µs for seconds."""
    if unit == "s":
        return f"{_si(figure * 1e6)}µs"
    return _si(figure)


def _si(rate: float) -> str:
    # Rounded before the suffix is chosen, so 999_999 reads 1.00M, not 1000k.
    rate = float(f"{rate:.3g}")
    scale, suffix = next(
        ((scale, suffix) for scale, suffix in ((1e6, "M"), (1e3, "k")) if rate >= scale),
        (1.0, ""),
    )
    value = rate / scale
    # Fixed decimals rather than "g", which drops zeros: 1.80M, not 1.8M.
    decimals = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{decimals}f}{suffix}"
