"""A problem in one line (what is wrong, its worst error) and a run in one table."""

from __future__ import annotations

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradcheck.render.console import STYLE
from gradcheck.render.labels import CODE_FINDINGS, flat_label, is_code
from gradcheck.render.labels import label as entry_label
from gradcheck.render.safe import escaped, printable
from gradcheck.results import STATUSES, CauseCode, ProblemResult, Report


def what_is_wrong(p: ProblemResult) -> str:
    """One line: the error, or what failed (diagnosis first), or the kink; '' for a pass
    (control characters escaped)."""
    return printable(_reasons(p))


def error_message(p: ProblemResult) -> str:
    """Why a problem could not be checked: its message, else the first entry, probe, claim
    or claimed number that could not be, else a plain statement; never None."""
    if p.message:
        return p.message
    for point in p.points:
        for name, g in point.gradient.items():
            for k in np.flatnonzero(g.status.ravel() == "error"):
                cause = g.causes.get(int(k))
                why = cause.text if cause else "could not be checked at this point"
                return f"{flat_label(p, name, int(k), g.shape)}: {why}"
        for i, probe in enumerate(point.probes or []):
            if probe.status == "error":
                return f"u{i + 1}: {probe.cause.text if probe.cause else 'could not be checked'}"
    for c in p.claims.values():
        if c.status == "error":
            return f"claim for {c.name}: {c.message or c.diagnosis or 'could not be checked'}"
    for x in p.expected:
        if x.status == "error":
            return f"expected {x.what}: {x.diagnosis or 'could not be checked'}"
    return "could not be checked, and no reason was recorded; please report it"


def _reasons(p: ProblemResult) -> str:
    if p.status == "error":
        return error_message(p)
    reasons = []
    for x in p.expected:
        if x.status == "fail":
            first = x.wrong[0]
            label = "value" if x.what == "value" else entry_label(p, x.what, first["index"])
            example = f"{label} claimed {first['claimed']:.6g}, true {first['true']:.6g}"
            kind = "jacobian" if p.output_shape else "grad"
            what = "value" if x.what == "value" else f"expected {kind} {x.what}"
            count = "" if x.what == "value" else f"{len(x.wrong)} of {x.claimed.size} wrong, "
            reasons.append(f"{what}: {x.diagnosis or count + 'e.g. ' + example}")
    for c in p.claims.values():
        if c.status == "fail":
            example = c.counterexample
            detail = (
                c.diagnosis
                or c.message
                or (
                    f"{entry_label(p, c.name, example['index'])} is {example['true']:.6g} at "
                    f"a point where it gives {example['claimed']:.6g}"
                )
            )
            reasons.append(f"claim for {c.name}: {detail}")
    reasons.extend(
        f.text for f in p.findings if f.code in (CauseCode.FORWARD_VALUE, *CODE_FINDINGS)
    )
    wanted = {"fail"} if p.status == "fail" else {"kink"}
    for point in p.points:
        for name, g in point.gradient.items():
            if g.diagnosis and p.status == "fail":  # what the gradient is says more than an entry
                reasons.append(f"{name}: {g.diagnosis}")
                continue
            for k, cause in sorted(g.causes.items()):
                if str(g.status.flat[k]) in wanted:
                    reasons.append(f"{flat_label(p, name, k, g.shape)}: {cause.text}")
                    break
        for i, probe in enumerate(point.probes or []):
            if probe.status in wanted and probe.cause:
                reasons.append(f"u{i + 1}: {probe.cause.text}")
    return "; ".join(dict.fromkeys(reasons))


def unproved(p: ProblemResult) -> list[str]:
    """The claims that held at points but were not proved, one phrase each."""
    return [
        f"claim for {c.name} held at {c.points} points, not proved"
        for c in p.claims.values()
        if c.status == "pass" and not c.proved
    ]


def worst_error(p: ProblemResult) -> float | None:
    """The largest of ``entry_errors`` over every input and point (None where there are no
    differences)."""
    worst = None
    for point in p.points:
        for g in point.gradient.values():
            error = entry_errors(p, g)
            if error is None:
                continue
            finite = error[np.isfinite(error)]
            if finite.size:
                worst = max(worst or 0.0, float(finite.max()))
    return worst


def entry_errors(p: ProblemResult, g) -> np.ndarray | None:
    """Each entry's central-difference error, relative to the reference but floored at
    atol / rtol: below that size an entry is judged by atol, and its relative error says
    nothing (None where there are no differences).

    For the user's code it is the error of what the code claims, against what it was
    judged by: that is what is in doubt, not the differences."""
    floor = (
        0.0 if p.tolerance is None or not p.tolerance.rtol else p.tolerance.atol / p.tolerance.rtol
    )
    if is_code(p):
        estimate, reference = g.backprop, g.reference
    else:
        estimate = g.central
        reference = g.symbolic if g.symbolic is not None else g.backprop
    if estimate is None or reference is None or not np.size(estimate):
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(estimate - reference) / np.maximum(np.abs(reference), floor)


def summary(report: Report) -> RenderableType:
    """One row per problem: status, name, where, worst error, what is wrong (and what
    only held, not proved); then totals."""
    report = escaped(report)
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    table.add_column("status", no_wrap=True, min_width=6)
    table.add_column("problem", max_width=44, overflow="fold")
    table.add_column("worst error", no_wrap=True, min_width=11)
    table.add_column("what is wrong", min_width=24)
    for p in report.problems:
        error = worst_error(p)
        problem = Text(p.name)
        if p.file is not None:
            problem.append("\n" + p.file + (f":{p.line}" if p.line else ""), style="dim")
        wrong = Text(what_is_wrong(p))
        if held := unproved(p):
            wrong.append(("; " if wrong else "") + "; ".join(held), style="yellow")
        table.add_row(
            Text(p.status, style=STYLE[p.status]),
            problem,
            "" if error is None else f"{error:.1e}",
            wrong,
        )
    counts = report.summary
    count = len(report.problems)
    totals = Text(f"{count} problem{'s' * (count != 1)}: ")
    for i, status in enumerate(STATUSES):
        totals.append(", " if i else "")
        totals.append(
            f"{counts[status]} {status}", style=STYLE[status] if counts[status] else "dim"
        )
    held = sum(len(unproved(p)) for p in report.problems)
    if held:
        totals.append(f"; {held} claim{'s' * (held != 1)} held, not proved", style="yellow")
    if report.unchecked:
        files = f"{report.unchecked} file{'s' * (report.unchecked != 1)}"
        totals.append(f"; {files} not checked (--fail-fast stopped the run)", style="yellow")
    return Group(table, Text(""), totals)
