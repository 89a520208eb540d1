"""Compare ringchan with the other Python channels and write the report.

    python benchmarks/compare.py [--peer NAME]... [--workload NAME]... [--loop NAME]...
                                 [--items N] [--duration SECONDS] [--repeat R]
                                 [--out DIR] [--json]
                                 [--heap-items N] [--rss-items N] [--sweep-repeat R]
                                 [--python PATH]... [--scaling-items N]
                                 [--scaling-repeat R] ...

Measures ringchan (C and pure-Python), the peers of ``peers.py`` that are
installed and the two floors (a ``deque`` pair, a bare
``call_soon_threadsafe``) on every workload of ``python -m ringchan bench``
each of them can run, on each event loop, in many short rounds: each
channel's measurements sized to ``--duration``, the channels taken in turns
within each round, so that every ratio is taken round by round.  Then the
capacity × batch size sweep of ``sweep.py``, the heap and RSS checks of
``heap.py``, and the scaling and pipeline workloads of ``scaling.py`` under
this interpreter and each ``--python`` (for instance a free-threaded
CPython, which also runs the workloads above, C and pure).
Writes ``REPORT.md``, ``results.json`` and ``chart.png`` to ``--out``, and
into the committed results, README.md's headline and capacity × batch size
tables too; prints the figures, the targets and the summary line as
plain-text tables.  A peer, loop or matplotlib that is not installed is
named in the report; a failed measurement is reported there and makes the
exit status 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import heap
import report
import scaling
import sweep
from peers import BASELINES, PEERS

from ringchan.bench.cli import (
    add_options,
    command_line,
    document,
    loops_from,
    report_errors,
    settings_from,
    workloads_from,
)
from ringchan.bench.subjects import IMPLEMENTATIONS, Subject
from ringchan.bench.suite import Progress, Suite
from ringchan.bench.workloads import BenchError, LoopFactory, loop_factory

PROG = "benchmarks/compare.py"

#: Where the committed report lives.
RESULTS = Path(__file__).resolve().parent / "results"

#: The README whose headline figures a run into :data:`RESULTS` rewrites.
README = RESULTS.parent.parent / "README.md"

#: How to get what the ``bench`` extra provides.
INSTALL_HINT = "not installed; pip install .[bench]"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Measure ringchan against other Python channels on every "
        "workload each can run and write REPORT.md, results.json and chart.png. "
        f"Peers: {', '.join(PEERS)}; floors: {', '.join(BASELINES)}.",
    )
    parser.add_argument(
        "--peer",
        action="append",
        choices=list(PEERS),
        metavar="NAME",
        help="compare with this peer; repeat the option for several (default: every installed one)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help="directory for the report (default: the results/ directory beside this script)",
    )
    parser.add_argument(
        "--heap-items",
        type=int,
        default=10_000_000,
        metavar="N",
        help="items per heap check of the C channel, traced by tracemalloc; "
        "0 skips the checks (default: %(default)s)",
    )
    parser.add_argument(
        "--rss-items",
        type=int,
        default=heap.RSS_ITEMS,
        metavar="N",
        help="items of the RSS check, a burst into an unbounded C channel, then "
        "drained, in a process of its own; 0 skips it (default: %(default)s, "
        "1 GiB of blocks)",
    )
    parser.add_argument(
        "--sweep-repeat",
        type=int,
        default=5,
        metavar="R",
        help="runs of each cell of the capacity × batch size sweep (ringchan C, "
        "thread → asyncio, --items items, on the first --loop), cells taken in "
        "turns; 0 skips it (default: %(default)s)",
    )
    # Many short rounds, each channel's measurements sized to the same
    # duration: ratios taken round by round, between measurements moments apart.
    add_options(
        parser,
        repeat=21,
        loops=["asyncio", "uvloop"],
        items=1_000_000,
        duration=0.05,
        samples=200,
    )
    scaling.add_options(parser, prefix="scaling-")
    return parser


def _installed(subjects: Sequence[Subject], missing: dict[str, str]) -> list[Subject]:
    """The subjects that import; the others go into *missing* with the reason."""
    found = []
    for subject in subjects:
        try:
            subject.load()
        except ImportError:
            missing[subject.label] = INSTALL_HINT
        except BenchError as exc:
            missing[subject.label] = f"installed but {exc}"
        else:
            found.append(subject)
    return found


def _loops(names: Sequence[str], missing: dict[str, str]) -> dict[str, LoopFactory]:
    loops = {}
    for name in names:
        try:
            loops[name] = loop_factory(name)
        except ImportError:
            missing[name] = INSTALL_HINT
    return loops


def _write_chart(doc: dict[str, Any], out: Path, versions: dict[str, str]) -> str | None:
    """Draw the chart; its file name, or None (and no stale file) without matplotlib."""
    path = out / "chart.png"
    try:
        report.chart(doc, path)
    except ImportError:
        path.unlink(missing_ok=True)
        return None
    versions["matplotlib"] = metadata.version("matplotlib")
    return path.name


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison with *argv* (default ``sys.argv[1:]``); the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    args = _parser().parse_args(argv)
    missing: dict[str, str] = {}
    peers = [PEERS[key] for key in dict.fromkeys(args.peer or PEERS)]
    subjects = [
        *IMPLEMENTATIONS.values(),
        *_installed(peers, missing),
        *BASELINES.values(),
    ]
    loops = _loops(loops_from(args), missing)
    try:
        suite = Suite(workloads_from(args), subjects, loops, settings_from(args), args.repeat)
    except (ImportError, BenchError) as exc:
        print(
            f"{PROG}: error: ringchan does not import: {exc}; build it first (pip install .)",
            file=sys.stderr,
        )
        return 1
    for _ in suite.run(Progress(sys.stderr, suite.total())):
        pass
    doc = document(suite, command_line(f"python {PROG}", argv), list(loops))
    if args.sweep_repeat > 0 and loops:
        loop, new_loop = next(iter(loops.items()))
        print(f"capacity × batch size sweep, on {loop}", file=sys.stderr)
        doc["sweep"] = sweep.run(settings_from(args), args.sweep_repeat, loop, new_loop, sys.stderr)
    if args.heap_items > 0:
        print(f"heap checks: {args.heap_items:,} items each, traced", file=sys.stderr)
        doc["heap"] = heap.check(args.heap_items)
    if args.rss_items > 0:
        print(f"RSS check: a burst of {args.rss_items:,} items", file=sys.stderr)
        doc["rss"] = heap.rss_check(args.rss_items)
    if args.scaling_repeat > 0:
        # Under this interpreter and each --python, which also runs the
        # workloads above (C and pure) for the free-threading targets.
        print(
            "scaling and pipeline: this interpreter" + "".join(f", {p}" for p in args.python),
            file=sys.stderr,
        )
        plan = scaling.plan_from(
            args,
            quick_items=args.quick_items,
            quick_samples=args.samples,
            quick_loops=tuple(loops),
        )
        try:
            doc["scaling"] = scaling.run(
                scaling.interpreters_from(args, quick=True), plan, sys.stderr
            )
        except BenchError as exc:
            print(f"{PROG}: error: the scaling run did not start: {exc}", file=sys.stderr)
            return 1
    doc["missing"] = missing
    doc["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {}
    chart_file = _write_chart(doc, out, versions)
    note = "No chart: matplotlib is " + INSTALL_HINT + "."
    (out / "REPORT.md").write_text(
        report.markdown(doc, chart_file, note, versions), encoding="utf-8"
    )
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")

    written = [out / "REPORT.md", out / "results.json"]
    if chart_file:
        written.append(out / chart_file)
    if out.resolve() == RESULTS:
        # README's figures come from the committed report, and only from it.
        README.write_text(
            report.with_headline(README.read_text(encoding="utf-8"), doc), encoding="utf-8"
        )
        written.append(README)

    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(report.terminal(doc))
        print(f"wrote {', '.join(map(str, written))}")
        if chart_file is None:
            print(note)
    status = report_errors(suite.cells, PROG)
    for result in doc.get("sweep", {}).get("results", []):
        if result["error"]:
            print(f"{PROG}: error: sweep, {result['workload']}: {result['error']}", file=sys.stderr)
            status = 1
    if doc.get("rss", {}).get("error"):
        print(f"{PROG}: error: RSS check: {doc['rss']['error']}", file=sys.stderr)
        status = 1
    for result in doc.get("scaling", {}).get("results", []):
        if result["error"]:
            print(
                f"{PROG}: error: {result['workload']}, {result['label']}: {result['error']}",
                file=sys.stderr,
            )
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
