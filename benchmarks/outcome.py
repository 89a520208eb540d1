"""Ratios and verdicts, shared by ``report.py`` and ``scaling_report.py``.

Both judge their targets into :class:`Outcome` rows; the report's targets
table, the terminal summary and the summary line (:func:`summary`) all read
them, so they cannot disagree.  :func:`gain_text` writes a gain and its
spread for a table, :func:`ratio_limit` bounds a chart's axis of gains,
:func:`wakeups_text` writes a channel's wake-ups per 1,000 items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ringchan.bench.suite import MIN_ROUNDS, Spread

__all__ = (
    "MET",
    "NOT_MEASURED",
    "NOT_MET",
    "UNSETTLED",
    "Outcome",
    "gain_text",
    "judge",
    "ratio_limit",
    "summary",
    "unsettled",
    "wakeups_text",
)

MET = "met"
NOT_MET = "not met"
#: The spread of the per-round ratios is too wide for a verdict either way.
UNSETTLED = "unsettled"
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Outcome:
    """One target on one event loop, as measured."""

    #: What is compared.
    text: str
    #: The event loop, or "–".
    loop: str
    #: The bound, as the table shows it: "≥ 6x".
    bound: str
    #: One of :data:`MET`, :data:`NOT_MET`, :data:`UNSETTLED`, :data:`NOT_MEASURED`.
    verdict: str
    #: The figure the bound applies to, as the table shows it; "–" if none.
    measured: str = "–"
    #: The interquartile range of the per-round figures ("6.51x–6.88x"), and
    #: its width as a share of the median; empty for a single measurement.
    spread: str = ""
    width: float | None = None
    #: Said after the verdict: why it was not measured, or a caveat.
    note: str = ""

    def verdict_text(self, bold: bool = True) -> str:
        """The verdict and its note; in bold for Markdown."""
        verdict = f"**{self.verdict}**" if bold else self.verdict
        if self.verdict == UNSETTLED and self.width is not None:
            verdict += f" (spread {self.width:.0%})"
        return verdict + self.note

    def spread_text(self) -> str:
        """The spread column: the quartiles and the width, or "" without them."""
        if not self.spread:
            return ""
        assert self.width is not None
        return f"{self.spread} ({self.width:.0%})"


def judge(
    text: str,
    loop: str,
    bound: str,
    spread: Spread | None,
    met: Callable[[float], bool],
    show: Callable[[float], str],
    note: str = "",
) -> Outcome:
    """The outcome of a ratio measured round by round: its median against the
    bound (*met*), or :data:`UNSETTLED` (see :func:`unsettled`); *show*
    formats a figure.  A *spread* of None was not measured, and *note* then
    says why."""
    if spread is None:
        return Outcome(text, loop, bound, NOT_MEASURED, note=note)
    first, third = spread.quartiles
    verdict = UNSETTLED if unsettled(spread, met) else MET if met(spread.median) else NOT_MET
    return Outcome(
        text,
        loop,
        bound,
        verdict,
        measured=show(spread.median),
        spread=f"{show(first)}–{show(third)}",
        width=spread.width,
        note=note,
    )


def unsettled(spread: Spread, met: Callable[[float], bool]) -> bool:
    """Whether this run cannot tell if the bound (*met*) is met: too few
    rounds, or an interquartile range wider than the threshold that holds
    both verdicts, the bound inside it.  A wide spread wholly on one side of
    the bound leaves the verdict as it is."""
    if len(spread.values) < MIN_ROUNDS:
        return True
    first, third = spread.quartiles
    return spread.wide and met(first) != met(third)


def gain_text(gains: Spread | None) -> str:
    """A gain column's cell: the median of the per-round ratios, and their
    interquartile range in brackets ("6.69x (6.51–6.88)"); "" without any."""
    if gains is None:
        return ""
    first, third = gains.quartiles
    return f"{gains.median:.2f}x ({first:.2f}–{third:.2f})"


def summary(outcomes: Sequence[Outcome]) -> str:
    """The summary line: "21 of 44 targets met, ..."."""
    count = {
        verdict: sum(o.verdict == verdict for o in outcomes)
        for verdict in (MET, NOT_MET, UNSETTLED, NOT_MEASURED)
    }
    parts = [f"{count[MET]} of {len(outcomes)} targets met", f"{count[NOT_MET]} not met"]
    if count[UNSETTLED]:
        parts.append(f"{count[UNSETTLED]} unsettled (spread too wide to tell)")
    if count[NOT_MEASURED]:
        parts.append(f"{count[NOT_MEASURED]} not measured")
    return ", ".join(parts)


def ratio_limit(values: Sequence[float], floors: Sequence[float]) -> float:
    """Where a chart's linear axis of gains can stop: past every floor and
    every value but those more than five times the median value, which
    would flatten the others to nothing; their bars are cut, and labelled."""
    typical = sorted(values)[len(values) // 2] if values else 1.0
    kept = [value for value in values if value <= 5 * max(typical, 1.0)]
    return max([*kept, *floors, 1.0]) * 1.1


def wakeups_text(per_thousand: float) -> str:
    """Wake-ups per 1,000 items as the tables show them: 1.95, 0.0038, 1,000."""
    if per_thousand == 0:
        return "0"
    if per_thousand >= 100:
        return f"{per_thousand:,.0f}"
    return f"{per_thousand:.3g}" if per_thousand < 1 else f"{per_thousand:.2f}"
