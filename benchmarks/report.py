"""The comparison report: Markdown tables, the targets, a PNG chart, the
terminal summary and README's headline figures.

Everything here reads the results document that ``compare.py`` also saves
as ``results.json`` (the shape of ``python -m ringchan bench --json``, plus
what was missing), so the report shows exactly what was measured.  Every
ratio is taken round by round, between two channels measured in the same
rounds (:func:`ringchan.bench.suite.spread`): the report gives the median of
those and, as its spread, their interquartile range.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import heap
import scaling_report
import sweep
from outcome import (
    MET,
    NOT_MEASURED,
    NOT_MET,
    Outcome,
    gain_text,
    judge,
    ratio_limit,
    summary,
    wakeups_text,
)
from peers import BASELINES, PEERS

from ringchan.bench.subjects import IMPLEMENTATIONS
from ringchan.bench.suite import (
    MIN_ROUNDS,
    SIZING_CAPACITIES,
    UNSETTLED_WIDTH,
    Spread,
    si,
    spread,
)
from ringchan.bench.workloads import WORKLOADS

__all__ = (
    "CHART_URL",
    "HEADLINE",
    "HEADLINE_END",
    "HEADLINE_START",
    "REPORT_URL",
    "SWEEP_END",
    "SWEEP_START",
    "TARGETS",
    "Target",
    "chart",
    "headline",
    "markdown",
    "outcomes",
    "terminal",
    "with_headline",
)

#: Where the committed report and chart are published, for README.md, which
#: the package index shows away from the repository.
REPORT_URL = "https://github.com/ringchan/ringchan/blob/main/benchmarks/results/REPORT.md"
CHART_URL = "https://raw.githubusercontent.com/ringchan/ringchan/main/benchmarks/results/chart.png"

#: The markers around README.md's headline table, which :func:`with_headline`
#: rewrites from the committed results.
HEADLINE_START = "<!-- headline:start -->"
HEADLINE_END = "<!-- headline:end -->"
#: Where README.md's capacity × batch size table goes, from the sweep.
SWEEP_START = "<!-- sweep:start -->"
SWEEP_END = "<!-- sweep:end -->"

#: The workloads of the headline table, each on the run's first event loop.
HEADLINE = ("same-loop", "thread-to-asyncio", "4-threads-to-asyncio", "thread-to-thread", "batches")

#: The subject every gain column measures, and most targets.
SUBJECT = "c"


@dataclass(frozen=True)
class Target:
    """A bound on how ringchan C (or its pure twin) compares with another
    channel, or a feature of ringchan with the hand-written code it replaces."""

    #: What is compared, for the table.
    text: str
    #: The workload of the subject held to the bound.
    workload: str
    #: The subject compared with, and on which workload.
    other: str
    other_workload: str
    #: The subject must be at least this many times better (faster, sooner)...
    at_least: float | None = None
    #: ...or cost at most this many times as much per item (or wait as long).
    at_most: float | None = None
    #: The subject held to the bound: ringchan C, or "py" for the pure twin.
    subject: str = SUBJECT
    #: Show the cost ratio, and the bound, as the overhead it means: +4.2%.
    percent: bool = False

    def bound(self) -> str:
        """The requirement, as the table shows it."""
        if self.at_least is not None:
            return f"≥ {self.at_least:g}x"
        assert self.at_most is not None
        if self.percent:
            return f"≤ +{round((self.at_most - 1) * 100, 6):g}%"
        return f"≤ {self.at_most:g}x"

    def show(self, measured: float) -> str:
        """*measured* (see :meth:`measure`) as the table shows it."""
        return _percent(measured) if self.percent else f"{measured:.2f}x"

    def met(self, measured: float) -> bool:
        """Whether *measured* (see :meth:`measure`) satisfies the bound."""
        if self.at_least is not None:
            return measured >= self.at_least
        assert self.at_most is not None
        return measured <= self.at_most

    def spread(self, mine: Sequence[float], other: Sequence[float]) -> Spread | None:
        """The figure the bound applies to, round by round, from the runs of
        the two cells; None if they share no round."""
        gains = spread(mine, other, WORKLOADS[self.workload].gain)
        if gains is None or self.at_least is not None:
            return gains
        # For a cost ratio, the inverse of how many times better ringchan C is.
        return gains.map(lambda gain: 1 / gain)

    def floor(self) -> float:
        """The bound as a gain, how many times better (faster, sooner) the
        subject must be: a cost of at most 3x is a gain of at least 1/3."""
        if self.at_least is not None:
            return self.at_least
        assert self.at_most is not None
        return 1 / self.at_most


def _percent(ratio: float) -> str:
    """A cost ratio as the overhead it means: 1.042 is +4.2%."""
    return f"{(ratio - 1) * 100:+.1f}%"


#: The workloads held to "C at least 5x the pure twin".  Not the batch
#: workloads: batches amortize the cost of each call on both
#: implementations alike, so their ratio is reported (the C gain column)
#: without a target.
_PURE_WORKLOADS = (
    "same-loop",
    "thread-to-asyncio",
    "4-threads-to-asyncio",
    "thread-to-thread",
)

#: ringchan's performance targets: how far ahead of each peer, how close to the floors.
TARGETS: list[Target] = [
    Target(
        "same loop: `await tx.send` → `async for`, vs asyncio.Queue",
        "same-loop",
        "asyncio-queue",
        "same-loop",
        at_least=6,
    ),
    Target(
        "1 thread `blocking_send` → asyncio, vs culsans",
        "thread-to-asyncio",
        "culsans",
        "thread-to-asyncio",
        at_least=20,
    ),
    Target(
        "4 threads `blocking_send` → asyncio, vs culsans",
        "4-threads-to-asyncio",
        "culsans",
        "4-threads-to-asyncio",
        at_least=15,
    ),
    Target(
        "thread → thread, vs queue.Queue",
        "thread-to-thread",
        "queue-queue",
        "thread-to-thread",
        at_least=8,
    ),
    # The handoff between threads against the standard library's fastest
    # queue, unbounded and written in C, and the bounded channel against
    # ringchan's own unbounded one, measured in the same rounds.
    Target(
        "1 thread → 1 thread, per item, vs queue.SimpleQueue (unbounded)",
        "thread-to-thread",
        "queue-simple",
        "thread-to-thread",
        at_least=1.2,
    ),
    Target(
        "2 threads → 1 thread, per item, vs queue.SimpleQueue (unbounded)",
        "2-threads-to-thread",
        "queue-simple",
        "2-threads-to-thread",
        at_least=1.2,
    ),
    Target(
        "1 thread → 1 thread, bounded C vs its own `unbounded_channel()`, throughput",
        "thread-to-thread",
        SUBJECT,
        "unbounded-thread-to-thread",
        at_least=0.9,
    ),
    # A thread's handoff to the loop against a task's, on the same loop and
    # interpreter, measured in the same rounds (thread-to-asyncio's group).
    Target(
        "1 thread `blocking_send` → asyncio, vs same loop `await tx.send` → `async for`",
        "thread-to-asyncio",
        SUBJECT,
        "same-loop",
        at_least=0.8,
    ),
    Target(
        "1 thread `blocking_send` → asyncio, vs aiologic.SimpleQueue (unbounded)",
        "thread-to-asyncio",
        "aiologic-simple",
        "thread-to-asyncio",
        at_least=8,
    ),
    Target(
        "batches (`send_many`/`recv_many`), vs asyncio.Queue per item",
        "batches",
        "asyncio-queue",
        "batches",
        at_least=50,
    ),
    *(
        Target(f"{name}, vs the pure-Python twin", name, "py", name, at_least=5)
        for name in _PURE_WORKLOADS
    ),
    Target(
        "per-item cost, same loop, vs one thread's `deque` append + popleft",
        "same-loop",
        "deque",
        "pair",
        at_most=3,
    ),
    Target(
        "wake-up latency (median), vs a bare `call_soon_threadsafe` + future",
        "latency",
        "call-soon",
        "latency",
        at_most=1.5,
    ),
    # The features, each against the hand-written code it replaces, measured
    # in the same rounds (the workload's group).
    *(
        target
        for subject, whose in (("c", ""), ("py", ", ringchan pure"))
        for target in (
            Target(
                "`rx.batches()` overhead per item, vs a plain `recv_many` loop "
                f"(same-loop `send_many` producer){whose}",
                "rx-batches",
                subject,
                "batches",
                at_most=1.1,
                subject=subject,
                percent=True,
            ),
            Target(
                "`from_iterable` → `async for`, cost per item vs a hand-written "
                f"`blocking_send` thread{whose}",
                "from-iterable",
                subject,
                "thread-to-asyncio",
                at_most=1.5,
                subject=subject,
            ),
        )
    ),
    # The unbounded channel against the bounded one, measured in the same
    # rounds (the workload's group).
    *(
        Target(
            f"unbounded vs bounded C, cost per item: {what}",
            f"unbounded-{name}",
            SUBJECT,
            name,
            at_most=1.3,
        )
        for name, what in (
            ("same-loop", "same loop `await tx.send` → `async for`"),
            ("thread-to-asyncio", "1 thread `blocking_send` → asyncio"),
        )
    ),
]


#: The latency of a lone item to a parked asyncio receiver that the handoff
#: must not regress from: ringchan C's median on the asyncio loop in the
#: report before the handoff between threads was reworked.
LATENCY_BASELINE = 30.6e-6

#: How far past :data:`LATENCY_BASELINE` that latency may go: 10%.
LATENCY_SLACK = 1.1

#: The loop the latency baseline was measured on.
LATENCY_LOOP = "asyncio"


def _latency_outcome(doc: dict[str, Any]) -> list[Outcome]:
    """The latency target: ringchan C's median wake-up latency on
    :data:`LATENCY_LOOP`, at most :data:`LATENCY_SLACK` times the baseline; the
    rounds' own figures, not a ratio, make its spread."""
    if not any(r["workload"] == "latency" for r in doc["results"]):
        return []
    bound = LATENCY_BASELINE * LATENCY_SLACK
    text = (
        f"wake-up latency (median) of a lone item to a parked asyncio receiver, no more "
        f"than {LATENCY_SLACK - 1:.0%} over {si(LATENCY_BASELINE, 's')}"
    )
    mine = _cells(doc).get(("latency", SUBJECT, LATENCY_LOOP))
    runs = Spread(tuple(mine["runs"])) if _ok(mine) and mine is not None else None
    note = "" if runs is not None else f" ({_label(doc, SUBJECT)} missing or failed)"
    return [
        judge(
            text,
            LATENCY_LOOP,
            f"≤ {si(bound, 's')}",
            runs,
            lambda figure: figure <= bound,
            lambda figure: si(figure, "s"),
            note,
        )
    ]


def _ok(result: dict[str, Any] | None) -> bool:
    """Whether *result* was measured and none of its runs failed."""
    return result is not None and result["error"] is None


def _cells(doc: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {(r["workload"], r["subject"], r["loop"]): r for r in doc["results"]}


def _label(doc: dict[str, Any], key: str) -> str:
    for result in doc["results"]:
        if result["subject"] == key:
            return str(result["label"])
    # Not measured in this run: the name it would have had.
    known = {**IMPLEMENTATIONS, **PEERS, **BASELINES}
    return known[key].label if key in known else key


def _workload_loops(doc: dict[str, Any], workload: str) -> list[str | None]:
    if WORKLOADS[workload].uses_loop:
        return list(doc["settings"]["loops"])
    return [None]


def _gains(workload: str, mine: Any, other: Any) -> Spread | None:
    """ringchan's gain over another cell, round by round; None unless both
    were measured without error."""
    if not _ok(mine) or not _ok(other):
        return None
    return spread(mine["runs"], other["runs"], WORKLOADS[workload].gain)


def outcomes(doc: dict[str, Any]) -> list[Outcome]:
    """Every target on every event loop, judged: ringchan's ratios, the heap
    checks', then the free-threading targets of the scaling run."""
    cells = _cells(doc)
    run_workloads = {result["workload"] for result in doc["results"]}
    found: list[Outcome] = []
    for target in TARGETS:
        if not {target.workload, target.other_workload} <= run_workloads:
            # A run limited to other workloads (--workload) says nothing here.
            continue
        for loop in _workload_loops(doc, target.workload):
            other_loop = loop if WORKLOADS[target.other_workload].uses_loop else None
            mine = cells.get((target.workload, target.subject, loop))
            other = cells.get((target.other_workload, target.other, other_loop))
            note = ""
            if not _ok(mine) or not _ok(other):
                missing = _label(doc, target.other if _ok(mine) else target.subject)
                note = f" ({missing} missing or failed)"
            measured = target.spread(mine["runs"], other["runs"]) if not note else None
            found.append(
                judge(
                    target.text,
                    loop or "–",
                    target.bound(),
                    measured,
                    target.met,
                    target.show,
                    note,
                )
            )
    found += _latency_outcome(doc)
    for check in doc.get("heap", ()):
        if check.get("unbounded"):
            what = (
                f"unbounded channel: traced memory back to its baseline once a burst "
                f"of {check['items']:,} items drains, {check['check']}"
            )
            figure, bound = check["growth"], BURST_BOUND
        else:
            what = (
                f"no per-item heap allocation: tracemalloc peak over {check['items']:,} "
                f"items, {check['check']}"
            )
            figure, bound = check["peak"], HEAP_BOUND
        found.append(_single(what, "asyncio", figure, bound))
    found += _rss_outcomes(doc.get("rss"))
    return found + scaling_report.outcomes(doc.get("scaling"))


def _single(what: str, loop: str, figure: float, bound: float) -> Outcome:
    """A memory target: one measurement in bytes, at most *bound*."""
    return Outcome(
        what,
        loop,
        f"≤ {_bytes(bound)}",
        MET if figure <= bound else NOT_MET,
        measured=_bytes(figure),
    )


#: The heap target's bound: one kept allocation per item would be 100 times
#: this over a million items, so a peak under it is flat memory.
HEAP_BOUND = 64 * 1024

#: The bound on what a drained burst leaves in the traced memory: two of the
#: unbounded channel's blocks, where a kept burst would be megabytes.
BURST_BOUND = 2 * heap.BLOCK_BYTES

#: The bound on the RSS a drained burst leaves, as a share of its blocks.
RSS_SHARE = 0.01


def _rss_outcomes(rss: dict[str, Any] | None) -> list[Outcome]:
    """The RSS check's target: back to the baseline once drained."""
    if not rss:
        return []
    what = (
        f"unbounded channel: RSS back to its baseline, within {RSS_SHARE:.0%} of the "
        f"burst's blocks, once a burst of {rss['items']:,} items drains, the channel "
        "still open"
    )
    if rss["error"]:
        return [Outcome(what, "–", "", NOT_MEASURED, note=f" ({rss['error']})")]
    return [_single(what, "–", rss["drained"] - rss["before"], RSS_SHARE * rss["block_bytes"])]


def _bytes(count: float) -> str:
    for unit, scale, decimals in (("GiB", 2**30, 2), ("MiB", 2**20, 1), ("KiB", 2**10, 1)):
        if abs(count) >= scale:
            return f"{count / scale:.{decimals}f} {unit}"
    return f"{count:.0f} B"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int]) -> str:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _figure(result: dict[str, Any]) -> list[str]:
    unit = result["unit"]
    span = f"{si(result['min'], unit)}–{si(result['max'], unit)}"
    return [si(result["median"], unit), span]


def _channel_name(label: str, results: Sequence[dict[str, Any]]) -> str:
    """A channel as the tables name it, with what sets it apart from ringchan's
    bounded channel: "aiologic.SimpleQueue (unbounded, per item)"."""
    notes = []
    if any(not r.get("bounded", True) for r in results):
        notes.append("unbounded")
    if any(r["per_item"] for r in results):
        notes.append("per item")
    return f"{label} ({', '.join(notes)})" if notes else label


def _workload_rows(
    doc: dict[str, Any], workload: str, bold: bool
) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a workload's table: per channel and event
    loop, the median and min-max, and ringchan C's gain over it."""
    loops = _workload_loops(doc, workload)
    cells = _cells(doc)
    subjects = list(
        dict.fromkeys(r["subject"] for r in doc["results"] if r["workload"] == workload)
    )
    unit = WORKLOADS[workload].unit
    header = ["channel"]
    for loop in loops:
        where = f" ({loop})" if loop else ""
        header += [f"{'latency' if unit == 's' else 'items/s'}{where}", "min–max", "C gain (IQR)"]
    rows = []
    for subject in subjects:
        results = [
            r for r in doc["results"] if r["workload"] == workload and r["subject"] == subject
        ]
        name = _channel_name(_label(doc, subject), results)
        row = [f"**{name}**" if bold and subject == SUBJECT else name]
        for loop in loops:
            result = cells.get((workload, subject, loop))
            if result is None:
                row += ["–", "", ""]
                continue
            if not _ok(result):
                row += ["error", "", ""]
                continue
            row += _figure(result)
            mine = cells.get((workload, SUBJECT, loop))
            row.append("" if subject == SUBJECT else gain_text(_gains(workload, mine, result)))
        rows.append(row)
    return header, rows


def _wakeup_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """The wake-ups table: a row per workload and event loop, a column per
    ringchan implementation, each the median of its runs' wake-ups per 1,000
    items; None for results without them (a report from before they were
    counted)."""
    counted = [r for r in doc["results"] if r.get("wakeups_per_1000")]
    if not counted:
        return None
    subjects = [key for key in IMPLEMENTATIONS if any(r["subject"] == key for r in counted)]
    cells = _cells(doc)
    rows = []
    for name in WORKLOADS:
        for loop in dict.fromkeys(r["loop"] for r in counted if r["workload"] == name):
            row = [name + (f" ({loop})" if loop else "")]
            for subject in subjects:
                result = cells.get((name, subject, loop))
                figures = result.get("wakeups_per_1000") if result else None
                row.append(wakeups_text(statistics.median(figures)) if figures else "–")
            rows.append(row)
    return ["workload", *(_label(doc, key) for key in subjects)], rows


def _workload_table(doc: dict[str, Any], workload: str) -> str:
    header, rows = _workload_rows(doc, workload, bold=True)
    return _table(header, rows, set(range(1, len(header))))


#: How to read the report, after its summary line.
READING = (
    "How to read it.  The channels of each workload are measured in {repeat} rounds: "
    "a round measures each of them once, in turns, so that a ratio between two of "
    "them can be taken within each round, from two measurements made moments apart.  "
    "Every ratio below (ringchan C's gain over a channel, a target's measured figure) "
    "is the median of those per-round ratios, and its spread is their interquartile "
    "range (IQR), the middle half of the rounds.  On a shared machine the absolute "
    "figures vary from run to run; ratios taken side by side vary less, but not "
    "always little.  A narrow spread, a few percent of the ratio, means the rounds "
    "of this run agreed: the machine held steady through it.  A wide one means its "
    "load changed under the run and hit the two channels unequally (most often "
    "where threads need both cores), so the ratio is uncertain even within the run.  "
    "Neither tells how another run will come out: the machine can be in another "
    "state for the whole of a run (where its threads land, what its neighbours "
    "do), and the workloads where threads need both cores move the most, so a "
    "verdict close to its bound there can change from one run to the next however "
    "narrow its spread.  A target is **unsettled** "
    "when its spread is wider than {width} of its median and holds the bound, met "
    "in some of the middle rounds and not in others, or when it had fewer than "
    "{rounds} rounds: this run cannot tell whether it is met, so it gives no "
    "verdict.  A wide spread wholly on one side of the bound leaves the verdict as "
    "it is."
)


def _items_text(doc: dict[str, Any]) -> str:
    """How many int items each measurement sent, for the Settings line."""
    settings = doc["settings"]
    if settings.get("duration") is None:
        return f"{settings['items']:,} int items per measurement"
    sized = [r for r in doc["results"] if r["unit"] != "s" and r.get("items")]
    text = (
        f"int items, as many per measurement as take about {settings['duration']:g} s "
        f"(sized for each channel, workload and loop by runs before its rounds; at "
        f"least {SIZING_CAPACITIES} times the capacity, so that a bounded channel is "
        f"full for most of a measurement, and at most {settings['items']:,})"
    )
    if sized:
        low = min(sized, key=lambda r: r["items"])
        high = max(sized, key=lambda r: r["items"])
        text += (
            f": from {low['items']:,} ({low['label']}, {_cell_where(low)}) to "
            f"{high['items']:,} ({high['label']}, {_cell_where(high)}), each cell's in "
            "`results.json`"
        )
    return text


def _cell_where(result: dict[str, Any]) -> str:
    return result["workload"] + (f" on {result['loop']}" if result["loop"] else "")


def _versions(doc: dict[str, Any], extra: dict[str, str]) -> str:
    versions = {**doc["versions"], **extra}
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def markdown(
    doc: dict[str, Any], chart_file: str | None, chart_note: str, extra_versions: dict[str, str]
) -> str:
    """The whole report for *doc*, linking *chart_file* if there is one."""
    machine = doc["machine"]
    settings = doc["settings"]
    missing = doc["missing"]
    judged = outcomes(doc)
    unbounded = list(
        dict.fromkeys(r["label"] for r in doc["results"] if not r.get("bounded", True))
    )
    lines = [
        "# ringchan benchmark report",
        "",
        "Regenerate with `bash scripts/dev bench` (installs `.[bench]` and runs the "
        "command below).",
        "",
        f"**{summary(judged)}.**",
        "",
        READING.format(
            repeat=settings["repeat"],
            width=f"{UNSETTLED_WIDTH:.0%}",
            rounds=MIN_ROUNDS,
        ),
        "",
        f"- Command: `{doc['command']}`",
        f"- Date: {doc['date']}",
        f"- Machine: {machine['cpu']}, {machine['cpus']} logical CPUs; {machine['platform']}",
        f"- Python: {machine['python']} ({machine['implementation']})",
        f"- Versions: {_versions(doc, extra_versions)}; asyncio.Queue, queue.Queue, "
        "queue.SimpleQueue, deque and call_soon_threadsafe from the Python standard library",
        f"- Settings: capacity {settings['capacity']}, {_items_text(doc)}, batches of "
        f"{settings['batch']}, {settings['samples']} latency samples; "
        f"{settings['repeat']} rounds, each measuring every channel of a workload once, "
        f"in turns; event loops: {', '.join(settings['loops'])}",
        "- Missing: "
        + (
            "; ".join(f"{name} ({why})" for name, why in missing.items())
            if missing
            else "nothing, every peer and loop was measured"
        ),
        *scaling_report.describe(doc.get("scaling")),
        "",
        "## Targets",
        "",
        '"Measured" is how many times better ringchan C is (faster, or for latency '
        "sooner) for a ≥ bound, and how many times its cost per item (or its wait) "
        "for a ≤ bound: the median of that ratio taken in each round, and in the "
        '"spread" column the interquartile range of those per-round ratios and its '
        f"width as a share of the median; wider than {UNSETTLED_WIDTH:.0%} and holding "
        "the bound, the verdict is **unsettled**.  A feature's targets hold ringchan to "
        "itself: the feature against the hand-written code it replaces, on the same "
        "implementation, measured in the same rounds; an overhead in % is its extra "
        "cost per item.  So do the unbounded channel's: `unbounded_channel()` against "
        f"the bounded channel (capacity {settings['capacity']:,}) on the same workload, "
        "measured in the same rounds (thread to thread, the bounded channel against "
        "it); and its memory, once a burst has drained (see Heap), a single "
        "measurement each.  So does the handoff from a thread to the loop: "
        "thread-to-asyncio against same-loop, measured in the same rounds.  The "
        "latency's bound is a figure, not a ratio, the rounds' own medians its spread.",
        "",
        _table(
            ["target", "loop", "measured", "spread (IQR)", "target", "verdict"],
            [
                [o.text, o.loop, o.measured, o.spread_text(), o.bound, o.verdict_text()]
                for o in judged
            ],
            {2, 3, 4},
        ),
        "",
        "## Results",
        "",
        "Items per second (latency: median seconds from send to receipt), median and "
        'min–max of the rounds.  "C gain" is how many times faster ringchan C is than '
        "that channel (latency: how many times sooner), on the same loop: the median "
        "of the ratio taken in each round, and in brackets the interquartile range of "
        "those per-round ratios.  Channels "
        "appear under the workloads they support: asyncio.Queue, aiochannel and anyio "
        "streams are not thread-safe, and queue.Queue cannot be awaited; the `pair` "
        "and `latency` workloads also measure the floors the targets refer to.  "
        "Every channel holds at most the capacity and makes its senders wait for room, "
        "as ringchan's does, except those marked unbounded"
        + (f" ({', '.join(unbounded)})" if unbounded else "")
        + ", and ringchan's own `unbounded-` workloads.  A "
        'workload measured "in the rounds of" another is a feature of ringchan, taken '
        "in turns with the hand-written code it replaces, the unbounded channel, "
        "taken in turns with the bounded one, or the `pair` floor, taken in turns with "
        "the same-loop workload it is the floor of.",
        "",
    ]
    for name, workload in WORKLOADS.items():
        if not any(r["workload"] == name for r in doc["results"]):
            continue
        lines += [
            f"### {name}",
            "",
            workload.description[0].upper() + workload.description[1:] + ".",
            "",
            _workload_table(doc, name),
            "",
        ]
    wakeups = _wakeup_rows(doc)
    if wakeups is not None:
        header, rows = wakeups
        lines += [
            "### Wake-ups per 1,000 items",
            "",
            "What the parking strategy costs: `rx.stats().wakeups` once each "
            "measurement is over (wake-ups sent to a task or thread parked on "
            "another thread, the producer waiting for room or the consumer for an "
            "item), divided by the items received, times 1,000; the median of the "
            "rounds.  Each wake-up is a sleep and a wake of a thread or task, so a "
            "change in when either side parks shows here as a number, beside the "
            "figures above.",
            "",
            _table(header, rows, set(range(1, len(header)))),
            "",
        ]
    lines += sweep.markdown(doc.get("sweep"))
    lines += _heap_markdown(doc.get("heap"), doc.get("rss"))
    lines += scaling_report.markdown(doc.get("scaling"))
    lines += ["## Chart", ""]
    lines.append(
        f"![ringchan C, times faster than each channel, per workload]({chart_file})"
        if chart_file
        else chart_note
    )
    lines.append("")
    errors = [r for r in doc["results"] if r["error"]]
    sweep_errors = [r for r in (doc.get("sweep") or {"results": []})["results"] if r["error"]]
    scaling = doc.get("scaling") or {"results": [], "interpreters": []}
    interpreters = {i["key"]: i["label"] for i in scaling["interpreters"]}
    scaling_errors = [r for r in scaling["results"] if r["error"]]
    if errors or sweep_errors or scaling_errors:
        lines += ["## Errors", ""]
        lines += [
            f"- {r['workload']}, {r['label']}{' on ' + r['loop'] if r['loop'] else ''}: "
            f"{r['error']}"
            for r in errors
        ]
        lines += [f"- sweep, {r['workload']}, {r['label']}: {r['error']}" for r in sweep_errors]
        lines += [
            f"- {scaling_report.cell_name(r)}, {r['label']}, {interpreters[r['interpreter']]}: "
            f"{r['error']}"
            for r in scaling_errors
        ]
        lines.append("")
    return "\n".join(lines)


def _heap_markdown(checks: list[dict[str, Any]] | None, rss: dict[str, Any] | None) -> list[str]:
    """The report's section on the heap and RSS checks; none without them."""
    if not checks and not rss:
        return []
    lines = ["## Heap", ""]
    if checks:
        bursts = [c for c in checks if c.get("unbounded")]
        lines += [
            "ringchan C with tracemalloc on: how far the traced memory grew by the end "
            "(growth) and rose at its highest (peak) above its level after a warm-up "
            "of 10,000 items (`benchmarks/heap.py`).  On the bounded channel (capacity "
            f"{heap.CAPACITY:,}) the items stream through, and the end is once the channel "
            "is gone.  On an unbounded channel the items go in as one burst (a task "
            "awaiting `send()`, or a thread calling `blocking_send()` until it is "
            "through), then a task receives them all with `async for`, the warm-up's "
            "as the counted ones; the end is once they have drained, the channel still "
            "open as at the baseline.",
            "",
        ]
        if bursts:
            items = bursts[0]["items"]
            blocks = -(-items // heap.BLOCK_ITEMS)
            lines[-2] += (
                f"  Its peak is the burst's blocks: {items:,} items take {blocks:,} "
                f"blocks of {heap.BLOCK_ITEMS} slots, {heap.BLOCK_BYTES} bytes each, "
                f"{_bytes(blocks * heap.BLOCK_BYTES)} in all."
            )
        lines += [
            _table(
                ["channel", "workload", "items", "growth", "peak"],
                [
                    [
                        "unbounded, one burst"
                        if c.get("unbounded")
                        else f"capacity {heap.CAPACITY:,}",
                        c["check"],
                        f"{c['items']:,}",
                        _bytes(c["growth"]),
                        _bytes(c["peak"]),
                    ]
                    for c in checks
                ],
                {2, 3, 4},
            ),
            "",
        ]
    if rss:
        lines += [
            "### RSS after a burst",
            "",
            f"In a process of its own, without tracemalloc: {rss['items']:,} items, one "
            "shared object sent again and again with `try_send()` into an unbounded "
            "channel, then all received with `try_recv()` in the same thread; the "
            "process's RSS (`/proc/self/statm`) before, at the peak (every item "
            "buffered), and once drained with the channel still open.  The blocks come "
            "from `PyMem_Malloc`: 512 bytes each, they fill pymalloc's arenas, which go "
            "back to the system once empty.",
            "",
        ]
        if rss["error"]:
            lines += [f"Not measured: {rss['error']}.", ""]
        else:
            figures = [rss[key] for key in ("before", "peak", "drained")]
            lines += [
                _table(
                    ["items", "its blocks", "before", "peak", "drained"],
                    [
                        [
                            f"{rss['items']:,}",
                            _bytes(rss["block_bytes"]),
                            *(_bytes(figure) for figure in figures),
                        ]
                    ],
                    {0, 1, 2, 3, 4},
                ),
                "",
            ]
    return lines


@dataclass
class _Row:
    """A row of a chart panel: ringchan C's gain over one channel (on one
    workload), per event loop, and the target's floor on it, if any."""

    label: str
    gains: dict[str | None, Spread]
    floor: float | None = None
    floor_text: str = ""


def _panel_rows(doc: dict[str, Any], name: str) -> list[_Row]:
    """The rows of workload *name*'s panel: each other channel measured on it,
    then the targets that compare it with another workload (a floor, the
    hand-written code a feature replaces, the bounded channel)."""
    cells = _cells(doc)
    rows: dict[tuple[str, str], _Row] = {}
    for result in doc["results"]:
        if result["workload"] != name or result["subject"] == SUBJECT:
            continue
        mine = cells.get((name, SUBJECT, result["loop"]))
        gains = _gains(name, mine, result)
        key = (result["subject"], name)
        if key not in rows:
            same = [r for r in doc["results"] if r["workload"] == name and r["subject"] == key[0]]
            rows[key] = _Row(_channel_name(result["label"], same), {})
        if gains is not None:
            rows[key].gains[result["loop"]] = gains
    for target in TARGETS:
        if target.workload != name or target.subject != SUBJECT:
            continue
        key = (target.other, target.other_workload)
        if key not in rows:
            rows[key] = _Row(f"{_label(doc, target.other)}, {target.other_workload}", {})
            for loop in _workload_loops(doc, name):
                other_loop = loop if WORKLOADS[target.other_workload].uses_loop else None
                gains = _gains(
                    name,
                    cells.get((name, SUBJECT, loop)),
                    cells.get((target.other_workload, target.other, other_loop)),
                )
                if gains is not None:
                    rows[key].gains[loop] = gains
        row = rows[key]
        row.floor = target.floor()
        row.floor_text = (
            f"target {target.bound()}" if target.at_least else f"target: cost {target.bound()}"
        )
    return [row for row in rows.values() if row.gains]


def chart(doc: dict[str, Any], path: Path) -> None:
    """Draw *doc* into *path*: a panel per workload of ringchan C's gain over
    each other channel, on linear axes, the interquartile range of the
    per-round ratios as error bars and each target's floor as a reference
    line; then the scaling and pipeline panels.

    Needs matplotlib (ImportError without it).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = [name for name in WORKLOADS if any(r["workload"] == name for r in doc["results"])]
    extra = scaling_report.panel_count(doc.get("scaling"))
    columns = 2
    panels = [(name, _panel_rows(doc, name)) for name in names]
    # Each row of panels as tall as its fuller panel's bars need; the scaling
    # panels and the legend get a fixed height.
    needs = [
        0.9 + 0.2 * sum(len(row.gains) for row in rows) + 0.1 * len(rows) for _, rows in panels
    ]
    needs += [3.6] * (extra + columns)
    grid = (len(names) + extra + columns - 1) // columns
    heights = [max(needs[i * columns : (i + 1) * columns]) for i in range(grid)]
    figure, axes = plt.subplots(
        grid,
        columns,
        figsize=(14, sum(heights) + 0.6),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    scaling_report.draw(doc.get("scaling"), list(axes.flat)[len(names) : len(names) + extra])
    colours = {"asyncio": "#4c72b0", "uvloop": "#dd8452", None: "#55a868"}
    for axis, (name, rows) in zip(axes.flat, panels, strict=False):
        _draw_panel(axis, name, rows, colours)
    spare = list(axes.flat)[len(names) + extra :]
    for axis in spare:
        axis.axis("off")
    loops = list(dict.fromkeys(r["loop"] for r in doc["results"]))
    handles: list[Any] = [
        Patch(color=colours[loop], label=loop or "no event loop") for loop in loops
    ]
    handles += [
        Patch(
            facecolor="white",
            edgecolor="black",
            hatch="////",
            label=f"spread (IQR) wider than {UNSETTLED_WIDTH:.0%} of the ratio",
        ),
        Line2D([], [], color=FLOOR_COLOUR, linestyle="--", label="a target's floor"),
        Line2D([], [], color="grey", linewidth=0.8, label="1x: as fast"),
    ]
    if spare:
        spare[0].legend(handles=handles, loc="center", fontsize=10, title="workload panels")
    else:
        figure.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=9)
    machine = doc["machine"]
    settings = doc["settings"]
    figure.suptitle(
        f"ringchan C, times faster than each channel: median of the ratio in each of "
        f"{settings['repeat']} rounds, error bars the middle half of the rounds; "
        f"capacity {settings['capacity']}; {machine['implementation']} "
        f"{machine['python']}, {machine['cpu']} × {machine['cpus']}",
        fontsize=11,
    )
    # Room at the top for the title, whatever the number of rows.
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.6 / (sum(heights) + 0.6)))
    figure.savefig(path, dpi=90)
    plt.close(figure)


#: The colour of the targets' floors in the chart.
FLOOR_COLOUR = "#c44e52"


def _draw_panel(axis: Any, name: str, rows: Sequence[_Row], colours: dict[Any, str]) -> None:
    """One workload's panel: a bar per channel and event loop."""
    loops = list(dict.fromkeys(loop for row in rows for loop in row.gains))
    height = 0.8 / max(len(loops), 1)
    limit = ratio_limit(
        [gains.median for row in rows for gains in row.gains.values()],
        [row.floor for row in rows if row.floor is not None],
    )
    for index, loop in enumerate(loops):
        for y, row in enumerate(rows):
            gains = row.gains.get(loop)
            if gains is None:
                continue
            at = y + (index - (len(loops) - 1) / 2) * height
            first, third = gains.quartiles
            median = gains.median
            cut = median > limit
            shown = min(median, limit)
            axis.barh(
                at,
                shown,
                height,
                color=colours[loop],
                hatch="////" if gains.wide else None,
                edgecolor="white" if gains.wide else None,
            )
            if not cut:
                axis.errorbar(
                    median,
                    at,
                    xerr=[[median - first], [min(third, limit) - median]],
                    color="black",
                    elinewidth=1,
                    capsize=2,
                )
            if cut:
                # Inside the cut bar's end, legible over any colour or hatch.
                axis.text(
                    limit,
                    at,
                    f"{median:.3g}x (bar cut) ",
                    va="center",
                    ha="right",
                    fontsize=7,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
                )
            else:
                axis.text(min(third, limit), at, f" {median:.3g}x", va="center", fontsize=7)
    for y, row in enumerate(rows):
        if row.floor is None:
            continue
        axis.vlines(row.floor, y - 0.45, y + 0.45, colors=FLOOR_COLOUR, linestyles="--")
        axis.text(
            row.floor,
            y - 0.45,
            f" {row.floor_text}",
            fontsize=6,
            color=FLOOR_COLOUR,
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
        )
    axis.axvline(1, color="grey", linewidth=0.8)
    axis.set_yticks(range(len(rows)), [row.label for row in rows], fontsize=8)
    axis.set_ylim(len(rows) - 0.5, -0.6)
    axis.set_xlim(0, limit * 1.2)
    better = "sooner" if WORKLOADS[name].unit == "s" else "faster"
    axis.set_xlabel(f"ringchan C, times {better} than each (higher is better)", fontsize=8)
    axis.set_title(name, fontsize=10, loc="left")
    axis.tick_params(axis="x", labelsize=7)


def headline(doc: dict[str, Any]) -> str:
    """README.md's headline figures, as Markdown: for each workload of
    :data:`HEADLINE`, ringchan C against the fastest other channel measured
    there, on the run's first event loop."""
    cells = _cells(doc)
    settings = doc["settings"]
    first_loop = settings["loops"][0] if settings["loops"] else None
    rows = []
    for name in HEADLINE:
        loop = first_loop if WORKLOADS[name].uses_loop else None
        mine = cells.get((name, SUBJECT, loop))
        best: tuple[dict[str, Any], Spread] | None = None
        for result in doc["results"]:
            if (result["workload"], result["loop"]) != (name, loop):
                continue
            if result["subject"] not in PEERS:
                continue
            gains = _gains(name, mine, result)
            if gains is not None and (best is None or gains.median < best[1].median):
                best = (result, gains)
        if mine is None or best is None:
            continue
        peer, gains = best
        first, third = gains.quartiles
        ratio = f"{gains.median:.1f}x ({first:.1f}–{third:.1f})"
        if gains.wide:
            ratio += ", wide spread"
        rows.append(
            [
                name + (f" ({loop})" if loop else ""),
                f"{si(mine['median'])} items/s",
                f"{_channel_name(peer['label'], [peer])}, {si(peer['median'])} items/s",
                ratio,
            ]
        )
    machine = doc["machine"]
    return "\n".join(
        [
            f"ringchan C against the fastest other channel measured on each workload, "
            f"{settings['capacity']:,}-item channels, on CPython {machine['python']}, "
            f"{machine['cpus']} logical CPUs ({machine['cpu']}), {doc['date']}: the "
            f"median of {settings['repeat']} rounds, and for the ratio, the median of "
            "the ratio taken in each round, the middle half of the rounds in brackets.  "
            f"From [the benchmark report]({REPORT_URL}), which has every channel, the "
            f"targets and how to read the spread, and [its chart]({CHART_URL}); "
            "`bash scripts/dev bench` writes this table too.",
            "",
            _table(
                ["workload", "ringchan C", "fastest other channel", "ringchan C, times faster"],
                rows,
                {1, 3},
            ),
        ]
    )


def with_headline(readme: str, doc: dict[str, Any]) -> str:
    """*readme* with the text between its headline markers replaced by
    :func:`headline` of *doc*, and, if *doc* has a sweep, the text between
    its sweep markers by the sweep's table; ValueError if it lacks the
    markers."""
    readme = _between(readme, HEADLINE_START, HEADLINE_END, headline(doc))
    if doc.get("sweep"):
        readme = _between(readme, SWEEP_START, SWEEP_END, sweep.table(doc["sweep"]))
    return readme


def _between(text: str, start_marker: str, end_marker: str, body: str) -> str:
    start = text.find(start_marker)
    end = text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"no {start_marker} ... {end_marker} markers")
    return text[: start + len(start_marker)] + "\n" + body + "\n" + text[end:]


def _text_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int]
) -> list[str]:
    """*rows* under *header* as aligned plain text: columns in *right*
    right-aligned, the last column left unpadded."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * width for width in widths]), *map(line, rows)]


def terminal(doc: dict[str, Any]) -> str:
    """The summary compare.py prints: per workload a table of every channel's
    figures and ringchan C's gains, the targets, and the summary line."""
    settings = doc["settings"]
    lines = [
        f"Median of {settings['repeat']} rounds; C gain: the median of the per-round "
        "ratios, the interquartile range in brackets.",
        "",
    ]
    for name in WORKLOADS:
        if not any(r["workload"] == name for r in doc["results"]):
            continue
        header, rows = _workload_rows(doc, name, bold=False)
        header[0] = name
        lines += _text_table(header, rows, set(range(1, len(header))))
        lines.append("")
    wakeups = _wakeup_rows(doc)
    if wakeups is not None:
        header, rows = wakeups
        header[0] = "wake-ups per 1,000 items"
        lines += _text_table(header, rows, set(range(1, len(header))))
        lines.append("")
    if doc.get("sweep"):
        header, rows = sweep.rows(doc["sweep"])
        header = [column.strip("`") for column in header]
        loop = doc["sweep"]["loop"]
        lines.append(f"capacity × batch size, ringchan C, thread → asyncio ({loop})")
        lines += _text_table(header, rows, set(range(len(header))))
        lines.append("")
    judged = outcomes(doc)
    lines += _text_table(
        ["verdict", "measured", "spread (IQR)", "target", "loop", "what"],
        [
            [o.verdict_text(bold=False), o.measured, o.spread_text(), o.bound, o.loop, o.text]
            for o in judged
        ],
        {1, 2, 3},
    )
    lines += ["", summary(judged)]
    return "\n".join(lines)
