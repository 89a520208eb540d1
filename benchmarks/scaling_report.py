"""The scaling part of the report: its targets, tables and chart panels.

Everything here reads ``doc["scaling"]``, the document ``scaling.run``
returns and ``compare.py`` saves in ``results.json``; a report without it
(``--scaling-repeat 0``) has none of these sections.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from outcome import Outcome, gain_text, judge, ratio_limit, wakeups_text

from ringchan.bench.suite import Spread, si, spread

__all__ = ("TARGETS", "ScalingTarget", "draw", "markdown", "outcomes", "panel_count")

#: The quick workloads held to the C-vs-pure bound, as on the GIL build:
#: not the batch workloads, whose batches amortize both implementations'
#: calls alike (their ratio is reported, without a target).
PURE_WORKLOADS = (
    "same-loop",
    "thread-to-asyncio",
    "4-threads-to-asyncio",
    "thread-to-thread",
)

#: C, against which every gain is measured.
C = "c"

Result = dict[str, Any]


def _ok(result: Result | None) -> bool:
    return result is not None and result["error"] is None


def _find(doc: Result, interpreter: str, channel: str, **spec: Any) -> Result | None:
    for result in doc["results"]:
        if (
            result["interpreter"] == interpreter
            and result["channel"] == channel
            and all(result[key] == value for key, value in spec.items())
        ):
            return result
    return None


def _ratio(unit: str) -> Callable[[float, float], float]:
    """How many times better a figure is than another: faster, or for a
    latency (*unit* "s") sooner."""
    if unit == "s":
        return lambda mine, other: other / mine
    return lambda mine, other: mine / other


def _gains(mine: Result | None, other: Result | None) -> Spread | None:
    """C's gain over another cell of the same rounds, round by round; None
    unless both were measured without error."""
    if not _ok(mine) or not _ok(other):
        return None
    assert mine is not None and other is not None
    return spread(mine["runs"], other["runs"], _ratio(mine["unit"]))


def _show(value: float) -> str:
    return f"{value:.2f}x"


def _free_threaded(doc: Result) -> list[Result]:
    return [i for i in doc["interpreters"] if i["free_threaded"]]


def _gil_note(interpreter: Result, channel: str) -> str:
    """Why a C figure on a free-threaded interpreter is not yet what it claims."""
    if channel == C and interpreter["workers"]["c"]["gil"]:
        return ", with the GIL on in ringchan C's process"
    return ""


@dataclass(frozen=True)
class ScalingTarget:
    """A bound on ringchan C against another channel, on a free-threaded interpreter."""

    #: What is compared, after the interpreter's name.
    text: str
    #: ringchan C's cell, and the other channel's cell.
    spec: tuple[tuple[str, Any], ...]
    other: str
    at_least: float
    #: The event loop column of the targets table.
    loop: str = "–"
    #: The other channel's cell where it is not *spec*: another workload of
    #: the same rounds (thread-to-asyncio against same-loop).
    other_spec: tuple[tuple[str, Any], ...] | None = None

    def other_cell(self) -> dict[str, Any]:
        """The spec of the cell compared with."""
        return dict(self.spec if self.other_spec is None else self.other_spec)


def _items(producers: int, consumer: str) -> tuple[tuple[str, Any], ...]:
    """The scaling cell of *producers* threads sending item by item into *consumer*."""
    return (
        ("kind", "scaling"),
        ("producers", producers),
        ("consumer", consumer),
        ("batched", False),
    )


def _quick(workload: str, loop: str | None) -> tuple[tuple[str, Any], ...]:
    """The cell of a workload of ``python -m ringchan bench`` on *loop*."""
    return (("kind", "quick"), ("workload", workload), ("loop", loop))


#: The free-threading targets: ratios measured side by side, on the
#: free-threaded build.  The pipeline against serial is reported without one:
#: on two cores, beside aiosqlite's own thread, it measures SQLite and the
#: scheduler more than the channel.
TARGETS: list[ScalingTarget] = [
    ScalingTarget(
        "2 producer threads `blocking_send` → blocking consumer, ringchan C vs the same "
        "interpreter with `PYTHON_GIL=1`",
        _items(2, "thread"),
        "c-gil",
        2,
    ),
    ScalingTarget(
        "1 producer thread `blocking_send` → blocking consumer, ringchan C vs the same "
        "interpreter with `PYTHON_GIL=1`",
        _items(1, "thread"),
        "c-gil",
        1.6,
    ),
    ScalingTarget(
        "4 producer threads `blocking_send` → asyncio consumer, ringchan C vs the same "
        "interpreter with `PYTHON_GIL=1`",
        _items(4, "asyncio"),
        "c-gil",
        1.2,
        loop="asyncio",
    ),
    ScalingTarget(
        "2 producer threads `blocking_send` → blocking consumer, ringchan C vs queue.Queue",
        _items(2, "thread"),
        "queue-queue",
        20,
    ),
    ScalingTarget(
        "1 producer thread `blocking_send` → blocking consumer, ringchan C vs "
        "queue.SimpleQueue (unbounded)",
        _items(1, "thread"),
        "queue-simple",
        1.5,
    ),
    ScalingTarget(
        "2 producer threads `blocking_send` → blocking consumer, ringchan C vs "
        "queue.SimpleQueue (unbounded)",
        _items(2, "thread"),
        "queue-simple",
        1.2,
    ),
    ScalingTarget(
        "1 producer thread `blocking_send` → asyncio consumer, ringchan C vs "
        "aiologic.SimpleQueue (unbounded)",
        _items(1, "asyncio"),
        "aiologic-simple",
        6,
        loop="asyncio",
    ),
    # Workloads of python -m ringchan bench, each against another of the same
    # rounds, on the same interpreter and implementation.
    ScalingTarget(
        "thread-to-asyncio vs same-loop, ringchan C (a thread's handoff to the loop "
        "against a task's)",
        _quick("thread-to-asyncio", "asyncio"),
        C,
        1.3,
        loop="asyncio",
        other_spec=_quick("same-loop", "asyncio"),
    ),
    ScalingTarget(
        "thread-to-thread, bounded ringchan C vs its own `unbounded_channel()`, throughput",
        _quick("thread-to-thread", None),
        C,
        0.9,
        other_spec=_quick("unbounded-thread-to-thread", None),
    ),
]

#: ringchan C against the pure twin on every workload in the group.
PURE_BOUND = 5.0


def _at_least(bound: float) -> Callable[[float], bool]:
    return lambda value: value >= bound


def _worst(
    doc: Result, interpreter: Result, results: Iterable[Result]
) -> tuple[Spread, Result, int] | None:
    """The smallest C gain over the pure twin among *results* (C's cells), by
    its median, with that cell and how many cells were compared; None if none
    was measured."""
    worst: tuple[Spread, Result] | None = None
    compared = 0
    for mine in results:
        spec = {
            key: mine[key]
            for key in ("kind", "workload", "producers", "consumer", "batched", "loop")
        }
        gains = _gains(mine, _find(doc, interpreter["key"], "py", **spec))
        if gains is None:
            continue
        compared += 1
        if worst is None or gains.median < worst[0].median:
            worst = (gains, mine)
    return None if worst is None else (worst[0], worst[1], compared)


def cell_name(result: Result) -> str:
    """A cell as the tables name it: "2 → thread, batches", "pipeline", "same-loop"."""
    if result["kind"] == "scaling":
        sends = "batches" if result["batched"] else "items"
        return f"{result['producers']} → {result['consumer']}, {sends}"
    if result["kind"] == "pipeline":
        return "pipeline"
    loop = f" ({result['loop']})" if result["loop"] else ""
    return f"{result['workload']}{loop}"


def outcomes(doc: Result | None) -> list[Outcome]:
    """The free-threading targets, judged: ringchan C against another channel
    of the same rounds, on each free-threaded interpreter."""
    if not doc:
        return []
    found: list[Outcome] = []
    interpreters = _free_threaded(doc)
    if not interpreters:
        for target in TARGETS:
            found.append(
                judge(
                    f"free-threaded: {target.text}",
                    target.loop,
                    f"≥ {target.at_least:g}x",
                    None,
                    _at_least(target.at_least),
                    _show,
                    " (no free-threaded interpreter in this run)",
                )
            )
        return found
    for interpreter in interpreters:
        name = interpreter["label"]
        gil = _gil_note(interpreter, C)
        for target in TARGETS:
            spec = dict(target.spec)
            mine = _find(doc, interpreter["key"], C, **spec)
            other = _find(doc, interpreter["key"], target.other, **target.other_cell())
            gains = _gains(mine, other)
            if gains is None:
                missing = "ringchan C" if not _ok(mine) else target.other
                note = f" ({missing} missing or failed)"
            else:
                note = gil
            found.append(
                judge(
                    f"{name}: {target.text}",
                    target.loop,
                    f"≥ {target.at_least:g}x",
                    gains,
                    _at_least(target.at_least),
                    _show,
                    note,
                )
            )
        groups = [
            (
                "every scaling workload sending item by item",
                [
                    r
                    for r in doc["results"]
                    if r["kind"] == "scaling"
                    and not r["batched"]
                    and r["channel"] == C
                    and r["interpreter"] == interpreter["key"]
                ],
            ),
            (
                f"the workloads of `python -m ringchan bench` held to it on the GIL build "
                f"({', '.join(PURE_WORKLOADS)})",
                [
                    r
                    for r in doc["results"]
                    if r["kind"] == "quick"
                    and r["workload"] in PURE_WORKLOADS
                    and r["channel"] == C
                    and r["interpreter"] == interpreter["key"]
                ],
            ),
        ]
        for what, results in groups:
            text = f"{name}: {what}, ringchan C vs the pure-Python twin (the smallest gain)"
            worst = _worst(doc, interpreter, results)
            if worst is None:
                found.append(
                    judge(text, "–", f"≥ {PURE_BOUND:g}x", None, _at_least(PURE_BOUND), _show)
                )
                continue
            gains, cell, compared = worst
            found.append(
                judge(
                    f"{text}: {cell_name(cell)}, of {compared} compared",
                    "–",
                    f"≥ {PURE_BOUND:g}x",
                    gains,
                    _at_least(PURE_BOUND),
                    _show,
                    gil,
                )
            )
    return found


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Iterable[int]) -> str:
    right = set(right)
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _figure(result: Result | None, with_span: bool = True) -> str:
    if result is None:
        return "–"
    if result["error"]:
        return "error"
    unit = result["unit"]
    text = si(result["median"], unit)
    if with_span:
        text += f" ({si(result['min'], unit)}–{si(result['max'], unit)})"
    return text


def _labels(doc: Result) -> dict[str, Result]:
    return {interpreter["key"]: interpreter for interpreter in doc["interpreters"]}


def _process(channel: str) -> str:
    return {"c": "c", "c-gil": "c-gil"}.get(channel, "rest")


def _channels(results: Iterable[Result]) -> list[tuple[str, str]]:
    """(key, label) of each channel among *results*: ringchan C first, then
    C with the GIL forced on, then the others in the order measured."""
    found = list(dict.fromkeys((r["channel"], r["label"]) for r in results))
    first = {C: 0, "c-gil": 1}
    return sorted(found, key=lambda pair: first.get(pair[0], 2))


def _scaling_cells(
    scaling: list[Any], interpreters: dict[str, Any]
) -> Iterator[tuple[str, bool, str, str, Any, list[Any]]]:
    """The scaling results row by row, as both scaling tables lay them out:
    (consumer, batched, channel, its label, interpreter, its results)."""
    for consumer in ("thread", "asyncio"):
        for batched in (False, True):
            cells = [r for r in scaling if r["consumer"] == consumer and r["batched"] == batched]
            for channel, label in _channels(cells):
                for key, interpreter in interpreters.items():
                    mine = [r for r in cells if r["channel"] == channel and r["interpreter"] == key]
                    if mine:
                        yield consumer, batched, channel, label, interpreter, mine


def _scaling_table(doc: Result) -> str:
    interpreters = _labels(doc)
    counts = doc["settings"]["producers"]
    header = [
        "consumer",
        "sends",
        "channel",
        "interpreter",
        "GIL",
        *[f"{n} producer{'s' if n != 1 else ''}" for n in counts],
    ]
    rows = []
    scaling = [r for r in doc["results"] if r["kind"] == "scaling"]
    for consumer, batched, channel, label, interpreter, mine in _scaling_cells(
        scaling, interpreters
    ):
        notes = [
            note
            for note, found in (
                ("unbounded", not all(r.get("bounded", True) for r in mine)),
                ("per item", any(r["per_item"] for r in mine)),
            )
            if found
        ]
        per_item = f" ({', '.join(notes)})" if notes else ""
        sends = (
            f"`blocking_send_many({doc['settings']['batch']})`" if batched else "`blocking_send`"
        )
        name = f"**{label}**" if channel == C else label
        row = [
            "thread" if consumer == "thread" else "asyncio task",
            sends,
            name + per_item,
            interpreter["label"],
            interpreter["workers"][_process(channel)]["gil_text"],
        ]
        for count in counts:
            found = [r for r in mine if r["producers"] == count]
            row.append(_figure(found[0] if found else None))
        rows.append(row)
    return _table(header, rows, range(5, len(header)))


def _wakeups_table(doc: Result) -> str | None:
    """Wake-ups per 1,000 items of ringchan's channels in the scaling
    workloads, laid out as the scaling table; None without any (results from
    before they were counted)."""
    interpreters = _labels(doc)
    counts = doc["settings"]["producers"]
    scaling = [r for r in doc["results"] if r["kind"] == "scaling" and r.get("wakeups_per_1000")]
    if not scaling:
        return None
    rows = []
    for consumer, batched, _channel, label, interpreter, mine in _scaling_cells(
        scaling, interpreters
    ):
        row = [
            "thread" if consumer == "thread" else "asyncio task",
            "`blocking_send_many`" if batched else "`blocking_send`",
            label,
            interpreter["label"],
        ]
        for count in counts:
            found = [r for r in mine if r["producers"] == count]
            figures = found[0]["wakeups_per_1000"] if found else None
            row.append(wakeups_text(statistics.median(figures)) if figures else "–")
        rows.append(row)
    header = [
        "consumer",
        "sends",
        "channel",
        "interpreter",
        *[f"{n} producer{'s' if n != 1 else ''}" for n in counts],
    ]
    return _table(header, rows, range(4, len(header)))


def _pipeline_table(doc: Result) -> str:
    interpreters = _labels(doc)
    rows = []
    pipeline = [r for r in doc["results"] if r["kind"] == "pipeline"]
    for key, interpreter in interpreters.items():
        serial = _find(doc, key, "serial", kind="pipeline")
        for result in [r for r in pipeline if r["interpreter"] == key]:
            ratio = ""
            if result["channel"] != "serial":
                ratio = gain_text(_gains(result, serial))
            label = result["label"]
            span = f"{si(result['min'])}–{si(result['max'])}" if _ok(result) else ""
            rows.append(
                [
                    f"**{label}**" if result["channel"] == C else label,
                    interpreter["label"],
                    interpreter["workers"][_process(result["channel"])]["gil_text"],
                    _figure(result, with_span=False),
                    span,
                    ratio,
                ]
            )
    return _table(
        ["channel", "interpreter", "GIL", "items/s", "min–max", "vs serial (IQR)"],
        rows,
        {3, 4, 5},
    )


def _quick_table(doc: Result, interpreter: Result) -> str | None:
    key = interpreter["key"]
    mine = [
        r
        for r in doc["results"]
        if r["kind"] == "quick" and r["interpreter"] == key and r["channel"] == C
    ]
    if not mine:
        return None
    workers = interpreter["workers"]
    header = [
        "workload",
        "loop",
        f"ringchan C, GIL {workers['c']['gil_text']}",
        "min–max",
        f"ringchan pure, GIL {workers['rest']['gil_text']}",
        "min–max",
        "C gain (IQR)",
    ]
    rows = []
    for result in mine:
        other = _find(
            doc, key, "py", kind="quick", workload=result["workload"], loop=result["loop"]
        )
        row = [result["workload"], result["loop"] or "–"]
        for cell in (result, other):
            if _ok(cell):
                assert cell is not None
                unit = cell["unit"]
                span = f"{si(cell['min'], unit)}–{si(cell['max'], unit)}"
                row += [si(cell["median"], unit), span]
            else:
                row += ["error" if cell else "–", ""]
        row.append(gain_text(_gains(result, other)))
        rows.append(row)
    return _table(header, rows, range(2, len(header)))


def describe(doc: Result | None) -> list[str]:
    """Header lines: the interpreters of the scaling run and what each lacked."""
    if not doc:
        return []
    lines = []
    for interpreter in doc["interpreters"]:
        versions = ", ".join(f"{k} {v}" for k, v in interpreter["versions"].items())
        lines.append(f"- Scaling interpreter: {interpreter['label']} ({versions})")
        for what, why in interpreter["missing"].items():
            lines.append(f"  - missing there: {what} ({why})")
    return lines


def markdown(doc: Result | None) -> list[str]:
    """The Scaling, Pipeline and free-threaded quick-workload sections."""
    if not doc:
        return []
    settings = doc["settings"]
    # Per channel, the item counts of its runs by way of sending.
    counts: dict[str, dict[str, int]] = {}
    for r in doc["results"]:
        if r["kind"] == "scaling":
            sends = "`blocking_send_many`" if r["batched"] else "`blocking_send`"
            counts.setdefault(r["label"], {})[sends] = r["items"]
    scaled = []
    for label, by_sends in counts.items():
        if set(by_sends.values()) == {settings["items"]}:
            continue
        if len(set(by_sends.values())) == 1:
            scaled.append(f"{label}, {next(iter(by_sends.values())):,}")
        else:
            scaled += [
                f"{label} with {sends}, {items:,}"
                for sends, items in by_sends.items()
                if items != settings["items"]
            ]
    other_counts = ""
    if scaled:
        other_counts = (
            "  Other item counts, so that a fast channel's run lasts long enough for a "
            "steady figure on a shared machine and a slow one's does not take most of "
            "the bench's time: " + "; ".join(scaled) + "."
        )
    lines = [
        "## Scaling",
        "",
        f"**{doc['cpus']} logical CPUs** (`os.cpu_count()`): producer threads "
        f"{', '.join(map(str, settings['producers']))} (1, 2, 4, the powers of two up to the "
        "CPU count and one more than it).  Each producer thread sends its share of "
        f"{settings['items']:,} int items (but see below), built before the clock starts, with "
        f"`blocking_send` or `blocking_send_many` of {settings['batch']}, into one consumer: "
        "a plain thread, or an asyncio task on the default loop; capacity "
        f"{settings['capacity']} (queue.SimpleQueue and aiologic.SimpleQueue are unbounded, "
        "marked so).  The consumer counts "
        "and sums what it receives; any difference is an error, not a figure.  "
        "queue's and aiologic's queues put and get item by item (per item); queue's "
        "cannot be awaited.  Items/s, median (min–max) of "
        f"{settings['repeat']} rounds, channels and interpreters taken in turns in each; "
        "a ratio (the free-threading targets) is the median of the ratio taken in each "
        "round, its spread their interquartile range." + other_counts,
        "",
        "Each interpreter runs its figures in worker processes of its own: ringchan C in "
        "one, the same with `PYTHON_GIL=1` in another (free-threaded build only), every "
        "other channel in a third that never imports the C module.  The GIL column is "
        "`sys._is_gil_enabled()` in that process once its channels were imported: on a "
        "free-threaded build, importing a C module not declared free-threading "
        "compatible turns the GIL on.",
        "",
        _scaling_table(doc),
        "",
    ]
    wakeups = _wakeups_table(doc)
    if wakeups is not None:
        lines += [
            "### Wake-ups per 1,000 items",
            "",
            "ringchan's channels in the scaling runs above: `rx.stats().wakeups` once "
            "each measurement is over (wake-ups sent to a thread or task parked on "
            "another thread), divided by the items received, times 1,000; the median "
            "of the rounds.  A change in when either side parks shows here as a number.",
            "",
            wakeups,
            "",
        ]
    if _has_pipeline(doc):
        lines += [
            "## Pipeline",
            "",
            f"{settings['pipeline_items']:,} JSON lines, built before the clock starts: "
            f"{settings['pipeline_parsers']} parser threads `json.loads` their share and "
            "`blocking_send` each dict; one asyncio task takes them with `recv_many("
            f"{settings['batch']})` and writes each batch to an in-memory SQLite database "
            "through aiosqlite (`executemany`, then one commit).  Serial: the same parsing "
            "and `executemany` of the same batches with sqlite3, in one thread, no channel.  "
            "Every run ends by checking the rows' count and the sum of their ids.  \"vs "
            'serial" is how many times faster than the serial run on the same interpreter: '
            "the median of the ratio taken in each round, their interquartile range in "
            "brackets.",
            "",
            _pipeline_table(doc),
            "",
        ]
    for interpreter in doc["interpreters"]:
        table = _quick_table(doc, interpreter)
        if table is None:
            continue
        lines += [
            f"## The workloads of `python -m ringchan bench` on {interpreter['label']}",
            "",
            f"{settings['quick_items']:,} items per measurement (latency: median of the "
            "samples), median (min–max) of "
            f"{settings['repeat']} rounds; C and pure taken in turns, each in its own "
            'process (see Scaling); "C gain", the median of the ratio taken in each '
            "round, their interquartile range in brackets.",
            "",
            table,
            "",
        ]
    return lines


# --------------------------------------------------------------------------
# Chart panels.

#: The scaling panels, one per consumer and way of sending.
_PANELS = [(consumer, batched) for consumer in ("thread", "asyncio") for batched in (False, True)]


def _has_pipeline(doc: Result) -> bool:
    return any(r["kind"] == "pipeline" for r in doc["results"])


def panel_count(doc: Result | None) -> int:
    """How many chart panels :func:`draw` fills for *doc*: the scaling
    panels, the pipeline's, and one for the legend of the scaling lines."""
    if not doc:
        return 0
    return len(_PANELS) + _has_pipeline(doc) + 1


def _floors(doc: Result, consumer: str, batched: bool) -> list[tuple[str, str, int, float]]:
    """The free-threading targets on a scaling panel: (interpreter key,
    channel, producers, bound) of each."""
    found = []
    for interpreter in _free_threaded(doc):
        for target in TARGETS:
            spec = dict(target.spec)
            if spec.get("kind") != "scaling" or (spec["consumer"], spec["batched"]) != (
                consumer,
                batched,
            ):
                continue
            found.append((interpreter["key"], target.other, spec["producers"], target.at_least))
    return found


def draw(doc: Result | None, axes: Sequence[Any]) -> None:
    """Draw the scaling panels and the pipeline's on *axes*, :func:`panel_count`
    of them: ringchan C's gain over each other channel on the same interpreter,
    on linear axes, the interquartile range of the per-round ratios as error
    bars and the free-threading targets' floors as reference lines."""
    if not doc:
        return
    from matplotlib.lines import Line2D

    interpreters = _labels(doc)
    styles: list[Any] = ["-", "--", ":", "-."]
    channels = [
        (key, label)
        for key, label in _channels(r for r in doc["results"] if r["kind"] == "scaling")
        if key != C
    ]
    colours = {key: f"C{index + 1}" for index, (key, _) in enumerate(channels)}
    counts = doc["settings"]["producers"]
    axis_iter = iter(axes)
    for consumer, batched in _PANELS:
        axis = next(axis_iter)
        lines: list[tuple[str, str, list[int], list[Spread]]] = []
        for key in interpreters:
            for channel, _ in channels:
                points = []
                for count in counts:
                    spec = {
                        "kind": "scaling",
                        "producers": count,
                        "consumer": consumer,
                        "batched": batched,
                    }
                    gains = _gains(_find(doc, key, C, **spec), _find(doc, key, channel, **spec))
                    if gains is not None:
                        points.append((count, gains))
                if points:
                    lines.append((key, channel, [n for n, _ in points], [g for _, g in points]))
        floors = _floors(doc, consumer, batched)
        limit = ratio_limit(
            [g.median for *_, spreads in lines for g in spreads], [f[3] for f in floors]
        )
        # Four line styles: a fifth interpreter would go undrawn.
        style_of = dict(zip(interpreters, styles, strict=False))
        # How many labels of points off the axis each producer count has, so
        # that the next goes below them.
        cut: dict[int, int] = {}
        for key, channel, xs, spreads in lines:
            if key not in style_of:
                continue
            medians = [min(g.median, limit) for g in spreads]
            low = [m - min(g.quartiles[0], limit) for m, g in zip(medians, spreads, strict=True)]
            high = [min(g.quartiles[1], limit) - m for m, g in zip(medians, spreads, strict=True)]
            axis.errorbar(
                xs,
                medians,
                yerr=[low, high],
                color=colours[channel],
                linestyle=style_of[key],
                marker="o",
                markersize=3,
                capsize=2,
                linewidth=1,
            )
            for x, gains in zip(xs, spreads, strict=True):
                if gains.median > limit:
                    # Off the axis: the point sits at its edge, with its value
                    # in its line's colour.
                    axis.annotate(
                        f"{gains.median:.0f}x",
                        (x, limit),
                        xytext=(4, -7 * cut.get(x, 0) - 2),
                        textcoords="offset points",
                        fontsize=6,
                        color=colours[channel],
                        va="top",
                    )
                    cut[x] = cut.get(x, 0) + 1
        for key, channel, producers, bound in floors:
            axis.hlines(
                bound,
                producers - 0.3,
                producers + 0.3,
                colors=colours.get(channel, "black"),
                linestyles="--",
            )
            axis.text(
                producers + 0.3,
                bound,
                f" target ≥ {bound:g}x ({interpreters[key]['label']})",
                fontsize=6,
                va="center",
            )
        axis.axhline(1, color="grey", linewidth=0.8)
        axis.set_ylim(0, limit * 1.05)
        axis.set_xticks(counts)
        axis.set_xlabel("producer threads", fontsize=8)
        axis.set_ylabel("ringchan C, times faster\n(higher is better)", fontsize=8)
        sends = "blocking_send_many" if batched else "blocking_send"
        who = "a thread" if consumer == "thread" else "an asyncio task"
        axis.set_title(f"scaling: {sends} → {who}, {doc['cpus']} CPUs", fontsize=10, loc="left")
        axis.tick_params(labelsize=7)
        axis.grid(True, which="major", linewidth=0.3)
    if _has_pipeline(doc):
        axis = next(axis_iter)
        bars = []
        for key, interpreter in interpreters.items():
            serial = _find(doc, key, "serial", kind="pipeline")
            for result in doc["results"]:
                if result["kind"] != "pipeline" or result["interpreter"] != key:
                    continue
                if result["channel"] == "serial":
                    continue
                gains = _gains(result, serial)
                if gains is not None:
                    bars.append((f"{result['label']}, {interpreter['label']}", gains))
        # No floors: the pipeline against serial is reported without a target.
        limit = ratio_limit([g.median for _, g in bars], [])
        for y, (_, gains) in enumerate(bars):
            first, third = gains.quartiles
            axis.barh(y, gains.median, 0.6, color="#4c72b0")
            axis.errorbar(
                gains.median,
                y,
                xerr=[[gains.median - first], [third - gains.median]],
                color="black",
                elinewidth=1,
                capsize=2,
            )
            axis.text(third, y, f" {gains.median:.2f}x", va="center", fontsize=7)
        axis.axvline(1, color="grey", linewidth=0.8)
        axis.set_yticks(range(len(bars)), [label for label, _ in bars], fontsize=7)
        axis.set_ylim(len(bars) - 0.5, -0.6)
        axis.set_xlim(0, limit * 1.2)
        axis.set_xlabel("times faster than serial, same interpreter (higher is better)", fontsize=8)
        axis.set_title("pipeline: JSON lines → threads → asyncio → SQLite", fontsize=10, loc="left")
        axis.tick_params(axis="x", labelsize=7)
    # One legend for every scaling panel: a colour per channel, a line style
    # per interpreter.
    axis = next(axis_iter)
    axis.axis("off")
    handles = [
        Line2D([], [], color=colours[key], linewidth=2, label=label) for key, label in channels
    ]
    handles += [
        Line2D([], [], color="black", linestyle=style, label=interpreter["label"])
        for style, interpreter in zip(styles, interpreters.values(), strict=False)
    ]
    axis.legend(
        handles=handles,
        loc="center",
        fontsize=9,
        title="scaling: ringchan C against (colour), on (line)",
    )
