"""The comparison report: Markdown tables, the targets, and a PNG chart.

Everything here reads the results document that ``compare.py`` also saves
as ``results.json`` (the shape of ``python -m ringchan bench --json``, plus
what was missing), so the report shows exactly what was measured.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import heap
import scaling_report
import sweep

from ringchan.bench.suite import si
from ringchan.bench.workloads import WORKLOADS

__all__ = ("TARGETS", "Target", "chart", "markdown", "target_rows")

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

    def measure(self, mine: float, other: float) -> float:
        """The figure the bound applies to, from the two medians."""
        gain = WORKLOADS[self.workload].gain(mine, other)
        # For a cost ratio, the inverse of how many times better ringchan C is.
        return gain if self.at_least is not None else 1 / gain


def _percent(ratio: float) -> str:
    """A cost ratio as the overhead it means: 1.042 is +4.2%."""
    return f"{(ratio - 1) * 100:+.1f}%"


_PURE_WORKLOADS = (
    "same-loop",
    "thread-to-asyncio",
    "4-threads-to-asyncio",
    "thread-to-thread",
    "batches",
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


def _ok(result: dict[str, Any] | None) -> bool:
    """Whether *result* was measured and none of its runs failed."""
    return result is not None and result["error"] is None


def _cells(doc: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {(r["workload"], r["subject"], r["loop"]): r for r in doc["results"]}


def _label(doc: dict[str, Any], key: str) -> str:
    for result in doc["results"]:
        if result["subject"] == key:
            return str(result["label"])
    return key


def _workload_loops(doc: dict[str, Any], workload: str) -> list[str | None]:
    if WORKLOADS[workload].uses_loop:
        return list(doc["settings"]["loops"])
    return [None]


def target_rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per target and event loop: what, loop, measured, bound, verdict;
    the heap checks', then the free-threading targets of the scaling run."""
    cells = _cells(doc)
    run_workloads = {result["workload"] for result in doc["results"]}
    rows = []
    for target in TARGETS:
        if not {target.workload, target.other_workload} <= run_workloads:
            # A run limited to other workloads (--workload) says nothing here.
            continue
        for loop in _workload_loops(doc, target.workload):
            other_loop = loop if WORKLOADS[target.other_workload].uses_loop else None
            mine = cells.get((target.workload, target.subject, loop))
            other = cells.get((target.other_workload, target.other, other_loop))
            if not _ok(mine) or not _ok(other):
                missing = _label(doc, target.other if _ok(mine) else target.subject)
                measured, verdict = "–", f"not measured ({missing} missing or failed)"
            else:
                assert mine is not None and other is not None
                value = target.measure(mine["median"], other["median"])
                measured = target.show(value)
                verdict = _verdict(target.met(value))
            rows.append([target.text, loop or "–", measured, target.bound(), verdict])
    for check in doc.get("heap", ()):
        if check.get("unbounded"):
            what = (
                f"unbounded channel: traced memory back to its baseline once a burst "
                f"of {check['items']:,} items drains, {check['check']}"
            )
            measured, bound = check["growth"], BURST_BOUND
        else:
            what = (
                f"no per-item heap allocation: tracemalloc peak over {check['items']:,} "
                f"items, {check['check']}"
            )
            measured, bound = check["peak"], HEAP_BOUND
        rows.append(
            [what, "asyncio", _bytes(measured), f"≤ {_bytes(bound)}", _verdict(measured <= bound)]
        )
    rows += _rss_rows(doc.get("rss"))
    return rows + scaling_report.target_rows(doc.get("scaling"))


#: The heap target's bound: one kept allocation per item would be 100 times
#: this over a million items, so a peak under it is flat memory.
HEAP_BOUND = 64 * 1024

#: The bound on what a drained burst leaves in the traced memory: two of the
#: unbounded channel's blocks, where a kept burst would be megabytes.
BURST_BOUND = 2 * heap.BLOCK_BYTES

#: The bound on the RSS a drained burst leaves, as a share of its blocks.
RSS_SHARE = 0.01


def _verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def _rss_rows(rss: dict[str, Any] | None) -> list[list[str]]:
    """The RSS check's target: back to the baseline once drained."""
    if not rss:
        return []
    what = (
        f"unbounded channel: RSS back to its baseline, within {RSS_SHARE:.0%} of the "
        f"burst's blocks, once a burst of {rss['items']:,} items drains, the channel "
        "still open"
    )
    if rss["error"]:
        return [[what, "–", "–", "", f"not measured ({rss['error']})"]]
    bound = RSS_SHARE * rss["block_bytes"]
    above = rss["drained"] - rss["before"]
    return [[what, "–", _bytes(above), f"≤ {_bytes(bound)}", _verdict(above <= bound)]]


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


def _workload_table(doc: dict[str, Any], workload: str) -> str:
    loops = _workload_loops(doc, workload)
    cells = _cells(doc)
    subjects = list(
        dict.fromkeys(r["subject"] for r in doc["results"] if r["workload"] == workload)
    )
    unit = WORKLOADS[workload].unit
    header = ["channel"]
    for loop in loops:
        where = f" ({loop})" if loop else ""
        header += [f"{'latency' if unit == 's' else 'items/s'}{where}", "min–max", "C gain"]
    rows = []
    for subject in subjects:
        label = _label(doc, subject)
        row = [f"**{label}**" if subject == SUBJECT else label]
        for loop in loops:
            result = cells.get((workload, subject, loop))
            if result is None:
                row += ["–", "", ""]
                continue
            if result["per_item"]:
                row[0] = f"{label} (per item)"
            if not _ok(result):
                row += ["error", "", ""]
                continue
            row += _figure(result)
            mine = cells.get((workload, SUBJECT, loop))
            if subject == SUBJECT or mine is None or not _ok(mine):
                row.append("")
            else:
                row.append(f"{WORKLOADS[workload].gain(mine['median'], result['median']):.2f}x")
        rows.append(row)
    right = set(range(1, len(header)))
    return _table(header, rows, right)


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
    lines = [
        "# ringchan benchmark report",
        "",
        "Regenerate with `bash scripts/dev bench` (installs `.[bench]` and runs the "
        "command below).  Figures from a shared machine vary from run to run; the "
        "ratios, measured side by side in one run with the channels taken in turns "
        "within each repeat, are the stable part.",
        "",
        f"- Command: `{doc['command']}`",
        f"- Date: {doc['date']}",
        f"- Machine: {machine['cpu']}, {machine['cpus']} logical CPUs; {machine['platform']}",
        f"- Python: {machine['python']} ({machine['implementation']})",
        f"- Versions: {_versions(doc, extra_versions)}; asyncio.Queue, queue.Queue, "
        "deque and call_soon_threadsafe from the Python standard library",
        f"- Settings: capacity {settings['capacity']}, {settings['items']:,} int items "
        f"per measurement, batches of {settings['batch']}, {settings['samples']} "
        f"latency samples; median of {settings['repeat']} runs (min–max); event loops: "
        f"{', '.join(settings['loops'])}",
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
        "for a ≤ bound, from the medians below.  A feature's targets hold ringchan to "
        "itself: the feature against the hand-written code it replaces, on the same "
        "implementation, measured in the same rounds; an overhead in % is its extra "
        "cost per item.  So do the unbounded channel's: `unbounded_channel()` against "
        f"the bounded channel (capacity {settings['capacity']:,}) on the same workload, "
        "measured in the same rounds; and its memory, once a burst has drained "
        "(see Heap).",
        "",
        _table(["target", "loop", "measured", "target", "verdict"], target_rows(doc), {2, 3}),
        "",
        "## Results",
        "",
        "Items per second (latency: median seconds from send to receipt), median and "
        'min–max of the runs.  "C gain" is how many times faster ringchan C is than '
        "that channel (latency: how many times sooner), on the same loop.  Channels "
        "appear under the workloads they support: asyncio.Queue, aiochannel and anyio "
        "streams are not thread-safe, and queue.Queue cannot be awaited; the `pair` "
        "and `latency` workloads also measure the floors the targets refer to.  A "
        'workload measured "in the rounds of" another is a feature of ringchan, taken '
        "in turns with the hand-written code it replaces, or the unbounded channel, "
        "taken in turns with the bounded one.",
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
    lines += sweep.markdown(doc.get("sweep"))
    lines += _heap_markdown(doc.get("heap"), doc.get("rss"))
    lines += scaling_report.markdown(doc.get("scaling"))
    lines += ["## Chart", ""]
    lines.append(f"![items/s per workload]({chart_file})" if chart_file else chart_note)
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


def chart(doc: dict[str, Any], path: Path) -> None:
    """Draw *doc* as horizontal bars, one panel per workload, into *path*.

    Needs matplotlib (ImportError without it).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, NullFormatter

    names = [name for name in WORKLOADS if any(r["workload"] == name for r in doc["results"])]
    extra = scaling_report.panel_count(doc.get("scaling"))
    columns = 2
    rows = (len(names) + extra + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(13, 3.4 * rows), squeeze=False)
    # The scaling panels follow the workloads'; what is left holds the legend.
    scaling_report.draw(
        doc.get("scaling"),
        list(axes.flat)[len(names) : len(names) + extra],
        lambda value: _tick(value, "items/s"),
    )
    colours = {"asyncio": "#4c72b0", "uvloop": "#dd8452", None: "#55a868"}
    for axis, name in zip(axes.flat, names, strict=False):
        workload = WORKLOADS[name]
        results = [r for r in doc["results"] if r["workload"] == name and _ok(r)]
        subjects = list(dict.fromkeys(r["subject"] for r in results))
        loops = list(dict.fromkeys(r["loop"] for r in results))
        height = 0.8 / max(len(loops), 1)
        scale = 1e6 if workload.unit == "s" else 1.0
        for index, loop in enumerate(loops):
            ys: list[float] = []
            medians: list[float] = []
            low: list[float] = []
            high: list[float] = []
            tops: list[float] = []
            for y, subject in enumerate(subjects):
                found = [r for r in results if r["subject"] == subject and r["loop"] == loop]
                if not found:
                    continue
                result = found[0]
                ys.append(y + (index - (len(loops) - 1) / 2) * height)
                medians.append(result["median"] * scale)
                low.append((result["median"] - result["min"]) * scale)
                high.append((result["max"] - result["median"]) * scale)
                tops.append(result["max"] * scale)
            axis.barh(
                ys,
                medians,
                height,
                xerr=[low, high],
                color=colours[loop],
                error_kw={"elinewidth": 1, "capsize": 2},
            )
            # The median's label goes past the whisker, where it stays legible.
            for at, value, top in zip(ys, medians, tops, strict=True):
                axis.text(top, at, f"  {_tick(value, workload.unit)}", va="center", fontsize=7)
        labels = []
        for subject in subjects:
            label = _label(doc, subject)
            per_item = any(r["per_item"] for r in results if r["subject"] == subject)
            labels.append(label + (" (per item)" if per_item else ""))
        axis.set_yticks(range(len(subjects)), labels, fontsize=8)
        for tick, subject in zip(axis.get_yticklabels(), subjects, strict=True):
            if subject == SUBJECT:
                tick.set_fontweight("bold")
        axis.invert_yaxis()
        if workload.unit == "s":
            axis.set_xlabel("median latency, µs (shorter is better)", fontsize=8)
        else:
            # Rates span two orders of magnitude within one workload.
            axis.set_xscale("log")
            axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: si(value)))
            axis.xaxis.set_minor_formatter(NullFormatter())
            axis.set_xlabel("items/s, log scale", fontsize=8)
        axis.set_title(name, fontsize=10, loc="left")
        axis.tick_params(axis="x", labelsize=7)
        axis.margins(x=0.25)
    spare = list(axes.flat)[len(names) + extra :]
    for axis in spare:
        axis.axis("off")
    loops = list(dict.fromkeys(r["loop"] for r in doc["results"]))
    handles = [Patch(color=colours[loop], label=loop or "no event loop") for loop in loops]
    if spare:
        spare[0].legend(handles=handles, loc="center", fontsize=10, title="event loop")
    else:
        figure.legend(handles=handles, loc="lower center", ncols=len(handles), fontsize=9)
    machine = doc["machine"]
    settings = doc["settings"]
    figure.suptitle(
        f"ringchan and peers: median of {settings['repeat']} runs, bars min–max; "
        f"capacity {settings['capacity']}; {machine['implementation']} "
        f"{machine['python']}, {machine['cpu']} × {machine['cpus']}",
        fontsize=11,
    )
    # Room at the top for the title, whatever the number of rows.
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (3.4 * rows)))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _tick(value: float, unit: str) -> str:
    """A bar's label: items/s as 1.50M, a latency (drawn in µs) as 23.4µs."""
    return f"{value:.3g}µs" if unit == "s" else si(value)
