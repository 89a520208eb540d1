"""Smoke runs of the benchmarks on a tiny N, so that they cannot rot.

``python -m ringchan bench`` and ``benchmarks/compare.py`` run in
subprocesses, as users run them; their output's structure is checked, never
a speed.  In-process runs check that a measurement which lost an item, or
whose worker hangs or fails, is reported as an error and not as a figure,
that a feature is measured in the rounds of the code it replaces (and the
unbounded channel, on a channel of its own, in those of the bounded one), and
that each cell of the capacity × batch size sweep gets its own capacity and
size.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import ringchan._channel_py as _channel_py
from ringchan.bench.subjects import RingchanPipe, Subject
from ringchan.bench.suite import Progress, Suite, measure
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
    assert {"asyncio-queue", "queue-queue", "deque", "call-soon"} <= subjects
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
    for key, label in [
        ("janus", "janus"),
        ("culsans", "culsans"),
        ("aiochannel", "aiochannel"),
        ("anyio", "anyio streams"),
    ]:
        if importlib.util.find_spec(key) is not None:
            assert key in subjects
            assert label not in doc["missing"]
        else:
            # Without the bench extra the report still runs, and says what it lacks.
            assert key not in subjects
            assert doc["missing"][label] == "not installed; pip install .[bench]"
            assert f"{label} (not installed; pip install .[bench])" in report
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


def _errors(chan_module: Any, pipe: type, names: list[str], timeout: float) -> dict[str, str]:
    subject = Subject("x", "x", chan_module.__name__, pipe)
    settings = Settings(items=500, capacity=64, batch=16, samples=5, timeout=timeout)
    suite = Suite(
        [WORKLOADS[name] for name in names],
        [subject],
        {"asyncio": loop_factory("asyncio")},
        settings,
        repeat=2,
    )
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
    "rx-batches": "batches",
}


def test_features_count_every_item_in_the_rounds_of_their_baseline(chan_module):
    subject = Subject("x", "x", chan_module.__name__, RingchanPipe)
    settings = Settings(items=3000, capacity=64, batch=16, samples=5, timeout=10.0)
    names = [name for name in WORKLOADS if name in FEATURES or name in FEATURES.values()]
    suite = Suite(
        [WORKLOADS[name] for name in names],
        [subject],
        {"asyncio": loop_factory("asyncio")},
        settings,
        repeat=2,
    )
    # A feature shares its baseline's row: they are measured in turns.
    assert [[cell.workload.name for cell in row] for row in suite.rows] == [
        ["same-loop", "unbounded-same-loop"],
        ["thread-to-asyncio", "from-iterable", "unbounded-thread-to-asyncio"],
        ["batches", "rx-batches"],
    ]
    progress = io.StringIO()
    for _ in suite.run(Progress(progress, suite.total())):
        pass
    lines = progress.getvalue().splitlines()
    assert [line.split("] ")[1].split(":")[0] for line in lines[:10]] == [
        *["same-loop", "unbounded-same-loop"] * 2,
        *["thread-to-asyncio", "from-iterable", "unbounded-thread-to-asyncio"] * 2,
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
    names = ["same-loop", "unbounded-same-loop", "thread-to-asyncio", "unbounded-thread-to-asyncio"]
    suite = Suite(
        [WORKLOADS[name] for name in names],
        [subject],
        {"asyncio": loop_factory("asyncio")},
        settings,
        repeat=1,
    )
    CapacityPipe.opened = []
    for _ in suite.run():
        pass
    for cell in suite.cells:
        assert cell.error is None, cell
        assert len(cell.runs) == 1 and cell.runs[0] > 0
    assert CapacityPipe.opened == [(64, 64), (None, None)] * 2
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
    channels = ["c", "py", "queue-queue"]
    if HAS_AIOLOGIC:
        channels += ["aiologic-queue", "aiologic-simple"]
    else:
        assert interpreter["missing"]["aiologic.Queue"] == "not installed; pip install .[bench]"
    for channel in channels:
        for producers in (1, 3):
            for consumer in ("thread", "asyncio"):
                for batched in (False, True):
                    key = ("scaling", channel, producers, consumer, batched)
                    if consumer == "asyncio" and channel == "queue-queue":
                        assert key not in found  # queue.Queue cannot be awaited
                        continue
                    result = found[key]
                    assert result["error"] is None, result
                    assert result["median"] > 0 and len(result["runs"]) == 1
                    assert result["per_item"] == (batched and channel not in ("c", "py"))
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
