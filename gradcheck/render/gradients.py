"""One point's gradient table (or probe table): every estimate of each entry, the worst
entries of large arrays, what each wrong gradient looks like, and why each entry that did
not simply pass did not.

The claimed gradient is backprop's for an expression and "your code" for the user's
code; a Jacobian's entries are labelled with both indices (see ``labels``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gradcheck.render.console import STYLE
from gradcheck.render.labels import flat_label, is_code
from gradcheck.render.numbers import agreeing_digits, common_exponent, error_text, exact
from gradcheck.render.summary import entry_errors
from gradcheck.results import STATUSES, GradientResult, PointResult, ProblemResult

DIFFERENCES = ("forward", "backward", "central")
#: Shown when they were computed (--methods, or as the reference above the symbolic limit).
EXTRA_METHODS = ("complex", "richardson")

#: Arrays with more entries than this show their worst entries and a summary row.
ROWS_PER_INPUT = 12

#: Entries whose cause is spelled out under the table, per input (all are in the JSON).
CAUSES_PER_INPUT = 5

#: Failing entries listed one a line, per input, where every one must be (an assertion's
#: message): more than any reader reads, few enough that the message stays a message.
FAILURES_LISTED = 10_000


@dataclass(frozen=True)
class Column:
    """An estimate's column: its header, the GradientResult field, its key in ``errors``."""

    header: str
    field: str
    error: str


def claimed_header(p: ProblemResult) -> str:
    """Who claims the gradient: ``backprop``, or ``your code``."""
    return "your code" if is_code(p) else "backprop"


def reference(g: GradientResult) -> np.ndarray:
    """What an estimate's digits are held against: the symbolic derivative; for the user's
    code what its gradient was judged against; else backprop."""
    if g.symbolic is not None:
        return g.symbolic
    if g.claimed_by != "backprop" and g.reference is not None:
        return g.reference
    return g.backprop


def gradient_table(point: PointResult, p: ProblemResult, every_failure: bool = False) -> Padding:
    """The table of one point, then the entries not shown, the diagnoses and the causes;
    ``every_failure`` lists every failing entry under it, not only the first few."""
    gradients = point.gradient
    code = is_code(p)
    symbolic = not code or any(g.symbolic is not None for g in gradients.values())
    expected = any(g.expected is not None for g in gradients.values())
    columns = [
        Column(claimed_header(p), "backprop", "claimed" if code else "backprop"),
        *(Column(m, m, m) for m in DIFFERENCES),
        *(
            Column(m, m, m)
            for m in EXTRA_METHODS
            if any(getattr(g, m) is not None for g in gradients.values())
        ),
    ]
    table = Table(
        box=None, pad_edge=False, padding=(0, 1, 0, 0), show_edge=False, header_style="bold"
    )
    table.add_column("entry", no_wrap=True)
    if expected:
        table.add_column("claimed", no_wrap=True)
    if symbolic:
        table.add_column("symbolic", no_wrap=True)
    for column in columns:
        table.add_column(column.header, no_wrap=True)
    table.add_column("status", no_wrap=True)
    hidden: list[Text] = []
    for name, g in gradients.items():
        error = entry_errors(p, g)
        shown = _shown(g, error)
        for row in _rows(p, name, g, shown, expected, symbolic, columns):
            table.add_row(*row)
        hidden.extend(_hidden(p, name, g, shown, error))
    below = [*hidden, *_diagnoses(gradients)]
    for name, g in gradients.items():
        below.extend(_causes(p, name, g, every_failure))
    return Padding(Group(table, *below), (1, 0, 1, 2), expand=False)


def _shown(g: GradientResult, errors: np.ndarray | None) -> np.ndarray:
    """Flat indices of the entries to show, in order: all of a small array, else the worst
    few (by status, then by error; sorted in NumPy, since a Jacobian may have 10^6)."""
    size = g.status.size
    if size <= ROWS_PER_INPUT:
        return np.arange(size)
    status = g.status.ravel()
    rank = np.zeros(size)
    for i, s in enumerate(STATUSES):
        rank[status == s] = i
    error = np.zeros(size) if errors is None else np.asarray(errors, float).ravel()
    error = np.where(np.isfinite(error), error, np.inf)
    worst_first = np.lexsort((-error, -rank))  # stable: ties keep their order
    return np.sort(worst_first[:ROWS_PER_INPUT])


def _hidden(p, name: str, g: GradientResult, shown, errors) -> Iterator[Text]:
    """One line for the entries not shown: how many, their statuses, their worst error
    (measured as the verdict line measures it)."""
    hidden = np.ones(g.status.size, bool)
    hidden[shown] = False
    if not hidden.any():
        return
    statuses = g.status.ravel()[hidden]
    counts = ", ".join(
        f"{int(np.sum(statuses == s)):,} {s}" for s in STATUSES if np.any(statuses == s)
    )
    tail = ""
    if errors is not None:
        worst = float(np.nanmax(np.asarray(errors, float).ravel()[hidden], initial=0.0))
        what = "error of your code" if is_code(p) else "central error"
        tail = f"; largest {what} among them {worst:.1e}"
    yield Text(
        f"… {int(hidden.sum()):,} more entries of {name} not shown ({counts}){tail}", style="dim"
    )


def _diagnoses(gradients: dict[str, GradientResult]) -> Iterator[Text]:
    """What each wrong gradient looks like, one input a line: ``w: it is ... transposed``."""
    first = True
    for name, g in gradients.items():
        if g.diagnosis:
            yield Text.assemble("\n" if first else "", (name, "bold"), ": ", g.diagnosis)
            first = False


def _causes(p: ProblemResult, name: str, g: GradientResult, every_failure: bool) -> Iterator[Text]:
    """A line for each entry that did not simply pass (the first few, or with
    ``every_failure`` every failing one): which, and why."""
    status = g.status.ravel()
    bad = (status == "fail") | (status == "error")
    failing = np.flatnonzero(bad)
    others = sorted(k for k in g.causes if not bad[k])
    if every_failure:
        entries = sorted(failing[:FAILURES_LISTED].tolist() + others[:CAUSES_PER_INPUT])
    else:
        first = failing[:CAUSES_PER_INPUT].tolist() + others[:CAUSES_PER_INPUT]
        entries = sorted(first)[:CAUSES_PER_INPUT]
    left = len(failing) + len(others) - len(entries)
    for i, k in enumerate(entries):
        yield Text.assemble(
            "\n" if i == 0 else "",
            (flat_label(p, name, k, g.shape), "bold"),
            "  ",
            (str(status[k]), STYLE[str(status[k])]),
            ": ",
            _why(p, g, k),
        )
    if left > 0:
        bound = every_failure and len(failing) > FAILURES_LISTED
        why = f" (failing entries are listed up to {FAILURES_LISTED:,})" if bound else ""
        yield Text(f"… and {left:,} more entries of {name}{why}", style="dim")


def _why(p: ProblemResult, g: GradientResult, k: int) -> str:
    """The entry's cause, else what was claimed and what the differences give."""
    cause = g.causes.get(k)
    if cause is not None:
        return cause.text
    claimed = float(g.backprop.flat[k])
    truth = float(reference(g).flat[k])
    return f"{claimed_header(p)} {claimed:.12g}, where the reference is {truth:.12g}"


def _rows(p, name, g, shown, expected: bool, symbolic: bool, columns) -> Iterator[list]:
    truth = reference(g)
    exponent = common_exponent([float(truth.flat[k]) for k in shown])
    blanks = int(expected) + int(symbolic) + len(columns) + 1
    if exponent:
        scale = Text(f"(values ×1e{exponent:+03d})", style="dim")
        yield [Text(name, style="bold"), *[""] * (blanks - len(columns) - 1), scale,
               *[""] * len(columns)]  # fmt: skip
    for k in shown:
        ref = float(truth.flat[k])
        status = str(g.status.flat[k])
        cells = [Text(flat_label(p, name, k, g.shape), style="bold")]
        if expected:
            mine = None if g.expected is None else float(g.expected.flat[k])
            cells.append(
                Text("—", style="dim")
                if mine is None
                else agreeing_digits(mine, ref, status, exponent)
            )
        if symbolic:
            cells.append(Text("—" if g.symbolic is None else exact(g.symbolic.flat[k], exponent)))
        for column in columns:
            estimate = getattr(g, column.field)
            if estimate is None:
                cells.append(Text("—", style="dim"))
                continue
            cell = agreeing_digits(float(estimate.flat[k]), ref, status, exponent)
            error = g.errors.get(column.error)
            if error is not None:
                cell.append(f"\n{error_text(float(error.flat[k]))}", style="dim")
            cells.append(cell)
        cells.append(Text(status, style=STYLE[status]))
        yield cells


def probe_table(point: PointResult, p: ProblemResult, every_failure: bool = False) -> Padding:
    """Directional probes: the claimed g·u against differences along each u."""
    code = is_code(p)
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    headers = ["probe", *([] if code else ["symbolic g·u"]), f"{claimed_header(p)} g·u"]
    for column in (*headers, *DIFFERENCES, "status"):
        table.add_column(column, no_wrap=True)
    for i, probe in enumerate(point.probes or []):
        if probe.symbolic is not None:
            truth = probe.symbolic
        else:  # the user's claim is what is in doubt: its digits are marked, not the truth's
            truth = probe.central if code else probe.backprop
        cells = [Text(f"u{i + 1}", style="bold")]
        if not code:
            cells.append(Text(exact(probe.symbolic) if probe.symbolic is not None else "—"))
        for method in ("backprop", *DIFFERENCES):
            cell = agreeing_digits(getattr(probe, method), truth, probe.status)
            key = "claimed" if method == "backprop" and "claimed" in probe.errors else method
            if key in probe.errors:
                cell.append(f"\n{error_text(probe.errors[key])}", style="dim")
            cells.append(cell)
        cells.append(Text(probe.status, style=STYLE[probe.status]))
        table.add_row(*cells)
    causes = [
        Text.assemble((f"u{i + 1}", "bold"), "  ", (p.status, STYLE[p.status]), ": ", p.cause.text)
        for i, p in enumerate(point.probes or [])
        if p.cause
    ]
    located = []
    for name, g in point.gradient.items():  # the entries bisection named
        located.extend(_causes(p, name, g, every_failure))
    return Padding(Group(table, *causes, *located), (1, 0, 1, 2), expand=False)
