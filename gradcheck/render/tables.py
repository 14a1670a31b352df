"""A checked problem as tables: its points, gradient or probe table, expected numbers,
claims, notes and verdict line; a run as every problem that did not pass, then the summary.

No maths here, and no printing: functions return renderables, and the CLI prints them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.render.console import STYLE
from gradcheck.render.numbers import (
    agreeing_digits,
    common_exponent,
    entry,
    error_text,
    exact,
    format_array,
)
from gradcheck.render.safe import escaped
from gradcheck.render.summary import error_message, summary, worst_error
from gradcheck.results import STATUSES, GradientResult, PointResult, ProblemResult, Report

METHODS = ("backprop", "forward", "backward", "central")
#: Shown when they were computed (--methods, or as the reference above the symbolic limit).
EXTRA_METHODS = ("complex", "richardson")

#: Arrays with more entries than this show their worst entries and a summary row.
ROWS_PER_INPUT = 12

#: Entries whose cause is spelled out under the table, per input (all are in the JSON).
CAUSES_PER_INPUT = 5


def render(report: Report) -> RenderableType:
    """Every problem in full: point, value, gradient table, claims, notes, verdict.

    Here and in every view below, text from files (names, paths, formulas) is shown
    with its control characters escaped.
    """
    return Group(*(problem_view(p) for p in report.problems))


def batch_view(report: Report, verbose: bool, shard: tuple[int, int] | None) -> RenderableType:
    """Every problem that did not pass in full (all with ``verbose``), then the summary."""
    shown = [p for p in report.problems if verbose or p.status != "pass"]
    parts = [problem_view(p) for p in shown]
    if shard is not None:
        parts.append(Text(f"shard {shard[0]} of {shard[1]}", style="dim"))
    if not report.problems:
        parts.append(Text("no problems to check", style="dim"))
    else:
        parts.append(summary(report))
    return Group(*parts)


def problem_view(p: ProblemResult) -> RenderableType:
    """One problem in full: title, each point's table, expected numbers, claims, verdict."""
    p = escaped(p)
    parts: list[RenderableType] = []
    title = Text.assemble(("● ", STYLE[p.status]), (p.name, "bold"))
    if p.file:
        title.append(f"   {p.file}" + (f":{p.line}" if p.line else ""), style="dim")
    parts.append(title)
    if p.status == "error":
        parts.append(Text.assemble(("  error: ", "bold red"), error_message(p)))
        return Padding(Group(*parts), (0, 0, 1, 0), expand=False)
    for i, point in enumerate(p.points):
        if len(p.points) > 1:
            parts.append(Text(f"point {i + 1} of {len(p.points)}", style="bold"))
        parts.extend(_point_view(point, p))
    if p.expected:
        parts.append(_expected_table(p))
    if p.claims:
        parts.append(_claims_table(p))
    for note in p.notes:
        parts.append(Text.assemble(("  note: ", "yellow"), note))
    parts.append(verdict_line(p))
    return Padding(Group(*parts), (0, 0, 1, 0), expand=False)


def verdict_line(p: ProblemResult) -> Text:
    """``PASS  4 entries at 1 point; worst central error 3.1e-11 (rtol 1e-06, atol 1e-09)``."""
    counts = dict.fromkeys(STATUSES, 0)
    for point in p.points:
        for g in point.gradient.values():
            for status in g.status.flat:
                counts[str(status)] += 1
    worst = worst_error(p)
    entries = sum(counts.values())
    text = Text.assemble(
        (f"  {p.status.upper()}", STYLE[p.status]),
        f"  {entries} entr{'y' if entries == 1 else 'ies'}",
    )
    if len(p.points) > 1:
        text.append(f" at {len(p.points)} points")
    nouns = {"fail": "failure", "kink": "kink", "error": "error"}
    details = [f"{counts[s]} {nouns[s]}{'s' * (counts[s] > 1)}" for s in nouns if counts[s]]
    bad_claims = sum(c.status == "fail" for c in p.claims.values())
    if bad_claims:
        details.append(f"{bad_claims} claim{'s' * (bad_claims > 1)} wrong")
    held = sum(c.status == "pass" and not c.proved for c in p.claims.values())
    if held:
        details.append(f"{held} claim{'s' * (held > 1)} held, not proved")
    if details:
        text.append("; " + ", ".join(details))
    if worst is not None:
        text.append(f"; worst central error {worst:.1e}")
    if p.tolerance is not None:
        text.append(f"  (rtol {p.tolerance.rtol:g}, atol {p.tolerance.atol:g})", style="dim")
    return text


# ---------------------------------------------------------------- a point


def _point_view(point: PointResult, p: ProblemResult) -> Iterator[RenderableType]:
    at = Text("  at  ", style="dim")
    for i, (name, value) in enumerate(point.at.items()):
        if i:
            at.append("   ")
        at.append(f"{name} = ", style="bold")
        at.append(format_array(value), style="cyan" if name in point.drawn else "")
    yield at
    if point.drawn:
        yield Text(f"      random (seed {p.seed}): {', '.join(point.drawn)}", style="dim")
    yield Text.assemble(("  f   ", "dim"), (repr(point.value), "bold"))
    if point.probes is not None:
        yield _probe_table(point)
        return
    yield _gradient_table(point)


def _gradient_table(point: PointResult) -> Padding:
    table = Table(
        box=None, pad_edge=False, padding=(0, 1, 0, 0), show_edge=False, header_style="bold"
    )
    claimed = any(g.expected is not None for g in point.gradient.values())
    methods = list(METHODS) + [
        m for m in EXTRA_METHODS if any(getattr(g, m) is not None for g in point.gradient.values())
    ]
    table.add_column("entry", no_wrap=True)
    if claimed:
        table.add_column("claimed", no_wrap=True)
    table.add_column("symbolic", no_wrap=True)
    for method in methods:
        table.add_column(method, no_wrap=True)
    table.add_column("status", no_wrap=True)
    notes: list[Text] = []
    for name, g in point.gradient.items():
        shown = _shown(g)
        for row in _rows(name, g, shown, claimed, methods):
            table.add_row(*row)
        notes.extend(_hidden(name, g, shown))
        notes.extend(_causes(name, g))
    return Padding(Group(table, *notes), (1, 0, 1, 2), expand=False)


def _shown(g: GradientResult) -> list[int]:
    """Flat indices of the entries to show: all of a small array, else the worst few."""
    size = int(np.prod(g.shape, dtype=int))
    if size <= ROWS_PER_INPUT:
        return list(range(size))
    return sorted(sorted(range(size), key=lambda k: _badness(g, k), reverse=True)[:ROWS_PER_INPUT])


def _hidden(name: str, g: GradientResult, shown: list[int]) -> Iterator[Text]:
    """One line for the entries not shown: how many, their statuses, their worst error."""
    hidden = np.ones(g.status.size, bool)
    hidden[shown] = False
    if not hidden.any():
        return
    statuses = g.status.ravel()[hidden]
    counts = ", ".join(
        f"{int(np.sum(statuses == s))} {s}" for s in STATUSES if np.any(statuses == s)
    )
    worst = float(np.nanmax(g.errors["central"].ravel()[hidden])) if "central" in g.errors else None
    tail = "" if worst is None else f"; largest central error among them {worst:.1e}"
    yield Text(
        f"… {int(hidden.sum())} more entries of {name} not shown ({counts}){tail}", style="dim"
    )


def _causes(name: str, g: GradientResult) -> Iterator[Text]:
    """A line for each entry that did not simply pass (the first few): which, and why."""
    causes = sorted(g.causes.items())
    for k, cause in causes[:CAUSES_PER_INPUT]:
        status = str(g.status.flat[k])
        yield Text.assemble(
            "\n" if k == min(g.causes) else "",
            (entry(name, np.unravel_index(k, g.shape)), "bold"),
            "  ",
            (status, STYLE[status]),
            ": ",
            cause.text,
        )
    if len(causes) > CAUSES_PER_INPUT:
        yield Text(f"… and {len(causes) - CAUSES_PER_INPUT} more entries of {name}", style="dim")


def _rows(
    name: str, g: GradientResult, shown: list[int], claimed: bool, methods=METHODS
) -> Iterator[list]:
    reference = g.symbolic if g.symbolic is not None else g.backprop
    exponent = common_exponent([float(reference.flat[k]) for k in shown])
    if exponent:
        scale = Text(f"(values ×1e{exponent:+03d})", style="dim")
        yield [
            Text(name, style="bold"),
            *([""] if claimed else []),
            scale,
            *[""] * (len(methods) + 1),
        ]
    for k in shown:
        ref = float(reference.flat[k])
        status = str(g.status.flat[k])
        symbolic = "—" if g.symbolic is None else exact(g.symbolic.flat[k], exponent)
        cells = [Text(entry(name, np.unravel_index(k, g.shape)), style="bold")]
        if claimed:
            mine = None if g.expected is None else float(g.expected.flat[k])
            cells.append(
                Text("—", style="dim")
                if mine is None
                else agreeing_digits(mine, ref, status, exponent)
            )
        cells.append(Text(symbolic))
        for method in methods:
            estimate = getattr(g, method)
            error = g.errors.get(method)
            if estimate is None:
                cells.append(Text("—", style="dim"))
                continue
            cell = agreeing_digits(float(estimate.flat[k]), ref, status, exponent)
            if error is not None:
                cell.append(f"\n{error_text(float(error.flat[k]))}", style="dim")
            cells.append(cell)
        cells.append(Text(status, style=STYLE[status]))
        yield cells


def _badness(g: GradientResult, k: int) -> tuple:
    status = STATUSES.index(str(g.status.flat[k]))
    error = float(g.errors["central"].flat[k]) if "central" in g.errors else 0.0
    return (status, error if math.isfinite(error) else math.inf)


def _probe_table(point: PointResult) -> Padding:
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for column in (
        "probe",
        "symbolic g·u",
        *(m + (" g·u" if m == "backprop" else "") for m in METHODS),
        "status",
    ):
        table.add_column(column, no_wrap=True)
    for i, probe in enumerate(point.probes or []):
        reference = probe.symbolic if probe.symbolic is not None else probe.backprop
        cells = [
            Text(f"u{i + 1}", style="bold"),
            Text(exact(probe.symbolic) if probe.symbolic is not None else "—"),
        ]
        for method in METHODS:
            cell = agreeing_digits(getattr(probe, method), reference, probe.status)
            if method in probe.errors:
                cell.append(f"\n{error_text(probe.errors[method])}", style="dim")
            cells.append(cell)
        cells.append(Text(probe.status, style=STYLE[probe.status]))
        table.add_row(*cells)
    causes = [
        Text.assemble((f"u{i + 1}", "bold"), "  ", (p.status, STYLE[p.status]), ": ", p.cause.text)
        for i, p in enumerate(point.probes or [])
        if p.cause
    ]
    return Padding(Group(table, *causes), (1, 0, 1, 2), expand=False)


# ---------------------------------------------------------------- claimed numbers and formulas


def _section(title: str, *columns: str) -> Table:
    """A titled table under a problem; columns other than the last do not wrap."""
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        header_style="bold",
        title=title,
        title_justify="left",
        title_style="bold",
    )
    for column in columns[:-1]:
        table.add_column(column, no_wrap=column in ("for", "status"))
    table.add_column(columns[-1])
    return table


def _expected_table(p: ProblemResult) -> Padding:
    table = _section("expected numbers", "for", "status", "evidence")
    for expected in p.expected:
        table.add_row(
            Text(expected.what, style="bold"),
            Text(expected.status, style=STYLE[expected.status]),
            Text(expect_evidence(expected)),
        )
    return Padding(table, (0, 0, 1, 2), expand=False)


def _claims_table(p: ProblemResult) -> Padding:
    table = _section("claims", "for", "claimed derivative", "status", "evidence")
    for name, claim in p.claims.items():
        held = claim.status == "pass" and not claim.proved
        table.add_row(
            Text(name, style="bold"),
            Text(claim.text),
            Text("held", style="yellow") if held else Text(claim.status, style=STYLE[claim.status]),
            Text(claim_evidence(claim)),
        )
    return Padding(table, (0, 0, 1, 2), expand=False)


def claim_evidence(claim) -> str:
    """Proved, or held at N points and not proved (and why); else what is wrong, what it
    looks like, and a point."""
    if claim.status == "pass":
        if claim.proved:
            return f"proved by SymPy, and held at {claim.points} points"
        return claim.message or f"held at {claim.points} points, not proved"
    parts = [p for p in (claim.message, claim.diagnosis) if p]
    example = claim.counterexample
    if example:
        where = entry(claim.name, example["index"])
        at = ", ".join(f"{n}={format_array(np.asarray(v))}" for n, v in example["at"].items())
        parts.append(
            f"at {at} the derivative for {where} is {example['true']:.10g}, the claim "
            f"gives {example['claimed']:.10g} (off by {example['error']:.3g})"
        )
    return "; ".join(parts)


def expect_evidence(expected) -> str:
    """All held; else what the wrong numbers look like, and the first few of them."""
    count = int(np.size(expected.claimed))
    noun = (
        "the value" if expected.what == "value" else f"{count} entr{'y' if count == 1 else 'ies'}"
    )
    if expected.status == "pass":
        return f"{noun} hold{'s' * (count == 1)} at the precision written"
    parts = [expected.diagnosis] if expected.diagnosis else []
    if expected.what != "value":
        parts.append(f"{len(expected.wrong)} of {count} wrong")
    for wrong in expected.wrong[:3]:
        label = "value" if expected.what == "value" else entry(expected.what, wrong["index"])
        parts.append(
            f"{label}: claimed {wrong['claimed']:.10g}, true {wrong['true']:.10g} "
            f"(allowed ±{wrong['allowed']:.2g})"
        )
    if len(expected.wrong) > 3:
        parts.append("…")
    return "; ".join(parts)
