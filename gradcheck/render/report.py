"""Reports rendered: rich tables for people, the design.md JSON document for programs.

No maths here, and no printing: functions return renderables or plain data, and the CLI
prints them.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.results import (
    STATUSES,
    CauseCode,
    GradientResult,
    PointResult,
    ProblemResult,
    Report,
)

STYLE = {"pass": "green", "kink": "yellow", "fail": "bold red", "error": "bold red"}
METHODS = ("backprop", "forward", "backward", "central")
#: Shown when they were computed (--methods, or as the reference above the symbolic limit).
EXTRA_METHODS = ("complex", "richardson")

#: Arrays with more entries than this show their worst entries and a summary row.
ROWS_PER_INPUT = 12

#: Entries whose cause is spelled out under the table, per input (all are in the JSON).
CAUSES_PER_INPUT = 5

#: Significant digits shown for an estimate (the reference is shown in full, and each
#: estimate's error is given exactly below it): enough to see where digits part, narrow
#: enough that a row of five estimates fits a 100-column terminal.
ESTIMATE_DIGITS = 10


# ---------------------------------------------------------------- JSON


def to_json(report: Report) -> dict:
    """The design.md document: version, problems (points, gradients, claims), summary."""
    return {
        "version": 1,
        "problems": [_problem_json(p) for p in report.problems],
        "summary": report.summary,
    }


def _problem_json(p: ProblemResult) -> dict:
    return {
        "name": p.name,
        "file": p.file,
        "line": p.line,
        "expression": p.expression,
        "status": p.status,
        "message": p.message,
        "seed": p.seed,
        "tolerance": None
        if p.tolerance is None
        else {"rtol": p.tolerance.rtol, "atol": p.tolerance.atol},
        "points": [_point_json(pt) for pt in p.points],
        "expect": {
            x.what: {
                "status": x.status,
                "claimed": _plain(x.claimed),
                "true": _plain(x.true),
                "wrong": x.wrong,
                "diagnosis": x.diagnosis,
            }
            for x in p.expected
        },
        "claims": {
            n: {
                "status": c.status,
                "claim": c.text,
                "proved": c.proved,
                "points": c.points,
                "counterexample": c.counterexample,
                "message": c.message,
                "diagnosis": c.diagnosis,
            }
            for n, c in p.claims.items()
        },
        "notes": list(p.notes),
    }


def _point_json(pt: PointResult) -> dict:
    out = {
        "at": {n: _plain(v) for n, v in pt.at.items()},
        "random": list(pt.drawn),
        "value": _plain(pt.value),
        "symbolic_value": _plain(pt.symbolic_value),
        "gradient": {n: _gradient_json(g) for n, g in pt.gradient.items()},
    }
    if pt.probes is not None:
        out["probes"] = [
            {
                "symbolic": _plain(pr.symbolic),
                "backprop": pr.backprop,
                "forward": _plain(pr.forward),
                "backward": _plain(pr.backward),
                "central": _plain(pr.central),
                "status": pr.status,
                "error": {m: _plain(e) for m, e in pr.errors.items()},
                "step": pr.step,
                "cause": None if pr.cause is None else pr.cause.text,
            }
            for pr in pt.probes
        ]
    return out


def _gradient_json(g: GradientResult) -> dict:
    return {
        "symbolic": _plain(g.symbolic),
        "backprop": _plain(g.backprop),
        "forward": _plain(g.forward),
        "backward": _plain(g.backward),
        "central": _plain(g.central),
        "complex": _plain(g.complex),
        "richardson": _plain(g.richardson),
        "expected": _plain(g.expected),
        "status": g.status.tolist() if g.status.shape else str(g.status[()]),
        "error": {m: _plain(e) for m, e in g.errors.items()},
        "step": _plain(g.step),
        "causes": [
            {
                "index": [int(i) for i in np.unravel_index(k, g.shape)],
                "status": str(g.status.flat[k]),
                "cause": cause.text,
            }
            for k, cause in sorted(g.causes.items())
        ],
    }


def _plain(value):
    """Floats and nested lists for JSON; NaN and infinities become null."""
    if value is None:
        return None
    array = np.asarray(value, dtype=float)
    if array.shape == ():
        number = float(array)
        return number if math.isfinite(number) else None
    return [_plain(v) for v in array]


# ---------------------------------------------------------------- tables


def render(report: Report) -> RenderableType:
    """Every problem in full: point, value, gradient table, claims, notes, verdict."""
    return Group(*(problem_view(p) for p in report.problems))


def problem_view(p: ProblemResult) -> RenderableType:
    parts: list[RenderableType] = []
    title = Text.assemble(("● ", STYLE[p.status]), (p.name, "bold"))
    if p.file:
        title.append(f"   {p.file}" + (f":{p.line}" if p.line else ""), style="dim")
    parts.append(title)
    if p.status == "error":
        parts.append(Text.assemble(("  error: ", "bold red"), p.message or ""))
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


def _gradient_table(point: PointResult) -> Table:
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
        index = np.unravel_index(k, g.shape)
        label = name + ("[" + ", ".join(map(str, index)) + "]" if g.shape else "")
        status = str(g.status.flat[k])
        yield Text.assemble(
            "\n" if k == min(g.causes) else "",
            (label, "bold"),
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
        index = np.unravel_index(k, g.shape)
        label = name + ("[" + ", ".join(map(str, index)) + "]" if g.shape else "")
        ref = float(reference.flat[k])
        status = str(g.status.flat[k])
        symbolic = "—" if g.symbolic is None else _exact(g.symbolic.flat[k], exponent)
        cells = [Text(label, style="bold")]
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
            value = float(estimate.flat[k])
            cell = agreeing_digits(value, ref, status, exponent)
            if error is not None:
                cell.append(f"\n{_error(float(error.flat[k]))}", style="dim")
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
            Text(_exact(probe.symbolic) if probe.symbolic is not None else "—"),
        ]
        for method in METHODS:
            cell = agreeing_digits(getattr(probe, method), reference, probe.status)
            if method in probe.errors:
                cell.append(f"\n{_error(probe.errors[method])}", style="dim")
            cells.append(cell)
        cells.append(Text(probe.status, style=STYLE[probe.status]))
        table.add_row(*cells)
    causes = [
        Text.assemble((f"u{i + 1}", "bold"), "  ", (p.status, STYLE[p.status]), ": ", p.cause.text)
        for i, p in enumerate(point.probes or [])
        if p.cause
    ]
    return Padding(Group(table, *causes), (1, 0, 1, 2), expand=False)


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
        table.add_row(
            Text(name, style="bold"),
            Text(claim.text),
            Text(claim.status, style=STYLE[claim.status]),
            Text(claim_evidence(claim)),
        )
    return Padding(table, (0, 0, 1, 2), expand=False)


def claim_evidence(claim) -> str:
    """Proved or held at N points; else what is wrong, what it looks like, and a point."""
    if claim.status == "pass":
        if claim.proved:
            return f"proved by SymPy, and held at {claim.points} points"
        return f"held at {claim.points} points (SymPy could not simplify the difference to 0)"
    parts = [p for p in (claim.message, claim.diagnosis) if p]
    example = claim.counterexample
    if example:
        where = _entry(claim.name, example["index"])
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
        label = "value" if expected.what == "value" else _entry(expected.what, wrong["index"])
        parts.append(
            f"{label}: claimed {wrong['claimed']:.10g}, true {wrong['true']:.10g} "
            f"(allowed ±{wrong['allowed']:.2g})"
        )
    if len(expected.wrong) > 3:
        parts.append("…")
    return "; ".join(parts)


def _entry(name: str, index) -> str:
    return name + (f"[{', '.join(map(str, index))}]" if len(index) else "")


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
    if details:
        text.append("; " + ", ".join(details))
    if worst is not None:
        text.append(f"; worst central error {worst:.1e}")
    if p.tolerance is not None:
        text.append(f"  (rtol {p.tolerance.rtol:g}, atol {p.tolerance.atol:g})", style="dim")
    return text


# ---------------------------------------------------------------- numbers


def agreeing_digits(value: float, reference: float, status: str, exponent: int = 0) -> Text:
    """The estimate, its leading digits that agree with the reference plain, the rest marked."""
    text = _number(value, ESTIMATE_DIGITS, exponent)
    if not (math.isfinite(value) and math.isfinite(reference)):
        return Text(text, style="red")
    ref_text = _number(reference, ESTIMATE_DIGITS, exponent)
    same = 0
    for a, b in zip(text, ref_text):
        if a != b:
            break
        same += 1
    if same == len(text):
        return Text(text)
    tail_style = "red" if status in ("fail", "error") else "dim"
    return Text.assemble(text[:same], (text[same:], tail_style))


def common_exponent(values: list[float]) -> int:
    """A power of ten (a multiple of 3) to factor out of very small or large values, or 0.

    ``1.99e-06`` in every cell costs four columns a cell; ``(values ×1e-06)`` once does not.
    """
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    if not finite:
        return 0
    top = max(finite)
    if 1e-3 <= top < 1e6:
        return 0
    return 3 * math.floor(math.log10(top) / 3)


def _scaled(value: float, exponent: int) -> Decimal:
    """The shortest decimal of value, shifted by 10**-exponent without any rounding."""
    return Decimal(repr(value)).scaleb(-exponent)


def _number(value, digits: int, exponent: int = 0) -> str:
    if value is None:
        return "—"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return f"{_scaled(value, exponent):.{digits}g}" if exponent else f"{value:.{digits}g}"


def _exact(value, exponent: int = 0) -> str:
    """Every digit a float64 holds (repr round-trips): the reference is shown in full."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return str(_scaled(value, exponent).normalize()) if exponent else repr(value)


def _error(error: float) -> str:
    if not math.isfinite(error):
        return "err —"
    return "err 0" if error == 0 else f"err {error:.1e}"


def format_array(value: np.ndarray, digits: int = 6) -> str:
    """A value in one line: ``-3``, ``[1, 2]``, ``[[1, 2], [3, 4]]``, large ones summarised."""
    array = np.asarray(value, dtype=float)
    return array_summary(array) if array.size > 16 else _nested(array, digits)


def array_summary(array: np.ndarray) -> str:
    """``<20 x 20 array, |max| 3.1>``: an array too large to show."""
    return f"<{' x '.join(map(str, array.shape))} array, |max| {np.max(np.abs(array)):.3g}>"


def _nested(array: np.ndarray, digits: int) -> str:
    if array.ndim == 0:
        return f"{float(array):.{digits}g}"
    return "[" + ", ".join(_nested(a, digits) for a in array) + "]"


def derivative_latex(rows) -> list[str]:
    """One LaTeX line per entry, unwrapped, ready to paste into a write-up."""
    return [
        f"\\frac{{\\partial f}}{{\\partial {label}}} = {formula}" for _, _, label, formula in rows
    ]


def derivative_view(expression: str, rows) -> RenderableType:
    """``d/dw1 = ...`` for each entry (``gradcheck diff``)."""
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), show_header=False)
    table.add_column(no_wrap=True, style="bold")
    table.add_column()
    for _, _, label, formula in rows:
        table.add_row(Text(f"d/d{label} ="), Text(formula))
    return Group(Text.assemble(("f = ", "dim"), expression), Padding(table, (1, 0, 0, 0)))


# ---------------------------------------------------------------- summaries


def what_is_wrong(p: ProblemResult) -> str:
    """One line: the error, or what failed (diagnosis first), or the kink; '' for a pass."""
    if p.status == "error":
        return p.message or "could not be checked"
    reasons = []
    for x in p.expected:
        if x.status == "fail":
            first = x.wrong[0]
            label = "value" if x.what == "value" else _entry(x.what, first["index"])
            example = f"{label} claimed {first['claimed']:.6g}, true {first['true']:.6g}"
            what = "value" if x.what == "value" else f"expected grad {x.what}"
            count = "" if x.what == "value" else f"{len(x.wrong)} of {x.claimed.size} wrong, "
            reasons.append(f"{what}: {x.diagnosis or count + 'e.g. ' + example}")
    for c in p.claims.values():
        if c.status == "fail":
            example = c.counterexample
            detail = (
                c.diagnosis
                or c.message
                or (
                    f"{_entry(c.name, example['index'])} is {example['true']:.6g} at a point where "
                    f"it gives {example['claimed']:.6g}"
                )
            )
            reasons.append(f"claim for {c.name}: {detail}")
    reasons.extend(f.text for f in p.findings if f.code == CauseCode.FORWARD_VALUE)
    wanted = {"fail"} if p.status == "fail" else {"kink"}
    for point in p.points:
        for name, g in point.gradient.items():
            for k, cause in sorted(g.causes.items()):
                if str(g.status.flat[k]) in wanted:
                    reasons.append(f"{_entry(name, np.unravel_index(k, g.shape))}: {cause.text}")
                    break
        for i, probe in enumerate(point.probes or []):
            if probe.status in wanted and probe.cause:
                reasons.append(f"u{i + 1}: {probe.cause.text}")
    return "; ".join(dict.fromkeys(reasons))


def worst_error(p: ProblemResult) -> float | None:
    """The largest central-difference error over every entry and point, relative to the
    reference but floored at atol / rtol: below that size an entry is judged by atol, and
    its relative error says nothing (None where there are no differences)."""
    floor = (
        0.0 if p.tolerance is None or not p.tolerance.rtol else p.tolerance.atol / p.tolerance.rtol
    )
    worst = None
    for point in p.points:
        for g in point.gradient.values():
            if g.central is None or not g.central.size:
                continue
            reference = g.symbolic if g.symbolic is not None else g.backprop
            with np.errstate(invalid="ignore", divide="ignore"):
                error = np.abs(g.central - reference) / np.maximum(np.abs(reference), floor)
            finite = error[np.isfinite(error)]
            if finite.size:
                worst = max(worst or 0.0, float(finite.max()))
    return worst


def summary(report: Report) -> RenderableType:
    """One row per problem: status, name, where, worst error, what is wrong; then totals."""
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
        table.add_row(
            Text(p.status, style=STYLE[p.status]),
            problem,
            "" if error is None else f"{error:.1e}",
            Text(what_is_wrong(p)),
        )
    counts = report.summary
    count = len(report.problems)
    totals = Text(f"{count} problem{'s' * (count != 1)}: ")
    for i, status in enumerate(STATUSES):
        totals.append(", " if i else "")
        totals.append(
            f"{counts[status]} {status}", style=STYLE[status] if counts[status] else "dim"
        )
    return Group(table, Text(""), totals)


def plain_text(renderable: RenderableType, width: int = 120) -> str:
    """A renderable as plain text (for JUnit files and logs)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())


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


@contextlib.contextmanager
def progress_bar(total: int, no_color: bool):
    """A transient progress bar on stderr; yields a function taking (done, total)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True, **({"color_system": None} if no_color else {}))
    with Progress(
        "checking",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("check", total=total)
        yield lambda done, _total: progress.update(task, completed=done)


# ---------------------------------------------------------------- sweeps

#: One letter and colour per estimator, in the terminal plot and its legend.
MARKS = {
    "forward": ("f", "blue"),
    "backward": ("b", "cyan"),
    "central": ("c", "green"),
    "complex": ("i", "magenta"),
    "richardson": ("r", "yellow"),
}

#: Errors below this are drawn at it (a log scale has no 0).
PLOT_FLOOR = 1e-17


def sweep_json(result) -> dict:
    """The sweep as data: steps, and per method its errors, best and automatic step."""
    return {
        "name": result.name,
        "wrt": result.wrt,
        "index": list(result.index),
        "at": {n: _plain(v) for n, v in result.at.items()},
        "value": result.value,
        "exact": result.exact,
        "reference": result.reference,
        "steps": [float(h) for h in result.steps],
        "methods": {
            m: {"errors": _plain(s.errors), "best_step": s.best_step,
                "best_error": _plain(s.best_error), "auto_step": s.auto_step,
                "auto_error": _plain(s.auto_error), "reason": s.reason}
            for m, s in result.methods.items()
        },
        "notes": result.notes,
    }  # fmt: skip


def sweep_view(result) -> RenderableType:
    """The errors step by step, the best and automatic step per method, and the plot."""
    parts: list[RenderableType] = [Text.assemble(("● ", "bold"), (result.name, "bold"))]
    at = ", ".join(f"{n} = {format_array(v)}" for n, v in result.at.items())
    parts.append(Text(f"  at  {at}", style="dim"))
    if result.drawn:
        parts.append(
            Text(f"      random (seed {result.seed}): {', '.join(result.drawn)}", style="dim")
        )
    parts.append(
        Text.assemble(
            "  d/d",
            (result.entry, "bold"),
            f" = {result.exact!r}",
            (f"  ({result.reference})", "dim"),
        )
    )
    methods = list(result.methods)
    table = Table(
        box=None,
        pad_edge=False,
        padding=(0, 2, 0, 0),
        header_style="bold",
        title="relative error against the exact derivative",
        title_justify="left",
        title_style="bold",
    )
    table.add_column("step h", no_wrap=True)
    for m in methods:
        table.add_column(Text(m, style=MARKS[m][1]), no_wrap=True, justify="right")
    best = {m: s.best_step for m, s in result.methods.items()}
    for j, h in enumerate(result.steps):
        cells = [f"{h:.1e}"]
        for m in methods:
            s = result.methods[m]
            if s.errors is None:
                cells.append(Text("—", style="dim"))
                continue
            style = "bold green" if best[m] == h else ""
            cells.append(Text(_error(float(s.errors[j])).removeprefix("err "), style=style))
        table.add_row(*cells)
    parts.append(Padding(table, (1, 0, 1, 2), expand=False))
    parts.append(Padding(_sweep_summary(result), (0, 0, 1, 2), expand=False))
    parts.append(Padding(error_plot(result), (0, 0, 1, 2), expand=False))
    parts.extend(Text.assemble(("  note: ", "yellow"), n) for n in result.notes)
    return Group(*parts)


def _sweep_summary(result) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    for column in ("method", "best step", "best error", "automatic step", "its error"):
        table.add_column(column, no_wrap=True)
    for m, s in result.methods.items():
        name = Text(m, style=MARKS[m][1])
        if s.errors is None:
            table.add_row(name, Text(f"does not apply: {s.reason}", style="dim"), "", "", "")
            continue
        table.add_row(
            name,
            f"{s.best_step:.1e}",
            f"{s.best_error:.1e}",
            "—" if s.auto_step is None else f"{s.auto_step:.2e}",
            "—" if s.auto_error is None else f"{s.auto_error:.1e}",
        )
    return table


def error_plot(result, width: int = 60, height: int = 15) -> Text:
    """The errors on log-log axes in characters: one letter per method, the V of
    truncation (right, large steps) and round-off (left, small steps); ^ marks where
    the automatic central step lands."""
    steps = np.log10(result.steps)
    left, right = float(steps.min()), float(steps.max())
    curves = {
        m: np.log10(np.maximum(s.errors, PLOT_FLOOR))
        for m, s in result.methods.items()
        if s.errors is not None
    }
    values = np.concatenate(list(curves.values())) if curves else np.array([0.0])
    bottom, top = np.floor(np.nanmin(values)), np.ceil(np.nanmax(values))
    top = bottom + 1 if top <= bottom else top
    grid = [[(" ", "") for _ in range(width)] for _ in range(height)]

    def column(x: float) -> int:
        return round((x - left) / (right - left) * (width - 1)) if right > left else 0

    drawing_order = ("complex", "richardson", "forward", "backward", "central")  # central on top
    for m in sorted(curves, key=drawing_order.index):
        ys = curves[m]
        letter, style = MARKS[m]
        for x, y in zip(steps, ys):
            if np.isfinite(y):
                row = round((top - y) / (top - bottom) * (height - 1))
                grid[row][column(x)] = (letter, style)
    text = Text()
    for r, cells in enumerate(grid):
        label = (
            f"1e{round(top - r * (top - bottom) / (height - 1)):+03d} |"
            if r % 3 == 0
            else "      |"
        )
        text.append(label, style="dim")
        for char, style in cells:
            text.append(char, style=style)
        text.append("\n")
    text.append("      +" + "-" * width + "\n", style="dim")
    marker = [" "] * width
    central = result.methods.get("central")
    if central is not None and central.auto_step:
        position = column(np.log10(central.auto_step))
        if 0 <= position < width:
            marker[position] = "^"
    text.append("       " + "".join(marker) + "\n", style="green")
    axis = f"       h = {10**left:.0e}" + " " * max(1, width - 26) + f"{10**right:.0e}\n"
    text.append(axis, style="dim")
    text.append("       " + "   ".join(f"{MARKS[m][0]} {m}" for m in curves), style="dim")
    return text


def save_plot(result, path: str) -> None:
    """The sweep as a log-log plot in a file (.png, .svg or .pdf), with matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {
        "forward": "tab:blue",
        "backward": "tab:cyan",
        "central": "tab:green",
        "complex": "tab:purple",
        "richardson": "tab:orange",
    }
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for m, s in result.methods.items():
        if s.errors is None:
            continue
        axes.loglog(
            result.steps, np.maximum(s.errors, PLOT_FLOOR), "o-", ms=3, color=colours[m], label=m
        )
        if s.auto_step and s.auto_error is not None:
            axes.loglog(
                [s.auto_step], [max(s.auto_error, PLOT_FLOOR)], "*", ms=12, color=colours[m]
            )
    axes.set_xlabel("step h")
    axes.set_ylabel("relative error")
    axes.set_title(f"d/d{result.entry} of {result.name}  (stars: automatic steps)", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
