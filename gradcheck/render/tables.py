"""A checked problem as tables: its code, points, gradient or probe table, expected
numbers, claims, findings, notes and verdict line; a run as every problem that did not
pass, then the summary.

No maths here, and no printing: functions return renderables (or plain text), and the
CLI prints them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.render.console import STYLE, plain_text
from gradcheck.render.gradients import gradient_table, probe_table
from gradcheck.render.labels import (
    code_findings,
    code_heading,
    is_code,
    label,
    output_name,
    output_shape,
)
from gradcheck.render.numbers import entry, format_array
from gradcheck.render.safe import escaped
from gradcheck.render.summary import error_message, summary, worst_error
from gradcheck.results import STATUSES, CauseCode, PointResult, ProblemResult, Report


def render(report: Report) -> RenderableType:
    """Every problem in full: point, value, gradient table, claims, notes, verdict.

    Here and in every view below, text from files (names, paths, formulas) is shown
    with its control characters escaped.
    """
    return Group(*(problem_view(p) for p in report.problems))


def failures_text(report: Report, width: int = 120) -> str:
    """The report as plain text, every failing entry on its own line with its index and
    ``fail`` (none left behind an "… and N more"): an assertion's message, for pytest."""
    views = (problem_view(p, every_failure=True) for p in report.problems)
    return plain_text(Group(*views), width)


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


def problem_view(p: ProblemResult, every_failure: bool = False) -> RenderableType:
    """One problem in full: title (and the code checked), each point's table, expected
    numbers, claims, findings about the code, notes, verdict."""
    p = escaped(p)
    parts: list[RenderableType] = [_title(p)]
    if p.status == "error":
        parts.append(Text.assemble(("  error: ", "bold red"), error_message(p)))
        return Padding(Group(*parts), (0, 0, 1, 0), expand=False)
    for i, point in enumerate(p.points):
        if len(p.points) > 1:
            parts.append(Text(f"point {i + 1} of {len(p.points)}", style="bold"))
        parts.extend(_point_view(point, p, every_failure))
    if p.expected:
        parts.append(_expected_table(p))
    if p.claims:
        parts.append(_claims_table(p))
    for finding in code_findings(p):
        parts.append(Text.assemble(("  found: ", "bold red"), finding))
    for note in p.notes:
        parts.append(Text.assemble(("  note: ", "yellow"), note))
    parts.append(verdict_line(p))
    return Padding(Group(*parts), (0, 0, 1, 0), expand=False)


def _title(p: ProblemResult) -> Text:
    """``● name``; for the user's code, the function and what claims its gradient."""
    title = Text.assemble(("● ", STYLE[p.status]), (p.name, "bold"))
    if is_code(p):
        heading, function = code_heading(p), (p.code or {}).get("function")
        title.append(heading[len(function) :] if p.name == function else f"  {heading}")
    if p.file:
        title.append(f"   {p.file}" + (f":{p.line}" if p.line else ""), style="dim")
    return title


#: What a finding that decides the verdict adds to it, counted.
_FINDING_NOUNS = {
    CauseCode.WRONG_SHAPE: ("gradient of the wrong shape", "gradients of the wrong shape"),
    CauseCode.MODIFIES_INPUTS: ("argument modified in place", "arguments modified in place"),
}


def verdict_line(p: ProblemResult) -> Text:
    """``PASS  4 entries at 1 point; worst central error 3.1e-11 (rtol 1e-06, atol 1e-09)``;
    a Jacobian's entries are counted as such, and the user's code's error is its own."""
    counts = dict.fromkeys(STATUSES, 0)
    for point in p.points:
        for g in point.gradient.values():
            statuses = g.status.ravel()
            for status in STATUSES:
                counts[status] += int(np.sum(statuses == status))
    worst = worst_error(p)
    entries = sum(counts.values())
    noun = (
        f"{entries:,} {'Jacobian ' if output_shape(p) else ''}entr{'y' if entries == 1 else 'ies'}"
    )
    probes = sum(len(point.probes) for point in p.points if point.probes is not None)
    if probes:  # the entries were not each checked: the probes were
        noun = f"{probes} directional probe{'s' * (probes > 1)} over {noun}"
    text = Text.assemble((f"  {p.status.upper()}", STYLE[p.status]), f"  {noun}")
    if len(p.points) > 1:
        text.append(f" at {len(p.points)} points")
    nouns = {"fail": "failure", "kink": "kink", "error": "error"}
    details = [f"{counts[s]:,} {nouns[s]}{'s' * (counts[s] > 1)}" for s in nouns if counts[s]]
    for code, (one, many) in _FINDING_NOUNS.items():
        found = sum(f.code == code for f in p.findings)
        if found:
            details.append(f"{found} {one if found == 1 else many}")
    bad_claims = sum(c.status == "fail" for c in p.claims.values())
    if bad_claims:
        details.append(f"{bad_claims} claim{'s' * (bad_claims > 1)} wrong")
    held = sum(c.status == "pass" and not c.proved for c in p.claims.values())
    if held:
        details.append(f"{held} claim{'s' * (held > 1)} held, not proved")
    if details:
        text.append("; " + ", ".join(details))
    if worst is not None:
        what = "error of your code" if is_code(p) else "central error"
        text.append(f"; worst {what} {worst:.1e}")
    if p.tolerance is not None:
        text.append(f"  (rtol {p.tolerance.rtol:g}, atol {p.tolerance.atol:g})", style="dim")
    return text


def _point_view(point: PointResult, p: ProblemResult, every_failure: bool) -> Iterator:
    at = Text("  at  ", style="dim")
    for i, (name, value) in enumerate(point.at.items()):
        if i:
            at.append("   ")
        at.append(f"{name} = ", style="bold")
        at.append(format_array(value), style="cyan" if name in point.drawn else "")
    yield at
    if point.drawn:
        yield Text(f"      random (seed {p.seed}): {', '.join(point.drawn)}", style="dim")
    yield from _value_lines(point, p)
    if point.probes is not None:
        yield probe_table(point, p, every_failure)
        return
    yield gradient_table(point, p, every_failure)


def _value_lines(point: PointResult, p: ProblemResult) -> Iterator[Text]:
    """``f   0.6017``; a layer's ``f = sum(out * dout)`` and its seeded ``dout``; a
    vector's value, its shape, and that its Jacobian is checked."""
    if point.upstream is not None:
        yield Text.assemble(("  f   ", "dim"), "sum(out * dout) = ", (repr(point.value), "bold"))
        dout = np.asarray(point.upstream)
        yield Text.assemble(
            ("      dout = ", "dim"),
            (format_array(dout), "cyan"),
            (f"   random (seed {p.seed}), shape {dout.shape}", "dim"),
        )
        return
    shape = output_shape(p)
    if not shape:
        yield Text.assemble(("  f   ", "dim"), (repr(point.value), "bold"))
        return
    yield Text.assemble(
        (f"  {output_name(p):<4}", "dim"),
        (format_array(np.asarray(point.value)), "bold"),
        (f"   shape {shape}: its Jacobian is checked, entry by entry", "dim"),
    )


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
            Text(expect_evidence(expected, p)),
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
            Text(claim_evidence(claim, p)),
        )
    return Padding(table, (0, 0, 1, 2), expand=False)


def claim_evidence(claim, p: ProblemResult | None = None) -> str:
    """Proved, or held at N points and not proved (and why); else what is wrong, what it
    looks like, and a point."""
    if claim.status == "pass":
        if claim.proved:
            return f"proved by SymPy, and held at {claim.points} points"
        return claim.message or f"held at {claim.points} points, not proved"
    parts = [p for p in (claim.message, claim.diagnosis) if p]
    example = claim.counterexample
    if example:
        where = _label(p, claim.name, example["index"])
        at = ", ".join(f"{n}={format_array(np.asarray(v))}" for n, v in example["at"].items())
        parts.append(
            f"at {at} the derivative for {where} is {example['true']:.10g}, the claim "
            f"gives {example['claimed']:.10g} (off by {example['error']:.3g})"
        )
    return "; ".join(parts)


def expect_evidence(expected, p: ProblemResult | None = None) -> str:
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
        what = expected.what
        label = "value" if what == "value" else _label(p, what, wrong["index"])
        parts.append(
            f"{label}: claimed {wrong['claimed']:.10g}, true {wrong['true']:.10g} "
            f"(allowed ±{wrong['allowed']:.2g})"
        )
    if len(expected.wrong) > 3:
        parts.append("…")
    return "; ".join(parts)


def _label(p: ProblemResult | None, name: str, index) -> str:
    """An entry's label, a Jacobian's with both indices when the problem is known."""
    return entry(name, index) if p is None else label(p, name, index)
