"""The ``bench`` command: ringchan's implementations side by side, per workload.

The workloads are in :mod:`ringchan.bench.workloads`, the measuring in
:mod:`ringchan.bench.suite`; this module holds the command line, which
``benchmarks/compare.py`` shares (:func:`add_options`) to measure ringchan
against other libraries.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from .._args import MAX_CAPACITY
from .subjects import IMPLEMENTATIONS, Subject
from .suite import SIZING_CAPACITIES, Cell, Progress, Suite, machine, si, spread
from .workloads import LOOPS, WORKLOADS, BenchError, LoopFactory, Settings, Workload, loop_factory

__all__ = (
    "add_command",
    "add_options",
    "command_line",
    "document",
    "loops_from",
    "report_errors",
    "resolve_loops",
    "run",
    "settings_from",
    "workloads_from",
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
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


def _duration(text: str) -> float | None:
    """A --duration in seconds; 0 for none."""
    try:
        if float(text) == 0:
            return None
    except ValueError:
        pass
    return _positive_float(text)


def add_options(
    parser: argparse.ArgumentParser,
    *,
    repeat: int,
    loops: Sequence[str],
    items: int = 200_000,
    duration: float | None = None,
    samples: int = 500,
) -> None:
    """Add the options every benchmark command shares, with these defaults."""
    parser.add_argument(
        "--workload",
        action="append",
        choices=list(WORKLOADS),
        metavar="NAME",
        help="measure this workload; repeat the option for several "
        f"(default: all of {', '.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--loop",
        action="append",
        choices=list(LOOPS),
        help="event loop for the workloads that run one; repeat the option "
        f"for several (default: {' and '.join(loops)})",
    )
    parser.set_defaults(default_loops=list(loops))
    parser.add_argument(
        "--items",
        type=_positive_int,
        default=items,
        metavar="N",
        help="items sent per measurement; with --duration, the most a "
        "measurement sends (default: %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=_duration,
        default=duration,
        metavar="SECONDS",
        help="size each channel's measurements of each workload to take about "
        f"this long, from a few runs before its rounds: at least {SIZING_CAPACITIES} "
        "times --capacity, at most --items items; 0: --items items each (default: "
        + ("0" if duration is None else "%(default)g")
        + ")",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=repeat,
        metavar="R",
        help="rounds: each measures every channel of a workload once, in "
        "turns; the median and min-max of the rounds are reported, and "
        "each ratio per round (default: %(default)s)",
    )
    parser.add_argument(
        "--capacity",
        type=_capacity,
        default=1024,
        help="channel capacity (default: %(default)s)",
    )
    parser.add_argument(
        "--batch",
        type=_positive_int,
        default=256,
        metavar="N",
        help="items per send_many()/recv_many() in the batches workload (default: %(default)s)",
    )
    parser.add_argument(
        "--samples",
        type=_positive_int,
        default=samples,
        metavar="N",
        help="items sent one at a time, each once the consumer is idle, per "
        "latency measurement (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="fail a measurement that has not finished after this long, "
        "as a hung worker (default: %(default)g)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the results on stdout as JSON (every run, medians, "
        "min-max, machine, versions) instead of a table",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    """The :class:`Settings` that parsed *args* ask for."""
    return Settings(
        items=args.items,
        capacity=args.capacity,
        batch=args.batch,
        samples=args.samples,
        timeout=args.timeout,
        duration=args.duration,
    )


def workloads_from(args: argparse.Namespace) -> list[Workload]:
    """The workloads *args* name, in table order, each once."""
    names = args.workload or list(WORKLOADS)
    return [workload for name, workload in WORKLOADS.items() if name in names]


def loops_from(args: argparse.Namespace) -> list[str]:
    """The event loops *args* name, each once, asyncio first."""
    names = args.loop or args.default_loops
    return [name for name in LOOPS if name in names]


def command_line(prog: str, argv: Sequence[str]) -> str:
    """The command line *prog* with arguments *argv*, as a shell would take it."""
    return " ".join([prog, *map(shlex.quote, argv)])


def document(suite: Suite, command: str, loops: Sequence[str]) -> dict[str, Any]:
    """*suite*'s results as plain data, for ``--json`` and the report."""
    # The stdlib's channels share the Python version, in "machine".
    versions = {"ringchan": IMPLEMENTATIONS["py"].version()}
    for subject in suite.subjects:
        if subject.distribution is not None:
            versions[subject.distribution] = subject.version()
    for name in loops:
        if name != "asyncio":
            versions[name] = metadata.version(name)
    return {
        "command": command,
        "machine": machine(),
        "settings": {
            "items": suite.settings.items,
            "capacity": suite.settings.capacity,
            "batch": suite.settings.batch,
            "samples": suite.settings.samples,
            "timeout": suite.settings.timeout,
            "duration": suite.settings.duration,
            "repeat": suite.repeat,
            "loops": list(loops),
        },
        "versions": versions,
        "results": [cell.to_json() for cell in suite.cells],
    }


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register the ``bench`` subcommand and its options on *commands*."""
    parser = commands.add_parser(
        "bench",
        help="measure the C and pure-Python channels side by side",
        description="Measure each ringchan implementation on each workload, in "
        "turns within one process, and print the median of the repeats with "
        "their min-max: items/second, or for latency the median seconds.  "
        "Workloads: "
        + "; ".join(f"{w.name}: {w.description}" for w in WORKLOADS.values())
        + ".  A progress line goes to stderr.  Exit status 1 if any "
        "measurement failed (a lost item, a failing or hung worker).",
    )
    parser.add_argument(
        "--impl",
        choices=[*IMPLEMENTATIONS, "both"],
        default="both",
        help="which implementation to measure (default: %(default)s)",
    )
    add_options(parser, repeat=3, loops=["asyncio"])
    parser.set_defaults(run=run)


def _row_name(cell: Cell, several_loops: bool) -> str:
    if several_loops and cell.loop is not None:
        return f"{cell.workload.name} [{cell.loop}]"
    return cell.workload.name


class _Table:
    """A fixed-width table printed row by row, so results show as they come."""

    def __init__(self, columns: Sequence[str], widths: Sequence[int]) -> None:
        self._widths = [
            max(len(column), width) for column, width in zip(columns, widths, strict=True)
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


def _print_table(suite: Suite, subjects: Sequence[Subject], loops: Sequence[str]) -> None:
    for line in _machine_lines():
        print(line)
    settings = suite.settings
    items = (
        f"{settings.items:,} items per measurement"
        if settings.duration is None
        else f"measurements of about {settings.duration:g} s, at most {settings.items:,} items"
    )
    print(
        f"capacity {settings.capacity}, {items} "
        f"(latency: {settings.samples} samples), median of {suite.repeat} rounds (min-max), "
        "items/second or latency; gain: the median of the per-round ratios"
    )
    print()
    several_loops = len(loops) > 1
    names = [_row_name(cell, several_loops) for cell in suite.cells]
    columns = ["workload"]
    # Wide enough for "999.9µs" and "999.9µs-999.9µs", so rows printed as
    # they come line up.
    widths = [max(map(len, names), default=8)]
    for subject in subjects:
        columns += [subject.label, "min-max"]
        widths += [7, 15]
    pair = len(subjects) == 2
    if pair:
        # How many times faster, or for latency how many times sooner: the
        # median of the per-round ratios, and their interquartile range.
        columns += [f"{subjects[0].label} gain", "IQR"]
        widths += [7, 13]
    table = _Table(columns, widths)
    for row in suite.run(Progress(sys.stderr, suite.total())):
        # A row holds a group of workloads (a feature beside its baseline).
        for name, loop in dict.fromkeys((cell.workload.name, cell.loop) for cell in row):
            cells = [cell for cell in row if cell.workload.name == name and cell.loop == loop]
            texts = [_row_name(cells[0], several_loops)]
            for cell in cells:
                unit = cell.workload.unit
                if cell.error is None:
                    low, high = si(min(cell.runs), unit), si(max(cell.runs), unit)
                    texts += [si(cell.median, unit), f"{low}-{high}"]
                else:
                    texts += ["error", ""]
            if pair and all(cell.error is None for cell in cells):
                first, second = cells
                gains = spread(first.runs, second.runs, first.workload.gain)
                if gains is not None:
                    first_quartile, third_quartile = gains.quartiles
                    texts += [
                        f"{gains.median:.2f}x",
                        f"{first_quartile:.2f}-{third_quartile:.2f}",
                    ]
            table.row(texts)


def _machine_lines() -> list[str]:
    info = machine()
    return [
        f"Python {info['python']} ({info['implementation']}) on {info['platform']}",
        f"CPU: {info['cpu']}, {info['cpus']} logical CPUs",
    ]


def report_errors(cells: Sequence[Cell], prog: str) -> int:
    """Print every failed cell on stderr; the exit status (1 if any failed)."""
    failed = [cell for cell in cells if cell.error is not None]
    for cell in failed:
        where = f" on {cell.loop}" if cell.loop else ""
        print(
            f"{prog}: error: {cell.workload.name}, {cell.subject.label}{where}, {cell.error}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def resolve_loops(names: Sequence[str]) -> dict[str, LoopFactory]:
    """The loop factories for *names*; BenchError if one is not installed."""
    loops = {}
    for name in names:
        try:
            loops[name] = loop_factory(name)
        except ImportError as exc:
            raise BenchError(f"the {name} event loop is not installed ({exc})") from None
    return loops


def run(args: argparse.Namespace) -> int:
    """Run the ``bench`` command with parsed *args*; return the exit status."""
    prog = "ringchan bench"
    keys = list(IMPLEMENTATIONS) if args.impl == "both" else [args.impl]
    subjects = [IMPLEMENTATIONS[key] for key in keys]
    loop_names = loops_from(args)
    try:
        try:
            # Built up front, so a missing build fails before any measuring.
            suite = Suite(
                workloads_from(args),
                subjects,
                resolve_loops(loop_names),
                settings_from(args),
                args.repeat,
            )
        except ImportError as exc:
            raise BenchError(
                f"cannot import {exc.name}; build the C extension first "
                "(pip install .), or pass --impl py"
            ) from None
        if args.json:
            for _ in suite.run(Progress(sys.stderr, suite.total())):
                pass
            command = command_line("python -m ringchan", args.argv)
            doc = document(suite, command, loop_names)
            print(json.dumps(doc, indent=2))
        else:
            _print_table(suite, subjects, loop_names)
    except BenchError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    return report_errors(suite.cells, prog)
