"""Smoke runs of the benchmarks on a tiny N, so that they cannot rot.

``python -m ringchan bench`` and ``benchmarks/compare.py`` run in
subprocesses, as users run them; their output's structure is checked, never
a speed.  In-process runs check that a measurement which lost an item, or
whose worker hangs or fails, is reported as an error and not as a figure,
that a feature is measured in the rounds of the code it replaces (and the
unbounded channel, on a channel of its own, in those of the bounded one),
that each cell of the capacity × batch size sweep gets its own capacity and
size, that sizing gives each cell its items, and that aiologic's queues move
every item.  On synthetic results: how the report takes each ratio round by
round, when a verdict is unsettled, the summary line, the terminal tables
and the chart's panels; and that README's headline table is what the
committed results render.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import io
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import ringchan._channel_py as _channel_py
from ringchan.bench.subjects import RingchanPipe, Subject
from ringchan.bench.suite import (
    MIN_ROUNDS,
    SIZING_CAPACITIES,
    SIZING_START,
    UNSETTLED_WIDTH,
    Measurement,
    Progress,
    Spread,
    Suite,
    measure,
    spread,
)
from ringchan.bench.workloads import WORKLOADS, BenchError, Settings, loop_factory

NO_EXTENSIONS = bool(os.environ.get("RINGCHAN_NO_EXTENSIONS"))
SRC = Path(_channel_py.__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
COMPARE = BENCHMARKS / "compare.py"
SCALING = BENCHMARKS / "scaling.py"
HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
HAS_AIOLOGIC = importlib.util.find_spec("aiologic") is not None
HAS_AIOSQLITE = importlib.util.find_spec("aiosqlite") is not None

#: Bound on one benchmark subprocess.
WAIT = 45.0

#: Options that make a whole run take about a second.
TINY = ["--items", "2000", "--repeat", "1", "--samples", "10", "--timeout", "20"]

#: Items of compare.py's RSS check in the smoke run: a thousand blocks.
RSS_ITEMS = 63_000

#: The same for the scaling and pipeline workloads of compare.py: a few seconds.
SCALING_TINY = [
    "--scaling-items",
    "2000",
    "--pipeline-items",
    "500",
    "--scaling-repeat",
    "1",
    "--producers",
    "1",
    "--producers",
    "2",
]

IMPLS = ["py"] if NO_EXTENSIONS else ["c", "py"]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=WAIT
    )


def _check_results(doc: dict[str, Any], subjects: list[str], loops: list[str]) -> None:
    """Every workload on every subject and loop, each with one verified run."""
    found = {(r["workload"], r["subject"], r["loop"]): r for r in doc["results"]}
    for name, workload in WORKLOADS.items():
        for loop in loops if workload.uses_loop else [None]:
            for subject in subjects:
                result = found[(name, subject, loop)]
                assert result["error"] is None, result
                assert len(result["runs"]) == 1
                assert result["min"] <= result["median"] <= result["max"]
                assert result["median"] > 0
                assert result["unit"] == workload.unit


def test_bench_prints_a_row_per_workload():
    proc = _run(["-m", "ringchan", "bench", *TINY, "--impl", "both" if not NO_EXTENSIONS else "py"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Python ")
    assert lines[1].startswith("CPU: ")
    rows = [line.split()[0] for line in lines if line.split()]
    for name in WORKLOADS:
        assert name in rows, proc.stdout
    assert "error" not in proc.stdout
    # The progress line goes to stderr, one line per measurement off a terminal.
    # (Only those lines: a free-threaded interpreter warns there that the C
    # module turned the GIL back on.)
    progress = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == len(WORKLOADS) * len(IMPLS), proc.stderr
    assert progress[-1].startswith(f"[{len(progress)}/{len(progress)}] latency: ")


def test_bench_json_holds_every_run_and_nothing_else():
    loops = ["asyncio", "uvloop"] if HAS_UVLOOP else ["asyncio"]
    loop_args = [arg for loop in loops for arg in ("--loop", loop)]
    impl = "py" if NO_EXTENSIONS else "both"
    proc = _run(["-m", "ringchan", "bench", *TINY, "--json", "--impl", impl, *loop_args])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # progress went to stderr, not into the JSON
    assert proc.stderr
    assert doc["command"].startswith("python -m ringchan bench --items 2000")
    assert doc["settings"]["items"] == 2000
    assert doc["settings"]["loops"] == loops
    assert doc["machine"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert "ringchan" in doc["versions"]
    _check_results(doc, IMPLS, loops)


def test_bench_measures_only_the_workloads_named():
    proc = _run(
        [
            "-m",
            "ringchan",
            "bench",
            *TINY,
            "--json",
            "--impl",
            "py",
            "--workload",
            "pair",
            "--workload",
            "batches",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [r["workload"] for r in doc["results"]] == ["batches", "pair"]


@pytest.mark.skipif(NO_EXTENSIONS, reason="the comparison always measures the C channel")
def test_compare_writes_the_report(tmp_path):
    heap = _benchmark_module("heap")
    report_module = _benchmark_module("report")
    readme_path = BENCHMARKS.parent / "README.md"
    readme = readme_path.read_bytes() if readme_path.is_file() else None
    proc = _run(
        [
            str(COMPARE),
            *TINY,
            *SCALING_TINY,
            "--heap-items",
            "2000",
            "--rss-items",
            str(RSS_ITEMS),
            "--sweep-repeat",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    # The terminal gets aligned tables and the summary line, not Markdown; only a
    # run into the committed results rewrites README's headline.
    lines = proc.stdout.splitlines()
    # The summary closes the tables; after it come only the files written
    # (and, without matplotlib, why there is no chart).
    summary = report_module.summary(report_module.outcomes(doc))
    assert summary in lines and lines[lines.index(summary) + 1].startswith("wrote "), lines
    assert not any(line.startswith("|") for line in lines)
    assert (readme_path.read_bytes() if readme_path.is_file() else None) == readme
    # Each measurement was sized to the duration (0.05 s by default): at least
    # twenty times the capacity of 1024, but never more than --items.
    sized = [r["items"] for r in doc["results"] if r["unit"] != "s"]
    assert doc["settings"]["duration"] == 0.05
    assert sized and all(items == 2000 for items in sized), sized
    # The bounded channel's checks, then an unbounded one's bursts.
    assert [(c["check"], c["unbounded"]) for c in doc["heap"]] == [
        ("same-loop", False),
        ("thread-to-asyncio", False),
        ("same-loop", True),
        ("thread-to-asyncio", True),
    ]
    assert all(c["items"] == 2000 for c in doc["heap"])
    for burst in doc["heap"][2:]:
        # tracemalloc saw the burst's blocks: all but the spare kept from the warm-up.
        assert burst["peak"] >= (2000 // heap.BLOCK_ITEMS - 1) * heap.BLOCK_BYTES, burst
    rss = doc["rss"]
    assert rss["error"] is None, rss
    assert rss["items"] == RSS_ITEMS
    assert rss["block_bytes"] == RSS_ITEMS // heap.BLOCK_ITEMS * heap.BLOCK_BYTES
    assert all(rss[key] > 0 for key in ("before", "peak", "drained")), rss
    loops = ["asyncio", "uvloop"] if HAS_UVLOOP else ["asyncio"]
    _check_results(doc, ["c", "py"], loops)
    subjects = {r["subject"] for r in doc["results"]}
    assert {"asyncio-queue", "queue-queue", "queue-simple", "deque", "call-soon"} <= subjects
    report = (tmp_path / "REPORT.md").read_text(encoding="utf-8")
    assert f"`{doc['command']}`" in report
    assert "## Targets" in report
    assert "## Heap" in report
    assert "### RSS after a burst\n" in report
    assert f"| {RSS_ITEMS:,} | " in report
    for name in WORKLOADS:
        assert f"### {name}\n" in report
    # The features' targets, C and pure, and the unbounded channel's, same
    # loop and thread → asyncio, each loop: a figure, never "not measured".
    for feature in (
        "`rx.batches()` overhead per item",
        "`from_iterable` → `async for`",
        "unbounded vs bounded C, cost per item",
    ):
        rows = [line for line in report.splitlines() if line.startswith(f"| {feature}")]
        assert len(rows) == 2 * len(loops), rows
        assert all("not measured" not in row for row in rows), rows
    # The memory targets of the unbounded channel: traced, and RSS.
    rows = [line for line in report.splitlines() if line.startswith("| unbounded channel: ")]
    assert len(rows) == 3, rows
    assert all("not measured" not in row for row in rows), rows
    assert "## Capacity and batch size\n" in report
    sweep = doc["sweep"]
    assert len(sweep["results"]) == 2 * 3 * 3
    assert all(r["error"] is None and r["median"] > 0 for r in sweep["results"])
    assert "| 4,096 |" in report
    assert "## Scaling\n" in report
    assert ("## Pipeline\n" in report) == HAS_AIOSQLITE
    assert all(r["error"] is None for r in doc["scaling"]["results"])
    for key, module, label in [
        ("janus", "janus", "janus"),
        ("culsans", "culsans", "culsans"),
        ("aiochannel", "aiochannel", "aiochannel"),
        ("anyio", "anyio", "anyio streams"),
        ("aiologic-queue", "aiologic", "aiologic.Queue"),
        ("aiologic-simple", "aiologic", "aiologic.SimpleQueue"),
    ]:
        if importlib.util.find_spec(module) is not None:
            assert key in subjects
            assert label not in doc["missing"]
        else:
            # Without the bench extra the report still runs, and says what it lacks.
            assert key not in subjects
            assert doc["missing"][label] == "not installed; pip install .[bench]"
            assert f"{label} (not installed; pip install .[bench])" in report
    if HAS_AIOLOGIC:
        assert "| aiologic.SimpleQueue (unbounded) |" in report
    assert "| queue.SimpleQueue (unbounded) |" in report
    # ringchan's own counters, per workload and implementation.
    assert "### Wake-ups per 1,000 items\n" in report
    for result in doc["results"]:
        counted = result["wakeups_per_1000"]
        assert (counted is not None) == (result["subject"] in ("c", "py")), result
        assert counted is None or all(figure >= 0 for figure in counted)
        assert "| aiologic.Queue |" in report
        assert f"aiologic {doc['versions']['aiologic']}" in report  # the Versions line
    chart = tmp_path / "chart.png"
    if importlib.util.find_spec("matplotlib") is not None:
        assert chart.read_bytes().startswith(b"\x89PNG")
        assert "](chart.png)" in report
    else:
        assert not chart.exists()
        assert "No chart: matplotlib is not installed" in report


class LossyPipe(RingchanPipe):
    """Loses the first item of every producer's share."""

    async def send_async(self, producer: int, numbers: range) -> None:
        await super().send_async(producer, numbers[1:])

    def send_blocking(self, producer: int, numbers: range) -> None:
        super().send_blocking(producer, numbers[1:])

    async def send_batches(self, producer: int, numbers: range, size: int) -> None:
        await super().send_batches(producer, numbers[1:], size)

    async def recv_iterable(self, numbers: range) -> int:
        return await super().recv_iterable(numbers[1:])

    def pair(self, numbers: range) -> int:
        return super().pair(numbers[1:])


class HungPipe(RingchanPipe):
    """A consumer that never returns, until the measurement aborts it."""

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self._released = threading.Event()

    async def recv_async(self) -> int:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def recv_blocking(self) -> int:
        self._released.wait()
        return 0

    def abort(self) -> None:
        super().abort()
        self._released.set()


class FailingPipe(RingchanPipe):
    """A producer that raises before sending anything; from_iterable's, an
    iterable that raises after ten items."""

    async def send_async(self, producer: int, numbers: range) -> None:
        raise ValueError("no sending today")

    def send_blocking(self, producer: int, numbers: range) -> None:
        raise ValueError("no sending today")

    async def recv_iterable(self, numbers: range) -> int:
        def failing() -> Iterator[int]:
            yield from numbers[:10]
            raise ValueError("no sending today")

        return await super().recv_iterable(failing())  # type: ignore[arg-type]


def _asyncio_suite(names: list[str], subject: Subject, settings: Settings, repeat: int) -> Suite:
    """A suite of the workloads *names* for *subject*, on the asyncio loop."""
    return Suite(
        [WORKLOADS[name] for name in names],
        [subject],
        {"asyncio": loop_factory("asyncio")},
        settings,
        repeat=repeat,
    )


def _errors(chan_module: Any, pipe: type, names: list[str], timeout: float) -> dict[str, str]:
    subject = Subject("x", "x", chan_module.__name__, pipe)
    settings = Settings(items=500, capacity=64, batch=16, samples=5, timeout=timeout)
    suite = _asyncio_suite(names, subject, settings, repeat=2)
    for _ in suite.run():
        pass
    for cell in suite.cells:
        assert cell.runs == [], cell  # a failed cell is not measured again
    return {cell.workload.name: str(cell.error) for cell in suite.cells}


def test_a_lost_item_is_an_error_not_a_figure(chan_module):
    names = [name for name in WORKLOADS if name != "latency"]
    errors = _errors(chan_module, LossyPipe, names, timeout=10.0)
    assert errors["4-threads-to-asyncio"] == (
        "run 1 of 2: the consumer received 496 items, not 500"
    )
    for name in names:
        assert "items, not 500" in errors[name], name


def test_a_hung_consumer_times_out(chan_module):
    errors = _errors(chan_module, HungPipe, ["same-loop", "thread-to-thread"], timeout=0.2)
    assert "the consumer task did not finish within 0.2 s" in errors["same-loop"]
    assert "hung: consumer" in errors["thread-to-thread"]


def test_a_failing_producer_is_reported(chan_module):
    names = ["same-loop", "thread-to-asyncio", "from-iterable"]
    errors = _errors(chan_module, FailingPipe, names, timeout=10.0)
    for name in names:
        assert "ValueError('no sending today')" in errors[name], name


#: Each feature workload, and the workload of the hand-written code it
#: replaces; each unbounded channel's workload, and the bounded one's.
FEATURES = {
    "unbounded-same-loop": "same-loop",
    "from-iterable": "thread-to-asyncio",
    "unbounded-thread-to-asyncio": "thread-to-asyncio",
    "unbounded-thread-to-thread": "thread-to-thread",
    "rx-batches": "batches",
}


def test_features_count_every_item_in_the_rounds_of_their_baseline(chan_module):
    subject = Subject("x", "x", chan_module.__name__, RingchanPipe)
    settings = Settings(items=3000, capacity=64, batch=16, samples=5, timeout=10.0)
    names = [name for name in WORKLOADS if name in FEATURES or name in FEATURES.values()]
    suite = _asyncio_suite(names, subject, settings, repeat=2)
    # A feature shares its baseline's row: they are measured in turns; and
    # thread-to-asyncio, with its own features, joins the rounds of same-loop.
    first = [
        "same-loop",
        "unbounded-same-loop",
        "thread-to-asyncio",
        "from-iterable",
        "unbounded-thread-to-asyncio",
    ]
    assert [[cell.workload.name for cell in row] for row in suite.rows] == [
        first,
        ["thread-to-thread", "unbounded-thread-to-thread"],
        ["batches", "rx-batches"],
    ]
    progress = io.StringIO()
    for _ in suite.run(Progress(progress, suite.total())):
        pass
    lines = progress.getvalue().splitlines()
    assert [line.split("] ")[1].split(":")[0] for line in lines[:14]] == [
        *first * 2,
        *["thread-to-thread", "unbounded-thread-to-thread"] * 2,
    ]
    for cell in suite.cells:
        # Each run already checked that every item arrived: a figure, not an error.
        assert cell.error is None, cell
        assert len(cell.runs) == 2 and all(run > 0 for run in cell.runs)


class CapacityPipe(RingchanPipe):
    """Keeps the capacity of every channel it opened, as the channel tells it."""

    opened: ClassVar[list[Any]] = []

    def __init__(self, module: Any, capacity: Any, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self.opened.append((capacity, self._rx.capacity))


def test_the_unbounded_workloads_open_an_unbounded_channel(chan_module):
    subject = Subject("x", "x", chan_module.__name__, CapacityPipe)
    settings = Settings(items=3000, capacity=64, batch=16, samples=5, timeout=10.0)
    names = [
        "same-loop",
        "unbounded-same-loop",
        "thread-to-asyncio",
        "unbounded-thread-to-asyncio",
        "thread-to-thread",
        "unbounded-thread-to-thread",
    ]
    suite = _asyncio_suite(names, subject, settings, repeat=1)
    CapacityPipe.opened = []
    for _ in suite.run():
        pass
    for cell in suite.cells:
        assert cell.error is None, cell
        assert len(cell.runs) == 1 and cell.runs[0] > 0
    assert CapacityPipe.opened == [(64, 64), (None, None)] * 3
    # A channel whose pipe opens no unbounded channel sits them out.
    peers = _benchmark_module("peers")
    for name in names:
        assert WORKLOADS[name].supports(RingchanPipe)
        assert WORKLOADS[name].supports(peers.MixedQueuePipe) == (not name.startswith("unbounded-"))


class RecordingPipe(RingchanPipe):
    """Keeps the capacity it was opened with and the size each consumer asked for."""

    seen: ClassVar[list[Any]] = []

    def __init__(self, module: Any, capacity: int, producers: int) -> None:
        super().__init__(module, capacity, producers)
        self.capacity = capacity

    async def recv_batches(self, size: int) -> int:
        self.seen.append(("recv_many", self.capacity, size))
        return await super().recv_batches(size)

    async def recv_windows(self, size: int, wait: float) -> int:
        self.seen.append(("batches", self.capacity, size))
        return await super().recv_windows(size, wait)


def test_the_sweep_measures_each_cell_with_its_own_capacity_and_size(chan_module):
    sweep = _benchmark_module("sweep")
    subject = Subject("x", "x", chan_module.__name__, RecordingPipe)
    cells = [
        sweep.workload(consumer, capacity, size)
        for consumer in sweep.CONSUMERS
        for capacity in sweep.CAPACITIES
        for size in sweep.SIZES
    ]
    settings = Settings(items=500, capacity=1024, batch=256, samples=5, timeout=10.0)
    suite = Suite(cells, [subject], {"asyncio": loop_factory("asyncio")}, settings, repeat=1)
    assert len(suite.rows) == 1  # every cell in the same rounds
    RecordingPipe.seen = []
    for _ in suite.run():
        pass
    assert all(cell.error is None and cell.runs[0] > 0 for cell in suite.cells)
    assert RecordingPipe.seen == [
        (consumer, capacity, size)
        for consumer in sweep.CONSUMERS
        for capacity in sweep.CAPACITIES
        for size in sweep.SIZES
    ]


@pytest.mark.skipif(NO_EXTENSIONS, reason="the sweep measures the C channel")
def test_the_sweep_table_has_a_row_per_capacity():
    sweep = _benchmark_module("sweep")
    settings = Settings(items=500, capacity=1024, batch=256, samples=5, timeout=10.0)
    doc = sweep.run(settings, 1, "asyncio", loop_factory("asyncio"))
    assert len(doc["results"]) == len(sweep.CONSUMERS) * 3 * 3
    for result in doc["results"]:
        assert result["error"] is None, result
        assert result["median"] > 0 and result["subject"] == "c"
    lines = sweep.table(doc).splitlines()
    assert lines[0] == (
        "| capacity | `recv_many(1)` | `recv_many(16)` | `recv_many(256)` | "
        "`batches(1, 0.01)` | `batches(16, 0.01)` | `batches(256, 0.01)` |"
    )
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| 16", "| 256", "| 4,096"]
    assert "error" not in "\n".join(lines) and "–" not in "\n".join(lines[2:])


def _benchmark_module(name: str) -> Any:
    """A module of benchmarks/, imported the way its scripts import each other."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def test_producer_counts_follow_the_cores():
    counts = _benchmark_module("scaling").producer_counts
    assert counts(1) == [1, 2, 4]
    assert counts(2) == [1, 2, 3, 4]
    assert counts(6) == [1, 2, 4, 7]
    assert counts(8) == [1, 2, 4, 8, 9]


@pytest.mark.skipif(NO_EXTENSIONS, reason="the scaling run always measures the C channel")
def test_scaling_counts_every_item():
    proc = _run(
        [
            str(SCALING),
            "--items",
            "3000",
            "--pipeline-items",
            "500",
            "--repeat",
            "1",
            "--producers",
            "1",
            "--producers",
            "3",
            "--timeout",
            "20",
            "--json",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["settings"]["producers"] == [1, 3]
    [interpreter] = doc["interpreters"]
    assert interpreter["python"] == ".".join(map(str, sys.version_info[:3]))
    # Only C's worker imports the C module; the pure twin and the peers run elsewhere.
    assert set(interpreter["workers"]) <= {"c", "c-gil", "rest"}
    found = {
        (r["kind"], r["channel"], r["producers"], r["consumer"], r["batched"]): r
        for r in doc["results"]
    }
    channels = ["c", "py", "queue-queue", "queue-simple"]
    if HAS_AIOLOGIC:
        channels += ["aiologic-queue", "aiologic-simple"]
    else:
        assert interpreter["missing"]["aiologic.Queue"] == "not installed; pip install .[bench]"
    for channel in channels:
        for producers in (1, 3):
            for consumer in ("thread", "asyncio"):
                for batched in (False, True):
                    key = ("scaling", channel, producers, consumer, batched)
                    if consumer == "asyncio" and channel.startswith("queue-"):
                        assert key not in found  # queue's queues cannot be awaited
                        continue
                    result = found[key]
                    assert result["error"] is None, result
                    assert result["median"] > 0 and len(result["runs"]) == 1
                    assert result["per_item"] == (batched and channel not in ("c", "py"))
                    assert result["bounded"] == (not channel.endswith("-simple"))
                    # ringchan counts its wake-ups; the others do not.
                    counted = result["wakeups_per_1000"]
                    assert (counted is not None) == (channel in ("c", "py")), result
    pipeline = {r["channel"] for r in doc["results"] if r["kind"] == "pipeline"}
    # A free-threaded build also measures C with the GIL forced on.
    forced = {"c-gil"} if interpreter["free_threaded"] else set()
    assert pipeline == ({"c", "py", "serial"} | forced if HAS_AIOSQLITE else set())
    assert all(r["error"] is None for r in doc["results"])


class LossyFeed:
    """Loses the last item of every producer's share, one way of sending or the other."""

    def __init__(self, feed: Any) -> None:
        self._feed = feed

    def send(self, producer: int, items: Any) -> None:
        self._feed.send(producer, items[:-1])

    def send_batches(self, producer: int, items: Any, batches: Any) -> None:
        self._feed.send_batches(producer, items, [*batches[:-1], batches[-1][:-1]])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._feed, name)


def test_a_lost_scaling_item_is_an_error_not_a_figure(chan_module):
    workloads = _benchmark_module("scaling_workloads")
    settings = Settings(items=600, capacity=64, batch=16, samples=1, timeout=10.0)

    def opener(producers: int) -> Any:
        return LossyFeed(workloads.RingchanFeed(chan_module, settings.capacity, producers))

    for consumer in workloads.CONSUMERS:
        for batched in (False, True):
            workload = workloads.scaling_workload(2, consumer, batched)
            new_loop = loop_factory("asyncio") if workload.uses_loop else None
            with pytest.raises(
                BenchError, match="598 items summing to 178802, not 600 summing to 179700"
            ):
                measure(workload, opener, new_loop, settings)


def test_the_pipeline_database_is_checked():
    stored = _benchmark_module("scaling_workloads")._stored
    stored((4, 6), 4)
    for row in [(3, 3), (4, 7), None]:
        with pytest.raises(BenchError, match="the database holds"):
            stored(row, 4)


# --------------------------------------------------------------------------
# Rounds, spreads and verdicts, on synthetic results: what the report says of
# given runs, never a speed.


def test_a_ratio_is_taken_round_by_round():
    gains = spread([10.0, 20.0, 30.0, 40.0, 50.0], [5.0, 5.0, 10.0, 10.0, 25.0], _divide)
    assert gains is not None
    assert gains.values == (2.0, 4.0, 3.0, 4.0, 2.0)
    assert gains.median == 3.0
    # Not the ratio of the medians, 30 / 10.
    assert gains.quartiles == (2.0, 4.0)
    assert gains.width == pytest.approx(2 / 3)
    assert gains.wide
    assert gains.map(lambda gain: 1 / gain).values == (0.5, 0.25, 1 / 3, 0.25, 0.5)
    # A cell that failed in round 3 is compared on the rounds both have.
    assert spread([10.0, 20.0, 30.0], [5.0, 5.0], _divide).values == (2.0, 4.0)  # type: ignore[union-attr]
    assert spread([10.0], [], _divide) is None


def test_a_spread_is_wide_when_its_rounds_disagree_or_are_too_few():
    steady = Spread((6.3, 6.5, 6.4, 6.6, 6.2, 6.5, 6.4))
    assert steady.width < UNSETTLED_WIDTH and not steady.wide
    # The same values, but for one round a neighbour disturbed: the
    # interquartile range ignores it, as a min-max would not.
    assert not Spread((6.3, 6.5, 6.4, 6.6, 6.2, 6.5, 19.0)).wide
    assert Spread((4.0, 6.5, 9.0, 5.0, 8.0)).wide
    assert Spread((6.4, 6.5)).wide  # fewer than MIN_ROUNDS rounds
    assert MIN_ROUNDS == 3


def test_a_verdict_is_unsettled_only_where_the_spread_could_reverse_it():
    outcome = _benchmark_module("outcome")

    def at_least_6(value: float) -> bool:
        return value >= 6

    # Wide, and the bound inside the middle half of the rounds.
    assert outcome.unsettled(Spread((4.0, 6.5, 9.0, 5.0, 8.0)), at_least_6)
    # As wide, but every middle round above the bound: met whatever the round.
    assert not outcome.unsettled(Spread((8.0, 10.5, 13.0, 9.0, 12.0)), at_least_6)
    # Narrow, the bound inside: the median decides.
    assert not outcome.unsettled(Spread((5.9, 6.0, 6.1, 6.0, 6.05)), at_least_6)
    # Too few rounds to know.
    assert outcome.unsettled(Spread((10.0, 10.0)), at_least_6)


def _divide(mine: float, other: float) -> float:
    return mine / other


def _result(workload: str, subject: str, label: str, loop: Any, runs: list[float]) -> dict:
    return {
        "workload": workload,
        "subject": subject,
        "label": label,
        "loop": loop,
        "unit": WORKLOADS[workload].unit,
        "items": 1000,
        "bounded": subject != "aiologic-simple",
        "per_item": False,
        "runs": runs,
        "median": statistics.median(runs),
        "min": min(runs),
        "max": max(runs),
        "error": None,
    }


def _synthetic(results: list[dict]) -> dict:
    """A results document as compare.py writes it, around *results*."""
    return {
        "command": "python benchmarks/compare.py",
        "machine": {
            "python": "3.11.7",
            "implementation": "CPython",
            "platform": "Linux",
            "cpu": "a CPU",
            "cpus": 2,
        },
        "settings": {
            "items": 1000,
            "capacity": 1024,
            "batch": 256,
            "samples": 10,
            "timeout": 10.0,
            "duration": None,
            "repeat": 5,
            "loops": ["asyncio", "uvloop"],
        },
        "versions": {"ringchan": "0.1.0"},
        "results": results,
        "missing": {},
        "date": "2026-01-01 00:00 UTC",
    }


#: ringchan C's same-loop runs, five rounds on each loop.
C_RUNS = [10e6, 10e6, 5e6, 10e6, 10e6]


def _same_loop(asyncio_runs: list[float], uvloop_runs: list[float]) -> dict:
    """Same-loop results of ringchan C and asyncio.Queue, and a thread-to-thread
    pair for one target with neither loop."""
    return _synthetic(
        [
            _result("same-loop", "c", "ringchan C", "asyncio", C_RUNS),
            _result("same-loop", "asyncio-queue", "asyncio.Queue", "asyncio", asyncio_runs),
            _result("same-loop", "c", "ringchan C", "uvloop", C_RUNS),
            _result("same-loop", "asyncio-queue", "asyncio.Queue", "uvloop", uvloop_runs),
            _result("same-loop", "aiologic-simple", "aiologic.SimpleQueue", "asyncio", C_RUNS),
        ]
    )


def test_a_target_is_judged_on_its_per_round_ratios():
    report = _benchmark_module("report")
    outcome = _benchmark_module("outcome")
    # asyncio: 8x in every round, though C was slow in round 3 (as was the
    # peer, the same moment): met.  uvloop: the peer's runs wander, the
    # per-round ratio from 5x to 10x, its middle half from 5x to 7.69x around
    # the bound of 6x: unsettled.
    doc = _same_loop([1.25e6, 1.25e6, 0.625e6, 1.25e6, 1.25e6], [1e6, 2e6, 1e6, 1.6e6, 1.3e6])
    judged = [o for o in report.outcomes(doc) if o.text.startswith("same loop")]
    assert [(o.loop, o.verdict, o.measured) for o in judged] == [
        ("asyncio", outcome.MET, "8.00x"),
        ("uvloop", outcome.UNSETTLED, "6.25x"),
    ]
    assert judged[0].spread_text() == "8.00x–8.00x (0%)"
    assert judged[1].spread_text() == "5.00x–7.69x (43%)"
    assert judged[1].verdict_text() == "**unsettled** (spread 43%)"
    # A steady ratio under the bound is not met; one as wide as uvloop's but
    # wholly above the bound is met.
    doc = _same_loop([2e6, 2e6, 1e6, 2e6, 2e6], [1e6, 0.5e6, 0.5e6, 0.8e6, 0.65e6])
    judged = [o for o in report.outcomes(doc) if o.text.startswith("same loop")]
    assert [(o.verdict, o.measured, o.spread) for o in judged] == [
        (outcome.NOT_MET, "5.00x", "5.00x–5.00x"),
        (outcome.MET, "12.50x", "10.00x–15.38x"),
    ]


def test_the_summary_line_counts_every_verdict():
    outcome = _benchmark_module("outcome")
    judged = [
        outcome.Outcome("a", "–", "≥ 1x", outcome.MET),
        outcome.Outcome("b", "–", "≥ 1x", outcome.MET),
        outcome.Outcome("c", "–", "≥ 1x", outcome.NOT_MET),
        outcome.Outcome("d", "–", "≥ 1x", outcome.UNSETTLED),
        outcome.Outcome("e", "–", "≥ 1x", outcome.NOT_MEASURED),
    ]
    assert outcome.summary(judged) == (
        "2 of 5 targets met, 1 not met, 1 unsettled (spread too wide to tell), 1 not measured"
    )
    assert outcome.summary(judged[:3]) == "2 of 3 targets met, 1 not met"


def test_the_report_opens_with_the_summary_line_and_says_what_the_spread_means():
    report = _benchmark_module("report")
    outcome = _benchmark_module("outcome")
    doc = _same_loop([1.25e6, 1.25e6, 0.625e6, 1.25e6, 1.25e6], [1e6, 2e6, 1e6, 1.6e6, 1.3e6])
    text = report.markdown(doc, None, "No chart.", {})
    head = text.split("## Targets")[0]
    line = outcome.summary(report.outcomes(doc))
    # Met on asyncio, unsettled on uvloop; the pure twin's targets on the same
    # workload lack the pure twin.
    assert (
        line
        == "1 of 4 targets met, 0 not met, 1 unsettled (spread too wide to tell), 2 not measured"
    )
    assert f"**{line}.**" in head.splitlines()[:6]
    assert "the stable part" not in text
    assert "interquartile range" in head and "**unsettled**" in head
    # The target's row carries its spread and verdict; the unbounded peer is named so.
    assert "| 6.25x | 5.00x–7.69x (43%) | ≥ 6x | **unsettled** (spread 43%) |" in text
    assert "| **not measured** (ringchan pure missing or failed) |" in text
    assert "| aiologic.SimpleQueue (unbounded) | 10.0M |" in text


def test_the_terminal_summary_is_an_aligned_table_with_the_summary_line():
    report = _benchmark_module("report")
    outcome = _benchmark_module("outcome")
    doc = _same_loop([1.25e6, 1.25e6, 0.625e6, 1.25e6, 1.25e6], [1e6, 2e6, 1e6, 1.6e6, 1.3e6])
    lines = report.terminal(doc).splitlines()
    assert lines[-1] == outcome.summary(report.outcomes(doc))
    assert not any(line.startswith("|") for line in lines)  # not Markdown
    block = lines[lines.index(next(line for line in lines if line.startswith("same-loop "))) :]
    block = block[: block.index("")]
    header, rule, *rows = block
    assert header.split() == [
        "same-loop",
        "items/s",
        "(asyncio)",
        "min–max",
        "C",
        "gain",
        "(IQR)",
        "items/s",
        "(uvloop)",
        "min–max",
        "C",
        "gain",
        "(IQR)",
    ]
    assert [row.split("  ")[0] for row in rows] == [
        "ringchan C",
        "asyncio.Queue",
        "aiologic.SimpleQueue (unbounded)",
    ]
    # Right-aligned figures: each ends where its column's rule ends.
    pairs = zip(rule, rule[1:] + " ", strict=True)
    ends = [i + 1 for i, pair in enumerate(pairs) if pair == ("-", " ")]
    asyncio_queue = rows[1]
    assert asyncio_queue[: ends[1]].endswith("1.25M")
    assert asyncio_queue[: ends[3]].endswith("8.00x (8.00–8.00)")
    assert asyncio_queue[: ends[6]].endswith("6.25x (5.00–7.69)")
    verdicts = [line for line in lines if line.startswith(("met ", "unsettled "))]
    assert len(verdicts) == 2 and "same loop: `await tx.send`" in verdicts[0]
    assert verdicts[1].split("  ")[0] == "unsettled (spread 43%)"


def test_the_chart_draws_gains_on_linear_axes_and_floors_as_lines():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    report = _benchmark_module("report")
    doc = _same_loop([1.25e6, 1.25e6, 0.625e6, 1.25e6, 1.25e6], [1e6, 2e6, 1e6, 1.6e6, 1.3e6])
    rows = report._panel_rows(doc, "same-loop")
    assert [row.label for row in rows] == ["asyncio.Queue", "aiologic.SimpleQueue (unbounded)"]
    assert rows[0].floor == 6 and rows[1].floor is None
    figure, axis = plt.subplots()
    try:
        report._draw_panel(axis, "same-loop", rows, {"asyncio": "b", "uvloop": "r"})
        assert axis.get_xscale() == "linear"
        assert "higher is better" in axis.get_xlabel()
        # One bar per channel and loop, the floor not among them...
        widths = sorted(round(patch.get_width(), 2) for patch in axis.patches)
        assert widths == [1.0, 6.25, 8.0]
        # ...but a reference line at 6x across the asyncio.Queue row.
        floors = [
            segment
            for collection in axis.collections
            if isinstance(collection, LineCollection)
            for segment in collection.get_segments()
        ]
        assert any(segment[0][0] == segment[1][0] == 6 for segment in floors)
    finally:
        plt.close(figure)


# --------------------------------------------------------------------------
# README's headline figures.


def test_the_readme_headline_is_what_the_committed_results_render():
    readme_path = BENCHMARKS.parent / "README.md"
    results = BENCHMARKS / "results" / "results.json"
    if not (readme_path.is_file() and results.is_file()):
        # An sdist leaves the results out, and a wheel's test run has no README.
        pytest.skip("needs the checkout's README.md and benchmarks/results/")
    report = _benchmark_module("report")
    readme = readme_path.read_text(encoding="utf-8")
    doc = json.loads(results.read_text(encoding="utf-8"))
    start = readme.index(report.HEADLINE_START) + len(report.HEADLINE_START)
    end = readme.index(report.HEADLINE_END)
    assert readme[start:end] == "\n" + report.headline(doc) + "\n"
    # So is the capacity × batch size table, from the same run's sweep.
    start = readme.index(report.SWEEP_START) + len(report.SWEEP_START)
    end = readme.index(report.SWEEP_END)
    sweep = _benchmark_module("sweep")
    assert readme[start:end] == "\n" + sweep.table(doc["sweep"]) + "\n"
    assert report.with_headline(readme, doc) == readme
    # Absolute links: the package index shows README.md away from the repository.
    assert f"]({report.REPORT_URL})" in readme
    assert "](benchmarks/results/" not in readme


def test_the_headline_names_the_fastest_other_channel():
    report = _benchmark_module("report")
    doc = _same_loop([1.25e6, 1.25e6, 0.625e6, 1.25e6, 1.25e6], [1e6, 2e6, 1e6, 1.6e6, 1.3e6])
    doc["results"][-1]["runs"] = [2e6, 2e6, 1e6, 2e6, 2e6]
    doc["results"][-1]["median"] = 2e6
    table = report.headline(doc).splitlines()[-1]
    # On the first loop, asyncio: aiologic.SimpleQueue, 5x, beats asyncio.Queue's 8x.
    assert table == (
        "| same-loop (asyncio) | 10.0M items/s | aiologic.SimpleQueue (unbounded), "
        "2.00M items/s | 5.0x (5.0–5.0) |"
    )
    with pytest.raises(ValueError, match="headline"):
        report.with_headline("# no markers\n", doc)


# --------------------------------------------------------------------------
# The aiologic peers and the sizing of measurements, in tiny runs.


@pytest.mark.skipif(not HAS_AIOLOGIC, reason="aiologic is not installed (the bench extra)")
@pytest.mark.parametrize("key", ["aiologic-queue", "aiologic-simple"])
def test_the_aiologic_pipes_move_every_item(key):
    peers = _benchmark_module("peers")
    subject = peers.PEERS[key]
    settings = Settings(items=300, capacity=16, batch=16, samples=5, timeout=10.0)
    plays = [name for name, workload in WORKLOADS.items() if workload.supports(subject.pipe)]
    # Every workload another library can run: only ringchan's own features are left out.
    assert plays == [
        "same-loop",
        "thread-to-asyncio",
        "4-threads-to-asyncio",
        "thread-to-thread",
        "2-threads-to-thread",
        "batches",
        "pair",
        "latency",
    ]
    suite = _asyncio_suite(plays, subject, settings, repeat=1)
    for _ in suite.run():
        pass
    for cell in suite.cells:
        # Each run checked that exactly every item arrived.
        assert cell.error is None, cell
        assert len(cell.runs) == 1 and cell.runs[0] > 0
    assert subject.bounded == (key == "aiologic-queue")


class ProbedSuite(Suite):
    """Keeps, for each cell, the items and rate of every run that sized it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.probes: dict[str, list[tuple[int, float]]] = {}
        self._sizing: list[tuple[int, float]] | None = None

    def _size(self, cell: Any, duration: float) -> None:
        self._sizing = self.probes.setdefault(cell.workload.name, [])
        try:
            super()._size(cell, duration)
        finally:
            self._sizing = None

    def _measure(self, cell: Any, settings: Settings) -> Measurement:
        measured = super()._measure(cell, settings)
        if self._sizing is not None:
            self._sizing.append((settings.items, measured.figure))
        return measured


def test_sizing_gives_each_cell_the_items_of_its_duration(chan_module):
    subject = Subject("x", "x", chan_module.__name__, RingchanPipe)
    settings = Settings(
        items=50_000, capacity=64, batch=16, samples=5, timeout=10.0, duration=0.002
    )
    names = ["same-loop", "batches", "pair", "latency"]
    suite = ProbedSuite(
        [WORKLOADS[name] for name in names],
        [subject],
        {"asyncio": loop_factory("asyncio")},
        settings,
        repeat=2,
    )
    progress = io.StringIO()
    for _ in suite.run(Progress(progress, suite.total())):
        pass
    lines = progress.getvalue().splitlines()
    assert lines[0] == "same-loop: x, asyncio, sizing its runs"
    # Sizing runs are not counted among the measurements.
    assert len([line for line in lines if line.startswith("[")]) == suite.total()
    found = {cell.workload.name: cell for cell in suite.cells}
    least = SIZING_CAPACITIES * 64
    assert least > SIZING_START
    for name in ("same-loop", "batches", "pair"):
        cell = found[name]
        assert cell.error is None, cell
        # At least twenty times the capacity of 64, so that the channel is full
        # for most of a measurement, and never more than --items.
        assert least <= cell.settings.items <= 50_000
        assert cell.to_json()["items"] == cell.settings.items
        assert len(cell.runs) == 2
        # The items follow from the cell's own sizing runs, whatever their
        # speed: the first sends the fewest; each next one is sized from the
        # last one's rate; they stop once one lasts half the duration (or
        # sends the most); the fastest rate seen sets the cell's items.
        probes = suite.probes[name]
        assert probes[0][0] == least
        for (items, rate), (following, _) in itertools.pairwise(probes):
            assert items / rate < 0.001 and items < 50_000
            assert following == min(50_000, max(2 * items, round(rate * 0.001)))
        last_items, last_rate = probes[-1]
        assert last_items / last_rate >= 0.001 or last_items == 50_000
        fastest = max(rate for _, rate in probes)
        assert cell.settings.items == min(50_000, max(least, round(fastest * 0.002)))
    # A latency has samples, not items: left as it is, and never sized.
    assert found["latency"].settings.items == 50_000
    assert suite.probes["latency"] == []


class CountingPipe(RingchanPipe):
    """Reports fixed counters: 3 wake-ups over 1,500 items."""

    def wakeups(self) -> tuple[int, int]:
        return 3, 1500


def test_wakeups_per_thousand_items_flow_from_the_channel_into_the_results(chan_module):
    settings = Settings(items=1500, capacity=64, batch=16, samples=5, timeout=10.0)
    counting = Subject("x", "x", chan_module.__name__, CountingPipe)
    plain = Subject("y", "y", chan_module.__name__, RingchanPipe)
    suite = Suite(
        [WORKLOADS["thread-to-thread"], WORKLOADS["pair"]],
        [counting, plain],
        {},
        settings,
        repeat=2,
    )
    for _ in suite.run():
        pass
    found = {(cell.workload.name, cell.subject.key): cell.to_json() for cell in suite.cells}
    # The figure is the pipe's counters, read once the run is over.
    assert found[("thread-to-thread", "x")]["wakeups_per_1000"] == [2.0, 2.0]
    # ringchan's own: a thread alone with its channel wakes nobody.
    assert found[("pair", "y")]["wakeups_per_1000"] == [0.0, 0.0]
    counted = found[("thread-to-thread", "y")]["wakeups_per_1000"]
    assert len(counted) == 2 and all(figure >= 0 for figure in counted)
    # A pipe that counts nothing has none, rather than a zero.
    peers = _benchmark_module("peers")
    queue_subject = peers.PEERS["queue-simple"]
    assert not queue_subject.bounded
    suite = Suite([WORKLOADS["2-threads-to-thread"]], [queue_subject], {}, settings, repeat=1)
    for _ in suite.run():
        pass
    [cell] = suite.cells
    assert cell.error is None and cell.runs[0] > 0
    assert cell.to_json()["wakeups_per_1000"] is None


def test_the_report_holds_the_handoff_targets_and_the_wakeups_of_the_results():
    report = _benchmark_module("report")
    outcome = _benchmark_module("outcome")
    scaling_report = _benchmark_module("scaling_report")
    doc = _synthetic(
        [
            _result("same-loop", "c", "ringchan C", "asyncio", [10e6] * 5),
            _result("thread-to-asyncio", "c", "ringchan C", "asyncio", [5e6] * 5),
            _result("latency", "c", "ringchan C", "asyncio", [30e-6] * 5),
        ]
    )
    doc["settings"]["loops"] = ["asyncio"]
    doc["results"][1]["wakeups_per_1000"] = [1.95] * 5
    judged = {o.text: o for o in report.outcomes(doc)}
    # A ratio between two workloads of the same rounds: a thread's handoff to
    # the loop against a task's.
    handoff = judged[
        "1 thread `blocking_send` → asyncio, vs same loop `await tx.send` → `async for`"
    ]
    assert (handoff.verdict, handoff.measured, handoff.bound) == (
        outcome.NOT_MET,
        "0.50x",
        "≥ 0.8x",
    )
    # The latency's bound is a figure, not a ratio: 10% over the baseline.
    [latency] = [o for o in judged.values() if "lone item" in o.text]
    assert (latency.verdict, latency.measured, latency.bound) == (outcome.MET, "30.0µs", "≤ 33.7µs")
    # Retired: C against the pure twin on batches, the pipeline against serial.
    assert not any(t.workload == "batches" and t.other == "py" for t in report.TARGETS)
    assert not any(t.other == "serial" for t in scaling_report.TARGETS)
    text = report.markdown(doc, None, "No chart.", {})
    assert "### Wake-ups per 1,000 items\n" in text
    assert "| thread-to-asyncio (asyncio) | 1.95 |" in text
    # Results from before the wake-ups were counted render without the table.
    del doc["results"][1]["wakeups_per_1000"]
    assert "Wake-ups per 1,000 items" not in report.markdown(doc, None, "No chart.", {})
    assert outcome.wakeups_text(0) == "0"
    assert outcome.wakeups_text(0.0037759) == "0.00378"
    assert outcome.wakeups_text(1.953897) == "1.95"
    assert outcome.wakeups_text(1000.0) == "1,000"
