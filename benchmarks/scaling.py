"""Scaling and pipeline benchmarks, under one or more interpreters.

    python benchmarks/scaling.py [--python PATH]... [--items N] [--pipeline-items N]
                                 [--repeat R] [--quick] [--json]

Measures the workloads of ``scaling_workloads.py`` (1, 2, 4, ... producer
threads into one consumer; the JSON-to-SQLite pipeline) on ringchan C, the
pure-Python twin, ``queue.Queue``, ``queue.SimpleQueue`` (thread consumers
only), ``aiologic.Queue`` and ``aiologic.SimpleQueue``, under this
interpreter and each ``--python``, for instance a free-threaded CPython
beside the default one.  ``--quick`` adds the workloads of ``python -m
ringchan bench`` (C and pure) under each ``--python``.
``benchmarks/compare.py`` runs it for the report.

One process cannot be two interpreters, and on a free-threaded CPython
importing a C extension that is not declared free-threading compatible
turns the GIL on for the whole process.  So each interpreter runs the
measurements in worker processes of its own (``--worker KIND``), which
answer one measurement per request on stdin/stdout:

- ``c``: ringchan C, the interpreter as it is;
- ``c-gil``: ringchan C with ``PYTHON_GIL=1``, on free-threaded builds only,
  the same interpreter with the GIL forced on;
- ``rest``: every other channel and the serial pipeline, with
  ``RINGCHAN_NO_EXTENSIONS=1``, so that the C module is never imported there.

Each worker reports whether the GIL is enabled once its channels are
imported, and the report prints it beside the figures.  Within each repeat
every channel and interpreter is measured in turn, so drift in the
machine's speed falls on all of them alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import IO, Any

# In a "c" worker the first import of ringchan loads its C module, and a
# free-threaded interpreter may warn then that it turned the GIL on: the
# warning is kept for the report rather than printed.
with warnings.catch_warnings(record=True) as _IMPORT_WARNINGS:
    warnings.simplefilter("always")
    from scaling_workloads import (
        CONSUMERS,
        PIPELINE,
        PIPELINE_PARSERS,
        AiologicFeed,
        AiologicSimpleFeed,
        Feed,
        QueueFeed,
        RingchanFeed,
        SimpleQueueFeed,
        scaling_workload,
    )

    from ringchan.bench.cli import command_line
    from ringchan.bench.subjects import IMPLEMENTATIONS
    from ringchan.bench.suite import Measurement, measure, si
    from ringchan.bench.workloads import (
        WORKLOADS,
        BenchError,
        Settings,
        Workload,
        loop_factory,
        rounds_of,
    )

__all__ = ("CHANNELS", "Channel", "Plan", "main", "producer_counts", "run")

PROG = "benchmarks/scaling.py"
SCRIPT = Path(__file__).resolve()

#: What is missing where, and how to get it.
INSTALL_HINT = "not installed; pip install .[bench]"


def producer_counts(cores: int) -> list[int]:
    """Producer threads to measure on *cores* cores: 1, 2 and 4, every power
    of two up to *cores*, and one more than *cores*, the point past which
    threads can only share cores."""
    counts = {1, 2, 4, cores + 1}
    power = 1
    while power <= cores:
        counts.add(power)
        power *= 2
    return sorted(counts)


@dataclass(frozen=True)
class Channel:
    """A channel (or the serial pipeline) measured by the worker *process*."""

    key: str
    label: str
    #: The worker process kind that measures it: "c", "c-gil" or "rest".
    process: str
    #: The module imported for it; None for the serial pipeline.
    module: str | None
    #: Its roles in the scaling workloads; None: not measured there.
    feed: type[Feed] | None = None
    #: Whether it runs the pipeline.
    pipeline: bool = False
    #: Its key in ringchan's implementations, to run the quick workloads.
    quick: str | None = None
    #: Its scaling runs send this many times the items (with its batch API,
    #: *batch_scale* times): a fast channel's run should last long enough
    #: for a steady figure on a shared machine, and a slow channel's not
    #: take most of the bench's time.
    scale: float = 1
    batch_scale: float = 1
    #: Whether it holds at most the capacity, making a sender wait for room;
    #: False for an unbounded queue, which the report marks so.
    bounded: bool = True

    def per_item(self) -> bool:
        """True when its batches go item by item, for want of a batch API."""
        return self.feed is not None and not self.feed.batch_api

    def awaitable(self) -> bool:
        """Whether an asyncio task can be its consumer."""
        return self.feed is not None and self.feed.awaitable


#: Every channel, by key, in table order.
CHANNELS: dict[str, Channel] = {
    channel.key: channel
    for channel in (
        # Millions of items per second: the base count would be over in
        # milliseconds, as would the pure twin's batches.
        Channel(
            "c",
            "ringchan C",
            "c",
            "ringchan._channel_c",
            RingchanFeed,
            pipeline=True,
            quick="c",
            scale=10,
            batch_scale=10,
        ),
        Channel(
            "c-gil",
            "ringchan C, PYTHON_GIL=1",
            "c-gil",
            "ringchan._channel_c",
            RingchanFeed,
            pipeline=True,
            scale=10,
            batch_scale=10,
        ),
        Channel(
            "py",
            "ringchan pure",
            "rest",
            "ringchan._channel_py",
            RingchanFeed,
            pipeline=True,
            quick="py",
            batch_scale=10,
        ),
        Channel("queue-queue", "queue.Queue", "rest", "queue", QueueFeed),
        # Written in C and unbounded: millions of items per second, as ringchan C.
        Channel(
            "queue-simple",
            "queue.SimpleQueue",
            "rest",
            "queue",
            SimpleQueueFeed,
            scale=10,
            bounded=False,
        ),
        # Once full, every put waits for a thread wake-up: tens of thousands
        # of items per second, a tenth of the items is a second's work.
        Channel("aiologic-queue", "aiologic.Queue", "rest", "aiologic", AiologicFeed, scale=0.1),
        Channel(
            "aiologic-simple",
            "aiologic.SimpleQueue",
            "rest",
            "aiologic",
            AiologicSimpleFeed,
            bounded=False,
        ),
        Channel("serial", "serial (one thread, no channel)", "rest", None, pipeline=True),
    )
}

#: The environment of each worker kind, over the parent's.
_ENVIRONMENTS: dict[str, dict[str, str | None]] = {
    "c": {"RINGCHAN_NO_EXTENSIONS": None, "PYTHON_GIL": None},
    "c-gil": {"RINGCHAN_NO_EXTENSIONS": None, "PYTHON_GIL": "1"},
    "rest": {"RINGCHAN_NO_EXTENSIONS": "1", "PYTHON_GIL": None},
}


# --------------------------------------------------------------------------
# The worker process.


def _free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _gil_enabled() -> bool:
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _load(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Import the channels of worker *kind*; (modules by key, the hello message)."""
    modules: dict[str, Any] = {}
    missing: dict[str, str] = {}
    caught = [str(record.message) for record in _IMPORT_WARNINGS]
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        for channel in CHANNELS.values():
            if channel.process != kind:
                continue
            if channel.module is None:
                modules[channel.key] = None
                continue
            try:
                modules[channel.key] = __import__(channel.module, fromlist=["_"])
            except ImportError as exc:
                missing[channel.label] = (
                    INSTALL_HINT
                    if isinstance(exc, ModuleNotFoundError)
                    and exc.name == channel.module.partition(".")[0]
                    else f"does not import: {exc}"
                )
        caught += [str(record.message) for record in records]
    versions = {"ringchan": _version("ringchan")}
    for name in ("aiologic", "aiosqlite", "uvloop"):
        if name in sys.modules or _has(name):
            versions[name] = _version(name)
    versions["SQLite"] = sqlite3.sqlite_version
    hello = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "free_threaded": _free_threaded(),
        "gil": _gil_enabled(),
        "loaded": list(modules),
        "missing": missing,
        "pipeline": _has("aiosqlite"),
        "loops": [name for name in ("asyncio", "uvloop") if name == "asyncio" or _has(name)],
        "versions": versions,
        "warnings": caught,
    }
    return modules, hello


def _has(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _workload(spec: dict[str, Any]) -> Workload:
    if spec["kind"] == "scaling":
        return scaling_workload(spec["producers"], spec["consumer"], spec["batched"])
    if spec["kind"] == "pipeline":
        return PIPELINE
    return WORKLOADS[spec["name"]]


def _measure_request(request: dict[str, Any], modules: dict[str, Any]) -> Measurement:
    channel = CHANNELS[request["channel"]]
    spec = request["workload"]
    workload = _workload(spec)
    # The run's settings, but a workload's own where it has them (an
    # unbounded channel's capacity).
    settings = workload.settings(Settings(**request["settings"]))
    loop = request.get("loop")
    new_loop = None if loop is None else loop_factory(loop)
    module = modules[channel.key]
    opener: Any
    if spec["kind"] == "scaling":
        assert channel.feed is not None
        opener = partial(channel.feed, module, settings.capacity)
    elif spec["kind"] == "pipeline":
        opener = None if module is None else (lambda: module)
    else:
        assert channel.quick is not None
        opener = partial(IMPLEMENTATIONS[channel.quick].load(), settings.capacity)
    return measure(workload, opener, new_loop, settings)


def worker(kind: str, requests: IO[str], replies: IO[str]) -> int:
    """Serve measurements for worker *kind*: a hello, then a reply per request."""
    modules, hello = _load(kind)
    replies.write(json.dumps(hello) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        try:
            measured = _measure_request(request, modules)
            reply: dict[str, Any] = {"figure": measured.figure, "wakeups": measured.wakeups}
        except BenchError as exc:
            reply = {"error": str(exc)}
        # Something imported by a measurement (an event loop's module) may
        # have turned the GIL on since the hello.
        reply["gil"] = _gil_enabled()
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


# --------------------------------------------------------------------------
# The parent: workers per interpreter, measurements in turns.


class _Process:
    """A worker process of one *kind* under *python*, (re)started on demand."""

    def __init__(self, python: str, kind: str) -> None:
        self.python = python
        self.kind = kind
        self._proc: subprocess.Popen[str] | None = None
        self.hello = self._start()
        #: Whether the GIL was seen on after a measurement while the hello
        #: said it was off.
        self.gil_turned_on = False

    def _start(self) -> dict[str, Any]:
        env = dict(os.environ)
        for name, value in _ENVIRONMENTS[self.kind].items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        self._proc = subprocess.Popen(
            [self.python, str(SCRIPT), "--worker", self.kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        return self._read()

    def _read(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            status = self._proc.wait()
            self._proc = None
            raise BenchError(f"its {self.kind} worker process exited (status {status})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def measure(self, request: dict[str, Any]) -> tuple[Measurement, bool]:
        """One measurement and whether the GIL was on after it; BenchError
        if it failed or the worker died."""
        if self._proc is None:
            # The watchdog ended the last one after a hang: start afresh.
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            self._proc.wait()
            self._proc = None
            raise BenchError(f"its {self.kind} worker process exited") from None
        reply = self._read()
        if reply["gil"] and not self.hello["gil"]:
            self.gil_turned_on = True
        if "error" in reply:
            raise BenchError(reply["error"])
        return Measurement(reply["figure"], reply.get("wakeups")), bool(reply["gil"])

    def close(self) -> None:
        """End the worker: its stdin closes, and it returns."""
        if self._proc is None:
            return
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


def _interpreter_label(hello: dict[str, Any]) -> str:
    flavour = "free-threaded" if hello["free_threaded"] else "(GIL)"
    return f"{hello['implementation']} {hello['python']} {flavour}"


def _gil_text(hello: dict[str, Any], kind: str, turned_on: bool) -> str:
    """How the GIL stood in a worker, for the report; *turned_on* if it was
    seen on after a measurement though it was off at the start."""
    if not hello["free_threaded"]:
        return "on (GIL build)"
    if turned_on:
        return "off, then on during the run (see each figure's gil in results.json)"
    if not hello["gil"]:
        return "off"
    if kind == "c-gil":
        return "on (PYTHON_GIL=1)"
    return "on (turned on by importing the C module)"


@dataclass(frozen=True)
class Plan:
    """What one run measures, with which settings."""

    items: int
    pipeline_items: int
    capacity: int
    batch: int
    repeat: int
    timeout: float
    producers: tuple[int, ...]
    #: Also the quick workloads (``python -m ringchan bench``) with these
    #: items and latency samples, on the interpreters asked for.
    quick_items: int = 200_000
    quick_samples: int = 500
    #: The event loops of the quick workloads, where installed.
    quick_loops: tuple[str, ...] = ("asyncio",)

    def settings(self, items: int) -> dict[str, Any]:
        """The :class:`Settings` of a measurement of *items* items, as JSON."""
        return {
            "items": items,
            "capacity": self.capacity,
            "batch": self.batch,
            "samples": self.quick_samples,
            "timeout": self.timeout,
        }


#: A cell's workload (as a worker request names it) and its event loop.
Spec = tuple[dict[str, Any], str | None]


def _specs(plan: Plan, quick: bool, loops: Sequence[str]) -> list[Spec]:
    """(workload spec, loop) of every cell, in table order."""
    specs: list[Spec] = []
    for consumer in CONSUMERS:
        for batched in (False, True):
            for producers in plan.producers:
                spec = {
                    "kind": "scaling",
                    "producers": producers,
                    "consumer": consumer,
                    "batched": batched,
                }
                specs.append((spec, "asyncio" if consumer == "asyncio" else None))
    specs.append(({"kind": "pipeline"}, "asyncio"))
    if quick:
        for name, workload in WORKLOADS.items():
            for loop in loops if workload.uses_loop else [None]:
                specs.append(({"kind": "quick", "name": name}, loop))
    return specs


def _runs(channel: Channel, spec: dict[str, Any]) -> bool:
    """Whether *channel* takes part in the cell *spec*."""
    if spec["kind"] == "scaling":
        return channel.feed is not None and (spec["consumer"] == "thread" or channel.awaitable())
    if spec["kind"] == "pipeline":
        return channel.pipeline
    return channel.quick is not None


def _name(spec: dict[str, Any]) -> str:
    if spec["kind"] == "scaling":
        sends = "batches" if spec["batched"] else "items"
        return f"scaling {spec['producers']} → {spec['consumer']}, {sends}"
    if spec["kind"] == "pipeline":
        return "pipeline"
    return str(spec["name"])


class _Interpreter:
    """The worker processes of one interpreter, and what they said at start."""

    def __init__(self, python: str, quick: bool) -> None:
        self.quick = quick
        self.processes = {"c": _Process(python, "c")}
        self.hello = self.processes["c"].hello
        if self.hello["free_threaded"]:
            self.processes["c-gil"] = _Process(python, "c-gil")
        self.processes["rest"] = _Process(python, "rest")
        ft = "t" if self.hello["free_threaded"] else ""
        major_minor = ".".join(self.hello["python"].split(".")[:2])
        self.key = f"{major_minor}{ft}"
        self.label = _interpreter_label(self.hello)

    def describe(self, plan: Plan) -> dict[str, Any]:
        """What the report says about this interpreter and its workers."""
        versions: dict[str, str] = {}
        missing: dict[str, str] = {}
        workers = {}
        for kind, process in self.processes.items():
            hello = process.hello
            versions.update(hello["versions"])
            missing.update(hello["missing"])
            workers[kind] = {
                "gil": hello["gil"] or process.gil_turned_on,
                "gil_text": _gil_text(hello, kind, process.gil_turned_on),
                "warnings": hello["warnings"],
            }
        if not self.processes["rest"].hello["pipeline"]:
            missing["aiosqlite"] = INSTALL_HINT + " (no pipeline)"
        for loop in plan.quick_loops:
            if self.quick and loop not in self.hello["loops"]:
                missing[loop] = "not installed there; its quick workloads not measured"
        return {
            "key": self.key,
            "label": self.label,
            "python": self.hello["python"],
            "implementation": self.hello["implementation"],
            "free_threaded": self.hello["free_threaded"],
            "workers": workers,
            "versions": versions,
            "missing": missing,
        }

    def channels(self) -> list[Channel]:
        """The channels its workers loaded."""
        loaded = set()
        for process in self.processes.values():
            loaded.update(process.hello["loaded"])
        return [channel for key, channel in CHANNELS.items() if key in loaded]

    def close(self) -> None:
        """End every worker."""
        for process in self.processes.values():
            process.close()


@dataclass
class _Cell:
    interpreter: _Interpreter
    channel: Channel
    spec: dict[str, Any]
    loop: str | None
    runs: list[float]
    error: str | None = None
    #: Whether the GIL was on after any of its runs.
    gil: bool = False
    #: The wake-ups per 1,000 items of each run, for a channel that counts them.
    wakeups: list[float] = field(default_factory=list)

    def items(self, plan: Plan) -> int:
        """The items of each of its measurements."""
        kind = self.spec["kind"]
        if kind == "scaling":
            channel = self.channel
            batch_api = channel.feed is not None and channel.feed.batch_api
            scale = channel.batch_scale if self.spec["batched"] and batch_api else channel.scale
            return max(1, round(plan.items * scale))
        return plan.pipeline_items if kind == "pipeline" else plan.quick_items

    def to_json(self, plan: Plan) -> dict[str, Any]:
        spec = self.spec
        process = self.interpreter.processes[self.channel.process]
        unit = WORKLOADS[spec["name"]].unit if spec["kind"] == "quick" else "items/s"
        batched = bool(spec.get("batched")) or (
            spec["kind"] == "quick" and WORKLOADS[spec["name"]].batched
        )
        runs = self.runs
        return {
            "interpreter": self.interpreter.key,
            "kind": spec["kind"],
            "workload": spec.get("name", spec["kind"]),
            "producers": spec.get("producers"),
            "consumer": spec.get("consumer"),
            "batched": batched,
            "loop": self.loop,
            "channel": self.channel.key,
            "label": self.channel.label,
            "bounded": self.channel.bounded,
            "items": self.items(plan),
            "gil": self.gil or process.hello["gil"],
            "per_item": batched and spec["kind"] == "scaling" and self.channel.per_item(),
            "unit": unit,
            "runs": runs,
            "median": statistics.median(runs) if runs else None,
            "min": min(runs) if runs else None,
            "max": max(runs) if runs else None,
            "wakeups_per_1000": self.wakeups or None,
            "error": self.error,
        }


def _rows(interpreters: Sequence[_Interpreter], plan: Plan) -> list[list[_Cell]]:
    """The cells to measure, a row per workload: each interpreter's channels
    that can run it.  A quick workload joins the row of the workload whose
    rounds it is measured in (``rounds_of``), as in ``python -m ringchan
    bench``, so that a ratio between the two is taken side by side."""
    specs: list[Spec] = []
    for interpreter in interpreters:
        loops = [loop for loop in plan.quick_loops if loop in interpreter.hello["loops"]]
        for spec in _specs(plan, interpreter.quick, loops):
            if spec not in specs:
                specs.append(spec)
    rows: dict[Any, list[_Cell]] = {}
    for index, (workload, loop) in enumerate(specs):
        key = (
            ("quick", rounds_of(WORKLOADS[workload["name"]]))
            if workload["kind"] == "quick"
            else index
        )
        row = rows.setdefault(key, [])
        for interpreter in interpreters:
            if workload["kind"] == "quick" and (
                not interpreter.quick or (loop and loop not in interpreter.hello["loops"])
            ):
                continue
            rest = interpreter.processes["rest"].hello
            if workload["kind"] == "pipeline" and not rest["pipeline"]:
                continue
            for channel in interpreter.channels():
                if _runs(channel, workload):
                    row.append(_Cell(interpreter, channel, workload, loop, []))
    return [row for row in rows.values() if row]


def _measure(rows: Sequence[Sequence[_Cell]], plan: Plan, progress: IO[str] | None) -> None:
    """Measure every cell *plan.repeat* times, the cells of a row in turns."""
    total = sum(len(row) for row in rows) * plan.repeat
    done = 0
    for row in rows:
        for attempt in range(1, plan.repeat + 1):
            for cell in row:
                done += 1
                if cell.error is not None:
                    continue  # A failed cell is not measured again.
                if progress is not None:
                    shown = cell.loop is not None and cell.spec["kind"] == "quick"
                    where = f", {cell.loop}" if shown else ""
                    progress.write(
                        f"[{done}/{total}] {_name(cell.spec)}: {cell.channel.label}, "
                        f"{cell.interpreter.label}{where}, run {attempt}/{plan.repeat}\n"
                    )
                    progress.flush()
                request = {
                    "channel": cell.channel.key,
                    "workload": cell.spec,
                    "loop": cell.loop,
                    "settings": plan.settings(cell.items(plan)),
                }
                try:
                    measured, gil = cell.interpreter.processes[cell.channel.process].measure(
                        request
                    )
                except BenchError as exc:
                    cell.error = f"run {attempt} of {plan.repeat}: {exc}"
                else:
                    cell.runs.append(measured.figure)
                    if measured.wakeups is not None:
                        cell.wakeups.append(measured.wakeups)
                    cell.gil = cell.gil or gil


def run(
    pythons: Sequence[tuple[str, bool]],
    plan: Plan,
    progress: IO[str] | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Measure *plan* under each ``(python, quick)`` of *pythons*, in turns;
    the results document (``scaling`` in ``results.json``).

    *quick* also runs the quick workloads under that interpreter.  Progress
    lines, and what the workers warned of, go to *progress*.  BenchError if
    a worker does not start.
    """
    interpreters: list[_Interpreter] = []
    try:
        for python, quick in pythons:
            interpreters.append(_Interpreter(python, quick))
        if progress is not None:
            for interpreter in interpreters:
                for kind, process in interpreter.processes.items():
                    for text in process.hello["warnings"]:
                        progress.write(f"{interpreter.label}, {kind} worker: {text}\n")
        rows = _rows(interpreters, plan)
        _measure(rows, plan, progress)
        return {
            "command": command,
            "cpus": os.cpu_count(),
            "settings": {
                "items": plan.items,
                "pipeline_items": plan.pipeline_items,
                "quick_items": plan.quick_items,
                "capacity": plan.capacity,
                "batch": plan.batch,
                "repeat": plan.repeat,
                "timeout": plan.timeout,
                "producers": list(plan.producers),
                "pipeline_parsers": PIPELINE_PARSERS,
            },
            "interpreters": [interpreter.describe(plan) for interpreter in interpreters],
            "results": [cell.to_json(plan) for row in rows for cell in row],
        }
    finally:
        for interpreter in interpreters:
            interpreter.close()


# --------------------------------------------------------------------------
# The command line.


def add_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The options of a scaling run; *prefix* names them inside compare.py."""
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="PATH",
        help="also measure under this interpreter (ringchan, and for the peers "
        "aiologic and aiosqlite, installed in it); repeat for several",
    )
    parser.add_argument(
        f"--{prefix}items",
        dest="scaling_items",
        type=int,
        default=50_000,
        metavar="N",
        help="items per scaling measurement (default: %(default)s)",
    )
    parser.add_argument(
        "--pipeline-items",
        type=int,
        default=50_000,
        metavar="N",
        help="JSON lines per pipeline measurement (default: %(default)s)",
    )
    parser.add_argument(
        f"--{prefix}repeat",
        dest="scaling_repeat",
        type=int,
        default=5,
        metavar="R",
        help="runs of each scaling and pipeline cell, channels and interpreters "
        "taken in turns" + ("; 0 skips them" if prefix else "") + " (default: %(default)s)",
    )
    parser.add_argument(
        "--quick-items",
        type=int,
        default=200_000,
        metavar="N",
        help="items per measurement of the workloads of python -m ringchan bench "
        "under each --python (default: %(default)s)",
    )
    parser.add_argument(
        "--producers",
        type=int,
        action="append",
        metavar="N",
        help="producer threads; repeat for several (default: 1, 2, 4, the powers "
        "of two up to the CPU count, and the CPU count plus one)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Measure producer threads into one consumer, and a JSON-to-SQLite "
        "pipeline, on ringchan and its peers, under this interpreter and each --python.",
    )
    parser.add_argument("--worker", choices=list(_ENVIRONMENTS), help=argparse.SUPPRESS)
    add_options(parser)
    parser.add_argument(
        "--capacity", type=int, default=1024, help="channel capacity (default: %(default)s)"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=256,
        metavar="N",
        help="items per blocking_send_many() and recv_many() (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="per measurement (default: %(default)g)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="also run the workloads of python -m ringchan bench under each --python",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the results as JSON instead of a table"
    )
    return parser


def plan_from(args: argparse.Namespace, **quick: Any) -> Plan:
    """The :class:`Plan` parsed *args* ask for; *quick* sets the quick_* fields."""
    counts = args.producers or producer_counts(os.cpu_count() or 1)
    return Plan(
        items=args.scaling_items,
        pipeline_items=args.pipeline_items,
        capacity=args.capacity,
        batch=args.batch,
        repeat=args.scaling_repeat,
        timeout=args.timeout,
        producers=tuple(sorted(set(counts))),
        **quick,
    )


def interpreters_from(args: argparse.Namespace, quick: bool) -> list[tuple[str, bool]]:
    """This interpreter, then each ``--python`` once (*quick* on those)."""
    found = [(sys.executable, False)]
    for python in args.python:
        if python not in [path for path, _ in found]:
            found.append((python, quick))
    return found


def table(doc: dict[str, Any]) -> Iterator[str]:
    """The results as plain text lines, for the terminal."""
    labels = {i["key"]: i["label"] for i in doc["interpreters"]}
    gils = {
        (i["key"], kind): worker["gil_text"]
        for i in doc["interpreters"]
        for kind, worker in i["workers"].items()
    }
    yield f"{doc['cpus']} logical CPUs"
    for result in doc["results"]:
        spec = {k: result[k] for k in ("kind", "producers", "consumer", "batched")}
        spec["name"] = result["workload"]
        figure = result["error"] or (
            f"{si(result['median'], result['unit'])} "
            f"({si(result['min'], result['unit'])}-{si(result['max'], result['unit'])})"
        )
        gil = gils[(result["interpreter"], CHANNELS[result["channel"]].process)]
        loop = f" [{result['loop']}]" if result["kind"] == "quick" and result["loop"] else ""
        yield (
            f"{_name(spec)}{loop} | {result['label']} | {labels[result['interpreter']]}, "
            f"GIL {gil} | {figure}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line *argv* (default ``sys.argv[1:]``); the exit status."""
    args = _parser().parse_args(argv)
    if args.worker:
        # Only the protocol goes to stdout; anything else printed goes to stderr.
        replies = sys.stdout
        sys.stdout = sys.stderr
        return worker(args.worker, sys.stdin, replies)
    plan = plan_from(args, quick_items=args.quick_items)
    command = command_line(f"python {PROG}", sys.argv[1:] if argv is None else argv)
    try:
        doc = run(interpreters_from(args, args.quick), plan, sys.stderr, command)
    except BenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for line in table(doc):
            print(line)
    failed = [r for r in doc["results"] if r["error"]]
    for result in failed:
        print(
            f"{PROG}: error: {result['workload']}, {result['label']}: {result['error']}",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
